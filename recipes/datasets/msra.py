"""MSRA15 hand gesture dataset (Sun et al. 2015) as it lies on disk (docs/method.md section 6).

``<root>/P0`` .. ``P8`` each hold one folder per gesture (:data:`GESTURES`) with ``joint.txt`` (first line the frame
count, then per frame 21 x (x, y, z) mm with z negated) and ``%06d_depth.bin`` (6 int32 width, height, left, top,
right, bottom, then the float32 depth of that box, pasted into a zero 320x240 frame). Evaluation is
leave-one-subject-out: the test split of fold ``k`` is subject ``Pk``, the train split the other eight.

Skipped frames, each with a warning: those listed in :data:`FAULTY_FRAMES`, and any whose label is degenerate
(:func:`degenerate_label`: a joint at or behind the camera, or all 21 joints within :data:`MIN_HAND_EXTENT_MM`).
No other frame is ever dropped.
"""

from __future__ import annotations

import warnings

import numpy as np

from handloop.recipes.datasets.base import DatasetReader, Entry
from handloop.zoo.resultfile import read_rows

SUBJECTS = tuple(f"P{k}" for k in range(9))
GESTURES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")

CUBES_MM = (200.0, 200.0, 200.0, 180.0, 180.0, 180.0, 170.0, 160.0, 150.0)
"""Cube side per subject P0..P8, mm (docs/method.md section 5)."""

FAULTY_FRAMES: frozenset[str] = frozenset()
"""Frames known to be faulty, as ``"P<k>/<gesture>/<index>"`` (index as in ``%06d_depth.bin``), skipped with a
warning. Empty: no faulty-frame list could be verified offline, so only :func:`degenerate_label` drops frames;
add an id here (with its reason in the commit) when one is confirmed."""

MIN_HAND_EXTENT_MM = 10.0
"""A label whose joints all lie within this distance of their mean is degenerate, mm."""


def degenerate_label(joints_xyz: np.ndarray) -> str | None:
    """Why a ``(21, 3)`` MSRA label (camera mm, z positive) is unusable, or None when it is fine."""
    if np.any(joints_xyz[:, 2] <= 0):
        return "a joint at or behind the camera (z <= 0)"
    extent = np.linalg.norm(joints_xyz - joints_xyz.mean(axis=0), axis=1).max()
    if extent < MIN_HAND_EXTENT_MM:
        return f"all joints within {extent:.1f} mm of their mean"
    return None


class MsraReader(DatasetReader):
    """The MSRA15 dataset under ``root``, fold ``test_subject`` (0-8); 320x240, y up, 21 joints."""

    name = "msra"
    camera = "msra"
    joint_set = "msra21"

    def __init__(self, root, test_subject: int = 0):
        super().__init__(root)
        if not 0 <= test_subject < len(SUBJECTS):
            raise ValueError(f"MSRA test subject must be 0-{len(SUBJECTS) - 1}, got {test_subject}")
        self.test_subject = test_subject

    def settings(self) -> dict:
        return {**super().settings(), "test_subject": self.test_subject}

    def _entries(self, split: str) -> list[Entry]:
        subjects = [self.test_subject] if split == "test" else [k for k in range(len(SUBJECTS))
                                                                 if k != self.test_subject]
        return [e for k in subjects for gesture in GESTURES for e in self._gesture(k, gesture)]

    def _gesture(self, subject: int, gesture: str) -> list[Entry]:
        folder = self.root / SUBJECTS[subject] / gesture
        if not folder.is_dir():
            raise FileNotFoundError(f"MSRA gesture folder not found: {folder}")
        labels = read_joint_txt(folder / "joint.txt")
        count = len(list(folder.glob("*_depth.bin")))
        if count != len(labels):
            raise ValueError(f"{folder / 'joint.txt'}: labels for {len(labels)} frames, but {folder} holds {count} "
                             "*_depth.bin files")
        entries, skipped = [], []
        for index, xyz in enumerate(labels):
            frame_id = f"{SUBJECTS[subject]}/{gesture}/{index:06d}"
            reason = "listed in FAULTY_FRAMES" if frame_id in FAULTY_FRAMES else degenerate_label(xyz)
            if reason:
                skipped.append(f"{frame_id} ({reason})")
            else:
                entries.append(Entry(folder / f"{index:06d}_depth.bin", xyz, subject, CUBES_MM[subject]))
        if skipped:
            warnings.warn(f"MSRA: skipping {len(skipped)} faulty frame(s) of {folder}: {', '.join(skipped)}",
                          stacklevel=2)
        return entries


def read_joint_txt(path) -> np.ndarray:
    """Reads an MSRA ``joint.txt`` -> ``(frames, 21, 3)`` float32 camera mm, y up, z positive (un-negated).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file when the first line is not a frame count, a line is malformed, or the count
            differs from the number of label lines.
    """
    if not path.is_file():
        raise FileNotFoundError(f"MSRA label file not found: {path}")
    with open(path) as handle:
        header = handle.readline().split()
    if len(header) != 1 or not header[0].isdigit():
        raise ValueError(f"{path}:1: expected the frame count, got {' '.join(header)!r}")
    _, rows = read_rows(path, 63, first_line=2)
    if len(rows) != int(header[0]):
        raise ValueError(f"{path}: header says {header[0]} frames, but it holds {len(rows)} label lines")
    joints = rows.astype(np.float32).reshape(-1, 21, 3)
    joints[..., 2] *= -1
    return joints
