"""``handloop data``: generate synthetic shards (``synth``), convert a real dataset to shards (``convert``), draw
a contact sheet of a shard folder (``show``) and write its frames as depth PNGs for ``handloop predict``
(``frames``)."""

from __future__ import annotations

import argparse

from handloop.zoo.objects import OBJECTS

HELP = "make and inspect training data: synthetic generation, real-dataset conversion, contact sheets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    synth = sub.add_parser("synth", help="render synthetic hand frames into TFRecord shards")
    synth.add_argument("--out", required=True, help="output folder (resumed if it holds the same settings)")
    synth.add_argument("--frames", type=int, required=True, help="number of frames")
    synth.add_argument("--objects", default="none", choices=["none", "cuboid", "mixed", *OBJECTS],
                       help="hand-held objects: none, either cuboid, a mix with hand-only frames, or one object's name")
    synth.add_argument("--seed", type=int, default=0, help="seed; a different seed gives unseen subjects")
    synth.add_argument("--workers", type=int, default=1, help="processes rendering shards in parallel")
    synth.add_argument("--shard-size", type=int, default=250, help="frames per shard")
    synth.add_argument("--shards", metavar="I:J",
                       help="render only shards I to J-1 of the data set (hosts sharing --out each render a part; "
                            "the bytes are those of a whole run)")
    synth.add_argument("--worker", type=int, metavar="K",
                       help="render only every N-th shard from the K-th (0-based), with --workers-total N")
    synth.add_argument("--workers-total", type=int, metavar="N", help="number of hosts splitting the data set")
    convert = sub.add_parser("convert", help="convert NYU, ICVL or MSRA15 on disk into TFRecord shards")
    convert.add_argument("dataset", choices=["nyu", "icvl", "msra"], help="dataset the root folder holds")
    convert.add_argument("--root", required=True, help="dataset folder")
    convert.add_argument("--out", required=True, help="output folder (resumed if it holds the same settings)")
    convert.add_argument("--split", default="train", choices=["train", "test"], help="split to convert")
    convert.add_argument("--fold", type=int, default=0, help="MSRA: the left-out test subject, 0-8")
    convert.add_argument("--shard-size", type=int, default=1000, help="frames per shard")
    show = sub.add_parser("show", help="draw frames of a shard folder with their joints")
    show.add_argument("directory", help="shard folder")
    show.add_argument("--out", required=True, help="PNG to write")
    show.add_argument("--frames", type=int, default=12, help="number of frames to draw")
    show.add_argument("--force", action="store_true", help="replace the PNG if already there (refused otherwise)")
    frames = sub.add_parser("frames", help="write frames of a shard folder as 16-bit depth PNGs (mm) with their "
                                           "cameras and true joints in frames.json, ready for handloop predict")
    frames.add_argument("directory", help="shard folder")
    frames.add_argument("--out", required=True, help="folder for frame-NNNNN.png and frames.json")
    frames.add_argument("--count", type=int, default=1, help="number of frames, from the first (default 1)")
    frames.add_argument("--force", action="store_true",
                        help="replace frame PNGs and frames.json already there (refused otherwise)")


def run(args: argparse.Namespace) -> int:
    if args.action == "synth":
        from handloop.recipes.synth.generate import SynthSettings, generate, part_shards

        settings = SynthSettings(frames=args.frames, seed=args.seed, objects=args.objects, shard_size=args.shard_size)
        only = part_shards(settings, args.shards, args.worker, args.workers_total)
        paths = generate(settings, args.out, workers=args.workers, only=only)
        frames = sum(settings.shard_frames(i) for i in only)
        print(f"{frames} frames in {len(paths)} of {settings.shards} shards under {args.out}")
    elif args.action == "convert":
        from handloop.recipes.datasets import open_dataset
        from handloop.recipes.datasets.convert import ConvertSettings, convert

        settings = ConvertSettings(split=args.split, shard_size=args.shard_size)
        paths = convert(open_dataset(args.dataset, args.root, args.fold), settings, args.out)
        print(f"{args.dataset} {args.split} in {len(paths)} shards under {args.out}")
    elif args.action == "frames":
        from handloop.recipes.frames import write_frames

        for path in write_frames(args.directory, args.out, args.count, force=args.force):
            print(f"wrote {path}")
    else:
        from handloop.recipes.synth.show import contact_sheet
        from handloop.zoo.fileio import refuse_existing

        refuse_existing(args.out, force=args.force)
        contact_sheet(args.directory, args.out, args.frames)
        print(f"wrote {args.out}")
    return 0
