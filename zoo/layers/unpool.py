"""The synthesizer's upsampling convolutions, computed at half resolution on 2x2 phase-packed maps.

A *packed* map ``(B, h, w, 4C)`` holds the ``(B, 2h, 2w, C)`` map whose pixel ``(2i + a, 2j + b)`` is channel
block ``2a + b`` of packed pixel ``(i, j)``: TF's ``space_to_depth`` layout with block 2. A 'same' convolution
of the full-resolution map equals a 3x3-ish convolution of the packed map whose kernel routes each of the
``k x k`` taps to its phase pair, so the large map never has to be built, and after zero-unpooling (the paper's
Fig. 6: each value at the top-left of its 2x2 cell, zeros elsewhere) only the non-zero phase is multiplied.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def phase_taps(kernel_size: int, input_phases: int) -> np.ndarray:
    """Which full-resolution tap each packed-kernel entry carries.

    Args:
        kernel_size: odd side ``k`` of the full-resolution kernel.
        input_phases: 4 for a packed input, 1 for an unpooled input (only phase 0 is non-zero).
    Returns:
        ``(t, t, input_phases, 4)`` int array: the flat tap index ``ky * k + kx``, or ``k * k`` (a zero tap),
        for packed offset ``(ty, tx)``, input phase and output phase; ``t = 2 * ceil(r / 2) + 1``, ``r = k // 2``.
    """
    r = kernel_size // 2
    half = (r + 1) // 2
    side = 2 * half + 1
    taps = np.full((side, side, input_phases, 4), kernel_size * kernel_size, np.int32)
    for ty, tx, a_in, a_out in np.ndindex(side, side, input_phases, 4):
        (by, bx), (ay, ax) = divmod(a_in, 2), divmod(a_out, 2)
        # input row 2 (i + ty - half) + by feeds output row 2 i + ay through tap ky = that - output + r
        ky = 2 * (ty - half) + by - ay + r
        kx = 2 * (tx - half) + bx - ax + r
        if 0 <= ky < kernel_size and 0 <= kx < kernel_size:
            taps[ty, tx, a_in, a_out] = ky * kernel_size + kx
    return taps


@keras.saving.register_keras_serializable(package="handloop")
class SubpixelConv2D(keras.layers.Layer):
    """A full-resolution ``kernel x kernel`` 'same' conv (bias, activation), computed on packed maps.

    Its weights are a ``Conv2D``'s: kernel ``(k, k, C, filters)`` and bias ``(filters,)``, applied at the
    full (2x) resolution. Only builtin ops: CONV_2D and DEPTH_TO_SPACE in TFLite, Conv and DepthToSpace in ONNX
    and TensorRT; the values equal the direct convolution's to float rounding.

    Args:
        filters, kernel_size (odd), activation: as in ``keras.layers.Conv2D``.
        unpool: True: the input is a ``(B, h, w, C)`` map, zero-unpooled by 2 before the conv; False: the input
            is a packed ``(B, h, w, 4C)`` map.
        packed_output: True: return the packed ``(B, h, w, 4 filters)`` result (to feed another
            ``SubpixelConv2D``); False: the ``(B, 2h, 2w, filters)`` map.
    """

    def __init__(self, filters: int, kernel_size: int, activation=None, unpool: bool = True,
                 packed_output: bool = False, **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"SubpixelConv2D needs an odd kernel size, got {kernel_size}")
        self.filters, self.kernel_size = filters, kernel_size
        self.activation = keras.activations.get(activation)
        self.unpool, self.packed_output = unpool, packed_output

    def build(self, input_shape):
        channels = input_shape[-1] if self.unpool else input_shape[-1] // 4
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, channels, self.filters), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self._taps = phase_taps(k, 1 if self.unpool else 4)

    def packed_kernel(self):
        """The ``(t, t, phases * C, 4 * filters)`` kernel of the half-resolution conv."""
        k, channels = self.kernel_size, self.kernel.shape[2]
        flat = tf.reshape(self.kernel, (k * k, channels, self.filters))
        flat = tf.concat([flat, tf.zeros((1, channels, self.filters), flat.dtype)], 0)
        side, _, phases, _ = self._taps.shape
        gathered = tf.gather(flat, self._taps)  # (t, t, phases, 4, C, F)
        gathered = tf.transpose(gathered, (0, 1, 2, 4, 3, 5))
        return tf.reshape(gathered, (side, side, phases * channels, 4 * self.filters))

    def call(self, x):
        y = tf.nn.conv2d(x, self.packed_kernel(), 1, "SAME")
        y = self.activation(y + tf.tile(self.bias, [4]))
        return y if self.packed_output else tf.nn.depth_to_space(y, 2)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        return (b, h, w, 4 * self.filters) if self.packed_output else (b, 2 * h, 2 * w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation), "unpool": self.unpool,
                "packed_output": self.packed_output}
