"""Depth preprocessing in numpy: hand detection by centre of mass, the metric-cube crop, normalisation.

Conventions (docs/method.md section 5):

* a crop is a cube of side ``cube`` mm centred on a 3D point; its image window spans
  ``u = cu +- (cube / 2) fx / cz`` and ``v = cv +- (cube / 2) fy / cz`` and is resampled to ``size x size`` pixels;
* crop pixel ``(x, y)`` samples frame pixel ``M^-1 (x, y, 1)``, where ``M`` is the 3x3 matrix of
  :func:`crop_matrix` (pixel centres at integer coordinates);
* normalised depth is ``(d - cz) / (cube / 2)`` clipped to [-1, 1], with missing depth (0 or the invalid value
  32001) and everything behind the cube at +1;
* a normalised pose is ``(xyz - centre_xyz) / (cube / 2)`` in camera axes, so it is unit-free ("cube units").

The TF graph versions of the crop (spatial transformer) live in :mod:`handloop.zoo.layers.stn` and match these to 1e-4.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from handloop.zoo.camera import Intrinsics
from handloop.zoo.config import CROP_SIZE

DEPTH_MIN_MM = 10.0
"""Nearest depth a hand can be at, mm; nearer readings are sensor noise."""
DEPTH_MAX_MM = 1500.0
"""Farthest depth searched for a hand, mm."""
INVALID_DEPTH_MM = 32001.0
"""Value some tools write for pixels without depth."""


HAND_SLAB_MM = 150.0
"""Depth of the slab a hand is measured in, mm: the pixels of a blob within this of its nearest pixel."""
HAND_AREA_MM2 = (1000.0, 150_000.0)
"""Surface area in mm^2 a hand's slab may have: more than two fingers' worth, less than 0.15 m^2 (a hand with its
forearm seen side-on is about 0.04 m^2; a wall facing the camera at 1 m and filling a 640x480 frame is 0.9 m^2)."""
EDGE_MM = 50.0
"""Depth step between neighbouring pixels, mm, that separates two surfaces (a hand from the wall behind it)."""


class NoHandError(ValueError):
    """Raised when a depth frame holds no hand-sized blob in the depth range a hand is searched in
    (:func:`check_hand`); ``reason`` says what was found, the message also where."""

    def __init__(self, reason: str, where: str = "the depth frame"):
        super().__init__(f"no hand found in {where}: {reason}")
        self.reason = reason


def validate_depth(depth: np.ndarray, name: str = "depth frame") -> np.ndarray:
    """Checks one depth frame in mm and returns it as float32 ``(H, W)``.

    Raises:
        ValueError: naming the problem for a wrong shape, NaN or infinite pixels, or negative depth.
    """
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2 or min(depth.shape) < 2:
        raise ValueError(f"{name} must be a 2-D image (H, W) in mm, got shape {depth.shape}")
    depth = depth.astype(np.float32)
    bad = ~np.isfinite(depth)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} NaN or infinite pixels; use 0 for missing depth")
    if (depth < 0).any():
        raise ValueError(f"{name} has negative depth values; depth must be in mm with 0 for missing")
    return depth


def check_hand(depth: np.ndarray, intrinsics: Intrinsics, stride: int = 1, where: str = "the depth frame") -> None:
    """Raises :class:`NoHandError` unless ``depth`` holds a hand-sized blob in ``(DEPTH_MIN_MM, DEPTH_MAX_MM)``.

    The pixels in that range are split into blobs (connected components, 8-neighbours) wherever neighbouring depth
    steps by more than :data:`EDGE_MM`; a blob's slab is its pixels within :data:`HAND_SLAB_MM` of its nearest one,
    and its area is the sum of its pixels' footprints ``(d / fx) (d / fy)`` mm^2. A hand is a blob whose slab area
    lies in :data:`HAND_AREA_MM2`: a few stray pixels are too small, a wall or table filling the view too large, while
    a hand in front of either, or with its forearm reaching into one, keeps a slab of its own.

    Args:
        depth: ``(H, W)`` depth in mm, 0 where missing.
        intrinsics: the frame's camera.
        stride: read every ``stride``-th row and column (pixels), as the loop's detection does.
        where: the frame, for the error message.
    """
    depth = np.asarray(depth, np.float32)[::stride, ::stride]
    valid = (depth > DEPTH_MIN_MM) & (depth < DEPTH_MAX_MM)
    if not valid.any():
        hint = "; is it in metres? depth must be in mm" if 0 < depth.max() <= DEPTH_MIN_MM else ""
        raise NoHandError(f"no depth between {DEPTH_MIN_MM:g} and {DEPTH_MAX_MM:g} mm{hint}", where)
    cross = ndimage.generate_binary_structure(2, 1)
    above = ndimage.maximum_filter(np.where(valid, depth, -np.inf), footprint=cross) - depth
    below = depth - ndimage.minimum_filter(np.where(valid, depth, np.inf), footprint=cross)
    edge = (above > EDGE_MM) | (below > EDGE_MM)  # a pixel beside a step to another surface
    labels, count = ndimage.label(valid & ~edge, structure=np.ones((3, 3)))
    if count:
        index = np.arange(1, count + 1)
        nearest = np.concatenate([[0.0], ndimage.minimum(depth, labels, index)])
        footprint = (depth * stride) ** 2 / (intrinsics.fx * intrinsics.fy)
        slab = (labels > 0) & (depth < nearest[labels] + HAND_SLAB_MM)
        areas = ndimage.sum(footprint * slab, labels, index)
        if ((areas >= HAND_AREA_MM2[0]) & (areas <= HAND_AREA_MM2[1])).any():
            return
        largest = areas.max()
    else:
        largest = 0.0
    size = "too small" if largest < HAND_AREA_MM2[0] else "too large"
    raise NoHandError(f"no hand-sized blob between {DEPTH_MIN_MM:g} and {DEPTH_MAX_MM:g} mm (the largest is "
                      f"{largest / 100:.0f} cm^2, {size}: a hand is {HAND_AREA_MM2[0] / 100:g}-"
                      f"{HAND_AREA_MM2[1] / 100:g} cm^2)", where)


def center_of_mass(
    depth: np.ndarray,
    intrinsics: Intrinsics,
    cube: float = 300.0,
    dmin: float = DEPTH_MIN_MM,
    dmax: float = DEPTH_MAX_MM,
    iterations: int = 3,
    stride: int = 1,
    origin: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Finds the hand as the centre of mass of the nearest depth blob.

    Takes the pixels in ``(dmin, dmax)`` mm, keeps those within ``cube`` mm behind the nearest of them, averages
    them in (u, v, d), then re-centres ``iterations`` times on the pixels inside the cube around the current
    centre. :func:`handloop.zoo.layers.geometry.center_of_mass` is the same algorithm in TF ops.

    Args:
        depth: ``(H, W)`` depth in mm, 0 where missing: the whole frame, or a window of it (see ``origin``).
        intrinsics: the frame's camera.
        cube: cube side in mm.
        stride: read every ``stride``-th row and column (pixels), as the loop's ``config.com_stride``.
        origin: frame pixel ``(u, v)`` of ``depth[0, 0]``. With ``stride`` 1, a window outside which no frame
            pixel lies in ``(dmin, dmax)`` gives the whole frame's result bit for bit, for a fraction of the work.
    Returns:
        ``(3,)`` float64 array ``(u, v, d)``: frame pixels and mm.
    Raises:
        NoHandError: when no pixel lies in the depth range.
    """
    depth = validate_depth(depth)[::stride, ::stride]
    valid = (depth > dmin) & (depth < dmax)
    if not valid.any():
        raise NoHandError(f"no depth between {dmin:g} and {dmax:g} mm")
    vs, us = np.nonzero(valid)
    ds = depth[vs, us]
    vs, us = vs * stride + origin[1], us * stride + origin[0]
    near = ds < ds.min() + cube
    com = np.array([us[near].mean(), vs[near].mean(), ds[near].mean()])
    for _ in range(iterations):
        hu = cube / 2 * intrinsics.fx / max(com[2], 1.0)
        hv = cube / 2 * intrinsics.fy / max(com[2], 1.0)
        inside = (np.abs(us - com[0]) < hu) & (np.abs(vs - com[1]) < hv) & (np.abs(ds - com[2]) < cube / 2)
        if inside.any():
            com = np.array([us[inside].mean(), vs[inside].mean(), ds[inside].mean()])
    return com


def crop_box(center_uvd: np.ndarray, cube: float, intrinsics: Intrinsics) -> tuple[float, float, float, float]:
    """Image window ``(u0, v0, u1, v1)`` in pixels covered by a cube of side ``cube`` mm centred at ``center_uvd``."""
    cu, cv, cz = (float(c) for c in center_uvd[:3])
    if cz <= 0:
        raise ValueError(f"crop centre must have positive depth, got {cz:g} mm")
    hu = cube / 2 * intrinsics.fx / cz
    hv = cube / 2 * intrinsics.fy / cz
    return cu - hu, cv - hv, cu + hu, cv + hv


def crop_matrix(center_uvd: np.ndarray, cube: float, intrinsics: Intrinsics, size: int = CROP_SIZE) -> np.ndarray:
    """3x3 matrix taking frame pixel coordinates to crop pixel coordinates (pixel centres at integers).

    Args:
        center_uvd: crop centre ``(u, v, d)`` in pixels and mm.
        cube: cube side in mm.
        size: crop side in pixels.
    Returns:
        float64 ``(3, 3)`` matrix ``M`` with ``(x, y, 1) = M (u, v, 1)``.
    """
    u0, v0, u1, v1 = crop_box(center_uvd, cube, intrinsics)
    sx, sy = size / (u1 - u0), size / (v1 - v0)
    return np.array([[sx, 0, sx * (0.5 - u0) - 0.5], [0, sy, sy * (0.5 - v0) - 0.5], [0, 0, 1]])


def transform_points(matrix: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Applies a 3x3 image transform to ``(..., 2+)`` points, returning ``(..., 2)`` (extra columns are ignored)."""
    uv = np.asarray(uv, np.float64)[..., :2]
    return uv @ matrix[:2, :2].T + matrix[:2, 2]


def normalize_depth(depth: np.ndarray, center_z: float, cube: float) -> np.ndarray:
    """Maps depth in mm to cube units: ``(d - center_z) / (cube / 2)`` clipped to [-1, 1], missing depth to +1."""
    depth = np.asarray(depth, np.float32)
    out = np.clip((depth - center_z) / (cube / 2), -1.0, 1.0)
    missing = (depth <= 0) | (depth >= INVALID_DEPTH_MM)
    return np.where(missing, 1.0, out).astype(np.float32)


def denormalize_depth(depth_norm: np.ndarray, center_z: float, cube: float) -> np.ndarray:
    """Inverse of :func:`normalize_depth` for depth inside the cube: cube units back to mm."""
    return np.asarray(depth_norm, np.float32) * (cube / 2) + center_z


def crop_depth(
    depth: np.ndarray, center_uvd: np.ndarray, cube: float, intrinsics: Intrinsics, size: int = CROP_SIZE
) -> np.ndarray:
    """Normalised ``(size, size)`` float32 crop of a depth frame around ``center_uvd`` (bilinear sampling).

    The frame is normalised first (:func:`normalize_depth`), then sampled; pixels outside the frame read +1.
    """
    depth = validate_depth(depth)
    norm = normalize_depth(depth, float(center_uvd[2]), cube)
    inverse = np.linalg.inv(crop_matrix(center_uvd, cube, intrinsics, size))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    uv = np.stack([xs, ys], -1) @ inverse[:2, :2].T + inverse[:2, 2]
    coords = np.stack([uv[..., 1], uv[..., 0]])
    return ndimage.map_coordinates(norm, coords, order=1, mode="grid-constant", cval=1.0).astype(np.float32)


def normalize_pose(xyz: np.ndarray, center_xyz: np.ndarray, cube: float) -> np.ndarray:
    """Joints ``(..., J, 3)`` in camera mm to cube units relative to ``center_xyz`` ``(..., 3)``."""
    return (np.asarray(xyz) - np.asarray(center_xyz)[..., None, :]) / (cube / 2)


def denormalize_pose(pose: np.ndarray, center_xyz: np.ndarray, cube: float) -> np.ndarray:
    """Inverse of :func:`normalize_pose`: cube units back to camera mm."""
    return np.asarray(pose) * (cube / 2) + np.asarray(center_xyz)[..., None, :]
