"""Updater (Fig. 7): (input crop, synthesized crop) -> pose update (J, 3) in cube units."""

from __future__ import annotations

import keras

from handloop.zoo.config import CROP_SIZE, UpdaterConfig
from handloop.zoo.networks.common import OUTPUT_DTYPE, dense_head


def build_updater(config: UpdaterConfig, num_joints: int, crop: int = CROP_SIZE, name: str = "updater"):
    """Builds the updater: ``(B, crop, crop, 2)`` -> ``(B, num_joints, 3)``; strided convs, no pooling."""
    inputs = keras.Input((crop, crop, 2), name=f"{name}_pair")
    x = inputs
    for i, (f, k) in enumerate(zip(config.filters, config.kernels), 1):
        x = keras.layers.Conv2D(f, k, strides=2, padding="same", activation="relu", name=f"upd_conv{i}")(x)
    x = keras.layers.Flatten(name="upd_flatten")(x)
    x = dense_head(x, config.dense, 0.0, "upd")
    x = keras.layers.Dense(3 * num_joints, name="upd_out", dtype=OUTPUT_DTYPE,
                           kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(x)
    return keras.Model(inputs, keras.layers.Reshape((num_joints, 3), name="upd_pose", dtype=OUTPUT_DTYPE)(x), name=name)
