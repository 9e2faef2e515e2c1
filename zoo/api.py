"""The inference API: a loaded loop that takes depth frames in mm and returns joints in mm and pixels."""

from __future__ import annotations

import dataclasses

import numpy as np

from handloop.zoo.camera import get_intrinsics
from handloop.zoo.config import LoopConfig
from handloop.zoo.preprocess import check_hand, validate_depth


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


def frame_batch(depth_mm, config: LoopConfig) -> np.ndarray:
    """One ``(H, W)`` frame or a ``(B, H, W)`` batch (a trailing channel of 1 allowed) as a ``(B, H, W)`` array,
    without copying an array passed in; the pixels are checked chunk by chunk as they are predicted.

    Raises:
        ValueError: a shape other than the entry's frame size, or an empty batch.
    """
    depth = np.asarray(depth_mm)
    if depth.ndim in (3, 4) and depth.shape[-1] == 1 and depth.shape[-2:] != (config.height, config.width):
        depth = depth[..., 0]
    if depth.ndim == 2:
        depth = depth[None]
    if depth.ndim != 3 or depth.shape[1:] != (config.height, config.width):
        raise ValueError(f"expected depth frames of shape ({config.height}, {config.width}) or a batch of them, "
                         f"got {np.shape(depth_mm)}")
    if not len(depth):
        raise ValueError("no depth frames given: the batch is empty")
    return depth


def check_finite(outputs: dict[str, np.ndarray], source: str) -> None:
    """Raises ValueError naming ``source`` (the weights or artefact) when a loop output holds NaN or infinity, as a
    corrupt file gives: a non-finite pose is never returned."""
    bad = sorted(k for k, v in outputs.items() if v.dtype.kind == "f" and not np.isfinite(v).all())
    if bad:
        raise ValueError(f"non-finite output from {source} ({', '.join(bad)}): the file is likely corrupt")


DEFAULT_CAMERA = "synth"
"""The camera :meth:`HandPoseModel.predict` assumes when given none: the synthetic training data's (NYU's sensor,
y down, 640x480); an entry of another frame size needs its camera named."""

PREDICTION_OUTPUTS = ("joints_xyz", "joints_uvd", "iterations_xyz", "iterations_uvd", "center_uvd", "crop", "synth",
                      "object_rotation", "object_translation", "corners_xyz", "corners_uvd", "iterations_corners_xyz")
"""The loop outputs :meth:`HandPoseModel.predict` reads into a :class:`Prediction`."""


class HandPoseModel:
    """A feedback loop (hand, or hand-object) ready for inference: ``predict(depth_mm, intrinsics)`` on frames in mm."""

    max_batch: int | None = None
    """Largest batch one graph call takes (None: any); exported artefacts are built for batch 1."""

    def __init__(self, model, config: LoopConfig, name: str, source: str | None = None):
        """``source``: the weights file, for errors (default: the entry's name)."""
        import tensorflow as tf

        self.model, self.config, self.name = model, config, name
        self.source = source or f"zoo entry {name!r}"
        self._call = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)

    def run_graph(self, depth: np.ndarray, intrinsics: np.ndarray) -> dict[str, np.ndarray]:
        """One graph call: ``(B, H, W, 1)`` depth mm and ``(B, 4)`` intrinsics -> the loop's outputs as arrays."""
        return {k: np.asarray(v) for k, v in self._call({"depth": depth, "intrinsics": intrinsics}).items()}

    def predict(self, depth_mm, intrinsics=None, batch_size: int = 16) -> Prediction:
        """Estimates the hand pose in one frame ``(H, W)`` or a batch ``(B, H, W)`` of depth in mm (0 = missing).

        The batch is checked, stacked and run ``batch_size`` frames at a time, so memory stays at the input plus one
        chunk whatever the batch's length.

        Args:
            intrinsics: the camera: a name (``nyu``, ``icvl``, ``msra``, ``synth``), ``"FX,FY,CX,CY"`` or a tuple
                of those four numbers in pixels, a :class:`handloop.zoo.camera.Intrinsics`, or None for
                :data:`DEFAULT_CAMERA`; checked against the entry's frame size
                (:func:`handloop.zoo.camera.validate_intrinsics`).
            batch_size: frames per graph call, at least 1.
        Returns:
            :class:`Prediction` (without the batch axis when one 2-D frame went in): the loop graph's own outputs,
            its 3D in the camera's y convention.
        Raises:
            ValueError: a wrong shape, an empty batch, NaN / negative depth (naming the frame), a camera that does not
                fit, a ``batch_size`` below 1, or non-finite outputs (naming the weights or artefact: corrupt).
            NoHandError: naming the first frame without a hand-sized blob (:func:`handloop.zoo.preprocess.check_hand`).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of frames, at least 1, got {batch_size!r}")
        camera = get_intrinsics(DEFAULT_CAMERA if intrinsics is None else intrinsics, self.config.width,
                                self.config.height)
        depth_mm = np.asarray(depth_mm)
        frames, single = frame_batch(depth_mm, self.config), depth_mm.ndim == 2
        step = min(batch_size, self.max_batch or batch_size)
        outputs = []
        for start in range(0, len(frames), step):
            chunk = np.stack([validate_depth(d, f"depth frame {start + i}")
                              for i, d in enumerate(frames[start:start + step])])
            for i, depth in enumerate(chunk):
                check_hand(depth, camera, self.config.com_stride, f"depth frame {start + i}")
            out = self.run_graph(chunk[..., None], np.tile(camera.as_array(), (len(chunk), 1)))
            # keep what a Prediction holds: the full-frame images of a hand-object loop (``rendered``, ``merged``,
            # 2.4 MB per frame and iteration) would fill the memory on a long sequence
            out = {k: v for k, v in out.items() if k in PREDICTION_OUTPUTS}
            check_finite(out, self.source)
            outputs.append(out)
        out = {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}
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
