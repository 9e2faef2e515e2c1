"""``handloop export``: the whole loop of a zoo entry as one SavedModel, TFLite, ONNX or TensorRT artefact."""

from __future__ import annotations

import argparse

HELP = "export a zoo entry's whole loop as one artefact (savedmodel, tflite, onnx, tensorrt)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from handloop.export.formats import FORMATS, PRECISIONS

    offers = "; ".join(f"{f.name}: {', '.join(f.precisions)}" for f in FORMATS.values())
    parser.add_argument("name", help="zoo entry name or path to an entry's .json card")
    parser.add_argument("--format", required=True, choices=list(FORMATS))
    parser.add_argument("--precision", default=None, choices=PRECISIONS,
                        help=f"default: the format's first ({offers})")
    parser.add_argument("--iterations", type=int, help="loop iterations N (default: the entry's)")
    parser.add_argument("--out", help="artefact path (default <entry>-n<N>-<precision><suffix> in the current folder)")
    parser.add_argument("--force", action="store_true",
                        help="replace an artefact (file or SavedModel folder) already there (refused otherwise)")


def run(args: argparse.Namespace) -> int:
    from handloop.export.exporter import export

    path = export(args.name, args.format, args.precision, args.iterations, args.out, force=args.force)
    print(f"wrote {path}")
    return 0
