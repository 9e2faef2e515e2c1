"""Runners for exported artefacts with the zoo's own API, one class per runtime: ``Runner.open(path, threads)``
reads an artefact and its metadata, ``predict(depth_mm, intrinsics)`` runs it (:func:`handloop.export.load` picks
the runner of the artefact's format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handloop.export import metadata as meta
from handloop.zoo.api import HandPoseModel
from handloop.zoo.config import LoopConfig


class ExportedModel(HandPoseModel):
    """An exported loop (batch 1) behind :class:`handloop.zoo.api.HandPoseModel`'s ``predict``."""

    max_batch = 1

    def __init__(self, path: Path, metadata: dict):
        self.path, self.metadata, self.source = path, metadata, str(path)
        self.config = LoopConfig.from_dict(metadata["config"])
        self.name = metadata["entry"]

    @classmethod
    def open(cls, path: Path, threads: int | None = None) -> "ExportedModel":
        """Opens the artefact at ``path``; ValueError naming it when it is corrupt or not a handloop export."""
        raise NotImplementedError

    def run_graph(self, depth: np.ndarray, intrinsics: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class SavedModelRunner(ExportedModel):
    """A SavedModel folder, run by TensorFlow (signature ``serve``)."""

    def __init__(self, path: Path, metadata: dict):
        import tensorflow as tf

        super().__init__(path, metadata)
        self.module = tf.saved_model.load(str(path))

    @classmethod
    def open(cls, path, threads=None):
        import tensorflow as tf

        card = path / f"{meta.KEY}.json"
        if not card.is_file():
            raise ValueError(f"{path}: not a handloop SavedModel export (no {card.name})")
        metadata = meta.loads(card.read_bytes(), str(card))
        try:
            return cls(path, metadata)
        except (OSError, ValueError, tf.errors.OpError) as error:  # OpError: DataLossError of corrupt variables
            raise ValueError(f"{path}: the SavedModel cannot be loaded ({str(error).splitlines()[0]})") from None

    def run_graph(self, depth, intrinsics):
        out = self.module.serve({"depth": depth.astype(np.float32), "intrinsics": intrinsics.astype(np.float32)})
        return {k: np.asarray(v) for k, v in out.items()}


TFLITE_THREADS = 1
"""LiteRT threads when the caller names none (``threads`` sets more; docs/export.md compares thread counts)."""


class TFLiteRunner(ExportedModel):
    """A TFLite flatbuffer, run by LiteRT with ``threads`` threads (None: :data:`TFLITE_THREADS`)."""

    def __init__(self, path: Path, metadata: dict, model: bytes, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(path, metadata)
        self.interpreter = Interpreter(model_content=model, num_threads=threads or TFLITE_THREADS)
        self.runner = self.interpreter.get_signature_runner()

    @classmethod
    def open(cls, path, threads=None):
        data = path.read_bytes()
        metadata = meta.tflite_metadata(data, str(path))
        try:
            return cls(path, metadata, data, threads)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{path}: the TFLite model cannot be loaded ({error})") from None

    def run_graph(self, depth, intrinsics):
        return self.runner(depth=depth.astype(np.float32), intrinsics=intrinsics.astype(np.float32))


class OnnxRunner(ExportedModel):
    """An ONNX model, run by ONNX Runtime on the CPU (:func:`onnx_options`)."""

    def __init__(self, path: Path, metadata: dict, session):
        super().__init__(path, metadata)
        self.session = session
        self.outputs = [o.name for o in session.get_outputs()]

    @classmethod
    def open(cls, path, threads=None):
        import onnx
        import onnxruntime as ort

        data = path.read_bytes()
        try:
            proto = onnx.load_from_string(data)
            props = {p.key: p.value for p in proto.metadata_props}
            metadata = meta.loads(props[meta.KEY].encode(), str(path))
            session = ort.InferenceSession(data, onnx_options(threads), providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - protobuf and onnxruntime raise their own types
            raise ValueError(f"{path}: not a readable handloop ONNX export ({str(error).splitlines()[0]})") from None
        return cls(path, metadata, session)

    def run_graph(self, depth, intrinsics):
        feed = {"depth": depth.astype(np.float32), "intrinsics": intrinsics.astype(np.float32)}
        values = self.session.run(None, feed)
        return dict(zip(self.outputs, values))


class TensorRTRunner(ExportedModel):
    """A handloop TensorRT artefact on the GPU (TensorRT 10 name-based I/O, buffers through cuda-python)."""

    def __init__(self, path: Path, metadata: dict, engine: bytes):
        from cuda.bindings import runtime as cudart

        from handloop.export.tensorrt import require

        trt = require()
        super().__init__(path, metadata)
        self.cudart = cudart
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(engine)
        if self.engine is None:
            raise ValueError("TensorRT could not deserialize the engine (built by another TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        self.host, self.inputs = {}, []
        for name in (self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)):
            self.host[name] = np.zeros(tuple(self.engine.get_tensor_shape(name)),
                                       trt.nptype(self.engine.get_tensor_dtype(name)))
            device = cudart.cudaMalloc(self.host[name].nbytes)[1]
            self.context.set_tensor_address(name, int(device))
            if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs.append(name)
        self.addresses = {name: self.context.get_tensor_address(name) for name in self.host}

    @classmethod
    def open(cls, path, threads=None):
        metadata, engine = meta.engine_metadata(path.read_bytes(), str(path))
        try:
            return cls(path, metadata, engine)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"{path}: the TensorRT engine cannot be loaded ({str(error).splitlines()[0]})") from None

    def _copy(self, name: str, to_device: bool) -> None:
        kind = self.cudart.cudaMemcpyKind
        src, dst = (self.host[name].ctypes.data, self.addresses[name])
        self.cudart.cudaMemcpy(*((dst, src) if to_device else (src, dst)), self.host[name].nbytes,
                               kind.cudaMemcpyHostToDevice if to_device else kind.cudaMemcpyDeviceToHost)

    def run_graph(self, depth, intrinsics):
        values = {"depth": depth, "intrinsics": intrinsics}
        for name in self.inputs:
            self.host[name][...] = values[name]
            self._copy(name, to_device=True)
        self.context.execute_async_v3(0)
        self.cudart.cudaStreamSynchronize(0)
        outputs = {}
        for name in self.host.keys() - set(self.inputs):
            self._copy(name, to_device=False)
            outputs[name] = self.host[name].copy()
        return outputs


def onnx_options(threads: int | None = None):
    """ONNX Runtime session options for the batch-1 loop: all graph optimisations (constant folding, Conv fusions,
    NCHWc layouts), sequential execution, ``threads`` intra-op threads (None: ONNX Runtime's default, one per
    physical core): the fastest of the settings compared in docs/export.md."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        options.intra_op_num_threads = threads
    return options
