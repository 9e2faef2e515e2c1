"""Predictor (Fig. 5, DeepPrior++): residual trunk -> FC -> 30-d bottleneck -> fixed PCA layer -> (J, 3) pose."""

from __future__ import annotations

import keras
import numpy as np

from handloop.zoo.config import CROP_SIZE, PredictorConfig
from handloop.zoo.layers.pca import PCAPrior
from handloop.zoo.networks.common import OUTPUT_DTYPE, dense_head


def bottleneck_block(x, filters: int, stride: int, name: str):
    """Pre-activation bottleneck: BN-ReLU-C1x1(f/4), BN-ReLU-C3x3(f/4, stride), BN-ReLU-C1x1(f) + shortcut.

    The shortcut is a strided 1x1 projection when the resolution or width changes, else the identity.
    """
    pre = keras.layers.ReLU(name=f"{name}_preact_relu")(keras.layers.BatchNormalization(name=f"{name}_preact_bn")(x))
    if stride > 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_shortcut")(pre)
    else:
        shortcut = x
    y = keras.layers.Conv2D(filters // 4, 1, use_bias=False, name=f"{name}_conv1")(pre)
    y = keras.layers.ReLU(name=f"{name}_relu2")(keras.layers.BatchNormalization(name=f"{name}_bn2")(y))
    y = keras.layers.Conv2D(filters // 4, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.ReLU(name=f"{name}_relu3")(keras.layers.BatchNormalization(name=f"{name}_bn3")(y))
    y = keras.layers.Conv2D(filters, 1, name=f"{name}_conv3")(y)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def build_predictor(config: PredictorConfig, num_joints: int, crop: int = CROP_SIZE, name: str = "predictor"):
    """Builds the predictor: ``(B, crop, crop, 1)`` normalised depth -> ``(B, num_joints, 3)`` cube units."""
    inputs = keras.Input((crop, crop, 1), name=f"{name}_crop")
    x = keras.layers.Conv2D(config.stem, 5, padding="same", name="pred_stem_conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pred_stem_pool")(x)
    for s, filters in enumerate(config.stages, 1):
        for b in range(1, config.blocks + 1):
            x = bottleneck_block(x, filters, 2 if b == 1 else 1, f"pred_stage{s}_block{b}")
    x = keras.layers.ReLU(name="pred_post_relu")(keras.layers.BatchNormalization(name="pred_post_bn")(x))
    x = keras.layers.Flatten(name="pred_flatten")(x)
    x = dense_head(x, config.dense, config.dropout, "pred")
    embedding = keras.layers.Dense(config.bottleneck, name="pred_embedding")(x)
    pose = PCAPrior(num_joints, name="pred_pca", dtype=OUTPUT_DTYPE)(embedding)
    return keras.Model(inputs, pose, name=name)


def set_pca(model: keras.Model, components: np.ndarray, mean: np.ndarray) -> None:
    """Sets the predictor's PCA prior: ``(K, 3J)`` components and ``(3J,)`` mean, in cube units."""
    model.get_layer("pred_pca").set_pca(components, mean)
