"""A kinematic hand: per-subject shape, joint-angle limits, forward kinematics to 21 MSRA-order joints, and the
capsules and ellipsoids that render it.

Hand frame (mm): origin at the wrist, x towards the thumb side (radial), y towards the fingers (distal), z out of
the back of the hand (dorsal); the palm faces -z. A right hand.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FINGERS = ("index", "middle", "ring", "pinky")

# Base geometry of an average adult hand, mm (ring MCP and thumb bones fitted to the NYU test labels).
_MCP = {"index": (24.0, 84.0, 0.0), "middle": (3.0, 89.0, 0.0), "ring": (-13.0, 77.0, 0.0), "pinky": (-33.0, 74.0, 0.0)}
_BONES = {"index": (40.0, 24.0, 20.0), "middle": (45.0, 28.0, 21.0), "ring": (42.0, 26.0, 20.0),
          "pinky": (33.0, 19.0, 18.0), "thumb": (46.0, 40.7, 22.0)}
_CMC = (20.0, 10.0, -15.0)
_RADIUS = {"index": 9.0, "middle": 9.5, "ring": 9.0, "pinky": 8.0, "thumb": 10.5}

LIMITS_DEG = {
    # finger: MCP flexion, MCP abduction, PIP flexion (DIP follows as 2/3 of PIP with 5 deg noise, -5..80)
    "mcp_flex": (-20.0, 100.0),
    "mcp_abd": (-25.0, 25.0),
    "pip_flex": (0.0, 110.0),
    # thumb: CMC flexion (across the palm), CMC abduction (away from the palm), MCP and IP flexion
    "cmc_flex": (-15.0, 80.0),
    "cmc_abd": (10.0, 80.0),
    "tmcp_flex": (0.0, 80.0),
    "ip_flex": (-10.0, 90.0),
}
"""Joint-angle limits of a real hand, degrees (flexion bends towards the palm)."""


@dataclasses.dataclass(frozen=True)
class HandShape:
    """A subject's hand: overall scale, per-bone length factors, thickness factors."""

    scale: float
    bone_factors: np.ndarray  # (5, 3): per finger (index..pinky, thumb) and bone
    finger_thickness: float
    palm_thickness: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "HandShape":
        """Draws a subject: scale 0.85-1.15, bone lengths +-8 %, thickness +-15 %."""
        return cls(scale=rng.uniform(0.85, 1.15), bone_factors=rng.uniform(0.92, 1.08, (5, 3)),
                   finger_thickness=rng.uniform(0.85, 1.15), palm_thickness=rng.uniform(0.85, 1.15))


@dataclasses.dataclass(frozen=True)
class HandPose:
    """Joint angles in radians: fingers ``(4, 4)`` [MCP flex, MCP abd, PIP flex, DIP flex] (index..pinky),
    thumb ``(4,)`` [CMC flex, CMC abd, MCP flex, IP flex]."""

    fingers: np.ndarray
    thumb: np.ndarray


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _chain(start, frame, lengths, flexions):
    """Walks a finger: each bone along the frame's y, flexing about x towards -z (palm). Returns (3, 3) joints."""
    points, p = [], np.asarray(start, np.float64)
    for length, flex in zip(lengths, flexions):
        frame = frame @ _rx(-flex)
        p = p + frame @ np.array([0.0, length, 0.0])
        points.append(p)
    return np.array(points)


def forward_kinematics(shape: HandShape, pose: HandPose) -> np.ndarray:
    """Joint positions ``(21, 3)`` in the hand frame, mm, MSRA order (wrist; index..pinky MCP,PIP,DIP,tip; thumb)."""
    joints = [np.zeros(3)]
    for i, finger in enumerate(FINGERS):
        mcp = np.array(_MCP[finger]) * shape.scale
        lengths = np.array(_BONES[finger]) * shape.bone_factors[i] * shape.scale
        flex, abd, pip, dip = pose.fingers[i]
        spread = np.radians((i - 1.5) * 6.0)  # fingers fan out slightly at rest
        frame = _rz(spread - abd)
        joints += [mcp, *_chain(mcp, frame, lengths, (flex, pip, dip))]
    cmc = np.array(_CMC) * shape.scale
    lengths = np.array(_BONES["thumb"]) * shape.bone_factors[4] * shape.scale
    cmc_flex, cmc_abd, mcp_flex, ip_flex = pose.thumb
    # At rest the thumb points 40 deg radially off the fingers; flexion swings it across the palm, abduction lifts
    # it palmar, off the palm's plane.
    frame = _rz(np.radians(-40.0) + cmc_flex) @ _rx(-cmc_abd)
    thumb = _chain(cmc, frame, lengths, (0.0, mcp_flex, ip_flex))
    joints += [cmc, *thumb]
    return np.array(joints)


def palm_axes(joints: np.ndarray) -> np.ndarray:
    """``(3, 3)`` columns radial, distal, dorsal (unit vectors) of the palm of MSRA-21 ``joints`` in any frame.

    Distal points from the wrist to the middle MCP, radial from the pinky MCP towards the index MCP, dorsal out of
    the back of the hand (the palm faces -dorsal).
    """
    distal = joints[5] - joints[0]
    distal = distal / np.linalg.norm(distal)
    radial = joints[1] - joints[13]
    radial = radial - distal * (radial @ distal)
    radial = radial / np.linalg.norm(radial)
    return np.stack([radial, distal, np.cross(radial, distal)], -1)


def _fibonacci_sphere(count: int) -> np.ndarray:
    """``(count, 3)`` nearly evenly spread unit vectors."""
    k = np.arange(count) + 0.5
    z = 1 - 2 * k / count
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def hand_point_cloud(capsules, ellipsoids, spacing_mm: float = 4.0) -> np.ndarray:
    """Points on the surface of the hand's capsules and ellipsoids (mm, the primitives' frame), ``spacing_mm`` apart.

    A capsule contributes rings around its axis every ``spacing_mm`` and a sphere at each end; an ellipsoid its
    surface and a half-size copy inside. Returns ``(N, 3)``.
    """
    points = []
    for start, end, radius in zip(*capsules):
        axis = end - start
        length = np.linalg.norm(axis)
        unit = axis / length
        side = np.cross(unit, [1.0, 0.0, 0.0] if abs(unit[0]) < 0.9 else [0.0, 1.0, 0.0])
        side /= np.linalg.norm(side)
        angles = np.linspace(0, 2 * np.pi, max(8, int(np.ceil(2 * np.pi * radius / spacing_mm))), endpoint=False)
        ring = radius * (np.cos(angles)[:, None] * side + np.sin(angles)[:, None] * np.cross(unit, side))
        along = np.linspace(0.0, 1.0, int(np.ceil(length / spacing_mm)) + 1)[:, None, None] * axis
        sphere = _fibonacci_sphere(max(16, int(4 * np.pi * radius**2 / spacing_mm**2))) * radius
        points += [(start + along + ring).reshape(-1, 3), start + sphere, end + sphere]
    for centre, axes, radii in zip(*ellipsoids):
        unit = _fibonacci_sphere(max(64, int(4 * np.pi * np.mean(radii) ** 2 / spacing_mm**2)))
        points += [centre + (unit * radii * shrink) @ axes.T for shrink in (1.0, 0.5)]
    return np.concatenate(points)


def hand_primitives(shape: HandShape, joints: np.ndarray, forearm_mm: float = 400.0):
    """Capsules and ellipsoids of a hand with its joints ``(21, 3)`` in any frame (rigidly placed), mm.

    Returns:
        ``(starts (P, 3), ends (P, 3), radii (P,))`` capsules (P = 21): the 12 finger bones, four palm rays from
        the wrist to the MCPs, the thenar (wrist to thumb CMC), the 3 thumb bones, and the forearm (long enough to
        leave the frame);
        ``(centers (E, 3), axes (E, 3, 3), radii (E, 3))`` ellipsoids: the palm.
    """
    t = shape.finger_thickness * shape.scale
    starts, ends, radii = [], [], []
    for i, finger in enumerate(FINGERS):
        base = 1 + 4 * i
        chain = joints[base:base + 4]
        r = _RADIUS[finger] * t
        for k in range(3):
            starts.append(chain[k])
            ends.append(chain[k + 1])
            radii.append(r * (1.0 - 0.08 * k))
        starts.append(joints[0])
        ends.append(chain[0])
        radii.append(11.0 * shape.palm_thickness * shape.scale)
    thumb = joints[17:21]
    starts.append(joints[0])  # the thenar eminence, wrist to thumb CMC
    ends.append(thumb[0])
    radii.append(14.0 * shape.palm_thickness * shape.scale)
    for k in range(3):
        starts.append(thumb[k])
        ends.append(thumb[k + 1])
        radii.append(_RADIUS["thumb"] * t * (1.15 - 0.1 * k))
    axes = palm_axes(joints)
    radial, distal = axes[:, 0], axes[:, 1]
    forearm_end = joints[0] - distal * forearm_mm
    starts.append(joints[0] - distal * 10.0)
    ends.append(forearm_end)
    radii.append(26.0 * shape.scale)
    palm_center = joints[0] + 0.55 * (joints[5] - joints[0]) + 2.0 * radial * shape.scale
    palm_radii = np.array([40.0, 48.0, 14.0 * shape.palm_thickness]) * shape.scale
    capsules = (np.array(starts), np.array(ends), np.array(radii))
    ellipsoids = (palm_center[None], axes[None], palm_radii[None])
    return capsules, ellipsoids
