"""Unpooling by 2 with zeros in the holes (the synthesizer's upsampling), from builtin-convertible ops only."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="handloop")
class ZeroUnpool2D(keras.layers.Layer):
    """``(B, H, W, C)`` -> ``(B, 2H, 2W, C)``: each value goes to the top-left of its 2x2 cell, the rest is 0.

    Built from concatenate + reshape with static spatial sizes, so the batch stays dynamic in TFLite (unlike
    Keras' ``UpSampling2D``, see STACK.md).
    """

    def call(self, x):
        _, height, width, channels = x.shape
        zeros = keras.ops.zeros_like(x)
        wide = keras.ops.reshape(keras.ops.concatenate([x, zeros], -1), (-1, height, 2 * width, channels))
        rows = keras.ops.concatenate([wide, keras.ops.zeros_like(wide)], 2)
        return keras.ops.reshape(rows, (-1, 2 * height, 2 * width, channels))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, 2 * h, 2 * w, c)
