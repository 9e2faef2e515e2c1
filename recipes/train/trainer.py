"""One training loop for every network: ``tf.GradientTape`` under ``tf.function``, inside a ``tf.distribute`` strategy.

A :class:`Task` (as in TF Model Garden) owns what differs between networks: the model, the input batches, the
loss, its validation and any state of its own; :func:`fit` owns what is shared: seeded initial weights, the
optimizer and its schedule, distribution, progress bars, validation after every epoch (TensorBoard and a CSV),
and checkpoints within and after every epoch with exact resume (weights, optimizer slots, the data iterator's
position, the task's state, the epoch and the step within it). Dropout's seed state is checkpointed too, so a run
killed mid-epoch and resumed ends with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from handloop.recipes.config import StageConfig
from handloop.zoo.fileio import atomic_path, write_text


class Task:
    """What one network's training needs. Subclasses set ``name`` and implement the three builders.

    ``seed`` seeds the network's initial weights (and dropout), so two runs of a task give the same weights.
    """

    name = "task"
    seed = 0

    def build_model(self) -> keras.Model:
        """Returns the network to train (built inside the strategy's scope)."""
        raise NotImplementedError

    def build_inputs(self, batch_size: int) -> tf.data.Dataset:
        """Returns an endless dataset of global batches of ``batch_size``."""
        raise NotImplementedError

    def per_example_loss(self, model: keras.Model, batch: dict) -> tf.Tensor:
        """Returns the ``(B,)`` loss of each example of a (per-replica) batch."""
        raise NotImplementedError

    def validate(self, model: keras.Model) -> dict[str, float]:
        """Measures ``model`` in inference mode on held-out data after each epoch: ``{metric: value}`` in the
        network's own units (mm, IoU); the first metric is the stage's headline. None by default."""
        return {}

    def state(self) -> dict:
        """Trackable state of the task saved in its checkpoints (buffers, counters); none by default."""
        return {}

    def on_epoch_end(self, model: keras.Model, epoch: int) -> None:
        """Hook after each epoch (e.g. growing a training set); nothing by default."""

    def image_summaries(self, model: keras.Model, batch: dict) -> dict:
        """Images ``{name: (B, H, W, 1) in [0, 1]}`` to log to TensorBoard once per epoch; none by default."""
        return {}


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the trained model, the mean loss of each epoch, one row per epoch (``epoch``,
    ``images``, ``seconds`` of training so far, ``loss``, ``learning_rate`` and the task's validation metrics), and
    the final weights file."""

    model: keras.Model
    losses: list[float]
    history: list[dict]
    weights_path: Path


HISTORY = "history.csv"
"""Per-epoch rows of a stage's run, written in its workdir after every epoch."""


def _variables(model: keras.Model, optimizer) -> dict:
    return {"model": list(model.variables), "optimizer": list(optimizer.variables)}


def fit(task: Task, stage: StageConfig, workdir: str | Path, strategy: tf.distribute.Strategy | None = None,
        steps_per_epoch: int | None = None, progress: bool = True, stop_after_steps: int | None = None,
        checkpoint_seconds: float = 600.0) -> FitResult:
    """Trains ``task``'s network for ``stage.epochs`` epochs, resuming from ``workdir`` if it holds a checkpoint.

    The checkpoint (weights, optimizer slots, the data iterator's position, the task's state, the epoch, the step
    within it, its running loss, the training time so far and the history) is written at the end of every epoch and
    every ``checkpoint_seconds`` within one, so a killed run loses at most that much work and resumes exactly: it
    ends with the same weights as a run never interrupted.

    Args:
        task: the network's task.
        stage: epochs, batch size, learning rate and its per-epoch decay, XLA or not.
        workdir: folder for ``ckpt/`` (the latest save only), ``tb/`` (TensorBoard), :data:`HISTORY` and
            ``<name>.weights.h5``.
        strategy: a ``tf.distribute`` strategy; the default (single device) strategy when None.
        steps_per_epoch: batches per epoch (defaults to ``stage.steps_per_epoch``).
        progress: show a tqdm bar with rate and ETA.
        stop_after_steps: stop abruptly after this many steps of this call, as a crash would (tests resume).
        checkpoint_seconds: wall time between checkpoints within an epoch, seconds.
    Returns:
        :class:`FitResult`; the weights are also written (atomically) to ``workdir/<name>.weights.h5``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    workdir = Path(workdir)
    steps = steps_per_epoch or stage.steps_per_epoch
    if not steps:
        raise ValueError(f"stage {task.name!r} needs steps_per_epoch")
    if stage.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch size {stage.batch_size} does not split across "
                         f"{strategy.num_replicas_in_sync} replicas")
    with strategy.scope():
        keras.utils.set_random_seed(task.seed)
        model = task.build_model()
        schedule = keras.optimizers.schedules.ExponentialDecay(stage.learning_rate, steps, stage.decay, staircase=True)
        optimizer = keras.optimizers.Adam(schedule)
        optimizer.build(model.trainable_variables)
    progress_state = {  # plain (host) variables: the run's position, not replicated
        "epoch": tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch"),
        "step": tf.Variable(0, dtype=tf.int64, trainable=False, name="step"),
        "epoch_loss": tf.Variable(0.0, dtype=tf.float64, trainable=False, name="epoch_loss"),
        "seconds": tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds"),
        "history": tf.Variable("[]", dtype=tf.string, trainable=False, name="history"),
    }
    epoch, step_in_epoch, epoch_loss, seconds = (progress_state[k] for k in ("epoch", "step", "epoch_loss", "seconds"))
    iterator = iter(task.build_inputs(stage.batch_size))  # a plain iterator: checkpointable, unlike distributed ones
    checkpoint = tf.train.Checkpoint(iterator=iterator, **progress_state, **_variables(model, optimizer),
                                     **task.state())
    manager = tf.train.CheckpointManager(checkpoint, workdir / "ckpt", max_to_keep=1)
    if manager.latest_checkpoint:
        try:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as error:
            raise ValueError(f"cannot resume {task.name} from {manager.latest_checkpoint}: it does not match this "
                             f"model or input pipeline ({str(error).splitlines()[0]}); delete {workdir / 'ckpt'} to "
                             "train this stage afresh") from None
    history = json.loads(progress_state["history"].numpy().decode())

    def replica_step(batch):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(task.per_example_loss(model, batch), global_batch_size=stage.batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(jit_compile=stage.jit_compile)
    def distributed_step(batch):
        losses = strategy.run(replica_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    def train_step(iterator):
        return distributed_step(_split_across_replicas(strategy, next(iterator)))

    writer = tf.summary.create_file_writer(str(workdir / "tb" / task.name))
    preview = next(iter(task.build_inputs(8)))
    done, last_save = 0, time.monotonic()
    while int(epoch.numpy()) < stage.epochs:
        current = int(epoch.numpy())
        with tqdm(total=steps * stage.batch_size, initial=int(step_in_epoch.numpy()) * stage.batch_size, unit="img",
                  disable=not progress, dynamic_ncols=True, desc=f"{task.name} epoch {current + 1}/{stage.epochs}",
                  ) as bar:
            while int(step_in_epoch.numpy()) < steps:
                if stop_after_steps is not None and done >= stop_after_steps:
                    return FitResult(model, [row["loss"] for row in history], history,
                                     workdir / f"{task.name}.weights.h5")
                started = time.monotonic()
                loss = float(train_step(iterator))
                if not math.isfinite(loss):
                    raise FloatingPointError(f"{task.name}: loss became {loss} at epoch {current + 1}, "
                                             f"step {int(step_in_epoch.numpy()) + 1}")
                seconds.assign_add(time.monotonic() - started)
                epoch_loss.assign_add(loss)
                step_in_epoch.assign_add(1)
                done += 1
                bar.update(stage.batch_size)
                bar.set_postfix(loss=f"{float(epoch_loss.numpy()) / int(step_in_epoch.numpy()):.5f}")
                if time.monotonic() - last_save > checkpoint_seconds and int(step_in_epoch.numpy()) < steps:
                    manager.save()
                    last_save = time.monotonic()
        row = {"epoch": current + 1, "images": (current + 1) * steps * stage.batch_size,
               "seconds": round(float(seconds.numpy()), 1), "loss": float(epoch_loss.numpy()) / steps,
               "learning_rate": float(schedule(optimizer.iterations)),
               **{key: float(value) for key, value in task.validate(model).items()}}
        history.append(row)
        with writer.as_default(step=row["images"]):
            for key, value in row.items():
                if key not in ("epoch", "images"):
                    tf.summary.scalar(f"{task.name}/{key}", value)
            for name, image in task.image_summaries(model, preview).items():
                tf.summary.image(f"{task.name}/{name}", image, max_outputs=4)
        task.on_epoch_end(model, current + 1)
        epoch.assign_add(1)
        step_in_epoch.assign(0)
        epoch_loss.assign(0.0)
        progress_state["history"].assign(json.dumps(history))
        manager.save()
        last_save = time.monotonic()
        write_text(workdir / HISTORY, pd.DataFrame(history).to_csv(index=False))
        if progress:
            tqdm.write(f"{task.name} epoch {current + 1}: " + ", ".join(
                f"{key} {value:.4g}" for key, value in row.items() if key not in ("epoch", "images", "seconds")))
    weights_path = workdir / f"{task.name}.weights.h5"
    with atomic_path(weights_path) as tmp:
        model.save_weights(tmp)
    return FitResult(model, [row["loss"] for row in history], history, weights_path)


def _split_across_replicas(strategy: tf.distribute.Strategy, batch: dict):
    """Splits a global batch evenly across the strategy's replicas (a no-op for a single replica)."""
    count = strategy.num_replicas_in_sync
    if count == 1:
        return batch
    return strategy.experimental_distribute_values_from_function(
        lambda context: tf.nest.map_structure(lambda t: tf.split(t, count)[context.replica_id_in_sync_group], batch)
    )
