"""What loading jupyter_nest costs: the Jupyter server's import and a kernel's ``%load_ext``.

Each case runs in a fresh interpreter, alternating, ``--repeat`` times; printed are the medians and
their ratio to a bare interpreter that imports only what every case needs (``jupyter_server`` for the
server, ``IPython`` for the kernel), measured in the same run.

- server: what ``jupyter server`` imports to find and load the server extension
  (``jupyter_nest`` and ``jupyter_nest.lab``);
- load_ext: ``%load_ext jupyter_nest`` in an IPython shell;
- first use: ``jupyter_nest.start`` looked up (Dask's client and our runtime load here, not before).

    python benchmarks/bench_imports.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TIMED = """
import time, sys
{setup}
t = time.perf_counter()
{body}
print(time.perf_counter() - t, *sorted(m for m in ("dask", "distributed", "bokeh") if m in sys.modules))
"""

SHELL = "from IPython.core.interactiveshell import InteractiveShell; shell = InteractiveShell.instance()"

CASES = {
    "server": ("import jupyter_server.extension.manager", "import jupyter_nest, jupyter_nest.lab"),
    "load_ext": (SHELL, "shell.run_line_magic('load_ext', 'jupyter_nest')"),
    "first use": ("import jupyter_nest", "jupyter_nest.start"),
}


def once(setup: str, body: str) -> tuple[float, list[str]]:
    out = subprocess.run([sys.executable, "-c", TIMED.format(setup=setup, body=body)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), out[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    loaded: dict[str, list[str]] = {}
    baseline = {"server": [], "load_ext": []}
    for _ in range(args.repeat):
        for name, (setup, body) in CASES.items():
            seconds, loaded[name] = once(setup, body)
            times[name].append(seconds)
        for name in baseline:
            baseline[name].append(once("", CASES[name][0])[0])
    print(f"{'case':<10} {'median s':>9} {'bare s':>8} {'x bare':>7}  heavy modules loaded")
    for name, samples in times.items():
        median = statistics.median(samples)
        heavy = ", ".join(loaded[name]) or "-"
        if name in baseline:
            bare = statistics.median(baseline[name])
            print(f"{name:<10} {median:9.3f} {bare:8.3f} {median / bare:7.2f}  {heavy}")
        else:
            print(f"{name:<10} {median:9.3f} {'':>8} {'':>7}  {heavy}")


if __name__ == "__main__":
    main()
