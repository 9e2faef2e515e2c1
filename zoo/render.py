"""Analytic depth rendering by ray casting, in TF ops over a batch (used by the generator and inside loops).

Rays leave the camera centre through pixel coordinates ``(u, v)``: direction ``((u - cx)/fx, (v - cy)/fy, 1)``
in OpenCV camera axes (y down), mm. Every primitive returns, per ray, the depth ``z`` of its nearest surface in
front of the camera, or ``inf`` where the ray misses; scenes compose by pixel-wise minimum. Shapes:
``B`` frames, ``P`` primitives of a kind per frame, ``R`` rays per frame.

:func:`render_object` renders one known object model over any set of pixels (a window, the full frame, or the
pixels a spatial-transformer crop samples); it is plain TF math, differentiable where rays hit and exportable.
"""

from __future__ import annotations

import tensorflow as tf

from handloop.zoo.objects import OBJECT_KINDS

MISS = float("inf")


def ray_directions(u, v, intrinsics):
    """``(B, R)`` pixel coordinates -> ``(B, R, 3)`` ray directions with unit z component."""
    fx, fy, cx, cy = (intrinsics[:, i, None] for i in range(4))
    return tf.stack([(u - cx) / fx, (v - cy) / fy, tf.ones_like(u)], -1)


def _dot(a, b):
    return tf.reduce_sum(a * b, -1)


def _nearest_root(a, b, c):
    """Smaller root ``t`` of ``a t^2 + 2 b t + c = 0`` where real and positive, else inf."""
    disc = b * b - a * c
    hit = (disc >= 0) & (a > 1e-12)
    # Safe values where missed, so gradients stay finite (no 0 * inf through the unselected branch).
    t = (-b - tf.sqrt(tf.where(hit, disc, 1.0))) / tf.where(hit, a, 1.0)
    return tf.where(hit & (t > 0), t, MISS)


def spheres(rays, centers, radii):
    """Depth of spheres: ``rays`` ``(B, R, 3)``, ``centers`` ``(B, P, 3)`` mm, ``radii`` ``(B, P)`` -> ``(B, P, R)``."""
    d = rays[:, None]
    c = centers[:, :, None]
    return _nearest_root(_dot(d, d), -_dot(d, c), _dot(c, c) - radii[..., None] ** 2)


def capsules(rays, starts, ends, radii):
    """Depth of capsules (segment ``starts`` -> ``ends``, ``(B, P, 3)`` mm, ``radii`` ``(B, P)``): ``(B, P, R)``.

    A capsule is the union of its cylinder body and two end spheres; the nearest hit of the union is the minimum.
    """
    d = rays[:, None]
    axis = (ends - starts)[:, :, None]
    origin = -starts[:, :, None]  # camera centre relative to the segment start
    length2 = _dot(axis, axis)
    a_d, a_o = _dot(axis, d), _dot(axis, origin)
    qa = length2 * _dot(d, d) - a_d**2
    qb = length2 * _dot(d, origin) - a_o * a_d
    qc = length2 * _dot(origin, origin) - a_o**2 - radii[..., None] ** 2 * length2
    body = _nearest_root(qa, qb, qc)
    along = a_o + body * a_d
    body = tf.where((along > 0) & (along < length2), body, MISS)
    return tf.minimum(body, tf.minimum(spheres(rays, starts, radii), spheres(rays, ends, radii)))


def _to_local(rays, rotations, centers):
    """Ray directions ``(B, P, R, 3)`` and origins ``(B, P, 1, 3)`` in each primitive's frame."""
    d = tf.einsum("bpji,brj->bpri", rotations, rays)
    o = tf.einsum("bpji,bpj->bpi", rotations, -centers)[:, :, None]
    return d, o


def ellipsoids(rays, centers, rotations, radii):
    """Depth of ellipsoids: centres ``(B, P, 3)`` mm, rotations ``(B, P, 3, 3)`` (local -> camera), semi-axes
    ``(B, P, 3)`` mm -> ``(B, P, R)``."""
    d, o = _to_local(rays, rotations, centers)
    scale = radii[:, :, None]
    d, o = d / scale, o / scale
    return _nearest_root(_dot(d, d), _dot(d, o), _dot(o, o) - 1.0)


def boxes(rays, centers, rotations, half_sizes):
    """Depth of boxes by the slab method: half extents ``(B, P, 3)`` mm along the local axes."""
    d, o = _to_local(rays, rotations, centers)
    d = tf.where(tf.abs(d) < 1e-9, 1e-9, d)
    h = half_sizes[:, :, None]
    t1, t2 = (-h - o) / d, (h - o) / d
    near = tf.reduce_max(tf.minimum(t1, t2), -1)
    far = tf.reduce_min(tf.maximum(t1, t2), -1)
    return tf.where((far >= near) & (near > 0), near, MISS)


def cylinders(rays, centers, rotations, radii, half_heights):
    """Depth of closed cylinders along their local z: radii and half heights ``(B, P)`` mm."""
    d, o = _to_local(rays, rotations, centers)
    r2 = radii[..., None] ** 2
    h = half_heights[..., None]
    side = _nearest_root(_dot(d[..., :2], d[..., :2]), _dot(d[..., :2], o[..., :2]), _dot(o[..., :2], o[..., :2]) - r2)
    side = tf.where(tf.abs(o[..., 2] + side * d[..., 2]) <= h, side, MISS)
    dz = tf.where(tf.abs(d[..., 2]) < 1e-9, 1e-9, d[..., 2])
    caps = MISS
    for plane in (-h, h):
        t = (plane - o[..., 2]) / dz
        p = o[..., :2] + t[..., None] * d[..., :2]
        caps = tf.minimum(caps, tf.where((t > 0) & (_dot(p, p) <= r2), t, MISS))
    return tf.minimum(side, caps)


def nearest(*depths):
    """Pixel-wise minimum over primitives and kinds: each ``(B, P, R)`` -> ``(B, R)`` (inf where nothing is hit)."""
    return tf.reduce_min(tf.concat(depths, axis=1), axis=1)


def finite_depth(t):
    """Ray parameter ``t`` ``(B, R)`` -> depth in mm with 0 where missed (rays have unit z, so ``t`` is ``z``).

    Written as a select on ``is_inf`` with a zero tensor: tf2onnx lowers ``where(is_finite(t), t, 0)`` to a
    multiply-add, which turns ``inf * 0`` into NaN in ONNX Runtime.
    """
    return tf.where(tf.math.is_inf(t), tf.zeros_like(t), t)


def object_depth(kind: str, rays, size_mm, rotation, translation):
    """Ray parameter (inf = miss) ``(B, 1, R)`` of one object per frame of ``kind`` (see :func:`render_object`).

    ``size_mm`` is one ``(3,)`` size for every frame or ``(B, 3)``, one per frame; the generator and the loop's
    renderer both cast objects through this function.
    """
    batch = tf.shape(translation)[0]
    size = tf.broadcast_to(tf.cast(tf.convert_to_tensor(size_mm), tf.float32), [batch, 3])[:, None]
    centers, rotations = translation[:, None], rotation[:, None]
    if kind == "box":
        return boxes(rays, centers, rotations, size / 2)
    if kind == "cylinder":
        return cylinders(rays, centers, rotations, size[..., 0] / 2, size[..., 2] / 2)
    return spheres(rays, centers, size[..., 0] / 2)


def render_object(kind: str, size_mm, rotation, translation, u, v, intrinsics):
    """Renders one object per frame by ray casting.

    Args:
        kind: ``"box"``, ``"cylinder"`` or ``"sphere"``.
        size_mm: 3 numbers, mm: box full extents along its local x, y, z; cylinder (diameter, diameter, height
            along local z); sphere (diameter,) * 3.
        rotation: ``(B, 3, 3)`` object -> camera rotation.
        translation: ``(B, 3)`` object centre in camera mm (OpenCV axes, y down).
        u, v: pixel coordinates of the rays to cast, ``(B, H', W')`` or broadcasting to it (columns and rows).
        intrinsics: ``(B, 4)`` fx, fy, cx, cy in pixels.
    Returns:
        ``(B, H', W')`` float32 depth z in mm, 0 where the ray misses the object.
    Raises:
        ValueError: for an unknown ``kind`` or a ``size_mm`` that is not 3 positive numbers.
    """
    if kind not in OBJECT_KINDS:
        raise ValueError(f"unknown object kind {kind!r}: expected one of {OBJECT_KINDS}")
    if isinstance(size_mm, (list, tuple)) and (len(size_mm) != 3 or min(size_mm) <= 0):
        raise ValueError(f"size_mm must be 3 positive numbers in mm, got {size_mm!r}")
    u, v = tf.cast(u, tf.float32), tf.cast(v, tf.float32)
    shape = tf.broadcast_dynamic_shape(tf.shape(u), tf.shape(v))
    u, v = tf.broadcast_to(u, shape), tf.broadcast_to(v, shape)
    flat_u, flat_v = tf.reshape(u, [shape[0], -1]), tf.reshape(v, [shape[0], -1])
    rays = ray_directions(flat_u, flat_v, tf.cast(intrinsics, tf.float32))
    t = object_depth(kind, rays, size_mm, tf.cast(rotation, tf.float32), tf.cast(translation, tf.float32))
    return tf.reshape(finite_depth(t[:, 0]), shape)
