"""Is the loop worth its cost? Accuracy against batch-1 latency for the predictor alone and 1, 2, 3 iterations, in
compiled Keras and ONNX Runtime, and each network's multiply-adds beside its latency (issue 14).

The timed graphs are :func:`handloop.zoo.loops.deployed` loops (the outputs an application reads), so the
predictor-only point (N = 0) is the localizer and predictor without the synthesizer call that the full graph makes
for its ``synth`` picture. Latencies are :func:`handloop.export.bench.median_ms` of batch-1 calls on one fixed
frame; errors come from the caller (the same frames for every point).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handloop.export.bench import median_ms

RUNTIMES = ("keras", "onnx")
"""Runtimes timed: ``keras`` the compiled call (``tf.function``, what ``predict`` runs), ``onnx`` ONNX Runtime."""


def point_name(iterations: int) -> str:
    """``predictor`` for 0 iterations, else ``N iterations``."""
    return "predictor" if iterations == 0 else f"{iterations} iteration{'s' if iterations > 1 else ''}"


def runner(model, runtime: str, scratch: str | Path, threads: int | None = None):
    """A batch-1 runner (``run_graph(depth, intrinsics)``) of ``model``'s deployed loop (a
    :class:`handloop.zoo.api.HandPoseModel`) in ``runtime``; the ONNX model is written under ``scratch``."""
    from handloop.export import load, metadata
    from handloop.export.exporter import fixed_batch
    from handloop.export.formats import onnx_model
    from handloop.zoo.api import HandPoseModel
    from handloop.zoo.loops import deployed

    loop, config = deployed(model.model), model.config
    if runtime == "keras":
        return HandPoseModel(loop, config, model.name)
    if runtime != "onnx":
        raise ValueError(f"unknown runtime {runtime!r}: expected one of {RUNTIMES}")
    path = Path(scratch) / f"{Path(model.name).stem}-n{config.iterations}.onnx"
    path.write_bytes(onnx_model(fixed_batch(loop, config), metadata.build(model.name, config, "onnx", "fp32"))
                     .SerializeToString())
    return load(path, threads)


def loop_latencies(name: str, iterations, depth: np.ndarray, intrinsics: np.ndarray, runtimes=RUNTIMES,
                   warmup: int = 10, repeats: int = 100, threads: int | None = None) -> list[dict]:
    """Median batch-1 latency (ms) of zoo entry ``name``'s deployed loop with each of ``iterations`` in each of
    ``runtimes``, on ``depth`` ``(1, H, W, 1)`` mm and ``intrinsics`` ``(1, 4)``.

    Rows: entry, iterations, runtime, latency_ms.
    """
    import tempfile

    import handloop

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in iterations:
            model = handloop.load(name, count)
            for runtime in runtimes:
                run = runner(model, runtime, scratch, threads)
                rows.append({"entry": model.name, "iterations": count, "runtime": runtime,
                             "latency_ms": median_ms(lambda run=run: run.run_graph(depth, intrinsics), warmup,
                                                     repeats)})
    return rows


def _pareto(latency: np.ndarray, error: np.ndarray) -> np.ndarray:
    """True where no other point is at least as fast and as accurate and strictly better in one."""
    dominated = [((latency <= t) & (error <= e) & ((latency < t) | (error < e))).any()
                 for t, e in zip(latency, error)]
    return ~np.array(dominated, bool)


def frontier_table(errors: list[dict], latencies: list[dict]):
    """One row per (entry, iterations) point: ``errors`` rows (entry, iterations, mean_mm) joined with
    ``latencies`` rows (entry, iterations, runtime, latency_ms, from :func:`loop_latencies`).

    Columns: entry, point (:func:`point_name`), iterations, mean_mm, then per runtime ``<runtime>_ms`` and
    ``<runtime>_frontier`` (the point is on that runtime's accuracy-latency frontier: no other point of the table
    is both as fast and as accurate, and better in one). Rows by entry in the order given, then iterations.
    """
    import pandas as pd

    table = pd.DataFrame(errors)
    times = pd.DataFrame(latencies).pivot_table(index=["entry", "iterations"], columns="runtime",
                                                values="latency_ms", sort=False)
    runtimes = list(times.columns)
    times.columns = [f"{runtime}_ms" for runtime in runtimes]
    table = table.merge(times.reset_index(), on=["entry", "iterations"], how="left")
    table.insert(1, "point", table.iterations.map(point_name))
    order = {entry: i for i, entry in enumerate(dict.fromkeys(table.entry))}
    table = table.sort_values(["entry", "iterations"], key=lambda c: c.map(order) if c.name == "entry" else c)
    for runtime in runtimes:
        table[f"{runtime}_frontier"] = _pareto(table[f"{runtime}_ms"].to_numpy(), table.mean_mm.to_numpy())
    return table.reset_index(drop=True)


def plot_frontier(table, path: str | Path, title: str) -> None:
    """Mean 3D error (mm) against batch-1 latency (ms), one marker per runtime, each entry's points joined in
    iteration order and labelled, ``title`` wrapped above; written as a PNG at ``path``."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handloop.zoo.fileio import atomic_path

    runtimes = [c[:-3] for c in table.columns if c.endswith("_ms")]
    fig, axis = plt.subplots(figsize=(7.5, 5))
    for runtime, marker in zip(runtimes, "os^v"):
        for entry, rows in table.groupby("entry", sort=False):
            axis.plot(rows[f"{runtime}_ms"], rows.mean_mm, marker=marker, label=f"{entry}, {runtime}")
            for _, row in rows.iterrows():
                axis.annotate(row.point, (row[f"{runtime}_ms"], row.mean_mm), fontsize=7,
                              textcoords="offset points", xytext=(4, 4))
    axis.set_xlabel("latency, batch 1 (ms, median)")
    axis.set_ylabel("mean 3D joint error (mm)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(textwrap.fill(title, 100), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def cost_table(network_macs: dict[str, int], networks: list[dict], loops: list[dict], peak_gflops: float):
    """Multiply-adds against time: one row per network (``network_macs`` name -> count;
    :func:`handloop.export.bench.network_latency` rows) and per deployed loop (``loops``: rows of
    :func:`loop_latencies` of one entry; its count from :func:`handloop.zoo.cost.loop_multiply_adds`).

    Columns: item, mmacs (millions of multiply-adds per frame), then per runtime ``<runtime>_ms``,
    ``<runtime>_gflops`` (attained: 2 x multiply-adds / latency, GFLOP/s) and ``<runtime>_of_peak`` (that over
    ``peak_gflops``, this CPU's matrix-multiply rate from :func:`handloop.export.bench.matmul_gflops`).
    """
    import pandas as pd

    from handloop.zoo.cost import loop_multiply_adds

    rows = {}
    for row in networks:
        rows.setdefault(row["network"], {"item": row["network"], "mmacs": network_macs[row["network"]] / 1e6})[
            f"{row['runtime']}_ms"] = row["latency_ms"]
    for row in loops:
        item = f"loop, {point_name(row['iterations'])}"
        rows.setdefault(item, {"item": item, "mmacs": loop_multiply_adds(network_macs, row["iterations"]) / 1e6})[
            f"{row['runtime']}_ms"] = row["latency_ms"]
    table = pd.DataFrame(list(rows.values()))
    for column in [c for c in table.columns if c.endswith("_ms")]:
        runtime = column[:-3]
        table[f"{runtime}_gflops"] = 2 * table.mmacs / table[column]  # 2e6 FLOP per MMAC / (1e-3 s per ms) / 1e9
        table[f"{runtime}_of_peak"] = table[f"{runtime}_gflops"] / peak_gflops
    return table


def summary(table, entry: str) -> list[str]:
    """Per runtime, one line for ``entry`` in ``table`` (from :func:`frontier_table`): its most accurate point,
    the error it removes from the predictor's and the latency it adds to the predictor-only loop's."""
    rows = table[table.entry == entry].set_index("iterations")
    if 0 not in rows.index:
        return []
    best = rows.mean_mm.idxmin()
    lines = []
    for runtime in [c[:-3] for c in table.columns if c.endswith("_ms")]:
        ms = rows[f"{runtime}_ms"]
        lines.append(f"{entry}, {runtime}: the most accurate point is {point_name(best)} "
                     f"({rows.mean_mm[0]:.2f} -> {rows.mean_mm[best]:.2f} mm, "
                     f"{100 * (1 - rows.mean_mm[best] / rows.mean_mm[0]):.1f} % lower) for "
                     f"{ms[best] - ms[0]:+.2f} ms ({100 * (ms[best] / ms[0] - 1):+.0f} % of the predictor-only "
                     f"loop's {ms[0]:.2f} ms)")
    return lines
