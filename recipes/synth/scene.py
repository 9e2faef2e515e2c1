"""One synthetic frame: a subject's hand in a sampled pose, placed in front of the camera, ray-cast and degraded.

Only the window a crop cube around the hand projects to is rendered (everything else is empty), plus, with
probability ``wall_prob``, a background wall behind the hand so hand detection meets a real problem.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from recipes.records import Frame
from recipes.synth.hand import HandShape, forward_kinematics, hand_primitives
from recipes.synth.poses import sample_articulation, sample_position, sample_rotation
from recipes.synth.sensor import SensorConfig, apply_sensor
from zoo import render
from zoo.camera import Intrinsics
from zoo.preprocess import NoHandError, center_of_mass


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """What a synthetic frame shows.

    Attributes:
        cube_mm: crop cube side (and the rendered window's extent around the hand), mm.
        wall_prob: probability of a background wall 150-600 mm behind the hand.
        sensor: the sensor's flaws.
    """

    cube_mm: float = 300.0
    wall_prob: float = 0.3
    sensor: SensorConfig = SensorConfig()


RAY_BUCKET = 8192
"""Ray counts are padded to a multiple of this, so the XLA-compiled caster sees few distinct shapes."""


@tf.function(jit_compile=True)
def _cast(pixels, intrinsics, starts, ends, radii, centers, axes, semi_axes):
    """Nearest hand surface depth (mm, inf = miss) for ``(R, 2)`` pixel coordinates of one frame."""
    rays = render.ray_directions(pixels[None, :, 0], pixels[None, :, 1], intrinsics[None])
    t = render.nearest(render.capsules(rays, starts[None], ends[None], radii[None]),
                       render.ellipsoids(rays, centers[None], axes[None], semi_axes[None]))
    return t[0]


def render_window(intrinsics: Intrinsics, window: tuple[int, int, int, int], capsules, ellipsoids) -> np.ndarray:
    """Ray-casts hand primitives (camera mm) over the pixels of ``window`` (x0, y0, x1, y1); returns depth mm (inf = miss)."""
    x0, y0, x1, y1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1]
    count = xs.size
    padded = -(-count // RAY_BUCKET) * RAY_BUCKET
    pixels = np.zeros((padded, 2), np.float32)
    pixels[:count] = np.stack([xs.ravel(), ys.ravel()], -1)
    parts = [np.asarray(a, np.float32) for a in (*capsules, *ellipsoids)]
    t = _cast(pixels, intrinsics.as_array(), *parts).numpy()[:count]
    return t.reshape(y1 - y0, x1 - x0)


def cube_window(center_xyz: np.ndarray, cube: float, intrinsics: Intrinsics) -> tuple[int, int, int, int]:
    """Pixel window (x0, y0, x1, y1), clipped to the frame, that a cube around ``center_xyz`` (y down) covers."""
    u, v, z = intrinsics.xyz_to_uvd(center_xyz)
    hu, hv = cube / 2 * intrinsics.fx / (z - cube / 2), cube / 2 * intrinsics.fy / (z - cube / 2)
    x0, x1 = int(max(0, np.floor(u - hu))), int(min(intrinsics.width, np.ceil(u + hu)))
    y0, y1 = int(max(0, np.floor(v - hv))), int(min(intrinsics.height, np.ceil(v + hv)))
    return x0, y0, x1, y1


def _hand_window(capsules, limit, intrinsics: Intrinsics) -> tuple[int, int, int, int]:
    """The part of ``limit`` (x0, y0, x1, y1) the hand's capsules can project to (their end points +- radius)."""
    starts, ends, radii = capsules
    points = np.concatenate([starts, ends])
    margin = np.concatenate([radii, radii])
    uvd = intrinsics.xyz_to_uvd(points)
    reach = margin * intrinsics.fx / np.maximum(uvd[:, 2] - margin, 50.0) + 2
    x0, y0 = np.floor((uvd[:, :2] - reach[:, None]).min(0)).astype(int)
    x1, y1 = np.ceil((uvd[:, :2] + reach[:, None]).max(0)).astype(int)
    return max(limit[0], x0), max(limit[1], y0), min(limit[2], x1), min(limit[3], y1)


def _wall(intrinsics: Intrinsics, window, behind_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Depth (mm) of a tilted plane ``behind_mm`` behind the hand over ``window``."""
    x0, y0, x1, y1 = window
    normal = np.array([rng.normal(0, 0.3), rng.normal(0, 0.3), 1.0])
    normal /= np.linalg.norm(normal)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    rays = np.stack([(xs - intrinsics.cx) / intrinsics.fx, (ys - intrinsics.cy) / intrinsics.fy, np.ones(xs.shape)], -1)
    point = np.array([0.0, 0.0, behind_mm])
    t = (point @ normal) / np.maximum(rays @ normal, 1e-6)
    return np.where(t > 0, t, np.inf)


def render_frame(rng: np.random.Generator, shape: HandShape, intrinsics: Intrinsics, config: SceneConfig,
                 subject: int) -> Frame:
    """Samples a pose for the subject ``shape`` and renders one frame (joints MSRA-21, camera y down).

    Redraws the pose (up to 20 times) when the hand would be cut by the frame edge or hold no pixel.
    """
    for _ in range(20):
        articulation, _ = sample_articulation(rng)
        local = forward_kinematics(shape, articulation)
        rotation = sample_rotation(rng)
        position = sample_position(rng, intrinsics)
        joints = (local - local[5]) @ rotation.T + position
        uvd = intrinsics.xyz_to_uvd(joints)
        if (uvd[:, 0].min() < 2 or uvd[:, 1].min() < 2 or uvd[:, 0].max() > intrinsics.width - 3
                or uvd[:, 1].max() > intrinsics.height - 3 or joints[:, 2].min() < 150):
            continue
        capsules, ellipsoids = hand_primitives(shape, joints)
        window = _hand_window(capsules, cube_window(position, config.cube_mm, intrinsics), intrinsics)
        depth = render_window(intrinsics, window, capsules, ellipsoids)
        if rng.uniform() < config.wall_prob:
            depth = np.minimum(depth, _wall(intrinsics, window, position[2] + rng.uniform(150, 600), rng))
        depth = apply_sensor(np.where(np.isfinite(depth), depth, 0.0), rng, config.sensor)
        frame = np.zeros((intrinsics.height, intrinsics.width), np.float32)
        x0, y0, x1, y1 = window
        frame[y0:y1, x0:x1] = depth
        try:
            com = center_of_mass(frame, intrinsics, config.cube_mm)
        except NoHandError:
            continue
        return Frame(frame, intrinsics, joints.astype(np.float32), "msra21", config.cube_mm, com, subject)
    raise RuntimeError("could not place a hand inside the frame in 20 draws")
