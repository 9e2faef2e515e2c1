"""``handloop bench``: size, accuracy and batch-1 latency of a zoo entry in every export format."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "benchmark a zoo entry in each export format: size, error on fresh frames, latency, fps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from export.bench import BENCH_FORMATS

    parser.add_argument("name", help="zoo entry name or card path")
    parser.add_argument("--formats", nargs="+", default=list(BENCH_FORMATS), choices=BENCH_FORMATS)
    parser.add_argument("--frames", type=int, default=50, help="fresh synthetic frames for the error column")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per format (median reported)")
    parser.add_argument("--threads", type=int, help="threads for TFLite / ONNX Runtime (default: theirs)")
    parser.add_argument("--out", default="results", help="folder for bench.csv / bench.md")
    parser.add_argument("--json", action="store_true", help="print the format rows as JSON")


def run(args: argparse.Namespace) -> int:
    from export.bench import bench, machine
    from zoo.fileio import write_text

    table, networks = bench(args.name, args.formats, args.frames, repeats=args.repeats, threads=args.threads)
    header = (f"{args.name}: batch 1, median of {args.repeats} calls after 5 warm-up calls; {machine()}; "
              f"threads {args.threads or 'library default'}; error on {args.frames} fresh synthetic frames")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "bench.csv", index=False)
    networks.to_csv(out / "bench_networks.csv", index=False)
    write_text(out / "bench.md", f"{header}\n\n{table.to_markdown(index=False, floatfmt='.2f')}\n\n"
                                 f"{networks.to_markdown(index=False, floatfmt='.2f')}\n")
    if args.json:
        print(json.dumps({"formats": table.to_dict(orient="records"), "networks": networks.to_dict(orient="records"),
                          "setup": header}, default=str))
    else:
        print(header)
        print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
        print(networks.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0
