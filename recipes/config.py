"""Recipes: a named tree of config dataclasses, read from YAML and overridable with ``key.sub=value``.

A recipe names the zoo entry it trains, the loop it builds (:class:`handloop.zoo.config.LoopConfig`), the data it reads,
the online augmentation and one :class:`StageConfig` per trained network.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from handloop.zoo.config import LoopConfig

RECIPES_DIR = Path(__file__).resolve().parent
"""Where the shipped ``*.yaml`` recipes live."""


@dataclasses.dataclass
class AugmentConfig:
    """Online augmentation, applied identically to image and pose (docs/method.md section 4).

    Attributes:
        rotation_deg: in-plane rotation drawn uniformly from +-rotation_deg, degrees.
        scale_sigma: cube scale factor ``|1 + N(0, scale_sigma)|``.
        translation_mm: standard deviation of the crop-centre shift per axis, mm.
        localizer_jitter_mm: standard deviation of the shift added to the centre-of-mass detection around which
            the localizer's crops are taken, mm.
        views_per_frame: differently augmented crops taken from each decoded frame: decoding costs about twice a
            crop, so several views raise the crops per second (``benchmarks/bench_training.py``).
        center_errors: where the predictor's and updater's crops are centred: ``gaussian``, the reference joint
            shifted by ``N(0, translation_mm)``; ``localizer``, also moved by one of the errors the trained localizer
            made on the validation split (drawn uniformly), as the loop will centre them.
    """

    rotation_deg: float = 180.0
    scale_sigma: float = 0.02
    translation_mm: float = 5.0
    localizer_jitter_mm: float = 10.0
    views_per_frame: int = 1
    center_errors: str = "gaussian"


@dataclasses.dataclass
class DataConfig:
    """Training data: TFRecord shard folders and, for synthetic data, how to generate them when missing.

    Attributes:
        train, test: shard folders (relative paths resolve against the working directory).
        val: shard folder of frames of subjects neither in ``train`` nor in ``test``, measured after every epoch
            (None: no validation).
        generate: None for real data; else ``{frames, seed, objects}`` per split for ``handloop data synth``.
        shuffle_buffer: frames in the shuffle buffer.
    """

    train: str = "data/synth-train"
    test: str = "data/synth-test"
    val: str | None = None
    generate: dict | None = None
    shuffle_buffer: int = 2048


@dataclasses.dataclass
class StageConfig:
    """How one network is trained.

    Attributes:
        epochs: passes over ``steps_per_epoch`` batches.
        steps_per_epoch: batches per epoch (None: the training set once).
        batch_size: global batch size (split across replicas).
        learning_rate: initial Adam learning rate; decays by ``decay`` each epoch.
        grow_epochs: the synthesizer's epochs at each resolution below the full one (None: ``epochs``); the small
            resolutions learn the coarse shape quickly and cost little.
        jit_compile: compile the training step with XLA (the synthesizer's sub-pixel upsampling trains about twice
            as fast with it on this project's CPU; the convolutional trunks do not gain).
        from_entry: instead of training, take the trained network of this name from this zoo entry (name or
            card path); the entry's network config must equal the recipe's.
    """

    epochs: int = 10
    steps_per_epoch: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    decay: float = 0.9
    grow_epochs: int | None = None
    jit_compile: bool = False
    from_entry: str | None = None


@dataclasses.dataclass
class Recipe:
    """A zoo entry's full training recipe.

    Attributes:
        model: the loop it trains (its ``reference_joint`` is the joint the training crops centre on); one stage
            per network of that loop (:func:`handloop.zoo.loops.network_names`), named after it.
        seed: seeds the data order, the augmentation and every network's initial weights.
        workdir: folder of the runs' checkpoints and logs (None: ``runs`` in the user cache,
            :func:`handloop.zoo.fileio.user_cache`), kept outside the work tree so a run outlives a checkout.
        stages_dir: folder of the finished stages' weights (float16) and cards; a relative path is relative to the
            recipe's file (None: ``<run_dir>/stages``). The shipped recipes keep theirs beside them so finished
            stages are committed and a fresh clone continues at the first unfinished stage.
    """

    name: str
    model: LoopConfig
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    stages: dict[str, StageConfig] = dataclasses.field(default_factory=dict)
    seed: int = 0
    workdir: str | None = None
    stages_dir: str | None = None

    def stage(self, name: str) -> StageConfig:
        """The config of stage ``name``; ValueError naming the recipe's stages otherwise."""
        if name not in self.stages:
            raise ValueError(f"recipe {self.name!r} has no stage {name!r}; it has {sorted(self.stages)}")
        return self.stages[name]

    @property
    def run_dir(self) -> Path:
        """Folder holding this recipe's checkpoints, validation curves and TensorBoard logs."""
        from handloop.zoo.fileio import user_cache

        return Path(self.workdir or user_cache() / "runs") / self.name

    @property
    def finished_dir(self) -> Path:
        """Folder of the finished stages' weights and cards (see ``stages_dir``)."""
        return Path(self.stages_dir) if self.stages_dir else self.run_dir / "stages"


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    """Applies ``key.sub=value`` strings (values parsed as YAML) to a nested dict, in place; returns it.

    Raises:
        ValueError: for a string without ``=`` or a key path that does not exist.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        path, value = item.split("=", 1)
        node = tree
        keys = path.split(".")
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise ValueError(f"override {item!r}: no section {key!r} in the recipe")
            node = node[key]
        if keys[-1] not in node:
            raise ValueError(f"override {item!r}: no key {keys[-1]!r}; known: {sorted(node)}")
        node[keys[-1]] = yaml.safe_load(value)
    return tree


def _build(cls, values: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(names)}")
    return cls(**values)


def recipe_from_dict(tree: dict) -> Recipe:
    """Builds a :class:`Recipe` from its YAML tree, rejecting unknown keys by name."""
    tree = dict(tree)
    model = LoopConfig.from_dict(tree.pop("model", {}))
    data = _build(DataConfig, tree.pop("data", {}), "data")
    augment = _build(AugmentConfig, tree.pop("augment", {}), "augment")
    stages = {k: _build(StageConfig, v or {}, f"stages.{k}") for k, v in tree.pop("stages", {}).items()}
    return _build(Recipe, {**tree, "model": model, "data": data, "augment": augment, "stages": stages}, "recipe")


def load_recipe(spec: str | Path, overrides: list[str] = ()) -> Recipe:
    """Loads a recipe from a YAML path or the name of a shipped recipe (``synth-hand-lite``).

    Raises:
        FileNotFoundError: naming the path and the shipped recipes.
    """
    path = Path(spec)
    if not path.is_file():
        path = RECIPES_DIR / f"{spec}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"recipe {spec!r} not found: not a file, and not one of {shipped}")
    tree = yaml.safe_load(path.read_text()) or {}
    recipe = recipe_from_dict(apply_overrides(tree, list(overrides)))
    if recipe.stages_dir and not Path(recipe.stages_dir).is_absolute():
        recipe.stages_dir = str(path.resolve().parent / recipe.stages_dir)
    return recipe
