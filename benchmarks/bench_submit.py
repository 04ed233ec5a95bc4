"""Cost of running a cell as a task: ``submit_cell(..., wait=True)`` against ``client.submit(f).result()``.

Both run a trivial computation on one cluster of 2 workers x 1 thread; the
cell also ships one small notebook global and prints one line, which comes back
through the output channel. Runs alternate so that the machine's noise hits
both alike. Prints medians per round trip and the ratio.

    python benchmarks/bench_submit.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import jupyter_nest


def plain(client: object, x: int) -> float:
    t = time.perf_counter()
    client.submit(lambda v: v + 1, x, pure=False).result()
    return time.perf_counter() - t


def cell(namespace: dict[str, int]) -> float:
    t = time.perf_counter()
    jupyter_nest.submit_cell("print('hello')\nx + 1", namespace, wait=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    client = jupyter_nest.start(workers=2, threads=1).client
    times: dict[str, list[float]] = {"client.submit().result()": [], "submit_cell(wait=True)": []}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the cell's prints
            cell({"x": 1})  # first use registers the output plugin on the workers
            for i in range(args.repeat):
                times["client.submit().result()"].append(plain(client, i))
                times["submit_cell(wait=True)"].append(cell({"x": i}))
    finally:
        jupyter_nest.stop()
    base = statistics.median(times["client.submit().result()"])
    print(f"{'':26s} {'median ms':>10s} {'min ms':>7s} {'ratio':>6s}")
    for name, ts in times.items():
        print(f"{name:26s} {1e3 * statistics.median(ts):10.2f} {1e3 * min(ts):7.2f} "
              f"{statistics.median(ts) / base:6.2f}")


if __name__ == "__main__":
    main()
