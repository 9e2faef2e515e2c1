"""The feedback loop's networks, one builder per family (Keras 3 functional models).

Every builder takes its config dataclass (:mod:`handloop.zoo.config`) and names its layers after where they sit
(``pred_stage2_block1_conv2``), so weight files and summaries read like the architecture.
"""

from handloop.zoo.networks.localizer import build_localizer
from handloop.zoo.networks.objects import build_object_localizer, build_object_predictor
from handloop.zoo.networks.predictor import build_predictor, set_pca
from handloop.zoo.networks.synthesizer import build_synthesizer
from handloop.zoo.networks.updater import build_updater
from handloop.zoo.networks.common import transfer_weights

__all__ = ["build_localizer", "build_object_localizer", "build_object_predictor", "build_predictor",
           "build_synthesizer", "build_updater", "set_pca", "transfer_weights"]
