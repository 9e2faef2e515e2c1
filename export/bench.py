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


def _error_mm(model, frames) -> float:
    if not frames:
        return float("nan")
    prediction = model.predict(np.stack([f.depth_mm for f in frames]), frames[0].intrinsics)
    truth = np.stack([f.joints_xyz for f in frames])
    return float(np.linalg.norm(prediction.joints_xyz - truth, axis=-1).mean())


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
    """Measures zoo entry ``name`` in each format; returns (format table, per-network table) as DataFrames."""
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
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for fmt in formats:
            row = {"format": fmt, "status": "ok", "size_mb": float("nan"), "mean_error_mm": float("nan"),
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
                row["mean_error_mm"] = _error_mm(runner, data)
            except (ValueError, ImportError, RuntimeError) as error:
                row["status"] = f"skipped: {str(error).splitlines()[0][:90]}"
            rows.append(row)
    table = pd.DataFrame(rows)
    networks = pd.DataFrame(network_latency(model, warmup, repeats))
    return table, networks


def machine() -> str:
    """One line naming the machine, cores and thread setting."""
    return f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores".replace("  ", " ")
