"""Measures SynthHands: frames/s hand only and with an object, and resident memory as the frame count grows.

Usage: python benchmarks/bench_synth.py [--frames N] [--workers K]

Each speed row renders frames through the generator as ``handloop data synth`` does (sampling, ray casting,
sensor model, record encoding, TFRecord writing) into a temporary folder, after a warm-up that compiles the
caster in this process (workers compile their own, inside the timing). ``cpu_ms_per_frame`` counts this process and
its workers, so ``1000 / cpu_ms_per_frame`` is the rate one free core sustains. The memory rows stream
``--memory-frames`` frames in this process and read the resident set (``/proc/self/statm``) at quarters of the
run: generation keeps only one batch in memory, so it stays flat whatever the frame count. Writes
results/bench_synth.csv and .md and prints the tables with the threads and batch it ran with.
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


def _resident_mb() -> float:
    """Current resident memory of this process, MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_s() -> float:
    """CPU seconds of this process and of its reaped children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(objects: str, frames: int, workers: int) -> dict:
    """Generates ``frames`` frames with ``objects`` after a warm-up shard; returns one result row."""
    from handloop.recipes.synth.generate import SynthSettings, generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(SynthSettings(frames=32, seed=99, objects=objects, shard_size=32), Path(tmp) / "warm",
                 progress=False)
        settings = SynthSettings(frames=frames, seed=1, objects=objects, shard_size=max(1, frames // (4 * workers)))
        wall, cpu = time.perf_counter(), _cpu_s()
        paths = generate(settings, Path(tmp) / "run", workers=workers, progress=False)
        wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
        size = sum(p.stat().st_size for p in paths)
    return {"objects": objects, "frames": frames, "workers": workers, "seconds": round(wall, 2),
            "frames_per_s": round(frames / wall, 1), "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
            "kb_per_frame": round(size / frames / 1024, 1), "peak_rss_mb": round(_peak_mb())}


def measure_memory(objects: str, frames: int) -> dict:
    """Streams ``frames`` encoded frames in this process; resident MB at each quarter of the run."""
    from handloop.recipes.records import encode_frame
    from handloop.recipes.synth.generate import SynthSettings, shard_frames

    settings = SynthSettings(frames=frames, seed=3, objects=objects, shard_size=frames)
    marks = {frames * q // 4: f"rss_mb_at_{q}/4" for q in (1, 2, 3, 4)}
    row = {"objects": objects, "frames": frames}
    for count, frame in enumerate(shard_frames(settings, 0), 1):
        encode_frame(frame)
        if count in marks:
            row[marks[count]] = round(_resident_mb())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames per row")
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument("--memory-frames", type=int, default=2000, help="frames streamed by the memory row")
    parser.add_argument("--out", default=str(ROOT / "results"), help="folder for bench_synth.csv/.md")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from handloop.recipes.synth.scene import BATCH, CHUNK

    rows = [measure(objects, args.frames, args.workers) for objects in ("none", "cuboid")]
    table = pd.DataFrame(rows)
    memory = pd.DataFrame([measure_memory("mixed", args.memory_frames)])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "bench_synth.csv", index=False)
    memory.to_csv(out / "bench_synth_memory.csv", index=False)
    markdown = table.to_markdown(index=False) + "\n\n" + memory.to_markdown(index=False) + "\n"
    (out / "bench_synth.md").write_text(markdown)
    threads = (f"TF intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}, "
               f"inter-op {tf.config.threading.get_inter_op_parallelism_threads() or 'auto'}, "
               f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(table.to_string(index=False))
    print(memory.to_string(index=False))
    print(f"batch {BATCH} frames, {CHUNK} rays per cast; {threads}; wrote {out / 'bench_synth.csv'}")


if __name__ == "__main__":
    main()
