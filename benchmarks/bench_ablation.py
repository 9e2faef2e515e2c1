"""Learned updater against optimising the pose on the image, from the same predictor start (issue 14).

    python benchmarks/bench_ablation.py --name synth-hand-lite --test data/synth-test --frames 500

On the test frames (frames of unseen subjects: the recipe's ``data.test`` split), from each frame's predictor
pose: L-BFGS-B and particle swarm optimisation of the predictor's PCA embedding against the image discrepancy
``mean (synthesizer(pose) - crop)^2`` (:mod:`handloop.recipes.optimise`), and the learned loop's iterations. Per
method and iteration: mean 3D joint error (mm), mean image discrepancy, and wall time per frame spent after the
predictor (optimisers: their own run; the loop: its batch-1 compiled-Keras latency minus the predictor-only
loop's). Writes ``ablation_<entry>.csv/.md/.png`` under results/.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path


def plot(table, path: Path, title: str) -> None:
    """Mean 3D error against iterations and against seconds per frame, one line per method; PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handloop.zoo.fileio import atomic_path

    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (method, rows), marker in zip(table.groupby("method", sort=False), "os^"):
        by_step.plot(rows.iteration, rows.mean_mm, marker=marker, label=method)
        later = rows[rows.seconds_per_frame > 0]
        by_time.plot(1000 * later.seconds_per_frame, later.mean_mm, marker=marker, label=method)
    start = table.mean_mm.iloc[0]
    for axis, xlabel in ((by_step, "iterations (optimiser iterations; loop: updater iterations)"),
                         (by_time, "time per frame after the predictor (ms, log scale)")):
        axis.axhline(start, color="0.5", linestyle=":", label="predictor (the start)")
        axis.set_xlabel(xlabel)
        axis.set_ylabel("mean 3D joint error (mm)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    by_time.set_xscale("log")
    fig.suptitle(textwrap.fill(title, 160), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="synth-hand-lite", help="zoo entry name or card path")
    parser.add_argument("--test", default="data/synth-test", help="test shard folder (the recipe's data.test)")
    parser.add_argument("--frames", type=int, default=500, help="test frames")
    parser.add_argument("--loop-iterations", type=int, default=3, help="learned loop iterations to report")
    parser.add_argument("--lbfgs-iterations", type=int, default=50, help="L-BFGS-B iterations at most")
    parser.add_argument("--frames-per-problem", type=int, default=1,
                        help="frames optimised together by L-BFGS-B as one block-diagonal problem (1: independent)")
    parser.add_argument("--pso-iterations", type=int, default=30, help="PSO iterations (swarm evaluations)")
    parser.add_argument("--particles", type=int, default=32, help="PSO particles per frame")
    parser.add_argument("--spread-mm", type=float, default=20.0,
                        help="RMS joint displacement of the initial PSO particles from the start, mm")
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 1, 2, 3, 5, 10, 20, 30, 50],
                        help="optimiser iterations to report")
    parser.add_argument("--seed", type=int, default=0, help="PSO seed")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import pandas as pd

    import handloop
    from handloop.export.bench import load_note, machine
    from handloop.export.frontier import loop_latencies
    from handloop.recipes.evaluate import read_frames
    from handloop.recipes.optimise import ImageObjective, lbfgs, loop_start, pso
    from handloop.zoo.fileio import write_text
    from handloop.zoo.metrics import mean_error

    frames = read_frames(args.test, args.frames)
    model = handloop.load(args.name, args.loop_iterations)
    before = load_note()
    start = loop_start(model, frames)
    objective = ImageObjective(model.model.get_layer("predictor"), model.model.get_layer("synthesizer"), start.crops)
    traces = {
        f"L-BFGS-B ({args.frames_per_problem} frame{'s' if args.frames_per_problem > 1 else ''} per problem)":
            lbfgs(objective, args.lbfgs_iterations, args.frames_per_problem),
        f"PSO ({args.particles} particles, {args.spread_mm:g} mm spread)":
            pso(objective, args.pso_iterations, args.particles, args.spread_mm / (model.config.cube_mm / 2),
                args.seed),
    }
    rows = []
    depth, intrinsics = frames[0].depth_mm[None, ..., None], frames[0].intrinsics.as_array()[None]
    loop_ms = {row["iterations"]: row["latency_ms"] for row in
               loop_latencies(args.name, range(args.loop_iterations + 1), depth, intrinsics, runtimes=("keras",))}
    for n in range(args.loop_iterations + 1):
        rows.append({"method": "learned loop (updater)", "iteration": n,
                     "mean_mm": mean_error(start.errors_mm(start.poses[:, n])),
                     "discrepancy": float(objective.pose_values(start.poses[:, n]).mean()),
                     "seconds_per_frame": (loop_ms[n] - loop_ms[0]) / 1000})
    for method, trace in traces.items():
        for step in [s for s in args.steps if s < len(trace.seconds)]:
            rows.append({"method": method, "iteration": step,
                         "mean_mm": mean_error(start.errors_mm(objective.poses(trace.embeddings[step]))),
                         "discrepancy": float(trace.values[step].mean()),
                         "seconds_per_frame": trace.seconds[step] / len(frames)})
    table = pd.DataFrame(rows)
    setup = (f"{model.name}, {len(frames)} frames of {args.test}; {machine()}, TensorFlow's default threads; "
             f"before: {before}, after: {load_note()}; discrepancy = mean squared difference of the synthesized "
             f"and input crops (normalised depth); time per frame after the predictor: optimisers their whole run "
             f"(L-BFGS-B {args.frames_per_problem} frame(s) per synthesizer call, PSO all particles of "
             f"{max(1, objective.batch // args.particles)} frames per call), loop its batch-1 compiled-Keras "
             f"latency minus the predictor-only loop's")
    stem = f"ablation_{Path(str(args.name)).stem}"
    out = Path(args.out)
    write_text(out / f"{stem}.csv", table.to_csv(index=False))
    write_text(out / f"{stem}.md", f"{setup}\n\n{table.to_markdown(index=False, floatfmt='.4g')}\n")
    plot(table, out / f"{stem}.png", f"{model.name}, {len(frames)} test frames; {before}")
    print(f"{setup}\n\n{table.to_string(index=False)}\nwrote {out / stem}.csv, .md, .png")


if __name__ == "__main__":
    main()
