"""The synthesizer's images of true poses beside the input crops they should match, for a few test frames.

    python benchmarks/synth_gallery.py --recipe synth-hand-lite --frames 6

Takes the recipe's finished synthesizer, crops the first ``--frames`` frames of its test split around their true
reference joint (as its validation does: no augmentation), renders each frame's true pose and draws one row per
frame: the input crop, the synthesized image and their absolute difference, depths in mm about the crop centre on
one colour scale (the background, +1 in the crop, left black), each row captioned with its silhouette IoU and its
mean absolute depth difference inside the hand. Writes ``synth_gallery_<recipe>.png`` under ``results/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-lite", help="recipe YAML or shipped name")
    parser.add_argument("--frames", type=int, default=6, help="test frames shown, one row each")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from handloop.recipes.config import load_recipe
    from handloop.recipes.train.run import load_network
    from handloop.recipes.train.tasks import FOREGROUND, SynthesizerTask
    from handloop.zoo.draw import save_figure

    recipe = load_recipe(args.recipe)
    config = recipe.model
    synthesizer = load_network(recipe, "synthesizer", config)
    test = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, val=recipe.data.test))
    task = SynthesizerTask(test, None, config)
    batch = task.validation_batches(center_errors=False)[0]
    count = min(args.frames, len(batch["pose"]))
    crops, poses, cubes = batch["crop"][:count], batch["pose"][:count], batch["cube"][:count].numpy()
    images = synthesizer(poses, training=False).numpy()
    crops = crops.numpy()
    half = cubes[:, None, None, None] / 2
    limit = float(np.max(half))
    fig, axes = plt.subplots(count, 3, figsize=(7.2, 2.4 * count + 1.2), squeeze=False, layout="constrained")
    shown = {}
    for row in range(count):
        truth, mine = crops[row] < FOREGROUND, images[row] < FOREGROUND
        iou = (truth & mine).sum() / max((truth | mine).sum(), 1)
        difference = np.abs(images[row] - crops[row]) * half[row]
        panels = [(np.where(crops[row] < 1, crops[row] * half[row], np.nan), "input crop", "viridis_r", -limit, limit),
                  (np.where(images[row] < 1, images[row] * half[row], np.nan), "synthesized (true pose)",
                   "viridis_r", -limit, limit),
                  (np.where(truth | mine, difference, np.nan), "|difference|", "magma", 0, limit / 3)]
        for ax, (image, title, cmap, low, high) in zip(axes[row], panels):
            shown[cmap] = ax.imshow(image[..., 0], cmap=cmap, vmin=low, vmax=high)
            ax.set_facecolor("black")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title if row == 0 else "", fontsize=9)
        mae = float(difference[truth].mean()) if truth.any() else float("nan")
        axes[row, 0].set_ylabel(f"frame {row}\nIoU {iou:.2f}, {mae:.1f} mm", fontsize=8)
    fig.colorbar(shown["viridis_r"], ax=axes[:, :2].ravel().tolist(), location="bottom", shrink=0.8,
                 label="depth about the crop centre, mm (near is negative; background black)")
    fig.colorbar(shown["magma"], ax=axes[:, 2].tolist(), location="bottom", label="|difference|, mm")
    fig.suptitle(f"{recipe.name}: synthesizer on test frames of unseen subjects", fontsize=10)
    path = Path(args.out) / f"synth_gallery_{recipe.name}.png"
    save_figure(fig, path)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
