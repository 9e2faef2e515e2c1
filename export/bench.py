"""``handloop bench``: each format's size, accuracy on fresh synthetic frames, and batch-1 latency (Ultralytics-style).

Latency is the median of ``repeats`` single-frame calls after ``warmup`` calls, at batch 1, on this machine's CPU
with the thread count stated in the output. Two Keras baselines: ``keras`` is the compiled call (``tf.function``,
what :meth:`handloop.zoo.api.HandPoseModel.predict` runs per batch), ``keras-eager`` the plain ``loop(inputs)`` call; the
summary states the fastest export's speed-up against both, each named.
The per-network rows time each network alone at batch 1 like the paper's runtime paragraph: the entry's networks
and the paper-size ones (``handloop.zoo.config.paper()``, random weights), each as compiled Keras and in ONNX Runtime.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from handloop.zoo.api import HandPoseModel

from handloop.export.formats import FORMATS

KERAS_BASELINES = {"keras-eager": "the eager Keras call loop(inputs)",
                   "keras": "the compiled Keras call (tf.function, as HandPoseModel.predict runs it)"}
"""The Keras rows and what each times."""
BENCH_FORMATS = (*KERAS_BASELINES, *(fmt.name if precision == fmt.precisions[0] else f"{fmt.name}-{precision}"
                                     for fmt in FORMATS.values() for precision in fmt.precisions))
"""The rows ``handloop bench`` can measure: the Keras baselines, then each format of :data:`FORMATS` in each of its
precisions (``tflite`` in its default precision, ``tflite-int8`` in int8)."""
FP16_MEAN_MM = 1.0
"""Largest mean joint distance to the Keras loop, mm, at which an fp16 export counts as matching it."""


def call_times_ms(call, warmup: int, repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``call()`` in ms, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    return times


def median_ms(call, warmup: int, repeats: int) -> float:
    """Median wall time of ``call()`` in ms over ``repeats`` calls, after ``warmup`` untimed calls."""
    return statistics.median(call_times_ms(call, warmup, repeats))


def matmul_gflops(size: int = 2048, warmup: int = 3, repeats: int = 10) -> float:
    """This CPU's float32 matrix-multiply rate, GFLOP/s: ``2 size^3`` FLOPs of one ``tf.linalg.matmul`` of two
    ``size x size`` matrices over its fastest of ``repeats`` calls (a ceiling: the fastest call is the one least
    slowed by other work), with TensorFlow's default threads (all cores): the practical limit to set a network's
    attained rate against."""
    import tensorflow as tf

    a, b = (tf.random.stateless_normal((size, size), seed=(0, i)) for i in range(2))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    return 2 * size**3 / (min(call_times_ms(lambda: product().numpy(), warmup, repeats)) * 1e6)


def _points(result) -> np.ndarray:
    """``(B, P, 3)`` camera mm: a result's joints, followed by the object's box corners for a hand-object loop."""
    if result.corners_xyz is None:
        return result.joints_xyz
    return np.concatenate([result.joints_xyz, result.corners_xyz], axis=1)


def _accuracy(runner, frames, reference) -> dict:
    """Mean 3D joint error (mm) against the frames' truth, and mean / max distance (mm) of the joints (and a
    hand-object loop's box corners) to ``reference``'s (:func:`_points`)."""
    nan = float("nan")
    if not frames:
        return {"mean_error_mm": nan, "vs_keras_mean_mm": nan, "vs_keras_max_mm": nan}
    result = runner.predict(np.stack([f.depth_mm for f in frames]), frames[0].intrinsics)
    distance = np.linalg.norm(_points(result) - reference, axis=-1) if reference is not None else np.full(1, nan)
    truth = np.stack([f.joints_xyz for f in frames])
    return {"mean_error_mm": float(np.linalg.norm(result.joints_xyz - truth, axis=-1).mean()),
            "vs_keras_mean_mm": float(distance.mean()), "vs_keras_max_mm": float(distance.max())}


def _speedups(ok) -> list[str]:
    """The fastest export's latency and its speed-up over each Keras baseline present in ``ok`` (rows by format)."""
    exported = ok.drop(index=list(KERAS_BASELINES), errors="ignore")
    if not len(exported):
        return []
    fastest = exported.latency_ms.idxmin()
    ms = exported.latency_ms[fastest]
    return [f"fastest export: {fastest} {ms:.2f} ms = {ok.latency_ms[base] / ms:.2f}x faster than {what} "
            f"({ok.latency_ms[base]:.2f} ms)" for base, what in KERAS_BASELINES.items() if base in ok.index]


def _precision_lines(ok) -> list[str]:
    """fp16 parity against :data:`FP16_MEAN_MM` and int8's accuracy loss, where those rows ran on frames."""
    lines = []
    if "tflite-fp16" in ok.index and np.isfinite(ok.vs_keras_mean_mm["tflite-fp16"]):
        mean = ok.vs_keras_mean_mm["tflite-fp16"]
        lines.append(f"tflite-fp16 parity (<= {FP16_MEAN_MM:g} mm mean from Keras): "
                     f"{'met' if mean <= FP16_MEAN_MM else 'NOT MET'} ({mean:.3f} mm)")
    if {"tflite-int8", "keras"} <= set(ok.index) and np.isfinite(ok.vs_keras_mean_mm["tflite-int8"]):
        row, keras_error = ok.loc["tflite-int8"], ok.mean_error_mm["keras"]
        lines.append(f"tflite-int8 accuracy loss: mean error {row.mean_error_mm:.2f} mm vs Keras {keras_error:.2f} mm "
                     f"({row.mean_error_mm - keras_error:+.2f} mm); joints {row.vs_keras_mean_mm:.2f} mm mean, "
                     f"{row.vs_keras_max_mm:.2f} mm max from Keras'")
    return lines


def iteration_share(ms, iterations: int) -> float:
    """What ``iterations`` x (synthesizer + updater) add to the predictor's latency, as a fraction; ``ms`` maps
    network name to latency (any unit)."""
    return iterations * (ms["synthesizer"] + ms["updater"]) / ms["predictor"]


def _budget_lines(networks, iterations: int) -> list[str]:
    lines = []
    for (sizes, runtime), group in networks.groupby(["sizes", "runtime"], sort=False):
        ms = group.set_index("network").latency_ms
        if {"predictor", "synthesizer", "updater"} <= set(ms.index):
            added = iteration_share(ms, iterations)
            lines.append(f"{sizes} networks, {runtime}: {iterations} updater iterations (synthesizer + updater) add "
                         f"{added * ms['predictor']:.2f} ms = {100 * added:.0f} % of the predictor's "
                         f"{ms['predictor']:.2f} ms (budget 25 %: {'met' if added <= 0.25 else 'not met'})")
    return lines


def summary(table, networks, iterations: int) -> str:
    """The acceptance figures: the fastest export's speed-up over each Keras baseline (named), fp16 parity and
    int8's accuracy loss, and per network size and runtime what the ``iterations`` updater iterations add to the
    predictor's own latency."""
    ok = table[table.status == "ok"].set_index("format")
    return "\n".join(_speedups(ok) + _precision_lines(ok) + _budget_lines(networks, iterations))


NETWORK_RUNTIMES = ("keras", "onnx")
"""Runtimes the per-network table times each network in: compiled Keras (``tf.function``) and ONNX Runtime."""


def _onnx_network(network, shape: tuple, threads: int | None):
    """``network`` converted by tf2onnx (opset :data:`handloop.export.formats.ONNX_OPSET`) as an ONNX Runtime session."""
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    from handloop.export.formats import ONNX_OPSET
    from handloop.export.runtime import onnx_options

    spec = (tf.TensorSpec(shape, tf.float32, name="x"),)
    call = tf.function(lambda x: network(x, training=False), input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(call, input_signature=spec, opset=ONNX_OPSET)
    return ort.InferenceSession(proto.SerializeToString(), onnx_options(threads), providers=["CPUExecutionProvider"])


def network_latency(networks, sizes: str, runtimes=NETWORK_RUNTIMES, warmup: int = 5, repeats: int = 30,
                    threads: int | None = None) -> list[dict]:
    """Median batch-1 latency (ms) of each Keras model in ``networks`` alone, in each of ``runtimes``.

    Rows: ``sizes`` (a label, e.g. the entry's name or ``paper``), runtime, network, input shape, latency_ms.
    """
    import tensorflow as tf

    rows = []
    for runtime in runtimes:
        for network in networks:
            shape = (1, *network.input_shape[1:])
            x = np.zeros(shape, np.float32)
            if runtime == "keras":
                graph = tf.function(lambda x, network=network: network(x, training=False))
                call = lambda x=tf.constant(x), graph=graph: graph(x)  # noqa: E731
            else:
                session = _onnx_network(network, shape, threads)
                call = lambda x=x, session=session: session.run(None, {"x": x})  # noqa: E731
            rows.append({"sizes": sizes, "runtime": runtime, "network": network.name, "input": str(shape),
                         "latency_ms": median_ms(call, warmup, repeats)})
    return rows


def _all_networks(model, paper: bool) -> list[tuple]:
    """``(sizes label, [networks])``: the entry's networks, and with ``paper`` the paper-size hand networks
    (random weights, the entry's joints and crop)."""
    import dataclasses

    import keras

    from handloop.zoo.config import paper as paper_config
    from handloop.zoo.loops import build_networks

    groups = [(model.name, [layer for layer in model.model.layers if isinstance(layer, keras.Model)])]
    if paper:
        config = dataclasses.replace(paper_config(), num_joints=model.config.num_joints, crop=model.config.crop)
        groups.append(("paper", list(build_networks(config).values())))
    return groups


class EagerModel(HandPoseModel):
    """The ``keras-eager`` row: a loaded entry's loop called eagerly, ``loop(inputs)``, with the zoo's ``predict``."""

    def __init__(self, loaded: HandPoseModel):  # no tf.function: that is the compiled row
        self.model, self.config, self.name, self.source = loaded.model, loaded.config, loaded.name, loaded.source

    def run_graph(self, depth, intrinsics):
        out = self.model({"depth": depth, "intrinsics": intrinsics}, training=False)
        return {k: np.asarray(v) for k, v in out.items()}


def bench(name: str, formats=BENCH_FORMATS, frames: int = 50, warmup: int = 5, repeats: int = 30,
          threads: int | None = None, paper: bool = True) -> tuple:
    """Measures zoo entry ``name`` in each format; returns (format table, per-network table) as DataFrames.

    Format rows: status, size (MB), mean 3D joint error (mm) on ``frames`` fresh synthetic frames (holding the
    entry's object for a hand-object loop), mean / max distance (mm) of its joints (and box corners) to the
    compiled Keras loop's on the same frames, median batch-1 latency (ms) and frames/s.
    Network rows: see :func:`network_latency`, for the entry's networks and with ``paper`` the paper-size ones.
    """
    import pandas as pd

    import handloop
    from handloop.recipes.synth.generate import fresh_frames
    from handloop.zoo.camera import CAMERAS
    from handloop.zoo.registry import find_entry

    model = handloop.load(name)
    config = model.config
    synth = CAMERAS["synth"]
    data = fresh_frames(frames, config.cube_mm, objects=config.object or "none") if frames and (
        config.height, config.width) == (synth.height, synth.width) else []
    one = (data[0].depth_mm if data else np.zeros((config.height, config.width), np.float32))[None, ..., None]
    if not data:
        one[0, config.height // 3:config.height // 2, config.width // 3:config.width // 2] = 500
    intr = (data[0].intrinsics if data else synth).as_array()[None]
    reference = (_points(model.predict(np.stack([f.depth_mm for f in data]), data[0].intrinsics, batch_size=1))
                 if data else None)  # at the artefacts' batch
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for fmt in formats:
            row = {"format": fmt, "status": "ok", "size_mb": float("nan"), **_accuracy(None, [], None),
                   "latency_ms": float("nan"), "fps": float("nan")}
            try:
                if fmt in KERAS_BASELINES:
                    runner = model if fmt == "keras" else EagerModel(model)
                    row["size_mb"] = find_entry(name).size_mb
                else:
                    base, _, precision = fmt.partition("-")
                    path = handloop.export.export(name, base, precision or None,
                                                  out=Path(scratch) / f"{fmt}{FORMATS[base].suffix}")
                    files = [path] if path.is_file() else list(path.rglob("*"))
                    row["size_mb"] = sum(p.stat().st_size for p in files if p.is_file()) / 1e6
                    runner = handloop.export.load(path, threads)
                row["latency_ms"] = median_ms(lambda: runner.run_graph(one, intr), warmup, repeats)
                row["fps"] = 1000 / row["latency_ms"]
                row.update(_accuracy(runner, data, reference))
            except (ValueError, ImportError, RuntimeError) as error:
                row["status"] = f"skipped: {str(error).splitlines()[0][:90]}"
            rows.append(row)
    table = pd.DataFrame(rows)
    networks = pd.DataFrame([row for sizes, nets in _all_networks(model, paper)
                             for row in network_latency(nets, sizes, NETWORK_RUNTIMES, warmup, repeats, threads)])
    return table, networks


def machine() -> str:
    """One line naming the machine, cores and thread setting."""
    return f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".replace("  ", " ")


def load_note() -> str:
    """This machine's 1-minute load average, flagged when other work may have slowed the timings (> 1.5)."""
    load = os.getloadavg()[0]
    return f"load average {load:.2f}" + (" (other work was running: timings are pessimistic)" if load > 1.5 else "")


def report(name: str, formats=BENCH_FORMATS, frames: int = 50, repeats: int = 30, threads: int | None = None,
           out: str | Path = "results", warmup: int = 5, paper: bool = True, force: bool = False) -> dict:
    """Runs :func:`bench` and writes ``bench.csv``, ``bench_networks.csv`` and ``bench.md`` under ``out``; refuses
    (FileExistsError, before any work) to replace them unless ``force``.

    Returns ``{"setup": one line (machine, threads, repeats), "formats": rows, "networks": rows, "summary": text,
    "files": the three paths written}``; a skipped format's numbers are NaN.
    """
    from handloop.zoo.fileio import refuse_existing, write_text
    from handloop.zoo.registry import find_entry

    out = Path(out)
    files = [out / "bench.csv", out / "bench_networks.csv", out / "bench.md"]
    refuse_existing(*files, force=force)
    before = load_note()
    config = find_entry(name).config
    table, networks = bench(name, formats, frames, warmup, repeats, threads, paper)
    setup = (f"{name}: batch 1, median of {repeats} calls after {warmup} warm-up calls; {machine()}; "
             f"before: {before}, after: {load_note()}; "
             f"threads {threads or 'TFLite 1, ONNX Runtime one per core'}; error on {frames} fresh synthetic frames; "
             f"vs_keras = distance of the joints{' and box corners' if config.object else ''} to the compiled "
             "Keras loop's on the same frames")
    text = summary(table, networks, config.iterations)
    write_text(files[0], table.to_csv(index=False))
    write_text(files[1], networks.to_csv(index=False))
    write_text(files[2], f"{setup}\n\n{table.to_markdown(index=False, floatfmt='.3f')}\n\n"
                                 f"{networks.to_markdown(index=False, floatfmt='.2f')}\n\n{text}\n")
    return {"setup": setup, "formats": table.to_dict(orient="records"),
            "networks": networks.to_dict(orient="records"), "summary": text, "files": [str(p) for p in files]}
