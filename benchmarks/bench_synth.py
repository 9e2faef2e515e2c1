"""Measures SynthHands: frames/s hand only and with an object, and resident memory as the frame count grows.

Usage: python benchmarks/bench_synth.py [--frames N] [--workers K]

Each row renders ``--frames`` frames through the generator as ``handloop data synth`` does (sampling, ray
casting, sensor model, record encoding, TFRecord writing) into a temporary folder; the first shard's compilation is
excluded by warming up first. Peak resident memory (ru_maxrss of this process and of the workers) is read after
each row: generation streams frames to disk, so it stays flat whatever the frame count. Writes
results/bench_synth.csv and .md and prints the table with the threads and batch it ran with.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    """Peak resident memory of this process and of its finished children, MB (Linux reports kB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def measure(objects: str, frames: int, workers: int) -> dict:
    """Generates ``frames`` frames with ``objects`` after a warm-up shard; returns one result row."""
    from recipes.synth.generate import SynthSettings, generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(SynthSettings(frames=32, seed=99, objects=objects, shard_size=32), Path(tmp) / "warm",
                 progress=False)
        settings = SynthSettings(frames=frames, seed=1, objects=objects, shard_size=max(1, frames // (4 * workers)))
        wall, cpu = time.perf_counter(), time.process_time()
        paths = generate(settings, Path(tmp) / "run", workers=workers, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for p in paths)
    return {"objects": objects, "frames": frames, "workers": workers, "seconds": round(wall, 2),
            "frames_per_s": round(frames / wall, 1), "cpu_s_per_frame_ms": round(1000 * cpu / frames, 1),
            "kb_per_frame": round(size / frames / 1024, 1), "peak_rss_mb": round(_peak_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames per row")
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument("--out", default=str(ROOT / "results"), help="folder for bench_synth.csv/.md")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from recipes.synth.scene import BATCH, CHUNK

    rows = [measure(objects, n, args.workers) for objects in ("none", "cuboid")
            for n in (args.frames // 4, args.frames)]
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "bench_synth.csv", index=False)
    (out / "bench_synth.md").write_text(table.to_markdown(index=False) + "\n")
    threads = (f"TF intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "
               f"inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'auto'}, "
               f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(table.to_string(index=False))
    print(f"batch {BATCH} frames, {CHUNK} rays per cast; {threads}; wrote {out / 'bench_synth.csv'}")


if __name__ == "__main__":
    main()
