"""End to end on a tiny recipe: generate shards, train every stage, assemble the entry, run the demo on it."""

import json

import numpy as np
import pytest
import yaml

from conftest import run_benchmark
from handloop.cli import main
from handloop.zoo.networks import NETWORKS

TINY_MODEL = {
    "size": "lite", "iterations": 2, "cube_mm": 300, "height": 480, "width": 640,
    "localizer": {"filters": [4, 4, 4], "dense": [16]},
    "predictor": {"stem": 8, "stages": [32, 32, 32, 32], "blocks": 1, "dense": [16], "bottleneck": 8},
    "synthesizer": {"dense": [16], "channels": 4},
    "updater": {"filters": [4, 4, 4, 4], "dense": [16]},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    stage = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4}
    recipe = {
        "name": "tiny-hand", "workdir": str(root / "runs"), "model": TINY_MODEL,
        "data": {"train": str(root / "train"), "test": str(root / "test"), "val": str(root / "val"),
                 "shuffle_buffer": 8, "generate": {"train": {"frames": 12, "seed": 1}, "val": {"frames": 8, "seed": 2001},
                                                   "test": {"frames": 6, "seed": 1001}}},
        "stages": {name: stage for name in ("localizer", "predictor", "synthesizer", "updater")},
    }
    path = root / "tiny-hand.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path), "--no-progress", "--entry-dir", str(root / "entry")]) == 0
    return root


HEADLINES = {"localizer": "centre_mm", "predictor": "joints_mm", "synthesizer": "silhouette_iou",
             "updater": "iteration_2_mm"}
"""The validation metric every stage's history and card must hold."""


def test_train_writes_stages_validation_and_entry(trained, capsys):
    import pandas as pd

    finished = trained / "runs" / "tiny-hand" / "stages"
    for stage, metric in HEADLINES.items():
        assert (finished / f"{stage}.weights.h5").is_file()
        card = json.loads((finished / f"{stage}.json").read_text())
        assert card["images"] > 0 and card["seconds"] > 0 and len(card["sha256"]) == 64
        history = pd.read_csv(finished / f"{stage}.history.csv")
        assert metric in history and history[metric].notna().all() and metric in card["validation"]
    assert pd.read_csv(finished / "synthesizer.history.csv")["run"].tolist() == [
        f"synthesizer-{8 * 2**k}" for k in range(5)]
    assert (finished / "localizer.errors.npy").is_file()
    card = json.loads((trained / "entry" / "tiny-hand.json").read_text())
    assert card["metrics"]["test_frames"] == 6 and card["metrics"]["mean_mm"] > 0


@pytest.fixture
def copy(trained, tmp_path):
    """A copy of the trained run (checkpoints and finished stages) with its own recipe file; returns the recipe."""
    import shutil

    shutil.copytree(trained / "runs", tmp_path / "runs")
    tree = yaml.safe_load((trained / "tiny-hand.yaml").read_text())
    tree["workdir"] = str(tmp_path / "runs")
    path = tmp_path / "tiny-hand.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_more_epochs_continue_a_finished_stage(copy, capsys):
    import pandas as pd

    finished = copy.parent / "runs" / "tiny-hand" / "stages"
    assert main(["train", str(copy), "--stage", "localizer", "--set", "stages.localizer.epochs=2",
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "localizer: finished after 1 epochs, continuing to 2" in captured.err
    assert "localizer: trained" in captured.out
    assert pd.read_csv(finished / "localizer.history.csv")["epoch"].tolist() == [1, 2]
    assert json.loads((finished / "localizer.json").read_text())["images"] == 2 * 2 * 4


def test_fresh_retrains_and_other_settings_are_refused(copy, capsys):
    run = copy.parent / "runs" / "tiny-hand" / "predictor"
    before = (run / "history.csv").stat().st_mtime_ns
    assert main(["train", str(copy), "--stage", "predictor", "--set", "stages.predictor.epochs=2",
                 "--set", "data.shuffle_buffer=4", "--no-progress"]) == 2
    assert "made with other settings (shuffle_buffer 8 -> 4)" in capsys.readouterr().err
    assert main(["train", str(copy), "--stage", "predictor", "--set", "data.shuffle_buffer=4", "--fresh",
                 "--no-progress"]) == 0
    assert "predictor: trained" in capsys.readouterr().out
    assert (run / "history.csv").stat().st_mtime_ns != before
    assert json.loads((run / "settings.json").read_text())["shuffle_buffer"] == 4


def _trainable(path, stage):
    """The trainable weights of a tiny-recipe network stored in ``path``."""
    from handloop.zoo.config import LoopConfig
    from handloop.zoo.loops import build_network

    model = build_network(LoopConfig.from_dict(TINY_MODEL), stage)
    model.load_weights(path)
    return [w.numpy() for w in model.trainable_weights]


def test_init_from_starts_a_stage_from_given_weights(trained, copy, capsys):
    """``init_from``: a weights file (relative to the recipe) for the predictor, a zoo entry for the synthesizer,
    which then trains at full size only; a learning rate of 1e-12 leaves the start unchanged. A missing file or the
    weights of another network are refused in one line."""
    import shutil

    import pandas as pd

    finished = copy.parent / "runs" / "tiny-hand" / "stages"
    shutil.copy(finished / "predictor.weights.h5", copy.parent / "start.weights.h5")
    still = ["--set", "stages.predictor.learning_rate=1.0e-12", "--set", "stages.synthesizer.learning_rate=1.0e-12"]
    assert main(["train", str(copy), "--stage", "predictor", "--fresh", "--no-progress", *still,
                 "--set", "stages.predictor.init_from=start.weights.h5"]) == 0
    for a, b in zip(_trainable(copy.parent / "start.weights.h5", "predictor"),
                    _trainable(finished / "predictor.weights.h5", "predictor")):
        np.testing.assert_allclose(a, b, atol=1e-3)
    assert main(["train", str(copy), "--stage", "synthesizer", "--fresh", "--no-progress", *still,
                 "--set", f"stages.synthesizer.init_from={trained / 'entry' / 'tiny-hand.json'}"]) == 0
    assert pd.read_csv(finished / "synthesizer.history.csv")["run"].tolist() == ["synthesizer-128"]
    assert json.loads((finished / "synthesizer.json").read_text())["init_from"] == str(trained / "entry" / "tiny-hand.json")
    capsys.readouterr()
    assert main(["train", str(copy), "--stage", "predictor", "--fresh", "--no-progress",
                 "--set", "stages.predictor.init_from=missing.weights.h5"]) == 2
    assert f"init_from {copy.parent / 'missing.weights.h5'} is not a file" in capsys.readouterr().err
    shutil.copy(finished / "localizer.weights.h5", copy.parent / "other.weights.h5")
    assert main(["train", str(copy), "--stage", "predictor", "--fresh", "--no-progress",
                 "--set", "stages.predictor.init_from=other.weights.h5"]) == 2
    assert "cannot start predictor from" in capsys.readouterr().err


def test_from_entry_stages_take_the_entry_networks_and_the_localizer_errors(trained, copy, capsys):
    """Stages with ``from_entry`` take an entry's networks untrained; a localizer taken so also records its centre
    errors on the validation split, which ``augment.center_errors: localizer`` needs to train the predictor (here a
    wider one than the entry's)."""
    entry = str(trained / "entry" / "tiny-hand.json")
    tree = yaml.safe_load(copy.read_text())
    tree.update(name="tiny-wider", augment={"center_errors": "localizer"})
    tree["model"]["predictor"] = {**TINY_MODEL["predictor"], "dense": [24]}
    tree["stages"].update(localizer={"from_entry": entry}, synthesizer={"from_entry": entry})
    path = copy.parent / "tiny-wider.yaml"
    path.write_text(yaml.safe_dump(tree))
    assert main(["train", str(path), "--no-progress", "--entry-dir", str(copy.parent / "entry")]) == 0
    finished = copy.parent / "runs" / "tiny-wider" / "stages"
    assert not (finished / "localizer.json").exists()  # taken, not trained
    for a, b in zip(_trainable(finished / "localizer.weights.h5", "localizer"),
                    _trainable(trained / "runs" / "tiny-hand" / "stages" / "localizer.weights.h5", "localizer")):
        np.testing.assert_array_equal(a, b)
    mine = np.load(finished / "localizer.errors.npy")
    theirs = np.load(trained / "runs" / "tiny-hand" / "stages" / "localizer.errors.npy")
    assert mine.shape == theirs.shape == (8, 3)
    np.testing.assert_allclose(mine, theirs, atol=0.5)  # the same localizer, stored in float16 by the entry
    assert json.loads((finished / "predictor.json").read_text())["images"] > 0


def test_finished_stages_are_skipped_with_a_message(trained, tmp_path, capsys):
    """A fresh clone holds the committed finished stages but no run folder: every stage is skipped, by name, and
    ``--fresh`` refuses to delete them."""
    import shutil

    tree = yaml.safe_load((trained / "tiny-hand.yaml").read_text())
    shutil.copytree(trained / "runs" / "tiny-hand" / "stages", tmp_path / "stages")
    tree.update(workdir=str(tmp_path / "runs"), stages_dir="stages")
    (tmp_path / "tiny-hand.yaml").write_text(yaml.safe_dump(tree))
    capsys.readouterr()
    assert main(["train", str(tmp_path / "tiny-hand.yaml"), "--no-progress", "--entry-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for stage in HEADLINES:
        assert f"{stage}: finished earlier, skipped: {tmp_path / 'stages' / stage}.weights.h5" in out
    assert not (tmp_path / "runs" / "tiny-hand").exists()
    # Continuing needs the checkpoints, which a fresh clone lacks: said in one line.
    assert main(["train", str(tmp_path / "tiny-hand.yaml"), "--stage", "updater", "--set",
                 "stages.updater.epochs=3", "--no-progress"]) == 2
    assert "its checkpoints are not in" in capsys.readouterr().err
    # --fresh never deletes the committed stages of a recipe's stages_dir.
    assert main(["train", str(tmp_path / "tiny-hand.yaml"), "--stage", "predictor", "--fresh", "--no-progress"]) == 2
    assert "--fresh does not delete committed stages" in capsys.readouterr().err
    assert (tmp_path / "stages" / "predictor.weights.h5").is_file()


def test_demo_json_and_figure(trained, tmp_path, capsys):
    card = str(trained / "entry" / "tiny-hand.json")
    assert main(["demo", "--name", card, "--frames", "3", "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 3
    assert [row["iteration"] for row in result["iterations"]] == [0, 1, 2]
    assert all(row["mean_mm"] > 0 for row in result["iterations"])
    assert (tmp_path / "iterations.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def trained_object(trained, tmp_path_factory):
    """The hand-object recipe as the shipped one: its synthesizer taken from the hand entry, the rest trained."""
    root = tmp_path_factory.mktemp("object-recipe")
    stage = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4}
    tiny = {"filters": [4, 4, 4], "dense": [16]}
    recipe = {
        "name": "tiny-object", "workdir": str(root / "runs"),
        "model": {**TINY_MODEL, "object": "cuboid-large", "object_localizer": tiny, "object_predictor": tiny,
                  "object_updater": TINY_MODEL["updater"]},
        "data": {"train": str(root / "train"), "val": str(root / "val"), "test": str(root / "test"),
                 "shuffle_buffer": 8,
                 "generate": {"train": {"frames": 8, "seed": 1, "objects": "cuboid-large"},
                              "val": {"frames": 4, "seed": 2001, "objects": "cuboid-large"},
                              "test": {"frames": 4, "seed": 1001, "objects": "cuboid-large"}}},
        "augment": {"center_errors": "localizer"},
        "stages": {**{net.name: stage for net in NETWORKS},
                   "synthesizer": {"from_entry": str(trained / "entry" / "tiny-hand.json")}},
    }
    path = root / "tiny-object.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path), "--no-progress", "--entry-dir", str(root / "entry")]) == 0
    return root


def test_train_hand_object_recipe_writes_every_stage_and_object_metrics(trained_object, capsys):
    """Every stage is trained and validated (the object's networks by their corner error), both scene localizers'
    errors are stored for the crops of the stages after them, and the entry is measured on the object."""
    import pandas as pd

    finished = trained_object / "runs" / "tiny-object" / "stages"
    for stage in (net.name for net in NETWORKS):
        assert (finished / f"{stage}.weights.h5").is_file()
    for localizer in ("localizer", "object_localizer"):
        assert np.load(finished / f"{localizer}.errors.npy").shape == (4, 3)
    for stage, metric in (("localizer", "centre_mm"), ("object_localizer", "centre_mm"),
                          ("object_predictor", "corners_mm"), ("updater", "iteration_2_mm"),
                          ("object_updater", "corners_mm")):
        assert pd.read_csv(finished / f"{stage}.history.csv")[metric].notna().all(), stage
    card = json.loads((trained_object / "entry" / "tiny-object.json").read_text())
    metrics = card["metrics"]
    assert card["config"]["object"] == "cuboid-large" and metrics["test_frames"] == 4
    assert metrics["object_mean_mm"] > 0 and metrics["hand_object_mm"] > 0


def test_bad_recipe_and_override(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", "synth-hand-lite", "--set", "stages.predictor.nope=3"]) == 2
    assert "stages.predictor.nope: unknown key" in capsys.readouterr().err


def test_shipped_recipes_parse():
    from handloop.recipes.config import RECIPES_DIR, load_recipe
    names = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    assert {"synth-hand-lite", "synth-hand"} <= set(names)
    from handloop.zoo.loops import network_names

    for name in names:
        recipe = load_recipe(name)
        assert set(recipe.stages) == set(network_names(recipe.model)) >= {"localizer", "predictor", "synthesizer"}
        assert ("updater" in recipe.stages) == (recipe.model.iterations > 0), name
        assert recipe.model.num_joints > 0


def test_learning_curves_drawn_for_every_stage(trained, tmp_path):
    run_benchmark("plot_curves", "--recipe", trained / "tiny-hand.yaml", "--out", tmp_path)
    for stage in HEADLINES:
        assert (tmp_path / f"curves_tiny-hand_{stage}.png").read_bytes()[:4] == b"\x89PNG"


def test_accuracy_benchmark_per_iteration(trained, tmp_path):
    """bench_accuracy tables an entry's error per iteration on a test folder; ``--tag`` keeps a run on another
    entry's frames apart from the entry's own."""
    import pandas as pd

    run_benchmark("bench_accuracy", "--name", trained / "entry" / "tiny-hand.json", "--test", trained / "test",
                  "--tag", "other-frames", "--out", tmp_path)
    table = pd.read_csv(tmp_path / "accuracy_tiny-hand_other-frames.csv")
    assert table["stage"].tolist() == ["predictor", "iteration 1", "iteration 2"]
    assert (table["mean_mm"] > 0).all()
    assert "6 test frames" in (tmp_path / "accuracy_tiny-hand_other-frames.md").read_text()


def test_synthesizer_gallery(trained, tmp_path):
    run_benchmark("synth_gallery", "--recipe", trained / "tiny-hand.yaml", "--frames", 2, "--out", tmp_path)
    assert (tmp_path / "synth_gallery_tiny-hand.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_of_a_hand_object_entry_compares_corners_too(trained_object, tmp_path, capsys):
    """``handloop bench`` runs a hand-object entry on frames holding its object and measures each format's
    distance to Keras over the joints and the box corners."""
    card = trained_object / "entry" / "tiny-object.json"
    assert main(["bench", str(card), "--formats", "keras", "keras-eager", "--frames", "2", "--repeats", "1",
                 "--no-paper", "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["format"]: row for row in result["formats"]}
    assert rows["keras-eager"]["status"] == "ok" and 0 <= rows["keras-eager"]["vs_keras_max_mm"] < 0.1
    assert "distance of the joints and box corners" in result["setup"]


def test_bench_points_are_joints_then_corners():
    from types import SimpleNamespace

    from handloop.export.bench import _points

    joints, corners = np.zeros((2, 21, 3)), np.ones((2, 8, 3))
    assert _points(SimpleNamespace(joints_xyz=joints, corners_xyz=None)) is joints
    points = _points(SimpleNamespace(joints_xyz=joints, corners_xyz=corners))
    assert points.shape == (2, 29, 3) and (points[:, 21:] == 1).all()
