"""What runs on the workers for ``%%nest_submit``, shipped there by value (cloudpickle).

Standard library, dask, distributed and cloudpickle only, and names from
``jupyter_nest._wire`` imported one by one (their values travel with the code):
workers need not have jupyter_nest installed.
"""
