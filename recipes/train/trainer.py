"""One training loop for every network: ``tf.GradientTape`` under ``tf.function``, inside a ``tf.distribute`` strategy.

A :class:`Task` (as in TF Model Garden) owns what differs between networks: the model, the input batches, the
loss, its validation and any state of its own; :func:`fit` owns what is shared: seeded initial weights, the
optimizer and its schedule, distribution, progress bars, BatchNorm statistics re-estimated for the weights and
validation after every epoch (TensorBoard and a CSV), and checkpoints within and after every epoch with exact
resume (weights, optimizer slots, the data iterator's position, the task's state, the epoch and the step within
it). Dropout's seed state is checkpointed too, so a run killed mid-epoch and resumed ends with the same weights as one that was never interrupted.

Across several machines (:class:`tf.distribute.MultiWorkerMirroredStrategy`) every worker runs :func:`fit` on its
own part of the data (the task's frames, :func:`handloop.recipes.train.distribute.input_part`) with its share of the
global batch; the chief alone validates and writes the checkpoints, TensorBoard, the history and the weights
(the others save into a temporary folder they remove, as saving may need them all), and every worker resumes from
the chief's checkpoint. Each worker's data position, which differs between workers, is its own small checkpoint
``inputs-worker-<k>`` beside the chief's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from handloop.recipes.config import StageConfig
from handloop.recipes.train.distribute import barrier, input_part, is_chief
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


RECALIBRATION_BATCHES = 25
"""Training batches over which :func:`recalibrate_batchnorm` averages the batch statistics after each epoch."""


def _batchnorm_layers(layer) -> list:
    """Every BatchNormalization layer of ``layer`` and of the models nested in it."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [layer]
    return [bn for inner in getattr(layer, "layers", []) for bn in _batchnorm_layers(inner)]


def recalibrate_batchnorm(task: Task, model: keras.Model, batch_size: int, strategy: tf.distribute.Strategy,
                          count: int = RECALIBRATION_BATCHES) -> int:
    """Replaces the moving mean and variance of ``model``'s BatchNormalization layers by the plain average of the
    batch statistics they see in training mode over the first ``count`` global batches of ``batch_size`` of
    ``task``'s inputs, the weights unchanged; the inputs are built only for a model that has such layers. Across
    several replicas the statistics are the first replica's, as in a training step (Keras's aggregation of moving
    statistics); every worker of a multi-worker run calls it.

    Why: the moving statistics are an exponential average over the last few hundred steps, so while the weights
    still move they trail them, and the inference-mode error measured on validation frames swings by several mm
    between epochs (the synth-hand-lite predictor: 41.8 mm before, 35.4 mm after 25 batches, epoch 8 of 16).
    Averaged over batches of the current weights, they are what those weights would settle to if they stopped
    moving.

    Returns:
        the number of batches averaged (0 for a model without BatchNormalization, which is left untouched).
    """
    layers = _batchnorm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    done = 0
    try:
        for done, batch in enumerate(task.build_inputs(batch_size).take(count), 1):
            for layer in layers:  # the k-th batch gets weight 1/k: a running plain average, the first one replaces
                layer.momentum = (done - 1) / done
            strategy.run(task.per_example_loss, args=(model, _split_across_replicas(strategy, batch)))
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return done


@contextlib.contextmanager
def dtype_policy(name: str):
    """Context in which the networks built take Keras' global dtype policy ``name`` (``float32``,
    ``mixed_bfloat16``); the previous policy is restored on exit. A layer keeps the policy it was built with."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _variables(model: keras.Model, optimizer) -> dict:
    return {"model": list(model.variables), "optimizer": list(optimizer.variables)}


def fit(task: Task, stage: StageConfig, workdir: str | Path, strategy: tf.distribute.Strategy | None = None,
        steps_per_epoch: int | None = None, progress: bool = True, stop_after_steps: int | None = None,
        checkpoint_seconds: float = 600.0, init_weights: str | Path | None = None) -> FitResult:
    """Trains ``task``'s network for ``stage.epochs`` epochs, resuming from ``workdir`` if it holds a checkpoint.

    The checkpoint (weights, optimizer slots, the data iterator's position, the task's state, the epoch, the step
    within it, its running loss, the training time so far and the history) is written at the end of every epoch and
    every ``checkpoint_seconds`` within one, so a killed run loses at most that much work and resumes exactly: it
    ends with the same weights as a run never interrupted.

    Args:
        task: the network's task.
        stage: epochs, batch size, learning rate and its per-epoch decay, XLA or not, dtype policy.
        workdir: folder for ``ckpt/`` (the latest save only), ``tb/`` (TensorBoard), :data:`HISTORY` and
            ``<name>.weights.h5`` (and ``inputs-worker-<k>/`` per non-chief worker), shared by all workers.
        strategy: a ``tf.distribute`` strategy; the default (single device) strategy when None. With several
            workers, the task's inputs must be this worker's part of the data and every worker calls :func:`fit`.
        steps_per_epoch: batches per epoch (defaults to ``stage.steps_per_epoch``).
        progress: show a tqdm bar with rate and ETA.
        stop_after_steps: stop abruptly after this many steps of this call, as a crash would (tests resume).
        checkpoint_seconds: wall time between checkpoints within an epoch, seconds.
        init_weights: a ``.weights.h5`` file of this network to start from instead of the seeded random weights
            (a checkpoint, when there is one, still wins: it holds later ones).
    Returns:
        :class:`FitResult`; the weights are also written (atomically, by the chief) to ``workdir/<name>.weights.h5``,
        before every worker returns.
    """
    strategy = strategy or tf.distribute.get_strategy()
    worker, workers = input_part(strategy)
    chief = is_chief(strategy)
    workdir = Path(workdir)
    steps = steps_per_epoch or stage.steps_per_epoch
    if not steps:
        raise ValueError(f"stage {task.name!r} needs steps_per_epoch")
    if stage.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"batch size {stage.batch_size} does not split across "
                         f"{strategy.num_replicas_in_sync} replicas")
    with strategy.scope(), dtype_policy(stage.precision):
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
    # A plain iterator of this worker's share of each global batch: checkpointable, unlike distributed ones.
    iterator = iter(task.build_inputs(stage.batch_size // workers))
    state = {**progress_state, **_variables(model, optimizer), **task.state()}
    checkpoint = tf.train.Checkpoint(**({"iterator": iterator} if chief else {}), **state)
    manager = tf.train.CheckpointManager(checkpoint, workdir / "ckpt", max_to_keep=1)
    inputs = None if chief else tf.train.CheckpointManager(tf.train.Checkpoint(iterator=iterator),
                                                           workdir / f"inputs-worker-{worker}", max_to_keep=1)
    if manager.latest_checkpoint:
        _restore(checkpoint, manager.latest_checkpoint, inputs, task.name, workdir)
    elif init_weights is not None:
        _load_initial(model, init_weights, task.name)
    history = json.loads(progress_state["history"].numpy().decode())

    def save():
        """The chief saves the checkpoint; another worker saves it into a folder it removes, and its data position
        (numbered like the chief's saves, which happen at the same steps)."""
        if chief:
            manager.save()
            return
        scratch = tempfile.mkdtemp(prefix=f"ckpt-worker-{worker}-")
        try:
            checkpoint.write(str(Path(scratch) / "ckpt"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        inputs.save()

    def agreed(flag: bool) -> bool:
        """Whether any worker's ``flag`` is set (all workers checkpoint at the same step)."""
        if workers == 1:
            return flag
        votes = strategy.run(lambda: tf.constant(float(flag)))
        return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0

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
        return distributed_step(_split_across_replicas(strategy, next(iterator), worker))

    writer = tf.summary.create_file_writer(str(workdir / "tb" / task.name)) if chief else tf.summary.create_noop_writer()
    preview = next(iter(task.build_inputs(8))) if chief else None
    done, last_save = 0, time.monotonic()
    while int(epoch.numpy()) < stage.epochs:
        current = int(epoch.numpy())
        with tqdm(total=steps * stage.batch_size, initial=int(step_in_epoch.numpy()) * stage.batch_size, unit="img",
                  disable=not (progress and chief), dynamic_ncols=True, desc=f"{task.name} epoch {current + 1}/{stage.epochs}",
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
                if agreed(time.monotonic() - last_save > checkpoint_seconds) and int(step_in_epoch.numpy()) < steps:
                    save()
                    last_save = time.monotonic()
        recalibrate_batchnorm(task, model, stage.batch_size, strategy)
        row = {"epoch": current + 1, "images": (current + 1) * steps * stage.batch_size,
               "seconds": round(float(seconds.numpy()), 1), "loss": float(epoch_loss.numpy()) / steps,
               "learning_rate": float(schedule(optimizer.iterations)),
               **{key: float(value) for key, value in (task.validate(model) if chief else {}).items()}}
        history.append(row)
        if chief:
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
        save()
        last_save = time.monotonic()
        if chief:
            write_text(workdir / HISTORY, pd.DataFrame(history).to_csv(index=False))
        if progress and chief:
            tqdm.write(f"{task.name} epoch {current + 1}: " + ", ".join(
                f"{key} {value:.4g}" for key, value in row.items() if key not in ("epoch", "images", "seconds")))
    weights_path = workdir / f"{task.name}.weights.h5"
    if chief:
        with atomic_path(weights_path) as tmp:
            model.save_weights(tmp)
    barrier(strategy)
    return FitResult(model, [row["loss"] for row in history], history, weights_path)


def _load_initial(model: keras.Model, path: str | Path, name: str) -> None:
    """Loads ``path`` into ``model``; ValueError in one line when the file is not this network's weights."""
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as error:
        raise ValueError(f"cannot start {name} from {path}: not the weights of this network "
                         f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None


def _restore(checkpoint: tf.train.Checkpoint, path: str, inputs: tf.train.CheckpointManager | None, name: str,
             workdir: Path) -> None:
    """Restores the chief's checkpoint ``path`` into ``checkpoint`` and, on another worker, its own data position
    from ``inputs``, which must have been saved at the same step.

    Raises:
        ValueError: one line saying what does not match and what to do.
    """
    try:
        checkpoint.restore(path).assert_existing_objects_matched()
        if inputs is not None:
            if inputs.latest_checkpoint is None or (
                    inputs.latest_checkpoint.rsplit("-", 1)[1] != path.rsplit("-", 1)[1]):
                raise ValueError(f"{inputs.directory} holds no data position saved with {path}")
            inputs.checkpoint.restore(inputs.latest_checkpoint).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        raise ValueError(f"cannot resume {name} from {path}: it does not match this model or input pipeline "
                         f"({str(error).splitlines()[0]}); delete {workdir / 'ckpt'} to train this stage "
                         "afresh") from None


def _split_across_replicas(strategy: tf.distribute.Strategy, batch: dict, worker: int = 0):
    """Splits this worker's share of a global batch evenly across its replicas (a no-op for a single replica).

    Args:
        strategy: the run's strategy; its replicas are numbered worker after worker.
        batch: dict of tensors, this worker's share of the global batch.
        worker: this worker's index (:func:`handloop.recipes.train.distribute.input_part`).
    Returns:
        ``batch`` itself for one replica, else per-replica values of equal slices.
    """
    if strategy.num_replicas_in_sync == 1:
        return batch
    count = len(strategy.extended.worker_devices)
    return strategy.experimental_distribute_values_from_function(
        lambda context: tf.nest.map_structure(
            lambda t: tf.split(t, count)[context.replica_id_in_sync_group - worker * count], batch))
