"""``handloop bench``: each format's size, accuracy on fresh synthetic frames, and batch-1 latency (Ultralytics-style).

Latency is the median of ``repeats`` single-frame calls after ``warmup`` calls, at batch 1, on this machine's CPU
with the thread count stated in the output. The Keras row is the compiled path (``tf.function``), never eager.
The per-network rows time each network alone (compiled Keras, batch 1) like the paper's runtime paragraph.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_FORMATS = ("keras", "savedmodel", "tflite", "onnx", "tflite-fp16", "tflite-int8", "tensorrt")


def _median_ms(call, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _accuracy(runner, frames, reference) -> dict:
    """Mean 3D error (mm) against the frames' truth, and mean / max joint distance (mm) to ``reference``'s joints."""
    nan = float("nan")
    if not frames:
        return {"mean_error_mm": nan, "vs_keras_mean_mm": nan, "vs_keras_max_mm": nan}
    joints = runner.predict(np.stack([f.depth_mm for f in frames]), frames[0].intrinsics).joints_xyz
    distance = np.linalg.norm(joints - reference, axis=-1) if reference is not None else np.full(1, nan)
    return {"mean_error_mm": float(np.linalg.norm(joints - np.stack([f.joints_xyz for f in frames]), axis=-1).mean()),
            "vs_keras_mean_mm": float(distance.mean()), "vs_keras_max_mm": float(distance.max())}


def summary(table, networks, iterations: int) -> str:
    """The two acceptance figures: fastest export's speed-up over compiled Keras, and what the updater iterations
    (synthesizer + updater, ``iterations`` times) add to the predictor's own latency."""
    ok = table[table.status == "ok"].set_index("format")
    lines = []
    exported = ok.drop(index="keras", errors="ignore")
    if "keras" in ok.index and len(exported):
        fastest = exported.latency_ms.idxmin()
        lines.append(f"fastest export: {fastest} {exported.latency_ms[fastest]:.2f} ms, "
                     f"{ok.latency_ms['keras'] / exported.latency_ms[fastest]:.2f}x the compiled Keras call "
                     f"({ok.latency_ms['keras']:.2f} ms)")
    ms = networks.set_index("network").latency_ms
    if {"predictor", "synthesizer", "updater"} <= set(ms.index):
        added = iterations * (ms["synthesizer"] + ms["updater"])
        lines.append(f"{iterations} updater iterations (synthesizer + updater) add {added:.2f} ms = "
                     f"{100 * added / ms['predictor']:.0f} % of the predictor's {ms['predictor']:.2f} ms")
    return "\n".join(lines)


def network_latency(model, warmup: int = 5, repeats: int = 30) -> list[dict]:
    """Median batch-1 latency (ms) of each network of a loaded zoo model, compiled Keras."""
    import keras
    import tensorflow as tf

    rows = []
    for layer in model.model.layers:
        if not isinstance(layer, keras.Model):
            continue
        shape = (1, *layer.input_shape[1:])
        x = tf.zeros(shape)
        call = tf.function(lambda x=x, layer=layer: layer(x, training=False))
        rows.append({"network": layer.name, "input": str(shape),
                     "latency_ms": _median_ms(lambda: call(), warmup, repeats)})
    return rows


def bench(name: str, formats=BENCH_FORMATS, frames: int = 50, warmup: int = 5, repeats: int = 30,
          threads: int | None = None) -> tuple:
    """Measures zoo entry ``name`` in each format; returns (format table, per-network table) as DataFrames.

    Format rows: status, size (MB), mean 3D error (mm) on ``frames`` fresh synthetic frames, mean / max distance
    (mm) of its joints to the Keras loop's on the same frames, median batch-1 latency (ms) and frames/s.
    """
    import pandas as pd

    import export
    import export.formats
    import zoo
    from recipes.demo import fresh_frames
    from zoo.camera import CAMERAS
    from zoo.registry import find_entry

    model = zoo.load(name)
    config = model.config
    synth = CAMERAS["synth"]
    data = fresh_frames(frames, config.cube_mm) if frames and (config.height, config.width) == (
        synth.height, synth.width) else []
    one = (data[0].depth_mm if data else np.zeros((config.height, config.width), np.float32))[None, ..., None]
    if not data:
        one[0, config.height // 3:config.height // 2, config.width // 3:config.width // 2] = 500
    intr = (data[0].intrinsics if data else synth).as_array()[None]
    reference = (model.predict(np.stack([f.depth_mm for f in data]), data[0].intrinsics, batch_size=1).joints_xyz
                 if data else None)  # at the artefacts' batch
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for fmt in formats:
            row = {"format": fmt, "status": "ok", "size_mb": float("nan"), **_accuracy(None, [], None),
                   "latency_ms": float("nan"), "fps": float("nan")}
            try:
                if fmt == "keras":
                    runner = model
                    row["size_mb"] = find_entry(name).size_mb
                else:
                    base, _, precision = fmt.partition("-")
                    path = export.export(name, base, precision or ("fp16" if base == "tensorrt" else "fp32"),
                                         out=Path(scratch) / f"{fmt}{export.formats.FORMATS[base].suffix}")
                    files = [path] if path.is_file() else list(path.rglob("*"))
                    row["size_mb"] = sum(p.stat().st_size for p in files if p.is_file()) / 1e6
                    runner = export.load(path, threads)
                row["latency_ms"] = _median_ms(lambda: runner.run_graph(one, intr), warmup, repeats)
                row["fps"] = 1000 / row["latency_ms"]
                row.update(_accuracy(runner, data, reference))
            except (ValueError, ImportError, RuntimeError) as error:
                row["status"] = f"skipped: {str(error).splitlines()[0][:90]}"
            rows.append(row)
    table = pd.DataFrame(rows)
    networks = pd.DataFrame(network_latency(model, warmup, repeats))
    return table, networks


def machine() -> str:
    """One line naming the machine, cores and thread setting."""
    return f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".replace("  ", " ")


def report(name: str, formats=BENCH_FORMATS, frames: int = 50, repeats: int = 30, threads: int | None = None,
           out: str | Path = "results", warmup: int = 5) -> dict:
    """Runs :func:`bench` and writes ``bench.csv``, ``bench_networks.csv`` and ``bench.md`` under ``out``.

    Returns ``{"setup": one line (machine, threads, repeats), "formats": rows, "networks": rows, "summary": text}``.
    """
    from zoo.fileio import write_text
    from zoo.registry import find_entry

    table, networks = bench(name, formats, frames, warmup, repeats, threads)
    setup = (f"{name}: batch 1, median of {repeats} calls after {warmup} warm-up calls; {machine()}; "
             f"threads {threads or 'library default'}; error on {frames} fresh synthetic frames; "
             f"vs_keras = joint distance to the compiled Keras loop on the same frames")
    text = summary(table, networks, find_entry(name).config.iterations)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "bench.csv", index=False)
    networks.to_csv(out / "bench_networks.csv", index=False)
    write_text(out / "bench.md", f"{setup}\n\n{table.to_markdown(index=False, floatfmt='.3f')}\n\n"
                                 f"{networks.to_markdown(index=False, floatfmt='.2f')}\n\n{text}\n")
    return {"setup": setup, "formats": table.to_dict(orient="records"),
            "networks": networks.to_dict(orient="records"), "summary": text}
