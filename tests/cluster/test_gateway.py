"""A real Dask Gateway (``dask-gateway-server``, local backend, simple password auth) started by the tests:
a cluster made with the ``dask_gateway`` client and attached, one started with ``--cluster``, bad credentials."""

from __future__ import annotations

import time

import dask
import pytest
from dask_gateway import Gateway
from dask_gateway.auth import BasicAuth
from support.gateway import PASSWORD, GatewayServer
from support.recursions import fib, recurse_with_secede

import jupyter_nest
from jupyter_nest.errors import NestConnectionError
from jupyter_nest.monitor import snapshot

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.gateway]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    server = GatewayServer(tmp_path_factory.mktemp("gateway"))
    yield server
    with Gateway(server.address, auth=BasicAuth("nest", PASSWORD)) as gw:
        left = gw.list_clusters()
        for report in left:
            gw.stop_cluster(report.name)
    alive = server.close()
    assert not left, f"gateway clusters left behind: {[c.name for c in left]}"
    assert not alive, f"gateway processes left behind: {alive}"


@pytest.fixture(autouse=True)
def no_session_after():
    # dask_gateway registers its dask.config defaults when imported; an earlier gen_cluster test of the
    # same run put back the config as it was before that (distributed.utils_test's reset): read them again.
    dask.config.refresh()
    yield
    jupyter_nest.stop()


def credentials(password: str) -> dict:
    return {"gateway.auth.type": "basic", "gateway.auth.kwargs": {"username": "nest", "password": password}}


def test_attach_a_gateway_cluster_run_recursions_and_the_user_shuts_it_down(gateway):
    with Gateway(gateway.address, auth=BasicAuth("nest", PASSWORD)) as gw:
        cluster = gw.new_cluster()
        cluster.scale(1)
        with cluster.get_client() as client:
            client.wait_for_workers(1, timeout=60)
            session = jupyter_nest.attach(cluster)
            assert session.kind == "your GatewayCluster (attached)"
            assert session.address == cluster.scheduler_address.rstrip("/")  # gateway://HOST:PORT/NAME
            assert session.client.submit(recurse_with_secede, 10, pure=False).result() == 55
            assert fib.spawn(15).result() == 610
            snap = snapshot(session.client)
            assert snap["totals"]["workers"] == 1 and snap["workers"][0]["nthreads"] == 1
            view = jupyter_nest.widget(interval=0.2)
            try:
                deadline = time.monotonic() + 20
                while view.updates < 2:
                    assert time.monotonic() < deadline, "the slot view never updated through the gateway"
                    time.sleep(0.1)
            finally:
                view.close()

            cluster.shutdown()
            assert gw.list_clusters() == []
            assert jupyter_nest.stop().startswith("Detached from your GatewayCluster at gateway://")
        cluster.close()


def test_start_a_gateway_cluster_and_stop_shuts_it_down(gateway):
    with dask.config.set(credentials(PASSWORD)):
        session = jupyter_nest.start(cluster="dask_gateway.GatewayCluster", options={"address": gateway.address},
                                     workers=1)
        assert not session.adopted and session.summary().workers == 1
        assert fib.spawn(12).result() == 144
        assert jupyter_nest.stop().startswith("Stopped the GatewayCluster at gateway://")
        with Gateway(gateway.address) as gw:
            assert gw.list_clusters() == []


def test_bad_credentials_name_the_gateway_and_the_fix(gateway):
    with dask.config.set(credentials("not-the-password")), pytest.raises(NestConnectionError) as raised:
        jupyter_nest.start(cluster="dask_gateway.GatewayCluster", options={"address": gateway.address})
    message = str(raised.value)
    assert message.startswith(f"The Dask Gateway at {gateway.address} refused the credentials (401 Unauthorized).")
    assert "gateway.auth.kwargs" in message and isinstance(raised.value, ConnectionError)
    assert jupyter_nest.current() is None
