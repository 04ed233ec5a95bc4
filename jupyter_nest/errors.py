"""The exceptions and warnings jupyter_nest raises.

::

    Exception
     └── NestError              a problem with what was asked for, told in one paragraph with the fix
          ├── NoClusterError    an operation needs a cluster and this kernel has none
          ├── NestConnectionError  a scheduler cannot be reached (also a ConnectionError, an OSError)
          └── NestTimeoutError  a scheduler did not answer in time (also a TimeoutError)
    UserWarning
     └── InsecureClusterWarning a cluster listens beyond loopback in plain TCP (``--insecure``)
    RuntimeWarning
     └── HangWarning            every slot of the cluster waits on tasks that cannot start
    FutureWarning
     └── NestDeprecationWarning a name moved; the old one still works for now

The connection errors are also the builtin kinds Dask raises for the same failures, so
``except OSError`` or ``except TimeoutError`` written for Dask catches them too.
"""

from __future__ import annotations


class NestError(Exception):
    """A problem with what was asked for, explained in one paragraph with the fix.

    IPython shows it as that paragraph alone: the stack behind it is ours, not
    the user's, and would only hide the message.

    Examples
    --------
    >>> NestError("Give 1 or more workers.")._render_traceback_()
    ['NestError: Give 1 or more workers.']
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class NoClusterError(NestError):
    """An operation needs a cluster and none is running in this kernel.

    Examples
    --------
    >>> str(NoClusterError("The slot view")).split(",")[0]
    'The slot view needs a cluster'
    """

    def __init__(self, what: str = "This") -> None:
        super().__init__(
            f"{what} needs a cluster, and none is running in this kernel. Start one with "
            "`%nest_cluster start` (or `jupyter_nest.start()`), connect to a running "
            "scheduler with `%nest_cluster connect tcp://HOST:PORT`, or attach a Dask client or "
            "cluster you made with `%nest_cluster attach NAME` (a default client made with "
            "`distributed.Client(...)` is used without it)."
        )


class NestConnectionError(NestError, ConnectionError):
    """A scheduler cannot be reached: nothing listens, the name does not resolve, the handshake fails.

    Examples
    --------
    >>> isinstance(NestConnectionError("Cannot connect to tcp://10.0.0.5:8786"), OSError)
    True
    """


class NestTimeoutError(NestError, TimeoutError):
    """A scheduler did not answer within the time allowed.

    Examples
    --------
    >>> isinstance(NestTimeoutError("no answer within 10 s"), TimeoutError)
    True
    """


class HangWarning(RuntimeWarning):
    """Every slot of the cluster is held by a task waiting on tasks that cannot start.

    Filter it as any warning: ``warnings.filterwarnings("ignore", category=HangWarning)``.
    """


class InsecureClusterWarning(UserWarning):
    """A cluster listens beyond loopback in plain TCP because ``--insecure`` asked for it."""


class NestDeprecationWarning(FutureWarning):
    """A module path or name moved; the old one keeps working for now, and says where to go."""
