"""Script-level export benchmark: ``handloop bench`` (handloop.export.bench.report) writing under benchmarks/results.

Usage: python benchmarks/bench_export.py [NAME] [--formats ...] [--frames N] [--repeats N] [--threads N] [--json]
Writes bench.csv, bench_networks.csv and bench.md under benchmarks/results/ (or --out) and prints them.
"""

import sys
from pathlib import Path

from handloop.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:] or ["synth-hand-lite"]
    if "--out" not in argv:  # its own results folder: replacing the last run's tables is the point
        argv += ["--out", str(Path(__file__).resolve().parent / "results"), "--force"]
    sys.exit(main(["bench", *argv]))
