"""Composing depth images in the frame: synthesized crops back to millimetres, and the pixel-wise minimum (eq. 21)."""

from __future__ import annotations

import keras
import tensorflow as tf

from handloop.zoo.layers.geometry import CubeLayer, per_crop

BACKGROUND = 0.98
"""Normalised depth at or beyond which a synthesized pixel counts as background (missing, 0 mm) in the frame."""
FAR_MM = 1e9
"""Depth standing in for 'missing' while merging, mm. Finite on purpose: TFLite turns an inf constant into the
largest float (so an is-finite test fails) and tf2onnx lowers a float select to ``x * c + y * (1 - c)``, where an
inf gives NaN."""


def min_merge(*depths_mm):
    """Pixel-wise minimum of depth images in mm where 0 means missing (treated as far, :data:`FAR_MM`).

    Each argument has the same shape; returns that shape, 0 where every input is 0. The gradient goes to the
    input that is selected at each pixel.
    """
    nearest = tf.where(depths_mm[0] > 0, depths_mm[0], FAR_MM)
    for depth in depths_mm[1:]:
        nearest = tf.minimum(nearest, tf.where(depth > 0, depth, FAR_MM))
    return tf.where(nearest < FAR_MM, nearest, tf.zeros_like(nearest))


@keras.saving.register_keras_serializable(package="handloop")
class MinMerge(keras.layers.Layer):
    """Keras layer of :func:`min_merge`: a list of ``(B, H, W, 1)`` depth images in mm -> their merge."""

    def call(self, depths_mm):
        return min_merge(*depths_mm)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


def cube_to_depth(image, center_z, cube):
    """Synthesized depth in cube units ``(B, ...)`` -> mm: ``s * cube / 2 + center_z``, 0 (missing) where
    ``s >= BACKGROUND``. ``center_z`` ``(B,)`` mm; ``cube`` mm, a number or ``(B,)``."""
    rank = len(image.shape)
    half = tf.convert_to_tensor(cube, image.dtype) / 2
    depth = image * (per_crop(half, rank) if len(half.shape) else half) + per_crop(center_z, rank)
    return tf.where(image < BACKGROUND, depth, tf.zeros_like(depth))


@keras.saving.register_keras_serializable(package="handloop")
class CubeToDepth(CubeLayer):
    """Normalised depth pasted into a frame -> mm: ``[frame (B,H,W,1) cube units, center_uvd (B,3)]`` -> mm.

    ``d = s * cube / 2 + center_z``; pixels at or beyond :data:`BACKGROUND` (the crop's rear side, where nothing
    was synthesized, and the ISTN fill outside the crop) become 0, missing.
    """

    def call(self, frame, center_uvd):
        return cube_to_depth(frame, center_uvd[:, 2], self.cube)
