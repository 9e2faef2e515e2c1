"""Recipes are checked whole before any work: every problem on its own line naming the file (or --set) and the key,
one error with exit status 2 from the CLI, nothing generated or trained."""

import json

import pytest
import yaml

from handloop.cli import main
from handloop.recipes.config import RECIPES_DIR, load_recipe
from handloop.zoo.validate import ConfigError

GOOD = yaml.safe_load((RECIPES_DIR / "synth-hand-lite.yaml").read_text())


def _with(path: str, value, tree: dict = GOOD) -> dict:
    """A copy of ``tree`` (default: the shipped synth-hand-lite's) with ``value`` at dotted ``path`` (None removes
    the key)."""
    tree = json.loads(json.dumps(tree))
    *parents, last = path.split(".")
    node = tree
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return tree


CASES = {  # YAML text -> (key named in the message, words of the message)
    "invalid-yaml": ("name: [x\n", "", "invalid YAML"),
    "python-tag": ("name: !!python/object:os.system x\nmodel: {}\n", "", "could not determine a constructor"),
    "empty": ("", "name", "required, missing"),
    "not-a-mapping": ("- a\n- b\n", "(top level)", "expected a mapping"),
    "stages-list": (_with("stages", ["localizer"]), "stages", "expected a mapping"),
    "epochs-text": (_with("stages.predictor.epochs", "two"), "stages.predictor.epochs", "expected an integer"),
    "epochs-negative": (_with("stages.predictor.epochs", -1), "stages.predictor.epochs", "at least 1"),
    "lr-text": (_with("stages.predictor.learning_rate", "1e-3"), "stages.predictor.learning_rate", "1.0e-3"),
    "lr-zero": (_with("stages.predictor.learning_rate", 0), "stages.predictor.learning_rate", "greater than 0"),
    "decay-above-1": (_with("stages.predictor.decay", 1.5), "stages.predictor.decay", "at most 1"),
    "batch-zero": (_with("stages.predictor.batch_size", 0), "stages.predictor.batch_size", "at least 1"),
    "rotation-text": (_with("augment.rotation_deg", "lots"), "augment.rotation_deg", "expected a number"),
    "unknown-key": (_with("model.iteratons", 2), "model.iteratons", "did you mean 'iterations'"),
    "bad-choice": (_with("model.size", "liteee"), "model.size", "not one of ['lite', 'paper']"),
    "bad-dense": (_with("model.localizer", {"dense": [512, 0]}), "model.localizer.dense[1]", "at least 1"),
    "stage-typo": (_with("stages.predicter", {"epochs": 3}), "stages.predicter", "did you mean 'predictor'"),
    "split-typo": (_with("data.generate.tset", {"frames": 5, "seed": 1}), "data.generate.tset", "'test'"),
    "generate-frames": (_with("data.generate.test.frames", 0), "data.generate.test.frames", "at least 1"),
    "center-errors-no-val": (_with("data.val", None), "augment.center_errors", "set data.val"),
    "reference-joint": (_with("model.reference_joint", 21), "model.reference_joint", "less than num_joints"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_recipe_is_one_error_naming_file_and_key(case, tmp_path):
    text, key, words = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text if isinstance(text, str) else yaml.safe_dump(text))
    with pytest.raises(ConfigError) as raised:
        load_recipe(path)
    lines = str(raised.value).splitlines()[1:]
    assert lines and all(line.startswith(f"  {path}: ") for line in lines)
    assert any(f"{path}: {key}: " in line and words in line for line in lines) if key else words in lines[0]


def test_every_problem_is_listed_at_once(tmp_path):
    tree = _with("stages.predictor", {"epochs": "two", "batch_size": 0, "learning_rat": 0.1})
    tree["model"]["size"] = "huge"
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(tree))
    with pytest.raises(ConfigError) as raised:
        load_recipe(path)
    assert {key for key, _ in raised.value.problems} == {
        "model.size", "stages.predictor.epochs", "stages.predictor.batch_size", "stages.predictor.learning_rat"}


@pytest.mark.parametrize("override, line", [
    ("data=5", "--set data: expected a mapping"),
    ("x=[1", "--set x: value '[1' is not valid YAML"),
    ("seed.x=1", "--set seed: is 0, not a section"),
    ("nonsense", "must look like key.sub=value"),
    ("stages.predictor.epochs=-1", "--set stages.predictor.epochs: must be at least 1"),
    ("stages.predictr.epochs=3", "--set stages.predictr: not a network of this loop"),
    ("model.iteratons=3", "--set model.iteratons: unknown key; did you mean 'iterations'?"),
    ("model.iterations=0", "stages.updater: not a network of this loop, which trains "
                           "['localizer', 'predictor', 'synthesizer']"),
])
def test_bad_override_is_named_as_set(override, line):
    with pytest.raises(ConfigError, match="synth-hand-lite.yaml is invalid") as raised:
        load_recipe("synth-hand-lite", [override])
    assert line in str(raised.value)


def test_overrides_may_set_keys_the_file_leaves_to_defaults():
    recipe = load_recipe("synth-hand-lite", ["stages.localizer.grow_epochs=2", "model.predictor.blocks=2"])
    assert recipe.stages["localizer"].grow_epochs == 2 and recipe.model.predictor.blocks == 2


def test_override_of_a_shared_yaml_section_changes_only_its_key(tmp_path):
    """A recipe may give several stages one anchored schedule; ``--set`` on one stage leaves the others alone."""
    path = tmp_path / "anchored.yaml"
    path.write_text("name: anchored\nmodel: {size: lite}\nstages:\n  localizer: &s {epochs: 2, steps_per_epoch: 3}\n"
                    "  predictor: *s\n  synthesizer: *s\n  updater: *s\n")
    recipe = load_recipe(path, ["stages.predictor.epochs=5", "stages.predictor.init_from=start.weights.h5"])
    assert [recipe.stages[s].epochs for s in ("localizer", "predictor", "updater")] == [2, 5, 2]
    assert recipe.stages["predictor"].init_from == str(tmp_path.resolve() / "start.weights.h5")
    assert recipe.stages["localizer"].init_from is None


@pytest.mark.parametrize("name", sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
def test_shipped_recipes_load_unchanged(name):
    tree = yaml.safe_load((RECIPES_DIR / f"{name}.yaml").read_text())
    recipe = load_recipe(name)
    assert set(recipe.stages) == set(tree["stages"]) and recipe.seed == tree["seed"]
    for stage, values in tree["stages"].items():
        assert {k: getattr(recipe.stages[stage], k) for k in values} == values
    assert {k: getattr(recipe.model, k) for k, v in tree["model"].items() if not isinstance(v, dict)} == {
        k: v for k, v in tree["model"].items() if not isinstance(v, dict)}


def _file_without(*keys):
    """A function writing synth-hand-lite without ``keys`` (dotted) into ``tmp_path/recipe``; returns its path."""
    def write(tmp_path):
        path = tmp_path / "recipe" / "cut.yaml"
        path.parent.mkdir()
        tree = _with("stages_dir", None)
        for key in keys:
            tree = _with(key, None, tree)
        path.write_text(yaml.safe_dump(tree))
        return str(path)

    return write


@pytest.mark.parametrize("recipe, args, words", [
    ("synth-hand-lite", ["--set", "stages.predictor.epochs=-1"], "stages.predictor.epochs: must be at least 1"),
    (_file_without("data.generate.test"), [], "data.test: data/synth-test holds no shards"),
    ("synth-hand-lite", ["--stage", "object_localizer"], "--stage: 'object_localizer' is not a network of this loop"),
    (_file_without("stages.updater"), [], "stages.updater: missing"),
])
def test_cli_refuses_before_any_work(recipe, args, words, tmp_path, monkeypatch, capsys):
    recipe = recipe if isinstance(recipe, str) else recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["train", recipe, "--workdir", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing generated, no run folder
