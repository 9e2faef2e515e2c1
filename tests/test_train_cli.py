"""End to end on a tiny recipe: generate shards, train every stage, assemble the entry, run the demo on it."""

import json

import pytest
import yaml

from handloop.zoo.networks import NETWORKS
from handloop.cli import main

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
        "data": {"train": str(root / "train"), "test": str(root / "test"), "shuffle_buffer": 8,
                 "generate": {"train": {"frames": 12, "seed": 1}, "test": {"frames": 6, "seed": 1001}}},
        "stages": {name: stage for name in ("localizer", "predictor", "synthesizer", "updater")},
    }
    path = root / "tiny-hand.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path), "--no-progress", "--entry-dir", str(root / "entry")]) == 0
    return root


def test_train_writes_stages_and_entry(trained, capsys):
    for stage in ("localizer", "predictor", "synthesizer", "updater"):
        assert (trained / "runs" / "tiny-hand" / stage / f"{stage}.weights.h5").is_file()
    card = json.loads((trained / "entry" / "tiny-hand.json").read_text())
    assert card["metrics"]["test_frames"] == 6 and card["metrics"]["mean_mm"] > 0
    # A second run finds every stage done and only re-assembles.
    assert main(["train", str(trained / "tiny-hand.yaml"), "--stage", "predictor", "--no-progress"]) == 0
    assert "predictor:" in capsys.readouterr().out


def test_demo_json_and_figure(trained, tmp_path, capsys):
    card = str(trained / "entry" / "tiny-hand.json")
    assert main(["demo", "--name", card, "--frames", "3", "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 3
    assert [row["iteration"] for row in result["iterations"]] == [0, 1, 2]
    assert all(row["mean_mm"] > 0 for row in result["iterations"])
    assert (tmp_path / "iterations.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def trained_object(tmp_path_factory):
    root = tmp_path_factory.mktemp("object-recipe")
    stage = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4}
    tiny = {"filters": [4, 4, 4], "dense": [16]}
    recipe = {
        "name": "tiny-object", "workdir": str(root / "runs"),
        "model": {**TINY_MODEL, "object": "cuboid-large", "object_localizer": tiny, "object_predictor": tiny,
                  "object_updater": TINY_MODEL["updater"]},
        "data": {"train": str(root / "train"), "test": str(root / "test"), "shuffle_buffer": 8,
                 "generate": {"train": {"frames": 8, "seed": 1, "objects": "cuboid-large"},
                              "test": {"frames": 4, "seed": 1001, "objects": "cuboid-large"}}},
        "stages": {net.name: stage for net in NETWORKS},
    }
    path = root / "tiny-object.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["train", str(path), "--no-progress", "--entry-dir", str(root / "entry")]) == 0
    return root


def test_train_hand_object_recipe_writes_every_stage_and_object_metrics(trained_object, capsys):
    for stage in (net.name for net in NETWORKS):
        assert (trained_object / "runs" / "tiny-object" / stage / f"{stage}.weights.h5").is_file()
    card = json.loads((trained_object / "entry" / "tiny-object.json").read_text())
    metrics = card["metrics"]
    assert card["config"]["object"] == "cuboid-large" and metrics["test_frames"] == 4
    assert metrics["object_mean_mm"] > 0 and metrics["hand_object_mm"] > 0


def test_bad_recipe_and_override(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", "synth-hand-lite", "--set", "stages.predictor.nope=3"]) == 2
    assert "no key 'nope'" in capsys.readouterr().err


def test_shipped_recipes_parse():
    from handloop.recipes.config import RECIPES_DIR, load_recipe
    names = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    assert {"synth-hand-lite", "synth-hand"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert set(recipe.stages) >= {"localizer", "predictor", "synthesizer", "updater"}
        assert recipe.model.num_joints > 0
