"""The feedback loops as single Keras graphs (METHOD.md sections 1-2).

``build_hand_loop`` chains, in one functional model: hand detection (centre of mass), a spatial-transformer crop,
the localizer's re-centring on the reference joint, a second crop, the predictor, N x (synthesize, update), and
the map back to camera millimetres and pixels. Inputs are a depth frame in mm and the camera's intrinsics, so
the exported artefact needs nothing else. The sub-networks are nested models named ``localizer``, ``predictor``,
``synthesizer`` and ``updater``: ``loop.get_layer("updater")`` is the trained updater itself.
"""

from __future__ import annotations

import keras

from zoo import networks
from zoo.config import LoopConfig
from zoo.layers.geometry import CenterOfMass, OffsetCenter, PoseToCamera
from zoo.layers.stn import STNCrop

OUTPUTS = ("joints_xyz", "joints_uvd", "center_uvd", "crop", "poses", "synth")
"""Outputs of a hand loop, in order (see :func:`build_hand_loop`)."""


def build_networks(config: LoopConfig) -> dict[str, keras.Model]:
    """Builds the hand loop's four networks (random weights) from ``config``."""
    return {
        "localizer": networks.build_localizer(config.localizer, config.crop),
        "predictor": networks.build_predictor(config.predictor, config.num_joints, config.crop),
        "synthesizer": networks.build_synthesizer(config.synthesizer, config.num_joints),
        "updater": networks.build_updater(config.updater, config.num_joints, config.crop),
    }


def build_hand_loop(config: LoopConfig, nets: dict[str, keras.Model] | None = None, name: str = "hand_loop"):
    """Builds the hand feedback loop with ``config.iterations`` iterations.

    Args:
        config: the loop's geometry and networks.
        nets: trained networks to use (from :func:`build_networks`); fresh random ones when None.
    Returns:
        A Keras model: inputs ``depth`` ``(B, H, W, 1)`` float32 mm (0 = missing) and ``intrinsics`` ``(B, 4)``
        fx, fy, cx, cy in pixels; outputs a dict: ``joints_xyz`` ``(B, J, 3)`` mm in OpenCV camera axes (y down),
        ``joints_uvd`` ``(B, J, 3)`` pixels and mm, ``center_uvd`` ``(B, 3)`` the crop centre, ``crop``
        ``(B, 128, 128, 1)`` the normalised input crop, ``poses`` ``(B, N + 1, J, 3)`` the pose in cube units
        after the predictor (index 0) and each iteration, ``synth`` ``(B, max(N, 1), 128, 128, 1)`` the image
        synthesized at each iteration (for N = 0, the image of the predictor's pose).
    """
    nets = nets or build_networks(config)
    cube = config.cube_mm
    depth = keras.Input((config.height, config.width, 1), name="depth")
    intrinsics = keras.Input((4,), name="intrinsics")
    com = CenterOfMass(cube, name="center_of_mass")(depth, intrinsics)
    first = STNCrop(config.crop, name="com_crop")(depth, com, cube=cube, intrinsics=intrinsics)
    offset = nets["localizer"](first)
    center = OffsetCenter(cube, name="refined_center")(com, offset, intrinsics)
    crop = STNCrop(config.crop, name="crop")(depth, center, cube=cube, intrinsics=intrinsics)
    pose = nets["predictor"](crop)
    poses, images = [pose], []
    for i in range(1, config.iterations + 1):
        image = nets["synthesizer"](pose)
        pair = keras.layers.Concatenate(name=f"pair_{i}")([crop, image])
        pose = keras.layers.Add(name=f"pose_{i}")([pose, nets["updater"](pair)])
        poses.append(pose)
        images.append(image)
    if not images:
        images.append(nets["synthesizer"](pose))
    xyz, uvd = PoseToCamera(cube, name="to_camera")(pose, center, intrinsics)
    outputs = {
        "joints_xyz": xyz,
        "joints_uvd": uvd,
        "center_uvd": center,
        "crop": crop,
        "poses": keras.ops.stack(poses, axis=1),
        "synth": keras.ops.stack(images, axis=1),
    }
    return keras.Model({"depth": depth, "intrinsics": intrinsics}, outputs, name=name)
