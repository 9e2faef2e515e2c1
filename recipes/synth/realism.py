"""Realism check: distances between joints of synthetic hands against those of real, labelled hands (NYU-14).

Bone lengths and a few inter-joint distances (fingertip spreads, thumb opposition, palm width) do not depend on
the camera, so synthetic hands are sampled in their own frame, mapped to NYU-14 (:data:`handloop.zoo.joints.MSRA21_TO`) and
compared with the real labels converted to mm. A distance is *covered* when the synthetic range [min, max]
contains the real 1st-99th percentile range (the extreme real values hold annotation noise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from handloop.recipes.synth.hand import HandShape, forward_kinematics
from handloop.recipes.synth.poses import sample_articulation
from handloop.zoo.camera import CAMERAS
from handloop.zoo.joints import NYU14, convert_joints

PAIRS = tuple(NYU14.bones) + ((6, 0), (8, 6), (8, 0), (8, 4), (8, 13), (4, 13), (11, 12))
"""NYU-14 joint pairs compared: the 13 bones, then index-pinky and thumb-index/pinky/middle tip spreads,
thumb tip to palm, middle tip to palm, and the wrist width."""

REAL_PERCENTILES = (1.0, 99.0)


def load_nyu_labels(path: str | Path) -> np.ndarray:
    """Reads NYU-14 labels (one frame per line, 14 x (u, v, d) pixels/mm) -> ``(N, 14, 3)`` camera mm.

    Raises:
        ValueError: naming the file when a line does not hold 42 numbers.
    """
    uvd = np.loadtxt(path, ndmin=2)
    if uvd.shape[1] != 42:
        raise ValueError(f"{path}: expected 42 numbers (14 joints x u, v, d) per line, got {uvd.shape[1]}")
    return CAMERAS["nyu"].uvd_to_xyz(uvd.reshape(-1, 14, 3))


def sample_nyu14(count: int, seed: int = 0) -> np.ndarray:
    """``count`` synthetic hands (a new subject and pose each) as NYU-14 joints in the hand frame, ``(N, 14, 3)`` mm."""
    rng = np.random.default_rng(seed)
    hands = [forward_kinematics(HandShape.sample(rng), sample_articulation(rng)[0]) for _ in range(count)]
    return convert_joints(np.array(hands), "nyu14")


def distances(joints: np.ndarray) -> np.ndarray:
    """``(N, len(PAIRS))`` distances in mm between the joints of each :data:`PAIRS` entry of ``(N, 14, 3)`` joints."""
    a, b = np.array(PAIRS).T
    return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)


def compare(real: np.ndarray, synthetic: np.ndarray) -> pd.DataFrame:
    """One row per :data:`PAIRS` entry: real percentile range and median, synthetic min/median/max (mm), covered.

    Args:
        real, synthetic: ``(N, 14, 3)`` NYU-14 joints in mm (any frame).
    """
    r, s = distances(real), distances(synthetic)
    low, high = np.percentile(r, REAL_PERCENTILES, axis=0)
    names = [f"{NYU14.joints[i]}-{NYU14.joints[j]}" for i, j in PAIRS]
    table = pd.DataFrame({
        "distance": names,
        "real_p1": low, "real_median": np.median(r, 0), "real_p99": high,
        "synth_min": s.min(0), "synth_median": np.median(s, 0), "synth_max": s.max(0),
    })
    table["covered"] = (table.synth_min <= table.real_p1) & (table.synth_max >= table.real_p99)
    table["gap_mm"] = np.maximum(table.synth_min - table.real_p1, 0) + np.maximum(table.real_p99 - table.synth_max, 0)
    return table
