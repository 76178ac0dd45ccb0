"""CLI start-up, side by side with a bare ``import typer, rich``, as a ratio.

Times, in one run and interleaved (so a busy moment on a shared machine hits both sides):

* ``streamlab --help``;
* ``streamlab run --nosuch``: a bad option, answered with one line and exit status 2;
* ``python -c "import typer, rich"``: what any Typer and Rich command costs at the least;
* a two-command Typer app given a bad option: Typer (0.29+) imports pydantic to build a
  command's parameters, so this is the least any Typer command's bad option costs.

Each is a fresh interpreter, as a user's shell starts it. Prints one JSON line with the median
of each side and the ratios to the bare import; the target is a ratio of 2 or lower.

Usage: ``.venv/bin/python benchmarks/bench_cli.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

TINY_APP = """
import typer
app = typer.Typer()
@app.command()
def run(x: str | None = None) -> None: ...
@app.command()
def other() -> None: ...
app()
"""
SIDES = {
    "help": [sys.executable, "-m", "streamlab", "--help"],
    "bad_option": [sys.executable, "-m", "streamlab", "run", "--nosuch"],
    "bare": [sys.executable, "-c", "import typer, rich"],
    "typer_bad_option": [sys.executable, "-c", TINY_APP, "run", "--nosuch"],
}
EXPECTED_STATUS = {"help": 0, "bad_option": 2, "bare": 0, "typer_bad_option": 2}


def _once(argv: list[str], expected: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expected:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of each side")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in SIDES}
    for name, argv in SIDES.items():  # warm the file cache once
        _once(argv, EXPECTED_STATUS[name])
    for _ in range(args.repeat):
        for name, argv in SIDES.items():
            times[name].append(_once(argv, EXPECTED_STATUS[name]))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        json.dumps(
            {
                "repeat": args.repeat,
                "help_s": round(median["help"], 3),
                "bad_option_s": round(median["bad_option"], 3),
                "bare_typer_rich_s": round(median["bare"], 3),
                "help_ratio": round(median["help"] / median["bare"], 2),
                "bad_option_ratio": round(median["bad_option"] / median["bare"], 2),
                "typer_app_bad_option_s": round(median["typer_bad_option"], 3),
                "bad_option_vs_typer_app": round(
                    median["bad_option"] / median["typer_bad_option"], 2
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
