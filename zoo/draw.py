"""Drawing: a depth image with the skeleton on top, one colour per finger (matplotlib, no display needed)."""

from __future__ import annotations

import numpy as np

from handloop.zoo.fileio import atomic_path
from handloop.zoo.joints import FINGER_COLOURS, JointSet


def draw_pose(ax, depth: np.ndarray, joints_uv: np.ndarray, joint_set: JointSet, title: str | None = None,
              extra_uv: np.ndarray | None = None) -> None:
    """Draws ``depth`` (H, W) in mm (0 = missing, shown black) with the skeleton of ``joints_uv`` (J, 2+) pixels.

    Args:
        ax: a matplotlib Axes.
        extra_uv: optional (K, 2+) points (e.g. object corners) drawn as white crosses.
    """
    shown = np.where(depth > 0, depth, np.nan)
    ax.imshow(shown, cmap="viridis_r")
    ax.set_facecolor("black")
    for (a, b), finger in zip(joint_set.bones, joint_set.bone_fingers):
        colour = FINGER_COLOURS[finger]
        ax.plot(joints_uv[[a, b], 0], joints_uv[[a, b], 1], "-", color=colour, lw=2)
    ax.scatter(joints_uv[:, 0], joints_uv[:, 1], s=9, c="white", edgecolors="black", linewidths=0.5, zorder=3)
    if extra_uv is not None:
        ax.scatter(extra_uv[:, 0], extra_uv[:, 1], s=30, c="white", marker="x", zorder=3)
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def save_figure(fig, path) -> None:
    """Saves ``fig`` to ``path`` atomically (temporary name, then rename) and closes it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
