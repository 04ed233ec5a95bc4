"""The exceptions jupyter_nest raises for problems the user can fix."""

from __future__ import annotations


class NestError(Exception):
    """A problem with what was asked for, explained in one paragraph with the fix.

    IPython shows it as that paragraph alone: the stack behind it is ours, not
    the user's, and would only hide the message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class NoClusterError(NestError):
    """An operation needs a cluster and none is running in this kernel."""

    def __init__(self, what: str = "This") -> None:
        super().__init__(
            f"{what} needs a cluster, and none is running in this kernel. Start one with "
            "`%nest_cluster start` (or `jupyter_nest.start()`), or attach to a running "
            "scheduler with `%nest_cluster connect tcp://HOST:PORT`."
        )
