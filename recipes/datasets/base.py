"""The common base of the real-dataset readers: labelled entries on disk -> :class:`handloop.recipes.records.Frame` s.

A reader lists its split as :class:`Entry` s (a depth file, its joints in camera mm, subject and cube) once, checking
the folder layout and the label/frame counts up front; frames are then read one at a time with
:func:`handloop.zoo.depthio.read_depth`, checked against the camera's frame size, and get a centre-of-mass hand detection
(:func:`handloop.zoo.preprocess.center_of_mass`) restricted to the cube around the labelled hand, as the crops of training
are. Every error names the file it comes from.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import numpy as np

from handloop.recipes.records import Frame
from handloop.zoo.camera import CAMERAS, Intrinsics
from handloop.zoo.depthio import read_depth
from handloop.zoo.joints import get_joint_set
from handloop.zoo.preprocess import NoHandError, center_of_mass, crop_box


@dataclasses.dataclass(frozen=True)
class Entry:
    """One labelled frame on disk.

    Attributes:
        depth_path: the depth file.
        joints_xyz: ``(J, 3)`` float32 joints in camera mm, in the camera's own y convention.
        subject: id of the person.
        cube: crop cube side, mm.
    """

    depth_path: Path
    joints_xyz: np.ndarray
    subject: int
    cube: float


class DatasetReader:
    """A dataset on disk: subclasses set the class attributes and implement :meth:`_entries`.

    Attributes:
        name: dataset name (a key of :data:`handloop.zoo.resultfile.BENCHMARKS`).
        camera: a key of :data:`handloop.zoo.camera.CAMERAS`.
        joint_set: the dataset's evaluated joint order (:mod:`handloop.zoo.joints`).
        splits: the split names :meth:`entries` accepts.
        nyu_rgb: the depth files are NYU's 8-bit RGB PNGs (mm = G * 256 + B, :func:`handloop.zoo.depthio.read_depth`).
    """

    name: str
    camera: str
    joint_set: str
    splits: tuple[str, ...] = ("train", "test")
    nyu_rgb: bool = False

    def __init__(self, root: str | Path):
        """``root``: the dataset's top folder; FileNotFoundError when it does not exist."""
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.name} dataset folder not found: {self.root}")

    @property
    def intrinsics(self) -> Intrinsics:
        """The dataset's camera."""
        return CAMERAS[self.camera]

    @property
    def num_joints(self) -> int:
        """Number of joints of :attr:`joint_set`."""
        return get_joint_set(self.joint_set).size

    def settings(self) -> dict:
        """What identifies this reader's output besides the split (the root; readers with options add them)."""
        return {"dataset": self.name, "root": str(self.root.resolve())}

    def entries(self, split: str) -> list[Entry]:
        """The labelled frames of ``split`` in the dataset's order.

        Raises:
            ValueError: an unknown split, or naming the file of a malformed label or a label/frame count mismatch.
            FileNotFoundError: naming a missing folder, label file or depth file.
        """
        if split not in self.splits:
            raise ValueError(f"{self.name} has no split {split!r}: expected one of {list(self.splits)}")
        entries = self._entries(split)
        missing = [e.depth_path for e in entries if not e.depth_path.is_file()]
        if missing:
            raise FileNotFoundError(f"{missing[0]}: depth file of a labelled frame not found "
                                    f"({len(missing)} of {len(entries)} {split} frames missing)")
        return entries

    def _entries(self, split: str) -> list[Entry]:
        """Subclasses: the entries of a known ``split`` in order, checking folders, labels and frame counts."""
        raise NotImplementedError

    def read_depth(self, entry: Entry) -> np.ndarray:
        """The ``(H, W)`` float32 depth frame of ``entry`` in mm, 0 where missing.

        Raises:
            FileNotFoundError: the file is gone.
            ValueError: naming the file when it is unreadable, truncated or not of the camera's frame size.
        """
        cam = self.intrinsics
        depth = read_depth(entry.depth_path, self.nyu_rgb)
        if depth.shape != (cam.height, cam.width):
            raise ValueError(f"{entry.depth_path}: {depth.shape[1]}x{depth.shape[0]} pixels, but {self.name} frames "
                             f"are {cam.width}x{cam.height}")
        return depth

    def read(self, entry: Entry) -> Frame:
        """Reads the frame of ``entry``: full depth frame in mm, joints, cube and a centre-of-mass detection.

        Raises:
            ValueError: naming the depth file when it is unreadable, of the wrong size, or holds no depth inside the
                cube around the labelled hand.
        """
        cam = self.intrinsics
        depth = self.read_depth(entry)
        return Frame(depth_mm=depth, intrinsics=cam, joints_xyz=entry.joints_xyz, joint_set=self.joint_set,
                     cube=entry.cube, com_uvd=self._hand_center(depth, entry), subject=entry.subject)

    def _hand_center(self, depth: np.ndarray, entry: Entry) -> np.ndarray:
        """Centre of mass ``(3,)`` (pixels, mm) of the depth inside the cube around the labelled joints' centre."""
        cam = self.intrinsics
        center = cam.xyz_to_uvd(entry.joints_xyz.mean(axis=0))
        window = keep_box(depth, crop_box(center, entry.cube, cam))
        window[np.abs(window - center[2]) >= entry.cube / 2] = 0
        try:
            return center_of_mass(window, cam, entry.cube).astype(np.float32)
        except NoHandError:
            raise ValueError(f"{entry.depth_path}: no depth inside the {entry.cube:g} mm cube around the labelled "
                             "hand (depth and labels do not match)") from None

    def frames(self, split: str) -> Iterator[Frame]:
        """Yields the :class:`Frame` s of ``split`` in order (entries are listed and checked first)."""
        for entry in self.entries(split):
            yield self.read(entry)

    def labels_uvd(self, split: str) -> np.ndarray:
        """``(F, J, 3)`` ground truth of ``split`` in pixels and mm, the community's label format."""
        return np.stack([self.intrinsics.xyz_to_uvd(e.joints_xyz) for e in self.entries(split)])


def keep_box(depth: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A copy of ``(H, W)`` depth keeping only the pixels whose indices lie in ``box`` ``(u0, v0, u1, v1)``
    (pixels, ``u0 <= u < u1``, ``v0 <= v < v1``), 0 elsewhere."""
    height, width = depth.shape
    u0, v0, u1, v1 = (int(np.clip(np.ceil(x), 0, size)) for x, size in zip(box, (width, height, width, height)))
    out = np.zeros_like(depth)
    out[v0:v1, u0:u1] = depth[v0:v1, u0:u1]
    return out
