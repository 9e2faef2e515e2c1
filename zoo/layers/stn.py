"""Spatial transformer crop (STN) and its inverse paste (ISTN) as TF ops and Keras layers.

The crop window of a cube of side ``cube`` mm centred at ``(cu, cv, cz)`` is projected through the camera
(eq. 16-18 of the paper): half-widths ``hu = cube / 2 * fx / cz``, ``hv = cube / 2 * fy / cz``. Crop pixel
``(x, y)`` of a ``size x size`` crop samples frame pixel ``u = cu - 0.5 + hu ((x + 0.5) 2 / size - 1)`` (and
likewise v), with bilinear weights; neighbours outside the image read a fill value. This is exactly
:func:`handloop.zoo.preprocess.crop_depth` and :func:`handloop.zoo.preprocess.crop_matrix`, in graph form: only gather, floor and
arithmetic, so it converts to builtin TFLite ops and to ONNX.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from handloop.zoo.layers.geometry import per_crop
from handloop.zoo.config import CROP_SIZE
from handloop.zoo.preprocess import INVALID_DEPTH_MM


def _half_extent(center_uvd, cube, intrinsics):
    """Half-widths ``(hu, hv)`` in pixels, each ``(B,)``, of the cube window; ``cube`` is ``(B,)`` mm."""
    cz = center_uvd[:, 2]
    return cube / 2 * intrinsics[:, 0] / cz, cube / 2 * intrinsics[:, 1] / cz


def bilinear_sample(image, x, y, fill, value_fn=None):
    """Samples ``image`` ``(B, H, W)`` at float pixel coordinates ``x``, ``y``, bilinearly.

    ``x`` and ``y`` are ``(B, ...)`` and broadcast against each other: an axis-aligned grid passes its columns
    ``(B, 1, S)`` and rows ``(B, S, 1)``, so the neighbours' indices, weights and bounds are computed per column
    and per row, not per sample. ``value_fn`` (optional) maps the gathered neighbour values before they are
    weighted, e.g. to normalise depth only where it is read. Neighbours outside the image contribute ``fill``
    (after ``value_fn``). Returns the broadcast shape of ``x`` and ``y``.
    """
    shape = tf.shape(image)
    batch, height, width = shape[0], shape[1], shape[2]
    flat = tf.reshape(image, [-1])

    def neighbours(coord, size):
        """(weight, clamped index, inside) of the lower and upper neighbour along one axis."""
        low = tf.floor(coord)
        frac = coord - low
        index = tf.cast(low, tf.int32)
        return [(weight, tf.clip_by_value(i, 0, size - 1), (i >= 0) & (i < size))
                for weight, i in ((1 - frac, index), (frac, index + 1))]

    base = per_crop(tf.range(batch) * height * width, max(len(x.shape), len(y.shape)))
    result = 0.0
    for wy, iy, in_y in neighbours(y, height):
        row = base + iy * width
        for wx, ix, in_x in neighbours(x, width):
            value = tf.gather(flat, row + ix)
            if value_fn is not None:
                value = value_fn(value)
            result += (wy * wx) * tf.where(in_y & in_x, value, tf.cast(fill, value.dtype))
    return result


def normalize_depth(depth_mm, center_z, cube):
    """TF op: depth ``(B, ...)`` mm to cube units around ``center_z`` ``(B,)``; missing depth and far side +1."""
    rank = len(depth_mm.shape)
    norm = tf.clip_by_value((depth_mm - per_crop(center_z, rank)) / per_crop(cube / 2, rank), -1.0, 1.0)
    missing = (depth_mm <= 0) | (depth_mm >= INVALID_DEPTH_MM)
    return tf.where(missing, tf.ones_like(norm), norm)


def crop_grid(center_uvd, cube, intrinsics, size: int = CROP_SIZE, rotation=None):
    """Frame pixel coordinates sampled by each crop pixel.

    Args:
        center_uvd: ``(B, 3)`` crop centres, pixels and mm.
        cube: ``(B,)`` cube sides in mm.
        intrinsics: ``(B, 4)`` fx, fy, cx, cy in pixels.
        size: crop side in pixels.
        rotation: optional ``(B,)`` in-plane angles in radians; the window turns by this angle about its centre,
            so the crop shows the frame turned by minus this angle (training augmentation).
    Returns:
        ``(u, v)`` float pixel coordinates of the frame: ``(B, size, size)`` each when rotated; without a
        rotation the columns ``u`` ``(B, 1, size)`` and the rows ``v`` ``(B, size, 1)``, which broadcast to the
        grid (see :func:`bilinear_sample`).
    """
    hu, hv = _half_extent(center_uvd, cube, intrinsics)
    steps = (tf.range(size, dtype=center_uvd.dtype) + 0.5) * 2 / size - 1  # in (-1, 1), exact in float32
    du = steps[None, None, :] * hu[:, None, None]
    dv = steps[None, :, None] * hv[:, None, None]
    if rotation is not None:
        cos, sin = tf.cos(rotation)[:, None, None], tf.sin(rotation)[:, None, None]
        du, dv = cos * du - sin * dv, sin * du + cos * dv
    return (center_uvd[:, 0] - 0.5)[:, None, None] + du, (center_uvd[:, 1] - 0.5)[:, None, None] + dv


def stn_crop(depth_mm, center_uvd, cube, intrinsics, size: int = CROP_SIZE, rotation=None):
    """Crops and normalises depth frames around 3D centres.

    Args:
        depth_mm: ``(B, H, W)`` depth in mm, 0 where missing.
        center_uvd, cube, intrinsics, size, rotation: as in :func:`crop_grid`.
    Returns:
        ``(B, size, size)`` normalised depth in [-1, 1] (cube units).
    """
    u, v = crop_grid(center_uvd, cube, intrinsics, size, rotation)
    return bilinear_sample(depth_mm, u, v, 1.0, lambda d: normalize_depth(d, center_uvd[:, 2], cube))


def frame_pixels(batch, height: int, width: int, dtype=tf.float32):
    """Pixel coordinates of ``(batch, height, width)`` frames: columns ``u`` ``(batch, 1, width)`` and rows ``v``
    ``(batch, height, 1)``, which broadcast to every pixel (as :func:`bilinear_sample` and
    :func:`handloop.zoo.render.render_object` take them).

    These are the coordinates the SynthHands generator casts its rays through, so an object rendered here equals
    the generator's rendering of the same pose.
    """
    u = tf.range(width, dtype=dtype)[None, None, :]
    v = tf.range(height, dtype=dtype)[None, :, None]
    return tf.broadcast_to(u, [batch, 1, width]), tf.broadcast_to(v, [batch, height, 1])


def crop_coordinates(u, v, center_uvd, cube, intrinsics, size: int = CROP_SIZE, rotation=None):
    """Inverse of :func:`crop_grid`: the crop pixel coordinates ``(x, y)`` at which frame pixels ``(u, v)`` lie.

    Args:
        u, v: ``(B, ...)`` frame pixel coordinates; center_uvd, cube, intrinsics, size, rotation: the crop's, as in
            :func:`crop_grid`.
    Returns:
        ``(x, y)``, each ``(B, ...)`` (column, row) float coordinates in the crop; outside ``[-0.5, size - 0.5]``
        where the frame pixel lies outside the crop window.
    """
    hu, hv = _half_extent(center_uvd, cube, intrinsics)
    rank = len(u.shape)
    du = u - per_crop(center_uvd[:, 0] - 0.5, rank)
    dv = v - per_crop(center_uvd[:, 1] - 0.5, rank)
    if rotation is not None:
        cos, sin = per_crop(tf.cos(rotation), rank), per_crop(tf.sin(rotation), rank)
        du, dv = cos * du + sin * dv, cos * dv - sin * du
    x = (du / per_crop(hu, rank) + 1) * (size / 2) - 0.5
    y = (dv / per_crop(hv, rank) + 1) * (size / 2) - 0.5
    return x, y


def istn_paste(crop, center_uvd, cube, intrinsics, height: int, width: int, fill: float):
    """Pastes ``(B, S, S)`` crops back into ``(B, height, width)`` frames (the inverse transformer).

    Frame pixel ``(u, v)`` reads the crop at :func:`crop_coordinates`, bilinearly; pixels outside the crop window
    read ``fill``. Values keep the crop's units.
    """
    u, v = frame_pixels(tf.shape(crop)[0], height, width, crop.dtype)
    x, y = crop_coordinates(u, v, center_uvd, cube, intrinsics, crop.shape[1])
    return bilinear_sample(crop, x, y, fill)


def _as_cube(cube, batch_like):
    """``cube`` as ``(B,)`` float: accepts a scalar, ``(B,)`` or ``(B, 1)``."""
    cube = tf.cast(cube, batch_like.dtype)
    return tf.reshape(cube, [-1]) * tf.ones([tf.shape(batch_like)[0]], batch_like.dtype)


@keras.saving.register_keras_serializable(package="handloop")
class STNCrop(keras.layers.Layer):
    """Keras layer: ``[depth_mm (B,H,W[,1]), center_uvd (B,3), cube (B,|B,1), intrinsics (B,4)]`` -> ``(B,S,S,1)``."""

    def __init__(self, size: int = CROP_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def call(self, depth_mm, center_uvd, cube, intrinsics):
        if len(depth_mm.shape) == 4:
            depth_mm = depth_mm[..., 0]
        crop = stn_crop(depth_mm, center_uvd, _as_cube(cube, center_uvd), intrinsics, self.size)
        return crop[..., None]

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="handloop")
class ISTNPaste(keras.layers.Layer):
    """Keras layer: ``[crop (B,S,S[,1]), center_uvd, cube, intrinsics]`` -> ``(B, height, width, 1)`` frame."""

    def __init__(self, height: int, width: int, fill: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.fill = height, width, fill

    def call(self, crop, center_uvd, cube, intrinsics):
        if len(crop.shape) == 4:
            crop = crop[..., 0]
        frame = istn_paste(crop, center_uvd, _as_cube(cube, center_uvd), intrinsics, self.height, self.width, self.fill)
        return frame[..., None]

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "fill": self.fill}
