"""Accuracy of a zoo entry on a held-out synthetic test set, per loop iteration: CSV and markdown under results/.

    python benchmarks/bench_accuracy.py --name synth-hand-lite --test data/synth-test --iterations 3

The test folder must hold frames of subjects never seen in training (the recipes use seed 1001 for it; training
uses seed 1). Reports the mean 3D joint error and the fraction of frames whose maximum joint error is within
20 / 40 mm, for the predictor alone and after each updater iteration.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="synth-hand-lite", help="zoo entry name or card path")
    parser.add_argument("--test", default="data/synth-test", help="test shard folder")
    parser.add_argument("--frames", type=int, help="use only the first N frames")
    parser.add_argument("--iterations", type=int, help="override the number of loop iterations")
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument("--tag", help="appended to the output files' names (accuracy_<name>_<tag>.csv), e.g. when "
                                      "measuring an entry on another entry's test frames")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import handloop
    from handloop.recipes.evaluate import iteration_errors, iteration_table, object_errors, read_frames

    model = handloop.load(args.name, args.iterations)
    frames = read_frames(args.test, args.frames)
    start = time.perf_counter()
    errors, prediction = iteration_errors(model, frames)
    seconds = time.perf_counter() - start
    table = iteration_table(errors, object_errors(prediction, frames) if model.config.object else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"accuracy_{Path(str(args.name)).stem}" + (f"_{args.tag}" if args.tag else "")
    table.to_csv(out / f"{stem}.csv", index=False)
    header = (f"{model.name}, {len(frames)} test frames from {args.test}, {model.config.iterations} iterations; "
              f"machine {platform.machine()} {os.cpu_count()} cores; {seconds:.1f} s for the whole set\n\n")
    (out / f"{stem}.md").write_text(header + table.to_markdown(index=False, floatfmt=".3f") + "\n")
    print(header + table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    first, last = table.mean_mm.iloc[0], table.mean_mm.min()
    print(f"loop lowers the predictor's mean error by {100 * (first - last) / first:.1f} % "
          f"({first:.2f} -> {last:.2f} mm)")


if __name__ == "__main__":
    main()
