"""Issue 15: inputs that used to give a silent wrong answer or a traceback are refused in one line naming the file,
and the inference API bounds its memory. Most tests run the API around a stand-in graph (no TensorFlow model)."""

import dataclasses
import io
import json
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import handloop
from handloop.cli import main
from handloop.zoo.api import HandPoseModel
from handloop.zoo.camera import CAMERAS, Intrinsics
from handloop.zoo.config import lite
from handloop.zoo.depthio import read_depth
from handloop.zoo.preprocess import NoHandError

CONFIG = dataclasses.replace(lite(), height=120, width=160)
"""A 160x120 loop; :data:`INTRINSICS` is its camera."""
INTRINSICS = "120,120,80,60"


class FakeModel(HandPoseModel):
    """:class:`HandPoseModel`'s ``predict`` around a stand-in graph whose every output is ``value``."""

    def __init__(self, config=CONFIG, value=500.0):
        self.config, self.name, self.source, self.value, self.calls = config, "fake", "fake.weights.h5", value, []

    def run_graph(self, depth, intrinsics):
        self.calls.append(len(depth))
        b, j, n = len(depth), self.config.num_joints, self.config.iterations
        shapes = {"joints_xyz": (b, j, 3), "joints_uvd": (b, j, 3), "iterations_xyz": (b, n + 1, j, 3),
                  "iterations_uvd": (b, n + 1, j, 3), "center_uvd": (b, 3), "crop": (b, 128, 128, 1),
                  "synth": (b, n, 128, 128, 1), "hand_found": (b,)}
        return {k: np.full(shape, self.value, np.float32) for k, shape in shapes.items()}


def hand_frame(height=120, width=160):
    """A box-shaped hand (palm and forearm) at 400 mm, 10 x 8 cm and 3 x 12 cm for the 160x120 camera (fx 120),
    scaled with the frame."""
    depth = np.zeros((120, 160), np.float32)
    depth[40:70, 60:84] = 400
    depth[65:100, 70:80] = 410
    return np.kron(depth, np.ones((height // 120, width // 160), np.float32))


def png_bytes(array, mode=None, fmt="PNG"):
    buffer = io.BytesIO()
    image = Image.fromarray(array, mode) if mode != "P" else Image.fromarray(array).convert("P")
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_of_size(width, height):
    """A 16-bit PNG whose header claims ``width x height`` pixels (the data is a 1x1 image's): a decompression bomb."""
    data = png_bytes(np.zeros((1, 1), np.uint16))
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


grey8 = (hand_frame() / 4).astype(np.uint8)
rgb8 = np.stack([grey8] * 3, -1)
BAD_DEPTH_FILES = {
    "grey8.png": (png_bytes(grey8), "8-bit greyscale PNG, expected a 16-bit"),
    "palette.png": (png_bytes(grey8, "P"), "8-bit palette PNG"),
    "rgb8.png": (png_bytes(rgb8), "8-bit RGB PNG.*nyu camera"),
    "rgba8.png": (png_bytes(np.dstack([rgb8, grey8])), "8-bit RGBA PNG"),
    "photo.png": (png_bytes(rgb8, fmt="JPEG"), "a JPEG image, not a PNG"),
    "bomb.png": (png_of_size(20000, 20000), "too large"),
    "big.png": (png_of_size(5000, 5000), "5000x5000 pixels, more than"),
    "empty.npy": (b"", "not a readable .npy"),
    "cut.npy": (npy_bytes(hand_frame())[:500], "not a readable .npy"),
    "complex.npy": (npy_bytes(hand_frame().astype(np.complex64)), "dtype complex64, expected real numbers"),
    "mask.npy": (npy_bytes(hand_frame() > 0), "dtype bool"),
    "stack.npy": (npy_bytes(np.stack([hand_frame()] * 2)), "expected a 2-D depth array"),
    "text.bin": (b"hello", "truncated MSRA .bin"),
}


@pytest.mark.parametrize("name", BAD_DEPTH_FILES)
def test_depth_files_that_are_not_depth_are_refused_by_name(name, tmp_path, capsys, monkeypatch):
    data, message = BAD_DEPTH_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as error:
        read_depth(path)
    assert str(path) in str(error.value)
    monkeypatch.setattr(handloop, "load", lambda name: FakeModel())
    assert main(["predict", "fake", str(path), "--intrinsics", INTRINSICS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_depth_kinds_that_are_depth_are_read(tmp_path):
    depth = hand_frame().astype(np.uint16)
    nyu = np.stack([np.full_like(grey8, 7), depth >> 8, depth & 255], -1).astype(np.uint8)
    for name, data in (("d.png", png_bytes(depth)), ("d.npy", npy_bytes(depth)), ("f.npy", npy_bytes(depth * 1.0))):
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(read_depth(tmp_path / name), depth)
    (tmp_path / "nyu.png").write_bytes(png_bytes(nyu))
    np.testing.assert_array_equal(read_depth(tmp_path / "nyu.png", nyu_rgb=True), depth)


def wall(height=120, width=160, mm=1000.0):
    return np.full((height, width), mm, np.float32)


def one_pixel():
    depth = np.zeros((120, 160), np.float32)
    depth[60, 80] = 500
    return depth


def hand_before_wall():
    depth = wall(mm=700)
    depth[hand_frame() > 0] = 400
    return depth


NO_HAND = {
    "flat wall at 1 m": (wall(), "too large"),
    "wall at 500 mm": (wall(mm=500), "too large"),
    "one valid pixel": (one_pixel(), "too small"),
    "empty frame": (np.zeros((120, 160), np.float32), "no depth between"),
    "depth in metres": (hand_frame() / 1000, "in metres"),
}


@pytest.mark.parametrize("case", NO_HAND)
def test_frames_without_a_hand_sized_blob_have_no_hand(case, tmp_path, capsys, monkeypatch):
    depth, reason = NO_HAND[case]
    model = FakeModel()
    with pytest.raises(NoHandError, match=f"no hand found in depth frame 1: .*{reason}"):
        model.predict(np.stack([hand_frame(), depth]), INTRINSICS)
    assert model.calls == []  # nothing ran
    path = tmp_path / "frame.npy"
    np.save(path, depth)
    monkeypatch.setattr(handloop, "load", lambda name: FakeModel())
    assert main(["predict", "fake", str(path), "--intrinsics", INTRINSICS]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"handloop predict: error: no hand found in {path}: ") and err.count("\n") == 1
    assert main(["predict", "fake", str(path), "--intrinsics", INTRINSICS, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"].startswith(f"no hand found in {path}: ")


@pytest.mark.parametrize("depth", [hand_frame(), hand_before_wall()], ids=["hand", "hand before a wall"])
def test_hands_are_found(depth):
    assert FakeModel().predict(depth, INTRINSICS).joints_xyz.shape == (21, 3)


def test_synthetic_frames_have_hands():
    from handloop.recipes.synth.generate import SynthSettings, shard_frames

    for objects in ("none", "mixed"):
        frames = list(shard_frames(SynthSettings(frames=12, seed=5, objects=objects, shard_size=12), 0))
        model = FakeModel(lite())
        model.predict(np.stack([f.depth_mm for f in frames]), frames[0].intrinsics)
        assert sum(model.calls) == 12


BAD_CAMERAS = {
    "588,587,-1e9,240": "principal point lies outside",
    "120,120,80,1e9": "principal point lies outside",
    "0,120,80,60": "focal lengths must be positive",
    "nan,120,80,60": "finite",
    "inf,120,80,60": "finite",
    "120,120,80": "unknown camera",
    (120, 120, 80): "unknown camera",
    Intrinsics("zero", 0, 120, 80, 60, 160, 120): "focal lengths must be positive",
    Intrinsics("nan", float("nan"), 120, 80, 60, 160, 120): "finite",
    Intrinsics("text", "a", 120, 80, 60, 160, 120): "finite",
    Intrinsics("other size", 120, 120, 80, 60, 320, 240): "takes 320x240 frames, got 160x120",
    "icvl": "takes 320x240 frames, got 160x120",
    3: "unknown camera",
}


@pytest.mark.parametrize("camera", BAD_CAMERAS, ids=str)
def test_cameras_that_do_not_fit_are_refused(camera):
    with pytest.raises(ValueError, match=BAD_CAMERAS[camera]):
        FakeModel().predict(hand_frame(), camera)


def test_cameras_as_tuples_lists_and_the_default():
    model = FakeModel()
    for camera in ((120, 120, 80, 60), [120.0, 120, 80, 60], np.array([120, 120, 80, 60])):
        assert model.predict(hand_frame(), camera).joints_xyz.shape == (21, 3)
    with pytest.raises(ValueError, match="takes 640x480 frames, got 160x120"):
        model.predict(hand_frame())  # the default synthetic camera is 640x480
    full = FakeModel(lite())
    assert full.predict(hand_frame(480, 640)).joints_xyz.shape == (21, 3)
    with pytest.raises(ValueError, match="'icvl'.* takes 320x240 frames, got 640x480"):
        full.predict(hand_frame(480, 640), CAMERAS["icvl"])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_outputs_name_the_source(value):
    with pytest.raises(ValueError, match=r"non-finite output from fake\.weights\.h5 .*likely corrupt"):
        FakeModel(value=value).predict(hand_frame(), INTRINSICS)


@pytest.mark.parametrize("batch_size, message", [(0, "at least 1"), (-3, "at least 1"), (2.5, "whole number"),
                                                 (True, "whole number")])
def test_bad_batch_sizes(batch_size, message):
    with pytest.raises(ValueError, match=message):
        FakeModel().predict(hand_frame(), INTRINSICS, batch_size=batch_size)


def test_empty_batches_and_chunks():
    model = FakeModel()
    with pytest.raises(ValueError, match="the batch is empty"):
        model.predict(np.zeros((0, 120, 160)), INTRINSICS)
    frames = np.stack([hand_frame()] * 7)
    assert model.predict(frames, INTRINSICS, batch_size=3).joints_xyz.shape == (7, 21, 3)
    assert model.calls == [3, 3, 1]
    frames[5, 0, 0] = np.nan
    with pytest.raises(ValueError, match="depth frame 5 has 1 NaN"):
        model.predict(frames, INTRINSICS, batch_size=3)


BAD_ITERATIONS = "(must be at least 0|expected an integer)"


@pytest.mark.parametrize("iterations", [-1, "two", 1.5, None])
def test_cards_with_bad_iterations(iterations, tmp_path, capsys):
    from handloop.zoo.registry import RegistryError, WEIGHTS_DIR

    card = json.loads((WEIGHTS_DIR / "synth-hand-lite.json").read_text())
    card["config"]["iterations"] = iterations
    card["weights"] = str(WEIGHTS_DIR / card["weights"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(card))
    with pytest.raises(RegistryError, match=f"bad.json: (?s:.*)iterations: {BAD_ITERATIONS}, got {re.escape(repr(iterations))}"):
        handloop.load(path)
    assert main(["predict", str(path), str(tmp_path / "missing.npy")]) == 2  # the depth file is read first
    capsys.readouterr()


@pytest.mark.parametrize("iterations", [-1, 2.5])
def test_load_and_export_refuse_bad_iterations(iterations, tmp_path, capsys):
    with pytest.raises(ValueError, match=f"iterations: {BAD_ITERATIONS}, got {iterations}"):
        handloop.load("synth-hand-lite", iterations=iterations)
    if isinstance(iterations, int):
        assert main(["export", "synth-hand-lite", "--format", "onnx", "--iterations", str(iterations),
                     "--out", str(tmp_path / "x.onnx")]) == 2
        assert "iterations: must be at least 0, got -1" in capsys.readouterr().err
        assert not (tmp_path / "x.onnx").exists()


def result_line(depth=400.0, u=100.0, joints=21):
    return " ".join(f"{u:g} 100 {depth:g}" for _ in range(joints))


BAD_ROWS = {
    "depth -1e9": (result_line(-1e9), ":2: implausible row: a depth outside"),
    "depth 0": (result_line(0.0), ":2: implausible row: a depth outside"),
    "zeros": (" ".join(["0"] * 63), ":2: implausible row: all zeros"),
    "u -1e9": (result_line(u=-1e9), ":2: implausible row: a pixel coordinate"),
    "metres": (result_line(0.4), ":2: implausible row: a depth outside"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_compare_refuses_implausible_rows(case, tmp_path, capsys):
    line, message = BAD_ROWS[case]
    labels, results = tmp_path / "labels.txt", tmp_path / "method.txt"
    labels.write_text(f"{result_line()}\n{result_line(410)}\n")
    results.write_text(f"{result_line()}\n{line}\n")
    assert main(["compare", str(results), "--dataset", "synth", "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{results}{message}" in err
    assert main(["compare", str(labels), "--dataset", "synth", "--labels", str(results)]) == 2
    assert f"{results}{message}" in capsys.readouterr().err  # labels too


def test_compare_refuses_a_binary_file(tmp_path, capsys):
    labels, binary = tmp_path / "labels.txt", tmp_path / "method.txt"
    labels.write_text(f"{result_line()}\n")
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["compare", str(binary), "--dataset", "synth", "--labels", str(labels)]) == 2
    assert f"{binary}: not a text file" in capsys.readouterr().err


def shard_folder(folder, frames=6):
    """A shard folder of ``frames`` box-hand frames (640x480, synthetic camera) in one shard."""
    import tensorflow as tf

    from handloop.recipes.records import Frame, encode_frame, prepare_folder, shard_path

    manifest = {"source": "test", "settings": {"shard_size": frames}, "shards": 1, "frames": frames,
                "frame_size": [480, 640], "num_joints": 21, "joint_set": "msra21"}
    prepare_folder(folder, manifest)
    camera = CAMERAS["synth"]
    with tf.io.TFRecordWriter(str(shard_path(folder, 0, 1))) as writer:
        for i in range(frames):
            joints = camera.uvd_to_xyz(np.column_stack([np.linspace(290, 330, 21), np.full(21, 250.0),
                                                        np.full(21, 500.0 + i)]))
            writer.write(encode_frame(Frame(hand_frame(480, 640) + 100 * (hand_frame(480, 640) > 0), camera, joints,
                                            "msra21", 300.0, np.array([300.0, 250, 500]))))
    return shard_path(folder, 0, 1)


def corrupt(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) * 2 // 3:]  # for 6 equal records: cut after the 4th
    elif how == "cut inside a record":
        del data[len(data) // 2 + 7:]
    else:
        data[len(data) // 2 + 100] ^= 0x10  # inside the 4th record's data: its checksum fails
    path.write_bytes(bytes(data))


@pytest.fixture(params=["truncated", "cut inside a record", "bit-flipped"])
def bad_shards(request, tmp_path):
    shard = shard_folder(tmp_path / "data")
    corrupt(shard, request.param)
    return tmp_path / "data", shard


def test_corrupt_shards_are_named_by_data_eval_and_reads(bad_shards, tmp_path, capsys):
    from handloop.recipes.evaluate import read_frames
    from handloop.recipes.records import corrupt_shard_error, frames_dataset

    folder, shard = bad_shards
    with pytest.raises(ValueError, match=f"{shard}: truncated or corrupt shard"):
        read_frames(folder)
    for argv in (["data", "show", str(folder), "--out", str(tmp_path / "sheet.png")],
                 ["data", "frames", str(folder), "--out", str(tmp_path / "frames"), "--count", "6"],
                 ["eval", "synth-hand-lite", "--dataset", "synth", "--root", str(folder), "--out",
                  str(tmp_path / "r.txt")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{shard}: truncated or corrupt shard" in err, argv
    import tensorflow as tf

    try:  # the training pipeline: a cut shard is named as it is listed, a failed checksum as tf.data meets it
        list(frames_dataset(folder))
    except tf.errors.DataLossError as error:
        named = corrupt_shard_error([folder], error)
    except ValueError as error:
        named = error
    assert f"{shard}: truncated or corrupt shard" in str(named)


def test_corrupt_manifests_are_named(tmp_path, capsys):
    shard_folder(tmp_path / "data")
    manifest = tmp_path / "data" / "manifest.json"
    for text, message in (("{not json", "corrupt manifest, not JSON"), ('{"frames": 6}', "corrupt manifest, it lacks"),
                          ("[1, 2]", "corrupt manifest, it lacks")):
        manifest.write_text(text)
        assert main(["data", "show", str(tmp_path / "data"), "--out", str(tmp_path / "sheet.png")]) == 2
        err = capsys.readouterr().err
        assert f"{manifest}: {message}" in err and err.count("\n") == 1


def test_training_names_a_corrupt_shard(tmp_path, capsys):
    import yaml

    from test_train_cli import TINY_MODEL

    shard = shard_folder(tmp_path / "train")
    corrupt(shard, "bit-flipped")
    recipe = {"name": "tiny", "workdir": str(tmp_path / "runs"), "model": TINY_MODEL,
              "data": {"train": str(tmp_path / "train"), "test": str(tmp_path / "train"), "shuffle_buffer": 4},
              "stages": {"localizer": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 2}}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["train", str(tmp_path / "tiny.yaml"), "--stage", "localizer", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{shard}: truncated or corrupt shard" in err
