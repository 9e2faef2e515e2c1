"""Drawing: a depth image with the skeleton on top, one colour per finger (matplotlib, no display needed).

The facts every figure shares live here once: the depth colour map, the saving resolution, how a predicted and a
true skeleton are drawn, and the legend that names them. Finger colours and bones come from
:mod:`handloop.zoo.joints`.
"""

from __future__ import annotations

import numpy as np

from handloop.zoo.fileio import atomic_path
from handloop.zoo.joints import FINGER_COLOURS, JointSet

DPI = 110
"""Resolution figures are drawn and saved at, dots per inch."""

DEPTH_CMAP = "viridis_r"
"""Colour map of depth: near is yellow, far is dark blue."""

FINGER_LABELS = {"pinky": "little (pinky)", "palm": "palm / wrist"}
"""Legend names of the :data:`~handloop.zoo.joints.FINGER_COLOURS` keys that are not plain English (others as is)."""

TRUTH_STYLE = {"color": "white", "linestyle": (0, (3, 2)), "lw": 1.4}
"""How a true skeleton is drawn: thin white dashes (with a black rim), under the coloured prediction."""

PREDICTION_LW = 2.5
"""Line width of a predicted skeleton's bones, points."""

BOX_EDGES = tuple((a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1)
"""The 12 edges of an object's box as pairs of corner indices, in :meth:`handloop.zoo.objects.ObjectModel.corners`'
order (corner ``i``'s bits say which side of x, y and z it is on, so an edge joins corners one bit apart)."""

BOX_COLOUR = "magenta"
"""Colour of a predicted object box (no finger uses it); a true box is drawn in :data:`TRUTH_STYLE`."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_skeleton(ax, joints_uv: np.ndarray, joint_set: JointSet, truth: bool = False) -> list:
    """Draws the bones of ``joints_uv`` ``(J, 2+)`` (image pixels; extra columns ignored) on ``ax``.

    A prediction (``truth=False``) gets solid black-rimmed bones in its finger's colour and white joint dots; a true
    skeleton (``truth=True``) thin white dashes with a black rim, beneath the prediction. Returns the Line2D objects
    drawn, each labelled ``"prediction"`` or ``"truth"`` in its ``gid``.
    """
    from matplotlib import patheffects

    lines = []
    for (a, b), finger in zip(joint_set.bones, joint_set.bone_fingers):
        if truth:
            (line,) = ax.plot(joints_uv[[a, b], 0], joints_uv[[a, b], 1], zorder=2.5, **TRUTH_STYLE,
                              path_effects=[patheffects.withStroke(linewidth=2.8, foreground="black")])
        else:
            (line,) = ax.plot(joints_uv[[a, b], 0], joints_uv[[a, b], 1], "-", color=FINGER_COLOURS[finger],
                              lw=PREDICTION_LW, zorder=3, solid_capstyle="round",
                              path_effects=[patheffects.withStroke(linewidth=PREDICTION_LW + 1.5,
                                                                   foreground="black")])
        line.set_gid("truth" if truth else "prediction")
        lines.append(line)
    if not truth:
        ax.scatter(joints_uv[:, 0], joints_uv[:, 1], s=14, c="white", edgecolors="black", linewidths=0.6, zorder=4)
    return lines


def draw_box(ax, corners_uv: np.ndarray, truth: bool = False) -> list:
    """Draws the 12 edges of an object's box from its 8 corners ``corners_uv`` ``(8, 2+)`` (image pixels, in
    :data:`BOX_EDGES`' corner order) on ``ax``: a prediction solid in :data:`BOX_COLOUR` with a black rim, a truth
    in :data:`TRUTH_STYLE` beneath it. Returns the Line2D objects, ``gid`` ``"box-prediction"`` or ``"box-truth"``."""
    from matplotlib import patheffects

    style = dict(TRUTH_STYLE, zorder=2.5) if truth else {"color": BOX_COLOUR, "lw": 2.0, "zorder": 2.8}
    rim = 2.8 if truth else 3.5
    lines = []
    for a, b in BOX_EDGES:
        (line,) = ax.plot(corners_uv[[a, b], 0], corners_uv[[a, b], 1], **style,
                          path_effects=[patheffects.withStroke(linewidth=rim, foreground="black")])
        line.set_gid("box-truth" if truth else "box-prediction")
        lines.append(line)
    return lines


def legend_handles(joint_set: JointSet, truth: bool = True, box: bool = False) -> list:
    """Legend entries for a figure of ``joint_set`` skeletons: one solid line per finger the set's bones use, in
    :data:`FINGER_COLOURS` order and named by :data:`FINGER_LABELS`, (``box=True``) one for the object's box, and
    (``truth=True``) one for the dashed truth. Returns matplotlib Line2D handles carrying their labels."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    used = set(joint_set.bone_fingers)
    handles = [Line2D([], [], color=colour, lw=PREDICTION_LW, label=f"{FINGER_LABELS.get(finger, finger)}")
               for finger, colour in FINGER_COLOURS.items() if finger in used]
    if box:
        handles.append(Line2D([], [], color=BOX_COLOUR, lw=2.0, label="object box"))
    if truth:
        handles.append(Line2D([], [], **TRUTH_STYLE, label="ground truth (dashed)",
                              path_effects=[patheffects.withStroke(linewidth=2.8, foreground="black")]))
    return handles


def add_legend(fig, joint_set: JointSet, truth: bool, fontsize: float = 12, box: bool = False):
    """Adds :func:`legend_handles` as one row under ``fig`` (a constrained-layout Figure), titled with what the
    line styles mean; returns the Legend."""
    title = ("solid: predicted bones, coloured by finger" + (", and the object's box" if box else "")
             + (";  white dashed: ground truth" if truth else " (no ground truth given)"))
    return fig.legend(handles=legend_handles(joint_set, truth=truth, box=box), loc="outside lower center", ncols=8,
                      fontsize=fontsize, title=title, title_fontsize=fontsize, frameon=False)


def draw_pose(ax, depth: np.ndarray, joints_uv: np.ndarray, joint_set: JointSet, title: str | None = None,
              box_uv: np.ndarray | None = None, norm=None, truth_uv: np.ndarray | None = None,
              missing_black: bool = True, truth_box_uv: np.ndarray | None = None):
    """Draws ``depth`` (H, W) in mm (0 = missing, shown black) with the skeleton of ``joints_uv`` (J, 2+) pixels.

    Args:
        ax: a matplotlib Axes.
        box_uv: optional ``(8, 2+)`` corners of an object's box in pixels, drawn by :func:`draw_box`.
        norm: a ``matplotlib.colors.Normalize`` in the units of ``depth`` shared with the figure's other panels;
            None scales to this image alone.
        truth_uv: optional (J, 2+) true joints in pixels, drawn dashed beneath the prediction.
        truth_box_uv: optional ``(8, 2+)`` true box corners in pixels, drawn dashed.
        missing_black: False for depth that is not absolute mm (e.g. relative to a crop centre, where values <= 0
            are real): then every value is drawn by the colour map.
    Returns:
        The AxesImage of the depth.
    """
    shown = np.where(depth > 0, depth, np.nan) if missing_black else depth
    image = ax.imshow(shown, cmap=DEPTH_CMAP, norm=norm)
    ax.set_facecolor("black")
    if truth_box_uv is not None:
        draw_box(ax, truth_box_uv, truth=True)
    if box_uv is not None:
        draw_box(ax, box_uv)
    if truth_uv is not None:
        draw_skeleton(ax, truth_uv, joint_set, truth=True)
    draw_skeleton(ax, joints_uv, joint_set)
    if title:
        ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def save_figure(fig, path) -> None:
    """Saves ``fig`` to ``path`` as PNG at :data:`DPI` atomically (temporary name, then rename) and closes it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
