"""What every exported artefact carries so that a runtime needs nothing else, and how each format stores it.

The metadata is one JSON object: entry name, the loop config (iterations, input frame size, cube, joint set and
order), the intrinsics convention (inputs are ``fx, fy, cx, cy`` in pixels; outputs in OpenCV camera axes, y
down, mm), format and precision. SavedModel keeps it as ``handloop.json`` inside its folder, ONNX in the model's
``metadata_props``, TFLite as a named metadata buffer of the flatbuffer, a TensorRT engine behind a small header
(:data:`ENGINE_MAGIC`, the JSON's length as 4 little-endian bytes, the JSON, then the serialized engine).
"""

from __future__ import annotations

import json
import struct

from handloop.zoo.config import LoopConfig
from handloop.zoo.joints import get_joint_set

KEY = "handloop"
"""Name of the metadata entry in every format."""
ENGINE_MAGIC = b"HANDLOOP-TRT1\n"
"""First bytes of a handloop TensorRT artefact."""


def build(name: str, config: LoopConfig, fmt: str, precision: str) -> dict:
    """The metadata of an export of entry ``name`` with ``config``."""
    return {
        "entry": name, "format": fmt, "precision": precision, "batch": 1,
        "iterations": config.iterations, "input": {"depth": [1, config.height, config.width, 1], "intrinsics": [1, 4]},
        "intrinsics": "fx, fy, cx, cy in pixels; outputs in OpenCV camera axes (y down), mm",
        "joint_set": config.joint_set, "joints": list(get_joint_set(config.joint_set).joints)
        if config.joint_set in ("msra21", "nyu14", "icvl16") else [], "config": config.to_dict(),
    }


def dumps(metadata: dict) -> bytes:
    return json.dumps(metadata, sort_keys=True).encode()


def loads(data: bytes, where: str) -> dict:
    """Parses stored metadata; ValueError naming ``where`` when it is not handloop's."""
    try:
        metadata = json.loads(bytes(data).decode())
        LoopConfig.from_dict(metadata["config"])
        return metadata
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: its handloop metadata is unreadable ({error})") from None


def tflite_with_metadata(model: bytes, metadata: dict) -> bytes:
    """Returns the TFLite flatbuffer ``model`` with ``metadata`` added as the named buffer :data:`KEY`."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(dumps(metadata), np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = KEY
    entry.buffer = len(tree.buffers) - 1
    tree.metadata = (tree.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tree))


def tflite_metadata(model: bytes, where: str) -> dict:
    """Reads the :data:`KEY` metadata of a TFLite flatbuffer; ValueError naming ``where`` if absent or corrupt."""
    from tensorflow.lite.tools import flatbuffer_utils

    try:
        tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
        entries = {m.name.decode() if isinstance(m.name, bytes) else m.name: m.buffer for m in tree.metadata or []}
        return loads(bytes(tree.buffers[entries[KEY]].data), where)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, struct.error) as error:
        raise ValueError(f"{where}: not a handloop TFLite artefact ({error})") from None


def engine_with_metadata(engine: bytes, metadata: dict) -> bytes:
    """A TensorRT artefact: header, metadata JSON, serialized engine."""
    data = dumps(metadata)
    return ENGINE_MAGIC + struct.pack("<I", len(data)) + data + engine


def engine_metadata(artefact: bytes, where: str) -> tuple[dict, bytes]:
    """Splits a TensorRT artefact into (metadata, serialized engine); ValueError naming ``where`` if it is not one."""
    start = len(ENGINE_MAGIC) + 4
    if not artefact.startswith(ENGINE_MAGIC) or len(artefact) < start:
        raise ValueError(f"{where}: not a handloop TensorRT artefact (no {ENGINE_MAGIC!r} header; an engine from "
                         f"trtexec carries no metadata: load the ONNX export's metadata_props instead)")
    (length,) = struct.unpack("<I", artefact[len(ENGINE_MAGIC):start])
    if len(artefact) <= start + length:
        raise ValueError(f"{where}: truncated handloop TensorRT artefact")
    return loads(artefact[start:start + length], where), artefact[start + length:]
