"""The inference API: a loaded loop that takes depth frames in mm and returns joints in mm and pixels."""

from __future__ import annotations

import dataclasses

import numpy as np

from handloop.zoo.camera import Intrinsics, get_intrinsics
from handloop.zoo.config import LoopConfig
from handloop.zoo.preprocess import DEPTH_MAX_MM, DEPTH_MIN_MM, NoHandError, validate_depth


@dataclasses.dataclass
class Prediction:
    """What :meth:`HandPoseModel.predict` returns; arrays have a leading batch axis unless one frame went in.

    Attributes:
        joints_xyz: ``(B, J, 3)`` camera mm, in the camera's own y convention.
        joints_uvd: ``(B, J, 3)`` pixels and mm.
        iterations_xyz: ``(B, N + 1, J, 3)`` camera mm after the predictor (0) and each updater iteration.
        iterations_uvd: the same in pixels and mm.
        center_uvd: ``(B, 3)`` the crop centre found by detection and the localizer.
        crop: ``(B, 128, 128)`` the normalised input crop.
        synth: ``(B, N, 128, 128)`` the image synthesized at each iteration.
        joint_set: name of the joint order.
        object_rotation: hand-object entries only (else None): ``(B, 3, 3)`` object -> camera rotation, in the
            camera's y convention (for a y-up camera, ``F R F`` with ``F = diag(1, -1, 1)``: the object frame's y
            is flipped with the camera's, so the rotation stays proper).
        object_translation: ``(B, 3)`` the object's centre in camera mm (camera's y convention), or None.
        corners_xyz: ``(B, 8, 3)`` the object's fitted box corners in camera mm (model corner order), or None.
        corners_uvd: the same in pixels and mm, or None.
        iterations_corners_xyz: ``(B, N + 1, 8, 3)`` the fitted corners in camera mm after the object predictor (0)
            and each iteration, or None.
    """

    joints_xyz: np.ndarray
    joints_uvd: np.ndarray
    iterations_xyz: np.ndarray
    iterations_uvd: np.ndarray
    center_uvd: np.ndarray
    crop: np.ndarray
    synth: np.ndarray
    joint_set: str
    object_rotation: np.ndarray | None = None
    object_translation: np.ndarray | None = None
    corners_xyz: np.ndarray | None = None
    corners_uvd: np.ndarray | None = None
    iterations_corners_xyz: np.ndarray | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict: joints in mm and pixels, per-iteration joints in mm, joint set; for hand-object
        entries also ``object_rotation``, ``object_translation_mm``, ``corners_xyz_mm`` and ``corners_uvd``."""
        result = {"joint_set": self.joint_set, "joints_xyz_mm": np.round(self.joints_xyz, 2).tolist(),
                  "joints_uvd": np.round(self.joints_uvd, 2).tolist(),
                  "iterations_xyz_mm": np.round(self.iterations_xyz, 2).tolist()}
        if self.object_rotation is not None:
            result.update(object_rotation=np.round(self.object_rotation, 5).tolist(),
                          object_translation_mm=np.round(self.object_translation, 2).tolist(),
                          corners_xyz_mm=np.round(self.corners_xyz, 2).tolist(),
                          corners_uvd=np.round(self.corners_uvd, 2).tolist())
        return result


def check_frames(depth_mm, config: LoopConfig) -> np.ndarray:
    """Validates one ``(H, W)`` frame or a ``(B, H, W)`` batch in mm; returns ``(B, H, W)`` float32.

    Raises:
        ValueError: a wrong shape or NaN / negative depth, naming the frame.
    """
    depth = np.asarray(depth_mm)
    if depth.ndim == 4 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim == 2:
        depth = depth[None]
    if depth.ndim != 3 or depth.shape[1:] != (config.height, config.width):
        raise ValueError(f"expected depth frames of shape ({config.height}, {config.width}) or a batch of them, "
                         f"got {np.shape(depth_mm)}")
    return np.stack([validate_depth(d, f"depth frame {i}") for i, d in enumerate(depth)])


PREDICTION_OUTPUTS = ("joints_xyz", "joints_uvd", "iterations_xyz", "iterations_uvd", "hand_found", "center_uvd",
                      "crop", "synth", "object_rotation", "object_translation", "corners_xyz", "corners_uvd",
                      "iterations_corners_xyz")
"""The loop outputs :meth:`HandPoseModel.predict` reads into a :class:`Prediction`."""


class HandPoseModel:
    """A feedback loop (hand, or hand-object) ready for inference: ``predict(depth_mm, intrinsics)`` on frames in mm."""

    max_batch: int | None = None
    """Largest batch one graph call takes (None: any); exported artefacts are built for batch 1."""

    def __init__(self, model, config: LoopConfig, name: str):
        import tensorflow as tf

        self.model, self.config, self.name = model, config, name
        self._call = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def run_graph(self, depth: np.ndarray, intrinsics: np.ndarray) -> dict[str, np.ndarray]:
        """One graph call: ``(B, H, W, 1)`` depth mm and ``(B, 4)`` intrinsics -> the loop's outputs as arrays."""
        return {k: np.asarray(v) for k, v in self._call({"depth": depth, "intrinsics": intrinsics}).items()}

    def predict(self, depth_mm, intrinsics: str | Intrinsics = "synth", batch_size: int = 16) -> Prediction:
        """Estimates the hand pose in one frame ``(H, W)`` or a batch ``(B, H, W)`` of depth in mm (0 = missing).

        Args:
            intrinsics: the camera: a name (``nyu``, ``icvl``, ``msra``, ``synth``), ``"FX,FY,CX,CY"`` or
                :class:`handloop.zoo.camera.Intrinsics`.
            batch_size: frames per graph call.
        Returns:
            :class:`Prediction` (without the batch axis when one 2-D frame went in): the loop graph's own outputs,
            its 3D in the camera's y convention.
        Raises:
            ValueError: a wrong shape or NaN / negative depth, naming the frame.
            NoHandError: naming the first frame in which the loop's detection found no depth where a hand can be.
        """
        single = np.ndim(depth_mm) == 2
        camera = get_intrinsics(intrinsics, self.config.width, self.config.height)
        frames = check_frames(depth_mm, self.config)
        batch_size = min(batch_size, self.max_batch or batch_size)
        outputs = []
        for start in range(0, len(frames), batch_size):
            chunk = frames[start:start + batch_size]
            out = self.run_graph(chunk[..., None], np.tile(camera.as_array(), (len(chunk), 1)))
            # keep what a Prediction holds: the full-frame images of a hand-object loop (``rendered``, ``merged``,
            # 2.4 MB per frame and iteration) would fill the memory on a long sequence
            outputs.append({k: v for k, v in out.items() if k in PREDICTION_OUTPUTS})
        out = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
        missing = np.flatnonzero(out["hand_found"] == 0)
        if len(missing):
            raise NoHandError(f"no hand found in depth frame {missing[0]}: no pixel between {DEPTH_MIN_MM:g} and "
                              f"{DEPTH_MAX_MM:g} mm")
        axes = camera.axes  # the graph's OpenCV axes -> the camera's y convention
        result = Prediction(
            joints_xyz=out["joints_xyz"] @ axes, joints_uvd=out["joints_uvd"],
            iterations_xyz=out["iterations_xyz"] @ axes, iterations_uvd=out["iterations_uvd"],
            center_uvd=out["center_uvd"], crop=out["crop"][..., 0], synth=out["synth"][..., 0],
            joint_set=self.config.joint_set)
        if self.config.object:
            result = dataclasses.replace(
                result, object_rotation=axes @ out["object_rotation"] @ axes,
                object_translation=out["object_translation"] @ axes, corners_uvd=out["corners_uvd"],
                corners_xyz=out["corners_xyz"] @ axes, iterations_corners_xyz=out["iterations_corners_xyz"] @ axes)
        if single:
            result = Prediction(**{k: v[0] if isinstance(v, np.ndarray) else v
                                   for k, v in dataclasses.asdict(result).items()})
        return result
