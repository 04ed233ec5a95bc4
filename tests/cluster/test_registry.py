"""Kernels register the cluster they open in a small file the Jupyter server reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_nest.cluster import _registry as registry

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]


def entry_file(kernel) -> Path:
    connection = Path(kernel.manager.connection_file)
    return registry.directory(connection.parent) / f"{registry.kernel_id(connection)}.json"


def test_a_kernel_registers_its_cluster_marks_it_stopped_and_removes_it_at_exit(kernel):
    path = entry_file(kernel)
    kernel.run("%load_ext jupyter_nest\n%nest_cluster start --no-processes --workers 1 --threads 1").check()
    entry = json.loads(path.read_text())
    assert entry["scheduler"] == kernel.value("__import__('jupyter_nest').current().address")
    assert entry["pid"] == kernel.pid
    assert entry["kernel_id"] == path.stem
    assert entry["state"] == "running" and entry["remote"] is False
    assert entry["dashboard"].startswith("http://127.0.0.1:")
    kernel.run("%nest_cluster stop").check()
    entry = json.loads(path.read_text())
    assert entry["state"] == "stopped" and entry["stopped"] >= entry["started"]
    kernel.run("%nest_cluster start --no-processes --workers 1 --threads 1").check()
    assert json.loads(path.read_text())["state"] == "running"
    kernel.shutdown()
    assert not path.exists()


def test_outside_a_kernel_registration_does_nothing():
    assert registry.connection_file() is None
    assert registry.register(object()) is None
    registry.unregister()


def test_an_unwritable_registry_never_fails_a_start(kernel, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("the registry folder cannot be made under a file")
    kernel.run(f"import jupyter_nest.cluster._registry as r; r.REGISTRY_SUBDIR = {str(blocker / 'sub')!r}").check()
    reply = kernel.run("%load_ext jupyter_nest\n%nest_cluster start --no-processes --workers 1 --threads 1")
    reply.check()
    assert kernel.value("__import__('jupyter_nest').current() is not None") is True
    assert "could not register the cluster" in reply.stderr


def test_in_memory_certificates_reach_the_server_as_private_files(kernel):
    path = entry_file(kernel)
    kernel.run("%load_ext jupyter_nest\nimport jupyter_nest\nfrom distributed import Security\n"
               "s = jupyter_nest.start(workers=1, threads=1, processes=False, dashboard=False, "
               "security=Security.temporary())").check()
    entry = json.loads(path.read_text())
    assert entry["scheduler"].startswith("tls://127.0.0.1:")
    files = [Path(entry["tls"][name]) for name in ("ca", "cert", "key")]
    assert all(f.parent == path.parent and (f.stat().st_mode & 0o777) == 0o600 for f in files)
    # what the Jupyter server does with the entry: reach the TLS scheduler with those files
    from jupyter_nest.lab._clusters import security_for
    from jupyter_nest.monitor import snapshot

    assert snapshot(entry["scheduler"], security=security_for(entry), timeout=10)["totals"]["workers"] == 1
    kernel.shutdown()
    assert not any(f.exists() for f in files) and not path.exists()
