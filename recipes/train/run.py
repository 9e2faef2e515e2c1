"""Runs a recipe's stages in order: localizer, predictor, synthesizer (grown 8 -> 128 px), updater.

Each stage writes ``<run_dir>/<stage>/<network>.weights.h5`` when it finishes and resumes from its own
checkpoint when interrupted; a finished stage is skipped. The updater stage loads the predictor's and the
synthesizer's weights.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from recipes.config import Recipe
from recipes.records import frames_dataset
from recipes.train import tasks
from recipes.train.trainer import fit
from zoo import networks
from zoo.config import LoopConfig
from zoo.networks.synthesizer import FULL_STAGES

STAGES = ("localizer", "predictor", "synthesizer", "updater")
"""Trainable stages in the order ``all`` runs them."""

NETWORKS = STAGES
"""The loop's networks, each trained by the stage of the same name."""


def prepare_frames(recipe: Recipe, split: str) -> tf.data.Dataset:
    """Parsed frames of the recipe's ``train`` or ``test`` shard folder, generating synthetic shards if missing."""
    directory = Path(getattr(recipe.data, split))
    if recipe.data.generate is not None:
        from recipes.synth.generate import SynthSettings, generate

        generate(SynthSettings(**recipe.data.generate[split]), directory)
    return frames_dataset(directory).cache() if split == "test" else frames_dataset(directory)


def stage_weights(recipe: Recipe, stage: str) -> Path:
    """Final weights file of a stage of ``recipe``."""
    return recipe.run_dir / stage / f"{stage}.weights.h5"


def load_network(recipe: Recipe, stage: str, config: LoopConfig):
    """Builds the network of ``stage`` and loads its trained weights (FileNotFoundError if not trained yet)."""
    path = stage_weights(recipe, stage)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the {stage} stage first (--stage {stage})")
    model = {
        "localizer": lambda: networks.build_localizer(config.localizer, config.crop),
        "predictor": lambda: networks.build_predictor(config.predictor, config.num_joints, config.crop),
        "synthesizer": lambda: networks.build_synthesizer(config.synthesizer, config.num_joints),
        "updater": lambda: networks.build_updater(config.updater, config.num_joints, config.crop),
    }[stage]()
    model.load_weights(path)
    return model


def train_stage(recipe: Recipe, stage: str, frames: tf.data.Dataset, strategy=None, progress: bool = True) -> Path:
    """Trains one stage of ``recipe`` on ``frames`` (parsed frame dicts) unless it is done; returns its weights."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: expected one of {STAGES} or 'all'")
    final = stage_weights(recipe, stage)
    if final.is_file():
        return final
    config = LoopConfig.from_dict(recipe.model)
    settings = recipe.stage(stage)
    workdir = recipe.run_dir / stage
    if stage == "synthesizer":
        previous = None
        for grown in range(FULL_STAGES + 1):
            task = tasks.SynthesizerTask(recipe, frames, config, grown, previous)
            previous = workdir / f"{task.name}.weights.h5"
            if not previous.is_file():
                fit(task, settings, workdir / task.name, strategy, progress=progress)
                (workdir / task.name / previous.name).replace(previous)
        previous.replace(final)
        return final
    if stage == "localizer":
        task = tasks.LocalizerTask(recipe, frames, config)
    elif stage == "predictor":
        task = tasks.PredictorTask(recipe, frames, config)
    else:
        task = tasks.UpdaterTask(recipe, frames, config, load_network(recipe, "predictor", config),
                                 load_network(recipe, "synthesizer", config))
    return fit(task, settings, workdir, strategy, progress=progress).weights_path


def assemble(recipe: Recipe, directory: Path | None = None, test_frames: int | None = None):
    """Builds the loop from the trained networks, measures it on the test split and writes the zoo entry.

    Args:
        directory: where the entry's card and weights go (default ``<run_dir>/entry``).
        test_frames: evaluate on the first this many test frames (all when None).
    Returns:
        ``(entry, table)``: the written :class:`zoo.registry.Entry` and the per-iteration accuracy table.
    """
    from recipes.evaluate import iteration_errors, iteration_table, read_frames
    from zoo.api import HandPoseModel
    from zoo.loops import build_hand_loop
    from zoo.registry import save_entry

    config = LoopConfig.from_dict(recipe.model)
    loop = build_hand_loop(config, {name: load_network(recipe, name, config) for name in NETWORKS})
    if recipe.data.generate is not None:
        prepare_frames(recipe, "test")
    frames = read_frames(recipe.data.test, test_frames)
    errors, _ = iteration_errors(HandPoseModel(loop, config, recipe.name), frames)
    table = iteration_table(errors)
    metrics = {"test_frames": len(frames), "mean_mm": round(float(table.mean_mm.iloc[-1]), 2),
               "predictor_mean_mm": round(float(table.mean_mm.iloc[0]), 2),
               "frac_max_20": round(float(table.frac_max_20.iloc[-1]), 3),
               "frac_max_40": round(float(table.frac_max_40.iloc[-1]), 3)}
    entry = save_entry(loop, config, recipe.name, metrics, directory or recipe.run_dir / "entry",
                       description=f"trained by recipes/{recipe.name}.yaml on {recipe.data.train}")
    return entry, table
