"""Figures of a prediction: joints over the depth frame, and the loop's iterations side by side."""

from __future__ import annotations

import numpy as np

from handloop.zoo.draw import draw_pose, save_figure
from handloop.zoo.joints import get_joint_set


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _zoom(ax, uvd: np.ndarray, margin: float = 40.0) -> None:
    """Limits ``ax`` to the joints' bounding box plus ``margin`` pixels."""
    lo, hi = uvd[:, :2].min(0) - margin, uvd[:, :2].max(0) + margin
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(hi[1], lo[1])


def draw_prediction(depth: np.ndarray, prediction, path, truth_uvd: np.ndarray | None = None) -> None:
    """Writes a PNG of one frame's depth ``(H, W)`` mm with the predicted skeleton (and the true one, if given)."""
    plt = _pyplot()
    joint_set = get_joint_set(prediction.joint_set)
    panels = 1 if truth_uvd is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.5), squeeze=False)
    draw_pose(axes[0, 0], depth, prediction.joints_uvd, joint_set, "prediction")
    _zoom(axes[0, 0], prediction.joints_uvd)
    if truth_uvd is not None:
        draw_pose(axes[0, 1], depth, truth_uvd, joint_set, "ground truth")
        _zoom(axes[0, 1], truth_uvd)
    save_figure(fig, path)


def draw_iterations(depths: list[np.ndarray], predictions: list, path, truths: list | None = None) -> None:
    """Writes a PNG with one row per frame: the pose after the predictor and each iteration, then the
    synthesized image of each iteration beside the input crop.

    Args:
        depths: frames ``(H, W)`` mm.
        predictions: single-frame :class:`handloop.zoo.api.Prediction` objects.
        truths: optional ``(J, 3)`` true joints (camera mm) per frame; each panel then shows its mean error.
    """
    plt = _pyplot()
    steps = predictions[0].iterations_uvd.shape[0]
    cols = steps + 1 + predictions[0].synth.shape[0]
    fig, axes = plt.subplots(len(depths), cols, figsize=(2.6 * cols, 2.6 * len(depths)), squeeze=False)
    for row, (depth, pred) in enumerate(zip(depths, predictions)):
        joint_set = get_joint_set(pred.joint_set)
        for k in range(steps):
            title = "predictor" if k == 0 else f"iteration {k}"
            if truths is not None:
                error = np.linalg.norm(pred.iterations_xyz[k] - truths[row], axis=-1).mean()
                title += f"\n{error:.1f} mm"
            draw_pose(axes[row, k], depth, pred.iterations_uvd[k], joint_set, title)
            _zoom(axes[row, k], pred.iterations_uvd[-1])
        images = [("input crop", pred.crop)] + [(f"synth {k + 1}", s) for k, s in enumerate(pred.synth)]
        for k, (title, image) in enumerate(images):
            ax = axes[row, steps + k]
            ax.imshow(image, cmap="viridis_r", vmin=-1, vmax=1)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    save_figure(fig, path)
