"""NYU, ICVL and MSRA15 readers on fixtures written in exactly their on-disk formats: bit-exact depth, labels
that project onto their pixels, and one clear error naming the file for every kind of bad input."""

import shutil
import struct
import warnings

import numpy as np
import pytest
import scipy.io
from PIL import Image
from dataset_fixtures import msra_bin, msra_pose, write_icvl, write_msra, write_nyu

from handloop.recipes.datasets import IcvlReader, MsraReader, NyuReader, open_dataset
from handloop.recipes.datasets.msra import CUBES_MM, read_joint_txt
from handloop.recipes.datasets.nyu import _subject
from handloop.zoo.camera import CAMERAS
from handloop.cli import main as cli_main
from handloop.zoo.depthio import read_depth


@pytest.fixture
def nyu_labels(published):
    """Frames 1-3 of the real NYU test labels, ``(3, 14, 3)`` uvd."""
    rows = [next(line for i, line in enumerate(open(published / "nyu_test_groundtruth_label.txt")) if i == k)
            for k in (0, 1, 2)]
    return np.array([[float(x) for x in r.split()] for r in rows]).reshape(3, 14, 3)


def test_nyu_depth_bit_exact_and_joints_project_onto_their_pixels(tmp_path, nyu_labels):
    depths = write_nyu(tmp_path, "test", nyu_labels)
    reader = NyuReader(tmp_path)
    frames = list(reader.frames("test"))
    assert len(frames) == 3
    for frame, depth, labels in zip(frames, depths, nyu_labels):
        assert frame.depth_mm.dtype == np.float32 and frame.depth_mm.shape == (480, 640)
        np.testing.assert_array_equal(frame.depth_mm, depth.astype(np.float32))
        assert frame.intrinsics == CAMERAS["nyu"] and frame.joint_set == "nyu14"
        np.testing.assert_allclose(frame.joints_uvd, labels, atol=1e-3)
        u, v = np.rint(labels[:, :2]).astype(int).T
        np.testing.assert_array_equal(frame.depth_mm[v, u], np.rint(labels[:, 2]))  # each joint on its pixel
        above = labels[:, 1] < CAMERAS["nyu"].cy
        assert np.all((frame.joints_xyz[:, 1] > 0) == above)  # NYU's y points up
        assert frame.cube == 300 and frame.subject == 1
        assert np.linalg.norm(CAMERAS["nyu"].uvd_to_xyz(frame.com_uvd) - frame.joints_xyz.mean(0)) < 60
    np.testing.assert_allclose(reader.labels_uvd("test"), nyu_labels, atol=1e-3)


def test_nyu_test_subjects_and_cubes():
    assert _subject("test", 1) == (1, 300) and _subject("test", 2440) == (1, 300)
    assert _subject("test", 2441) == (2, 250) and _subject("test", 8252) == (2, 250)
    assert _subject("train", 5000) == (0, 300)


def test_icvl_16bit_png_bit_exact_and_sequences(tmp_path):
    cam = CAMERAS["icvl"]
    rng = np.random.default_rng(1)
    joints = rng.uniform([100, 80, 300], [220, 160, 400], (5, 16, 3))
    depths = write_icvl(tmp_path, {"train.txt": joints[:2], "test_seq_1.txt": joints[2:4],
                                   "test_seq_2.txt": joints[4:]})
    reader = IcvlReader(tmp_path)
    train, test = list(reader.frames("train")), list(reader.frames("test"))
    assert [f.subject for f in test] == [1, 1, 2] and [f.subject for f in train] == [0, 0]
    for frame, depth in zip(test, depths["test_seq_1.txt"] + depths["test_seq_2.txt"]):
        np.testing.assert_array_equal(frame.depth_mm, depth.astype(np.float32))
        assert frame.cube == 250 and frame.intrinsics == cam and frame.joint_set == "icvl16"
    np.testing.assert_allclose(test[2].joints_uvd, joints[4], atol=1e-3)
    assert np.all((test[2].joints_xyz[:, 1] > 0) == (joints[4, :, 1] > cam.cy))  # ICVL's y points down


def test_msra_bin_bit_exact_folds_and_cubes(tmp_path):
    depths = write_msra(tmp_path, msra_pose(), frames_per_gesture=2)
    reader = MsraReader(tmp_path, test_subject=7)
    test = reader.entries("test")
    assert len(test) == 17 * 2 and {e.subject for e in test} == {7}
    assert {e.cube for e in test} == {CUBES_MM[7]} == {160}
    assert len(reader.entries("train")) == 8 * 17 * 2
    frame = reader.read(test[3])  # P7, gesture 2, frame 1
    np.testing.assert_array_equal(frame.depth_mm, depths["P7/2/1"])
    assert frame.depth_mm.dtype == np.float32 and frame.depth_mm[frame.depth_mm > 0].min() % 1 == 0.25
    np.testing.assert_allclose(frame.joints_xyz, msra_pose() + [2, 0, 0], atol=1e-3)  # z un-negated
    uv = np.rint(frame.joints_uvd[:, :2]).astype(int)
    assert np.all(frame.depth_mm[uv[:, 1], uv[:, 0]] > 0)  # y up: joints project onto the painted pixels
    assert read_depth(test[3].depth_path).shape == (240, 320)


def test_msra_degenerate_frame_skipped_with_warning_and_nothing_else(tmp_path):
    write_msra(tmp_path, msra_pose())
    path = tmp_path / "P0" / "TIP" / "joint.txt"
    path.write_text("1\n" + " ".join(["10.0 20.0 -300.0"] * 21) + "\n")  # all joints on one point
    reader = MsraReader(tmp_path)
    with pytest.warns(UserWarning, match=r"P0/TIP/000000 \(all joints within"):
        assert len(reader.entries("test")) == 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(reader.entries("train")) == 8 * 17


def _raises_naming(kind, path, call):
    with pytest.raises(kind) as info:
        call()
    assert str(path) in str(info.value), info.value
    return str(info.value)


def test_nyu_errors_name_the_file(tmp_path, nyu_labels):
    write_nyu(tmp_path, "test", nyu_labels)
    reader = NyuReader(tmp_path)
    png = tmp_path / "test" / "depth_1_0000002.png"
    png.write_bytes(png.read_bytes()[:200])  # truncated
    entries = reader.entries("test")
    _raises_naming(ValueError, png, lambda: reader.read(entries[1]))
    png.unlink()  # a label without its frame
    _raises_naming(ValueError, tmp_path / "test" / "joint_data.mat", lambda: reader.entries("test"))
    mat = tmp_path / "test" / "joint_data.mat"
    scipy.io.savemat(mat, {"joint_uvd": nyu_labels, "joint_xyz": nyu_labels})  # (frames, 14, 3): no kinect axis
    assert "expected (kinects, frames, 36, 3)" in _raises_naming(ValueError, mat, lambda: reader.entries("test"))
    mat.write_bytes(b"MATLAB 5.0 MAT-file garbage" * 3)
    _raises_naming(ValueError, mat, lambda: reader.entries("test"))
    _raises_naming(FileNotFoundError, tmp_path / "train", lambda: reader.entries("train"))
    _raises_naming(FileNotFoundError, tmp_path / "nowhere", lambda: NyuReader(tmp_path / "nowhere"))


def test_icvl_errors_name_the_file(tmp_path):
    joints = np.full((1, 16, 3), [160.0, 120.0, 350.0])
    write_icvl(tmp_path, {"test_seq_1.txt": joints, "test_seq_2.txt": joints})
    reader = IcvlReader(tmp_path)
    big = tmp_path / "Depth" / "test_seq_1" / "image_0000.png"
    Image.fromarray(np.zeros((480, 640), np.uint16)).save(big)  # a NYU-sized frame in ICVL
    entry = reader.entries("test")[0]
    assert "640x480 pixels" in _raises_naming(ValueError, big, lambda: reader.read_depth(entry))
    (tmp_path / "Depth" / "test_seq_2" / "image_0000.png").unlink()
    _raises_naming(FileNotFoundError, tmp_path / "Depth" / "test_seq_2" / "image_0000.png",
                   lambda: reader.entries("test"))
    labels = tmp_path / "test_seq_1.txt"
    labels.write_text(labels.read_text().rsplit(" ", 1)[0] + "\n")  # 47 numbers
    assert ":1: 48 fields" in _raises_naming(ValueError, labels, lambda: reader.entries("test"))
    _raises_naming(FileNotFoundError, tmp_path / "train.txt", lambda: reader.entries("train"))


def test_msra_errors_name_the_file(tmp_path):
    write_msra(tmp_path, msra_pose())
    reader = MsraReader(tmp_path, test_subject=8)
    folder = tmp_path / "P8" / "Y"
    depth = np.zeros((240, 320), np.float32)
    depth[100:110, 150:160] = 350
    raw = msra_bin(depth)
    (folder / "000000_depth.bin").write_bytes(struct.pack("2i", 640, 480) + raw[8:])  # wrong header
    entry = reader.entries("test")[-1]
    assert "bad MSRA header" in _raises_naming(ValueError, entry.depth_path, lambda: reader.read(entry))
    (folder / "000000_depth.bin").write_bytes(raw[:-4])  # truncated
    _raises_naming(ValueError, entry.depth_path, lambda: reader.read(entry))
    (folder / "000001_depth.bin").write_bytes(raw)  # one frame more than labelled
    assert "1 frames" in _raises_naming(ValueError, folder / "joint.txt", lambda: reader.entries("test"))
    (folder / "000001_depth.bin").unlink()
    (folder / "joint.txt").write_text("2\n" + (folder / "joint.txt").read_text().split("\n", 1)[1])
    joint_txt = folder / "joint.txt"
    assert "header says 2" in _raises_naming(ValueError, joint_txt, lambda: read_joint_txt(joint_txt))
    (folder / "joint.txt").unlink()
    _raises_naming(FileNotFoundError, folder / "joint.txt", lambda: reader.entries("test"))
    shutil.rmtree(tmp_path / "P3" / "MP")
    _raises_naming(FileNotFoundError, tmp_path / "P3" / "MP", lambda: reader.entries("train"))
    with pytest.raises(ValueError, match="test subject must be 0-8"):
        MsraReader(tmp_path, test_subject=9)
    with pytest.raises(ValueError, match="unknown dataset"):
        open_dataset("hands17", tmp_path)


def test_cli_prints_one_line_naming_the_file(tmp_path, capsys):
    write_msra(tmp_path / "msra", msra_pose())
    (tmp_path / "msra" / "P0" / "5" / "joint.txt").write_text("1\n1 2 3\n")
    status = cli_main(["data", "convert", "msra", "--root", str(tmp_path / "msra"), "--out", str(tmp_path / "out"),
                       "--split", "test"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert str(tmp_path / "msra" / "P0" / "5" / "joint.txt") in err
