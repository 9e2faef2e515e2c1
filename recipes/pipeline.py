"""tf.data input pipelines: frame records -> augmented, normalised crops and poses, all in-graph.

Augmentation (METHOD.md section 4) happens on whole batches inside the graph: the crop centre is the reference
joint (middle-finger MCP) shifted by ``N(0, translation_mm)`` per axis, the cube is scaled by
``|1 + N(0, scale_sigma)|`` and the crop window turns in-plane by ``U(-rotation, rotation)``; the joints turn the
same way about the centre's pixel and keep their depth. Random numbers are stateless, keyed by the recipe's seed
and each batch's position in the stream, so a pipeline is deterministic for a seed and resumable at any position.
"""

from __future__ import annotations

import math

import tensorflow as tf

from recipes.config import AugmentConfig
from zoo.camera import tf_uvd_to_xyz, tf_xyz_to_uvd
from zoo.layers.stn import stn_crop
from zoo.preprocess import CROP_SIZE


def _rotate_about(uvd, center_uvd, angle):
    """Turns the pixel coordinates of ``uvd`` ``(B, J, 3)`` by ``-angle`` about ``center_uvd`` ``(B, 3)``."""
    cos, sin = tf.cos(angle)[:, None], tf.sin(angle)[:, None]
    du = uvd[..., 0] - center_uvd[:, None, 0]
    dv = uvd[..., 1] - center_uvd[:, None, 1]
    u = center_uvd[:, None, 0] + cos * du + sin * dv
    v = center_uvd[:, None, 1] - sin * du + cos * dv
    return tf.stack([u, v, uvd[..., 2]], -1)


def augment(batch: dict, config: AugmentConfig, seed, reference_joint: int, enabled: bool = True,
            localizer: bool = False) -> dict:
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
    Returns:
        dict with ``crop`` ``(B, 128, 128, 1)`` normalised depth, ``pose`` ``(B, J, 3)`` cube units (y down)
        relative to ``center_xyz`` ``(B, 3)`` mm, ``offset`` ``(B, 3)`` cube units from the crop centre to the
        reference joint, ``cube`` ``(B,)`` mm.
    """
    intr = batch["intrinsics"]
    joints_xyz = tf_uvd_to_xyz(batch["joints_uvd"], intr)
    size = tf.shape(joints_xyz)[0]
    keys = tf.random.experimental.stateless_split(seed, 4)
    on = 1.0 if enabled else 0.0
    shift = tf.random.stateless_normal([size, 3], keys[0]) * config.translation_mm * on
    scale = tf.abs(1 + tf.random.stateless_normal([size], keys[1]) * config.scale_sigma * on)
    angle = tf.random.stateless_uniform([size], keys[2], -1.0, 1.0) * math.radians(config.rotation_deg) * on
    loc_shift = tf.random.stateless_normal([size, 3], keys[3]) * config.localizer_jitter_mm

    cube = batch["cube"] * scale
    if localizer:
        center_xyz = tf_uvd_to_xyz(batch["com_uvd"], intr) + loc_shift
    else:
        center_xyz = joints_xyz[:, reference_joint] + shift
    center_uvd = tf_xyz_to_uvd(center_xyz, intr)
    joints_uvd = _rotate_about(tf_xyz_to_uvd(joints_xyz, intr), center_uvd, angle)
    half = (cube / 2)[:, None]
    pose = (tf_uvd_to_xyz(joints_uvd, intr) - center_xyz[:, None]) / half[..., None]
    crop = stn_crop(batch["depth"], center_uvd, cube, intr, CROP_SIZE, angle)
    return {
        "crop": crop[..., None],
        "pose": pose,
        "offset": pose[:, reference_joint],
        "center_xyz": center_xyz,
        "cube": cube,
    }


def training_dataset(frames: tf.data.Dataset, config: AugmentConfig, batch_size: int, seed: int,
                     reference_joint: int, augmented: bool = True, shuffle_buffer: int = 0,
                     localizer: bool = False) -> tf.data.Dataset:
    """Turns a dataset of parsed frames into batches of augmented crops (see :func:`augment`), endlessly.

    Frames are shuffled per epoch (seeded), batched, then cropped by two parallel, order-preserving map calls
    and prefetched two batches ahead (full frames are large: 1.2 MB each at 640x480). Each batch also carries ``seed`` ``(B, 2)``: a stateless seed per example (``(seed, n)`` for the
    n-th example of the stream) for tasks that draw random numbers of their own. Batch ``n`` of the stream (counting over epochs) draws its augmentation from the stateless seed ``(seed, n)``.
    """
    if shuffle_buffer:
        frames = frames.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    frames = frames.repeat().batch(batch_size, drop_remainder=True)
    counter = tf.data.Dataset.counter()

    def crop(index, batch):
        out = augment(batch, config, tf.stack([tf.cast(seed, tf.int64), index]), reference_joint, augmented, localizer)
        examples = index * batch_size + tf.range(batch_size, dtype=tf.int64)
        out["seed"] = tf.stack([tf.fill([batch_size], tf.cast(seed, tf.int64)), examples], -1)
        return out

    return (tf.data.Dataset.zip(counter, frames)
            .map(crop, num_parallel_calls=2, deterministic=True)
            .prefetch(2))
