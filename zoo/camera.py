"""Pinhole cameras of the supported datasets and the uvd <-> xyz projections.

Pixel coordinates ``(u, v)`` are in pixels of the full depth frame, ``d`` is depth in millimetres; camera
coordinates ``(x, y, z)`` are in millimetres with ``z = d``. Datasets disagree on the direction of the y axis:
NYU and MSRA point it up (``y = (cy - v) z / fy``), ICVL and the synthetic camera point it down
(``y = (v - cy) z / fy``). :class:`Intrinsics` carries that convention so no caller has to know it.

The projections are written once against an array namespace, so the same code runs on numpy arrays and, via
:func:`tf_uvd_to_xyz` / :func:`tf_xyz_to_uvd`, as TensorFlow ops inside Keras models and exported graphs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Intrinsics:
    """A depth camera: focal lengths and principal point in pixels, frame size, y-axis convention.

    Attributes:
        name: short name (``nyu``, ``icvl``, ``msra``, ``synth`` or ``custom``).
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        width, height: frame size in pixels.
        y_up: True when camera-space y points up (NYU, MSRA), False when it points down (ICVL, synthetic).
    """

    name: str
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    y_up: bool = False

    def as_array(self) -> np.ndarray:
        """Returns ``[fx, fy, cx, cy]`` as float32, the layout the TF ops and exported models take."""
        return np.array([self.fx, self.fy, self.cx, self.cy], np.float32)

    def uvd_to_xyz(self, uvd: np.ndarray) -> np.ndarray:
        """Back-projects ``(..., 3)`` pixel/mm coordinates to ``(..., 3)`` camera millimetres."""
        return _uvd_to_xyz(np, np.asarray(uvd, np.float64), self.as_array().astype(np.float64), self.y_up)

    def xyz_to_uvd(self, xyz: np.ndarray) -> np.ndarray:
        """Projects ``(..., 3)`` camera millimetres to ``(..., 3)`` pixels and depth in mm."""
        return _xyz_to_uvd(np, np.asarray(xyz, np.float64), self.as_array().astype(np.float64), self.y_up)

    @property
    def axes(self) -> np.ndarray:
        """``(3, 3)`` map from OpenCV camera axes (y down, the loop graph's) to this camera's: ``diag(1, -1, 1)``
        for a y-up camera, else the identity. Its own inverse; points map as ``xyz @ axes``, rotations as
        ``axes @ R @ axes``."""
        return np.diag([1.0, -1.0 if self.y_up else 1.0, 1.0])


CAMERAS: dict[str, Intrinsics] = {
    "nyu": Intrinsics("nyu", 588.03, 587.07, 320.0, 240.0, 640, 480, y_up=True),
    "icvl": Intrinsics("icvl", 241.42, 241.42, 160.0, 120.0, 320, 240, y_up=False),
    "msra": Intrinsics("msra", 241.42, 241.42, 160.0, 120.0, 320, 240, y_up=True),
    "synth": Intrinsics("synth", 588.03, 587.07, 320.0, 240.0, 640, 480, y_up=False),
}
"""Intrinsics of each dataset (docs/method.md section 6); ``synth`` is NYU's sensor with OpenCV's y-down axes."""


def get_intrinsics(spec, width: int = 640, height: int = 480) -> Intrinsics:
    """Resolves a camera for frames of ``width x height`` pixels and checks it (:func:`validate_intrinsics`).

    Args:
        spec: a known name (``nyu``, ``icvl``, ``msra``, ``synth``), ``"FX,FY,CX,CY"`` or a tuple/list of these
            four numbers in pixels (a ``custom`` camera, y down, of the frame's size), or an :class:`Intrinsics`.
        width, height: the frame size in pixels.
    Raises:
        ValueError: naming the spec when it is none of these, or the camera does not fit (see
            :func:`validate_intrinsics`).
    """
    if isinstance(spec, Intrinsics):
        return validate_intrinsics(spec, width, height)
    if isinstance(spec, str) and spec.strip().lower() in CAMERAS:
        return validate_intrinsics(CAMERAS[spec.strip().lower()], width, height)
    parts = spec.split(",") if isinstance(spec, str) else spec
    try:
        values = [float(p) for p in parts]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4:
        raise ValueError(f"unknown camera {spec!r}: expected one of {sorted(CAMERAS)}, 'FX,FY,CX,CY' or four numbers "
                         "in pixels")
    return validate_intrinsics(Intrinsics("custom", *values, width=width, height=height, y_up=False), width, height)


def validate_intrinsics(camera: Intrinsics, width: int, height: int) -> Intrinsics:
    """Checks that ``camera`` can project frames of ``width x height`` pixels; returns it.

    Raises:
        ValueError: naming the camera when fx, fy, cx or cy (pixels) is not a finite number, a focal length is not
            positive, the principal point lies outside the frame, or the camera's frame size is not the frame's.
    """
    try:
        fx, fy, cx, cy = (float(v) for v in (camera.fx, camera.fy, camera.cx, camera.cy))
    except (TypeError, ValueError):
        fx = fy = cx = cy = float("nan")
    label = f"camera {camera.name!r} (fx, fy, cx, cy = {camera.fx}, {camera.fy}, {camera.cx}, {camera.cy} px)"
    if not np.all(np.isfinite([fx, fy, cx, cy])):
        raise ValueError(f"{label}: every value must be a finite number of pixels")
    if fx <= 0 or fy <= 0:
        raise ValueError(f"{label}: the focal lengths must be positive")
    if (camera.width, camera.height) != (width, height):
        raise ValueError(f"{label} takes {camera.width}x{camera.height} frames, got {width}x{height} frames")
    if not (0 <= cx <= width and 0 <= cy <= height):
        raise ValueError(f"{label}: the principal point lies outside the {width}x{height} frame")
    return camera


def _split(xp: Any, values: Any, intrinsics: Any):
    """Unstacks the last axis of ``values`` (3) and ``intrinsics`` (4) in namespace ``xp``."""
    a, b, c = (values[..., i] for i in range(3))
    fx, fy, cx, cy = (intrinsics[..., i] for i in range(4))
    if xp is not np:  # per-frame intrinsics (B, 4) against values (B, J, 3): add the joint axis
        rank = len(values.shape) - len(intrinsics.shape)
        fx, fy, cx, cy = (xp.reshape(t, xp.concat([xp.shape(t), [1] * rank], 0)) for t in (fx, fy, cx, cy))
    return a, b, c, fx, fy, cx, cy


def _flip_y(xp: Any, y_up: Any, y: Any) -> Any:
    """``y`` (y-down convention) in the camera's convention: negated where ``y_up``, a Python bool or a boolean
    tensor (one per frame)."""
    if isinstance(y_up, (bool, np.bool_)):
        return -y if y_up else y
    return xp.where(y_up, -y, y)


def _uvd_to_xyz(xp: Any, uvd: Any, intrinsics: Any, y_up: Any) -> Any:
    u, v, d, fx, fy, cx, cy = _split(xp, uvd, intrinsics)
    return xp.stack([(u - cx) * d / fx, _flip_y(xp, y_up, v - cy) * d / fy, d], -1)


def _xyz_to_uvd(xp: Any, xyz: Any, intrinsics: Any, y_up: Any) -> Any:
    x, y, z, fx, fy, cx, cy = _split(xp, xyz, intrinsics)
    return xp.stack([cx + x * fx / z, cy + _flip_y(xp, y_up, y) * fy / z, z], -1)


def tf_uvd_to_xyz(uvd, intrinsics, y_up=False):
    """TF op: ``(B, ..., 3)`` pixels/mm to camera mm, with per-frame ``intrinsics`` ``(B, 4)`` = fx, fy, cx, cy;
    ``y_up`` a bool or a boolean tensor broadcasting against ``(B, ...)``."""
    import tensorflow as tf

    return _uvd_to_xyz(tf, uvd, tf.cast(intrinsics, uvd.dtype), y_up)


def tf_xyz_to_uvd(xyz, intrinsics, y_up=False):
    """TF op: ``(B, ..., 3)`` camera mm to pixels/mm, with per-frame ``intrinsics`` ``(B, 4)`` = fx, fy, cx, cy;
    ``y_up`` a bool or a boolean tensor broadcasting against ``(B, ...)``."""
    import tensorflow as tf

    return _xyz_to_uvd(tf, xyz, tf.cast(intrinsics, xyz.dtype), y_up)
