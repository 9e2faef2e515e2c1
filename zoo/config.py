"""Config dataclasses of the zoo's networks and loops, with ``paper`` and ``lite`` presets.

``paper`` follows docs/method.md section 3 (the paper's layer tables); ``lite`` is our CPU/embedded size, trainable on
two CPU cores within a session. A :class:`LoopConfig` round-trips through a plain dict (``to_dict`` /
``from_dict``), which is how recipes and registry entries store it.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from handloop.zoo.joints import JOINT_SETS
from handloop.zoo.objects import OBJECTS
from handloop.zoo.validate import ConfigError, OneOf, Range, check

Count = Annotated[int, Range(1)]
"""Type hint of a count, a size in pixels or a layer width: an integer of at least 1."""
Positive = Annotated[float, Range(0, open_low=True)]
"""Type hint of a length or a rate: a number greater than 0."""
Fraction = Annotated[float, Range(0, 1, open_high=True)]
"""Type hint of a dropout rate: a number in [0, 1)."""

CROP_SIZE = 128
"""Side of the networks' input crop and of the synthesized image, pixels (the paper's 128 x 128): the default of
:attr:`LoopConfig.crop`, which every crop, network and synthesizer of a loop reads."""


@dataclasses.dataclass
class LocalizerConfig:
    """Localizer (Fig. 4): conv/pool stages, then FC layers with dropout, output 3 (offset in cube units)."""

    filters: tuple[Count, ...] = (8, 8, 8)
    kernels: tuple[Count, ...] = (5, 5, 3)
    pools: tuple[Count, ...] = (4, 2, 1)
    dense: tuple[Count, ...] = (1024, 1024)
    dropout: Fraction = 0.3


@dataclasses.dataclass
class PredictorConfig:
    """Predictor (Fig. 5, DeepPrior++): stem conv, pre-activation bottleneck stages, FC, PCA prior.

    Attributes:
        stem: filters of the 5x5 stem convolution (followed by 2x2 max-pooling).
        stages: output filters of each residual stage; each halves the resolution in its first module.
        blocks: bottleneck modules per stage.
        dense: widths of the FC layers (each followed by dropout).
        bottleneck: size of the pose embedding, mapped to 3J by the fixed PCA layer.
    """

    stem: Count = 32
    stages: tuple[Count, ...] = (64, 128, 256, 256)
    blocks: Count = 5
    dense: tuple[Count, ...] = (1024, 1024)
    dropout: Fraction = 0.3
    bottleneck: Count = 30


@dataclasses.dataclass
class SynthesizerConfig:
    """Synthesizer (Fig. 6): FC layers to ``base x base x channels``, then [unpool x2, conv] stages, tanh head."""

    dense: tuple[Count, ...] = (1024, 2048, 2048, 2048)
    base: Count = 8
    channels: Count = 32
    kernel: Count = 5


@dataclasses.dataclass
class UpdaterConfig:
    """Updater (Fig. 7): strided convolutions on (input crop, synthesized crop), FC layers, linear 3J output."""

    filters: tuple[Count, ...] = (32, 32, 32, 32)
    kernels: tuple[Count, ...] = (5, 5, 3, 3)
    dense: tuple[Count, ...] = (1024, 1024)


@dataclasses.dataclass
class LoopConfig:
    """A feedback loop: its networks and its geometry.

    Attributes:
        size: ``paper`` or ``lite`` (which preset the network configs came from).
        num_joints: J, joints of the pose (21 for the MSRA-order synthetic hand).
        joint_set: name of the joint order (:mod:`handloop.zoo.joints`).
        iterations: N, synthesize-update iterations, fixed when the loop is built.
        cube_mm: side of the metric crop cube, mm.
        crop: side of every crop the networks see and of the synthesized image, pixels; the synthesizer grows
            ``synthesizer.base`` by powers of two up to it.
        height, width: input frame size, pixels.
        reference_joint: joint the localizer finds and the crop centres on (middle MCP).
        object: None for a hand loop; the name of a :data:`handloop.zoo.objects.OBJECTS` model for a hand-object loop.
        com_stride: the centre-of-mass detection reads every ``com_stride``-th row and column of the frame
            (pixels): 2 reads a quarter of them for a centre within a pixel of the full-frame one, a cheaper
            detection (docs/export.md).
        scene_cube_mm: side of the larger cube around the hand and object together, mm (hand-object loops): the
            object and hand localizers see this crop; the hand and the object are then each cropped with
            ``cube_mm``.
        localizer, predictor, synthesizer, updater: the hand's networks.
        object_localizer, object_predictor, object_updater: the object's networks (hand-object loops); the
            object predictor uses the localizer's light trunk with 24 outputs (8 box corners), as the paper does.
    """

    size: Annotated[str, OneOf(PRESETS)] = "lite"
    num_joints: Count = 21
    joint_set: Annotated[str, OneOf(JOINT_SETS)] = "msra21"
    iterations: Annotated[int, Range(0)] = 2
    cube_mm: Positive = 300.0
    crop: Count = CROP_SIZE
    height: Count = 480
    width: Count = 640
    reference_joint: Annotated[int, Range(0)] = 5
    object: Annotated[str, OneOf(OBJECTS)] | None = None
    com_stride: Count = 2
    scene_cube_mm: Positive = 450.0
    localizer: LocalizerConfig = dataclasses.field(default_factory=LocalizerConfig)
    predictor: PredictorConfig = dataclasses.field(default_factory=PredictorConfig)
    synthesizer: SynthesizerConfig = dataclasses.field(default_factory=SynthesizerConfig)
    updater: UpdaterConfig = dataclasses.field(default_factory=UpdaterConfig)
    object_localizer: LocalizerConfig = dataclasses.field(default_factory=LocalizerConfig)
    object_predictor: LocalizerConfig = dataclasses.field(default_factory=LocalizerConfig)
    object_updater: UpdaterConfig = dataclasses.field(default_factory=UpdaterConfig)

    def __post_init__(self):
        """Checks every field against its type hint (every constructor, ``replace`` and ``from_dict`` runs it), so
        no loop is built from, say, ``iterations=-1``.

        Raises:
            ConfigError: (a ValueError) listing each wrong or out-of-range field.
        """
        problems = check(type(self), self.to_dict())
        if problems:
            raise ConfigError("loop config", problems)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON/YAML-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LoopConfig":
        """Builds a config from a dict; ``size`` picks the preset that missing network fields come from.

        Raises:
            ConfigError: (a ValueError) listing every unknown key and wrong or out-of-range value
                (:func:`handloop.zoo.validate.check`).
        """
        problems = check(cls, values)
        if problems:
            raise ConfigError("loop config", problems)
        return _update(PRESETS[values.get("size", "lite")](), values)


def _update(config, values: dict[str, Any]):
    """``config`` with (checked) ``values`` replaced; a dict for a field holding a config dataclass (a network's)
    updates that dataclass in turn."""
    fixed = {k: _update(getattr(config, k), v or {}) if dataclasses.is_dataclass(getattr(config, k)) else
             tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return dataclasses.replace(config, **fixed)


def paper() -> LoopConfig:
    """The paper's network sizes (docs/method.md section 3)."""
    return LoopConfig(size="paper")


def lite() -> LoopConfig:
    """Small networks for CPUs and embedded boards: one bottleneck per stage, narrow synthesizer and FCs."""
    return LoopConfig(
        size="lite",
        localizer=LocalizerConfig(dense=(256, 256)),
        predictor=PredictorConfig(stem=16, stages=(32, 64, 96, 128), blocks=1, dense=(512, 512)),
        synthesizer=SynthesizerConfig(dense=(512, 1024), channels=12),
        updater=UpdaterConfig(filters=(16, 32, 32, 32), dense=(512, 512)),
        object_localizer=LocalizerConfig(dense=(256, 256)),
        object_predictor=LocalizerConfig(dense=(256, 256)),
        object_updater=UpdaterConfig(filters=(16, 32, 32, 32), dense=(512, 512)),
    )


PRESETS = {"paper": paper, "lite": lite}
