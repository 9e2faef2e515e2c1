"""The figures explain themselves: ``handloop demo``'s iterations figure and ``handloop predict --overlay`` have the
ground truth where it is known (with its error), a legend naming the finger colours and line styles, one depth
scale with a labelled colour bar, captions saying what each synthesized image renders, and panels >= 4x the crop.
Checked through the matplotlib objects, on hand-made predictions (no model: seconds)."""

import json

import matplotlib
import numpy as np
import pytest

from handloop.recipes.frames import read_truth
from handloop.zoo.api import Prediction
from handloop.zoo.camera import get_intrinsics
from handloop.zoo.draw import DPI, FINGER_LABELS, legend_handles, save_figure
from handloop.zoo.joints import FINGER_COLOURS, MSRA21, NYU14, convert_joints
from handloop.zoo.overlays import MIN_ZOOM, iterations_figure, prediction_figure
from handloop.zoo.preprocess import crop_matrix, transform_points

matplotlib.use("Agg")

CAMERA = get_intrinsics("synth")
CUBE = 300.0
CROP = 128
FINGERS = ("thumb", "index", "middle", "ring", "little (pinky)")


def fake_prediction(seed: int, iterations: int = 2, shift_mm: float = 0.0) -> Prediction:
    """A single-frame prediction of a hand about 500 mm away: random MSRA-21 joints near the crop centre, each
    iteration moved by ``shift_mm``, a crop with a disc of hand depth and blurry synth images."""
    rng = np.random.default_rng(seed)
    center_xyz = np.array([20.0, -10.0, 500.0])
    poses = [center_xyz + rng.normal(0, 40, (MSRA21.size, 3))]
    for _ in range(iterations):
        poses.append(poses[-1] + shift_mm)
    iterations_xyz = np.stack(poses)
    yy, xx = np.mgrid[:CROP, :CROP]
    disc = (xx - 64) ** 2 + (yy - 60) ** 2 < 30 ** 2
    crop = np.where(disc, rng.uniform(-0.4, 0.3, (CROP, CROP)), 1.0).astype(np.float32)
    synth = np.stack([np.where(disc, -0.1, 1.0) for _ in range(max(iterations, 1))]).astype(np.float32)
    iterations_uvd = CAMERA.xyz_to_uvd(iterations_xyz)
    return Prediction(joints_xyz=iterations_xyz[-1], joints_uvd=iterations_uvd[-1], iterations_xyz=iterations_xyz,
                      iterations_uvd=iterations_uvd, center_uvd=CAMERA.xyz_to_uvd(center_xyz), crop=crop, synth=synth,
                      joint_set="msra21")


def fake_frame(prediction: Prediction) -> np.ndarray:
    """A 480x640 depth frame in mm: a disc of hand around the prediction's centre on an empty (0) background."""
    yy, xx = np.mgrid[:CAMERA.height, :CAMERA.width]
    cu, cv, cz = prediction.center_uvd
    return np.where((xx - cu) ** 2 + (yy - cv) ** 2 < 80 ** 2, cz + 30 * np.sin(xx / 20), 0.0)


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def truth_lines(ax):
    return [line for line in ax.lines if line.get_gid() == "truth"]


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


@pytest.fixture
def frames():
    predictions = [fake_prediction(seed, shift_mm=-3.0) for seed in range(2)]
    truths = [p.iterations_xyz[0] + np.array([10.0, 0.0, 0.0]) for p in predictions]  # predictor 10 mm off
    return predictions, truths


def test_iterations_figure_draws_truth_and_its_error_in_each_pose_caption(frames):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths, name="synth-hand-lite")
    poses = [ax for ax in image_axes(fig) if ax.get_title().startswith(("predictor", "iteration"))]
    assert len(poses) == 2 * 3  # predictor + 2 iterations per frame
    assert all(len(truth_lines(ax)) == len(MSRA21.bones) for ax in poses)
    errors = [np.linalg.norm(predictions[0].iterations_xyz[k] - truths[0], axis=-1).mean() for k in range(3)]
    first_row = [ax.get_title() for ax in poses[:3]]
    assert first_row[0].startswith("predictor pose\nerror 10.0 mm mean")
    assert all(f"error {e:.1f} mm mean" in t for e, t in zip(errors, first_row))
    assert "synth-hand-lite" in fig.get_suptitle()
    without = iterations_figure(predictions, CUBE, CAMERA)
    assert not any(truth_lines(ax) for ax in image_axes(without))
    assert not any("mm mean" in t for t in titles(without))


def test_iterations_figure_draws_joints_where_they_are_in_the_crop(frames):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths)
    predictor = next(ax for ax in image_axes(fig) if ax.get_title().startswith("predictor"))
    bone = next(line for line in predictor.lines if line.get_gid() == "prediction")
    a, b = MSRA21.bones[0]
    expected = transform_points(crop_matrix(predictions[0].center_uvd, CUBE, CAMERA, CROP),
                                predictions[0].iterations_uvd[0][[a, b]])
    np.testing.assert_allclose(np.stack(bone.get_data(), -1), expected)
    assert np.all((expected > 0) & (expected < CROP))  # in the crop, not in frame pixels
    # every panel of a row shows the same square of the crop, holding all of the row's predicted and true joints
    row = image_axes(fig)[:6]
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in row}) == 1
    (x0, x1), (y1, y0) = row[0].get_xlim(), row[0].get_ylim()
    assert x1 - x0 == pytest.approx(y1 - y0) and -0.5 <= x0 and x1 <= CROP - 0.5 and -0.5 <= y0 and y1 <= CROP - 0.5
    for line in row[1].lines + row[3].lines + row[5].lines:
        u, v = line.get_data()
        assert np.all((x0 <= u) & (u <= x1) & (y0 <= v) & (v <= y1))


def test_iterations_figure_captions_each_synth_with_the_pose_it_renders(frames):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths)
    synths = [t for t in titles(fig) if t.startswith("synth")]
    assert synths == ["synth 1: render of the\npredictor pose", "synth 2: render of the\niteration 1 pose"] * 2
    # a loop without iterations still shows the synthesizer's image of the predictor's pose
    single = iterations_figure([fake_prediction(0, iterations=0)], CUBE, CAMERA)
    assert [t for t in titles(single) if t.startswith("synth")] == ["synth 1: render of the\npredictor pose"]


def test_iterations_figure_has_one_depth_scale_and_a_colour_bar_in_mm(frames):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths)
    images = [im for ax in image_axes(fig) for im in ax.images]
    assert len(images) == 2 * 6  # crop, 3 poses, 2 synths per frame
    limits = {(im.norm.vmin, im.norm.vmax) for im in images}
    assert len(limits) == 1
    low, high = limits.pop()
    assert -CUBE / 2 <= low < 0 < high <= CUBE / 2
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    label = bar.get_ylabel()
    assert "mm" in label and "relative to the crop centre" in label and "normalised" in label
    # the crops and synth images are drawn in mm relative to the centre: normalised units x cube / 2
    crop_image = image_axes(fig)[0].images[0]
    np.testing.assert_allclose(crop_image.get_array(), predictions[0].crop * CUBE / 2)


def test_iterations_figure_legend_names_the_finger_colours_and_line_styles(frames):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths)
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [*FINGERS, "ground truth (dashed)"]
    colours = [matplotlib.colors.to_hex(h.get_color()) for h in legend.legend_handles[:5]]
    assert colours == [FINGER_COLOURS[f] for f in ("thumb", "index", "middle", "ring", "pinky")]
    assert "dashed: ground truth" in legend.get_title().get_text()
    assert "ground truth" not in " ".join(t.get_text() for t in iterations_figure(predictions, CUBE, CAMERA)
                                           .legends[0].get_texts())
    # NYU-14 has palm bones: its legend names them
    nyu = [h.get_label() for h in legend_handles(NYU14, truth=False)]
    assert nyu == [*FINGERS, FINGER_LABELS["palm"]] and FINGER_LABELS["palm"] == "palm / wrist"


def test_iterations_figure_panels_are_at_least_four_times_the_crop(frames, tmp_path):
    predictions, truths = frames
    fig = iterations_figure(predictions, CUBE, CAMERA, truths)
    fig.canvas.draw()
    assert fig.dpi == DPI
    for ax in image_axes(fig):
        box = ax.get_window_extent()
        assert box.width >= MIN_ZOOM * CROP and box.height >= MIN_ZOOM * CROP, ax.get_title()
    save_figure(fig, tmp_path / "iterations.png")  # saved at the same dpi: the PNG holds the same pixels
    from PIL import Image

    width, height = Image.open(tmp_path / "iterations.png").size
    assert width >= 6 * MIN_ZOOM * CROP and height >= 2 * MIN_ZOOM * CROP


def test_prediction_figure_title_truth_error_scale_and_size():
    prediction = fake_prediction(3)
    truth = prediction.joints_xyz + np.array([0.0, 0.0, 20.0])
    fig = prediction_figure(fake_frame(prediction), prediction, CAMERA, CUBE, "synth-hand-lite", truth,
                            source="frame-00000.png")
    title = fig.get_suptitle()
    assert "synth-hand-lite" in title and "frame-00000.png" in title and "2 updater iterations" in title
    assert "error 20.0 mm mean, 20 mm max" in title
    frame_ax, close_ax = image_axes(fig)
    assert "whole frame, 640x480 px" in frame_ax.get_title() and "iteration 2 pose (final)" in close_ax.get_title()
    assert len(truth_lines(frame_ax)) == len(truth_lines(close_ax)) == len(MSRA21.bones)
    assert {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in (frame_ax, close_ax)} == {
        (frame_ax.images[0].norm.vmin, frame_ax.images[0].norm.vmax)}
    (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "depth, mm" in bar.get_ylabel()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [*FINGERS, "ground truth (dashed)"]
    fig.canvas.draw()
    close = close_ax.get_window_extent()
    assert close.width >= MIN_ZOOM * CROP and close.height >= MIN_ZOOM * CROP
    assert frame_ax.get_window_extent().width >= CAMERA.width  # the whole frame at >= 1 screen px per pixel
    assert frame_ax.get_xlim() == (-0.5, CAMERA.width - 0.5)


def test_prediction_figure_without_truth_says_so():
    prediction = fake_prediction(4)
    fig = prediction_figure(fake_frame(prediction), prediction, CAMERA, CUBE, "synth-hand-lite")
    assert not any(truth_lines(ax) for ax in image_axes(fig))
    assert "no true pose given" in fig.get_suptitle() and "--truth" in fig.get_suptitle()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(FINGERS)


def test_read_truth_picks_the_frame_and_converts_the_joint_set(tmp_path):
    joints = np.random.default_rng(0).normal(0, 50, (MSRA21.size, 3)) + [0, 0, 500]
    index = [{"depth": "frame-00000.png", "joint_set": "msra21", "joints_xyz": (joints + 1).tolist()},
             {"depth": "frame-00001.png", "joint_set": "msra21", "joints_xyz": joints.tolist()}]
    path = tmp_path / "frames.json"
    path.write_text(json.dumps(index))
    np.testing.assert_allclose(read_truth(path, tmp_path / "frame-00001.png", "msra21"), joints)
    np.testing.assert_allclose(read_truth(path, "elsewhere/frame-00001.png", "nyu14"),
                               convert_joints(joints, "nyu14"))
    with pytest.raises(ValueError, match="lists no frame 'frame-00002.png'"):
        read_truth(path, "frame-00002.png", "msra21")
    single = tmp_path / "truth.json"
    single.write_text(json.dumps({"joints_xyz": joints[:14].tolist()}))
    assert read_truth(single, "x.png", "nyu14").shape == (14, 3)
    with pytest.raises(ValueError, match="do not fit the entry's msra21"):
        read_truth(single, "x.png", "msra21")
    with pytest.raises(ValueError, match="cannot read the truth file"):
        read_truth(tmp_path / "missing.json", "x.png", "msra21")
