"""Frames of a shard folder as plain files: 16-bit depth PNGs and one JSON of their cameras and true joints, the
input ``handloop predict`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from handloop.recipes.evaluate import read_frames
from handloop.zoo.fileio import atomic_path, refuse_existing, write_text

INDEX = "frames.json"
"""Name of the JSON listing the written frames, in the output folder."""


def frame_png(out: Path, number: int) -> Path:
    """Path of the ``number``-th (from 0) frame's PNG under ``out``."""
    return out / f"frame-{number:05d}.png"


def write_frames(directory: str | Path, out: str | Path, count: int = 1, force: bool = False) -> list[Path]:
    """Writes the first ``count`` frames of shard folder ``directory`` under ``out``; returns the paths written.

    Each frame becomes ``frame-NNNNN.png``: its full depth image as a 16-bit single-channel PNG in whole mm (0 where
    missing; the stored float depth rounds by at most 0.5 mm). ``frames.json`` lists, per frame, the PNG's name, the
    camera (``intrinsics``: a name ``handloop predict --intrinsics`` takes, and its ``fx, fy, cx, cy`` in pixels),
    the joint order and the true joints in camera mm (``joints_xyz``, the camera's own y convention) and in pixels
    and mm (``joints_uvd``). The PNGs are written before the index, each atomically.

    Raises:
        ValueError: ``count`` below 1, or a folder holding no frames.
        FileExistsError: one of the outputs exists and not ``force`` (checked before any work).
    """
    if count < 1:
        raise ValueError(f"--count must be at least 1, got {count}")
    out = Path(out)
    refuse_existing(out / INDEX, *(frame_png(out, number) for number in range(count)), force=force)
    frames = read_frames(directory, count)
    if not frames:
        raise ValueError(f"{directory}: the shard folder holds no frames")
    written, index = [], []
    for number, frame in enumerate(frames):
        png = frame_png(out, number)
        with atomic_path(png) as tmp:
            Image.fromarray(np.clip(np.rint(frame.depth_mm), 0, 65535).astype(np.uint16)).save(tmp, format="PNG")
        written.append(png)
        camera = frame.intrinsics
        index.append({"depth": png.name, "intrinsics": camera.name,
                      "camera": {"fx": camera.fx, "fy": camera.fy, "cx": camera.cx, "cy": camera.cy,
                                 "width": camera.width, "height": camera.height, "y_up": camera.y_up},
                      "joint_set": frame.joint_set, "joints_xyz": np.round(frame.joints_xyz, 3).tolist(),
                      "joints_uvd": np.round(frame.joints_uvd, 3).tolist()})
    write_text(out / INDEX, json.dumps(index, indent=1))
    return [*written, out / INDEX]


def read_truth(path: str | Path, depth_file: str | Path, joint_set: str) -> np.ndarray:
    """The true joints of ``depth_file`` in camera mm (the camera's own y convention), in ``joint_set`` order.

    Args:
        path: a ``frames.json`` written by :func:`write_frames` (its entry whose ``depth`` is ``depth_file``'s name
            is used), or a JSON object ``{"joints_xyz": [[x, y, z], ...], "joint_set": "msra21"}`` (``joint_set``
            optional: then taken to be ``joint_set``).
        depth_file: the depth file the truth belongs to.
        joint_set: the joint order wanted; MSRA-21 truth is converted to it (:func:`convert_joints`).
    Returns:
        ``(J, 3)`` float64 joints in mm.
    Raises:
        ValueError: an unreadable file, no entry for ``depth_file``, or joints that do not fit ``joint_set``.
    """
    from handloop.zoo.joints import convert_joints, get_joint_set

    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the truth file {path}: {error}") from None
    if isinstance(document, list):
        name = Path(depth_file).name
        entries = [row for row in document if isinstance(row, dict) and row.get("depth") == name]
        if not entries:
            raise ValueError(f"{path} lists no frame {name!r}")
        document = entries[0]
    if not isinstance(document, dict) or "joints_xyz" not in document:
        raise ValueError(f"{path}: expected a frames.json or an object with joints_xyz")
    joints = np.asarray(document["joints_xyz"], np.float64)
    source = document.get("joint_set", joint_set)
    if source != joint_set and source == "msra21":
        joints = convert_joints(joints, joint_set)
        source = joint_set
    expected = get_joint_set(joint_set).size
    if source != joint_set or joints.shape != (expected, 3):
        raise ValueError(f"{path}: the true joints ({source}, shape {joints.shape}) do not fit the entry's "
                         f"{joint_set} ({expected}, 3)")
    return joints
