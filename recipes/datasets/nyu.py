"""NYU hand pose dataset (Tompson et al. 2014) as it lies on disk (docs/method.md section 6).

``<root>/train`` and ``<root>/test`` each hold ``joint_data.mat`` (``joint_uvd`` and ``joint_xyz``, both
``(kinects, frames, 36, 3)``) and ``depth_1_%07d.png`` numbered from 1: 3-channel PNGs with depth mm = G * 256 + B.
Only kinect 0 (the frontal camera) is read, and only the 14 evaluated joints. The labels are taken from
``joint_uvd`` and back-projected with the NYU camera, so joints project onto exactly the labelled pixels.
"""

from __future__ import annotations

import numpy as np

from handloop.recipes.datasets.base import DatasetReader, Entry

EVALUATED_JOINTS = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
"""Indices of the 14 evaluated joints (:data:`handloop.zoo.joints.NYU14`) among NYU's 36."""

TEST_SUBJECTS = ((1, 2440, 300.0), (2441, 8252, 250.0))
"""Test subjects as (first frame, last frame, cube mm), frames numbered from 1; subject ids are 1 and 2."""

TRAIN_CUBE_MM = 300.0
"""Cube side of the training subject (id 0), mm."""


class NyuReader(DatasetReader):
    """The NYU dataset under ``root`` (folders ``train/`` and ``test/``); 640x480, y up, 14 joints."""

    name = "nyu"
    camera = "nyu"
    joint_set = "nyu14"
    nyu_rgb = True

    def _entries(self, split: str) -> list[Entry]:
        folder = self.root / split
        if not folder.is_dir():
            raise FileNotFoundError(f"NYU {split} folder not found: {folder}")
        uvd = read_joint_data(folder / "joint_data.mat")[:, EVALUATED_JOINTS]
        count = len(list(folder.glob("depth_1_*.png")))
        if count != len(uvd):
            raise ValueError(f"{folder / 'joint_data.mat'}: labels for {len(uvd)} frames, but {folder} holds {count} "
                             "depth_1_*.png files")
        xyz = self.intrinsics.uvd_to_xyz(uvd).astype(np.float32)
        return [Entry(folder / f"depth_1_{i + 1:07d}.png", xyz[i], *_subject(split, i + 1)) for i in range(len(uvd))]


def _subject(split: str, number: int) -> tuple[int, float]:
    """(subject id, cube mm) of frame ``number`` (from 1) of ``split``; frames past the last range belong to the
    last test subject."""
    if split == "train":
        return 0, TRAIN_CUBE_MM
    for subject, (first, last, cube) in enumerate(TEST_SUBJECTS, 1):
        if first <= number <= last:
            return subject, cube
    return len(TEST_SUBJECTS), TEST_SUBJECTS[-1][2]


def read_joint_data(path) -> np.ndarray:
    """Reads ``joint_uvd`` of kinect 0 from a NYU ``joint_data.mat`` -> ``(frames, 36, 3)`` float64 (pixels, mm).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming the file when it is not a readable .mat, lacks ``joint_uvd`` / ``joint_xyz``, or their
            shapes are not ``(kinects, frames, 36, 3)`` alike.
    """
    import scipy.io

    if not path.is_file():
        raise FileNotFoundError(f"NYU label file not found: {path}")
    try:
        mat = scipy.io.loadmat(str(path), variable_names=["joint_uvd", "joint_xyz"])
    except Exception as error:  # scipy raises many kinds (MatReadError, IndexError, ...) for corrupt files
        raise ValueError(f"{path}: not a readable .mat file ({error})") from None
    for key in ("joint_uvd", "joint_xyz"):
        if key not in mat:
            raise ValueError(f"{path}: no {key!r} array; expected joint_uvd and joint_xyz")
        shape = mat[key].shape
        if len(shape) != 4 or shape[2:] != (36, 3) or shape[0] < 1:
            raise ValueError(f"{path}: {key} has shape {shape}, expected (kinects, frames, 36, 3)")
    if mat["joint_uvd"].shape != mat["joint_xyz"].shape:
        raise ValueError(f"{path}: joint_uvd {mat['joint_uvd'].shape} and joint_xyz {mat['joint_xyz'].shape} differ")
    uvd = np.asarray(mat["joint_uvd"][0], np.float64)
    if not np.all(np.isfinite(uvd)):
        raise ValueError(f"{path}: joint_uvd holds NaN or infinite values")
    return uvd
