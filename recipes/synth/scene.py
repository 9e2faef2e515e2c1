"""Synthetic frames: a subject's hand in a sampled pose, optionally holding an object, ray-cast in batches and
degraded by the sensor model.

A frame is first sampled in numpy (:func:`sample_scene`: pose, placement, object, the pixel window to render), then
a batch of scenes is ray-cast together (:func:`render_scenes`): the rays of every frame's window are laid end to
end and cast in fixed-size chunks by one XLA-compiled function, each ray looking up its own frame's primitives.
Only the window the hand (clipped to a crop cube around it) and the object project to gets rays. With probability
``wall_prob`` a background wall lies behind the hand so hand detection meets a real problem.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from handloop.recipes.records import Frame
from handloop.recipes.synth.hand import HandShape, forward_kinematics, hand_point_cloud, hand_primitives
from handloop.recipes.synth.placement import place_object
from handloop.recipes.synth.poses import sample_articulation, sample_position, sample_rotation
from handloop.recipes.synth.sensor import SensorConfig, apply_sensor
from handloop.zoo import render
from handloop.zoo.camera import Intrinsics
from handloop.zoo.joints import TIPS
from handloop.zoo.objects import OBJECT_KINDS, ObjectModel
from handloop.zoo.preprocess import center_of_mass


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """What a synthetic frame shows.

    Attributes:
        cube_mm: crop cube side (and the extent of the rendered hand window around the hand), mm.
        wall_prob: probability of a background wall 150-600 mm behind the hand.
        sensor: the sensor's flaws.
    """

    cube_mm: float = 300.0
    wall_prob: float = 0.3
    sensor: SensorConfig = SensorConfig()


@dataclasses.dataclass
class Scene:
    """One sampled frame before rendering (camera mm, y down).

    Attributes:
        joints: ``(21, 3)`` MSRA-21 joints.
        capsules, ellipsoids: the hand's primitives (:func:`handloop.recipes.synth.hand.hand_primitives`).
        window: ``(x0, y0, x1, y1)`` pixels to render.
        subject: subject id.
        model, rotation, translation: the held object (None without one), object -> camera, centre mm.
        wall_mm: depth of the background wall on the optical axis (None without one), mm.
        wall_normal: ``(3,)`` unit normal of the wall.
    """

    joints: np.ndarray
    capsules: tuple
    ellipsoids: tuple
    window: tuple[int, int, int, int]
    subject: int
    model: ObjectModel | None = None
    rotation: np.ndarray | None = None
    translation: np.ndarray | None = None
    wall_mm: float | None = None
    wall_normal: np.ndarray | None = None


CHUNK = 32768
"""Rays cast per call of the compiled caster (one shape, so it compiles once)."""
BATCH = 32
"""Frames whose primitives one call sees (scenes are rendered in groups of this size)."""


def cube_window(center_xyz: np.ndarray, cube: float, intrinsics: Intrinsics) -> tuple[int, int, int, int]:
    """Pixel window (x0, y0, x1, y1), clipped to the frame, that a cube around ``center_xyz`` (y down) covers."""
    u, v, z = intrinsics.xyz_to_uvd(center_xyz)
    hu, hv = cube / 2 * intrinsics.fx / (z - cube / 2), cube / 2 * intrinsics.fy / (z - cube / 2)
    x0, x1 = int(max(0, np.floor(u - hu))), int(min(intrinsics.width, np.ceil(u + hu)))
    y0, y1 = int(max(0, np.floor(v - hv))), int(min(intrinsics.height, np.ceil(v + hv)))
    return x0, y0, x1, y1


def _sphere_box(points: np.ndarray, radii: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Pixel box (x0, y0, x1, y1) holding the projections of spheres (camera mm, y down) of ``radii`` mm."""
    uvd = intrinsics.xyz_to_uvd(points)
    reach = radii * max(intrinsics.fx, intrinsics.fy) / np.maximum(uvd[:, 2] - radii, 50.0) + 2
    low = np.floor((uvd[:, :2] - reach[:, None]).min(0))
    high = np.ceil((uvd[:, :2] + reach[:, None]).max(0))
    return np.concatenate([low, high]).astype(int)


def _window(scene_capsules, model, translation, center, config: SceneConfig, intrinsics: Intrinsics):
    """The pixels to render: the hand (within the crop cube around ``center``) and the whole object."""
    starts, ends, radii = scene_capsules
    hand = _sphere_box(np.concatenate([starts, ends]), np.concatenate([radii, radii]), intrinsics)
    limit = cube_window(center, config.cube_mm, intrinsics)
    box = [max(limit[0], hand[0]), max(limit[1], hand[1]), min(limit[2], hand[2]), min(limit[3], hand[3])]
    if model is not None:
        obj = _sphere_box(translation[None], np.array([np.linalg.norm(model.size_mm) / 2]), intrinsics)
        box = [min(box[0], obj[0]), min(box[1], obj[1]), max(box[2], obj[2]), max(box[3], obj[3])]
    return (max(0, box[0]), max(0, box[1]), min(intrinsics.width, box[2]), min(intrinsics.height, box[3]))


def sample_scene(rng: np.random.Generator, shape: HandShape, subject: int, intrinsics: Intrinsics,
                 config: SceneConfig, model: ObjectModel | None = None) -> Scene:
    """Samples a pose (and an object placement) for ``shape`` whose joints all project inside the frame.

    Raises:
        RuntimeError: when 50 draws all leave the frame (an impossible camera for a hand 300-800 mm away).
    """
    for _ in range(50):
        articulation, _ = sample_articulation(rng)
        local = forward_kinematics(shape, articulation)
        position = sample_position(rng, intrinsics)
        joints = (local - local[5]) @ sample_rotation(rng).T + position
        uvd = intrinsics.xyz_to_uvd(joints)
        inside = (uvd[:, :2].min() >= 2 and uvd[:, 0].max() <= intrinsics.width - 3
                  and uvd[:, 1].max() <= intrinsics.height - 3 and joints[:, 2].min() > 150)
        if inside:
            break
    else:
        raise RuntimeError(f"could not place a hand inside the {intrinsics.width}x{intrinsics.height} frame "
                           "in 50 draws")
    capsules, ellipsoids = hand_primitives(shape, joints)
    scene = Scene(joints, capsules, ellipsoids, (0, 0, 0, 0), subject)
    if model is not None:
        scene.model = model
        scene.rotation, scene.translation = place_object(rng, model, joints, hand_point_cloud(capsules, ellipsoids))
    scene.window = _window(capsules, scene.model, scene.translation, position, config, intrinsics)
    if rng.uniform() < config.wall_prob:
        normal = np.array([rng.normal(0, 0.3), rng.normal(0, 0.3), 1.0])
        scene.wall_normal = normal / np.linalg.norm(normal)
        scene.wall_mm = position[2] + rng.uniform(150, 600)
    return scene


def _cast(pixels, frame, slots, intrinsics, starts, ends, radii, centers, axes, semi_axes, rotation, translation,
          size, object_kind: str | None):
    """Nearest surface depth (mm, inf = miss) of ``(C, 2)`` pixels of frames ``frame`` ``(C,)`` of a batch.

    Hand primitives are ``(B, P, ...)`` per frame; each ray tests only the capsules ``slots`` ``(C, K)`` (indices
    into its frame's P, -1 for an empty slot). Every ray of the call may meet an object of ``object_kind`` (a
    Python str of OBJECT_KINDS, or None when none of them can): ``rotation`` ``(B, 3, 3)``, ``translation``
    ``(B, 3)`` mm, ``size`` ``(B, 3)`` mm per frame.
    """
    rays = render.ray_directions(pixels[:, 0:1], pixels[:, 1:2], tf.gather(intrinsics, frame))

    def per_ray(x):
        return tf.gather(x, frame)

    capsule = tf.stack([frame[:, None] + tf.zeros_like(slots), tf.maximum(slots, 0)], -1)
    hit = render.capsules(rays, tf.gather_nd(starts, capsule), tf.gather_nd(ends, capsule),
                          tf.gather_nd(radii, capsule))
    hit = tf.where(slots[..., None] >= 0, hit, render.MISS)
    hand = render.nearest(hit, render.ellipsoids(rays, per_ray(centers), per_ray(axes), per_ray(semi_axes)))[:, 0]
    if object_kind is None:
        return hand
    obj = render.object_depth(object_kind, rays, per_ray(size), per_ray(rotation), per_ray(translation))
    return tf.minimum(hand, obj[:, 0, 0])


@functools.lru_cache(maxsize=None)
def _caster(width: int, object_kind: str | None, batch: tuple[tf.TensorSpec, ...]):
    """The XLA-compiled :func:`_cast` for :data:`CHUNK` rays with ``width`` capsule slots, an object kind and the
    batch's primitives ``batch`` (specs of :func:`_stack`'s arrays), traced once.

    It is a concrete function of the 13 tensors only, ``object_kind`` closed over: a call skips tf.function's
    trace lookup (about 0.2 ms of a ~9 ms cast). Were ``object_kind`` a parameter, every call would first fail
    to bind the tensors (formatting them all into the error message) and then fall back to the flat signature.
    """

    def cast(*tensors):
        return _cast(*tensors, object_kind=object_kind)

    rays = [tf.TensorSpec((CHUNK, 2), tf.float32), tf.TensorSpec((CHUNK,), tf.int32),
            tf.TensorSpec((CHUNK, width), tf.int32)]
    return tf.function(cast, jit_compile=True).get_concrete_function(*rays, *batch)


def _stack(scenes: list[Scene], intrinsics: Intrinsics) -> list[np.ndarray]:
    """The batch's primitives as float32 arrays padded to :data:`BATCH` frames (inputs of :func:`_cast`)."""
    pad = BATCH - len(scenes)

    def stacked(values, dtype=np.float32):
        array = np.stack(values).astype(dtype)
        return np.concatenate([array, np.zeros((pad, *array.shape[1:]), dtype)]) if pad else array

    eye = np.eye(3)
    return [
        stacked([intrinsics.as_array()] * len(scenes)),
        *(stacked([s.capsules[i] for s in scenes]) for i in range(3)),
        *(stacked([s.ellipsoids[i] for s in scenes]) for i in range(3)),
        stacked([s.rotation if s.model else eye for s in scenes]),
        stacked([s.translation if s.model else np.zeros(3) for s in scenes]),
        stacked([s.model.size_mm if s.model else np.ones(3) for s in scenes]),
    ]


TILE = 16
"""Side (pixels) of the tiles a window is cut into; tiles no primitive can reach get no rays."""
SLOT_STEP = 8
"""Capsule slots per ray come in multiples of this (each width compiles the caster once)."""


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2D distances ``(N, P)`` from ``points`` ``(N, 2)`` to segments ``a -> b`` ``(P, 2)``."""
    ab = b - a
    t = np.clip(((points[:, None] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0.0, 1.0)
    return np.linalg.norm(points[:, None] - (a + t[..., None] * ab), axis=-1)


def _clip_near(p: np.ndarray, q: np.ndarray, near: float) -> np.ndarray:
    """Ends ``p`` of segments ``p -> q`` ``(N, 3)`` mm, those nearer than ``near`` mm moved along the segment onto
    z = ``near`` (so they project)."""
    s = (q[:, 2] - near) / np.maximum(q[:, 2] - p[:, 2], 1e-9)
    return np.where((p[:, 2] < near)[:, None], q + (p - q) * s[:, None], p)


def _covered_pixels(scene: Scene, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of the window's tiles that a primitive's projection may touch, and the capsules each may meet.

    Each capsule (its segment clipped to z >= 50 mm) projects inside a band of ``radius * f / (z - radius)`` pixels
    around its projected segment, the palm and the object inside circles around their projected centres.

    Returns:
        ``xs``, ``ys`` ``(N,)`` pixel coordinates, ``tiles`` ``(N,)`` the tile of each pixel, ``slots``
        ``(T, P)`` int32 capsule indices per tile, those that may be hit first, -1 for the others, and
        ``(T,)`` whether the object may be hit in the tile.
    """
    x0, y0, x1, y1 = scene.window
    ty, tx = np.mgrid[y0:y1:TILE, x0:x1:TILE]
    centres = np.stack([tx.ravel(), ty.ravel()], -1) + TILE / 2
    starts, ends, radii = scene.capsules
    centers = [scene.ellipsoids[0][0]]
    spans = [scene.ellipsoids[2][0].max()]
    if scene.model is not None:
        centers.append(scene.translation)
        spans.append(np.linalg.norm(scene.model.size_mm) / 2)
    near = 50.0
    a, b = _clip_near(starts, ends, near), _clip_near(ends, starts, near)
    ua, ub = intrinsics.xyz_to_uvd(a), intrinsics.xyz_to_uvd(b)
    focal = max(intrinsics.fx, intrinsics.fy)
    reach = radii * focal / np.maximum(np.minimum(ua[:, 2], ub[:, 2]) - radii, near)
    uc = intrinsics.xyz_to_uvd(np.array(centers))
    spans = np.array(spans)
    reach_c = spans * focal / np.maximum(uc[:, 2] - spans, near)
    slack = TILE / np.sqrt(2) + 1
    caps = _segment_distance(centres, ua[:, :2], ub[:, :2]) <= reach + slack
    circles = np.linalg.norm(centres[:, None] - uc[None, :, :2], axis=-1) <= reach_c + slack
    hit = caps.any(1) | circles.any(1)
    order = np.argsort(~caps[hit], axis=1, kind="stable")
    slots = np.where(np.take_along_axis(caps[hit], order, 1), order, -1).astype(np.int32)
    oy, ox = np.mgrid[0:TILE, 0:TILE]
    xs = (tx.ravel()[hit, None] + ox.ravel()).ravel()
    ys = (ty.ravel()[hit, None] + oy.ravel()).ravel()
    tiles = np.repeat(np.arange(len(slots), dtype=np.int32), TILE * TILE)
    keep = (xs < x1) & (ys < y1)
    return xs[keep], ys[keep], tiles[keep], slots, circles[hit, 1:].any(1)


def render_scenes(scenes: list[Scene], intrinsics: Intrinsics) -> list[np.ndarray]:
    """Ray-casts up to :data:`BATCH` scenes; returns each one's clean window depth ``(y1-y0, x1-x0)`` mm, inf where
    nothing is hit."""
    if len(scenes) > BATCH:
        raise ValueError(f"render_scenes takes at most {BATCH} scenes, got {len(scenes)}")
    covered = [_covered_pixels(scene, intrinsics) for scene in scenes]
    pixels = np.concatenate([np.stack([xs, ys], -1) for xs, ys, *_ in covered], dtype=np.float32)
    frames = np.concatenate([np.full(len(xs), i, np.int32) for i, (xs, *_) in enumerate(covered)])
    offsets = np.cumsum([0] + [len(c[3]) for c in covered])
    tiles = np.concatenate([c[2] + offset for c, offset in zip(covered, offsets)])
    slots = np.concatenate([c[3] for c in covered])
    kinds = [OBJECT_KINDS.index(scene.model.kind) + 1 if scene.model else 0 for scene in scenes]
    kind = np.concatenate([c[4] * k for c, k in zip(covered, kinds)])  # per tile; 0: no object can be met
    inputs = [tf.constant(x) for x in _stack(scenes, intrinsics)]
    batch = tuple(tf.TensorSpec.from_tensor(x) for x in inputs)
    # Rays are cast in groups by how many capsules they may meet (each group with just that many slots) and by
    # the kind of object they may meet. Every tile keeps its top-left pixel, so the tiles' groups are the rays'.
    width = -(-np.maximum((slots >= 0).sum(1), 1) // SLOT_STEP) * SLOT_STEP
    tile_groups = width * 4 + kind
    groups = tile_groups[tiles]
    depth = np.empty(len(frames), np.float32)
    for key in np.unique(tile_groups):
        rays = np.flatnonzero(groups == key)
        padded = -(-len(rays) // CHUNK) * CHUNK
        rays = np.concatenate([rays, np.full(padded - len(rays), rays[0])])
        object_kind = OBJECT_KINDS[key % 4 - 1] if key % 4 else None
        slot_count = min(int(key // 4), slots.shape[1])
        cast = _caster(slot_count, object_kind, batch)
        for i in range(0, padded, CHUNK):
            chunk = rays[i:i + CHUNK]
            # take(): a row gather several times faster than fancy indexing of a 2-D array
            chunk_inputs = (pixels.take(chunk, 0), frames[chunk], slots[:, :slot_count].take(tiles[chunk], 0))
            depth[chunk] = cast(*(tf.constant(x) for x in chunk_inputs), *inputs).numpy()
    windows, start = [], 0
    for scene, (xs, ys, *_) in zip(scenes, covered):
        x0, y0, x1, y1 = scene.window
        window = np.full((y1 - y0, x1 - x0), np.inf, np.float32)
        window[ys - y0, xs - x0] = depth[start:start + len(xs)]
        windows.append(window)
        start += len(xs)
    return windows


def _wall(intrinsics: Intrinsics, window, distance_mm: float, normal: np.ndarray) -> np.ndarray:
    """Depth (mm, inf = miss) over ``window`` of the plane through (0, 0, ``distance_mm``) with ``normal``."""
    x0, y0, x1, y1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1]
    rays = np.stack([(xs - intrinsics.cx) / intrinsics.fx, (ys - intrinsics.cy) / intrinsics.fy, np.ones(xs.shape)], -1)
    t = distance_mm * normal[2] / np.maximum(rays @ normal, 1e-6)
    return np.where(t > 0, t, np.inf)


def _visible(points: np.ndarray, clean: np.ndarray, window, intrinsics: Intrinsics, tolerance_mm: float) -> np.ndarray:
    """1 where the ray to each point ``(N, 3)`` mm meets nothing nearer than its depth minus ``tolerance_mm``."""
    x0, y0, x1, y1 = window
    uvd = intrinsics.xyz_to_uvd(points)
    u, v = np.rint(uvd[:, 0]).astype(int), np.rint(uvd[:, 1]).astype(int)
    inside = (u >= x0) & (u < x1) & (v >= y0) & (v < y1)
    seen = np.zeros(len(points), np.float32)
    d = clean[v[inside] - y0, u[inside] - x0]
    seen[inside] = (d >= uvd[inside, 2] - tolerance_mm).astype(np.float32)
    return seen


def finish_frame(scene: Scene, clean: np.ndarray, rng: np.random.Generator, intrinsics: Intrinsics,
                 config: SceneConfig) -> Frame:
    """Adds the wall and the sensor's flaws to a rendered window and assembles the labelled :class:`Frame`.

    Raises:
        NoHandError: when the sensor left no depth pixel (cannot happen for a hand 300-800 mm away).
    """
    # A tip joint lies inside its finger, up to ~10 mm behind the skin the camera sees: allow 20 mm.
    tips = _visible(scene.joints[list(TIPS)], clean, scene.window, intrinsics, 20.0)
    depth = clean
    if scene.wall_mm is not None:
        depth = np.minimum(depth, _wall(intrinsics, scene.window, scene.wall_mm, scene.wall_normal))
    depth = apply_sensor(np.where(np.isfinite(depth), depth, 0.0), rng, config.sensor)
    frame = np.zeros((intrinsics.height, intrinsics.width), np.float32)
    x0, y0, x1, y1 = scene.window
    frame[y0:y1, x0:x1] = depth
    com = center_of_mass(depth, intrinsics, config.cube_mm, origin=(x0, y0))
    labels = {}
    if scene.model is not None:
        corners = scene.model.corners() @ scene.rotation.T + scene.translation
        keypoints = corners[list(scene.model.keypoints)]
        labels = dict(object_name=scene.model.name, object_rotation=scene.rotation.astype(np.float32),
                      object_translation=scene.translation.astype(np.float32),
                      corners_xyz=corners.astype(np.float32),
                      corner_visibility=_visible(keypoints, clean, scene.window, intrinsics, 5.0))
    return Frame(frame, intrinsics, scene.joints.astype(np.float32), "msra21", config.cube_mm, com, scene.subject,
                 tip_visibility=tips, **labels)
