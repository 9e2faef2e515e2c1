"""Synthesizer (Fig. 6): pose (J, 3) -> FC -> 8x8xC -> [unpool x2, conv] stages -> tanh depth crop.

Each [unpool, conv] stage and the head are :class:`handloop.zoo.layers.unpool.SubpixelConv2D` layers: the same weights
and values as unpooling plus ``Conv2D``, computed at half resolution (the last stage hands the head a packed map,
so the 128x128 feature map is never built; docs/export.md has the profile).

Grown layer by layer in training: ``stages=0`` outputs 8x8 (``config.base``), each further stage doubles the
resolution up to the loop's crop (:func:`full_stages`: 4 for 128x128). Layers keep their names across stage
counts, and each resolution has its own 1-channel
head (``synth_head_16``), so :func:`handloop.zoo.networks.transfer_weights` carries a trained stage into the next.
"""

from __future__ import annotations

import keras

from handloop.zoo.config import CROP_SIZE, SynthesizerConfig
from handloop.zoo.layers.unpool import SubpixelConv2D
from handloop.zoo.networks.common import OUTPUT_DTYPE, dense_head


def full_stages(config: SynthesizerConfig, crop: int = CROP_SIZE) -> int:
    """Unpool+conv stages that take ``config.base`` to ``crop`` pixels (4 for 8 -> 128).

    Raises:
        ValueError: when ``crop`` is not ``config.base`` times a power of two.
    """
    stages = (crop // config.base).bit_length() - 1
    if config.base * 2**stages != crop:
        raise ValueError(f"the synthesizer grows {config.base} px by powers of two: it cannot make {crop} px crops")
    return stages


def build_synthesizer(config: SynthesizerConfig, num_joints: int, crop: int = CROP_SIZE, stages: int | None = None,
                      name: str = "synthesizer"):
    """Builds the synthesizer: ``(B, num_joints, 3)`` cube units -> ``(B, S, S, 1)`` depth in [-1, 1].

    Args:
        crop: side of the loop's crops, pixels: the full-size output.
        stages: unpool+conv stages, 0 to :func:`full_stages` (None: all); the output side is
            ``config.base * 2**stages`` pixels.
    """
    top = full_stages(config, crop)
    stages = top if stages is None else stages
    if not 0 <= stages <= top:
        raise ValueError(f"synthesizer stages must be 0-{top}, got {stages}")
    inputs = keras.Input((num_joints, 3), name=f"{name}_pose")
    x = keras.layers.Flatten(name="synth_flatten")(inputs)
    x = dense_head(x, config.dense, 0.0, "synth")
    base = config.base
    x = keras.layers.Dense(base * base * config.channels, activation="relu", name="synth_fc_grid")(x)
    x = keras.layers.Reshape((base, base, config.channels), name="synth_grid")(x)
    for s in range(1, stages + 1):
        x = SubpixelConv2D(config.channels, config.kernel, activation="relu", packed_output=s == stages,
                           name=f"synth_conv{s}")(x)
    head = f"synth_head_{base * 2**stages}"
    if stages:
        out = SubpixelConv2D(1, config.kernel, activation="tanh", unpool=False, name=head, dtype=OUTPUT_DTYPE)(x)
    else:
        out = keras.layers.Conv2D(1, config.kernel, padding="same", activation="tanh", name=head,
                                  dtype=OUTPUT_DTYPE)(x)
    return keras.Model(inputs, out, name=name)
