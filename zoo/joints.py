"""Joint sets: names, skeleton bones, finger groups, and the mappings from the MSRA-21 hand to other sets.

The synthetic hand is native MSRA-21 (wrist; index, middle, ring, pinky as MCP, PIP, DIP, tip; thumb as CMC, MCP,
IP, tip). NYU-14 and ICVL-16 are produced from it by a linear map (each target joint an affine combination of
MSRA joints, rows summing to 1), so a pose in one set converts to another with one matrix product.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FINGER_COLOURS = {
    "thumb": "#e6194b",
    "index": "#f58231",
    "middle": "#ffe119",
    "ring": "#3cb44b",
    "pinky": "#4363d8",
    "palm": "#ffffff",
}
"""Colour per finger used by every overlay."""


@dataclasses.dataclass(frozen=True)
class JointSet:
    """A joint order: joint names, bones as (parent, child) index pairs, and the finger each bone belongs to."""

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    bone_fingers: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of joints."""
        return len(self.joints)


def _msra21() -> JointSet:
    names = ["wrist"]
    bones, fingers = [], []
    for finger, parts in (
        ("index", ("mcp", "pip", "dip", "tip")),
        ("middle", ("mcp", "pip", "dip", "tip")),
        ("ring", ("mcp", "pip", "dip", "tip")),
        ("pinky", ("mcp", "pip", "dip", "tip")),
        ("thumb", ("cmc", "mcp", "ip", "tip")),
    ):
        start = len(names)
        names += [f"{finger}_{p}" for p in parts]
        chain = [0] + list(range(start, start + 4))
        bones += list(zip(chain[:-1], chain[1:]))
        fingers += [finger] * 4
    return JointSet("msra21", tuple(names), tuple(bones), tuple(fingers))


MSRA21 = _msra21()

TIPS = tuple(i for i, name in enumerate(MSRA21.joints) if name.endswith("_tip"))
"""MSRA-21 indices of the fingertips (index, middle, ring, pinky, thumb): the joints eq. 23 scores and the order
of a frame's ``tip_visibility``."""

NYU14 = JointSet(
    "nyu14",
    (
        "pinky_tip", "pinky_mid", "ring_tip", "ring_mid", "middle_tip", "middle_mid", "index_tip", "index_mid",
        "thumb_tip", "thumb_mid", "thumb_base", "wrist_1", "wrist_2", "palm",
    ),
    ((0, 1), (1, 13), (2, 3), (3, 13), (4, 5), (5, 13), (6, 7), (7, 13), (8, 9), (9, 10), (10, 13), (11, 13),
     (12, 13)),
    ("pinky", "pinky", "ring", "ring", "middle", "middle", "index", "index", "thumb", "thumb", "thumb", "palm", "palm"),
)
"""The 14 evaluated NYU joints, indices [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32] of its 36."""

ICVL16 = JointSet(
    "icvl16",
    ("palm", "thumb_1", "thumb_2", "thumb_3", "index_1", "index_2", "index_3", "middle_1", "middle_2", "middle_3",
     "ring_1", "ring_2", "ring_3", "pinky_1", "pinky_2", "pinky_3"),
    tuple((p, c) for base in range(1, 16, 3) for p, c in ((0, base), (base, base + 1), (base + 1, base + 2))),
    tuple(f for f in ("thumb", "index", "middle", "ring", "pinky") for _ in range(3)),
)
"""ICVL's 16 joints: palm, then thumb, index, middle, ring, pinky with 3 joints each."""

JOINT_SETS = {s.name: s for s in (MSRA21, NYU14, ICVL16)}


def get_joint_set(name: str) -> JointSet:
    """Returns the joint set called ``name``; raises ValueError naming the known ones otherwise."""
    if name not in JOINT_SETS:
        raise ValueError(f"unknown joint set {name!r}: expected one of {sorted(JOINT_SETS)}")
    return JOINT_SETS[name]


def _matrix(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.zeros((len(rows), MSRA21.size))
    for i, row in enumerate(rows):
        for joint, weight in row.items():
            out[i, MSRA21.joints.index(joint)] = weight
    return out


def _lerp(a: str, b: str, t: float) -> dict[str, float]:
    return {a: 1 - t, b: t}


MSRA21_TO = {
    "msra21": np.eye(MSRA21.size),
    "nyu14": _matrix([
        {"pinky_tip": 1}, {"pinky_pip": 1}, {"ring_tip": 1}, {"ring_pip": 1},
        {"middle_tip": 1}, {"middle_pip": 1}, {"index_tip": 1}, {"index_pip": 1},
        {"thumb_tip": 1}, {"thumb_ip": 1}, {"thumb_mcp": 1},
        # Fitted to the bone lengths of the NYU test labels (docs/synthhands.md): NYU's finger "mid" joints sit at
        # the PIP, its two wrist points ~20 mm proximal of the MSRA wrist and ~30 mm apart, its palm point 60 % of
        # the way from the wrist to the middle MCP.
        {"wrist": 1.22, "middle_mcp": -0.22, "index_mcp": 0.28, "pinky_mcp": -0.28},
        {"wrist": 1.22, "middle_mcp": -0.22, "index_mcp": -0.28, "pinky_mcp": 0.28},
        _lerp("wrist", "middle_mcp", 0.6),
    ]),
    "icvl16": _matrix([
        {"wrist": 1}, {"thumb_mcp": 1}, {"thumb_ip": 1}, {"thumb_tip": 1},
        *({f"{f}_mcp": 1} if k == 0 else {f"{f}_pip": 1} if k == 1 else {f"{f}_tip": 1}
          for f in ("index", "middle", "ring", "pinky") for k in range(3)),
    ]),
}
"""Affine maps (rows sum to 1) from MSRA-21 joints to each joint set: ``target = MSRA21_TO[name] @ msra21``."""


def convert_joints(joints_msra21: np.ndarray, target: str) -> np.ndarray:
    """Maps ``(..., 21, 3)`` MSRA-21 joints (any units) to ``(..., J, 3)`` joints of the set ``target``."""
    return np.einsum("tj,...jc->...tc", MSRA21_TO[get_joint_set(target).name], joints_msra21)
