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
def shards(tmp_path_factory):
    from handloop.recipes.synth.generate import SynthSettings, generate

    directory = tmp_path_factory.mktemp("object-shards")
    generate(SynthSettings(frames=24, seed=5, objects="cuboid-large", shard_size=24), directory, progress=False)
    return directory


@pytest.fixture(scope="module")
def frames(shards):
    from handloop.recipes.records import frames_dataset

    return frames_dataset(shards, windowed=True).cache()


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
    recipe.workdir, recipe.stages_dir = str(tmp_path), str(tmp_path / "stages")  # not the committed stages
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
    recipe = recipe_from_dict({**tree, "workdir": str(tmp_path), "stages_dir": str(tmp_path / "stages")})
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


def test_scene_crops_are_centred_with_the_localizers_errors(frames):
    """augment_scene moves the hand's and the object's crop centres by the errors it is given (one each here), and
    nothing else changes."""
    import tensorflow as tf

    from handloop.recipes.config import AugmentConfig
    from handloop.recipes.pipeline import augment_scene

    frame = next(iter(frames))
    batch = {k: v[None] for k, v in frame.items()}
    config, seed = AugmentConfig(), tf.constant([3, 4], tf.int64)
    plain = augment_scene(batch, config, seed, 0, 450.0, crops=("hand", "object"))
    moved = augment_scene(batch, config, seed, 0, 450.0, crops=("hand", "object"),
                          center_errors=tf.constant([[30.0, 0, 0]]), object_center_errors=tf.constant([[0, -20.0, 5]]))
    np.testing.assert_allclose(moved["center_xyz"] - plain["center_xyz"], [[30, 0, 0]], atol=1e-3)
    np.testing.assert_allclose(moved["object_center_xyz"] - plain["object_center_xyz"], [[0, -20, 5]], atol=1e-3)
    np.testing.assert_array_equal(moved["angle"], plain["angle"])


@pytest.fixture(scope="module")
def validated(tmp_path_factory, shards):
    """A tiny hand-object recipe validated on the shards, its crops centred with stored localizer errors."""
    recipe = recipe_from_dict({"name": "tiny-object-val", "model": CONFIG.to_dict(),
                               "data": {"val": str(shards), "shuffle_buffer": 24},
                               "augment": {"center_errors": "localizer"},
                               "workdir": str(tmp_path_factory.mktemp("runs-val"))})
    recipe.finished_dir.mkdir(parents=True)
    np.save(recipe.finished_dir / "localizer.errors.npy", np.array([[12.0, 0, 0]], np.float32))
    np.save(recipe.finished_dir / "object_localizer.errors.npy", np.array([[0, 0, -15.0]], np.float32))
    return recipe


def test_scene_tasks_validate_on_the_frames_with_the_object(validated, frames, nets, tmp_path):
    """Every network of the hand-object loop reports a validation metric per epoch (the updaters per iteration);
    the scene localizers' errors are stored for the crops of the other stages, which are centred with them."""
    localizer = object_tasks.SceneLocalizerTask(validated, frames, CONFIG)
    errors = localizer.center_errors_mm(localizer.build_model())
    assert errors.shape == (24, 3) and np.isfinite(errors).all()
    metrics = localizer.validate(localizer.build_model())
    assert metrics["centre_mm"] > 0 and metrics["centre_rms_mm"] > 0
    objects = object_tasks.ObjectLocalizerTask(validated, frames, CONFIG)
    assert objects.validate(localizer.build_model())["centre_mm"] > 0

    predictor = object_tasks.ObjectPredictorTask(validated, frames, CONFIG)
    batch = predictor.validation_batches()[0]
    # unaugmented: the object crop's centre is the box centre moved by the stored object-localizer error
    np.testing.assert_allclose(np.mean(batch["corners"], axis=1) * batch["cube"][:, None] / 2,
                               np.tile([[0, 0, 15.0]], (len(batch["cube"]), 1)), atol=0.5)
    assert predictor.validate(nets["object_predictor"])["corners_mm"] > 0

    hand = object_tasks.HandObjectUpdaterTask(validated, frames, CONFIG, nets["predictor"], nets["synthesizer"],
                                              nets["object_predictor"])
    objects = object_tasks.ObjectUpdaterTask(validated, frames, CONFIG, nets["object_predictor"],
                                             nets["synthesizer"], nets["predictor"])
    for task, metric in ((hand, "joints_mm"), (objects, "corners_mm")):
        metrics = task.validate(task.build_model())
        assert set(metrics) == {metric, "iteration_0_mm", "iteration_1_mm", "iteration_2_mm"}, metrics
        assert all(np.isfinite(v) and v > 0 for v in metrics.values())
        assert metrics[metric] == metrics["iteration_2_mm"]


def test_diagnosis_measures_each_error_source_from_finished_stages(shards, tmp_path):
    """benchmarks/diagnose_object_loop.py runs on a recipe's finished stages and reports the localizers, the
    updaters per iteration with true and with localizer-like centres, the synthesizer's IoU, and a figure."""
    import yaml

    from conftest import run_benchmark
    from handloop.zoo.loops import build_network

    tree = {"name": "tiny-diagnosis", "model": CONFIG.to_dict(), "augment": {"center_errors": "localizer"},
            "data": {"train": str(shards), "val": str(shards), "test": str(shards), "shuffle_buffer": 24},
            "stages_dir": str(tmp_path / "stages"), "workdir": str(tmp_path / "runs")}
    (tmp_path / "stages").mkdir()
    np.save(tmp_path / "stages" / "localizer.errors.npy", np.array([[12.0, 0, 0]], np.float32))
    np.save(tmp_path / "stages" / "object_localizer.errors.npy", np.array([[0, 0, -15.0]], np.float32))
    for name in stages(CONFIG):
        build_network(CONFIG, name).save_weights(tmp_path / "stages" / f"{name}.weights.h5")
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tree))
    run_benchmark("diagnose_object_loop", "--recipe", tmp_path / "tiny.yaml", "--out", tmp_path)
    report = (tmp_path / "diagnose_tiny-diagnosis.md").read_text()
    for line in ("| localizer ", "| object_localizer ", "| hand joints    | true centres",
                 "| object corners | localizers' errors", "iou_merged_with_true_object"):
        assert line in report, line
    assert (tmp_path / "diagnose_tiny-diagnosis.png").read_bytes()[:4] == b"\x89PNG"
