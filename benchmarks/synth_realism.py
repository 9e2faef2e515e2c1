"""Compares joint distances of SynthHands with the NYU test labels and writes the table and plot into the docs.

Usage: python benchmarks/synth_realism.py [--labels PATH] [--samples N] [--seed S]

Rewrites the part of docs/synthhands.md between the ``realism:begin`` and ``realism:end`` markers and
docs/synthhands_realism.png (see :mod:`handloop.recipes.synth.realism` for what is compared).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from handloop.recipes.synth import realism  # noqa: E402
from handloop.zoo.draw import save_figure  # noqa: E402
from handloop.zoo.fileio import write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "synthhands.md"
PLOT = ROOT / "docs" / "synthhands_realism.png"
LABELS = ROOT.parent / "shared" / "data" / "published" / "nyu_test_groundtruth_label.txt"
BEGIN, END = "<!-- realism:begin -->", "<!-- realism:end -->"


def plot(table, path: Path) -> None:
    """Horizontal ranges per distance: real 1st-99th percentile (thick) over synthetic min-max (thin), medians."""
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1))
    y = np.arange(len(table))[::-1]
    ax.hlines(y, table.synth_min, table.synth_max, color="#4363d8", lw=2, label="synthetic min-max")
    ax.hlines(y, table.real_p1, table.real_p99, color="#e6194b", lw=6, alpha=0.6, label="NYU test 1st-99th pct")
    ax.plot(table.synth_median, y, "o", color="#4363d8", ms=4)
    ax.plot(table.real_median, y, "|", color="black", ms=10, label="NYU median")
    ax.set_yticks(y, table.distance, fontsize=8)
    ax.set_xlabel("distance (mm)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=str(LABELS), help="NYU test labels (14 x u, v, d per line)")
    parser.add_argument("--samples", type=int, default=20000, help="synthetic hands to sample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    real = realism.load_nyu_labels(args.labels)
    table = realism.compare(real, realism.sample_nyu14(args.samples, args.seed))
    plot(table, PLOT)
    summary = (f"{int(table.covered.sum())} of {len(table)} distances covered; largest gap {table.gap_mm.max():.1f} mm "
               f"({len(real)} NYU test frames, {args.samples} synthetic hands, seed {args.seed}, "
               f"`python benchmarks/synth_realism.py`).")
    body = "\n".join([BEGIN, "", summary, "", table.round(1).to_markdown(index=False), "",
                      f"![NYU vs synthetic distances]({PLOT.name})", "", END])
    text = DOC.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    write_text(DOC, text[:start] + body + text[stop:])
    print(table.round(1).to_string(index=False))
    print(summary)


if __name__ == "__main__":
    main()
