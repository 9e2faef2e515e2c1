"""Writers of tiny NYU, ICVL and MSRA15 datasets in exactly their on-disk formats, for the dataset tests.

Each frame's depth is a 7x7 pixel patch at every joint's pixel holding that joint's depth (whole mm), so labels
and depth agree the way real frames do and a joint's pixel can be checked.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from handloop.recipes.datasets.msra import GESTURES, SUBJECTS
from handloop.recipes.datasets.nyu import EVALUATED_JOINTS
from handloop.zoo.camera import CAMERAS


def paint_joints(joints_uvd: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(H, W)`` uint16 depth in mm: a 7x7 patch of each joint's depth around its pixel, 0 elsewhere."""
    depth = np.zeros((height, width), np.uint16)
    for u, v, d in joints_uvd:
        u, v = int(round(u)), int(round(v))
        depth[max(v - 3, 0):v + 4, max(u - 3, 0):u + 4] = int(round(d))
    return depth


def write_nyu(root: Path, split: str, joints_uvd14: np.ndarray, kinects: int = 3) -> list[np.ndarray]:
    """Writes ``<root>/<split>`` with ``joint_data.mat`` (both keys, ``(kinects, F, 36, 3)``) and one
    ``depth_1_%07d.png`` per frame (R noise, G high byte, B low byte); returns the depth frames (uint16 mm)."""
    cam = CAMERAS["nyu"]
    folder = root / split
    folder.mkdir(parents=True)
    uvd36 = np.repeat(joints_uvd14[:, -1:], 36, axis=1)  # unevaluated joints sit at the palm
    uvd36[:, list(EVALUATED_JOINTS)] = joints_uvd14
    uvd = np.repeat(uvd36[None], kinects, axis=0)
    scipy.io.savemat(folder / "joint_data.mat", {"joint_uvd": uvd, "joint_xyz": cam.uvd_to_xyz(uvd)})
    rng = np.random.default_rng(0)
    depths = []
    for i, joints in enumerate(joints_uvd14):
        depth = paint_joints(joints, cam.height, cam.width)
        rgb = np.stack([rng.integers(0, 256, depth.shape), depth >> 8, depth & 255], -1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"depth_1_{i + 1:07d}.png")
        depths.append(depth)
    return depths


def write_icvl(root: Path, sequences: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Writes ``<root>/<label file>`` per sequence (``{"train.txt": (F, 16, 3) uvd, ...}``) and 16-bit PNGs under
    ``<root>/Depth/<sequence>/image_%04d.png``; returns the depth frames (uint16 mm) per label file."""
    cam = CAMERAS["icvl"]
    out = {}
    for label_file, joints in sequences.items():
        sequence = label_file.removesuffix(".txt")
        (root / "Depth" / sequence).mkdir(parents=True, exist_ok=True)
        lines, depths = [], []
        for i, frame in enumerate(joints):
            depth = paint_joints(frame, cam.height, cam.width)
            Image.fromarray(depth).save(root / "Depth" / sequence / f"image_{i:04d}.png")
            lines.append(f"{sequence}/image_{i:04d}.png " + " ".join(f"{x:.4f}" for x in frame.ravel()))
            depths.append(depth)
        (root / label_file).write_text("\n".join(lines) + "\n")
        out[label_file] = depths
    return out


def msra_bin(depth: np.ndarray) -> bytes:
    """An MSRA ``.bin``: the header (width, height, box) then the float32 depth of the box of nonzero pixels."""
    rows, cols = np.nonzero(depth)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    header = struct.pack("6i", depth.shape[1], depth.shape[0], left, top, right, bottom)
    return header + np.ascontiguousarray(depth[top:bottom, left:right], np.float32).tobytes()


def write_msra(root: Path, joints_xyz: np.ndarray, frames_per_gesture: int = 1) -> dict[str, np.ndarray]:
    """Writes P0..P8 x every gesture, ``frames_per_gesture`` frames each, all with pose ``joints_xyz`` (21, 3)
    (camera mm, y up) shifted 2 mm in x per frame; depth is fractional mm to test float32 bit-exactness.

    Returns ``{"P<k>/<gesture>/<index>": (240, 320) float32 depth}``.
    """
    cam = CAMERAS["msra"]
    out = {}
    for subject in SUBJECTS:
        for gesture in GESTURES:
            folder = root / subject / gesture
            folder.mkdir(parents=True)
            lines = [str(frames_per_gesture)]
            for i in range(frames_per_gesture):
                xyz = joints_xyz + [2.0 * i, 0, 0]
                depth = paint_joints(cam.xyz_to_uvd(xyz), cam.height, cam.width).astype(np.float32)
                depth[depth > 0] += 0.25
                (folder / f"{i:06d}_depth.bin").write_bytes(msra_bin(depth))
                lines.append(" ".join(f"{x:.4f}" for x in (xyz * [1, 1, -1]).ravel()))
                out[f"{subject}/{gesture}/{i}"] = depth
            (folder / "joint.txt").write_text("\n".join(lines) + "\n")
    return out


def msra_pose() -> np.ndarray:
    """A plausible ``(21, 3)`` MSRA hand at ~350 mm (camera mm, y up): fingers fanned upward from the wrist."""
    joints = [[0.0, -60.0, 350.0]]
    for x in (-30.0, -10.0, 10.0, 30.0):
        joints += [[x, -10.0 + 20 * j, 350.0 - 2 * j] for j in range(4)]
    joints += [[-45.0 - 8 * j, -40.0 + 10 * j, 345.0] for j in range(4)]
    return np.asarray(joints)
