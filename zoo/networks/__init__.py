"""The feedback loop's networks: one builder per family (Keras 3 functional models) and the table of the loop's
networks, :data:`NETWORKS`.

Every builder takes its config dataclass (:mod:`handloop.zoo.config`) and names its layers after where they sit
(``pred_stage2_block1_conv2``), so weight files and summaries read like the architecture.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from handloop.zoo.networks.common import transfer_weights
from handloop.zoo.networks.localizer import build_localizer
from handloop.zoo.networks.objects import CORNERS, build_object_localizer, build_object_predictor
from handloop.zoo.networks.predictor import build_predictor, set_pca
from handloop.zoo.networks.synthesizer import build_synthesizer, full_stages
from handloop.zoo.networks.updater import build_updater


@dataclasses.dataclass(frozen=True)
class Network:
    """A network of the feedback loop.

    Attributes:
        name: its name everywhere: the nested model in the loop graph (``loop.get_layer(name)``), the recipe stage
            that trains it, its weights file, and the key under which :mod:`handloop.recipes.train.registry`
            registers its training task.
        config: the :class:`handloop.zoo.config.LoopConfig` field holding its config dataclass.
        build: ``(network config, loop config) -> keras.Model`` with random weights.
        entity: ``"hand"`` (a network of every loop) or ``"object"`` (of hand-object loops only).
        iterative: runs only inside the loop's iterations (the updaters), so a loop with 0 iterations, a
            predictor-only entry, has none.
    """

    name: str
    config: str
    build: Callable
    entity: str
    iterative: bool = False


NETWORKS = (
    Network("localizer", "localizer", lambda net, loop: build_localizer(net, loop.crop), "hand"),
    Network("object_localizer", "object_localizer", lambda net, loop: build_object_localizer(net, loop.crop),
            "object"),
    Network("predictor", "predictor", lambda net, loop: build_predictor(net, loop.num_joints, loop.crop), "hand"),
    Network("object_predictor", "object_predictor", lambda net, loop: build_object_predictor(net, loop.crop),
            "object"),
    Network("synthesizer", "synthesizer", lambda net, loop: build_synthesizer(net, loop.num_joints, loop.crop),
            "hand"),
    Network("updater", "updater", lambda net, loop: build_updater(net, loop.num_joints, loop.crop), "hand", True),
    Network("object_updater", "object_updater",
            lambda net, loop: build_updater(net, CORNERS, loop.crop, name="object_updater"), "object", True),
)
"""Every network of the loops, in training order: a recipe trains a loop's networks in this order (each stage may
read the trained networks before it); which of them a loop has is :func:`loop_networks`."""


def loop_networks(has_object: bool, iterations: int) -> tuple[str, ...]:
    """Names of the networks of a loop, in training order: the ``hand`` ones, and the ``object`` ones when it holds
    an object; without the ``iterative`` ones (the updaters) when it has 0 iterations (a predictor-only loop)."""
    return tuple(net.name for net in NETWORKS
                 if (net.entity == "hand" or has_object) and (iterations or not net.iterative))


__all__ = ["CORNERS", "NETWORKS", "Network", "build_localizer", "build_object_localizer", "build_object_predictor",
           "build_predictor", "build_synthesizer", "build_updater", "full_stages", "loop_networks", "set_pca",
           "transfer_weights"]
