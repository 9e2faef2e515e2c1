"""TensorRT: which ONNX operators it parses, and an engine build from the ONNX export (fp32, fp16, int8).

TensorRT and an NVIDIA GPU are optional: ``tensorrt`` is imported only by :func:`require`, which turns a missing
package or GPU into one ValueError line saying what to install or how to build elsewhere (docs/export.md).
"""

from __future__ import annotations

from pathlib import Path

SUPPORTED_ONNX_OPS = frozenset({
    # ONNX operators the TensorRT 10 ONNX parser supports (onnx/onnx-tensorrt, docs/operators.md, opsets 9-20),
    # restricted to those a loop export may contain (OneHot: its depth must be a build-time constant, as in
    # Procrustes); an op outside this set fails the export's op-list test.
    "Abs", "Add", "And", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant",
    "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "DepthToSpace", "Div", "Einsum", "Equal", "Exp", "Expand",
    "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gemm", "Greater", "GreaterOrEqual", "Identity",
    "IsInf", "IsNaN", "Less", "LessOrEqual", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Not", "OneHot", "Or", "Pad", "Pow", "Range",
    "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu", "Reshape", "Resize", "ScatterND",
    "Shape", "Sigmoid", "Sin", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Tile", "TopK",
    "Transpose", "Unsqueeze", "Where", "Xor",
})
"""ONNX op types TensorRT 10 builds (see the module docstring for the source)."""

MISSING = ("TensorRT is not available here ({why}): on a machine with an NVIDIA GPU install it "
           "('pip install tensorrt', on a Jetson it comes with JetPack), or export --format onnx and build there "
           "with: trtexec --onnx=MODEL.onnx --saveEngine=MODEL.engine --fp16 (see docs/export.md)")


def unsupported_ops(proto) -> list[str]:
    """Op types of ONNX model ``proto`` that TensorRT 10 does not parse (empty when all are supported)."""
    return sorted({node.op_type for node in proto.graph.node} - SUPPORTED_ONNX_OPS)


def require():
    """Returns the ``tensorrt`` module; ValueError (one line, what is missing) without TensorRT or a GPU."""
    try:
        import tensorrt as trt
    except ImportError as error:
        raise ValueError(MISSING.format(why=f"import tensorrt failed: {error}")) from None
    try:
        trt.Builder(trt.Logger(trt.Logger.ERROR)).create_builder_config()
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ValueError(MISSING.format(why=f"no usable NVIDIA GPU: {error}")) from None
    return trt


def _calibrator(trt, calibration, cache: Path):
    """An entropy calibrator over the representative inputs ``calibration()`` yields; the scales are cached in
    ``cache`` so a rebuild skips calibration."""
    import numpy as np
    from cuda.bindings import runtime as cudart  # cuda-python, installed beside TensorRT

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.batches = iter(calibration())
            self.buffers = {}

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            try:
                batch = next(self.batches)
            except StopIteration:
                return None
            pointers = []
            for name in names:
                host = np.ascontiguousarray(batch[name], np.float32)
                if name not in self.buffers:
                    self.buffers[name] = cudart.cudaMalloc(host.nbytes)[1]
                cudart.cudaMemcpy(self.buffers[name], host.ctypes.data, host.nbytes,
                                  cudart.cudaMemcpyKind.cudaMemcpyHostToDevice)
                pointers.append(int(self.buffers[name]))
            return pointers

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data):
            cache.write_bytes(bytes(data))

    return Calibrator()


def build_engine(onnx_bytes: bytes, precision: str, calibration=None, cache: Path | None = None) -> bytes:
    """Builds a serialized TensorRT engine from an ONNX export.

    Args:
        precision: ``fp32``, ``fp16`` or ``int8`` (int8 also enables fp16 for layers that stay in float).
        calibration: for int8, a callable yielding ``{"depth", "intrinsics"}`` batch-1 inputs.
        cache: for int8, the calibration cache file (read when present, written after calibrating).

    Raises:
        ValueError: TensorRT or a GPU is missing, the parser rejects the graph, or the build fails.
    """
    trt = require()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"TensorRT could not parse the ONNX export: {errors}")
    config = builder.create_builder_config()
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if calibration is None or cache is None:
            raise ValueError("an int8 TensorRT engine needs representative inputs and a calibration cache path")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _calibrator(trt, calibration, cache)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise ValueError("TensorRT failed to build the engine (its log above says why)")
    return bytes(engine)
