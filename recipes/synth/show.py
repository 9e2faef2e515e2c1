"""Contact sheets: the first frames of a shard folder drawn with their skeletons."""

from __future__ import annotations

import math

from recipes.records import decode_frame, list_shards
from zoo.joints import get_joint_set


def contact_sheet(directory: str, out: str, count: int = 12) -> None:
    """Draws the first ``count`` frames of ``directory`` with their joints into the PNG ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tensorflow as tf

    from zoo.draw import draw_pose, save_figure

    records = tf.data.TFRecordDataset([str(p) for p in list_shards(directory)]).take(count)
    frames = [decode_frame(r.numpy()) for r in records]
    cols = min(4, len(frames))
    rows = math.ceil(len(frames) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, frame in zip(axes.ravel(), frames):
        draw_pose(ax, frame.depth_mm, frame.joints_uvd, get_joint_set(frame.joint_set),
                  title=f"subject {frame.subject}")
    save_figure(fig, out)
