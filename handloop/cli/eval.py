"""``handloop eval``: run a zoo entry over a dataset's test split, write a community result file, print metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = "evaluate a zoo entry on a test split (NYU, ICVL, MSRA15 or a synthetic shard folder)"

DATASETS = ("nyu", "icvl", "msra", "synth")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="zoo entry name or card path (see handloop zoo)")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="benchmark the root folder holds")
    parser.add_argument("--root", required=True, help="dataset folder (a shard folder for synth)")
    parser.add_argument("--split", default="test", help="split to run on (nyu, icvl, msra)")
    parser.add_argument("--fold", type=int, default=0, help="MSRA: the left-out test subject, 0-8")
    parser.add_argument("--out", help="result file to write (default NAME-DATASET.txt in the current folder); its "
                                      "stem names the method")
    parser.add_argument("--labels-out", metavar="PATH", help="also write the ground truth in the same format")
    parser.add_argument("--limit", type=int, help="only the first N frames")
    parser.add_argument("--batch-size", type=int, default=16, help="frames per model call")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    parser.add_argument("--force", action="store_true", help="replace the result and label files if already there")


def to_joint_set(joints_xyz: np.ndarray, source: str, target: str) -> np.ndarray:
    """Maps ``(F, J, 3)`` predicted joints (mm) from joint set ``source`` to ``target``.

    Raises:
        ValueError: naming both sets when no mapping exists (only MSRA-21 maps to the others).
    """
    if source == target:
        return joints_xyz
    if source != "msra21":
        raise ValueError(f"the model predicts {source} joints; the benchmark needs {target}, and only msra21 maps "
                         "to other joint sets")
    from handloop.zoo.joints import convert_joints

    return convert_joints(joints_xyz, target)


def load_test_split(dataset: str, root: str, split: str = "test", fold: int = 0, limit: int | None = None):
    """Returns (depth loader: index -> ``(H, W)`` mm, labels ``(F, J, 3)`` uvd, joint set) of a test split."""
    if dataset == "synth":
        from handloop.recipes.evaluate import read_frames
        from handloop.zoo.camera import CAMERAS

        frames = read_frames(root, limit)
        if not frames:
            raise ValueError(f"{root}: the shard folder holds no frames")
        if frames[0].intrinsics != CAMERAS["synth"]:
            raise ValueError(f"{root} holds frames of the {frames[0].intrinsics.name} camera, not synthetic ones: "
                             "evaluate real datasets from their own folders with --dataset nyu, icvl or msra")
        labels = np.stack([f.intrinsics.xyz_to_uvd(f.joints_xyz) for f in frames])
        return (lambda i: frames[i].depth_mm), labels, frames[0].joint_set
    from handloop.recipes.datasets import open_dataset

    reader = open_dataset(dataset, root, fold)
    entries = reader.entries(split)[:limit]
    labels = np.stack([reader.intrinsics.xyz_to_uvd(e.joints_xyz) for e in entries])
    return (lambda i: reader.read_depth(entries[i])), labels, reader.joint_set


def predict_split(model, dataset: str, load_depth, count: int, joint_set: str, batch_size: int = 16,
                  progress: bool = True) -> np.ndarray:
    """Runs ``model.predict(depth_mm, intrinsics)`` over frames ``0..count-1``; returns ``(F, J, 3)`` uvd of
    ``joint_set`` in the benchmark camera's pixels and mm."""
    from tqdm.auto import tqdm

    from handloop.zoo.resultfile import get_benchmark

    camera = get_benchmark(dataset).intrinsics
    out = []
    with tqdm(total=count, unit="frame", desc=f"eval {dataset}", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, count, batch_size):
            batch = np.stack([load_depth(i) for i in range(start, min(count, start + batch_size))])
            prediction = model.predict(batch, camera)
            xyz = to_joint_set(np.asarray(prediction.joints_xyz).reshape(len(batch), -1, 3), prediction.joint_set,
                               joint_set)
            out.append(camera.xyz_to_uvd(xyz))
            bar.update(len(batch))
    return np.concatenate(out)


def run(args: argparse.Namespace):
    import handloop
    from handloop.zoo.fileio import refuse_existing
    from handloop.zoo.metrics import summarize
    from handloop.zoo.resultfile import evaluate_file, get_benchmark, write_results

    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise ValueError(f"--batch-size and --limit must be at least 1, got {args.batch_size} and {args.limit}")
    out = Path(args.out or f"{Path(args.name).stem}-{args.dataset}.txt")
    refuse_existing(out, args.labels_out, force=args.force)
    benchmark = get_benchmark(args.dataset)
    load_depth, labels, joint_set = load_test_split(args.dataset, args.root, args.split, args.fold, args.limit)
    model = handloop.load(args.name)
    results = predict_split(model, args.dataset, load_depth, len(labels), joint_set, args.batch_size)
    write_results(out, results)
    print(f"wrote {out}")
    if args.labels_out:
        write_results(args.labels_out, labels)
        print(f"wrote {args.labels_out}")
    row = {"name": out.stem, "frames": len(labels), **summarize(evaluate_file(out, labels, benchmark))}
    if args.json:
        return {**row, "results": str(out), "labels": args.labels_out}
    import pandas as pd

    print(pd.DataFrame([row]).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0
