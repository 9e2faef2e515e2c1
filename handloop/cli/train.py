"""``handloop train``: train a recipe's networks, one stage or all, resuming where a run stopped."""

from __future__ import annotations

import argparse
import sys

from handloop.recipes.config import STRATEGIES
from handloop.zoo.networks import NETWORKS

HELP = "train a zoo entry from its recipe (YAML path or shipped name), stage by stage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML or the name of a shipped recipe, e.g. synth-hand-lite")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. --set stages.predictor.epochs=5 (repeatable)")
    parser.add_argument("--stage", default="all", choices=[*(net.name for net in NETWORKS), "all"],
                        help="which network to train (default: all of the recipe's loop, in order, skipping finished "
                             "stages; the object_* stages exist for hand-object recipes)")
    parser.add_argument("--workdir", metavar="DIR",
                        help="folder of the runs' checkpoints and logs (default: the recipe's workdir, else runs/ in "
                             "the user cache, ~/.cache/handloop)")
    parser.add_argument("--entry-dir", metavar="DIR",
                        help="after training, write the zoo entry (card + weights) here (default <run>/entry)")
    parser.add_argument("--test-frames", type=int, help="evaluate the entry on this many test frames (default all)")
    parser.add_argument("--checkpoint-every", type=float, default=600.0, metavar="SECONDS",
                        help="also checkpoint within an epoch after this many seconds of training (default 600), so "
                             "a killed run loses at most that much")
    parser.add_argument("--fresh", action="store_true",
                        help="retrain the chosen stage(s) from scratch: remove their checkpoints and finished weights "
                             "first, refusing those in the recipe's stages_dir (without it, finished stages are "
                             "skipped and interrupted ones resume)")
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="tf.distribute strategy (default: the recipe's distribute, else auto): auto is "
                             "multiworker when TF_CONFIG names a cluster, mirrored on several local GPUs, default (one "
                             "device) otherwise; mirrored splits each global batch across this machine's GPUs; "
                             "multiworker runs one copy of this command per machine, each given its TF_CONFIG, and "
                             "splits the batch and the data across them (docs/distributed.md)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from handloop.recipes.config import load_recipe
    from handloop.recipes.train.distribute import barrier, is_chief, make_strategy
    from handloop.recipes.train.run import (assemble, check_ready, forget_stage, prepare_frames, stage_status,
                                             stages, train_stage)

    recipe = load_recipe(args.recipe, args.overrides)
    if args.workdir:
        recipe.workdir = args.workdir
    chosen = stages(recipe.model) if args.stage == "all" else (args.stage,)
    check_ready(recipe, chosen)
    strategy = make_strategy(args.strategy or recipe.distribute)  # before any other TensorFlow op
    chief = is_chief(strategy)
    frames = prepare_frames(recipe, "train", strategy)
    for stage in chosen if args.fresh and chief else ():
        forget_stage(recipe, stage)
    barrier(strategy)
    for stage in chosen:
        status, done = stage_status(recipe, stage)
        if status == "extend" and chief:
            print(f"{stage}: finished after {done} epochs, continuing to {recipe.stage(stage).epochs}",
                  file=sys.stderr)
        path = train_stage(recipe, stage, frames, strategy, progress=not args.no_progress,
                           checkpoint_seconds=args.checkpoint_every)
        if chief:
            print(f"{stage}: {'finished earlier, skipped' if status == 'finished' else 'trained'}: {path}")
    if args.stage == "all" and chief:
        entry, table = assemble(recipe, args.entry_dir, args.test_frames)
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"zoo entry: {entry.weights.parent / (entry.name + '.json')}")
    return 0
