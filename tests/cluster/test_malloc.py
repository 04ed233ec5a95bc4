"""A kernel that hosts a scheduler keeps big freed blocks out of its heap (jupyter-nest.malloc-mmap-threshold)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import dask
import pytest

import jupyter_nest
from jupyter_nest import NestError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# In a process of its own, as the pin lasts for the life of the process: start a cluster the way a kernel does,
# then free a 4 MB block and make one of that size again, as a long-lived kernel does with its big tables.
SCRIPT = textwrap.dedent("""
    import ctypes, json, sys
    import dask, jupyter_nest

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Mallinfo2

    if __name__ == "__main__":
        dask.config.set({"jupyter-nest.malloc-mmap-threshold": json.loads(sys.argv[1])})
        session = jupyter_nest.start(workers=1, threads=1, dashboard=False)
        try:
            assert session.client.submit(sum, [1, 2]).result() == 3
            table = bytearray(4_000_000)
            del table
            before = libc.mallinfo2()
            table = bytearray(4_000_000)
            after = libc.mallinfo2()
            print(json.dumps({"mapped": after.hblkhd - before.hblkhd, "heap": after.arena - before.arena}))
        finally:
            jupyter_nest.stop()
""")


def remake_a_big_block(threshold: object) -> dict[str, int]:
    # Dask's nanny puts MALLOC_TRIM_THRESHOLD_ in the environment of the process that starts it (for its workers),
    # so any cluster this test process started before would have fixed glibc's threshold in the child too. A
    # kernel reads its environment before any cluster starts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(threshold)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_big_block_freed_and_made_again_comes_from_the_os_not_the_heap():
    pinned = remake_a_big_block("1 MiB")
    assert pinned["mapped"] >= 4_000_000, pinned
    # glibc's own threshold has risen past 4 MB after the first block was freed: the second is carved from the heap
    unpinned = remake_a_big_block(None)
    assert unpinned["mapped"] == 0, unpinned


@pytest.mark.parametrize("setting", ["lots", "0 B", "64 MiB", -1])
def test_a_threshold_glibc_cannot_take_is_refused_before_a_cluster_starts(setting):
    with dask.config.set({"jupyter-nest.malloc-mmap-threshold": setting}), \
            pytest.raises(NestError, match=r"jupyter-nest\.malloc-mmap-threshold is .* 1 MiB"):
        jupyter_nest.start(workers=1, threads=1, dashboard=False)
    assert jupyter_nest.current() is None
