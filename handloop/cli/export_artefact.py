"""``handloop export``: the whole loop of a zoo entry as one SavedModel, TFLite, ONNX or TensorRT artefact."""

from __future__ import annotations

import argparse

HELP = "export a zoo entry's whole loop as one artefact (savedmodel, tflite, onnx, tensorrt)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="zoo entry name or path to an entry's .json card")
    parser.add_argument("--format", required=True, choices=["savedmodel", "tflite", "onnx", "tensorrt"])
    parser.add_argument("--precision", default=None, choices=["fp32", "fp16", "int8"],
                        help="default fp32 (fp16 for tensorrt); tflite offers all three")
    parser.add_argument("--iterations", type=int, help="loop iterations N (default: the entry's)")
    parser.add_argument("--out", help="artefact path (default <entry>-n<N>-<precision><suffix>)")


def run(args: argparse.Namespace) -> int:
    from handloop.export.exporter import export

    precision = args.precision or ("fp16" if args.format == "tensorrt" else "fp32")
    path = export(args.name, args.format, precision, args.iterations, args.out)
    print(f"wrote {path}")
    return 0
