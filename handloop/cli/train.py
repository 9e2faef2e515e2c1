"""``handloop train``: train a recipe's networks, one stage or all, resuming where a run stopped."""

from __future__ import annotations

import argparse
import sys

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
                             "first (without it, finished stages are skipped and interrupted ones resume)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from handloop.recipes.config import load_recipe
    from handloop.recipes.train.run import (assemble, check_ready, forget_stage, prepare_frames, stage_status,
                                             stages, train_stage)

    recipe = load_recipe(args.recipe, args.overrides)
    if args.workdir:
        recipe.workdir = args.workdir
    chosen = stages(recipe.model) if args.stage == "all" else (args.stage,)
    check_ready(recipe, chosen)
    frames = prepare_frames(recipe, "train")
    for stage in chosen if args.fresh else ():
        forget_stage(recipe, stage)
    for stage in chosen:
        status, done = stage_status(recipe, stage)
        if status == "extend":
            print(f"{stage}: finished after {done} epochs, continuing to {recipe.stage(stage).epochs}",
                  file=sys.stderr)
        path = train_stage(recipe, stage, frames, progress=not args.no_progress,
                           checkpoint_seconds=args.checkpoint_every)
        print(f"{stage}: {'finished earlier, skipped' if status == 'finished' else 'trained'}: {path}")
    if args.stage == "all":
        entry, table = assemble(recipe, args.entry_dir, args.test_frames)
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"zoo entry: {entry.weights.parent / (entry.name + '.json')}")
    return 0
