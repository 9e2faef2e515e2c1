"""Contact sheets: the first frames of a shard folder drawn with their skeletons (and object keypoint corners)."""

from __future__ import annotations

import math

import numpy as np

from handloop.recipes.evaluate import read_frames
from handloop.recipes.records import Frame
from handloop.zoo.joints import get_joint_set

MARGIN_PX = 20
"""Pixels kept around the labelled points and the depth pixels near them when a frame is cropped for display."""


def _crop(frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The frame's depth cut to the box around its joints (and object corners) plus a margin, and those points
    shifted into it: ``(depth, joints_uv, corners_uv or None)``."""
    joints = frame.joints_uvd[:, :2]
    corners = None
    points = joints
    if frame.object_name is not None:
        corners = frame.intrinsics.xyz_to_uvd(frame.corners_xyz)[:, :2]
        points = np.concatenate([joints, corners])
    height, width = frame.depth_mm.shape
    x0, y0 = np.maximum(np.floor(points.min(0)).astype(int) - MARGIN_PX, 0)
    x1, y1 = np.minimum(np.ceil(points.max(0)).astype(int) + MARGIN_PX, [width, height])
    shift = np.array([x0, y0])
    return frame.depth_mm[y0:y1, x0:x1], joints - shift, None if corners is None else corners - shift


def contact_sheet(directory: str, out: str, count: int = 12) -> None:
    """Draws the first ``count`` frames of ``directory`` with their joints into the PNG ``out``.

    Raises:
        ValueError: when ``count`` is below 1, the folder is incomplete or a shard is corrupt.
    """
    if count < 1:
        raise ValueError(f"--frames must be at least 1, got {count}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handloop.zoo.draw import draw_pose, save_figure

    frames = read_frames(directory, count)
    cols = min(4, len(frames))
    rows = math.ceil(len(frames) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, frame in zip(axes.ravel(), frames):
        depth, joints, corners = _crop(frame)
        title = f"subject {frame.subject}" + (f", {frame.object_name}" if frame.object_name else "")
        draw_pose(ax, depth, joints, get_joint_set(frame.joint_set), title=title, box_uv=corners)
    save_figure(fig, out)
