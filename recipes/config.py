"""Recipes: a named tree of config dataclasses, read from YAML and overridable with ``key.sub=value``.

A recipe names the zoo entry it trains, the loop it builds (:class:`handloop.zoo.config.LoopConfig`), the data it reads,
the online augmentation and one :class:`StageConfig` per trained network. :func:`load_recipe` checks the whole tree
before anything is built or run (types and ranges from the dataclasses' type hints, :mod:`handloop.zoo.validate`,
then the rules between fields) and reports every problem at once, one line each naming the file and the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

import yaml

from handloop.recipes.synth.generate import SynthSettings
from handloop.zoo.config import Count, LoopConfig, Positive
from handloop.zoo.validate import ConfigError, OneOf, Problem, Range, check, did_you_mean

NonNegative = Annotated[float, Range(0)]
"""Type hint of a spread or a shift: a number of at least 0."""
SPLITS = ("train", "val", "test")
"""The data splits a recipe names (:class:`DataConfig`)."""

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
"""The ``tf.distribute`` strategies a recipe's ``distribute`` (or ``handloop train --strategy``) names
(:func:`handloop.recipes.train.distribute.resolve`)."""

PRECISIONS = ("float32", "mixed_bfloat16")
"""Keras dtype policies a stage may train under (:attr:`StageConfig.precision`)."""

RECIPES_DIR = Path(__file__).resolve().parent
"""Where the shipped ``*.yaml`` recipes live."""

WEIGHTS_SUFFIX = ".weights.h5"
"""Ending of a network's weights file (Keras' ``save_weights`` format): a stage's ``init_from`` ending so is a file,
otherwise a zoo entry."""


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

    rotation_deg: Annotated[float, Range(0, 180)] = 180.0
    scale_sigma: NonNegative = 0.02
    translation_mm: NonNegative = 5.0
    localizer_jitter_mm: NonNegative = 10.0
    views_per_frame: Count = 1
    center_errors: Literal["gaussian", "localizer"] = "gaussian"


@dataclasses.dataclass
class DataConfig:
    """Training data: TFRecord shard folders and, for synthetic data, how to generate them when missing.

    Attributes:
        train, test: shard folders (relative paths resolve against the working directory).
        val: shard folder of frames of subjects neither in ``train`` nor in ``test``, measured after every epoch
            (None: no validation).
        generate: None for real data; else, per split to generate, the fields of
            :class:`handloop.recipes.synth.generate.SynthSettings` (``{frames, seed, objects}``).
        shuffle_buffer: frames in the shuffle buffer.
    """

    train: str = "data/synth-train"
    test: str = "data/synth-test"
    val: str | None = None
    generate: dict[Annotated[str, OneOf(SPLITS)], SynthSettings] | None = None
    shuffle_buffer: Count = 2048


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
        precision: Keras dtype policy of the training step: ``float32``, or ``mixed_bfloat16`` (bfloat16
            compute, float32 weights and outputs), 2.1x faster for the synthesizer on a CPU with AMX-BF16 and 2-6x
            slower on one without bfloat16 instructions (docs/training.md). The finished weights are float32 either
            way, and the loop runs them in float32.
        init_from: train, but start from trained weights instead of the seeded random ones (fine-tuning, or a
            longer second schedule): a zoo entry (name or card path; its network of this name, built as the
            recipe's) or a ``.weights.h5`` file of this network (a relative path is relative to the recipe's file).
            The schedule starts afresh; the synthesizer then trains at full size only (no growing).
    """

    epochs: Count = 10
    steps_per_epoch: Count | None = None
    batch_size: Count = 64
    learning_rate: Positive = 1e-3
    decay: Annotated[float, Range(0, 1, open_low=True)] = 0.9
    grow_epochs: Count | None = None
    jit_compile: bool = False
    precision: Annotated[str, OneOf(PRECISIONS)] = "float32"
    from_entry: str | None = None
    init_from: str | None = None


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
        distribute: the ``tf.distribute`` strategy (:data:`STRATEGIES`; ``handloop train --strategy`` wins):
            ``auto`` is ``multiworker`` when ``TF_CONFIG`` names a cluster, ``mirrored`` on several local GPUs and
            ``default`` (one device) otherwise; the global batch splits across the replicas.
    """

    name: str
    model: LoopConfig
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    stages: dict[str, StageConfig] = dataclasses.field(default_factory=dict)
    seed: Annotated[int, Range(0)] = 0
    workdir: str | None = None
    stages_dir: str | None = None
    distribute: Annotated[str, OneOf(STRATEGIES)] = "auto"

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


def apply_overrides(tree: dict, overrides: list[str]) -> list[Problem]:
    """Applies ``key.sub=value`` strings (values parsed as YAML) to a recipe's tree, in place, creating missing
    sections (the checks that follow name unknown keys); returns the problems of those it could not apply, keyed
    by the override's key path. Each section on an override's path is copied first, so a section the YAML shares
    between keys (an anchor and its aliases) changes only where the override points."""
    problems = []
    for item in overrides:
        path, _, text = item.partition("=")
        keys = path.split(".")
        if not _ or not all(keys):
            problems.append((path, f"{item!r} must look like key.sub=value"))
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problems.append((path, f"value {text!r} is not valid YAML ({_yaml_reason(error)})"))
            continue
        node = tree
        for depth, key in enumerate(keys[:-1]):
            if node.get(key) is None:
                node[key] = {}
            if not isinstance(node[key], dict):
                problems.append((".".join(keys[:depth + 1]), f"is {node[key]!r}, not a section holding {keys[-1]!r}"))
                break
            node[key] = dict(node[key])
            node = node[key]
        else:
            node[keys[-1]] = value
    return problems


def recipe_problems(tree: object) -> list[Problem]:
    """Every problem of a recipe's YAML tree, as ``(key path, message)``: unknown keys, missing or wrong values
    (:func:`handloop.zoo.validate.check` against :class:`Recipe`), stages that are not networks of the loop, an
    ``augment.center_errors: localizer`` without the validation split it is measured on, and a reference joint
    beyond the pose's joints."""
    from handloop.zoo.networks import loop_networks  # imports Keras: only once a recipe is checked

    problems = check(Recipe, tree)
    if not isinstance(tree, dict):
        return problems
    model, data, augment, stages = (_section(tree, key) for key in ("model", "data", "augment", "stages"))
    iterations = model.get("iterations", LoopConfig.iterations)
    if (model.get("object") is None or isinstance(model["object"], str)) and isinstance(iterations, int):
        networks = loop_networks(bool(model.get("object")), iterations)
        problems += [(f"stages.{name}", f"not a network of this loop, which trains {list(networks)}"
                                        f"{did_you_mean(name, networks)}") for name in stages if name not in networks]
    if augment.get("center_errors") == "localizer" and not data.get("val"):
        problems.append(("augment.center_errors", "'localizer' draws from the localizer's errors on the validation "
                                                  "split: set data.val"))
    joint, joints = model.get("reference_joint", 0), model.get("num_joints", LoopConfig.num_joints)
    if isinstance(joint, int) and isinstance(joints, int) and joint >= joints:
        problems.append(("model.reference_joint", f"must be less than num_joints ({joints}), got {joint}"))
    return problems


def _section(tree: dict, key: str) -> dict:
    """``tree[key]`` when it is a mapping, else an empty one (its problem is reported by the type check)."""
    value = tree.get(key)
    return value if isinstance(value, dict) else {}


def recipe_from_dict(tree: dict) -> Recipe:
    """Builds a :class:`Recipe` from its YAML tree.

    Raises:
        ConfigError: (a ValueError) listing every problem (:func:`recipe_problems`).
    """
    problems = recipe_problems(tree)
    if problems:
        raise ConfigError("recipe", problems)
    return _build(tree)


def _build(tree: dict) -> Recipe:
    """The :class:`Recipe` of a checked tree (null sections count as empty)."""
    tree = dict(tree)
    model = LoopConfig.from_dict(tree.pop("model") or {})
    sections = {name: cls(**(tree.pop(name, None) or {})) for name, cls in (("data", DataConfig),
                                                                           ("augment", AugmentConfig))}
    stages = {name: StageConfig(**(values or {})) for name, values in (tree.pop("stages", None) or {}).items()}
    return Recipe(**tree, **sections, model=model, stages=stages)


def load_recipe(spec: str | Path, overrides: list[str] = ()) -> Recipe:
    """Loads a recipe from a YAML path or the name of a shipped recipe (``synth-hand-lite``), with ``key.sub=value``
    overrides (``--set``); checks all of it before returning.

    Raises:
        FileNotFoundError: naming the path and the shipped recipes.
        ConfigError: (a ValueError) one line per problem, ``FILE: KEY: message`` (``--set KEY: message`` for what an
            override set): invalid YAML, unknown keys (with the closest known one), wrong types, values out of
            range or not among the choices, stages that are not networks of the loop.
    """
    path = Path(spec)
    if not path.is_file():
        path = RECIPES_DIR / f"{spec}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"recipe {spec!r} not found: not a file, and not one of {shipped}")
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"recipe {path}", [("", f"invalid YAML: {_yaml_reason(error)}")],
                          [f"{path}: invalid YAML: {_yaml_reason(error)}"]) from None
    tree = {} if tree is None else tree
    unset = apply_overrides(tree, list(overrides)) if isinstance(tree, dict) else []
    problems = recipe_problems(tree)
    if unset or problems:
        overridden = [item.partition("=")[0] for item in overrides]
        lines = [f"--set {key}: {message}" for key, message in unset] + [
            f"{'--set ' if _under(key, overridden) else f'{path}: '}{key or '(top level)'}: {message}"
            for key, message in problems]
        raise ConfigError(f"recipe {path}", unset + problems, lines)
    recipe = _build(tree)
    beside = path.resolve().parent  # relative paths in a recipe are relative to its file
    if recipe.stages_dir:
        recipe.stages_dir = str(beside / recipe.stages_dir)
    for stage in recipe.stages.values():
        if stage.init_from and stage.init_from.endswith(WEIGHTS_SUFFIX):
            stage.init_from = str(beside / stage.init_from)
    return recipe


def _under(key: str, paths: list[str]) -> bool:
    """Whether key path ``key`` is one of ``paths``, inside one (``a.b[0]`` is inside ``a.b``) or holds one."""
    return any(key == p or key.startswith((f"{p}.", f"{p}[")) or p.startswith(f"{key}.") for p in paths)


def _yaml_reason(error: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (``line 3, column 5``)."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(error, 'problem', None) or error}{where}".replace("\n", " ")
