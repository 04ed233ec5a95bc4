"""`%nest_cluster start --ssh` against a real sshd: from a kernel, across a network namespace, every bad input."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from support.kernels import Kernel
from support.processes import wait_gone
from support.sshd_server import Keys, Netns, Sshd, free_port, netns_unavailable

import jupyter_nest
from jupyter_nest import NestError

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.kernel, pytest.mark.ssh]

FIB = '''
from distributed import get_client, secede, rejoin

def fib(n):
    if n < 2:
        return n
    client = get_client()
    a = client.submit(fib, n - 1, pure=False)
    b = client.submit(fib, n - 2, pure=False)
    secede()
    x, y = client.gather([a, b])
    rejoin()
    return x + y
'''


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="module")
def sshd(keys):
    server = Sshd(keys)
    yield server
    server.close()


def ssh_args(sshd: Sshd, keys: Keys, hosts: str = "127.0.0.1,127.0.0.1", python: str = sys.executable) -> str:
    known_hosts = keys.known_hosts(sorted(set(hosts.split(","))), sshd.port)
    return (f"--ssh {hosts} --ssh-port {sshd.port} --ssh-key {keys.user} --ssh-known-hosts {known_hosts} "
            f"--remote-python '{python}' --threads 1")


def cluster_dirs() -> set[str]:
    """The per-cluster directories jupyter_nest writes on each host (here: this machine's /tmp)."""
    return set(glob.glob("/tmp/jupyter-nest-ssh-*"))


def listening(processes: list[psutil.Process]) -> list[tuple[str, int]]:
    out = []
    for p in processes:
        try:
            out += [(c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="module")
def ssh_kernel(module_kernel, sshd, keys):
    """The module kernel with an SSH cluster on 127.0.0.1 (scheduler and one worker, both through sshd)."""
    k = module_kernel
    started = time.monotonic()
    k.run(f"client = %nest_cluster start {ssh_args(sshd, keys)}", timeout=120).check()
    k.ready_after = time.monotonic() - started
    k.run(FIB).check()
    yield k
    k.run("%nest_cluster stop")


def test_start_shows_the_same_summary_as_a_local_cluster(ssh_kernel):
    html = ssh_kernel.run("client").check().result["text/html"]
    assert "SSH cluster, scheduler on 127.0.0.1, workers on 127.0.0.1" in html
    assert "tls://127.0.0.1:" in html and "1 worker x 1 thread" in html
    assert "http://127.0.0.1:" in html and "(direct)" in html
    status = ssh_kernel.run("%nest_cluster status").check().result["text/plain"]
    assert "tasks      none" in status and status.count("tls://127.0.0.1:") == 2, status
    print(f"start --ssh 127.0.0.1,127.0.0.1 ready after {ssh_kernel.ready_after:.1f} s")


def test_seceding_recursion_runs_on_the_processes_sshd_started(ssh_kernel, sshd):
    assert ssh_kernel.value("client.submit(fib, 10).result()", timeout=120) == 55
    worker_pids = ssh_kernel.value("list(client.run(__import__('os').getpid).values())")
    assert worker_pids and set(worker_pids) <= {p.pid for p in sshd.descendants()}
    assert ssh_kernel.pid not in {p.pid for p in sshd.descendants()}


def test_scheduler_and_workers_listen_on_loopback_with_tls(ssh_kernel, sshd):
    sockets = listening(sshd.descendants())
    # scheduler, its health/dashboard route, nanny, worker: all on the address the kernel reached
    assert len(sockets) >= 4, sockets
    assert {ip for ip, _ in sockets} == {"127.0.0.1"}, sockets
    address = ssh_kernel.value("client.scheduler.address")
    assert address.startswith("tls://127.0.0.1:")


def test_scale_and_restart_over_ssh(ssh_kernel, sshd):
    assert "2 workers x 1 thread" in ssh_kernel.run("%nest_cluster scale 2", timeout=120).check().result["text/plain"]
    pids = ssh_kernel.value("list(client.run(__import__('os').getpid).values())")
    assert len(pids) == 2 and set(pids) <= {p.pid for p in sshd.descendants()}
    assert ssh_kernel.value("client.submit(fib, 8).result()", timeout=120) == 21
    assert "1 worker x 1 thread" in ssh_kernel.run("%nest_cluster scale 1", timeout=120).check().result["text/plain"]
    deadline = time.monotonic() + 30
    while all(psutil.pid_exists(p) for p in pids):
        assert time.monotonic() < deadline, "the removed worker's process is still there"
        time.sleep(0.1)
    before = ssh_kernel.value("list(client.run(__import__('os').getpid).values())")
    assert "1 worker x 1 thread" in ssh_kernel.run("%nest_cluster restart", timeout=120).check().result["text/plain"]
    after = ssh_kernel.value("list(client.run(__import__('os').getpid).values())")
    assert len(after) == 1 and after != before and set(after) <= {p.pid for p in sshd.descendants()}


def test_dashboard_reaches_the_browser_through_an_ssh_tunnel(ssh_kernel):
    link = ssh_kernel.value("client.summary().dashboard")
    assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
    with urllib.request.urlopen(link, timeout=30) as r:
        assert r.status == 200 and b"bokeh" in r.read().lower()


def test_dashboard_link_through_jupyter_server_proxy(ssh_kernel, tmp_path):
    port, token = free_port(), "jupyter-nest-test-token"
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "jupyter"), "server", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "jupyter server did not start"
                time.sleep(0.2)
        ssh_kernel.run("import dask; dask.config.set({'jupyter-nest.dashboard-proxy': True})").check()
        text = ssh_kernel.run("client.summary()").check().result["text/plain"]
        link = ssh_kernel.value("client.summary().dashboard")
        assert link.startswith("/proxy/") and f"{link} (through jupyter-server-proxy)" in text
        request = urllib.request.Request(base + link, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200 and b"bokeh" in r.read().lower()
    finally:
        ssh_kernel.run("dask.config.set({'jupyter-nest.dashboard-proxy': 'auto'})")
        server.terminate()
        server.wait(20)


def test_remote_output_never_blocks_a_worker(ssh_kernel):
    # Dask's SSH processes stop reading a remote process's output once it has
    # started; unread, a few MiB fill the SSH window and the next print blocks.
    ssh_kernel.run(
        "def noisy():\n"
        "    import sys\n"
        "    for _ in range(4000):\n"
        "        print('x' * 1000)\n"
        "        print('y' * 1000, file=sys.stderr)\n"
        "    return 'done'\n"
    ).check()
    assert ssh_kernel.value("client.submit(noisy, pure=False).result(timeout=90)", timeout=120) == "done"


def test_stop_leaves_no_process_and_no_file_behind(ssh_kernel, sshd):
    pids = sshd.pids()
    dirs = set(ssh_kernel.value("[p.dir for p in client.cluster._prepared.values()]"))
    assert pids and dirs and dirs <= cluster_dirs()
    reply = ssh_kernel.run("%nest_cluster stop", timeout=120).check()
    assert "Stopped the SSH cluster, scheduler on 127.0.0.1" in reply.stdout
    assert wait_gone(pids, 30) == []
    assert not dirs & cluster_dirs()
    assert ssh_kernel.value("__import__('jupyter_nest').current() is None") is True


def test_killed_kernel_leaves_nothing_running_on_the_hosts(sshd, keys):
    before = set(sshd.pids())  # the module's cluster may still be running
    k = Kernel()
    try:
        k.run(f"%load_ext jupyter_nest\n%nest_cluster start {ssh_args(sshd, keys)} --workers-per-host 2",
              timeout=120).check()
        pids = [p for p in sshd.pids() if p not in before]
        assert len(pids) >= 5  # scheduler, two nannies, two workers
        psutil.Process(k.pid).kill()
    finally:
        k.shutdown()
    # the processes end with their SSH sessions
    assert wait_gone(pids, 60) == []


def test_interrupting_the_start_stops_what_it_started(sshd, keys, tmp_path):
    # A worker host whose Python takes 60 s to start a nanny: interrupt while the cluster waits for it.
    slow = tmp_path / "slow-python"
    slow.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *Nanny*) exec {sys.executable} -c "import os, sys, time; time.sleep(60); '
        'os.execv(sys.executable, [sys.executable] + sys.argv[1:])" "$@";; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    slow.chmod(0o755)
    k = Kernel()
    try:
        k.run("%load_ext jupyter_nest").check()
        before, running = cluster_dirs(), set(sshd.pids())
        replies: list = []

        def run_cell() -> None:
            try:
                replies.append(k.run(f"%nest_cluster start {ssh_args(sshd, keys, python=str(slow))}", timeout=120))
            except Exception as e:
                replies.append(e)

        cell = threading.Thread(target=run_cell)
        cell.start()
        deadline = time.monotonic() + 60
        while not set(sshd.pids("Nanny")) - running:
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.1)
        pids = [p for p in sshd.pids() if p not in running]
        k.manager.interrupt_kernel()
        cell.join(120)
        assert replies and getattr(replies[0], "status", None) == "error", replies
        assert replies[0].error["ename"] == "KeyboardInterrupt"
        assert wait_gone(pids, 30) == []
        assert cluster_dirs() <= before
        assert k.value("__import__('jupyter_nest').current() is None") is True
    finally:
        k.shutdown()


def test_insecure_on_loopback_is_plain_tcp_without_a_warning(ipython, sshd, keys, recwarn):
    # and the start clears what a killed kernel's cluster left on the host, nothing younger
    stale, young = (Path(tempfile.mkdtemp(prefix="jupyter-nest-ssh-")) for _ in range(2))
    (stale / "python").write_text("#!/bin/sh\n")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    client = ipython.run_line_magic(
        "nest_cluster", f"start {ssh_args(sshd, keys, hosts='127.0.0.1')} --insecure --no-dashboard")
    assert not stale.exists() and young.exists()
    young.rmdir()
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert client.summary().workers == 1  # one host: scheduler and worker both on it
    assert client.summary().dashboard is None
    assert client.submit(sum, [1, 2]).result() == 3
    assert not [w for w in recwarn if "insecure" in str(w.message).lower()]


def test_dashboard_without_port_forwarding_warns_and_is_off(ipython, keys):
    strict = Sshd(keys, forwarding=False)
    try:
        refused = r"127\.0\.0\.1's 127\.0\.0\.1:\d+ only, and forwarding it over SSH failed"
        with pytest.warns(UserWarning, match=refused):
            client = ipython.run_line_magic("nest_cluster", f"start {ssh_args(strict, keys, hosts='127.0.0.1')}")
        assert client.summary().dashboard is None
        assert client.submit(sum, [1, 2]).result() == 3
        pids = strict.pids()
        ipython.run_line_magic("nest_cluster", "stop")
        assert wait_gone(pids, 30) == []
    finally:
        strict.close()


class SilentServer:
    """Accepts TCP connections and never says a word, like a firewall that swallows the SSH handshake."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        for c in self.conns:
            c.close()
        self.sock.close()


REACH = "--ssh-port {port} --ssh-key {key} --ssh-known-hosts {known}"

BAD_INPUTS = [
    ("--ssh no-such-host.invalid --ssh-port {port}",
     r"connect on no-such-host\.invalid failed: the host name 'no-such-host\.invalid' does not resolve\. "
     r"Check the spelling"),
    ("--ssh 127.0.0.1,no-such-host.invalid " + REACH,
     r"connect on no-such-host\.invalid failed: the host name 'no-such-host\.invalid' does not resolve"),
    ("--ssh 127.0.0.1 --ssh-port {closed}",
     r"connect on 127\.0\.0\.1 failed: the connection to port {closed} was refused, so no SSH server "
     r"listens there\. Check --ssh-port"),
    ("--ssh 127.0.0.1 --ssh-port {silent}",
     r"connect on 127\.0\.0\.1 failed: port {silent} accepted the connection, but no SSH handshake and "
     r"login finished within 3 s"),
    ("--ssh 127.0.0.1 --ssh-port {port} --ssh-key {key} --ssh-known-hosts {empty}",
     r"connect on 127\.0\.0\.1 failed: its host key is not trusted by .*empty_known_hosts.*"
     r"Log in once with `ssh -p {port} 127\.0\.0\.1`"),
    ("--ssh 127.0.0.1 --ssh-port {port} --ssh-key {stranger} --ssh-known-hosts {known}",
     r"authenticate on 127\.0\.0\.1 failed: the server accepted none of the keys offered for user '\w+' "
     r"\(.*stranger_key\)\. Add the public key"),
    ("--ssh 127.0.0.1 --ssh-port {port} --ssh-key {not_a_key}",
     r"--ssh-key '.*not_a_key' is not a private key .*Give the private half"),
    ("--ssh 127.0.0.1 --ssh-port {port} --ssh-key {locked}",
     r"--ssh-key '.*locked_key' is protected by a passphrase.*ssh-add"),
    ("--ssh 127.0.0.1 --ssh-port {port} --ssh-key {missing}",
     r"--ssh-key '.*no_such_key': no such file"),
    ("--ssh 127.0.0.1 " + REACH + " --remote-python /nonexistent/python",
     r"start scheduler on 127\.0\.0\.1 failed: the remote Python '/nonexistent/python' is not there "
     r"\(.*/nonexistent/python: .*\)\. Give the path"),
    ("--ssh 127.0.0.1 " + REACH + " --remote-python '{python} -S'",
     r"start scheduler on 127\.0\.0\.1 failed: the remote Python '.*python.* -S' cannot import "
     r"distributed \(ModuleNotFoundError"),
    ("--ssh 127.0.0.1 --ssh-port 0", r"--ssh-port must be a whole number from 1 to 65535, got 0"),
    ("--ssh 127.0.0.1 --workers-per-host 0", r"--workers-per-host must be a whole number of 1 or more, got 0"),
    ("--ssh 127.0.0.1 --workers 2",
     r"--workers does not go with --ssh: each host after the first runs --workers-per-host"),
    ("--ssh 127.0.0.1 --no-processes", r"--no-processes runs workers inside this kernel; it cannot go with --ssh"),
    ("--ssh 127.0.0.1 --cluster distributed.LocalCluster", r"leave out --cluster"),
    ("--ssh 127.0.0.1,,x", r"'' is not a host\. Give host names or addresses separated by commas"),
    ("--ssh-key {key}", r"--ssh-port, --ssh-user, --ssh-key.*describe an SSH cluster; give the hosts with --ssh too"),
    ("--ssh 127.0.0.1 --ssh-known-hosts /nonexistent/known_hosts",
     r"--ssh-known-hosts '/nonexistent/known_hosts': no such file"),
    ("--ssh 127.0.0.1 --insecure --tls-ca {key} --tls-cert {key} --tls-key {key}",
     r"--insecure turns TLS off, and --tls-ca/--tls-cert/--tls-key turn it on"),
]


@pytest.mark.parametrize("line, message", BAD_INPUTS, ids=[m.split(" failed")[0][:50] for _, m in BAD_INPUTS])
def test_bad_input_is_one_clear_error_in_bounded_time_and_leaves_nothing(ipython, sshd, keys, line, message):
    import dask

    silent = SilentServer()
    values = dict(
        port=sshd.port, key=keys.user, stranger=keys.stranger, not_a_key=keys.not_a_key, locked=keys.locked,
        missing=keys.directory / "no_such_key", empty=keys.empty_known_hosts, python=sys.executable,
        known=keys.known_hosts(["127.0.0.1"], sshd.port), closed=free_port(), silent=silent.port,
    )
    before, running = cluster_dirs(), set(sshd.pids())
    started = time.monotonic()
    try:
        with dask.config.set({"jupyter-nest.ssh.timeout": "3s"}):
            with pytest.raises(NestError, match=message.format(**values)):
                ipython.run_line_magic("nest_cluster", "start " + line.format(**values))
    finally:
        silent.close()
    assert time.monotonic() - started < 30
    assert jupyter_nest.current() is None
    assert wait_gone([p for p in sshd.pids() if p not in running], 20) == []
    assert cluster_dirs() <= before


def test_a_worker_that_cannot_start_names_the_worker_step(ipython, sshd, keys, tmp_path):
    # the host and its Python pass the checks, the scheduler starts, then the worker's process fails
    broken = tmp_path / "no-workers-python"
    broken.write_text(
        "#!/bin/sh\n"
        'case "$*" in *Nanny*) echo "no room for a worker here" >&2; exit 3;; esac\n'
        f'exec {sys.executable} "$@"\n'
    )
    broken.chmod(0o755)
    before, running = cluster_dirs(), set(sshd.pids())
    with pytest.raises(NestError, match=r"start worker on 127\.0\.0\.1 failed: the process exited before it "
                                        r"was ready; it said: .*no room for a worker here"):
        ipython.run_line_magic("nest_cluster", f"start {ssh_args(sshd, keys, python=str(broken))}")
    assert jupyter_nest.current() is None
    assert wait_gone([p for p in sshd.pids() if p not in running], 20) == []
    assert cluster_dirs() <= before


def test_errors_reach_the_notebook_as_one_paragraph(module_kernel, sshd):
    reply = module_kernel.run(f"%nest_cluster start --ssh no-such-host.invalid --ssh-port {sshd.port}")
    assert reply.status == "error" and reply.error["ename"] == "NestError"
    assert len(reply.error["traceback"]) == 1
    assert "connect on no-such-host.invalid failed" in reply.error["traceback"][0]


@pytest.fixture(scope="module")
def namespace():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    ns = Netns()
    yield ns
    ns.close()


def test_ssh_across_a_network_namespace_uses_tls_on_the_wire(namespace, keys, kernel):
    """Scheduler and a worker in their own namespace (own IP, own sshd), a worker here: traffic crosses the veth."""
    inside = Sshd(keys, address=namespace.ns_ip, netns=namespace.name)
    outside = Sshd(keys, address=namespace.host_ip, port=inside.port)
    try:
        hosts = f"{namespace.ns_ip},{namespace.ns_ip},{namespace.host_ip}"
        kernel.run(f"%load_ext jupyter_nest\nclient = %nest_cluster start {ssh_args(inside, keys, hosts)}",
                   timeout=120).check()
        crossed = namespace.bytes_crossed()
        kernel.run(FIB).check()
        assert kernel.value("client.submit(fib, 10).result()", timeout=120) == 55
        assert namespace.bytes_crossed() > crossed

        scheduler = kernel.value("client.scheduler.address")
        assert scheduler.startswith(f"tls://{namespace.ns_ip}:")
        workers = kernel.value("sorted(client.scheduler_info(n_workers=-1)['workers'])")
        assert len(workers) == 2 and all(w.startswith("tls://") for w in workers)
        assert {w.split("//")[1].split(":")[0] for w in workers} == {namespace.ns_ip, namespace.host_ip}
        # in the namespace (only sshd and our processes live there): sshd, scheduler, nanny and worker
        # on its own address; the HTTP routes (dashboard, health, metrics) on its loopback only
        inside_sockets = namespace.listening()
        assert {ip for ip, _ in inside_sockets} == {namespace.ns_ip, "127.0.0.1"}, inside_sockets
        assert len([ip for ip, _ in inside_sockets if ip == namespace.ns_ip]) == 4, inside_sockets
        # here, the other worker: nanny and worker on this machine's end of the veth, HTTP on loopback
        outside_sockets = listening(outside.descendants())
        expected = sorted([namespace.host_ip] * 2 + ["127.0.0.1"])
        assert sorted(ip for ip, _ in outside_sockets) == expected, outside_sockets

        # a client without the cluster's certificates gets nowhere, across the interface
        reply = kernel.run(f"%nest_cluster connect tcp://{scheduler.split('://')[1]} --timeout 3 --replace")
        assert reply.status == "error" and "TLS" in reply.error["evalue"]
        pids = inside.pids() + outside.pids()
        assert kernel.value("__import__('jupyter_nest').current().address") == scheduler
        kernel.run("%nest_cluster stop", timeout=120).check()
        assert wait_gone(pids, 30) == []
    finally:
        kernel.run("%nest_cluster stop", timeout=120)
        inside.close()
        outside.close()
