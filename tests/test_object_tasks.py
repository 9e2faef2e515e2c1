"""The hand-object loop's training: scene crops, merged images, and every task's loss falls on tiny data."""

import numpy as np
import pytest

from conftest import on_one_batch
from handloop.recipes.config import StageConfig, load_recipe, recipe_from_dict
from handloop.recipes.train import object_tasks, tasks
from handloop.recipes.train.run import stages, stage_weights, train_stage
from handloop.recipes.train.trainer import fit
from handloop.zoo.config import LocalizerConfig, LoopConfig, PredictorConfig, SynthesizerConfig, UpdaterConfig

TINY_LOCALIZER = LocalizerConfig(filters=(4, 4, 4), dense=(32,), dropout=0.0)
TINY_UPDATER = UpdaterConfig(filters=(8, 8, 8, 8), dense=(32,))
CONFIG = LoopConfig(
    object="cuboid-large", localizer=TINY_LOCALIZER, object_localizer=TINY_LOCALIZER, object_predictor=TINY_LOCALIZER,
    predictor=PredictorConfig(stem=8, stages=(32, 32, 32, 32), blocks=1, dense=(64,), dropout=0.0, bottleneck=8),
    synthesizer=SynthesizerConfig(dense=(64,), channels=4), updater=TINY_UPDATER, object_updater=TINY_UPDATER,
)
STAGE = StageConfig(epochs=3, steps_per_epoch=6, batch_size=8, learning_rate=3e-3, decay=1.0)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from handloop.recipes.records import frames_dataset
    from handloop.recipes.synth.generate import SynthSettings, generate

    directory = tmp_path_factory.mktemp("object-shards")
    generate(SynthSettings(frames=24, seed=5, objects="cuboid-large", shard_size=24), directory, progress=False)
    return frames_dataset(directory, windowed=True).cache()


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    return recipe_from_dict({"name": "tiny-object", "model": CONFIG.to_dict(), "data": {"shuffle_buffer": 24},
                             "workdir": str(tmp_path_factory.mktemp("runs"))})


@pytest.fixture(scope="module")
def nets(recipe, frames):
    from handloop.zoo.networks import build_synthesizer

    return {"predictor": tasks.PredictorTask(recipe, frames, CONFIG).build_model(),
            "object_predictor": object_tasks.ObjectPredictorTask(recipe, frames, CONFIG).build_model(),
            "synthesizer": build_synthesizer(CONFIG.synthesizer, CONFIG.num_joints)}


def falls(task, tmp_path, stage=STAGE):
    import keras

    keras.utils.set_random_seed(0)
    result = fit(task, stage, tmp_path, progress=False)
    assert np.isfinite(result.losses).all()
    assert result.losses[-1] < result.losses[0], result.losses
    return result


def test_object_rendered_from_true_corners_matches_both_crops(recipe, frames, nets):
    task = object_tasks.ObjectUpdaterTask(recipe, frames, CONFIG, nets["object_predictor"], nets["synthesizer"],
                                          nets["predictor"])
    batch = next(iter(task.build_inputs(8)))
    _, _, fitted = task.fit_corners(batch["corners"], batch)
    np.testing.assert_allclose(fitted.numpy(), batch["corners"].numpy(), atol=1e-4)  # the truth is rigid
    for center, crop in (("object_center_uvd", "object_crop"), ("center_uvd", "crop")):
        rendered = task.object_image(batch["corners"], batch, center).numpy()
        seen = rendered < 0.99
        assert seen.mean() > 0.02, center  # the object is in both crops
        # where the object is in front, the input shows it; the rest is the hand in front, noise or dropout
        assert np.median(np.abs(rendered - batch[crop].numpy())[seen]) < 0.01, center


def test_scene_localizers_and_object_predictor_losses_fall(recipe, frames, tmp_path):
    falls(object_tasks.SceneLocalizerTask(recipe, frames, CONFIG), tmp_path / "loc")
    falls(object_tasks.ObjectLocalizerTask(recipe, frames, CONFIG), tmp_path / "oloc")
    falls(object_tasks.ObjectPredictorTask(recipe, frames, CONFIG), tmp_path / "opred")


@pytest.mark.parametrize("which", ["updater", "object_updater"])
def test_updater_on_merged_image_loss_falls(recipe, frames, nets, tmp_path, which):
    if which == "updater":
        task = object_tasks.HandObjectUpdaterTask(recipe, frames, CONFIG, nets["predictor"], nets["synthesizer"],
                                                  nets["object_predictor"])
    else:
        task = object_tasks.ObjectUpdaterTask(recipe, frames, CONFIG, nets["object_predictor"], nets["synthesizer"],
                                              nets["predictor"])
    task.grow_every = 99  # T_D growth is tested on the hand loop's updater
    result = falls(on_one_batch(task), tmp_path / which)
    assert result.model.name == which


def test_hand_object_recipe_has_every_stage_and_borrows_the_synthesizer(tmp_path):
    recipe = load_recipe("synth-hand-object-lite")
    recipe.workdir = str(tmp_path)
    assert stages(recipe.model) == ("localizer", "object_localizer", "predictor", "object_predictor", "synthesizer",
                                    "updater", "object_updater")
    assert all(recipe.stage(name) for name in stages(recipe.model))
    path = train_stage(recipe, "synthesizer", frames=None)
    assert path == stage_weights(recipe, "synthesizer") and path.is_file()
    from handloop import load

    expected = load("synth-hand-lite").model.get_layer("synthesizer").get_weights()
    from handloop.zoo.loops import build_network

    synthesizer = build_network(recipe.model, "synthesizer")
    synthesizer.load_weights(path)
    for a, b in zip(expected, synthesizer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_borrowing_from_an_entry_with_another_network_is_refused(tmp_path):
    import yaml

    from handloop.recipes.config import RECIPES_DIR

    tree = yaml.safe_load((RECIPES_DIR / "synth-hand-object-lite.yaml").read_text())
    tree["model"]["synthesizer"] = {"channels": 4}
    recipe = recipe_from_dict({**tree, "workdir": str(tmp_path)})
    with pytest.raises(ValueError, match="synthesizer.*synth-hand-lite"):
        train_stage(recipe, "synthesizer", frames=None)


def test_box_symmetries_and_alignment():
    from handloop.zoo.objects import ObjectModel, get_object

    box = get_object("cuboid-large")  # 60 x 60 x 90: a square section
    perms = box.symmetries()
    assert perms.shape == (8, 8) and (perms[0] == np.arange(8)).all()
    assert len(ObjectModel("b", "box", (10.0, 20.0, 30.0)).symmetries()) == 4
    corners = box.corners()
    quarter = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # a quarter turn about z maps the box onto itself
    assert any(np.allclose(corners @ quarter.T, corners[p]) for p in perms)
    truth = corners[None] + [0, 0, 500]
    turned = (corners @ quarter.T)[None] + [0, 0, 500]  # the same box seen, labelled another way
    np.testing.assert_allclose(box.align(truth, turned), turned)
    targets = object_tasks.nearest_symmetric(np.float32(truth), np.float32(turned), "cuboid-large")
    np.testing.assert_allclose(targets.numpy(), turned, atol=1e-4)
