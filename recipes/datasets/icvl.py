"""ICVL hand posture dataset (Tang et al. 2014) as it lies on disk (docs/method.md section 6).

``<root>/Depth/`` holds 16-bit single-channel PNGs (mm); the label files ``<root>/train.txt``,
``<root>/test_seq_1.txt`` and ``<root>/test_seq_2.txt`` give per line the image path (relative to ``Depth/``) then
16 x (u, v, d) in pixels and mm, in ICVL's joint order (palm, thumb, index, middle, ring, pinky x 3).
"""

from __future__ import annotations

import numpy as np

from handloop.recipes.datasets.base import DatasetReader, Entry
from handloop.zoo.resultfile import read_rows

LABEL_FILES = {"train": ("train.txt",), "test": ("test_seq_1.txt", "test_seq_2.txt")}
"""Label files of each split; subject ids: 0 for training, 1 and 2 for the two test sequences."""

CUBE_MM = 250.0
"""ICVL's cube side, mm."""


class IcvlReader(DatasetReader):
    """The ICVL dataset under ``root`` (``Depth/`` and the label files); 320x240, y down, 16 joints."""

    name = "icvl"
    camera = "icvl"
    joint_set = "icvl16"

    def _entries(self, split: str) -> list[Entry]:
        depth_dir = self.root / "Depth"
        if not depth_dir.is_dir():
            raise FileNotFoundError(f"ICVL depth folder not found: {depth_dir}")
        entries = []
        for index, name in enumerate(LABEL_FILES[split]):
            subject = 0 if split == "train" else index + 1
            images, rows = read_rows(self.root / name, 3 * self.num_joints, named=True)
            for image, values in zip(images, rows.astype(np.float32)):
                xyz = self.intrinsics.uvd_to_xyz(values.reshape(-1, 3)).astype(np.float32)
                entries.append(Entry(depth_dir / image, xyz, subject, CUBE_MM))
        return entries
