"""``start`` refuses settings that belong to another kind of cluster, from Python as from the magic, before
anything starts (fast: the checks come first)."""

from __future__ import annotations

import pytest

import jupyter_nest
from jupyter_nest import NestError
from jupyter_nest.cluster import SSHOptions

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("kwargs", [
    {"ssh_options": {"port": 2222}},
    {"ssh_options": SSHOptions(key="~/.ssh/id_ed25519")},
    {"ssh_options": {"workers_per_host": 2}, "workers": 2},
])
def test_ssh_options_without_ssh_are_refused(kwargs):
    with pytest.raises(NestError, match=r"describe an SSH cluster; give the hosts with --ssh too .*`ssh=`"):
        jupyter_nest.start(**kwargs)
    assert jupyter_nest.current() is None


def test_cluster_options_without_a_cluster_class_are_refused():
    with pytest.raises(NestError, match=r"--option sets keyword arguments of --cluster .*`cluster=`"):
        jupyter_nest.start(options={"n_workers": 1})
    assert jupyter_nest.current() is None


def test_unset_ssh_options_are_not_a_request_for_ssh():
    # what the magic passes when no SSH flag is given: every field None
    from jupyter_nest.cluster._start import _check_combination

    _check_combination(None, {}, None, {"port": None, "user": None, "key": None})
    _check_combination(None, None, None, SSHOptions())
