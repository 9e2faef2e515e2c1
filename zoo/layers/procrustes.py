"""Orthogonal Procrustes in arithmetic-only TF ops: predicted box corners -> object rotation and translation.

Horn's quaternion method: the rotation that best maps the model points onto the observed ones (least squares) is
the unit quaternion that maximises ``q^T N q``, with ``N`` the 4x4 symmetric matrix built from the 3x3
cross-covariance. Its leading eigenvector is found by repeated squaring of ``N / ||N|| + I`` (power iteration
with ``2**SQUARINGS`` steps), so only matmul, reductions and arithmetic are used: no SVD or eigen-solver, which
neither TFLite's builtins nor ONNX have. A unit quaternion is always a proper rotation, so the result is the
determinant-corrected SVD solution ``V diag(1, 1, det(V U^T)) U^T``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from handloop.zoo.camera import tf_uvd_to_xyz

SQUARINGS = 12
"""Squarings of the shifted 4x4 matrix: power iteration with 4096 steps (converges unless the points are collinear)."""


def _horn_matrix(s):
    """``(B, 3, 3)`` cross-covariance ``S[a, b] = sum_i model_ia point_ib`` -> Horn's ``(B, 4, 4)`` matrix."""
    sxx, sxy, sxz = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    syx, syy, syz = s[:, 1, 0], s[:, 1, 1], s[:, 1, 2]
    szx, szy, szz = s[:, 2, 0], s[:, 2, 1], s[:, 2, 2]
    rows = [
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ]
    return tf.stack([tf.stack(row, -1) for row in rows], -2)


def quaternion_to_matrix(q):
    """``(B, 4)`` quaternions (w, x, y, z), any norm -> ``(B, 3, 3)`` rotation matrices."""
    q = q / tf.norm(q, axis=-1, keepdims=True)
    w, x, y, z = (q[:, i] for i in range(4))
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return tf.stack([tf.stack(row, -1) for row in rows], -2)


def procrustes(model_points, points):
    """Rigid transform (no scale) taking ``model_points`` onto ``points`` in least squares.

    Args:
        model_points: ``(P, 3)`` points in the object frame, mm (P >= 3, not collinear).
        points: ``(B, P, 3)`` the same points observed in camera mm.
    Returns:
        ``(rotation (B, 3, 3), translation (B, 3))`` with ``points ~ model_points @ rotation^T + translation``.
    """
    model = tf.cast(tf.convert_to_tensor(model_points), points.dtype)
    model_mean = tf.reduce_mean(model, 0)
    mean = tf.reduce_mean(points, 1)
    centered = points - mean[:, None]
    s = tf.einsum("pa,bpc->bac", model - model_mean, centered)
    n = _horn_matrix(s)
    n = n / (tf.sqrt(tf.reduce_sum(n * n, axis=[1, 2]))[:, None, None] + 1e-12)
    eye = tf.eye(4, dtype=points.dtype)[None]

    def diagonal(x):  # (B, 4); not tf.linalg.diag_part / trace, which TFLite has no builtin for
        return tf.reduce_sum(x * eye, -1)

    m = n + eye  # eigenvalues of n lie in [-1, 1]: m is positive semi-definite
    for _ in range(SQUARINGS):
        m = tf.matmul(m, m)
        m = m / tf.reduce_sum(diagonal(m), -1)[:, None, None]
    # m ~ q q^T: take the column with the largest diagonal entry (|q_k| >= 1/2), which is q up to sign and scale
    pick = tf.one_hot(tf.argmax(diagonal(m), axis=-1), 4, dtype=points.dtype)
    rotation = quaternion_to_matrix(tf.reduce_sum(m * pick[:, None, :], -1))
    translation = mean - tf.einsum("bij,j->bi", rotation, model_mean)
    return rotation, translation


def fit_rigid(model_points, points):
    """:func:`procrustes`, plus the model points moved by the fit: ``(rotation, translation, (B, P, 3) mm)``."""
    rotation, translation = procrustes(model_points, points)
    model = tf.cast(tf.convert_to_tensor(model_points), points.dtype)
    return rotation, translation, tf.einsum("bij,pj->bpi", rotation, model) + translation[:, None]


@keras.saving.register_keras_serializable(package="handloop")
class FitObjectPose(keras.layers.Layer):
    """Fits an object's rigid pose to predicted box corners.

    Call with ``[corners (B, 8, 3) cube units around center_uvd, center_uvd (B, 3) pixels/mm, intrinsics (B, 4)]``;
    returns ``(rotation (B, 3, 3), translation (B, 3) mm, fitted corners (B, 8, 3) cube units)``, all in OpenCV
    camera axes (y down). ``model_corners`` ``(8, 3)`` mm are the object's box corners in its own frame.
    """

    def __init__(self, model_corners, cube: float, **kwargs):
        super().__init__(**kwargs)
        self.model_corners = np.asarray(model_corners, np.float32).tolist()
        self.cube = cube

    def call(self, corners, center_uvd, intrinsics):
        center = tf_uvd_to_xyz(center_uvd, intrinsics)[:, None]
        rotation, translation, fitted = fit_rigid(self.model_corners, corners * (self.cube / 2) + center)
        return rotation, translation, (fitted - center) / (self.cube / 2)

    def get_config(self):
        return {**super().get_config(), "model_corners": self.model_corners, "cube": self.cube}
