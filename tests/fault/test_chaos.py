"""Chaos, bounded: random recursions of every API with random SIGKILLs of one worker or all but one, on a real
3-worker cluster; every result right, nothing hangs. ``cd tests && python -m support.chaos --kills 100`` runs the
long version, with the figures of the extra time a kill costs."""

from __future__ import annotations

import io

import pytest
from support import chaos

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_random_worker_kills_lose_no_result_of_any_api_and_hang_nothing():
    out = io.StringIO()
    tallies = chaos.run(kills=2, apis=list(chaos.APIS), workers=3, seed=7, hang_after=120, out=out)
    print(chaos.HEADER)
    print(out.getvalue())
    assert set(tallies) == set(chaos.APIS)
    for name, tally in tallies.items():
        assert tally.kills == 2, (name, tally)
        assert tally.hangs == 0, f"{name}: {tally.hangs} recursion(s) still ran 120 s after a kill"
        assert not tally.wrong, f"{name}: {tally.wrong}"
        assert tally.right == 2, (name, tally)
