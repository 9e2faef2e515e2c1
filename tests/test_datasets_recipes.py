"""The NYU, ICVL and MSRA recipes match their datasets, and converted shards feed the training pipeline."""

import numpy as np
import pytest
from dataset_fixtures import write_nyu

from handloop.recipes.config import load_recipe
from handloop.recipes.datasets import READERS, NyuReader
from handloop.recipes.datasets.convert import ConvertSettings, convert
from handloop.recipes.records import frames_dataset
from handloop.zoo.camera import CAMERAS
from handloop.zoo.joints import get_joint_set


@pytest.mark.parametrize("name", sorted(READERS))
def test_recipe_matches_its_dataset(name):
    recipe = load_recipe(name)
    config = recipe.model
    reader = READERS[name]
    cam = CAMERAS[reader.camera]
    assert (config.joint_set, config.num_joints) == (reader.joint_set, get_joint_set(reader.joint_set).size)
    assert (config.height, config.width) == (cam.height, cam.width)
    assert recipe.data.generate is None
    assert set(recipe.stages) == {"localizer", "predictor", "synthesizer", "updater"}


def test_converted_nyu_shards_feed_the_training_pipeline(tmp_path):
    from handloop.recipes.pipeline import training_dataset

    rng = np.random.default_rng(3)
    palm = rng.uniform([250, 200, 600], [390, 280, 800], (4, 1, 3))
    write_nyu(tmp_path / "nyu", "train", palm + rng.normal(0, [25, 25, 20], (4, 14, 3)))
    convert(NyuReader(tmp_path / "nyu"), ConvertSettings(shard_size=3), tmp_path / "shards", progress=False)
    recipe = load_recipe("nyu")
    batches = training_dataset(frames_dataset(tmp_path / "shards"), recipe.augment, 2, 0, recipe.model.reference_joint)
    batch = next(iter(batches))
    assert batch["crop"].shape == (2, 128, 128, 1) and batch["pose"].shape == (2, 14, 3)
    assert np.all(np.isfinite(batch["crop"])) and np.all(np.abs(batch["pose"]) < 2)
