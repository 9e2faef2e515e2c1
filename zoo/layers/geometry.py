"""Graph layers of the loop's geometry: hand detection by centre of mass, and cube-unit <-> camera conversions.

All 3D here is in OpenCV camera axes (y down) in mm; intrinsics are per-frame ``(B, 4)`` fx, fy, cx, cy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from zoo.camera import tf_uvd_to_xyz, tf_xyz_to_uvd
from zoo.preprocess import DEPTH_MAX_MM, DEPTH_MIN_MM


def center_of_mass(depth_mm, intrinsics, cube: float, iterations: int = 3):
    """TF op of :func:`zoo.preprocess.center_of_mass`: ``(B, H, W)`` mm -> ``(B, 3)`` (u, v, d) pixels/mm.

    Pixels in (10, 1500) mm within ``cube`` mm behind the nearest one are averaged, then the centre is refined
    ``iterations`` times on the pixels inside the cube around it. A frame with no such pixel gives zeros (the
    inference API rejects it before the graph runs).
    """
    shape = tf.shape(depth_mm)
    us = tf.cast(tf.range(shape[2]), depth_mm.dtype)[None, None, :]
    vs = tf.cast(tf.range(shape[1]), depth_mm.dtype)[None, :, None]
    valid = (depth_mm > DEPTH_MIN_MM) & (depth_mm < DEPTH_MAX_MM)
    nearest = tf.reduce_min(tf.where(valid, depth_mm, DEPTH_MAX_MM), axis=[1, 2])
    mask = valid & (depth_mm < (nearest + cube)[:, None, None])

    def mean(m):
        weight = tf.cast(m, depth_mm.dtype)
        count = tf.reduce_sum(weight, axis=[1, 2])
        return tf.stack([tf.math.divide_no_nan(tf.reduce_sum(weight * t, axis=[1, 2]), count)
                         for t in (us, vs, depth_mm)], -1), count

    com, _ = mean(mask)
    for _ in range(iterations):
        hu = cube / 2 * intrinsics[:, 0] / tf.maximum(com[:, 2], 1.0)
        hv = cube / 2 * intrinsics[:, 1] / tf.maximum(com[:, 2], 1.0)
        cu, cv, cz = (tf.reshape(com[:, i], [-1, 1, 1]) for i in range(3))
        inside = (valid & (tf.abs(us - cu) < tf.reshape(hu, [-1, 1, 1])) & (tf.abs(vs - cv) < tf.reshape(hv, [-1, 1, 1]))
                  & (tf.abs(depth_mm - cz) < cube / 2))
        refined, count = mean(inside)
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
    """``[depth (B,H,W,1) mm, intrinsics (B,4)]`` -> ``(B, 3)`` hand centre (u, v, d)."""

    def call(self, depth_mm, intrinsics):
        return center_of_mass(depth_mm[..., 0], intrinsics, self.cube)


@keras.saving.register_keras_serializable(package="handloop")
class OffsetCenter(CubeLayer):
    """Moves a centre by an offset in cube units: ``[center_uvd, offset (B,3), intrinsics]`` -> ``(B, 3)`` uvd."""

    def call(self, center_uvd, offset, intrinsics):
        xyz = tf_uvd_to_xyz(center_uvd, intrinsics) + offset * (self.cube / 2)
        return tf_xyz_to_uvd(xyz, intrinsics)


@keras.saving.register_keras_serializable(package="handloop")
class PoseToCamera(CubeLayer):
    """``[pose (B,J,3) cube units, center_uvd (B,3), intrinsics]`` -> ``(xyz, uvd)``, each ``(B, J, 3)``."""

    def call(self, pose, center_uvd, intrinsics):
        xyz = pose * (self.cube / 2) + tf_uvd_to_xyz(center_uvd, intrinsics)[:, None, :]
        return xyz, tf_xyz_to_uvd(xyz, intrinsics)
