"""The training tasks of the hand loop's networks (docs/method.md sections 3-4), one class per network.

Every task reads the same augmented batches (:func:`handloop.recipes.pipeline.training_dataset`) and differs only in its
model and loss; :func:`handloop.recipes.train.trainer.fit` runs them all.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib

import keras
import numpy as np
import tensorflow as tf

from handloop.recipes.config import AugmentConfig, Recipe
from handloop.recipes.pipeline import training_dataset
from handloop.recipes.records import frames_dataset, read_manifest
from handloop.recipes.train.registry import register_task
from handloop.recipes.train.trainer import Task
from handloop.zoo import networks
from handloop.zoo.config import LoopConfig
from handloop.zoo.loops import build_network

ERRORS_SUFFIX = ".errors.npy"
"""A localizer stage's ``<stage>.errors.npy`` in a recipe's finished-stages folder: ``(K, 3)`` float32 camera mm, the
trained localizer's centre minus the true one (the reference joint's, or the object's) on each validation frame
(what ``augment.center_errors: localizer`` draws from)."""

VALIDATION_BATCH = 64


class _RecipeTask(Task):
    """Holds the recipe, its loop config and the stream of training frames (shuffled, see
    :func:`handloop.recipes.records.frames_dataset`); trains the loop's network ``name``; validates on the recipe's
    ``data.val`` split when it has one.

    ``needs`` names the trained networks the constructor takes after these three (see
    :mod:`handloop.recipes.train.registry`).
    """

    needs: tuple[str, ...] = ()

    def __init__(self, recipe: Recipe, frames: tf.data.Dataset, config: LoopConfig):
        self.recipe, self.frames, self.config = recipe, frames, config
        self._validation = {}  # validation batches by (localizer, center_errors), built on first use

    def build_model(self):
        return build_network(self.config, self.name)

    @property
    def seed(self) -> int:
        """Initial-weights seed: the recipe's seed and the task's name, so each network starts differently."""
        return zlib.crc32(f"{self.recipe.seed}:{self.name}".encode()) & 0x7FFFFFFF

    def localizer_errors(self, stage: str):
        """``(K, 3)`` camera mm: the errors of localizer ``stage`` (:data:`ERRORS_SUFFIX`) that crops are centred
        with, or None (``augment.center_errors: gaussian``)."""
        if self.recipe.augment.center_errors == "gaussian":
            return None
        path = self.recipe.finished_dir / f"{stage}{ERRORS_SUFFIX}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: augment.center_errors is 'localizer', so the {stage} "
                                    f"stage must be trained first (--stage {stage})")
        return tf.constant(np.load(path), tf.float32)

    @functools.cached_property
    def center_errors(self):
        """``(K, 3)`` camera mm localizer errors the hand crops are centred with, or None (``gaussian``)."""
        return self.localizer_errors("localizer")

    def crops(self, frames: tf.data.Dataset, config: AugmentConfig, batch_size: int, augmented: bool = True,
              localizer: bool = False, moved: bool = True) -> tf.data.Dataset:
        """Batches of ``frames`` cropped as this task reads them (:func:`training_dataset`): the localizer's crops
        (``localizer``), or the others, centred with the localizer's errors unless not ``moved``."""
        return training_dataset(frames, config, batch_size, self.recipe.seed, self.config.reference_joint,
                                augmented=augmented, localizer=localizer,
                                center_errors=self.center_errors if moved and not localizer else None)

    def build_inputs(self, batch_size: int, localizer: bool = False) -> tf.data.Dataset:
        return self.crops(self.frames, self.recipe.augment, batch_size, localizer=localizer)

    def validation_frames(self) -> tuple[tf.data.Dataset, int]:
        """The ``data.val`` frames (parsed) and how many of them this task reads."""
        return frames_dataset(self.recipe.data.val, windowed=True), read_manifest(self.recipe.data.val)["frames"]

    def validation_batches(self, localizer: bool = False, center_errors: bool = True) -> list[dict]:
        """The ``data.val`` frames cropped as the loop sees them, once each, in batches of
        :data:`VALIDATION_BATCH` (empty without a validation split): no rotation or scale augmentation; the
        localizer's crops around the centre-of-mass detection itself, the others around the true centre
        moved by the localizers' errors (``center_errors`` and ``augment.center_errors: localizer``)."""
        if not self.recipe.data.val:
            return []
        key = (localizer, center_errors)
        if key not in self._validation:
            config = dataclasses.replace(self.recipe.augment, views_per_frame=1, localizer_jitter_mm=0.0)
            frames, count = self.validation_frames()
            size = min(VALIDATION_BATCH, count)
            self._validation[key] = list(self.crops(frames, config, size, augmented=False, localizer=localizer,
                                                    moved=center_errors).take(count // size)) if size else []
        return self._validation[key]


def squared_distance(a, b):
    """Per-example squared L2 distance between ``(B, ...)`` tensors, ``(B,)``."""
    return tf.reduce_sum(tf.reshape(tf.square(a - b), [tf.shape(a)[0], -1]), -1)


def mean_joint_mm(estimate, batch) -> float:
    """Mean 3D distance, mm, between ``(B, P, 3)`` cube-unit points and the batch's true ``pose``."""
    distance = tf.norm(estimate - batch["pose"], axis=-1) * batch["cube"][:, None] / 2
    return float(tf.reduce_mean(distance))


@register_task("localizer", "hand")
class LocalizerTask(_RecipeTask):
    """Localizer: crop around a jittered centre -> offset to the reference joint, squared L2 (eq. 5).

    Validated on the crop around the centre-of-mass detection itself, as the loop's first crop: ``centre_mm``,
    the mean distance from its estimate to the reference joint. Subclasses change the batch's crop, offset and
    cube (``crop_key``, ``target``, ``cube_key``).
    """

    name = "localizer"
    crop_key, target, cube_key = "crop", "offset", "cube"

    def build_inputs(self, batch_size):
        return super().build_inputs(batch_size, localizer=True)

    def per_example_loss(self, model, batch):
        return squared_distance(model(batch[self.crop_key], training=True), batch[self.target])

    def center_errors_mm(self, model) -> np.ndarray:
        """``(K, 3)`` camera mm: the estimated minus the true centre on each validation frame."""
        return np.concatenate([
            ((model(b[self.crop_key], training=False) - b[self.target]) * b[self.cube_key][:, None] / 2).numpy()
            for b in self.validation_batches(localizer=True)]).astype(np.float32)

    def validate(self, model):
        if not self.recipe.data.val:
            return {}
        errors = self.center_errors_mm(model)
        return {"centre_mm": float(np.linalg.norm(errors, axis=-1).mean()),
                "centre_rms_mm": float(np.sqrt(np.mean(errors**2, axis=0)).mean())}


def fit_pca(poses: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of ``(N, J, 3)`` normalised poses: returns ``(components, 3J)`` and the ``(3J,)`` mean."""
    flat = poses.reshape(len(poses), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return vt[:components].astype(np.float32), mean.astype(np.float32)


@register_task("predictor")
class PredictorTask(_RecipeTask):
    """Predictor: crop -> PCA-decoded pose, squared L2 to the ground truth (eq. 6).

    The PCA prior is fitted first on ``pca_batches`` batches of 64 augmented training poses.
    """

    name = "predictor"
    pca_batches = 160

    def build_model(self):
        model = super().build_model()
        batches = self.build_inputs(64).take(self.pca_batches)
        poses = np.concatenate([b["pose"].numpy() for b in batches])
        networks.set_pca(model, *fit_pca(poses, self.config.predictor.bottleneck))
        return model

    def per_example_loss(self, model, batch):
        return squared_distance(model(batch["crop"], training=True), batch["pose"])

    def validate(self, model):
        batches = self.validation_batches()
        if not batches:
            return {}
        return {"joints_mm": float(np.mean([mean_joint_mm(model(b["crop"], training=False), b) for b in batches]))}


FOREGROUND = 0.5
"""Normalised depth below which a crop pixel belongs to the hand's silhouette (the background is +1)."""


@register_task("synthesizer")
class SynthesizerTask(_RecipeTask):
    """Synthesizer grown layer by layer: pose -> depth crop at ``base * 2**stages`` pixels, mean squared error
    (eq. 7).

    The target is the input crop averaged down to the current resolution. The weights of the previous resolution
    (the ``.weights.h5`` file ``previous``) are carried over by layer name. ``stages`` None: the full size.
    """

    def __init__(self, recipe, frames, config, stages: int | None = None, previous=None):
        super().__init__(recipe, frames, config)
        self.stages = networks.full_stages(config.synthesizer, config.crop) if stages is None else stages
        self.previous = previous
        self.name = f"synthesizer-{self._size}"

    @property
    def _size(self) -> int:
        return self.config.synthesizer.base * 2**self.stages

    def _build(self, stages: int):
        return networks.build_synthesizer(self.config.synthesizer, self.config.num_joints, self.config.crop, stages)

    def build_model(self):
        model = self._build(self.stages)
        if self.previous is not None:
            smaller = self._build(self.stages - 1)
            smaller.load_weights(self.previous)
            networks.transfer_weights(smaller, model)
        return model

    def _target(self, crop):
        factor = crop.shape[1] // self._size  # area resize by an integer factor, as XLA compiles it
        return tf.nn.avg_pool2d(crop, factor, factor, "VALID") if factor > 1 else crop

    def per_example_loss(self, model, batch):
        image = model(batch["pose"], training=True)
        return tf.reduce_mean(tf.square(image - self._target(batch["crop"])), axis=[1, 2, 3])

    def image_summaries(self, model, batch):
        image = model(batch["pose"], training=False)
        return {"target": (self._target(batch["crop"]) + 1) / 2, "synthesized": (image + 1) / 2}

    def validate(self, model):
        """The image of the true pose against the true crop at this resolution: ``silhouette_iou`` (pixels below
        :data:`FOREGROUND` in each) and ``depth_mae_mm``, the mean absolute depth difference inside the true
        silhouette in mm."""
        batches = self.validation_batches(center_errors=False)
        if not batches:
            return {}
        intersection = union = error = inside = 0.0
        for b in batches:
            image, target = model(b["pose"], training=False), self._target(b["crop"])
            mine, theirs = image < FOREGROUND, target < FOREGROUND
            intersection += float(tf.reduce_sum(tf.cast(mine & theirs, tf.float32)))
            union += float(tf.reduce_sum(tf.cast(mine | theirs, tf.float32)))
            mm = tf.abs(image - target) * b["cube"][:, None, None, None] / 2
            error += float(tf.reduce_sum(tf.where(theirs, mm, 0.0)))
            inside += float(tf.reduce_sum(tf.cast(theirs, tf.float32)))
        return {"silhouette_iou": intersection / max(union, 1.0), "depth_mae_mm": error / max(inside, 1.0)}


@register_task("updater", "hand")
class UpdaterTask(_RecipeTask):
    """Updater with the hinge loss of section 3.5 on poses drawn from the training set T_D.

    For each example one pose ``p'`` is drawn from T_D: the ground truth ``p`` (its update should be zero), the
    predictor's output, Gaussian copies of either (sigma 0.02-0.15 cube units), and, once the set has grown (every
    ``grow_every`` epochs), the poses made by applying the current updater to the predictor's output or to a
    Gaussian copy, once and, from the second growth on, twice (the paper adds the updated poses to T_D for good, so
    its set holds poses updated as often as it has grown; the loop's own iterations start from these), and
    ``p + e`` with ``e`` drawn from the distribution of errors the current loop still makes (a buffer of observed
    ``p'' - p``, refreshed each time the set grows). The set is built online from each augmented batch rather than
    stored, since a stored pose would not match the re-augmented image. Loss (lambda = 0.6):
    ``max(0, ||p' + updater(D, synth(p')) - p|| - lambda ||p' - p||)``.

    Validated as the loop runs: ``joints_mm`` (``metric``) after the loop's iterations from the predictor's pose,
    and ``iteration_K_mm`` after each (``iteration_0_mm``: the predictor).

    Subclasses change what is updated (``crop_key``, ``pose_key``: the batch's input crop and true pose), the
    network (:meth:`build_model`), the image it is compared with (:meth:`image`) and how a pose is settled and
    measured (:meth:`settle`, :meth:`error_mm`).
    """

    name = "updater"
    needs = ("predictor", "synthesizer")
    hinge_lambda = 0.6
    grow_every = 2
    buffer_size = 4096
    crop_key, pose_key = "crop", "pose"
    metric = "joints_mm"

    def __init__(self, recipe, frames, config, predictor: keras.Model, synthesizer: keras.Model):
        super().__init__(recipe, frames, config)
        self.predictor, self.synthesizer = predictor, synthesizer
        self.predictor.trainable = self.synthesizer.trainable = False
        points = int(predictor.output_shape[-2])
        self.grown = tf.Variable(0, dtype=tf.int64, trainable=False, name="grown")
        self.errors = tf.Variable(tf.zeros([self.buffer_size, points, 3]), trainable=False, name="errors")

    def state(self):
        return {"td_grown": self.grown, "td_errors": self.errors}

    def image(self, batch, pose):
        """The image of ``pose`` ``(B, P, 3)`` that the updater compares with the input crop: the synthesizer's."""
        return self.synthesizer(pose, training=False)

    def target(self, batch, start):
        """The true pose ``(B, P, 3)`` an update from ``start`` should reach (the batch's, here)."""
        return batch[self.pose_key]

    def settle(self, batch, pose):
        """What the loop makes of a pose ``(B, P, 3)`` before it is shown or updated again (itself, here)."""
        return pose

    def error_mm(self, batch, pose) -> float:
        """The validation error of ``pose`` ``(B, P, 3)``, mm: the mean 3D joint error here."""
        return mean_joint_mm(pose, batch)

    def update(self, model, batch, pose, training=False):
        """One loop iteration: ``pose + updater([crop, image(pose)])``, ``(B, P, 3)`` cube units."""
        return pose + model(tf.concat([batch[self.crop_key], self.image(batch, pose)], -1), training=training)

    def candidates(self, model, batch):
        """Draws one T_D pose ``(B, P, 3)`` per example (see the class docstring)."""
        truth = batch[self.pose_key]
        size = tf.shape(truth)[0]
        keys = tf.random.experimental.stateless_split(batch["seed"][0], 6)
        predicted = self.predictor(batch[self.crop_key], training=False)
        sigma = tf.random.stateless_uniform([size, 1, 1], keys[0], 0.02, 0.15)
        base = tf.where(tf.random.stateless_uniform([size, 1, 1], keys[1]) < 0.5, truth, predicted)
        noisy = base + sigma * tf.random.stateless_normal(tf.shape(truth), keys[2])
        start = tf.where(tf.random.stateless_uniform([size, 1, 1], keys[5]) < 0.5, predicted, noisy)
        once = tf.cond(self.grown > 0, lambda: self.update(model, batch, start), lambda: start)
        twice = tf.cond(self.grown > 1, lambda: self.update(model, batch, once), lambda: once)
        index = tf.random.stateless_uniform([size], keys[3], 0, self.buffer_size, dtype=tf.int64)
        observed = truth + tf.gather(self.errors, index)
        pools = tf.stack([truth, predicted, noisy, once, observed, twice], 1)
        kinds = tf.where(self.grown > 1, 6, tf.where(self.grown > 0, 5, 3))  # the updated poses join as T_D grows
        choice = tf.random.stateless_uniform([size], keys[4], 0, kinds, dtype=tf.int32)
        return tf.gather(pools, choice, batch_dims=1)

    def per_example_loss(self, model, batch):
        start = tf.stop_gradient(self.candidates(model, batch))
        truth = tf.reshape(self.target(batch, start), [tf.shape(start)[0], -1])
        moved = tf.reshape(self.update(model, batch, start, training=True), tf.shape(truth))
        before = tf.norm(tf.reshape(start, tf.shape(truth)) - truth, axis=-1)
        return tf.nn.relu(tf.norm(moved - truth, axis=-1) - self.hinge_lambda * before)

    def validate(self, model, center_errors: bool = True):
        """``center_errors`` False centres the crops on the true centres instead (what the localizers cost)."""
        batches = self.validation_batches(center_errors=center_errors)
        if not batches:
            return {}
        errors = np.zeros(self.config.iterations + 1)
        for b in batches:
            pose = self.settle(b, self.predictor(b[self.crop_key], training=False))
            for k in range(self.config.iterations + 1):
                errors[k] += self.error_mm(b, pose) / len(batches)
                pose = self.settle(b, self.update(model, b, pose))
        return {self.metric: errors[-1], **{f"iteration_{k}_mm": e for k, e in enumerate(errors)}}

    def image_summaries(self, model, batch):
        crop = batch[self.crop_key]
        image = self.image(batch, self.predictor(crop, training=False))
        return {"input": (crop + 1) / 2, "synthesized": (image + 1) / 2, "difference": tf.abs(crop - image) / 2}

    def on_epoch_end(self, model, epoch):
        if epoch % self.grow_every:
            return
        errors, count = [], 0
        for batch in self.build_inputs(64):
            pose = self.update(model, batch, self.predictor(batch[self.crop_key], training=False))
            errors.append((pose - self.target(batch, pose)).numpy())
            count += len(errors[-1])
            if count >= self.buffer_size:
                break
        self.errors.assign(np.concatenate(errors)[: self.buffer_size])
        self.grown.assign_add(1)
