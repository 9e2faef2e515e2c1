"""Evaluation metrics of the hand-pose community (docs/method.md section 7).

All errors are Euclidean distances in millimetres between joints in camera space.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS_MM = np.arange(0, 81, dtype=np.float64)
"""Error thresholds of the standard fraction-of-frames curves: 0..80 mm."""

CURVES = ("max", "mean", "joint")
"""Kinds of fraction curve: frames whose maximum / mean joint error is below t, or single joints below t."""


def joint_errors(pred_xyz: np.ndarray, gt_xyz: np.ndarray) -> np.ndarray:
    """Per-joint 3D errors: ``(F, J, 3)`` predicted and ground-truth joints in mm -> ``(F, J)`` errors in mm."""
    pred_xyz, gt_xyz = np.asarray(pred_xyz, np.float64), np.asarray(gt_xyz, np.float64)
    if pred_xyz.shape != gt_xyz.shape:
        raise ValueError(f"predicted joints {pred_xyz.shape} and ground truth {gt_xyz.shape} differ in shape")
    return np.linalg.norm(pred_xyz - gt_xyz, axis=-1)


def mean_error(errors: np.ndarray) -> float:
    """Mean 3D joint error in mm: mean over joints, then over frames, of ``(F, J)`` errors."""
    return float(np.mean(np.mean(errors, axis=1)))


def per_joint_error(errors: np.ndarray) -> np.ndarray:
    """Mean error of each joint over frames: ``(F, J)`` -> ``(J,)`` mm."""
    return np.mean(errors, axis=0)


def fraction_curve(errors: np.ndarray, kind: str = "max", thresholds: np.ndarray = THRESHOLDS_MM) -> np.ndarray:
    """Fraction of frames (or joints, for ``kind='joint'``) whose error is <= each threshold.

    Args:
        errors: ``(F, J)`` joint errors in mm.
        kind: ``max`` (worst joint of a frame), ``mean`` (mean over a frame's joints) or ``joint`` (every joint).
        thresholds: thresholds in mm.
    Returns:
        ``(T,)`` fractions in [0, 1].
    """
    if kind == "max":
        values = errors.max(axis=1)
    elif kind == "mean":
        values = errors.mean(axis=1)
    elif kind == "joint":
        values = errors.reshape(-1)
    else:
        raise ValueError(f"unknown curve kind {kind!r}: expected one of {CURVES}")
    return (values[None, :] <= np.asarray(thresholds, np.float64)[:, None]).mean(axis=1)


def fraction_within(errors: np.ndarray, threshold_mm: float, kind: str = "max") -> float:
    """Fraction of frames whose ``kind`` error is <= ``threshold_mm``."""
    return float(fraction_curve(errors, kind, np.array([threshold_mm]))[0])


def summarize(errors: np.ndarray) -> dict[str, float]:
    """The table row of one method: mean, median of per-frame mean error, and max-frame fractions at 20/30/40 mm."""
    return {
        "mean_mm": mean_error(errors),
        "median_mm": float(np.median(errors.mean(axis=1))),
        "frac_max_20": fraction_within(errors, 20),
        "frac_max_30": fraction_within(errors, 30),
        "frac_max_40": fraction_within(errors, 40),
    }


def hand_object_error(
    tips_pred: np.ndarray,
    tips_gt: np.ndarray,
    tips_visible: np.ndarray,
    corners_pred: np.ndarray,
    corners_gt: np.ndarray,
    corners_visible: np.ndarray,
) -> np.ndarray:
    """Combined hand-object error of eq. 23, per frame, in mm.

    ``E = (sum over visible tips ||X - G|| + 1_M / 3 * sum over the 3 corners ||Y - F||) / (|V| + 1_M)`` with
    ``1_M = 3`` when all three object corners are visible, else 0.

    Args:
        tips_pred, tips_gt: ``(F, 5, 3)`` fingertips in mm.
        tips_visible: ``(F, 5)`` booleans.
        corners_pred, corners_gt: ``(F, 3, 3)`` object corners in mm.
        corners_visible: ``(F, 3)`` booleans.
    Returns:
        ``(F,)`` errors in mm; NaN-free: a frame with nothing visible raises ValueError.
    """
    tips_visible = np.asarray(tips_visible, bool)
    object_term = np.where(np.asarray(corners_visible, bool).all(axis=1), 3.0, 0.0)
    count = tips_visible.sum(axis=1) + object_term
    if (count == 0).any():
        raise ValueError(f"{int((count == 0).sum())} frames have no visible fingertip and no visible object")
    tip_sum = (joint_errors(tips_pred, tips_gt) * tips_visible).sum(axis=1)
    corner_sum = joint_errors(corners_pred, corners_gt).sum(axis=1)
    return (tip_sum + object_term / 3 * corner_sum) / count
