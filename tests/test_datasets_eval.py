"""Converting a fixture dataset to shards (resumable, exact) and ``handloop eval`` on fixture datasets with stub
models, scored back by ``handloop compare``."""

import json
import types

import numpy as np
import pytest
from dataset_fixtures import msra_pose, write_icvl, write_msra, write_nyu

import handloop
from handloop.recipes.datasets import MsraReader
from handloop.recipes.datasets.convert import ConvertSettings, convert
from handloop.recipes.evaluate import read_frames
from handloop.recipes.records import read_manifest
from handloop.zoo.camera import CAMERAS
from handloop.cli import main as cli_main
from handloop.zoo.joints import convert_joints
from handloop.zoo.resultfile import read_results


def test_convert_msra_exact_and_resumable(tmp_path):
    write_msra(tmp_path / "msra", msra_pose(), frames_per_gesture=2)
    reader = MsraReader(tmp_path / "msra", test_subject=4)
    settings = ConvertSettings(split="test", shard_size=10)
    paths = convert(reader, settings, tmp_path / "out", progress=False)
    assert len(paths) == 4 and read_manifest(tmp_path / "out")["frames"] == 34
    frames = read_frames(tmp_path / "out")
    entries = reader.entries("test")
    assert len(frames) == len(entries)
    for frame, entry in zip(frames[::11], entries[::11]):
        original = reader.read(entry)
        np.testing.assert_array_equal(frame.depth_mm, np.rint(original.depth_mm))  # stored as whole mm
        np.testing.assert_array_equal(frame.joints_xyz, original.joints_xyz)
        np.testing.assert_allclose(frame.com_uvd, original.com_uvd, rtol=1e-6)
        assert (frame.cube, frame.subject, frame.joint_set, frame.intrinsics) == (180, 4, "msra21", CAMERAS["msra"])
    stamps = [p.stat().st_mtime_ns for p in paths]
    paths[2].unlink()
    assert cli_main(["data", "convert", "msra", "--root", str(tmp_path / "msra"), "--out", str(tmp_path / "out"),
                     "--split", "test", "--fold", "4", "--shard-size", "10"]) == 0  # resumes: only the missing shard
    assert [p.stat().st_mtime_ns for i, p in enumerate(paths) if i != 2] == stamps[:2] + stamps[3:]
    assert paths[2].is_file()
    with pytest.raises(ValueError, match="other settings"):
        convert(reader, ConvertSettings(split="test", shard_size=5), tmp_path / "out", progress=False)


class StubModel:
    """Answers ``predict`` with given joints (``(F, J, 3)`` camera mm), a batch at a time, in order."""

    def __init__(self, joints_xyz, joint_set):
        self.joints_xyz, self.joint_set, self.cursor = joints_xyz, joint_set, 0

    def predict(self, depth_mm, intrinsics):
        batch = self.joints_xyz[self.cursor:self.cursor + len(depth_mm)]
        self.cursor += len(depth_mm)
        return types.SimpleNamespace(joints_xyz=batch, joint_set=self.joint_set)


def test_eval_icvl_writes_a_result_file_compare_scores(tmp_path, monkeypatch, capsys):
    cam = CAMERAS["icvl"]
    rng = np.random.default_rng(2)
    labels = rng.uniform([110, 90, 320], [210, 150, 380], (5, 16, 3))
    write_icvl(tmp_path / "icvl", {"test_seq_1.txt": labels[:3], "test_seq_2.txt": labels[3:]})
    model = StubModel(cam.uvd_to_xyz(labels) + [3.0, 4.0, 0.0], "icvl16")  # every joint 5 mm off
    monkeypatch.setattr(handloop, "load", lambda name: model)
    out, truth = tmp_path / "stub.txt", tmp_path / "labels.txt"
    assert cli_main(["eval", "stub", "--dataset", "icvl", "--root", str(tmp_path / "icvl"), "--out", str(out),
                     "--labels-out", str(truth), "--batch-size", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["frames"] == 5 and row["mean_mm"] == pytest.approx(5, abs=0.01)
    assert read_results(out, 16).shape == (5, 16, 3)
    assert cli_main(["compare", str(out), "--dataset", "icvl", "--labels", str(truth), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored[0]["name"] == "stub" and scored[0]["mean_mm"] == pytest.approx(5, abs=0.01)
    assert scored[0]["frac_max_20"] == 1.0


def test_eval_maps_msra21_predictions_to_nyu14(tmp_path, monkeypatch, capsys, published):
    lines = open(published / "nyu_test_groundtruth_label.txt").readlines()[:2]
    labels = np.array([[float(x) for x in line.split()] for line in lines]).reshape(2, 14, 3)
    write_nyu(tmp_path / "nyu", "test", labels)
    cam = CAMERAS["nyu"]
    msra = np.stack([msra_pose(), msra_pose() + [5.0, 0, 0]])
    monkeypatch.setattr(handloop, "load", lambda name: StubModel(msra, "msra21"))
    out = tmp_path / "nyu-run.txt"
    assert cli_main(["eval", "x", "--dataset", "nyu", "--root", str(tmp_path / "nyu"), "--out", str(out)]) == 0
    assert "mean_mm" in capsys.readouterr().out
    np.testing.assert_allclose(read_results(out, 14), cam.xyz_to_uvd(convert_joints(msra, "nyu14")), atol=1e-3)


def test_eval_refuses_unmappable_joint_sets(tmp_path, monkeypatch, capsys):
    write_icvl(tmp_path / "icvl", {"test_seq_1.txt": np.full((1, 16, 3), [160.0, 120.0, 350.0]),
                                   "test_seq_2.txt": np.full((1, 16, 3), [160.0, 120.0, 350.0])})
    monkeypatch.setattr(handloop, "load", lambda name: StubModel(np.zeros((2, 14, 3)), "nyu14"))
    assert cli_main(["eval", "x", "--dataset", "icvl", "--root", str(tmp_path / "icvl"),
                     "--out", str(tmp_path / "r.txt")]) == 2
    assert "only msra21 maps" in capsys.readouterr().err


def _write_shard(directory, frames):
    """A one-shard folder of ``frames`` with its manifest, as the generator writes it."""
    import tensorflow as tf

    from handloop.recipes.records import MANIFEST, encode_frame, shard_path

    directory.mkdir()
    cam = frames[0].intrinsics
    (directory / MANIFEST).write_text(json.dumps({"shards": 1, "frames": len(frames), "num_joints": 21,
                                                  "frame_size": [cam.height, cam.width], "joint_set": "msra21"}))
    with tf.io.TFRecordWriter(str(shard_path(directory, 0, 1))) as writer:
        for frame in frames:
            writer.write(encode_frame(frame))


def test_eval_synth_shards_and_refuses_real_ones(tmp_path, monkeypatch, capsys):
    from dataset_fixtures import paint_joints

    from handloop.recipes.records import Frame

    cam, frames = CAMERAS["synth"], []
    for shift in (0.0, 10.0):
        xyz = msra_pose() * [1, -1, 1] + [shift, 0, 0]  # the synthetic camera's y points down
        frames.append(Frame(paint_joints(cam.xyz_to_uvd(xyz), cam.height, cam.width).astype(np.float32), cam,
                            xyz.astype(np.float32), "msra21", 300.0, cam.xyz_to_uvd(xyz[5])))
    _write_shard(tmp_path / "synth", frames)
    truth = np.stack([f.joints_xyz for f in frames])
    monkeypatch.setattr(handloop, "load", lambda name: StubModel(truth + [0, 0, 7.0], "msra21"))
    out = tmp_path / "s.txt"
    assert cli_main(["eval", "x", "--dataset", "synth", "--root", str(tmp_path / "synth"), "--out", str(out),
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_mm"] == pytest.approx(7, abs=0.01)
    msra = CAMERAS["msra"]
    frames = [Frame(np.full((240, 320), 400, np.float32), msra, msra_pose().astype(np.float32), "msra21", 200.0,
                    np.array([160, 120, 400.0]))]
    _write_shard(tmp_path / "real", frames)
    assert cli_main(["eval", "x", "--dataset", "synth", "--root", str(tmp_path / "real"),
                     "--out", str(tmp_path / "r.txt")]) == 2
    assert "--dataset nyu, icvl or msra" in capsys.readouterr().err
