"""tf.data input pipelines: frame records -> augmented, normalised crops and poses, all in-graph.

Augmentation (docs/method.md section 4) happens inside the graph, frame by frame: the crop centre is the reference
joint (middle-finger MCP) shifted by ``N(0, translation_mm)`` per axis, the cube is scaled by
``|1 + N(0, scale_sigma)|`` and the crop window turns in-plane by ``U(-rotation, rotation)``; the joints turn the
same way about the centre's pixel and keep their depth. Random numbers are stateless, keyed by the recipe's seed
and each frame's position in the stream, so a pipeline is deterministic for a seed and resumable at any position.
"""

from __future__ import annotations

import math

import tensorflow as tf

from handloop.recipes.config import AugmentConfig
from handloop.zoo.camera import tf_uvd_to_xyz, tf_xyz_to_uvd
from handloop.zoo.layers.geometry import center_of_mass
from handloop.zoo.layers.stn import stn_crop
from handloop.zoo.config import CROP_SIZE


def _rotate_about(uvd, center_uvd, angle):
    """Turns the pixel coordinates of ``uvd`` ``(B, J, 3)`` by ``-angle`` about ``center_uvd`` ``(B, 3)``."""
    cos, sin = tf.cos(angle)[:, None], tf.sin(angle)[:, None]
    du = uvd[..., 0] - center_uvd[:, None, 0]
    dv = uvd[..., 1] - center_uvd[:, None, 1]
    u = center_uvd[:, None, 0] + cos * du + sin * dv
    v = center_uvd[:, None, 1] - sin * du + cos * dv
    return tf.stack([u, v, uvd[..., 2]], -1)


def _draws(size, seed, config: AugmentConfig, enabled: bool) -> dict:
    """The random numbers of one augmentation: shifts (mm), cube scale, in-plane angle (radians) per example."""
    keys = tf.random.experimental.stateless_split(seed, 5)
    on = 1.0 if enabled else 0.0
    return {
        "shift": tf.random.stateless_normal([size, 3], keys[0]) * config.translation_mm * on,
        "scale": tf.abs(1 + tf.random.stateless_normal([size], keys[1]) * config.scale_sigma * on),
        "angle": tf.random.stateless_uniform([size], keys[2], -1.0, 1.0) * math.radians(config.rotation_deg) * on,
        "jitter": tf.random.stateless_normal([size, 3], keys[3]) * config.localizer_jitter_mm,
        "object_shift": tf.random.stateless_normal([size, 3], keys[4]) * config.translation_mm * on,
    }


def crop_around(depth, intrinsics, center_xyz, cube, angle, points_xyz):
    """One augmented crop and the points it shows.

    Args:
        depth: ``(B, H, W)`` mm; intrinsics: ``(B, 4)``; center_xyz: ``(B, 3)`` crop centres, camera mm;
        cube: ``(B,)`` cube sides, mm; angle: ``(B,)`` in-plane turn of the window, radians;
        points_xyz: ``(B, P, 3)`` camera mm (OpenCV axes).
    Returns:
        ``(crop, points, center_uvd)``: ``(B, 128, 128, 1)`` normalised depth; ``(B, P, 3)`` the points in cube
        units around the centre, turned with the window about the centre's pixel (depth kept); ``(B, 3)``.
    """
    center_uvd = tf_xyz_to_uvd(center_xyz, intrinsics)
    crop = stn_crop(depth, center_uvd, cube, intrinsics, CROP_SIZE, angle)
    return crop[..., None], crop_points(points_xyz, center_xyz, cube, angle, intrinsics), center_uvd


def crop_points(points_xyz, center_xyz, cube, angle, intrinsics):
    """:func:`crop_around`'s point map: ``(B, P, 3)`` camera mm -> cube units in the crop turned by ``angle``."""
    center_uvd = tf_xyz_to_uvd(center_xyz, intrinsics)
    turned = _rotate_about(tf_xyz_to_uvd(points_xyz, intrinsics), center_uvd, angle)
    return (tf_uvd_to_xyz(turned, intrinsics) - center_xyz[:, None]) / (cube / 2)[:, None, None]


def uncrop_points(points, center_xyz, cube, angle, intrinsics):
    """Inverse of :func:`crop_points`: ``(B, P, 3)`` cube units in a turned crop -> camera mm."""
    turned = tf_xyz_to_uvd(points * (cube / 2)[:, None, None] + center_xyz[:, None], intrinsics)
    center_uvd = tf_xyz_to_uvd(center_xyz, intrinsics)
    return tf_uvd_to_xyz(_rotate_about(turned, center_uvd, -angle), intrinsics)


def _moved(center_xyz, errors, seed, salt: int):
    """``center_xyz`` ``(B, 3)`` mm, each moved by one of ``errors`` ``(K, 3)`` mm drawn uniformly with the stateless
    ``seed`` folded with ``salt`` (unchanged when ``errors`` is None)."""
    if errors is None:
        return center_xyz
    key = tf.random.experimental.stateless_fold_in(seed, salt)
    index = tf.random.stateless_uniform(tf.shape(center_xyz)[:1], key, 0, tf.shape(errors)[0], dtype=tf.int32)
    return center_xyz + tf.gather(errors, index)


def augment(batch: dict, config: AugmentConfig, seed, reference_joint: int, enabled: bool = True,
            localizer: bool = False, center_errors=None) -> dict:
    """Crops a batch of frames around jittered reference joints, with rotation and scale augmentation.

    Args:
        batch: ``depth`` ``(B, H, W)`` mm, ``intrinsics`` ``(B, 4)``, ``joints_uvd`` ``(B, J, 3)`` pixels/mm,
            ``com_uvd`` ``(B, 3)`` the centre-of-mass detection, ``cube`` ``(B,)`` mm.
        seed: ``(2,)`` int stateless seed of this batch.
        reference_joint: index of the joint the crop centres on.
        enabled: False gives the unaugmented crop around the true reference joint (test data); the localizer's
            jitter is drawn either way.
        localizer: True crops around the centre-of-mass detection shifted by ``N(0, localizer_jitter_mm)``, as
            the loop's first crop sees it; ``offset`` is then the way to the reference joint.
        center_errors: ``(K, 3)`` camera mm, or None: errors of the localizer's centres (its estimate minus the
            reference joint, measured on frames it never saw); each crop centre (``localizer`` False) is moved by
            one of them, drawn uniformly, on top of the augmentation's shift and whether or not ``enabled``, so the
            predictor and updater learn from crops centred as wrongly as the loop will centre them.
    Returns:
        dict with ``crop`` ``(B, 128, 128, 1)`` normalised depth, ``pose`` ``(B, J, 3)`` cube units (y down)
        relative to ``center_xyz`` ``(B, 3)`` mm, ``offset`` ``(B, 3)`` cube units from the crop centre to the
        reference joint, ``cube`` ``(B,)`` mm.
    """
    intr = batch["intrinsics"]
    joints_xyz = tf_uvd_to_xyz(batch["joints_uvd"], intr)
    draw = _draws(tf.shape(joints_xyz)[0], seed, config, enabled)
    cube = batch["cube"] * draw["scale"]
    if localizer:
        center_xyz = tf_uvd_to_xyz(batch["com_uvd"], intr) + draw["jitter"]
    else:
        center_xyz = _moved(joints_xyz[:, reference_joint] + draw["shift"], center_errors, seed, 5)
    crop, pose, _ = crop_around(batch["depth"], intr, center_xyz, cube, draw["angle"], joints_xyz)
    return {"crop": crop, "pose": pose, "offset": pose[:, reference_joint], "center_xyz": center_xyz, "cube": cube}


SCENE_CROPS = ("scene", "hand", "object")
"""The crops :func:`augment_scene` can take."""


def augment_scene(batch: dict, config: AugmentConfig, seed, reference_joint: int, scene_cube_mm: float,
                  enabled: bool = True, crops: tuple[str, ...] = SCENE_CROPS, center_errors=None,
                  object_center_errors=None) -> dict:
    """Crops a batch of hand-object frames as the hand-object loop sees them, all turned by one augmentation angle.

    Up to three crops (``crops`` names those a task reads; each costs about as much as the rest of the pipeline):
    the scene (cube ``scene_cube_mm``, around the loop's centre-of-mass detection shifted by
    ``N(0, localizer_jitter_mm)``), the hand (around its reference joint) and the object (around its box centre),
    the last two shifted by ``N(0, translation_mm)`` and sized by the frame's cube; all cubes share one scale.

    Args:
        batch: as :func:`augment`'s, plus ``corners_uvd`` ``(B, 8, 3)`` the object's box corners and, for the
            scene crop, ``scene_com_uvd`` ``(B, 3)`` the loop's own detection: the centre of mass with the scene
            cube (:func:`training_dataset` adds it; the records' ``com_uvd`` used the hand's smaller cube).
        center_errors, object_center_errors: ``(K, 3)`` camera mm, or None: the scene localizers' errors (estimate
            minus truth on validation frames) for the hand's reference joint and the object's centre; each hand or
            object crop centre is moved by one of them, as :func:`augment`'s ``center_errors``, so the predictors and
            updaters learn from crops centred as wrongly as the loop will centre them.
    Returns:
        dict with ``cube`` ``(B,)`` mm, ``angle`` ``(B,)`` radians and ``intrinsics`` ``(B, 4)``; for ``scene``:
        ``scene_crop`` ``(B, 128, 128, 1)``, ``scene_cube`` ``(B,)`` mm, ``hand_offset`` and ``object_offset``
        ``(B, 3)`` from its centre to the reference joint and to the object centre, in units of half the scene
        cube; for ``hand``: ``crop``, ``pose`` ``(B, J, 3)`` cube units around ``center_xyz`` ``(B, 3)`` mm at pixel
        ``center_uvd``; for ``object``: ``object_crop``, ``corners`` ``(B, 8, 3)`` cube units around
        ``object_center_xyz`` at pixel ``object_center_uvd``.
    """
    intr = batch["intrinsics"]
    joints_xyz = tf_uvd_to_xyz(batch["joints_uvd"], intr)
    corners_xyz = tf_uvd_to_xyz(batch["corners_uvd"], intr)
    draw = _draws(tf.shape(joints_xyz)[0], seed, config, enabled)
    angle, cube = draw["angle"], batch["cube"] * draw["scale"]
    out = {"cube": cube, "angle": angle, "intrinsics": intr}
    if "scene" in crops:
        scene_xyz = tf_uvd_to_xyz(batch["scene_com_uvd"], intr) + draw["jitter"]
        targets = tf.stack([joints_xyz[:, reference_joint], tf.reduce_mean(corners_xyz, 1)], 1)
        scene_cube = cube * (scene_cube_mm / batch["cube"])
        scene_crop, offsets, _ = crop_around(batch["depth"], intr, scene_xyz, scene_cube, angle, targets)
        out.update(scene_crop=scene_crop, scene_cube=scene_cube, hand_offset=offsets[:, 0],
                   object_offset=offsets[:, 1])
    if "hand" in crops:
        hand_xyz = _moved(joints_xyz[:, reference_joint] + draw["shift"], center_errors, seed, 5)
        crop, pose, center_uvd = crop_around(batch["depth"], intr, hand_xyz, cube, angle, joints_xyz)
        out.update(crop=crop, pose=pose, center_xyz=hand_xyz, center_uvd=center_uvd)
    if "object" in crops:
        object_xyz = _moved(tf.reduce_mean(corners_xyz, 1) + draw["object_shift"], object_center_errors, seed, 6)
        object_crop, corners, object_center_uvd = crop_around(batch["depth"], intr, object_xyz, cube, angle,
                                                              corners_xyz)
        out.update(object_crop=object_crop, corners=corners, object_center_xyz=object_xyz,
                   object_center_uvd=object_center_uvd)
    return out


def training_dataset(frames: tf.data.Dataset, config: AugmentConfig, batch_size: int, seed: int,
                     reference_joint: int, augmented: bool = True, localizer: bool = False,
                     scene_cube_mm: float | None = None, scene_crops: tuple[str, ...] = SCENE_CROPS,
                     center_errors=None, object_center_errors=None) -> tf.data.Dataset:
    """Turns a dataset of parsed frames into batches of augmented crops (see :func:`augment`), endlessly.

    With ``scene_cube_mm`` set, frames are hand-object scenes cropped by :func:`augment_scene` instead, taking the
    ``scene_crops`` a task reads.

    Frames (whole, or windowed as :func:`handloop.recipes.records.frames_dataset` gives them for training, shuffled
    there) are repeated endlessly, cropped in parallel, order-preserving map calls, batched and prefetched two
    batches ahead: cropping a frame alone keeps its depth in cache and never pads windows to a common size. Each decoded frame
    gives ``config.views_per_frame`` crops with their own augmentation (decoding costs about twice a crop: three
    views gave 2.3x the crops per second of one here, enough for the light localizer-trunk networks). Frame ``n``
    of the stream (counting over epochs; a worker's part of the frames numbers them by their ``position``,
    :func:`handloop.recipes.records.frames_dataset`) draws its views' augmentation from the stateless seed
    ``(seed, n)``; example ``m`` carries ``seed`` ``(2,)`` = ``(seed + 1, m)``, its own stateless seed for tasks that
    draw random numbers.
    ``center_errors`` moves the hand crops' centres as the localizer would (see :func:`augment`), and
    ``object_center_errors`` the object crops' (scenes only, see :func:`augment_scene`).
    """
    seed, views = tf.cast(seed, tf.int64), config.views_per_frame

    def crop(index, frame):
        if scene_cube_mm and "scene" in scene_crops:  # once per frame, whatever the views
            detection = center_of_mass(frame["depth"][None], frame["intrinsics"][None], scene_cube_mm)
            frame = {**frame, "scene_com_uvd": detection[0]}
        several = {key: tf.repeat(value[None], views, axis=0) for key, value in frame.items()}
        key = tf.stack([seed, index])
        if scene_cube_mm:
            out = augment_scene(several, config, key, reference_joint, scene_cube_mm, augmented, scene_crops,
                                center_errors, object_center_errors)
        else:
            out = augment(several, config, key, reference_joint, augmented, localizer, center_errors)
        examples = index * views + tf.range(views, dtype=tf.int64)
        out["seed"] = tf.stack([tf.fill([views], seed + 1), examples], -1)
        return out

    if "position" in frames.element_spec:  # one worker's part of the frames, numbered in the whole stream
        numbered = frames.repeat().map(lambda frame: (frame["position"], {
            key: value for key, value in frame.items() if key != "position"}))
    else:
        numbered = tf.data.Dataset.zip(tf.data.Dataset.counter(), frames.repeat())
    return (numbered
            .map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .unbatch()
            .batch(batch_size, drop_remainder=True)
            .prefetch(2))
