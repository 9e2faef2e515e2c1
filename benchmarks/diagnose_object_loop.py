"""Where the hand-object loop's error comes from: each source measured apart on the recipe's test frames.

    python benchmarks/diagnose_object_loop.py --recipe synth-hand-object-lite

From the recipe's finished stages, on the frames of its test split that hold its object (unseen subjects), cropped
as the loop crops them (no augmentation), measures:

1. **the scene localizers**: mean and RMS distance from their hand and object centres to the true ones, mm;
2. **the updaters**, run as the loop runs them from the predictors' poses (each compares its crop with the merged
   image of its candidate and of the other entity where that entity's predictor puts it): error after each
   iteration with the crops centred on the true centres, and moved by the localizers' own errors (the recipe's
   ``<localizer>.errors.npy``, measured on the validation split), as the loop centres them; the difference between
   the two is the localizers' share;
3. **the synthesizer** on hand-object frames: silhouette IoU of the true pose's image against the hand crop, alone
   and merged with the object ray-cast in its true pose (the image an updater compares with the input when both
   poses are right; the rest is the synthesizer's or the renderer's mismatch).

Writes ``diagnose_<recipe>.md`` (the tables, with the command and the load) and ``diagnose_<recipe>.png``: for a
few test frames, what each updater sees at its first iteration (input crop, merged image of the predictors' poses,
their difference), beside one training example of the same stage (input crop and the merged image of a pose drawn
from its training set T_D), on one depth scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

ROWS = 3
"""Test frames drawn in the figure, and training examples beside them."""


def _iou(a, b) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-object-lite", help="hand-object recipe YAML or shipped name")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override, e.g. --set data.test=DIR")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from handloop.recipes.config import load_recipe
    from handloop.recipes.records import frames_dataset
    from handloop.recipes.train import object_tasks
    from handloop.recipes.train.run import load_network
    from handloop.recipes.train.tasks import FOREGROUND
    from handloop.zoo.fileio import write_text

    recipe = load_recipe(args.recipe, args.overrides)
    config = recipe.model
    if not config.object:
        raise SystemExit(f"{args.recipe}: not a hand-object recipe (model.object is not set)")
    started = time.time()
    nets = {name: load_network(recipe, name, config) for name in
            ("localizer", "object_localizer", "predictor", "object_predictor", "synthesizer", "updater",
             "object_updater")}
    test = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, val=recipe.data.test))

    localizers = []
    for name, task_class in (("localizer", object_tasks.SceneLocalizerTask),
                             ("object_localizer", object_tasks.ObjectLocalizerTask)):
        errors = task_class(test, None, config).center_errors_mm(nets[name])
        localizers.append({"localizer": name, "frames": len(errors),
                           "mean_mm": float(np.linalg.norm(errors, axis=-1).mean()),
                           "rms_per_axis_mm": float(np.sqrt(np.mean(errors**2, axis=0)).mean())})
    hand = object_tasks.HandObjectUpdaterTask(test, None, config, nets["predictor"], nets["synthesizer"],
                                              nets["object_predictor"])
    obj = object_tasks.ObjectUpdaterTask(test, None, config, nets["object_predictor"], nets["synthesizer"],
                                         nets["predictor"])
    updaters = []
    for label, task, model in (("hand joints", hand, nets["updater"]), ("object corners", obj,
                                                                           nets["object_updater"])):
        for centred, moved in (("true centres", False), ("localizers' errors", True)):
            metrics = task.validate(model, center_errors=moved)
            updaters.append({"error": label, "crops centred on": centred,
                             **{f"iteration {k}" if k else "predictor": metrics[f"iteration_{k}_mm"]
                                for k in range(config.iterations + 1)}})

    alone, merged = [], []
    for batch in hand.validation_batches(center_errors=False):
        image = nets["synthesizer"](batch["pose"], training=False)
        scene = tf.minimum(object_tasks.hand_layer(image), hand.object_image(batch["corners"], batch, "center_uvd"))
        seen = batch["crop"].numpy() < FOREGROUND
        alone += [_iou(s, i) for s, i in zip(seen, image.numpy() < FOREGROUND)]
        merged += [_iou(s, i) for s, i in zip(seen, scene.numpy() < FOREGROUND)]
    synthesizer = {"frames": len(alone), "iou_hand_alone": float(np.mean(alone)),
                   "iou_merged_with_true_object": float(np.mean(merged))}

    frames = frames_dataset(recipe.data.train, windowed=True)
    training = (object_tasks.HandObjectUpdaterTask(recipe, frames, config, nets["predictor"], nets["synthesizer"],
                                                   nets["object_predictor"]),
                object_tasks.ObjectUpdaterTask(recipe, frames, config, nets["object_predictor"], nets["synthesizer"],
                                               nets["predictor"]))
    figure = _figure(recipe.name, (hand, obj), training, nets, config.cube_mm)
    out = Path(args.out)
    figure_path = out / f"diagnose_{recipe.name}.png"
    from handloop.zoo.draw import save_figure

    save_figure(figure, figure_path)
    load = os.getloadavg()[0]
    text = [f"# Diagnosis of {recipe.name} on its test split ({recipe.data.test})", "",
            f"`python benchmarks/diagnose_object_loop.py --recipe {args.recipe}`; "
            f"{time.time() - started:.0f} s, load average {load:.1f} at the end.", "",
            "## Scene localizers (distance to the true centre)", "",
            pd.DataFrame(localizers).to_markdown(index=False, floatfmt=".2f"), "",
            "## Updaters: mean error after each iteration, mm", "",
            pd.DataFrame(updaters).to_markdown(index=False, floatfmt=".2f"), "",
            "## Synthesizer on hand-object frames (silhouette IoU of the true pose's image with the hand crop)", "",
            pd.DataFrame([synthesizer]).to_markdown(index=False, floatfmt=".3f"), "",
            f"![what each updater sees](diagnose_{recipe.name}.png)", ""]
    write_text(out / f"diagnose_{recipe.name}.md", "\n".join(text))
    print("\n".join(text))
    print(f"wrote {out / f'diagnose_{recipe.name}.md'} and {figure_path}")
    return 0


def _figure(name, tests, trainings, nets, cube_mm):
    """Rows of what each updater compares at iteration 1 on test frames (``tests``: the two updater tasks on the
    test split), then on training examples (``trainings``: the same on the training frames; the T_D pose is the
    truth, the predictor's pose or a Gaussian copy of either, as in its first epochs)."""
    import matplotlib.pyplot as plt
    import numpy as np

    half = cube_mm / 2
    rows = []
    for label, task, train in zip(("hand updater", "object updater"), tests, trainings):
        batch = task.validation_batches()[0]
        start = task.settle(batch, task.predictor(batch[task.crop_key], training=False))
        image = task.image(batch, start).numpy()
        for i in range(ROWS):
            rows.append((f"{label}\ntest frame {i + 1}", batch[task.crop_key].numpy()[i], image[i]))
        batch = next(iter(train.build_inputs(ROWS)))
        image = train.image(batch, train.candidates(nets[train.name], batch)).numpy()
        for i in range(ROWS):
            rows.append((f"{label}\ntraining example {i + 1}", batch[task.crop_key].numpy()[i], image[i]))
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.5, 2.3 * len(rows) + 1.2), squeeze=False,
                             layout="constrained")
    for (label, crop, image), row in zip(rows, axes):
        panels = [(crop, "input crop"), (image, "merged image of the pose it starts from"),
                  (np.abs(crop - image), "|difference|")]
        for ax, (values, title) in zip(row, panels):
            if title == "|difference|":
                shown_diff = ax.imshow(values[..., 0] * half, cmap="magma", vmin=0, vmax=half / 2)
            else:
                shown = ax.imshow(np.where(values < 1, values * half, np.nan)[..., 0], cmap="viridis_r",
                                  vmin=-half, vmax=half)
                ax.set_facecolor("black")
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label, fontsize=8)
    fig.colorbar(shown, ax=axes[:, :2].ravel().tolist(), location="bottom", shrink=0.8,
                 label="depth about the crop centre, mm (near is negative; background black)")
    fig.colorbar(shown_diff, ax=axes[:, 2].tolist(), location="bottom", label="|difference|, mm")
    fig.suptitle(f"{name}: what each updater compares at its first iteration (test frames of unseen subjects)\n"
                 "and in training (poses drawn from T_D)", fontsize=10)
    return fig


if __name__ == "__main__":
    raise SystemExit(main())
