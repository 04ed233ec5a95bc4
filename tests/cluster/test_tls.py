"""TLS end to end: a TLS scheduler refuses strangers, clusters beyond loopback get TLS, `--insecure` warns."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import psutil
import pytest
from distributed import Client, Security
from support.processes import DaskProcesses

import jupyter_nest
from jupyter_nest import NestError
from jupyter_nest.errors import InsecureClusterWarning

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]


def write_certificates(directory: Path) -> dict[str, Path]:
    """A fresh self-signed CA, certificate and key (each Security.temporary() is its own CA)."""
    directory.mkdir(parents=True, exist_ok=True)
    security = Security.temporary()
    files = {"ca": directory / "ca.pem", "cert": directory / "cert.pem", "key": directory / "key.pem"}
    files["ca"].write_text(security.tls_ca_file)
    files["cert"].write_text(security.tls_scheduler_cert)
    files["key"].write_text(security.tls_scheduler_key)
    return files


def tls_flags(files: dict[str, Path]) -> str:
    return f"--tls-ca {files['ca']} --tls-cert {files['cert']} --tls-key {files['key']}"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    return {"ours": write_certificates(root / "ours"), "theirs": write_certificates(root / "theirs")}


@pytest.fixture(scope="module")
def tls_scheduler(tmp_path_factory, certificates):
    """A real `dask scheduler` and `dask worker` that speak only TLS, with our CA's certificates."""
    ours = certificates["ours"]
    procs = DaskProcesses(tmp_path_factory.mktemp("tls-cluster"), extra=[
        "--protocol", "tls", "--tls-ca-file", str(ours["ca"]), "--tls-cert", str(ours["cert"]),
        "--tls-key", str(ours["key"]),
    ])
    security = Security(tls_ca_file=str(ours["ca"]), tls_client_cert=str(ours["cert"]),
                        tls_client_key=str(ours["key"]), require_encryption=True)
    try:
        with Client(procs.address, security=security, timeout=60) as c:
            c.wait_for_workers(1, timeout=60)
        yield procs
    finally:
        procs.close()


def test_a_plaintext_client_is_refused_with_an_error_naming_tls(module_kernel, tls_scheduler):
    plain = tls_scheduler.address.replace("tls://", "tcp://")
    reply = module_kernel.run(f"%nest_cluster connect {plain} --timeout 10")
    assert reply.status == "error" and reply.error["ename"] == "NestConnectionError"
    assert len(reply.error["traceback"]) == 1
    message = reply.error["evalue"]
    assert f"Cannot connect to {plain}: the server ended the Dask handshake" in message
    assert "as a TLS scheduler does with plain-TCP clients" in message and "connect with tls://" in message
    assert module_kernel.value("__import__('jupyter_nest').current() is None") is True


def test_a_client_with_a_certificate_from_another_ca_is_refused(module_kernel, tls_scheduler, certificates):
    reply = module_kernel.run(
        f"%nest_cluster connect {tls_scheduler.address} --timeout 10 {tls_flags(certificates['theirs'])}")
    assert reply.status == "error" and reply.error["ename"] == "NestConnectionError"
    assert len(reply.error["traceback"]) == 1
    assert (f"Cannot connect to {tls_scheduler.address}: the TLS handshake failed (CERTIFICATE_VERIFY_FAILED)"
            in reply.error["evalue"])
    assert "issued by the scheduler's CA" in reply.error["evalue"]


def test_a_client_with_the_schedulers_ca_connects(module_kernel, tls_scheduler, certificates):
    module_kernel.run(
        f"client = %nest_cluster connect {tls_scheduler.address} --timeout 10 {tls_flags(certificates['ours'])}"
    ).check()
    assert module_kernel.value("client.submit(sum, [1, 2, 3]).result()") == 6
    assert module_kernel.value("client.scheduler.address") == tls_scheduler.address
    module_kernel.run("%nest_cluster stop").check()


def test_start_with_certificates_runs_tls_on_loopback(ipython, certificates):
    client = ipython.run_line_magic(
        "nest_cluster", f"start --workers 1 --threads 1 --no-dashboard {tls_flags(certificates['ours'])}")
    assert client.scheduler.address.startswith("tls://127.0.0.1:")
    assert client.submit(sum, [2, 3]).result() == 5
    plain = client.scheduler.address.replace("tls://", "tcp://")
    with pytest.raises(NestError, match="as a TLS scheduler does with plain-TCP clients"):
        jupyter_nest.cluster._connect._handshake(plain, 5, None)


@pytest.fixture(scope="module")
def outside_ip():
    """An address of this machine that is not loopback."""
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family == socket.AF_INET:
                ip = ipaddress.ip_address(a.address)
                if not ip.is_loopback and not ip.is_link_local:
                    return a.address
    pytest.fail("this machine has no non-loopback IPv4 address to listen on")


def test_a_local_cluster_beyond_loopback_gets_tls_by_default(ipython, outside_ip):
    client = ipython.run_line_magic(
        "nest_cluster",
        f"start --cluster distributed.LocalCluster --option host={outside_ip} --option n_workers=1 "
        "--option threads_per_worker=1 --option dashboard_address=127.0.0.1:0",
    )
    assert client.scheduler.address.startswith(f"tls://{outside_ip}:")
    assert client.submit(sum, [1, 1]).result() == 2
    with pytest.raises(NestError, match="as a TLS scheduler does with plain-TCP clients"):
        jupyter_nest.cluster._connect._handshake(client.scheduler.address.replace("tls://", "tcp://"), 5, None)


def test_insecure_beyond_loopback_warns_and_runs_plain_tcp(ipython, outside_ip):
    with pytest.warns(InsecureClusterWarning, match=rf"tcp://{outside_ip}:\d+ listens beyond loopback in plain TCP"):
        client = ipython.run_line_magic(
            "nest_cluster",
            f"start --cluster distributed.LocalCluster --option host={outside_ip} --option n_workers=1 "
            "--option dashboard_address=127.0.0.1:0 --insecure",
        )
    assert client.scheduler.address.startswith(f"tcp://{outside_ip}:")


def test_insecure_warning_shows_in_the_notebook(module_kernel, outside_ip):
    reply = module_kernel.run(
        f"%nest_cluster start --cluster distributed.LocalCluster --option host={outside_ip} "
        "--option n_workers=1 --option dashboard_address=127.0.0.1:0 --insecure"
    ).check()
    assert "InsecureClusterWarning" in reply.stderr and "anyone who can reach that port" in reply.stderr
    module_kernel.run("%nest_cluster stop").check()


def test_plain_tcp_beyond_loopback_is_refused_without_insecure(ipython, outside_ip):
    spec = (f"{{'cls':'distributed.Scheduler','options':{{'host':'{outside_ip}','dashboard':False,"
            "'dashboard_address':'127.0.0.1:0'}}")
    refused = rf"listens at tcp://{outside_ip}:\d+, beyond loopback and without TLS.*--insecure"
    with pytest.raises(NestError, match=refused):
        ipython.run_line_magic("nest_cluster", f"start --cluster distributed.SpecCluster --option scheduler={spec}")
    assert jupyter_nest.current() is None


def test_insecure_and_certificates_contradict(ipython, certificates):
    with pytest.raises(NestError, match="--insecure turns TLS off, and --tls-ca/--tls-cert/--tls-key turn it on"):
        ipython.run_line_magic("nest_cluster", f"start --insecure {tls_flags(certificates['ours'])}")
