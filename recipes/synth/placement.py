"""Places a hand-held object near the fingers, never intersecting the hand.

The object takes a uniformly random rotation and starts at the grip point (between the fingertips and the
knuckles, plus noise, on the palm side); a position where the object, grown by a safety margin, contains any point
of the hand's point cloud (:func:`handloop.recipes.synth.hand.hand_point_cloud`) is rejected and the object moves away from
the palm along its normal in steps until it is free, then back towards the hand by halving steps while it stays
free. So the object ends touching the fingers or the palm, as a held object does (a path that is free from the
start keeps its random offset), and every call returns a valid placement.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from handloop.recipes.synth.hand import palm_axes
from handloop.zoo.joints import TIPS
from handloop.zoo.objects import ObjectModel


def intersects(model: ObjectModel, rotation: np.ndarray, translation: np.ndarray, points: np.ndarray,
               margin_mm: float = 0.0) -> bool:
    """Whether the object posed by ``rotation`` (3, 3) object -> camera and ``translation`` (3,) mm contains any of
    ``points`` ``(N, 3)`` camera mm, the object grown by ``margin_mm``."""
    local = (points - translation) @ rotation
    return bool(model.contains(local, margin_mm).any())


def place_object(rng: np.random.Generator, model: ObjectModel, joints: np.ndarray, cloud: np.ndarray,
                 margin_mm: float = 3.0, step_mm: float = 16.0) -> tuple[np.ndarray, np.ndarray]:
    """Draws a pose for ``model`` held by the hand with MSRA-21 ``joints`` (21, 3) and point ``cloud`` (N, 3), mm.

    Returns:
        ``(rotation (3, 3) object -> camera, translation (3,) object centre)`` in the joints' frame (mm), such
        that the object grown by ``margin_mm`` contains no cloud point.
    Raises:
        RuntimeError: if the object is still inside the cloud 1 m away from the palm (a malformed cloud).
    """
    palmar = -palm_axes(joints)[:, 2]
    grip = 0.5 * joints[list(TIPS)].mean(0) + 0.5 * joints[[1, 5, 9, 13]].mean(0)
    rotation = Rotation.random(random_state=rng).as_matrix()
    translation = grip + rng.normal(0.0, 10.0, 3)
    # Only points near the line the centre moves along can meet the object.
    offset = cloud - translation
    off_line = offset - (offset @ palmar)[:, None] * palmar
    cloud = cloud[np.linalg.norm(off_line, axis=1) <= np.linalg.norm(model.size_mm) / 2 + margin_mm]
    for _ in range(int(1000.0 / step_mm)):
        if not intersects(model, rotation, translation, cloud, margin_mm):
            break
        translation = translation + palmar * step_mm
    else:
        raise RuntimeError(f"could not free the {model.name} from the hand's point cloud within 1 m of the palm")
    # Halve the last step back towards the hand while that stays free: ends within step_mm / 8 of contact.
    step = step_mm
    for _ in range(3):
        step /= 2
        closer = translation - palmar * step
        if not intersects(model, rotation, closer, cloud, margin_mm):
            translation = closer
    return rotation, translation
