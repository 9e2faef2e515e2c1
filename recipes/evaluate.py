"""Accuracy of a loop on a shard folder: per-iteration 3D errors and the table the README shows."""

from __future__ import annotations

import numpy as np

from handloop.recipes.records import decode_frame, read_records
from handloop.zoo.metrics import fraction_within, joint_errors, mean_error


def read_frames(directory, limit: int | None = None) -> list:
    """The first ``limit`` frames (all when None) of a shard folder, as :class:`handloop.recipes.records.Frame` objects;
    ValueError naming a truncated or corrupt shard (:func:`handloop.recipes.records.read_records`)."""
    return [decode_frame(r) for r in read_records(directory, limit)]


def iteration_errors(model, frames: list) -> tuple[np.ndarray, list]:
    """Runs ``model`` (a :class:`handloop.zoo.api.HandPoseModel`) on ``frames``; returns ``(F, N + 1, J)`` errors in mm
    (index 0: the predictor) and the predictions."""
    camera = frames[0].intrinsics
    prediction = model.predict(np.stack([f.depth_mm for f in frames]), camera)
    truth = np.stack([f.joints_xyz for f in frames])
    errors = np.stack([joint_errors(prediction.iterations_xyz[:, k], truth)
                       for k in range(prediction.iterations_xyz.shape[1])], 1)
    return errors, prediction


def object_errors(prediction, frames: list) -> dict[str, np.ndarray]:
    """Object accuracy of a hand-object loop's ``prediction`` on ``frames``, after the predictors and each iteration.

    Returns ``{"object_mm": (F, N + 1) mean distance of the 8 box corners, "hand_object_mm": (F, N + 1) the
    combined error of eq. 23 (visible fingertips and the 3 keypoint corners when all are visible), over the
    frames where it is defined (a fingertip or all 3 keypoint corners visible)}``, in mm. The
    true corners are relabelled by the box symmetry nearest to each estimate
    (:meth:`handloop.zoo.objects.ObjectModel.align`), since depth cannot tell those poses apart.
    """
    from handloop.zoo.joints import TIPS
    from handloop.zoo.metrics import hand_object_error
    from handloop.zoo.objects import get_object

    model = get_object(frames[0].object_name)
    keypoints = list(model.keypoints)
    truth = np.stack([f.corners_xyz for f in frames])
    tips_visible = np.stack([f.tip_visibility for f in frames]) > 0
    corners_visible = np.stack([f.corner_visibility for f in frames]) > 0
    truth_tips = np.stack([f.joints_xyz for f in frames])[:, list(TIPS)]
    estimates = prediction.iterations_corners_xyz
    defined = tips_visible.any(1) | corners_visible.all(1)  # eq. 23 needs a visible fingertip or the 3 corners
    aligned = [model.align(truth, estimates[:, k]) for k in range(estimates.shape[1])]
    return {
        "object_mm": np.stack([joint_errors(estimates[:, k], corners).mean(-1) for k, corners in enumerate(aligned)],
                              1),
        "hand_object_mm": np.stack([hand_object_error(
            prediction.iterations_xyz[defined, k][:, list(TIPS)], truth_tips[defined], tips_visible[defined],
            estimates[defined, k][:, keypoints], corners[defined][:, keypoints], corners_visible[defined])
            for k, corners in enumerate(aligned)], 1),
    }


def iteration_table(errors: np.ndarray, objects: dict[str, np.ndarray] | None = None):
    """A pandas table, one row per stage of the loop: mean error and max-frame fractions at 20 and 40 mm; with
    ``objects`` (from :func:`object_errors`) also the mean object corner error and eq. 23's error, mm."""
    import pandas as pd

    rows = []
    for k in range(errors.shape[1]):
        e = errors[:, k]
        row = {"stage": "predictor" if k == 0 else f"iteration {k}", "mean_mm": mean_error(e),
               "frac_max_20": fraction_within(e, 20), "frac_max_40": fraction_within(e, 40)}
        for key, values in (objects or {}).items():
            row[key] = float(values[:, k].mean())
        rows.append(row)
    return pd.DataFrame(rows)
