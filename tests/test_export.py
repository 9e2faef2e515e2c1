"""Exported artefacts (SavedModel, TFLite fp32, ONNX) match the Keras loop; failures leave nothing behind."""

import json

import numpy as np
import pytest

import export
from test_loops import SMALL
from zoo.cli import main
from zoo.loops import build_hand_loop
from zoo.registry import load, save_entry

INTRINSICS = "120,120,80,60"
TENSORRT_ONNX_OPS = {
    # ONNX operators the TensorRT 10 ONNX parser supports (onnx-tensorrt docs/operators.md), those a loop may use.
    "Abs", "Add", "And", "ArgMax", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "Constant",
    "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Div", "Einsum", "Equal", "Exp", "Expand", "Flatten", "Floor",
    "Gather", "GatherElements", "GatherND", "Gemm", "Greater", "GreaterOrEqual", "Identity", "IsInf", "IsNaN", "Less",
    "LessOrEqual", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Not", "Or", "Pad", "Pow", "Range",
    "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu", "Reshape", "Resize", "ScatterND",
    "Shape", "Sigmoid", "Sin", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Tile", "TopK",
    "Transpose", "Unsqueeze", "Where", "Xor",
}


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    folder = tmp_path_factory.mktemp("zoo")
    save_entry(build_hand_loop(SMALL), SMALL, "tiny", {"mean_mm": 1.0}, folder)
    return folder / "tiny.json"


def hand_frames():
    depth = np.zeros((2, 120, 160), np.float32)
    depth[0, 40:70, 60:84] = 400
    depth[0, 65:100, 70:80] = 410
    depth[1, 30:60, 80:100] = 380
    return depth


@pytest.mark.parametrize("fmt, suffix", [("savedmodel", "_savedmodel"), ("tflite", ".tflite"), ("onnx", ".onnx")])
def test_fp32_artefacts_match_keras(card, tmp_path, fmt, suffix):
    path = export.export(str(card), fmt, out=tmp_path / f"tiny{suffix}")
    runner = export.load(path)
    assert runner.metadata["entry"] == "tiny" and runner.metadata["iterations"] == SMALL.iterations
    assert runner.metadata["joints"][0] == "wrist"
    expected = load(card).predict(hand_frames(), INTRINSICS)
    got = runner.predict(hand_frames(), INTRINSICS)
    assert np.abs(got.joints_xyz - expected.joints_xyz).max() < 0.01  # mm
    assert np.abs(got.iterations_xyz - expected.iterations_xyz).max() < 0.01


def test_onnx_ops_are_tensorrt_ops(card, tmp_path):
    import onnx

    path = export.export(str(card), "onnx", out=tmp_path / "tiny.onnx")
    ops = {node.op_type for node in onnx.load(path).graph.node}
    assert ops <= TENSORRT_ONNX_OPS, sorted(ops - TENSORRT_ONNX_OPS)
    assert onnx.load(path).opset_import[0].version >= 17


def test_killed_export_leaves_nothing(card, tmp_path, monkeypatch):
    from export import formats

    def crash(model, path, precision, metadata, calibration):
        path.write_bytes(b"half an artefact")
        raise KeyboardInterrupt

    monkeypatch.setitem(formats.FORMATS, "onnx", formats.Format("onnx", ".onnx", ("fp32",), crash))
    with pytest.raises(KeyboardInterrupt):
        export.export(str(card), "onnx", out=tmp_path / "tiny.onnx")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_unknown_artefacts(tmp_path, card, capsys):
    for name, data in (("bad.tflite", b"\x00" * 64), ("bad.onnx", b"not onnx at all")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=name):
            export.load(tmp_path / name)
    good = export.export(str(card), "tflite", out=tmp_path / "tiny.tflite")
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.tflite"):
        export.load(truncated)
    with pytest.raises(FileNotFoundError):
        export.load(tmp_path / "missing.onnx")
    assert main(["export", str(card), "--format", "tflite", "--precision", "int8", "--out",
                 str(tmp_path / "x.tflite")]) == 2
    assert "int8 calibration" in capsys.readouterr().err  # the 120x160 test loop cannot take 640x480 frames
    assert main(["export", str(card), "--format", "onnx", "--precision", "fp16"]) == 2
    assert "offers precisions" in capsys.readouterr().err


def test_tensorrt_missing_says_what_to_do(card, tmp_path, capsys):
    pytest.importorskip("onnx")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    assert main(["export", str(card), "--format", "tensorrt", "--out", str(tmp_path / "t.engine")]) == 2
    assert "TensorRT is not installed" in capsys.readouterr().err
    assert not (tmp_path / "t.engine").exists()


def test_export_cli_writes_and_reports(card, tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", str(card), "--format", "onnx", "--iterations", "1", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert export.load(out).metadata["iterations"] == 1
    assert json.loads(json.dumps(export.load(out).metadata))["format"] == "onnx"


def test_bench_cli_json_and_tables(card, tmp_path, capsys):
    assert main(["bench", str(card), "--formats", "keras", "onnx", "tensorrt", "--frames", "0", "--repeats", "2",
                 "--out", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {row["format"]: row for row in result["formats"]}
    assert rows["keras"]["status"] == "ok" and rows["onnx"]["latency_ms"] > 0
    assert rows["tensorrt"]["status"].startswith("skipped")
    assert {row["network"] for row in result["networks"]} == {"localizer", "predictor", "synthesizer", "updater"}
    assert (tmp_path / "bench.md").read_text().startswith(str(card))
