"""Localizer (Fig. 4): 128x128 crop -> offset (u, v, d) to the reference joint, in cube units."""

from __future__ import annotations

import keras

from handloop.zoo.config import CROP_SIZE, LocalizerConfig
from handloop.zoo.networks.common import OUTPUT_DTYPE, dense_head


def conv_trunk(x, filters, kernels, pools, prefix: str):
    """Conv (ReLU, same padding) + max-pool stages; a pool of 1 means none. Returns the flattened features."""
    for i, (f, k, p) in enumerate(zip(filters, kernels, pools), 1):
        x = keras.layers.Conv2D(f, k, padding="same", activation="relu", name=f"{prefix}_conv{i}")(x)
        if p > 1:
            x = keras.layers.MaxPooling2D(p, name=f"{prefix}_pool{i}")(x)
    return keras.layers.Flatten(name=f"{prefix}_flatten")(x)


def light_regressor(inputs, config: LocalizerConfig, outputs: int, prefix: str):
    """The localizer's layers on ``inputs`` ``(B, S, S, 1)``: conv trunk, FC head, linear ``(B, outputs)``.

    Layers are named ``{prefix}_conv1`` ... ``{prefix}_out``.
    """
    x = conv_trunk(inputs, config.filters, config.kernels, config.pools, prefix)
    x = dense_head(x, config.dense, config.dropout, prefix)
    return keras.layers.Dense(outputs, name=f"{prefix}_out", dtype=OUTPUT_DTYPE)(x)


def build_localizer(config: LocalizerConfig, crop: int = CROP_SIZE, name: str = "localizer"):
    """Builds the hand localizer: ``(B, crop, crop, 1)`` normalised depth -> ``(B, 3)`` offset in cube units."""
    inputs = keras.Input((crop, crop, 1), name=f"{name}_crop")
    return keras.Model(inputs, light_regressor(inputs, config, 3, "loc"), name=name)
