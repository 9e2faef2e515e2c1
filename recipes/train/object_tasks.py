"""The training tasks of the hand-object loop's networks (docs/method.md sections 2 and 4; Alg. 1).

They read hand-object frames of the loop's object only, cropped as the loop sees them
(:func:`handloop.recipes.pipeline.augment_scene`): the scene crop for both localizers, the object crop for the object
predictor, and the hand and object crops for the two updaters, these two centred as wrongly as the scene
localizers centre them (``augment.center_errors: localizer``). Each updater compares its input crop with the
*merged* image of its crop, as in the loop: the synthesized hand and the object ray-cast in its pose, composed by
pixel-wise minimum. While one updater trains, the other entity is shown where its predictor puts it (iteration 1
of the loop). The hand predictor and the synthesizer are the hand loop's tasks (:mod:`handloop.recipes.train.tasks`).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from handloop.recipes.pipeline import crop_points, training_dataset, uncrop_points
from handloop.recipes.train.registry import register_task
from handloop.recipes.train.tasks import LocalizerTask, UpdaterTask, _RecipeTask, squared_distance
from handloop.zoo.layers.merge import BACKGROUND, cube_to_depth
from handloop.zoo.layers.procrustes import fit_rigid
from handloop.zoo.layers.stn import bilinear_sample, crop_coordinates, crop_grid, normalize_depth
from handloop.zoo.objects import get_object
from handloop.zoo.render import render_object


class _SceneInputs:
    """Mixin of a :class:`handloop.recipes.train.tasks._RecipeTask`: batches of
    :func:`handloop.recipes.pipeline.augment_scene` from the frames that hold the loop's object, with the crops the
    task reads (``scene_crops``), the hand's and the object's centred with the scene localizers' errors
    (``augment.center_errors: localizer``); validated on the validation frames that hold the object."""

    scene_crops = ("hand", "object")

    @functools.cached_property
    def object_center_errors(self):
        """``(K, 3)`` camera mm object-localizer errors the object crops are centred with, or None."""
        return self.localizer_errors("object_localizer")

    def _with_object(self, frames):
        name = self.config.object
        return frames.filter(lambda frame: tf.equal(frame["object"], name))

    def crops(self, frames, config, batch_size, augmented=True, localizer=False, moved=True):
        hand, obj = moved and "hand" in self.scene_crops, moved and "object" in self.scene_crops
        return training_dataset(self._with_object(frames), config, batch_size, self.recipe.seed,
                                self.config.reference_joint, augmented=augmented,
                                scene_cube_mm=self.config.scene_cube_mm, scene_crops=self.scene_crops,
                                center_errors=self.center_errors if hand else None,
                                object_center_errors=self.object_center_errors if obj else None)

    def validation_frames(self):
        frames, _ = super().validation_frames()
        return frames, int(self._with_object(frames).reduce(0, lambda count, _: count + 1))


@register_task("localizer", "hand-object")
class SceneLocalizerTask(_SceneInputs, LocalizerTask):
    """Hand localizer of the hand-object loop: scene crop -> offset to the hand's reference joint (eq. 5), in units
    of half the scene cube; validated as :class:`handloop.recipes.train.tasks.LocalizerTask` on the scene crop."""

    name = "localizer"
    crop_key, target, cube_key = "scene_crop", "hand_offset", "scene_cube"
    scene_crops = ("scene",)


@register_task("object_localizer", "hand-object")
class ObjectLocalizerTask(SceneLocalizerTask):
    """Object localizer: scene crop -> offset to the object's centre (eq. 5), in units of half the scene cube."""

    name = "object_localizer"
    target = "object_offset"


def symmetric_targets(corners, object_name: str):
    """Every symmetric relabelling of true corners ``(B, 8, 3)``: ``(B, S, 8, 3)``
    (:meth:`handloop.zoo.objects.ObjectModel.symmetries`; depth alone cannot tell them apart)."""
    return tf.gather(corners, get_object(object_name).symmetries(), axis=1)


def nearest_symmetric(corners, estimate, object_name: str):
    """The relabelling of true ``corners`` ``(B, 8, 3)`` nearest to ``estimate`` ``(B, 8, 3)``, squared L2."""
    targets = symmetric_targets(corners, object_name)
    distance = tf.reduce_sum(tf.square(targets - estimate[:, None]), axis=[2, 3])
    return tf.gather(targets, tf.argmin(distance, axis=1), batch_dims=1)


def corners_mm(estimate, batch, object_name: str) -> float:
    """Mean distance, mm, between ``(B, 8, 3)`` cube-unit corners and the nearest symmetric relabelling of the
    batch's true ``corners``."""
    distance = tf.norm(estimate - nearest_symmetric(batch["corners"], estimate, object_name), axis=-1)
    return float(tf.reduce_mean(distance * batch["cube"][:, None] / 2))


@register_task("object_predictor", "hand-object")
class ObjectPredictorTask(_SceneInputs, _RecipeTask):
    """Object predictor: object crop -> its 8 box corners in cube units, squared L2 (eq. 6 for the object) to the
    nearest symmetric relabelling of the true corners (without it, a square-section box regresses to the mean).
    Validated by ``corners_mm`` (:func:`corners_mm`, before the loop's rigid fit)."""

    name = "object_predictor"
    scene_crops = ("object",)

    def per_example_loss(self, model, batch):
        estimate = model(batch["object_crop"], training=True)
        return squared_distance(estimate, nearest_symmetric(batch["corners"], estimate, self.config.object))

    def validate(self, model):
        batches = self.validation_batches()
        if not batches:
            return {}
        return {"corners_mm": float(np.mean([corners_mm(model(b["object_crop"], training=False), b,
                                                        self.config.object) for b in batches]))}


def hand_layer(image):
    """Synthesized hand ``(B, S, S, 1)`` cube units with its background (>= BACKGROUND) set to far (+1)."""
    return tf.where(image < BACKGROUND, image, tf.ones_like(image))


def _normalized_crop(depth_mm, center_uvd, cube):
    """``(B, S, S)`` depth mm (0 = missing) -> ``(B, S, S, 1)`` cube units around ``center_uvd``'s depth."""
    return normalize_depth(depth_mm, center_uvd[:, 2], cube)[..., None]


class _SceneUpdater(_SceneInputs, UpdaterTask):
    """An updater of the hand-object loop: its image is the merged scene in its own crop."""

    def __init__(self, recipe, frames, config, predictor, synthesizer, other):
        super().__init__(recipe, frames, config, predictor, synthesizer)
        self.other = other
        self.other.trainable = False
        self.object_model = get_object(config.object)

    def fit_corners(self, corners, batch):
        """Rigid object pose best matching ``corners`` ``(B, 8, 3)`` (cube units in the object crop):
        ``(rotation (B, 3, 3), translation (B, 3) mm, fitted corners (B, 8, 3) cube units)``, the loop's
        :class:`handloop.zoo.layers.procrustes.FitObjectPose` on the augmented crop."""
        model_corners = self.object_model.corners()
        camera = uncrop_points(corners, batch["object_center_xyz"], batch["cube"], batch["angle"],
                               batch["intrinsics"])
        rotation, translation, fitted = fit_rigid(model_corners, camera)
        return rotation, translation, crop_points(fitted, batch["object_center_xyz"], batch["cube"], batch["angle"],
                                                  batch["intrinsics"])

    def object_image(self, corners, batch, center):
        """The object, rigidly fitted to ``corners``, ray-cast into the crop centred at ``batch[center]``."""
        rotation, translation, _ = self.fit_corners(corners, batch)
        u, v = crop_grid(batch[center], batch["cube"], batch["intrinsics"], self.config.crop, batch["angle"])
        model = self.object_model
        depth = render_object(model.kind, list(model.size_mm), rotation, translation, u, v, batch["intrinsics"])
        return _normalized_crop(depth, batch[center], batch["cube"])

    def hand_image_in_object_crop(self, hand_image, batch):
        """The synthesized hand ``(B, S, S, 1)`` of the hand crop, moved into the object crop (cube units)."""
        intr, cube, angle = batch["intrinsics"], batch["cube"], batch["angle"]
        u, v = crop_grid(batch["object_center_uvd"], cube, intr, self.config.crop, angle)
        x, y = crop_coordinates(u, v, batch["center_uvd"], cube, intr, self.config.crop, angle)
        depth = cube_to_depth(bilinear_sample(hand_image[..., 0], x, y, 1.0), batch["center_uvd"][:, 2], cube)
        return _normalized_crop(depth, batch["object_center_uvd"], cube)


@register_task("updater", "hand-object")
class HandObjectUpdaterTask(_SceneUpdater):
    """Hand updater on (hand crop, merged crop): the synthesized hand in the candidate pose and the object where
    the object predictor puts it. ``other`` is the object predictor."""

    name = "updater"
    needs = ("predictor", "synthesizer", "object_predictor")

    def image(self, batch, pose):
        corners = self.other(batch["object_crop"], training=False)
        return tf.minimum(hand_layer(self.synthesizer(pose, training=False)),
                          self.object_image(corners, batch, "center_uvd"))


@register_task("object_updater", "hand-object")
class ObjectUpdaterTask(_SceneUpdater):
    """Object updater on (object crop, merged crop): the object in the candidate corners' rigid pose and the
    synthesized hand where the hand predictor puts it. ``predictor`` is the object predictor, ``other`` the hand
    predictor. Candidate corners are fitted rigidly first, as the loop's corners always are."""

    name = "object_updater"
    needs = ("object_predictor", "synthesizer", "predictor")
    crop_key, pose_key = "object_crop", "corners"
    metric = "corners_mm"

    def candidates(self, model, batch):
        return self.settle(batch, super().candidates(model, batch))

    def target(self, batch, start):
        return nearest_symmetric(batch["corners"], start, self.config.object)

    def settle(self, batch, pose):
        """The corners of the rigid pose that best fits them, as the loop's corners always are."""
        return self.fit_corners(pose, batch)[2]

    def error_mm(self, batch, pose):
        return corners_mm(pose, batch, self.config.object)

    def image(self, batch, corners):
        hand = hand_layer(self.synthesizer(self.other(batch["crop"], training=False), training=False))
        return tf.minimum(self.hand_image_in_object_crop(hand, batch),
                          self.object_image(corners, batch, "object_center_uvd"))
