"""One table per concept: every list of networks, stages and training tasks derives from the table of networks."""

import dataclasses

import pytest

from handloop.recipes.train.registry import LOOPS, register_task, task_class
from handloop.recipes.train.run import stages
from handloop.zoo.config import LoopConfig, SynthesizerConfig
from handloop.zoo.loops import build_network, network_names
from handloop.zoo.networks import NETWORKS, full_stages

HAND = LoopConfig()
HAND_OBJECT = LoopConfig(object="cuboid-large")


def test_every_network_config_field_is_one_row_of_the_table():
    fields = [f.name for f in dataclasses.fields(LoopConfig) if dataclasses.is_dataclass(getattr(HAND, f.name))]
    assert sorted(fields) == sorted(net.config for net in NETWORKS)
    assert {net.entity for net in NETWORKS} == {"hand", "object"}
    assert network_names(HAND) == ("localizer", "predictor", "synthesizer", "updater")
    assert network_names(HAND_OBJECT) == tuple(net.name for net in NETWORKS)


@pytest.mark.parametrize("config", [HAND, HAND_OBJECT], ids=LOOPS)
def test_each_stage_has_a_task_that_reads_only_earlier_networks(config):
    assert stages(config) == network_names(config)
    for position, name in enumerate(stages(config)):
        task = task_class(config, name)
        assert task.name == name or name == "synthesizer", (name, task)
        assert set(task.needs) <= set(stages(config)[:position]), (name, task.needs)


def test_registry_rejects_unknown_networks_and_loops():
    with pytest.raises(ValueError, match="the networks are"):
        register_task("discriminator")
    with pytest.raises(ValueError, match="the loops"):
        register_task("updater", "hand-and-cat")
    with pytest.raises(ValueError, match="no training task for network 'object_updater' of a hand loop"):
        task_class(HAND, "object_updater")


def test_one_crop_size_sets_the_networks_and_the_synthesizer():
    config = dataclasses.replace(HAND, crop=64)
    assert full_stages(config.synthesizer, 64) == 3 and full_stages(config.synthesizer) == 4
    assert build_network(config, "synthesizer").output_shape == (None, 64, 64, 1)
    assert build_network(config, "updater").input_shape == (None, 64, 64, 2)
    with pytest.raises(ValueError, match="cannot make 100 px"):
        full_stages(SynthesizerConfig(), 100)
