"""Script-level export benchmark: the same measurement as ``handloop bench`` (handloop.export.bench.report).

Usage: python benchmarks/bench_export.py [NAME] [--formats ...] [--frames N] [--repeats N] [--threads N]
Writes bench.csv, bench_networks.csv and bench.md under benchmarks/results/ (or --out) and prints them.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from handloop.cli import bench  # noqa: E402 - after the log-level setup

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=bench.HELP)
    bench.add_arguments(parser)
    parser.set_defaults(out=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(sys.argv[1:] or ["synth-hand-lite"])
    sys.exit(bench.run(args))
