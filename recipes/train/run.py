"""Runs a recipe's stages in order, one per network of its loop, and assembles the zoo entry.

Hand loop: localizer, predictor, synthesizer (grown 8 -> 128 px), updater. Hand-object loop (the recipe's
``model.object`` names the object): localizer and object localizer (on the scene crop), predictor, object
predictor, synthesizer, updater and object updater (each on its merged image). A stage trains in
``<run_dir>/<stage>`` (checkpoints, TensorBoard, its validation history) and resumes from there when interrupted;
when it finishes, its weights (float16), a card (training time, images seen, final validation, SHA-256) and its
validation history go to the recipe's finished-stages folder (:attr:`handloop.recipes.config.Recipe.finished_dir`), and a
finished stage is skipped. The shipped recipes keep that folder in the repository, so each stage is committed as
it finishes and a fresh clone continues at the first unfinished one. The updater stages load the predictors' and
the synthesizer's finished weights. A stage whose config names ``from_entry`` takes that zoo entry's trained
network instead of training one (e.g. the hand-object loop's synthesizer, which renders the hand alone, from the
hand loop's entry); one that names ``init_from`` trains starting from an entry's network or a weights file
(fine-tuning a zoo entry on a user's data, or a second schedule from a finished stage).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from handloop.recipes.config import WEIGHTS_SUFFIX, Recipe
from handloop.recipes.records import corrupt_shard_error, frames_dataset
from handloop.recipes.train import tasks
from handloop.recipes.train.distribute import barrier, input_part, is_chief
from handloop.recipes.train.registry import task_class
from handloop.recipes.train.trainer import FitResult, fit
from handloop.zoo.config import LoopConfig
from handloop.zoo.fileio import atomic_path, write_text
from handloop.zoo.loops import build_network, network_names
from handloop.zoo.networks import full_stages


def stages(config: LoopConfig) -> tuple[str, ...]:
    """The stages of ``config``'s loop, in the order ``all`` trains them (each trains the network of its name):
    the loop's networks in training order (:data:`handloop.zoo.networks.NETWORKS`)."""
    return network_names(config)


def check_ready(recipe: Recipe, chosen: tuple[str, ...]) -> None:
    """Checks, before anything is generated or trained, that ``recipe`` can train stages ``chosen`` and, when they
    are all of its loop's, assemble the entry: each is a network of the loop with a config under ``stages``, and
    each shard folder read (``train``, ``val`` when set, ``test`` for the entry) holds a manifest or is generated.

    Raises:
        ConfigError: (a ValueError) one line per problem.
    """
    from handloop.recipes.records import MANIFEST
    from handloop.zoo.validate import ConfigError

    loop = stages(recipe.model)
    problems = [(f"stages.{stage}", f"missing: {stage} is a network of this loop, which trains {list(loop)}")
                for stage in chosen if stage in loop and stage not in recipe.stages]
    problems += [("--stage", f"{stage!r} is not a network of this loop, which trains {list(loop)}")
                 for stage in chosen if stage not in loop]
    splits = ("train", "val", "test") if set(loop) <= set(chosen) else ("train", "val")
    for split in splits:
        folder = getattr(recipe.data, split)
        if folder and split not in (recipe.data.generate or {}) and not (Path(folder) / MANIFEST).is_file():
            generated = "" if recipe.data.generate is None else f" and data.generate has no {split!r} entry"
            problems.append((f"data.{split}", f"{folder} holds no shards ({MANIFEST}){generated}"))
    if problems:
        raise ConfigError(f"recipe {recipe.name}", problems)


def prepare_frames(recipe: Recipe, split: str, strategy: tf.distribute.Strategy | None = None
                   ) -> tf.data.Dataset | None:
    """Parsed frames of the recipe's ``train`` (windowed and shuffled, for the training pipeline; the validation
    split is made ready too), ``val`` or ``test`` (whole frames, cached) shard folder, generating synthetic shards
    if missing; None for a ``val`` the recipe does not have.

    With a multi-worker ``strategy``, each worker generates its part of the missing shards and waits for the others,
    and the ``train`` frames are this worker's part (:func:`handloop.recipes.records.frames_dataset`)."""
    directory = getattr(recipe.data, split)
    if directory is None:
        return None
    part = input_part(strategy or tf.distribute.get_strategy())
    if recipe.data.generate is not None and split in recipe.data.generate:
        from handloop.recipes.synth.generate import SynthSettings, generate, part_shards

        settings = SynthSettings(**recipe.data.generate[split])
        generate(settings, Path(directory), only=part_shards(settings, worker=part[0], workers_total=part[1]))
        barrier(strategy or tf.distribute.get_strategy())
    if split == "train":
        prepare_frames(recipe, "val", strategy)
        return frames_dataset(directory, windowed=True, shuffle_buffer=recipe.data.shuffle_buffer, seed=recipe.seed,
                              part=part)
    return frames_dataset(directory).cache()


def stage_weights(recipe: Recipe, stage: str) -> Path:
    """Final weights file of a stage of ``recipe`` (float16, in its finished-stages folder)."""
    return recipe.finished_dir / f"{stage}{WEIGHTS_SUFFIX}"


FINISHED_SUFFIXES = (WEIGHTS_SUFFIX, ".json", ".history.csv")
"""The files :func:`finish_stage` writes per stage, as ``<stage><suffix>``."""
SETTINGS = "settings.json"
"""File in a stage's run folder: the recipe settings its checkpoints were made with."""


def stage_status(recipe: Recipe, stage: str) -> tuple[str, int]:
    """Where ``stage`` stands: ``("new", 0)``, ``("running", 0)`` (a run folder without finished weights),
    ``("finished", E)`` with as many epochs as the recipe asks, or ``("extend", E)`` when the recipe now asks for
    more epochs than the ``E`` it finished with (at full resolution for the synthesizer)."""
    if not stage_weights(recipe, stage).is_file():
        return ("running" if (recipe.run_dir / stage).is_dir() else "new"), 0
    history = recipe.finished_dir / f"{stage}.history.csv"
    done = int(pd.read_csv(history)["epoch"].iloc[-1]) if history.is_file() else recipe.stage(stage).epochs
    return ("extend" if done < recipe.stage(stage).epochs else "finished"), done


def run_settings(recipe: Recipe, stage: str, workers: int = 1) -> dict:
    """What a stage's checkpoints depend on: the loop, the augmentation, the seed, the training data, the stage's
    schedule except its length (``epochs`` may grow to continue a run) and, for a run across ``workers`` machines
    (more than one), their number, as each reads its own part of the data. The strategy on one machine changes
    nothing recorded: it splits the same global batches."""
    schedule = {k: v for k, v in dataclasses.asdict(recipe.stage(stage)).items() if k not in ("epochs", "grow_epochs")}
    return json.loads(json.dumps({"model": recipe.model.to_dict(), "augment": dataclasses.asdict(recipe.augment),
                                  "seed": recipe.seed, "train": str(recipe.data.train),
                                  "shuffle_buffer": recipe.data.shuffle_buffer, "stage": schedule,
                                  **({"workers": workers} if workers > 1 else {})}))


def _check_run_folder(recipe: Recipe, stage: str, workers: int = 1, chief: bool = True) -> None:
    """Records the recipe settings (:func:`run_settings`) in a new run folder of ``stage`` (the ``chief`` does), or
    checks that its checkpoints were made with the same ones.

    Raises:
        ValueError: naming the settings that differ and what to do.
    """
    path = recipe.run_dir / stage / SETTINGS
    mine = run_settings(recipe, stage, workers)
    if not path.is_file():
        if chief:
            write_text(path, json.dumps(mine, indent=2))
        return
    theirs = json.loads(path.read_text())

    def flat(tree, prefix=""):
        return {f"{prefix}{k}": v for key, value in tree.items()
                for k, v in (flat(value, f"{key}.").items() if isinstance(value, dict) else [(key, value)])}

    ours, recorded = flat(mine), flat(theirs)
    differ = sorted(k for k in ours.keys() | recorded.keys() if ours.get(k) != recorded.get(k))
    if differ:
        shown = ", ".join(f"{k} {recorded.get(k)!r} -> {ours.get(k)!r}" for k in differ[:4])
        raise ValueError(f"{path.parent} holds a {stage} run made with other settings ({shown}): resuming would mix "
                         "them; pass --fresh to retrain the stage, or another --workdir")


def forget_stage(recipe: Recipe, stage: str) -> None:
    """Removes what training ``stage`` wrote: its run folder (checkpoints, logs, history) and its finished files
    (:data:`FINISHED_SUFFIXES`; a localizer's errors too), so the next run trains it afresh.

    Raises:
        ValueError: when the stage is finished in the recipe's own ``stages_dir`` (a shipped recipe's committed
            stages, or an installed package's): those are left for the user to remove, never deleted by a flag.
    """
    if recipe.stages_dir and stage_weights(recipe, stage).exists():
        raise ValueError(f"{stage} is finished in {recipe.finished_dir}, the recipe's stages_dir: --fresh does not "
                         f"delete committed stages; remove {stage}.* there yourself to retrain it, or train a copy "
                         "of the recipe without stages_dir")
    shutil.rmtree(recipe.run_dir / stage, ignore_errors=True)
    for suffix in (*FINISHED_SUFFIXES, tasks.ERRORS_SUFFIX):
        (recipe.finished_dir / f"{stage}{suffix}").unlink(missing_ok=True)


def finish_stage(recipe: Recipe, stage: str, results: list[FitResult]) -> Path:
    """Writes a trained stage to the recipe's finished-stages folder: ``<stage>.weights.h5`` (float16),
    ``<stage>.history.csv`` (the validation rows of its runs: one per synthesizer resolution) and ``<stage>.json``
    (images seen, training seconds, final validation, SHA-256 of the weights, the ``init_from`` it started from if
    any); the weights last, so a stage counts as finished only once everything is there. Returns the weights'
    path."""
    from handloop.zoo.registry import copy_float16, file_sha256

    final = stage_weights(recipe, stage)
    history = pd.concat([pd.DataFrame(r.history).assign(run=r.weights_path.stem.split(".")[0]) for r in results])
    write_text(final.with_name(f"{stage}.history.csv"), history.to_csv(index=False))
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / final.name
        copy_float16(results[-1].weights_path, staged)
        card = {"stage": stage, "recipe": recipe.name, "images": int(sum(r.history[-1]["images"] for r in results)),
                "seconds": round(sum(r.history[-1]["seconds"] for r in results), 1),
                "validation": {k: v for k, v in results[-1].history[-1].items()
                               if k not in ("epoch", "images", "seconds", "loss", "learning_rate")},
                "sha256": file_sha256(staged),
                **({"init_from": recipe.stage(stage).init_from} if recipe.stage(stage).init_from else {})}
        write_text(final.with_name(f"{stage}.json"), json.dumps(card, indent=2))
        with atomic_path(final) as tmp:
            Path(staged).replace(tmp)
    return final


def load_network(recipe: Recipe, stage: str, config: LoopConfig):
    """Builds the network of ``stage`` and loads its trained weights (FileNotFoundError if not trained yet)."""
    path = stage_weights(recipe, stage)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train the {stage} stage first (--stage {stage})")
    model = build_network(config, stage)
    model.load_weights(path)
    return model


def entry_network(stage: str, config: LoopConfig, entry_name: str, destination: Path) -> Path:
    """Writes network ``stage`` of zoo entry ``entry_name`` (name or card path) to ``destination`` (a
    ``.weights.h5`` file); returns it.

    Raises:
        ValueError: naming both configs when the entry's network is built differently from ``config``'s.
    """
    from handloop.zoo.registry import find_entry, load

    entry = find_entry(entry_name)
    mine, theirs = config.to_dict(), entry.config.to_dict()
    for key in (stage, "num_joints", "crop"):
        if mine.get(key) != theirs.get(key):
            raise ValueError(f"stage {stage!r} cannot come from entry {entry.name!r}: its {key} is {theirs.get(key)} "
                             f"while the recipe's is {mine.get(key)}")
    with atomic_path(destination) as tmp:
        load(entry_name).model.get_layer(stage).save_weights(tmp)
    return destination


@contextlib.contextmanager
def initial_weights(recipe: Recipe, stage: str, config: LoopConfig):
    """Context giving the weights file stage ``stage`` starts from (its ``init_from``), or None for the seeded
    random ones; a zoo entry's network is written to a temporary file, removed on exit.

    Raises:
        FileNotFoundError: naming a missing weights file.
        ValueError: for an entry whose network is built differently from the recipe's.
    """
    source = recipe.stage(stage).init_from
    if not source:
        yield None
    elif source.endswith(WEIGHTS_SUFFIX):
        if not Path(source).is_file():
            raise FileNotFoundError(f"stage {stage}: init_from {source} is not a file")
        yield Path(source)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            yield entry_network(stage, config, source, Path(scratch) / f"{stage}{WEIGHTS_SUFFIX}")


def _train_synthesizer(recipe: Recipe, frames, config: LoopConfig, strategy, progress: bool,
                       checkpoint_seconds: float, init_weights: Path | None) -> list[FitResult]:
    """Grows the synthesizer from 8 px to full size, each size starting from the previous one's weights (``epochs``
    at full size, ``grow_epochs`` below it); a size already trained in this run folder is resumed (it returns at
    once with its weights and history). Started from ``init_weights`` (a full-size synthesizer), it trains the full
    size only."""
    settings, workdir = recipe.stage("synthesizer"), recipe.run_dir / "synthesizer"
    results, previous, full = [], None, full_stages(config.synthesizer, config.crop)
    for grown in range(full if init_weights else 0, full + 1):
        task = tasks.SynthesizerTask(recipe, frames, config, grown, previous)
        epochs = settings.epochs if grown == full or settings.grow_epochs is None else settings.grow_epochs
        results.append(fit(task, dataclasses.replace(settings, epochs=epochs), workdir / task.name, strategy,
                           progress=progress, checkpoint_seconds=checkpoint_seconds, init_weights=init_weights))
        previous = results[-1].weights_path
    return results


def _task(recipe: Recipe, stage: str, frames, config: LoopConfig):
    """The training task of ``stage`` for ``config``'s loop (:mod:`handloop.recipes.train.registry`), given the
    trained networks it needs."""
    task = task_class(config, stage)
    return task(recipe, frames, config, *(load_network(recipe, name, config) for name in task.needs))


def _save_localizer_errors(recipe: Recipe, task, localizer: keras.Model) -> None:
    """Writes the trained ``localizer``'s centre errors on the recipe's validation split (if it has one) to
    ``<stage>`` :data:`tasks.ERRORS_SUFFIX`, which ``augment.center_errors: localizer`` draws the other stages' crop
    centres from; ``task`` is a :class:`tasks.LocalizerTask` of the recipe (a scene localizer's too)."""
    if recipe.data.val:
        with atomic_path(recipe.finished_dir / f"{task.name}{tasks.ERRORS_SUFFIX}") as tmp, open(tmp, "wb") as f:
            np.save(f, task.center_errors_mm(localizer))


def train_stage(recipe: Recipe, stage: str, frames: tf.data.Dataset, strategy=None, progress: bool = True,
                checkpoint_seconds: float = 600.0) -> Path:
    """Trains one stage of ``recipe`` on ``frames`` (parsed frame dicts) unless it is done; returns its weights.

    A finished stage is continued from its checkpoints when the recipe now asks for more epochs than it finished
    with. ``checkpoint_seconds``: wall time between checkpoints within an epoch
    (:func:`handloop.recipes.train.trainer.fit`). Across several workers (``strategy``), each trains on its part of
    the frames (:func:`prepare_frames`) and the chief alone writes the finished stage, which every worker waits for.

    Raises:
        ValueError: for a stage to continue whose checkpoints are gone, a run folder made with other settings, or a
            truncated or corrupt shard of the training or validation frames (naming it).
    """
    config = recipe.model
    if stage not in stages(config):
        raise ValueError(f"unknown stage {stage!r} for this loop: expected one of {stages(config)} or 'all'")
    status, done = stage_status(recipe, stage)
    if status == "finished":
        return stage_weights(recipe, stage)
    settings = recipe.stage(stage)
    strategy = strategy or tf.distribute.get_strategy()
    chief = is_chief(strategy)
    if settings.from_entry:
        if chief:
            with tempfile.TemporaryDirectory() as scratch:
                taken = entry_network(stage, config, settings.from_entry, Path(scratch) / f"{stage}{WEIGHTS_SUFFIX}")
                if stage == "localizer":
                    localizer = build_network(config, stage)
                    localizer.load_weights(taken)
                    _save_localizer_errors(recipe, tasks.LocalizerTask(recipe, frames, config), localizer)
                with atomic_path(stage_weights(recipe, stage)) as tmp:  # last: the stage is finished once it exists
                    shutil.copyfile(taken, tmp)
        barrier(strategy)
        return stage_weights(recipe, stage)
    if status == "extend" and not (recipe.run_dir / stage).is_dir():
        raise ValueError(f"stage {stage} finished after {done} epochs and the recipe now asks for {settings.epochs}, "
                         f"but its checkpoints are not in {recipe.run_dir / stage} to continue from: pass --fresh to "
                         "retrain it (with a copy of its weights as the stage's init_from to start from them), or "
                         "--workdir with the run that trained it")
    _check_run_folder(recipe, stage, input_part(strategy)[1], chief)
    try:
        with initial_weights(recipe, stage, config) as init_weights:
            if stage == "synthesizer":
                results = _train_synthesizer(recipe, frames, config, strategy, progress, checkpoint_seconds,
                                             init_weights)
            else:
                task = _task(recipe, stage, frames, config)
                results = [fit(task, settings, recipe.run_dir / stage, strategy, progress=progress,
                               checkpoint_seconds=checkpoint_seconds, init_weights=init_weights)]
                if chief and isinstance(task, tasks.LocalizerTask):
                    _save_localizer_errors(recipe, task, results[0].model)
    except tf.errors.DataLossError as error:  # tf.data does not say which shard: find it
        raise corrupt_shard_error([d for d in (recipe.data.train, recipe.data.val) if d], error) from None
    if chief:
        finish_stage(recipe, stage, results)
    barrier(strategy)
    return stage_weights(recipe, stage)


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
