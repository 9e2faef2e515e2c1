"""Throughput of the input pipeline alone and of each network's training step, images/s, on this machine.

    python benchmarks/bench_training.py --recipe synth-hand-lite --steps 30

Each row: median images/s over ``--repeats`` timed runs of ``--steps`` batches after one warm-up run, at the
recipe's batch size, with TensorFlow's default thread pools on this machine's cores. The pipeline row reads,
decodes, augments and crops frames from the recipe's training shards without training anything; the pipeline
must outrun every training row so that training never waits for data. Writes CSV and markdown under results/.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-lite")
    parser.add_argument("--steps", type=int, default=30, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras
    import pandas as pd
    import tensorflow as tf

    from recipes.config import load_recipe
    from recipes.train import tasks
    from recipes.train.run import prepare_frames
    from zoo import networks
    from zoo.config import LoopConfig

    recipe = load_recipe(args.recipe)
    config = LoopConfig.from_dict(recipe.model)
    frames = prepare_frames(recipe, "train")
    batch = recipe.stage("predictor").batch_size
    rows = []

    pipeline = iter(tasks.PredictorTask(recipe, frames, config).build_inputs(batch))

    def read(steps):
        for _ in range(steps):
            next(pipeline)

    rows.append({"loop": "input pipeline (read, decode, augment, crop)", "images_per_s": _rate(read, args.steps, batch,
                                                                                             args.repeats)})
    predictor = networks.build_predictor(config.predictor, config.num_joints)
    synthesizer = networks.build_synthesizer(config.synthesizer, config.num_joints)
    candidates = {
        "localizer": tasks.LocalizerTask(recipe, frames, config),
        "predictor": tasks.PredictorTask(recipe, frames, config),
        "synthesizer (128 px)": tasks.SynthesizerTask(recipe, frames, config, 4),
        "updater (with T_D draws)": tasks.UpdaterTask(recipe, frames, config, predictor, synthesizer),
    }
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
              f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__} default threads\n\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "training_throughput.csv", index=False)
    (out / "training_throughput.md").write_text(header + table.to_markdown(index=False, floatfmt=".0f") + "\n")
    print(header + table.to_string(index=False, float_format=lambda x: f"{x:.0f}"))


if __name__ == "__main__":
    main()
