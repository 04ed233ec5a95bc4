"""``start(ssh=...)``: a Dask cluster started over SSH from the notebook, as distributed keeps ssh.py in deploy/.

- ``_plan``: the user's hosts and options, checked as far as can be done locally;
- ``_preflight``: reach, log in and prepare every host, with one error per host and step;
- ``_remote_prepare``: the script that runs on each host (standard library only);
- ``_cluster``: :class:`NestSSHCluster`, Dask's SSH processes made safe to start from a notebook.
"""

from ._plan import Host, SSHOptions, parse_hosts, plan

__all__ = ["Host", "SSHOptions", "parse_hosts", "plan"]
