"""Accuracy-latency frontier and cost per iteration of a zoo entry: CSV, markdown and PNG under results/ (issue 14).

    python benchmarks/bench_frontier.py --name synth-hand-lite --test data/synth-test --frames 500 \
        [--predictors ENTRY_OR_CARD ...] [--threads N]

For the predictor alone and after 1, 2 and 3 iterations: the mean 3D joint error (mm) on the test frames (frames
of unseen subjects: the recipe's ``data.test`` split) against the median batch-1 latency (ms) of the deployed loop
(:func:`handloop.zoo.loops.deployed`) in compiled Keras and in ONNX Runtime; ``--predictors`` adds the
predictor-only point of other entries (e.g. smaller or larger predictors). Then each network's multiply-adds
(counted from its Keras graph) beside its own batch-1 latency, and the attained GFLOP/s of networks and loops
against this CPU's float32 matrix-multiply rate measured in the same run. Writes ``frontier_<entry>.csv/.md/.png``
and ``cost_<entry>.csv/.md``; every timing line states the machine, threads and load average.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="synth-hand-lite", help="zoo entry name or card path")
    parser.add_argument("--test", default="data/synth-test", help="test shard folder (the recipe's data.test)")
    parser.add_argument("--frames", type=int, default=500, help="test frames for the errors")
    parser.add_argument("--iterations", type=int, nargs="+", default=[0, 1, 2, 3], help="loop iterations to time")
    parser.add_argument("--predictors", nargs="*", default=[], help="more entries, timed predictor-only")
    parser.add_argument("--runtimes", nargs="+", default=["keras", "onnx"], choices=["keras", "onnx"])
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls before each median")
    parser.add_argument("--repeats", type=int, default=100, help="timed batch-1 calls per median")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: one per core)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras

    import handloop
    from handloop.export.bench import load_note, machine, matmul_gflops, network_latency
    from handloop.export.frontier import cost_table, frontier_table, loop_latencies, plot_frontier, summary
    from handloop.recipes.evaluate import iteration_errors, read_frames
    from handloop.zoo.cost import multiply_adds
    from handloop.zoo.fileio import write_text
    from handloop.zoo.metrics import mean_error

    frames = read_frames(args.test, args.frames)
    depth, intrinsics = frames[0].depth_mm[None, ..., None], frames[0].intrinsics.as_array()[None]
    before = load_note()
    model = handloop.load(args.name, max(args.iterations))
    errors, _ = iteration_errors(model, frames)
    error_rows = [{"entry": model.name, "iterations": n, "mean_mm": mean_error(errors[:, n])} for n in args.iterations]
    timing = dict(runtimes=args.runtimes, warmup=args.warmup, repeats=args.repeats, threads=args.threads)
    latencies = loop_latencies(args.name, args.iterations, depth, intrinsics, **timing)
    for other in args.predictors:
        predictor_only = handloop.load(other, 0)
        error_rows.append({"entry": predictor_only.name, "iterations": 0,
                           "mean_mm": mean_error(iteration_errors(predictor_only, frames)[0][:, 0])})
        latencies += loop_latencies(other, [0], depth, intrinsics, **timing)
    table = frontier_table(error_rows, latencies)

    nets = [layer for layer in model.model.layers if isinstance(layer, keras.Model)]
    macs = {net.name: sum(multiply_adds(net).values()) for net in nets}
    net_rows = network_latency(nets, model.name, args.runtimes, args.warmup, args.repeats, args.threads)
    peak = matmul_gflops()
    costs = cost_table(macs, net_rows, [row for row in latencies if row["entry"] == model.name], peak)

    setup = (f"{machine()}; batch 1, median of {args.repeats} calls after {args.warmup} warm-up calls; threads: Keras "
             f"TensorFlow's default (all cores), ONNX Runtime {args.threads or 'one per core'}; before: {before}, "
             f"after: {load_note()}; errors on {len(frames)} frames of {args.test}")
    stem = Path(str(args.name)).stem
    out = Path(args.out)
    lines = summary(table, model.name)
    write_text(out / f"frontier_{stem}.csv", table.to_csv(index=False))
    write_text(out / f"frontier_{stem}.md", f"{setup}\n\n{table.to_markdown(index=False, floatfmt='.2f')}\n\n"
                                            + "\n".join(lines) + "\n")
    plot_frontier(table, out / f"frontier_{stem}.png", f"{model.name}: {setup}")
    iteration, predictor_only = macs["synthesizer"] + macs["updater"], macs["localizer"] + macs["predictor"]
    peak_line = (f"float32 matmul 2048 x 2048 (tf.linalg.matmul, all cores, fastest of 10 calls): {peak:.1f} GFLOP/s; "
                 f"one iteration (synthesizer + updater) is {iteration / 1e6:.1f} M multiply-adds, "
                 f"{100 * iteration / predictor_only:.0f} % of the predictor-only loop's {predictor_only / 1e6:.1f} M")
    write_text(out / f"cost_{stem}.csv", costs.to_csv(index=False))
    write_text(out / f"cost_{stem}.md", f"{setup}\n\n{peak_line}\n\n"
                                        f"{costs.to_markdown(index=False, floatfmt='.3g')}\n")
    print(f"{setup}\n\n{table.to_string(index=False)}\n\n" + "\n".join(lines)
          + f"\n\n{peak_line}\n{costs.to_string(index=False)}")
    print("wrote " + ", ".join(str(out / f"{kind}_{stem}.{ext}") for kind, ext in
                               (("frontier", "csv"), ("frontier", "md"), ("frontier", "png"), ("cost", "csv"),
                                ("cost", "md"))))


if __name__ == "__main__":
    main()
