"""Learning curves of a recipe's stages: each network's validation metric against images seen and training time.

    python benchmarks/plot_curves.py --recipe synth-hand-lite

For each stage the recipe trains (one taken from another entry is named, not drawn), reads its validation history
from the recipe's finished-stages folder (``<stage>.history.csv``),
or, for a stage still training, from its run folder (``<run_dir>/<stage>/history.csv``; the synthesizer's from
each resolution's run), and draws ``curves_<recipe>_<stage>.png`` under ``results/``: the headline validation
metric (and the training loss, right axis) against millions of images seen, and the same metric against hours of
training, one line per run (the synthesizer's resolutions; the updater's iterations as their own lines). Prints
each stage's last row so a flat tail (converged) or a falling one (not yet) can be read off.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HEADLINES = {
    "localizer": ("centre_mm", "mean centre error on validation frames, mm"),
    "predictor": ("joints_mm", "mean 3D joint error on validation crops, mm"),
    "synthesizer": ("silhouette_iou", "silhouette IoU of the true pose's image"),
    "updater": ("joints_mm", "mean 3D joint error on validation crops, mm"),
    "object_localizer": ("centre_mm", "mean object-centre error on validation frames, mm"),
    "object_predictor": ("corners_mm", "mean box-corner error on validation crops, mm"),
    "object_updater": ("corners_mm", "mean box-corner error on validation crops, mm"),
}
"""Per stage, the validation column drawn and its axis label."""


def stage_history(recipe, stage: str):
    """The validation rows of ``stage`` (a pandas DataFrame with a ``run`` column), finished or in progress; None
    when it has not trained an epoch yet."""
    import pandas as pd

    from handloop.recipes.train.trainer import HISTORY

    finished = recipe.finished_dir / f"{stage}.history.csv"
    if finished.is_file():
        return pd.read_csv(finished)
    runs = sorted((recipe.run_dir / stage).glob(f"**/{HISTORY}"), key=lambda p: (len(p.parent.name), p.parent.name))
    frames = [pd.read_csv(path).assign(run=path.parent.name) for path in runs]
    return pd.concat(frames, ignore_index=True) if frames else None


def plot_stage(history, stage: str, title: str, path: Path) -> None:
    """Draws one stage's curves (see the module docstring) into the PNG ``path``."""
    import matplotlib.pyplot as plt

    metric, label = HEADLINES[stage]
    runs = list(dict.fromkeys(history["run"]))
    offset_images = offset_seconds = 0.0
    fig, (by_images, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    loss_axis = by_images.twinx()
    for k, run in enumerate(runs):
        rows = history[history["run"] == run]
        images = (rows["images"] + offset_images) / 1e6
        hours = (rows["seconds"] + offset_seconds) / 3600
        name = run if len(runs) > 1 else stage
        columns = sorted(c for c in rows if c.startswith("iteration_")) if stage == "updater" else [metric]
        for column in columns:
            style = dict(marker="o", markersize=3, label=f"{name}: {column}" if len(columns) > 1 else name)
            by_images.plot(images, rows[column], **style)
            by_time.plot(hours, rows[column], **style)
        loss_axis.plot(images, rows["loss"], color="0.6", linestyle=":", label="training loss" if k == 0 else None)
        offset_images, offset_seconds = float(images.iloc[-1] * 1e6), float(hours.iloc[-1] * 3600)
    loss_axis.set_yscale("log")
    loss_axis.set_ylabel("training loss (log)", color="0.4")
    for axis, xlabel in ((by_images, "images seen, millions"), (by_time, "training time, hours")):
        axis.set_xlabel(xlabel)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    handles = [h for axis in (by_images, loss_axis) for h in axis.get_legend_handles_labels()[0]]
    by_images.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="best")
    fig.suptitle(f"{title}: {stage}, {metric} {history[metric].iloc[-1]:.3g} after {offset_images / 1e6:.2f} M images, "
                 f"{offset_seconds / 3600:.2f} h (validation in inference mode after each epoch)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from handloop.zoo.fileio import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-lite", help="recipe YAML or shipped name")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override, e.g. --set stages_dir=DIR")
    parser.add_argument("--workdir", help="the runs' folder, if not the recipe's (default: the user cache)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    from handloop.recipes.config import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.workdir:
        recipe.workdir = args.workdir
    from handloop.recipes.train.run import stages

    for stage in stages(recipe.model):
        taken = recipe.stage(stage).from_entry
        if taken:
            print(f"{stage}: taken from zoo entry {taken} (its recipe's curves are that entry's)")
            continue
        history = stage_history(recipe, stage)
        if history is None:
            print(f"{stage}: no validation history yet")
            continue
        path = Path(args.out) / f"curves_{recipe.name}_{stage}.png"
        plot_stage(history, stage, recipe.name, path)
        last = history.iloc[-1]
        print(f"{stage}: {path} ({len(history)} epochs; last: "
              + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("run", "epoch")) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
