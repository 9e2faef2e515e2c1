"""Known object models for hand-object loops: shape, size and the 3D bounding box whose corners are predicted.

Object frame: origin at the object's centre, axes along its extents (a cylinder's axis is local z), mm. The 8
bounding-box corners are ordered by the bits of their index: corner ``i`` has x sign ``+`` when bit 0 is set,
y sign ``+`` when bit 1 is set, z sign ``+`` when bit 2 is set (corner 0 is (-x, -y, -z), corner 7 is (+x, +y, +z)).
The 3 corner keypoints (evaluated like DexterHO's) are corners 1, 2 and 4, the neighbours of corner 0 along x, y
and z; with corner 0 they fix the object's pose.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

OBJECT_KINDS = ("box", "cylinder", "sphere")
"""Object shapes the ray caster (:func:`handloop.zoo.render.render_object`) draws."""


@dataclasses.dataclass(frozen=True)
class ObjectModel:
    """A rigid object: ``name``, ``kind`` (``box``, ``cylinder`` or ``sphere``) and ``size_mm``.

    ``size_mm`` holds full extents along the local x, y, z axes in mm: a box's sides; a cylinder's (diameter,
    diameter, height); a sphere's (diameter,) * 3.
    """

    name: str
    kind: str
    size_mm: tuple[float, float, float]

    keypoints = (1, 2, 4)
    """Indices into :meth:`corners` of the 3 corner keypoints."""

    def __post_init__(self):
        if self.kind not in OBJECT_KINDS:
            raise ValueError(f"object {self.name!r}: unknown kind {self.kind!r}, expected one of {OBJECT_KINDS}")
        if len(self.size_mm) != 3 or min(self.size_mm) <= 0:
            raise ValueError(f"object {self.name!r}: size_mm must be 3 positive numbers in mm, got {self.size_mm}")

    def corners(self) -> np.ndarray:
        """``(8, 3)`` float64 bounding-box corners in the object frame, mm, in the module's documented order."""
        bits = (np.arange(8)[:, None] >> np.arange(3)[None]) & 1
        return (2.0 * bits - 1.0) * np.asarray(self.size_mm, np.float64) / 2

    def symmetries(self) -> np.ndarray:
        """``(S, 8)`` corner permutations under the rotations that map the object's bounding box onto itself.

        Row ``s`` lists, for each corner, the corner it lands on: ``corners() @ R.T == corners()[perm]`` for a proper
        rotation ``R`` that permutes the box's axes (with signs) keeping its extents; row 0 is the identity. A box
        with three different sides has 4 (the half turns), one with a square section 8, a cube 24. Depth cannot
        tell these poses apart, so corner losses and errors take the best of them. (A cylinder's or sphere's
        continuous symmetry is only reduced to its bounding box's.)
        """
        corners, size = self.corners(), np.asarray(self.size_mm, np.float64)
        rows = []
        for axes in itertools.permutations(range(3)):
            for signs in itertools.product((1.0, -1.0), repeat=3):
                rotation = np.zeros((3, 3))
                rotation[range(3), axes] = signs
                if np.linalg.det(rotation) < 0 or not np.allclose(size[list(axes)], size):
                    continue
                moved = corners @ rotation.T
                rows.append(np.argmin(np.abs(moved[:, None] - corners[None]).sum(-1), axis=1))
        return np.asarray(rows, np.int64)

    def align(self, truth: np.ndarray, estimate: np.ndarray) -> np.ndarray:
        """The symmetric relabelling of ``truth`` corners ``(F, 8, 3)`` nearest to ``estimate`` ``(F, 8, 3)`` (mean
        corner distance), per frame: what corner errors are measured against (like ADD-S)."""
        candidates = truth[:, self.symmetries()]  # (F, S, 8, 3)
        distance = np.linalg.norm(candidates - estimate[:, None], axis=-1).mean(-1)
        return candidates[np.arange(len(truth)), distance.argmin(1)]

    def contains(self, points: np.ndarray, margin_mm: float = 0.0) -> np.ndarray:
        """Whether object-frame ``points`` ``(..., 3)`` mm lie inside the object grown by ``margin_mm``: ``(...)``."""
        half = np.asarray(self.size_mm, np.float64) / 2 + margin_mm
        if self.kind == "box":
            return np.all(np.abs(points) <= half, axis=-1)
        if self.kind == "cylinder":
            return (np.hypot(points[..., 0], points[..., 1]) <= half[0]) & (np.abs(points[..., 2]) <= half[2])
        return np.linalg.norm(points, axis=-1) <= half[0]


OBJECTS = {
    model.name: model
    for model in (
        ObjectModel("cuboid-large", "box", (60.0, 60.0, 90.0)),
        ObjectModel("cuboid-small", "box", (40.0, 40.0, 60.0)),
        ObjectModel("cylinder", "cylinder", (60.0, 60.0, 100.0)),
        ObjectModel("sphere", "sphere", (70.0, 70.0, 70.0)),
    )
}
"""The object models: two cuboids like DexterHO's large and small boxes, a can-sized cylinder, a ball."""


def get_object(name: str) -> ObjectModel:
    """Returns the object model called ``name``; raises ValueError naming the known ones otherwise."""
    if name not in OBJECTS:
        raise ValueError(f"unknown object {name!r}: expected one of {sorted(OBJECTS)}")
    return OBJECTS[name]
