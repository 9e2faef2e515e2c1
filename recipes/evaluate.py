"""Accuracy of a loop on a shard folder: per-iteration 3D errors and the table the README shows."""

from __future__ import annotations

import numpy as np

from recipes.records import decode_frame, list_shards
from zoo.metrics import fraction_within, joint_errors, mean_error


def read_frames(directory, limit: int | None = None) -> list:
    """The first ``limit`` frames (all when None) of a shard folder, as :class:`recipes.records.Frame` objects."""
    import tensorflow as tf

    records = tf.data.TFRecordDataset([str(p) for p in list_shards(directory)])
    if limit:
        records = records.take(limit)
    return [decode_frame(r.numpy()) for r in records]


def iteration_errors(model, frames: list) -> tuple[np.ndarray, list]:
    """Runs ``model`` (a :class:`zoo.api.HandPoseModel`) on ``frames``; returns ``(F, N + 1, J)`` errors in mm
    (index 0: the predictor) and the predictions."""
    camera = frames[0].intrinsics
    prediction = model.predict(np.stack([f.depth_mm for f in frames]), camera)
    truth = np.stack([f.joints_xyz for f in frames])
    errors = np.stack([joint_errors(prediction.iterations_xyz[:, k], truth)
                       for k in range(prediction.iterations_xyz.shape[1])], 1)
    return errors, prediction


def iteration_table(errors: np.ndarray):
    """A pandas table, one row per stage of the loop: mean error and max-frame fractions at 20 and 40 mm."""
    import pandas as pd

    rows = []
    for k in range(errors.shape[1]):
        e = errors[:, k]
        rows.append({"stage": "predictor" if k == 0 else f"iteration {k}", "mean_mm": mean_error(e),
                     "frac_max_20": fraction_within(e, 20), "frac_max_40": fraction_within(e, 40)})
    return pd.DataFrame(rows)
