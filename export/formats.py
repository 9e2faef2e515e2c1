"""The export formats as one table (like Ultralytics' exporter): :data:`FORMATS` drives the exporter,
:func:`handloop.export.load`, the CLI's choices and defaults and ``handloop bench``'s rows.

Every writer takes ``(model, path, precision, metadata, calibration)`` where ``model`` is the loop built for batch 1
and ``calibration`` a callable yielding representative inputs (used by int8 TFLite and TensorRT);
:func:`handloop.export.exporter.export` wraps each in an atomic write. Every runner class opens an artefact of its
format (``Runner.open(path, threads)``) behind :class:`handloop.zoo.api.HandPoseModel`'s ``predict``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from handloop.export import metadata as meta
from handloop.export.runtime import OnnxRunner, SavedModelRunner, TensorRTRunner, TFLiteRunner

ONNX_OPSET = 17


@dataclasses.dataclass(frozen=True)
class Format:
    """An export format.

    Attributes:
        name: its name on the command line and in metadata.
        suffix: the artefact's name ends with it (``<entry>-n<N>-<precision><suffix>``).
        precisions: the precisions it offers, its default first.
        write: ``(model, path, precision, metadata, calibration)``, writes the artefact.
        runner: the :class:`handloop.export.runtime.ExportedModel` class that opens it.
        folder: the artefact is a folder (any name), not a file named by its suffix.
    """

    name: str
    suffix: str
    precisions: tuple[str, ...]
    write: Callable
    runner: type
    folder: bool = False

    def holds(self, path: Path) -> bool:
        """Whether ``path`` (an existing file or folder) is an artefact of this format."""
        return path.is_dir() if self.folder else path.is_file() and path.name.endswith(self.suffix)


def write_savedmodel(model, path: Path, precision: str, metadata: dict, calibration) -> None:
    """SavedModel folder with a ``serve`` signature and ``handloop.json``."""
    model.export(str(path), verbose=False)
    (path / f"{meta.KEY}.json").write_bytes(meta.dumps(metadata))


INT8_OPS = ("CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D")
"""TFLite ops that int8 export quantizes: the networks' layers. Every other op (the geometry: centre of mass,
crops, the map back to mm) stays float: in int8 their mm-scale sums and divisions lose the hand (about 300 mm
mean error), a divisor can round to zero (LiteRT stops with ``div.cc data[i] != zero_point``), and the
(crop, synthesized image) concatenation cannot meet the quantizer's same-scale constraint."""


FLOAT_NETWORKS = ("localizer",)
"""Networks int8 export keeps in float (matched in op names, so ``object_localizer`` too): the localizer places
the crop every later network reads, and in int8 it lost the hand on some frames (docs/export.md gives the joints'
distances to the float loop either way)."""


def quantize_int8(converter, calibration) -> bytes:
    """Post-training int8 of ``converter``'s model calibrated on ``calibration``: only :data:`INT8_OPS` outside
    :data:`FLOAT_NETWORKS` are quantized; inputs and outputs stay float32."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import convert

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    converter._experimental_calibrate_only = True  # noqa: SLF001 - the public path offers no op denylist
    calibrated = converter.convert()
    interpreter = Interpreter(model_content=calibrated)
    details = interpreter._get_ops_details()  # noqa: SLF001
    names = {tensor["index"]: tensor["name"] for tensor in interpreter.get_tensor_details()}
    float_nodes = sorted({names[out] for op in details for out in op["outputs"]
                          if any(net in names[out] for net in FLOAT_NETWORKS)})
    ops = {op["op_name"] for op in details}
    return convert.mlir_quantize(calibrated, denylisted_ops=sorted(ops - set(INT8_OPS)), denylisted_nodes=float_nodes,
                                 input_data_type=tf.float32, output_data_type=tf.float32)


def write_tflite(model, path: Path, precision: str, metadata: dict, calibration) -> None:
    """Builtin-ops-only TFLite (LiteRT): float32, float16 weights, or int8 with a representative set."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    flatbuffer = quantize_int8(converter, calibration) if precision == "int8" else converter.convert()
    path.write_bytes(meta.tflite_with_metadata(flatbuffer, metadata))


def onnx_model(model, metadata: dict):
    """The fixed-batch loop as an ONNX ModelProto via tf2onnx (opset 17), checked, metadata in ``metadata_props``."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    depth_shape = (1, *model.inputs[0].shape[1:])
    spec = (tf.TensorSpec(depth_shape, tf.float32, name="depth"), tf.TensorSpec((1, 4), tf.float32, name="intrinsics"))

    @tf.function(input_signature=spec)
    def serve(depth, intrinsics):
        return model({"depth": depth, "intrinsics": intrinsics})

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=ONNX_OPSET)
    onnx.checker.check_model(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = meta.KEY, json.dumps(metadata, sort_keys=True)
    return proto


def write_onnx(model, path: Path, precision: str, metadata: dict, calibration) -> None:
    """ONNX (see :func:`onnx_model`), run with ONNX Runtime."""
    path.write_bytes(onnx_model(model, metadata).SerializeToString())


def write_tensorrt(model, path: Path, precision: str, metadata: dict, calibration) -> None:
    """A TensorRT engine built from the ONNX export, behind handloop's metadata header (needs TensorRT and a GPU).

    int8 calibrates on ``calibration`` and keeps the scales in ``<entry>-n<N>.int8.calib`` beside the artefact.
    """
    from handloop.export import tensorrt

    tensorrt.require()  # before the slow ONNX conversion
    cache = path.parent / f"{metadata['entry']}-n{metadata['iterations']}.int8.calib"
    engine = tensorrt.build_engine(onnx_model(model, metadata).SerializeToString(), precision, calibration, cache)
    path.write_bytes(meta.engine_with_metadata(engine, metadata))


FORMATS = {
    "savedmodel": Format("savedmodel", "_savedmodel", ("fp32",), write_savedmodel, SavedModelRunner, folder=True),
    "tflite": Format("tflite", ".tflite", ("fp32", "fp16", "int8"), write_tflite, TFLiteRunner),
    "onnx": Format("onnx", ".onnx", ("fp32",), write_onnx, OnnxRunner),
    "tensorrt": Format("tensorrt", ".engine", ("fp16", "fp32", "int8"), write_tensorrt, TensorRTRunner),
}
"""Every export format, by name."""
PRECISIONS = tuple(dict.fromkeys(p for fmt in FORMATS.values() for p in fmt.precisions))
"""Every precision some format offers."""


def load(path: str | Path, threads: int | None = None):
    """Opens an exported artefact (a SavedModel folder, ``.tflite``, ``.onnx`` or ``.engine``) with the runner of
    its format; ``threads``: CPU threads for LiteRT and ONNX Runtime (None: each runner's default).

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: naming the file when it is corrupt, truncated or not a handloop export.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"exported artefact not found: {path}")
    for fmt in FORMATS.values():
        if fmt.holds(path):
            return fmt.runner.open(path, threads)
    kinds = ", ".join(f"a folder ({f.name})" if f.folder else f"{f.suffix} ({f.name})" for f in FORMATS.values())
    raise ValueError(f"{path}: unknown artefact type; expected {kinds}")
