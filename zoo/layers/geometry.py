"""Graph layers of the loop's geometry: hand detection by centre of mass, and cube-unit <-> camera conversions.

All 3D here is in OpenCV camera axes (y down) in mm; intrinsics are per-frame ``(B, 4)`` fx, fy, cx, cy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from handloop.zoo.camera import tf_uvd_to_xyz, tf_xyz_to_uvd
from handloop.zoo.preprocess import DEPTH_MAX_MM, DEPTH_MIN_MM


def per_crop(value, rank: int, channels: int | None = None):
    """``(B,)`` values (one per crop or frame) reshaped to ``(B, 1, ..., 1)`` of ``rank`` dimensions, to broadcast
    against a ``(B, ...)`` tensor of that rank; ``(B, C)`` vectors with ``channels`` C to ``(B, 1, ..., 1, C)``."""
    if channels is None:
        return tf.reshape(value, [-1] + [1] * (rank - 1))
    return tf.reshape(value, [-1] + [1] * (rank - 2) + [channels])


def center_of_mass(depth_mm, intrinsics, cube: float, iterations: int = 3, stride: int = 1):
    """TF op of :func:`handloop.zoo.preprocess.center_of_mass`: ``(B, H, W)`` mm -> ``(B, 3)`` (u, v, d) pixels/mm.

    Pixels in (10, 1500) mm within ``cube`` mm behind the nearest one are averaged, then the centre is refined
    ``iterations`` times on the pixels inside the cube around it, reading every ``stride``-th row and column
    (pixels). A frame with no such pixel gives zeros (the inference API rejects it before the graph runs).

    The sums over the frame are separable: the window's column and row limits multiply vectors, and the
    per-pixel work is only the depth band test, one product and two matrix-vector products per pass.
    """
    shape = tf.shape(depth_mm)
    dtype = depth_mm.dtype
    depth_mm = depth_mm[:, ::stride, ::stride]
    us = tf.cast(tf.range(0, shape[2], stride), dtype)[None, :]
    vs = tf.cast(tf.range(0, shape[1], stride), dtype)[None, :]
    valid = (depth_mm > DEPTH_MIN_MM) & (depth_mm < DEPTH_MAX_MM)
    # missing pixels move beyond every depth band below, so no mask has to exclude them again
    banded = tf.where(valid, depth_mm, DEPTH_MAX_MM + 2 * cube)
    nearest = tf.minimum(tf.reduce_min(banded, axis=[1, 2]), DEPTH_MAX_MM)

    def mean(mask, columns, rows):
        """Mean (u, v, d) over ``mask`` (B, H, W) restricted to ``columns`` (B, W) and ``rows`` (B, H) 0/1."""
        weight = tf.cast(mask, dtype)
        per_row = tf.matmul(weight, tf.stack([columns, columns * us], -1))  # (B, H, 2): count and u sum
        depth_row = tf.linalg.matvec(weight * depth_mm, columns)  # (B, H)
        count = tf.reduce_sum(rows * per_row[..., 0], 1)
        sums = [tf.reduce_sum(rows * per_row[..., 1], 1), tf.reduce_sum(rows * vs * per_row[..., 0], 1),
                tf.reduce_sum(rows * depth_row, 1)]
        return tf.stack([tf.math.divide_no_nan(s, count) for s in sums], -1), count

    all_columns, all_rows = tf.ones_like(depth_mm[:, 0, :]), tf.ones_like(depth_mm[:, :, 0])
    com, _ = mean(banded < (nearest + cube)[:, None, None], all_columns, all_rows)
    for _ in range(iterations):
        hu = cube / 2 * intrinsics[:, 0] / tf.maximum(com[:, 2], 1.0)
        hv = cube / 2 * intrinsics[:, 1] / tf.maximum(com[:, 2], 1.0)
        columns = tf.cast(tf.abs(us - com[:, 0:1]) < hu[:, None], dtype)
        rows = tf.cast(tf.abs(vs - com[:, 1:2]) < hv[:, None], dtype)
        band = tf.abs(banded - tf.reshape(com[:, 2], [-1, 1, 1])) < cube / 2
        refined, count = mean(band, columns, rows)
        com = tf.where((count > 0)[:, None], refined, com)
    return com


class CubeLayer(keras.layers.Layer):
    """Base of the loop's layers that are parametrised by the crop cube's side ``cube``, mm."""

    def __init__(self, cube: float, **kwargs):
        super().__init__(**kwargs)
        self.cube = cube

    def get_config(self):
        return {**super().get_config(), "cube": self.cube}


@keras.saving.register_keras_serializable(package="handloop")
class CenterOfMass(CubeLayer):
    """``[depth (B,H,W,1) mm, intrinsics (B,4)]`` -> ``(B, 3)`` hand centre (u, v, d); reads every ``stride``-th
    row and column."""

    def __init__(self, cube: float, stride: int = 1, **kwargs):
        super().__init__(cube, **kwargs)
        self.stride = stride

    def call(self, depth_mm, intrinsics):
        return center_of_mass(depth_mm[..., 0], intrinsics, self.cube, stride=self.stride)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="handloop")
class OffsetCenter(CubeLayer):
    """Moves a centre by an offset in cube units: ``[center_uvd, offset (B,3), intrinsics]`` -> ``(B, 3)`` uvd."""

    def call(self, center_uvd, offset, intrinsics):
        xyz = tf_uvd_to_xyz(center_uvd, intrinsics) + offset * (self.cube / 2)
        return tf_xyz_to_uvd(xyz, intrinsics)


@keras.saving.register_keras_serializable(package="handloop")
class PoseToCamera(CubeLayer):
    """``[pose (B,...,P,3) cube units, center_uvd (B,3), intrinsics]`` -> ``(xyz, uvd)``, each shaped like ``pose``:
    camera mm (OpenCV axes) and pixels/mm of poses around each frame's centre (one pose, or one per iteration)."""

    def call(self, pose, center_uvd, intrinsics):
        xyz = pose * (self.cube / 2) + per_crop(tf_uvd_to_xyz(center_uvd, intrinsics), len(pose.shape), 3)
        return xyz, tf_xyz_to_uvd(xyz, intrinsics)
