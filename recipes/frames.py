"""Frames of a shard folder as plain files: 16-bit depth PNGs and one JSON of their cameras and true joints, the
input ``handloop predict`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from handloop.recipes.evaluate import read_frames
from handloop.zoo.fileio import atomic_path, write_text

INDEX = "frames.json"
"""Name of the JSON listing the written frames, in the output folder."""


def write_frames(directory: str | Path, out: str | Path, count: int = 1) -> list[Path]:
    """Writes the first ``count`` frames of shard folder ``directory`` under ``out``; returns the paths written.

    Each frame becomes ``frame-NNNNN.png``: its full depth image as a 16-bit single-channel PNG in whole mm (0 where
    missing; the stored float depth rounds by at most 0.5 mm). ``frames.json`` lists, per frame, the PNG's name, the
    camera (``intrinsics``: a name ``handloop predict --intrinsics`` takes, and its ``fx, fy, cx, cy`` in pixels),
    the joint order and the true joints in camera mm (``joints_xyz``, the camera's own y convention) and in pixels
    and mm (``joints_uvd``). The PNGs are written before the index, each atomically.

    Raises:
        ValueError: ``count`` below 1, or a folder holding no frames.
    """
    if count < 1:
        raise ValueError(f"--count must be at least 1, got {count}")
    frames = read_frames(directory, count)
    if not frames:
        raise ValueError(f"{directory}: the shard folder holds no frames")
    out = Path(out)
    written, index = [], []
    for number, frame in enumerate(frames):
        png = out / f"frame-{number:05d}.png"
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
