"""%nest_cluster through a real IPython shell against real clusters."""

from __future__ import annotations

import os
import socket
import threading
import time

import dask
import psutil
import pytest
from distributed import Client, default_client
from support.processes import wait_gone

import jupyter_nest
from jupyter_nest import NestError

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def magic(shell, line):
    return shell.run_line_magic("nest_cluster", line)


def test_start_status_scale_restart_stop(ipython):
    client = magic(ipython, "start --workers 2 --threads 1")
    assert client is jupyter_nest.current().client
    assert default_client() is client
    summary = client.summary()
    assert (summary.workers, summary.threads) == (2, 2)
    assert summary.scheduler.startswith("tcp://127.0.0.1:")
    assert summary.dashboard.startswith("http://127.0.0.1:")
    # dask.compute and client.submit go to this cluster
    assert dask.compute(dask.delayed(sum)([1, 2, 3]))[0] == 6
    assert client.submit(lambda x: x * 2, 21).result() == 42

    status = magic(ipython, "status")
    assert len(status.rows) == 2 and all(r.threads == 1 for r in status.rows)
    assert "2 workers x 1 thread" in status.text() and "dashboard" in status.text()

    assert magic(ipython, "scale 1").workers == 1
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1
    assert magic(ipython, "scale 2").workers == 2

    before = set(client.scheduler_info(n_workers=-1)["workers"])
    future = client.submit(time.sleep, 30)
    restarted = magic(ipython, "restart")
    assert restarted.workers == 2
    assert future.status in ("cancelled", "lost", "erred")
    assert set(client.scheduler_info(n_workers=-1)["workers"]).isdisjoint(before)

    magic(ipython, "stop")
    assert jupyter_nest.current() is None
    assert client.status == "closed"


def test_restarted_workers_keep_the_settings_they_started_with(ipython):
    def settings():
        return dask.config.get("jupyter-nest.forkjoin.max-seceded"), dask.config.get("distributed.worker.profile.enabled")

    with dask.config.set({"jupyter-nest.forkjoin.max-seceded": 0}):
        client = magic(ipython, "start --workers 1 --threads 1")
    assert list(client.run(settings).values()) == [(0, False)]
    magic(ipython, "restart")
    assert list(client.run(settings).values()) == [(0, False)]
    magic(ipython, "stop")


def test_summary_renders_html_and_text(ipython):
    client = magic(ipython, "start --workers 1 --threads 2")
    html = client._repr_html_()
    summary = client.summary()
    assert summary.scheduler in html and summary.dashboard in html
    assert "1 worker x 2 threads" in html
    text = summary.text()
    assert text.splitlines()[0].startswith("jupyter_nest: local cluster of worker processes, 1 worker x 2 threads")


def test_no_processes_runs_workers_in_this_process(ipython):
    client = magic(ipython, "start --workers 2 --threads 1 --no-processes --no-dashboard")
    assert client.submit(os.getpid).result() == os.getpid()
    assert client.summary().dashboard is None
    assert "threads in this kernel" in client.summary().kind


def test_dashboard_and_memory_limit_options(ipython):
    client = magic(ipython, "start --workers 1 --threads 1 --memory-limit 1GiB --no-dashboard")
    info = client.scheduler_info(n_workers=-1)
    assert [w["memory_limit"] for w in info["workers"].values()] == [2**30]
    assert client.summary().dashboard is None


def test_defaults_come_from_dask_config(ipython):
    with dask.config.set({"jupyter-nest.workers": 1, "jupyter-nest.threads": 2}):
        client = magic(ipython, "start")
    assert (client.summary().workers, client.summary().threads) == (1, 2)


def test_default_shape_fits_the_machine(ipython):
    from distributed.deploy.utils import nprocesses_nthreads

    client = magic(ipython, "start --no-dashboard")
    workers, threads = nprocesses_nthreads()
    assert (client.summary().workers, client.summary().threads) == (workers, workers * threads)


def test_cluster_class_path(ipython):
    client = magic(ipython, "start --cluster distributed.LocalCluster --option n_workers=1 --option threads_per_worker=1")
    assert client.summary().workers == 1
    assert client.summary().kind == "LocalCluster"
    assert client.submit(sum, [1, 2]).result() == 3
    # LocalCluster through the class path stays on loopback too
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    magic(ipython, "stop")


def test_cluster_class_path_with_workers_scales(ipython):
    client = magic(ipython, "start --cluster distributed.LocalCluster --option n_workers=0 --workers 2")
    assert client.summary().workers == 2


def _listening(pids):
    out = []
    for pid in pids:
        for c in psutil.Process(pid).net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                out.append((pid, c.laddr.ip, c.laddr.port))
    return out


def test_local_cluster_listens_on_loopback_only(ipython):
    before = {(ip, port) for _, ip, port in _listening([os.getpid()])}
    client = magic(ipython, "start --workers 2 --threads 1")
    worker_pids = list(client.run(os.getpid).values())
    sockets = [s for s in _listening([os.getpid(), *worker_pids]) if (s[1], s[2]) not in before]
    # scheduler, dashboard, two nannies and each worker's own listeners
    assert len(sockets) >= 6
    assert {ip for _, ip, _ in sockets} == {"127.0.0.1"}, sockets


def test_no_processes_listens_on_loopback_only(ipython):
    before = {(ip, port) for _, ip, port in _listening([os.getpid()])}
    magic(ipython, "start --workers 2 --threads 1 --no-processes")
    sockets = [s for s in _listening([os.getpid()]) if (s[1], s[2]) not in before]
    assert sockets and {ip for _, ip, _ in sockets} == {"127.0.0.1"}, sockets


def test_start_twice_explains_and_keeps_the_running_cluster(ipython):
    client = magic(ipython, "start --workers 1 --threads 1")
    with pytest.raises(NestError, match=r"already running in this kernel \(local cluster.*1 worker x 1 thread.*--replace"):
        magic(ipython, "start")
    assert client.submit(sum, [1, 1]).result() == 2
    replaced = magic(ipython, "start --workers 2 --threads 1 --replace")
    assert replaced is not client and client.status == "closed"
    assert replaced.summary().workers == 2


def test_stop_with_nothing_running(ipython, capsys):
    magic(ipython, "stop")
    assert "No cluster is running in this kernel" in capsys.readouterr().out


@pytest.mark.parametrize(
    "line, message",
    [
        ("start --workers 0", r"--workers must be a whole number of 1 or more, got 0: e\.g\. --workers 2"),
        ("start --threads -1", r"--threads must be a whole number of 1 or more, got -1"),
        ("start --workers two", r"argument --workers: invalid int value: 'two'.*%nest_cluster\?"),
        ("strat", r"unknown subcommand 'strat'\. Did you mean `start`\?"),
        ("frobnicate", r"unknown subcommand 'frobnicate'\. The subcommands are start, connect"),
        ("start --wrokers 2", r"unrecognized arguments: --wrokers 2\. See `%nest_cluster\?`"),
        ("start --memory-limit lots", r"--memory-limit 'lots' is not an amount of memory: use e\.g\. 4GiB"),
        ("start --cluster nosuchmodule.Cluster", r"module 'nosuchmodule' does not import.*pip install"),
        ("start --cluster distributed.NoSuchCluster", r"has no attribute 'NoSuchCluster'"),
        ("start --cluster distributed.Client", r"distributed\.Client is not a Dask cluster class"),
        ("start --cluster LocalCluster", r"needs the full path MODULE\.CLASS"),
        ("start --cluster distributed.LocalCluster --option n_workers", r"--option 'n_workers' is not KEY=VALUE"),
        ("start --cluster distributed.LocalCluster --option 2=x", r"--option '2=x' is not KEY=VALUE"),
        ("start --cluster distributed.LocalCluster --option bogus=1", r"--cluster distributed.LocalCluster with the options .*bogus.* failed to start: TypeError: .*unexpected keyword argument 'bogus'\. Check the option names"),
        ("start --cluster distributed.LocalCluster --threads 2", r"--threads, --memory-limit and --no-processes describe the local cluster"),
        ("start --option n_workers=1", r"--option sets keyword arguments of --cluster"),
        ("status", r"needs a cluster, and none is running in this kernel\. Start one with `%nest_cluster start`"),
        ("scale 2", r"needs a cluster, and none is running"),
        ("connect", r"connect needs the scheduler ADDRESS"),
        ("connect not-an-address", r"'tcp://not-an-address' is not a scheduler address: write tcp://HOST:PORT"),
        ("connect tcp://127.0.0.1:notaport", r"is not a scheduler address"),
        ("connect http://127.0.0.1:8787", r"is a web address, probably the dashboard's"),
        ("connect udp://127.0.0.1:8786", r"has protocol 'udp'; jupyter_nest connects over tcp:// or tls://"),
        ("connect tls://127.0.0.1:8786", r"uses TLS: give the certificates with --tls-ca"),
        ("connect tcp://no-such-host.invalid:8786", r"the host name 'no-such-host\.invalid' does not resolve"),
        ("connect tcp://127.0.0.1:8786 --tls-ca x", r"TLS needs all three of --tls-ca, --tls-cert and --tls-key"),
        ("stop now", r"%nest_cluster stop takes no 'now'"),
    ],
)
def test_bad_input_names_the_input_and_the_fix(ipython, line, message):
    with pytest.raises(NestError, match=message):
        magic(ipython, line)
    assert jupyter_nest.current() is None


def test_bad_input_leaves_the_running_cluster_alone(ipython):
    client = magic(ipython, "start --workers 1 --threads 1")
    for line in ["start --workers 0 --replace", "start --memory-limit lots --replace",
                 "connect tcp://127.0.0.1:1 --replace", "scale -1", "scale many"]:
        with pytest.raises(NestError):
            magic(ipython, line)
        assert jupyter_nest.current().client is client
    assert client.submit(sum, [2, 2]).result() == 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_refused_is_immediate(ipython):
    port = free_port()
    t = time.monotonic()
    # a NestError, and the OSError (ConnectionError) that code written for Dask catches
    with pytest.raises(ConnectionError, match=rf"Cannot connect to tcp://127\.0\.0\.1:{port}: the connection was refused") as e:
        magic(ipython, f"connect tcp://127.0.0.1:{port} --timeout 20")
    assert isinstance(e.value, NestError)
    assert time.monotonic() - t < 5


def test_connect_to_a_silent_server_times_out_with_address_and_timeout(ipython):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    t = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match=rf"tcp://127\.0\.0\.1:{port}: something listens there but did not complete the Dask handshake within 2 s") as e:
            magic(ipython, f"connect tcp://127.0.0.1:{port} --timeout 2")
        assert isinstance(e.value, NestError)
    finally:
        stop.set()
        for conn in accepted:
            conn.close()
        server.close()
    assert time.monotonic() - t < 15


def test_status_after_the_scheduler_was_killed_says_so_and_stop_recovers(ipython, dask_processes):
    client = magic(ipython, f"connect {dask_processes.address} --timeout 10")
    scheduler = dask_processes.procs[0]
    scheduler.kill()
    scheduler.wait(10)
    deadline = time.monotonic() + 30
    while client.status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    # before: KeyError: 'workers' from deep inside (or a stale summary while Dask reconnects)
    with pytest.raises(ConnectionError, match=rf"The scheduler at {dask_processes.address} does not answer.*"
                                              r"`%nest_cluster start --replace`") as e:
        magic(ipython, "status")
    assert isinstance(e.value, NestError)
    magic(ipython, "stop")
    assert jupyter_nest.current() is None


def test_connect_to_a_real_scheduler_process(ipython, dask_processes):
    client = magic(ipython, f"connect {dask_processes.address} --timeout 10")
    assert client.summary().kind == "remote scheduler"
    assert client.summary().workers == 1
    assert client.submit(lambda: os.getpid()).result() in dask_processes.pids()
    status = magic(ipython, "status")
    assert status.scheduler == dask_processes.address
    with pytest.raises(NestError, match=r"connected to .* a scheduler started elsewhere"):
        magic(ipython, "scale 3")
    magic(ipython, "stop")
    # disconnecting leaves the remote cluster running
    with Client(dask_processes.address, timeout=10) as other:
        assert len(other.scheduler_info(n_workers=-1)["workers"]) == 1


def test_python_api_mirrors_the_magic():
    session = jupyter_nest.start(workers=1, threads=1, dashboard=False)
    try:
        assert jupyter_nest.current() is session
        assert session.client.submit(pow, 2, 5).result() == 32
    finally:
        message = jupyter_nest.stop()
    assert message.startswith("Stopped the local cluster of worker processes at tcp://127.0.0.1:")
    assert jupyter_nest.stop() == "No cluster is running in this kernel; nothing to stop."


def test_a_scaled_down_job_queue_cluster_stops_while_its_old_jobs_are_held(ipython):
    # dask-jobqueue's jobs never say they closed, and Dask's SpecCluster.close asserts that every job it
    # created that is still held somewhere did: a notebook holding the jobs of `cluster.workers` (or
    # anything that kept one alive, as a busy CI machine's garbage did) got `AssertionError: Status.running`
    # from `%nest_cluster stop` after a `scale`, and the cluster was left half closed.
    magic(ipython, "start --cluster dask_jobqueue.local.LocalCluster --option cores=1 --option memory=1GB "
                   "--option processes=1 --option scheduler_options={'host':'127.0.0.1','dashboard_address':':0'} "
                   "--workers 2")
    cluster = jupyter_nest.current().cluster
    held = list(cluster.workers.values())
    pids = [p.pid for p in psutil.Process().children(recursive=True) if "distributed.cli.dask_worker" in
            " ".join(p.cmdline())]
    assert len(held) == 2 and len(pids) == 2, (held, pids)
    assert magic(ipython, "scale 1").workers == 1
    magic(ipython, "stop")
    assert jupyter_nest.current() is None
    assert cluster.status.name == "closed"
    assert wait_gone(pids, 30) == []
