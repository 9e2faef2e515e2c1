"""``handloop demo``: the pretrained loop on fresh synthetic frames, its error after each iteration, and figures."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a pretrained loop (default synth-hand-lite) on fresh frames of unseen subjects and show each iteration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=200, help="number of fresh frames (default 200)")
    parser.add_argument("--entry", "--name", dest="entry", default="synth-hand-lite",
                        help="zoo entry name or card path (default synth-hand-lite); a hand-object entry runs on "
                             "frames holding its object and draws its box")
    parser.add_argument("--out", default="demo", help="folder for the figure iterations.png (default ./demo)")
    parser.add_argument("--force", action="store_true",
                        help="replace iterations.png if already there (refused otherwise)")
    parser.add_argument("--json", action="store_true", help="print the per-iteration errors as JSON")


def run(args: argparse.Namespace):
    from handloop.recipes.demo import run_demo

    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    result = run_demo(args.entry, args.frames, args.out, force=args.force)
    print(f"wrote {Path(args.out) / 'iterations.png'}")
    if args.json:
        return result
    print(f"{args.entry} on {args.frames} fresh synthetic frames (unseen subjects):")
    for row in result["iterations"]:
        stage = "predictor" if row["iteration"] == 0 else f"iteration {row['iteration']}"
        objects = (f"   object corners {row['object_mm']:6.2f} mm   eq. 23 {row['hand_object_mm']:6.2f} mm"
                   if "object_mm" in row else "")
        print(f"  {stage:12s} hand mean 3D error {row['mean_mm']:6.2f} mm   max error <= 20 mm: "
              f"{100 * row['frac_max_20']:5.1f} %   <= 40 mm: {100 * row['frac_max_40']:5.1f} %{objects}")
    return 0
