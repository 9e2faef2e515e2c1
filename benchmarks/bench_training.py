"""Throughput of the input pipeline alone and of each network's training step, images/s, on this machine.

    python benchmarks/bench_training.py --recipe synth-hand-lite --steps 30
    python benchmarks/bench_training.py --recipe synth-hand-object-lite
    python benchmarks/bench_training.py --variants --steps 10   # float32 vs XLA vs bfloat16 per network

Each row: median images/s over ``--repeats`` timed runs of ``--steps`` batches after one warm-up run, at the
recipe's batch size, with TensorFlow's default thread pools on this machine's cores. Network rows train the way
the recipe's stage does (XLA where its ``jit_compile`` says so); with ``--variants`` every network is also timed
in float32 without XLA, with XLA, and with Keras' ``mixed_bfloat16`` policy (bfloat16 compute, float32 weights),
so the table shows what each option pays on this CPU. The pipeline row reads,
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


def _cpu_model() -> str:
    """The CPU's model name and its vector extensions that matter to TensorFlow (AVX-512, AMX, AVX2), from
    /proc/cpuinfo; the machine's architecture name elsewhere."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    wanted = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "avx2") if f in flags]
    return f"{name}, {' '.join(wanted) or 'no AVX2'}"


def _tasks(recipe, frames, config) -> dict:
    """The recipe's training tasks by network name (the full-size synthesizer for ``synthesizer``), with
    random-weight networks where a task needs trained ones."""
    from handloop.recipes.train.registry import task_class
    from handloop.recipes.train.run import stages
    from handloop.zoo.loops import build_network

    rows = {}
    for name in stages(config):
        task = task_class(config, name)
        rows[name] = task(recipe, frames, config, *(build_network(config, need) for need in task.needs))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="synth-hand-lite")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="recipe override, e.g. --set data.generate.train.frames=2000 --set data.train=DIR")
    parser.add_argument("--steps", type=int, default=30, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", action="store_true",
                        help="time every network in float32, float32 + XLA and mixed_bfloat16")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras
    import pandas as pd
    import tensorflow as tf

    from handloop.recipes.config import load_recipe
    from handloop.recipes.train.run import prepare_frames
    from handloop.zoo.loops import build_network

    recipe = load_recipe(args.recipe, args.overrides)
    config = recipe.model
    frames = prepare_frames(recipe, "train")
    batch = recipe.stage("predictor").batch_size
    candidates = _tasks(recipe, frames, config)
    readers = {"input pipeline (read, decode, augment, crop)": candidates["predictor"]}
    if config.object:
        readers.update({"scene crop pipeline (localizers)": candidates["localizer"],
                        "object crop pipeline (object predictor)": candidates["object_predictor"],
                        "hand + object crops pipeline (updaters)": candidates["updater"]})
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
        stage = recipe.stage(name)
        fixed = next(iter(task.build_inputs(batch)))  # train on one batch: this row times the network, not the data
        variants = {"as in the recipe": ("float32", stage.jit_compile)}
        if args.variants:
            variants = {"float32": ("float32", False), "float32 + XLA": ("float32", True),
                        "mixed_bfloat16": ("mixed_bfloat16", False), **variants}
        for variant, (policy, jit) in variants.items():
            keras.mixed_precision.set_global_policy(policy)
            model = build_network(config, name) if name == "predictor" \
                else task.build_model()  # (the predictor task would fit its PCA first: not part of a step)
            if policy != "float32":  # the losses compare with float32 targets
                model = keras.Model(model.inputs, keras.layers.Activation("linear", dtype="float32")(model.output))
            optimizer = keras.optimizers.Adam()

            @tf.function(jit_compile=jit)
            def step(batch_data, task=task, model=model, optimizer=optimizer):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.cast(task.per_example_loss(model, batch_data), tf.float32))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss

            def train(steps, step=step, fixed=fixed):
                for _ in range(steps):
                    step(fixed)

            label = f"train {name}" + (f", {variant}" if args.variants else "")
            rows.append({"loop": label, "images_per_s": _rate(train, args.steps, batch, args.repeats)})
        keras.mixed_precision.set_global_policy("float32")
    table = pd.DataFrame(rows)
    header = (f"{recipe.name}: batch {batch}, median of {args.repeats} runs of {args.steps} batches after a warm-up; "
              f"{_cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, TF {tf.__version__} default threads; "
              f"load average {os.getloadavg()[0]:.1f} at the end\n\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"training_throughput_{recipe.name}.csv", index=False)
    (out / f"training_throughput_{recipe.name}.md").write_text(
        header + table.to_markdown(index=False, floatfmt=".0f") + "\n")
    print(header + table.to_string(index=False, float_format=lambda x: f"{x:.0f}"))


if __name__ == "__main__":
    main()
