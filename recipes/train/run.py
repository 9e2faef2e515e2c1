"""Runs a recipe's stages in order, one per network of its loop, and assembles the zoo entry.

Hand loop: localizer, predictor, synthesizer (grown 8 -> 128 px), updater. Hand-object loop (the recipe's
``model.object`` names the object): localizer and object localizer (on the scene crop), predictor, object
predictor, synthesizer, updater and object updater (each on its merged image). Each stage writes
``<run_dir>/<stage>/<network>.weights.h5`` when it finishes and resumes from its own checkpoint when interrupted;
a finished stage is skipped. The updater stages load the predictors' and the synthesizer's weights. A stage whose
config names ``from_entry`` takes that zoo entry's trained network instead of training one (e.g. the hand-object
loop's synthesizer, which renders the hand alone, from the hand loop's entry).
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from handloop.recipes.config import Recipe
from handloop.recipes.records import frames_dataset
from handloop.recipes.train import tasks
from handloop.recipes.train.registry import task_class
from handloop.recipes.train.trainer import fit
from handloop.zoo.config import LoopConfig
from handloop.zoo.loops import build_network, network_names
from handloop.zoo.networks import full_stages


def stages(config: LoopConfig) -> tuple[str, ...]:
    """The stages of ``config``'s loop, in the order ``all`` trains them (each trains the network of its name):
    the loop's networks in training order (:data:`handloop.zoo.networks.NETWORKS`)."""
    return network_names(config)


def prepare_frames(recipe: Recipe, split: str) -> tf.data.Dataset:
    """Parsed frames of the recipe's ``train`` (windowed, for the training pipeline) or ``test`` (whole frames,
    cached) shard folder, generating synthetic shards if missing."""
    directory = Path(getattr(recipe.data, split))
    if recipe.data.generate is not None:
        from handloop.recipes.synth.generate import SynthSettings, generate

        generate(SynthSettings(**recipe.data.generate[split]), directory)
    return frames_dataset(directory).cache() if split == "test" else frames_dataset(directory, windowed=True)


def stage_weights(recipe: Recipe, stage: str) -> Path:
    """Final weights file of a stage of ``recipe``."""
    return recipe.run_dir / stage / f"{stage}.weights.h5"


def load_network(recipe: Recipe, stage: str, config: LoopConfig):
    """Builds the network of ``stage`` and loads its trained weights (FileNotFoundError if not trained yet)."""
    path = stage_weights(recipe, stage)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the {stage} stage first (--stage {stage})")
    model = build_network(config, stage)
    model.load_weights(path)
    return model


def take_from_entry(recipe: Recipe, stage: str, config: LoopConfig, entry_name: str) -> Path:
    """Copies network ``stage`` of zoo entry ``entry_name`` as this recipe's trained stage; returns its weights.

    Raises:
        ValueError: naming both configs when the entry's network is built differently from the recipe's.
    """
    from handloop.zoo.registry import find_entry, load

    entry = find_entry(entry_name)
    mine, theirs = config.to_dict(), entry.config.to_dict()
    for key in (stage, "num_joints", "crop"):
        if mine.get(key) != theirs.get(key):
            raise ValueError(f"stage {stage!r} cannot come from entry {entry.name!r}: its {key} is {theirs.get(key)} "
                             f"while the recipe's is {mine.get(key)}")
    final = stage_weights(recipe, stage)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".tmp-{final.name}")
    load(entry_name).model.get_layer(stage).save_weights(temporary)
    temporary.replace(final)
    return final


def _train_synthesizer(recipe: Recipe, frames, config: LoopConfig, strategy, progress: bool) -> Path:
    """Grows the synthesizer from 8 px to full size, each size resuming from the previous one's weights."""
    settings, workdir = recipe.stage("synthesizer"), recipe.run_dir / "synthesizer"
    previous = None
    for grown in range(full_stages(config.synthesizer, config.crop) + 1):
        task = tasks.SynthesizerTask(recipe, frames, config, grown, previous)
        previous = workdir / f"{task.name}.weights.h5"
        if not previous.is_file():
            fit(task, settings, workdir / task.name, strategy, progress=progress)
            (workdir / task.name / previous.name).replace(previous)
    final = stage_weights(recipe, "synthesizer")
    previous.replace(final)
    return final


def _task(recipe: Recipe, stage: str, frames, config: LoopConfig):
    """The training task of ``stage`` for ``config``'s loop (:mod:`handloop.recipes.train.registry`), given the
    trained networks it needs."""
    task = task_class(config, stage)
    return task(recipe, frames, config, *(load_network(recipe, name, config) for name in task.needs))


def train_stage(recipe: Recipe, stage: str, frames: tf.data.Dataset, strategy=None, progress: bool = True) -> Path:
    """Trains one stage of ``recipe`` on ``frames`` (parsed frame dicts) unless it is done; returns its weights."""
    config = recipe.model
    if stage not in stages(config):
        raise ValueError(f"unknown stage {stage!r} for this loop: expected one of {stages(config)} or 'all'")
    final = stage_weights(recipe, stage)
    if final.is_file():
        return final
    settings = recipe.stage(stage)
    if settings.from_entry:
        return take_from_entry(recipe, stage, config, settings.from_entry)
    if stage == "synthesizer":
        return _train_synthesizer(recipe, frames, config, strategy, progress)
    task = _task(recipe, stage, frames, config)
    return fit(task, settings, recipe.run_dir / stage, strategy, progress=progress).weights_path


def assemble(recipe: Recipe, directory: Path | None = None, test_frames: int | None = None):
    """Builds the loop from the trained networks, measures it on the test split and writes the zoo entry.

    Args:
        directory: where the entry's card and weights go (default ``<run_dir>/entry``).
        test_frames: evaluate on the first this many test frames (all when None).
    Returns:
        ``(entry, table)``: the written :class:`handloop.zoo.registry.Entry` and the per-iteration accuracy table.
    """
    from handloop.recipes.evaluate import iteration_errors, iteration_table, object_errors, read_frames
    from handloop.zoo.api import HandPoseModel
    from handloop.zoo.loops import build_loop
    from handloop.zoo.registry import save_entry

    config = recipe.model
    loop = build_loop(config, {name: load_network(recipe, name, config) for name in network_names(config)})
    if recipe.data.generate is not None:
        prepare_frames(recipe, "test")
    frames = read_frames(recipe.data.test, test_frames)
    errors, prediction = iteration_errors(HandPoseModel(loop, config, recipe.name), frames)
    table = iteration_table(errors, object_errors(prediction, frames) if config.object else None)
    metrics = {"test_frames": len(frames), "mean_mm": round(float(table.mean_mm.iloc[-1]), 2),
               "predictor_mean_mm": round(float(table.mean_mm.iloc[0]), 2),
               "frac_max_20": round(float(table.frac_max_20.iloc[-1]), 3),
               "frac_max_40": round(float(table.frac_max_40.iloc[-1]), 3)}
    if config.object:
        metrics.update(object_mean_mm=round(float(table.object_mm.iloc[-1]), 2),
                       object_predictor_mean_mm=round(float(table.object_mm.iloc[0]), 2),
                       hand_object_mm=round(float(table.hand_object_mm.iloc[-1]), 2))
    entry = save_entry(loop, config, recipe.name, metrics, directory or recipe.run_dir / "entry",
                       description=f"trained by recipes/{recipe.name}.yaml on {recipe.data.train}")
    return entry, table
