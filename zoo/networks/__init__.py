"""The feedback loop's networks, one builder per family (Keras 3 functional models).

Every builder takes its config dataclass (:mod:`zoo.config`) and names its layers after where they sit
(``pred_stage2_block1_conv2``), so weight files and summaries read like the architecture.
"""

from zoo.networks.localizer import build_localizer
from zoo.networks.objects import build_object_localizer, build_object_predictor
from zoo.networks.predictor import build_predictor, set_pca
from zoo.networks.synthesizer import build_synthesizer
from zoo.networks.updater import build_updater
from zoo.networks.common import transfer_weights

__all__ = ["build_localizer", "build_object_localizer", "build_object_predictor", "build_predictor",
           "build_synthesizer", "build_updater", "set_pca", "transfer_weights"]
