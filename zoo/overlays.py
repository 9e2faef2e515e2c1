"""Figures of a prediction: the pose over the depth frame (``handloop predict --overlay``), and the loop's
iterations one after another (``handloop demo``).

Both draw the predicted skeleton in finger colours and, where the truth is known, the true skeleton as thin white
dashes beneath it, with the mean 3D error in the captions; each figure has one depth colour scale shared by all its
panels, a colour bar saying its units, a legend naming the finger colours and line styles, and a title saying what
it shows. ``*_figure`` functions return the matplotlib Figure (for tests and notebooks); ``draw_*`` write a PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from handloop.zoo.camera import Intrinsics
from handloop.zoo.draw import DEPTH_CMAP, DPI, _pyplot, add_legend, draw_pose, save_figure
from handloop.zoo.joints import get_joint_set
from handloop.zoo.metrics import joint_errors
from handloop.zoo.preprocess import crop_box, crop_matrix, transform_points

MIN_ZOOM = 4
"""Each crop panel is drawn at least this many screen pixels per crop pixel (128 px crops -> >= 512 px panels)."""

TITLE_SIZE = 13
"""Font size of panel captions, points (figure titles are a little larger)."""


def _error_text(pred_xyz: np.ndarray, truth_xyz: np.ndarray) -> str:
    """``"error 26.8 mm mean, 41.0 mm max"``: the 3D joint errors of ``(J, 3)`` predicted vs true joints in mm."""
    errors = joint_errors(pred_xyz[None], truth_xyz[None])[0]
    return f"error {errors.mean():.1f} mm mean, {errors.max():.0f} mm max"


def _depth_norm(values_mm: np.ndarray, lo_mm: float, hi_mm: float):
    """One colour scale for a figure: a ``Normalize`` from the 1st to the 99th percentile of ``values_mm`` (the
    hand's depths, any shape), widened to whole 10 mm and kept within ``[lo_mm, hi_mm]``; that whole range when
    ``values_mm`` is empty."""
    from matplotlib.colors import Normalize

    values = np.asarray(values_mm, np.float64).ravel()
    if not values.size:
        return Normalize(lo_mm, hi_mm)
    low, high = np.percentile(values, [1, 99])
    low, high = max(lo_mm, 10 * np.floor(low / 10)), min(hi_mm, 10 * np.ceil(high / 10))
    return Normalize(low, high) if high > low else Normalize(lo_mm, hi_mm)


def _stage(k: int) -> str:
    """Name of the pose after step ``k`` of the loop: 0 is the predictor, k > 0 updater iteration k."""
    return "predictor" if k == 0 else f"iteration {k}"


def iterations_figure(predictions: list, cube_mm: float, intrinsics: Intrinsics | Sequence[Intrinsics],
                      truths_xyz: list | None = None, name: str | None = None,
                      truth_corners_xyz: list | None = None):
    """The loop at work on a few frames, one row per frame, as a matplotlib Figure.

    Each row follows the loop's data flow on the frame's crop, every panel of a row showing the same square of
    the crop around the hand (all its predicted and true joints, with a margin): the input crop; the predictor's pose; the
    synthesizer's render of that pose (the image the updater compares with the crop); the pose after updater
    iteration 1; the render of that pose; ... until the last iteration's pose. Every panel shows depth in mm
    relative to the crop centre (the crop's normalised units times ``cube_mm / 2``) on one colour scale shared by
    all panels, spanning the hands' depths in the input crops (:func:`_depth_norm`). A hand-object loop's pose panels
    also show the object's box at that step (``Prediction.iterations_corners_xyz``).

    Args:
        predictions: single-frame :class:`handloop.zoo.api.Prediction` objects (no batch axis).
        cube_mm: the loop's crop cube side, mm (``model.config.cube_mm``).
        intrinsics: the camera of the frames, one for all or one per frame.
        truths_xyz: optional ``(J, 3)`` true joints per frame, camera mm in the camera's own y convention (as
            ``Prediction.iterations_xyz``); each pose panel then shows them dashed and its error.
        name: the zoo entry's name, for the title.
        truth_corners_xyz: optional ``(8, 3)`` true box corners per frame, camera mm (camera's y convention),
            drawn dashed in the pose panels of a hand-object loop.
    Returns:
        A matplotlib Figure whose images all share one ``Normalize`` (mm relative to the crop centre, within
        ``+-cube_mm / 2``); its colour bar axes are labelled ``<colorbar>``.
    """
    plt = _pyplot()
    cameras = [intrinsics] * len(predictions) if isinstance(intrinsics, Intrinsics) else list(intrinsics)
    steps, renders = predictions[0].iterations_uvd.shape[0], predictions[0].synth.shape[0]
    size = predictions[0].crop.shape[-1]
    half = cube_mm / 2
    crops = np.stack([p.crop for p in predictions]) * half
    norm = _depth_norm(crops[crops < half - 1e-3], -half, half)  # the hands' depths; background is at +half
    cols = 1 + steps + renders  # renders = steps - 1, or 1 for a loop without iterations
    panel = MIN_ZOOM * size / DPI * 1.08  # inches; a little over 4x so the layout's shrinking keeps >= 4x
    fig, axes = plt.subplots(len(predictions), cols, figsize=(panel * cols + 1.6, panel * len(predictions) + 2.4),
                             squeeze=False, dpi=DPI, layout="constrained")
    for row, pred in enumerate(predictions):
        joint_set = get_joint_set(pred.joint_set)
        to_crop = crop_matrix(pred.center_uvd, cube_mm, cameras[row], size)
        def in_crop(points_xyz):
            return None if points_xyz is None else transform_points(to_crop, cameras[row].xyz_to_uvd(
                np.asarray(points_xyz)))

        truth_uv = in_crop(None if truths_xyz is None else truths_xyz[row])
        truth_box = in_crop(None if truth_corners_xyz is None else truth_corners_xyz[row])
        boxes = [None] * steps if pred.iterations_corners_xyz is None else [in_crop(c) for c in
                                                                           pred.iterations_corners_xyz]
        crop_mm = pred.crop * half
        column = iter(axes[row])
        ax = next(column)
        ax.imshow(crop_mm, cmap=DEPTH_CMAP, norm=norm)
        ax.set_title("input crop\n(the depth the loop sees)", fontsize=TITLE_SIZE)
        ax.set_ylabel(f"frame {row + 1}", fontsize=TITLE_SIZE + 1)
        for k in range(steps):
            ax = next(column)
            title = f"{_stage(k)} pose" + (" (final)" if k == steps - 1 and k else "")
            if truths_xyz is not None:
                title += "\n" + _error_text(pred.iterations_xyz[k], np.asarray(truths_xyz[row]))
            draw_pose(ax, crop_mm, transform_points(to_crop, pred.iterations_uvd[k]), joint_set, norm=norm,
                      truth_uv=truth_uv, missing_black=False, box_uv=boxes[k], truth_box_uv=truth_box)
            ax.set_title(title, fontsize=TITLE_SIZE)
            if k < renders:  # synth k + 1 renders the pose after step k
                ax = next(column)
                ax.imshow(pred.synth[k] * half, cmap=DEPTH_CMAP, norm=norm)
                ax.set_title(f"synth {k + 1}: render of the\n{_stage(k)} pose", fontsize=TITLE_SIZE)
        shown = transform_points(to_crop, pred.iterations_uvd.reshape(-1, pred.iterations_uvd.shape[-1]))
        extra = [points for points in (truth_uv, truth_box, *boxes) if points is not None]
        shown = np.concatenate([shown, *extra])
        cu, cv, side = _square_window(shown, 0.2, size / 4, size, size)
        cu, cv = np.clip([cu, cv], side - 0.5, size - 0.5 - side)  # the square stays inside the crop
        for ax in axes[row]:
            ax.set_xlim(cu - side, cu + side)
            ax.set_ylim(cv + side, cv - side)
            ax.set_xticks([])
            ax.set_yticks([])
    colorbar = fig.colorbar(axes[0, 0].images[0], ax=axes, location="right", shrink=0.6, aspect=40, pad=0.01,
                            extend="both")
    colorbar.set_label(f"depth relative to the crop centre, mm (the crop's normalised units x {half:g} mm;\n"
                       f"near is negative). Background and missing depth sit at +{half:g}, beyond the far end",
                       fontsize=TITLE_SIZE)
    colorbar.ax.tick_params(labelsize=TITLE_SIZE - 2)
    joint_set = get_joint_set(predictions[0].joint_set)
    add_legend(fig, joint_set, truths_xyz is not None, TITLE_SIZE, box=boxes[0] is not None)
    flow = " -> ".join(["input crop", "predictor pose"] + [f"synth {k} -> iteration {k} pose"
                                                            for k in range(1, steps)])
    fig.suptitle(f"{name or 'the loop'} on {len(predictions)} frame(s), {size}x{size} px crops of a "
                 f"{cube_mm:g} mm cube (each row zoomed on its hand)\neach row: {flow}", fontsize=TITLE_SIZE + 3)
    return fig


def draw_iterations(predictions: list, path: str | Path, cube_mm: float,
                    intrinsics: Intrinsics | Sequence[Intrinsics], truths_xyz: list | None = None,
                    name: str | None = None, truth_corners_xyz: list | None = None) -> None:
    """Writes :func:`iterations_figure` of the same arguments as a PNG at ``path``."""
    save_figure(iterations_figure(predictions, cube_mm, intrinsics, truths_xyz, name, truth_corners_xyz), path)


def _square_window(points_uv: np.ndarray, margin: float, min_half: float, width: int,
                   height: int) -> tuple[float, float, float]:
    """A square around ``points_uv`` ``(K, 2+)`` pixels, ``margin`` (a fraction of its side) wider on each side:
    ``(centre u, centre v, half side)`` in pixels, the half side at least ``min_half`` and at most half the image's
    smaller side (``width``, ``height`` in pixels)."""
    lo, hi = points_uv[:, :2].min(0), points_uv[:, :2].max(0)
    half = min(max((hi - lo).max() / 2 * (1 + 2 * margin), min_half), min(width, height) / 2)
    return float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2), float(half)


def prediction_figure(depth: np.ndarray, prediction, intrinsics: Intrinsics, cube_mm: float, name: str | None = None,
                      truth_xyz: np.ndarray | None = None, source: str | None = None):
    """One frame's predicted pose as a matplotlib Figure: the whole depth frame with the skeleton and the loop's
    crop window, and a close-up of the hand at least 512 px square, on one depth colour scale in mm.

    Args:
        depth: the frame ``(H, W)`` in mm, 0 = missing (drawn black).
        prediction: its single-frame :class:`handloop.zoo.api.Prediction`.
        intrinsics: the camera the prediction used.
        cube_mm: the loop's crop cube side, mm (``model.config.cube_mm``).
        name: the zoo entry's name, for the title.
        truth_xyz: optional ``(J, 3)`` true joints in camera mm (the camera's own y convention, in the prediction's
            joint set); then drawn dashed under the prediction, and the error is in the title.
        source: the depth file's name, for the title.
    Returns:
        A matplotlib Figure whose images share one ``Normalize`` in mm; its colour bar axes are labelled
        ``<colorbar>``.
    """
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    depth = np.asarray(depth, np.float64)
    height, width = depth.shape
    joint_set = get_joint_set(prediction.joint_set)
    half = cube_mm / 2
    centre_z = float(prediction.center_uvd[2])
    u0, v0, u1, v1 = crop_box(prediction.center_uvd, cube_mm, intrinsics)
    window = depth[max(int(v0), 0):max(int(np.ceil(v1)), 0), max(int(u0), 0):max(int(np.ceil(u1)), 0)]
    norm = _depth_norm(window[(window > 0) & (np.abs(window - centre_z) < half)], centre_z - half, centre_z + half)
    truth_uv = None if truth_xyz is None else intrinsics.xyz_to_uvd(np.asarray(truth_xyz))
    panel = MIN_ZOOM * prediction.crop.shape[-1] / DPI * 1.08
    fig, axes = plt.subplots(1, 2, figsize=(panel * (1 + width / height) + 1.8, panel + 2.0), dpi=DPI,
                             layout="constrained", width_ratios=[width / height, 1])
    steps = prediction.iterations_uvd.shape[0] - 1
    for ax in axes:
        draw_pose(ax, depth, prediction.joints_uvd, joint_set, norm=norm, truth_uv=truth_uv,
                  box_uv=prediction.corners_uvd)
    axes[0].add_patch(Rectangle((u0, v0), u1 - u0, v1 - v0, fill=False, edgecolor="white", lw=1, ls=":"))
    axes[0].set_xlim(-0.5, width - 0.5)  # the whole frame, not the crop window where it leaves the frame
    axes[0].set_ylim(height - 0.5, -0.5)
    axes[0].set_title(f"whole frame, {width}x{height} px\n(dotted box: the {cube_mm:g} mm crop the loop sees)",
                      fontsize=TITLE_SIZE)
    points = prediction.joints_uvd if truth_uv is None else np.concatenate([prediction.joints_uvd, truth_uv])
    cu, cv, side = _square_window(points, 0.15, 32.0, width, height)
    axes[1].set_xlim(cu - side, cu + side)
    axes[1].set_ylim(cv + side, cv - side)
    axes[1].set_title(f"close-up of the hand\n{_stage(steps)} pose" + (" (final)" if steps else ""),
                      fontsize=TITLE_SIZE)
    colorbar = fig.colorbar(axes[0].images[0], ax=axes, location="right", shrink=0.8, aspect=30, pad=0.01,
                            extend="both")
    colorbar.set_label("depth, mm from the camera (black: no depth)", fontsize=TITLE_SIZE)
    colorbar.ax.tick_params(labelsize=TITLE_SIZE - 2)
    add_legend(fig, joint_set, truth_xyz is not None, TITLE_SIZE - 1, box=prediction.corners_uvd is not None)
    what = f"predicted hand pose in {source}" if source else "predicted hand pose"
    after = "the predictor" + (f" and {steps} updater iteration{'s' * (steps != 1)}" if steps else "")
    title = f"{name or 'the loop'}: {what}, after {after}"
    title += "\n" + (f"against the true pose: {_error_text(prediction.joints_xyz, np.asarray(truth_xyz))}"
                     if truth_xyz is not None else "no true pose given (handloop predict --truth draws one)")
    fig.suptitle(title, fontsize=TITLE_SIZE + 2)
    return fig


def draw_prediction(depth: np.ndarray, prediction, path: str | Path, intrinsics: Intrinsics, cube_mm: float,
                    name: str | None = None, truth_xyz: np.ndarray | None = None, source: str | None = None) -> None:
    """Writes :func:`prediction_figure` of the same arguments as a PNG at ``path``."""
    save_figure(prediction_figure(depth, prediction, intrinsics, cube_mm, name, truth_xyz, source), path)
