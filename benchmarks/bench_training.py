"""Throughput of the input pipeline alone and of each network's training step, images/s, on this machine.

    python benchmarks/bench_training.py --recipe synth-hand-lite --steps 30
    python benchmarks/bench_training.py --recipe synth-hand-object-lite

Each row: median images/s over ``--repeats`` timed runs of ``--steps`` batches after one warm-up run, at the
recipe's batch size, with TensorFlow's default thread pools on this machine's cores. The pipeline row reads,
decodes, augments and crops frames from the recipe's training shards without training anything (a hand-object
recipe has one per set of crops its tasks read), with 1 and 3 differently
augmented views per decoded frame (``augment.views_per_frame``); the pipeline must
outrun every training row that reads it so that training never waits for data. Networks have random weights.
Writes ``training_throughput_<recipe>.csv`` and ``.md`` under results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from pathlib import Path


def _rate(run, steps: int, batch: int, repeats: int) -> float:
    run(1)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        rates.append(steps * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def _tasks(recipe, frames, config) -> dict:
    """The recipe's training tasks by row name, with random-weight networks where a task needs trained ones."""
    from handloop.recipes.train import object_tasks, tasks
    from handloop.zoo.loops import build_network

    def net(name):
        return build_network(config, name)

    rows = {"predictor": tasks.PredictorTask(recipe, frames, config),
            "synthesizer (128 px)": tasks.SynthesizerTask(recipe, frames, config, 4)}
    if not config.object:
        return {"localizer": tasks.LocalizerTask(recipe, frames, config), **rows,
                "updater (with T_D draws)": tasks.UpdaterTask(recipe, frames, config, net("predictor"),
                                                              net("synthesizer"))}
    return {
        "localizer (scene crop)": object_tasks.SceneLocalizerTask(recipe, frames, config, "localizer"),
        "object localizer (scene crop)": object_tasks.SceneLocalizerTask(recipe, frames, config, "object_localizer"),
        **rows,
        "object predictor": object_tasks.ObjectPredictorTask(recipe, frames, config),
        "updater (merged image, T_D draws)": object_tasks.HandObjectUpdaterTask(
            recipe, frames, config, net("predictor"), net("synthesizer"), net("object_predictor")),
        "object updater (merged image, T_D draws)": object_tasks.ObjectUpdaterTask(
            recipe, frames, config, net("object_predictor"), net("synthesizer"), net("predictor")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-lite")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override, e.g. --set data.generate.train.frames=2000 --set data.train=DIR")
    parser.add_argument("--steps", type=int, default=30, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras
    import pandas as pd
    import tensorflow as tf

    from handloop.recipes.config import load_recipe
    from handloop.recipes.train.run import prepare_frames
    from handloop.zoo import networks
    from handloop.zoo.config import LoopConfig

    recipe = load_recipe(args.recipe, args.overrides)
    config = LoopConfig.from_dict(recipe.model)
    frames = prepare_frames(recipe, "train")
    batch = recipe.stage("predictor").batch_size
    candidates = _tasks(recipe, frames, config)
    readers = {"input pipeline (read, decode, augment, crop)": candidates["predictor"]}
    if config.object:
        readers.update({"scene crop pipeline (localizers)": candidates["localizer (scene crop)"],
                        "object crop pipeline (object predictor)": candidates["object predictor"],
                        "hand + object crops pipeline (updaters)": candidates["updater (merged image, T_D draws)"]})
    rows = []
    for name, task in readers.items():
        for views in (1, 3):
            task.recipe = dataclasses.replace(recipe, augment=dataclasses.replace(recipe.augment,
                                                                                  views_per_frame=views))
            pipeline = iter(task.build_inputs(batch))

            def read(steps, pipeline=pipeline):
                for _ in range(steps):
                    next(pipeline)

            rows.append({"loop": f"{name}, {views} view{'s' * (views > 1)} per frame",
                         "images_per_s": _rate(read, args.steps, batch, args.repeats)})
        task.recipe = recipe
    for name, task in candidates.items():
        model = networks.build_predictor(config.predictor, config.num_joints) if name == "predictor" \
            else task.build_model()  # (the predictor task would fit its PCA first: not part of a training step)
        optimizer = keras.optimizers.Adam()
        fixed = next(iter(task.build_inputs(batch)))  # train on one batch: this row times the network, not the data

        @tf.function
        def step(batch_data, task=task, model=model, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(task.per_example_loss(model, batch_data))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        def train(steps, step=step, fixed=fixed):
            for _ in range(steps):
                step(fixed)

        rows.append({"loop": f"train {name}", "images_per_s": _rate(train, args.steps, batch, args.repeats)})
    table = pd.DataFrame(rows)
    header = (f"{recipe.name}: batch {batch}, median of {args.repeats} runs of {args.steps} batches after a warm-up; "
              f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__} default threads; "
              f"load average {os.getloadavg()[0]:.1f} at the end\n\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"training_throughput_{recipe.name}.csv", index=False)
    (out / f"training_throughput_{recipe.name}.md").write_text(
        header + table.to_markdown(index=False, floatfmt=".0f") + "\n")
    print(header + table.to_string(index=False, float_format=lambda x: f"{x:.0f}"))


if __name__ == "__main__":
    main()
