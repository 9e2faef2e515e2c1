"""Pose sampling: joint angles (uniform within limits, or a grasp synergy with noise) and the hand's placement.

Global rotation covers the viewpoints of NYU and MSRA: yaw +-90 deg, pitch +-60 deg and any roll about the
viewing axis, starting from the palm facing the camera with the fingers up; the middle MCP lies 300-800 mm from
the camera, inside the central 60 % of the frame.
"""

from __future__ import annotations

import numpy as np

from handloop.recipes.synth.hand import LIMITS_DEG, HandPose

# Synergies as (finger [MCP flex, MCP abd, PIP flex] per finger, thumb [CMC flex, CMC abd, MCP, IP]) in degrees.
_OPEN = ([[0, 0, 0]] * 4, [0, 20, 0, 0])
SYNERGIES = {
    "open": _OPEN,
    "fist": ([[85, 0, 100]] * 4, [50, 30, 50, 60]),
    "pinch": ([[45, 0, 50], [10, 0, 10], [10, 0, 10], [10, 0, 10]], [36, 21, 20, 20]),
    "point": ([[0, 0, 0], [85, 0, 100], [85, 0, 100], [85, 0, 100]], [45, 25, 45, 50]),
    "tripod": ([[45, -5, 45], [45, 5, 45], [15, 0, 15], [15, 0, 15]], [45, 16, 26, 0]),
    "cylindrical": ([[55, 0, 65]] * 4, [20, 60, 20, 25]),
    "spherical": ([[35, -12, 40], [35, -4, 40], [35, 4, 40], [35, 12, 40]], [15, 65, 15, 20]),
    "opposition": ([[10, 0, 10], [10, 0, 10], [45, 0, 55], [60, 0, 70]], [80, 10, 0, 90]),
}
"""Grasp synergies: the hand poses people make most, sampled with noise around these angles (degrees)."""

_FINGER_LIMITS = np.radians([LIMITS_DEG["mcp_flex"], LIMITS_DEG["mcp_abd"], LIMITS_DEG["pip_flex"]])
_THUMB_LIMITS = np.radians([LIMITS_DEG[k] for k in ("cmc_flex", "cmc_abd", "tmcp_flex", "ip_flex")])


def _with_dip(fingers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Adds the coupled DIP flexion (2/3 of PIP, +-10 deg) as a fourth column."""
    dip = np.clip(fingers[:, 2] * 2 / 3 + rng.normal(0, np.radians(5), 4), np.radians(-5), np.radians(80))
    return np.concatenate([fingers, dip[:, None]], 1)


def sample_articulation(rng: np.random.Generator, uniform_share: float = 0.35) -> tuple[HandPose, str]:
    """Draws joint angles: uniform within the limits with probability ``uniform_share``, else a synergy with noise.

    Returns the pose and the name of what it was drawn from (``uniform`` or a synergy).
    """
    if rng.uniform() < uniform_share:
        fingers = rng.uniform(_FINGER_LIMITS[:, 0], _FINGER_LIMITS[:, 1], (4, 3))
        thumb = rng.uniform(_THUMB_LIMITS[:, 0], _THUMB_LIMITS[:, 1])
        kind = "uniform"
    else:
        kind = str(rng.choice(list(SYNERGIES)))
        finger_deg, thumb_deg = SYNERGIES[kind]
        fingers = np.radians(np.asarray(finger_deg, np.float64)) + rng.normal(0, np.radians(10), (4, 3))
        thumb = np.radians(np.asarray(thumb_deg, np.float64)) + rng.normal(0, np.radians(10), 4)
        fingers = np.clip(fingers, _FINGER_LIMITS[:, 0], _FINGER_LIMITS[:, 1])
        thumb = np.clip(thumb, _THUMB_LIMITS[:, 0], _THUMB_LIMITS[:, 1])
    return HandPose(_with_dip(fingers, rng), thumb), kind


def _rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (0, 2), (0, 1)][axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


FACING_CAMERA = np.array([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]])
"""Hand frame -> camera (y down): fingers up the image, palm (-z of the hand) towards the camera."""


def sample_rotation(rng: np.random.Generator) -> np.ndarray:
    """Hand -> camera rotation: yaw +-90 deg, pitch +-60 deg, roll any, applied to :data:`FACING_CAMERA`."""
    yaw, pitch = rng.uniform(-np.pi / 2, np.pi / 2), rng.uniform(-np.pi / 3, np.pi / 3)
    roll = rng.uniform(-np.pi, np.pi)
    return _rotation(2, roll) @ _rotation(0, pitch) @ _rotation(1, yaw) @ FACING_CAMERA


def sample_position(rng: np.random.Generator, intrinsics, near: float = 300.0, far: float = 800.0) -> np.ndarray:
    """Camera position (mm, y down) of the middle MCP: depth in [near, far], pixel in the central 60 % of the frame."""
    z = rng.uniform(near, far)
    u = rng.uniform(0.2, 0.8) * intrinsics.width
    v = rng.uniform(0.2, 0.8) * intrinsics.height
    return np.array([(u - intrinsics.cx) * z / intrinsics.fx, (v - intrinsics.cy) * z / intrinsics.fy, z])
