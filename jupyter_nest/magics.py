"""IPython magics: ``%nest_cluster``, a thin layer over the Python API.

Each magic imports the parts it calls when it runs: ``%load_ext jupyter_nest`` then costs no Dask and
no Bokeh import, and a kernel that never starts a cluster never pays for them.
"""

from __future__ import annotations

import ast
import difflib
import sys
import warnings
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, argument_group, magic_arguments, parse_argstring
from IPython.display import display

from .errors import NestError


def option_group(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Bundle ``magic_arguments`` decorators so several magics can share one option group."""

    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


local_cluster_options = option_group(
    argument_group("start: the local cluster"),
    argument("--workers", type=int, metavar="N",
             help="worker processes (default: fit this machine's cores; with --cluster, scale to N)"),
    argument("--threads", type=int, metavar="T", help="threads per worker"),
    argument("--memory-limit", metavar="SIZE", help="memory per worker, e.g. 4GiB (default: auto)"),
    argument("--no-processes", dest="processes", action="store_const", const=False, default=None,
             help="run the workers as threads inside this kernel"),
    argument("--dashboard", action="store_true", default=None,
             help="serve Dask's dashboard on 127.0.0.1 (the default)"),
    argument("--no-dashboard", dest="dashboard", action="store_false", default=None, help="no dashboard"),
    argument("--replace", action="store_true", help="stop the cluster already running first"),
)

cluster_class_options = option_group(
    argument_group("start: any Dask cluster class"),
    argument("--cluster", metavar="MODULE.CLASS",
             help="start this cluster class instead, e.g. dask_jobqueue.SLURMCluster"),
    argument("--option", action="append", default=[], metavar="KEY=VALUE",
             help="a keyword argument for --cluster (repeatable); VALUE is a Python literal or text"),
)

connection_options = option_group(
    argument_group("connect"),
    argument("--timeout", metavar="SECONDS", help="how long to try (default: jupyter-nest.connect-timeout)"),
    argument("--tls-ca", metavar="FILE",
             help="CA certificate for a tls:// scheduler (with start: for the cluster it creates)"),
    argument("--tls-cert", metavar="FILE", help="certificate (client; with start: every process's)"),
    argument("--tls-key", metavar="FILE", help="private key of that certificate"),
)

ssh_options = option_group(
    argument_group("start: over SSH (TLS unless --insecure)"),
    argument("--ssh", metavar="HOST[,HOST...]",
             help="start the cluster on these hosts: the first runs the scheduler, the others "
                  "the workers (one host: both); HOST may be user@HOST"),
    argument("--ssh-port", type=int, metavar="PORT", help="SSH port (default: 22 or ~/.ssh/config)"),
    argument("--ssh-user", metavar="USER", help="login user (default: yours or ~/.ssh/config)"),
    argument("--ssh-key", metavar="FILE", help="private key (default: ssh-agent and ~/.ssh/id_*)"),
    argument("--ssh-known-hosts", metavar="FILE", help="known_hosts file (default: ~/.ssh/known_hosts)"),
    argument("--remote-python", metavar="PATH",
             help="Python with dask distributed on the hosts (default: this kernel's path)"),
    argument("--workers-per-host", type=int, metavar="N", help="workers on each worker host (default: 1)"),
    argument("--insecure", action="store_true",
             help="plain TCP instead of TLS for a cluster that listens beyond loopback (warns)"),
)

ACTIONS = ("start", "connect", "attach", "status", "scale", "restart", "stop", "widget")

# The options each subcommand reads (by argparse dest); the others refuse every option.
_BOTH = {"replace", "widget", "tls_ca", "tls_cert", "tls_key"}
OPTIONS_OF = {
    "start": _BOTH | {"workers", "threads", "memory_limit", "processes", "dashboard", "cluster", "option", "ssh",
                      "ssh_port", "ssh_user", "ssh_key", "ssh_known_hosts", "remote_python", "workers_per_host",
                      "insecure"},
    "connect": _BOTH | {"timeout"},
    "attach": {"replace", "widget"},
}
_FLAGS = {"processes": "--no-processes", "dashboard": "--dashboard/--no-dashboard"}


def refuse_foreign_options(func: Any, args: Any, action: str) -> None:
    """Refuse options given to a subcommand that does not read them, instead of ignoring them."""
    parser = func.parser
    given = [dest for dest, value in vars(args).items()
             if dest not in ("action", "target") and value != parser.get_default(dest)]
    foreign = [dest for dest in given if dest not in OPTIONS_OF.get(action, set())]
    if foreign:
        flags = ", ".join(_FLAGS.get(dest, "--" + dest.replace("_", "-")) for dest in foreign)
        owners = [a for a, options in OPTIONS_OF.items() if set(foreign) <= options]
        where = f" (options of {' and '.join(owners)})" if owners else ""
        raise NestError(f"%nest_cluster {action} takes no {flags}{where}. See `%nest_cluster?` for each "
                        "subcommand's options.")


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["n_workers=2", "name=x"]`` -> ``{"n_workers": 2, "name": "x"}``."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise NestError(
                f"--option {item!r} is not KEY=VALUE: write e.g. --option n_workers=2 or "
                "--option queue=short (KEY must be a Python name)."
            )
        try:
            options[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            options[key] = raw
    return options


def without_comment(line: str) -> str:
    """``start  # a comment`` -> ``start``: IPython hands a line magic its comment as arguments.

    A ``#`` starts a comment where Python's would: outside quotes, at the start or after a space.
    """
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def parse(func: Any, line: str) -> Any:
    """Parse a magic's arguments, turning argparse's complaints into a :class:`NestError`."""
    name = func.__name__
    try:
        return parse_argstring(func, without_comment(line))
    except UsageError as e:
        raise NestError(f"%{name}: {e}. See `%{name}?` for the subcommands and options.") from None


def _unquote(value: str | None) -> str | None:
    """IPython keeps the quotes around an argument: ``--remote-python "conda run -n x python"``."""
    if value and len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def adopt_after_cell(result: Any = None) -> None:
    """After a cell: a Dask client the user made becomes this kernel's cluster, so the Nest panel shows it.

    Costs nothing until Dask is imported, and never imports it.
    """
    if "distributed" not in sys.modules:
        return
    from . import cluster

    if cluster.current() is None:
        try:
            cluster.adopt_default()
        except NestError as e:
            warnings.warn(f"jupyter_nest could not adopt your Dask client: {e}", stacklevel=2)


@magics_class
class NestMagics(Magics):
    """The jupyter_nest magics; ``%load_ext jupyter_nest`` registers them."""

    @line_magic
    @magic_arguments()
    @argument("action", nargs="?", metavar="SUBCOMMAND",
              help="start | connect ADDRESS | attach [NAME] | status | scale N | restart | stop | widget")
    @argument("target", nargs="?", metavar="ADDRESS|NAME|N",
              help="the scheduler address for connect, the variable for attach, the worker count for scale")
    @argument("--widget", action="store_true", help="start, connect, attach: show the live slot view right away")
    @local_cluster_options
    @cluster_class_options
    @ssh_options
    @connection_options
    def nest_cluster(self, line: str = "") -> Any:
        """Start, attach to, inspect and stop this kernel's Dask cluster.

        Subcommands:

          start                   a local cluster of worker processes on 127.0.0.1,
                                  sized to this machine (see the options below)
          start --cluster M.C     any Dask cluster class instead, with --option k=v
          start --ssh H1,H2       over SSH: scheduler on H1, workers on H2 (TLS)
          connect ADDRESS         attach to a running scheduler (tcp:// or tls://)
          attach [NAME]           work with the Dask Client or cluster (LocalCluster,
                                  SLURMCluster, GatewayCluster, ...) in variable NAME,
                                  default the default client; stop then only detaches
          status                  workers, threads, memory, tasks, dashboard link
          scale N                 resize a cluster started here to N workers
          restart                 restart the workers, clearing their memory
          stop                    close the cluster (or disconnect from a remote or
                                  attached one, which keeps running)
          widget                  the live slot view: every worker's slots, seceded
                                  tasks and queue, counts over time, the task tree

        `start` and `connect` return the client, which also becomes the default
        Dask client: `client = %nest_cluster start` keeps it in a variable.
        Defaults come from the `jupyter-nest` section of dask.config.

        Examples:

          %nest_cluster start --workers 2 --threads 1
          %nest_cluster start --cluster distributed.LocalCluster --option n_workers=1
          %nest_cluster start --ssh node1,node2,node3 --ssh-key ~/.ssh/id_ed25519
          %nest_cluster connect tcp://10.0.0.5:8786 --timeout 5
          %nest_cluster attach client
          %nest_cluster scale 4
        """
        from . import cluster

        args = parse(self.nest_cluster, line)
        action = args.action or ("status" if cluster.current() else None)
        if action is None:
            raise NestError(
                "%nest_cluster needs a subcommand: " + " | ".join(ACTIONS)
                + ". Start with `%nest_cluster start`; `%nest_cluster?` explains each."
            )
        if action not in ACTIONS:
            close = difflib.get_close_matches(action, ACTIONS, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise NestError(
                f"%nest_cluster: unknown subcommand {action!r}.{hint} The subcommands are "
                + ", ".join(ACTIONS) + "."
            )
        if args.target is not None and action not in ("connect", "attach", "scale"):
            raise NestError(
                f"%nest_cluster {action} takes no {args.target!r}; only `connect ADDRESS`, `attach NAME` "
                "and `scale N` take a value."
            )
        refuse_foreign_options(self.nest_cluster, args, action)
        result = getattr(self, f"_{action}")(args)
        if args.widget and action in ("start", "connect", "attach"):
            display(self._widget(args))
        return result

    def _start(self, args: Any) -> Any:
        from . import cluster
        from .cluster import security_from_files

        ssh_given = {
            "port": args.ssh_port, "user": args.ssh_user, "key": args.ssh_key,
            "known_hosts": args.ssh_known_hosts, "remote_python": _unquote(args.remote_python),
            "workers_per_host": args.workers_per_host,
        }
        session = cluster.start(
            workers=args.workers,
            threads=args.threads,
            memory_limit=args.memory_limit,
            processes=args.processes,
            dashboard=args.dashboard,
            cluster=args.cluster,
            options=parse_options(args.option),
            replace=args.replace,
            ssh=args.ssh,
            ssh_options=ssh_given,
            security=security_from_files(args.tls_ca, args.tls_cert, args.tls_key),
            insecure=args.insecure,
        )
        return session.client

    def _connect(self, args: Any) -> Any:
        from . import cluster
        from .cluster import security_from_files

        if args.target is None:
            raise NestError("%nest_cluster connect needs the scheduler ADDRESS, e.g. "
                            "`%nest_cluster connect tcp://10.0.0.5:8786`.")
        security = security_from_files(args.tls_ca, args.tls_cert, args.tls_key)
        session = cluster.connect(args.target, timeout=args.timeout, security=security,
                                  replace=args.replace)
        return session.client

    def _attach(self, args: Any) -> Any:
        from . import cluster

        target = None
        if args.target is not None:
            namespace = self.shell.user_ns if self.shell is not None else {}
            if args.target not in namespace:
                raise NestError(
                    f"%nest_cluster attach {args.target}: this notebook has no variable {args.target!r}. Give the "
                    "name of the variable holding your Dask Client or cluster, e.g. `client = "
                    "Client(LocalCluster())` then `%nest_cluster attach client`."
                )
            target = namespace[args.target]
        return cluster.attach(target, replace=args.replace).client

    def _status(self, args: Any) -> Any:
        from . import cluster

        return cluster.require("`%nest_cluster status`").summary(detailed=True)

    def _scale(self, args: Any) -> Any:
        from . import cluster

        try:
            n = int(args.target)
        except (TypeError, ValueError):
            raise NestError(
                f"%nest_cluster scale needs a number of workers, got {args.target!r}: e.g. "
                "`%nest_cluster scale 4`."
            ) from None
        return cluster.require("`%nest_cluster scale`").scale(n)

    def _restart(self, args: Any) -> Any:
        from . import cluster

        return cluster.require("`%nest_cluster restart`").restart()

    def _stop(self, args: Any) -> None:
        from . import cluster

        print(cluster.stop())

    def _widget(self, args: Any) -> Any:
        from .view import widget

        return widget()

    @cell_magic
    @magic_arguments()
    @argument("-o", "--output", metavar="NAME",
              help="bind the future to NAME (default: jupyter-nest.submit.result-name, _nest)")
    @argument("--wait", action="store_true", help="block until done and show the value as the cell's output")
    @argument("--name", dest="label", metavar="LABEL",
              help="task label, the start of its Dask key (default: cell_N, N the execution count)")
    @argument("--pure", action="store_true",
              help="equal cells with equal inputs and the same --name share a key, so Dask runs them once")
    @argument("--resources", nargs="+", default=[], metavar="K=V",
              help="worker resources the task needs, e.g. --resources GPU=1")
    @argument("--workers", nargs="+", metavar="ADDR",
              help="worker addresses, host names or worker names the task may run on")
    def nest_submit(self, line: str = "", cell: str = "") -> Any:
        """Run this cell on the cluster as one task.

        The cell runs on a worker, where it may launch more tasks with
        `distributed.worker_client()`. Like in the notebook, the value of its
        last expression is its result. Without --wait the kernel stays free:
        the future is bound to NAME at once and a status line in the cell turns
        into the result when done. What the cell (and the tasks it launches)
        prints appears in this cell.

        The notebook globals the cell reads are copied to the worker; futures
        among them arrive as their values. Assignments in the cell do NOT
        change the notebook's variables: get values back as the result
        (`NAME.result()`, or the output of --wait).

        Examples:

          %%nest_submit -o total
          sum(load(part) for part in parts)

          %%nest_submit --wait --name fib10
          fib(10)
        """
        from . import cluster, config, submit, view
        from .submit import StatusLine

        args = parse(self.nest_submit, line)
        name = submit.check_name(args.output or config.get("submit.result-name"))
        resources = submit.parse_resources(args.resources)
        session = cluster.require("`%%nest_submit`")
        shell: Any = self.shell
        count = submit.execution_count(shell)
        prepared = submit.prepare(
            cell, shell.user_ns, label=args.label or f"cell_{count}", first_line=2,
            # IPython's own cell name: tracebacks then say "Cell In[N], line L".
            filename=shell.compile.cache(f"%%nest_submit {line}\n{cell}", count),
            skip=shell.user_ns_hidden, client=session.client,
        )
        submission = submit.send(prepared, session.client, pure=args.pure, resources=resources,
                                 workers=args.workers)
        shell.user_ns[name] = submission.future
        if args.wait:
            # a bar of the cell's task and all it spawns, live while the kernel waits
            bar = view.progress(submission.future, name=args.label or f"cell {count}")
            display(bar)
            with bar.while_waiting():
                return submit.wait_for(submission)
        StatusLine(submission, name, quiet=cell.rstrip().endswith(";")).show()
        return None
