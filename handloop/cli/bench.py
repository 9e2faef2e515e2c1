"""``handloop bench``: size, accuracy and batch-1 latency of a zoo entry in every export format."""

from __future__ import annotations

import argparse

HELP = "benchmark a zoo entry in each export format: size, error on fresh frames, latency, fps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from handloop.export.bench import BENCH_FORMATS

    parser.add_argument("name", help="zoo entry name or card path")
    parser.add_argument("--formats", nargs="+", default=list(BENCH_FORMATS), choices=BENCH_FORMATS)
    parser.add_argument("--frames", type=int, default=50, help="fresh synthetic frames for the error column")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per format (median reported)")
    parser.add_argument("--threads", type=int,
                        help="threads for TFLite / ONNX Runtime (default: 1 for TFLite, one per core for ONNX Runtime)")
    parser.add_argument("--no-paper", dest="paper", action="store_false",
                        help="skip the paper-size networks in the per-network table")
    parser.add_argument("--out", default="results",
                        help="folder for bench.csv, bench_networks.csv and bench.md (default ./results)")
    parser.add_argument("--force", action="store_true",
                        help="replace the three files if already there (refused otherwise)")
    parser.add_argument("--json", action="store_true",
                        help="print the setup, format and network rows and the summary as one JSON document")


def run(args: argparse.Namespace):
    import pandas as pd

    from handloop.export.bench import report

    result = report(args.name, args.formats, args.frames, args.repeats, args.threads, args.out, paper=args.paper,
                    force=args.force)
    for path in result["files"]:
        print(f"wrote {path}")
    if args.json:
        return result
    print(result["setup"])
    for rows in (result["formats"], result["networks"]):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(result["summary"])
    return 0
