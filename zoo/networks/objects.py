"""The object's networks (hand-object loops): localizer of the object centroid and predictor of its box corners.

Both use the localizer's light trunk (:func:`handloop.zoo.networks.localizer.light_regressor`), as the paper does for the
object for speed; the object's updater is :func:`handloop.zoo.networks.build_updater` with 8 "joints" (the corners).
"""

from __future__ import annotations

import keras

from handloop.zoo.config import CROP_SIZE, LocalizerConfig
from handloop.zoo.networks.common import OUTPUT_DTYPE
from handloop.zoo.networks.localizer import light_regressor

CORNERS = 8
"""Corners of an object's 3D bounding box: the object predictor's and updater's 'joints'."""


def build_object_localizer(config: LocalizerConfig, crop: int = CROP_SIZE, name: str = "object_localizer"):
    """``(B, crop, crop, 1)`` normalised depth -> ``(B, 3)`` offset to the object's centroid in cube units."""
    inputs = keras.Input((crop, crop, 1), name=f"{name}_crop")
    return keras.Model(inputs, light_regressor(inputs, config, 3, "oloc"), name=name)


def build_object_predictor(config: LocalizerConfig, crop: int = CROP_SIZE, name: str = "object_predictor"):
    """``(B, crop, crop, 1)`` normalised depth -> ``(B, 8, 3)`` box corners in cube units around the crop centre."""
    inputs = keras.Input((crop, crop, 1), name=f"{name}_crop")
    flat = light_regressor(inputs, config, 3 * CORNERS, "opred")
    corners = keras.layers.Reshape((CORNERS, 3), name="opred_corners", dtype=OUTPUT_DTYPE)(flat)
    return keras.Model(inputs, corners, name=name)
