"""The feedback loops as single Keras graphs (docs/method.md sections 1-2).

``build_hand_loop`` chains, in one functional model: hand detection (centre of mass), a spatial-transformer crop,
the localizer's re-centring on the reference joint, a second crop, the predictor, N x (synthesize, update), and
the map back to camera millimetres and pixels. ``build_hand_object_loop`` is Alg. 1 of the paper: hand and object
are located in a larger crop, each is predicted from its own crop, and each iteration composes the synthesized
hand and the rendered object in the frame before both updaters refine their own pose.

Inputs are a depth frame in mm and the camera's intrinsics, so the exported artefact needs nothing else. The
sub-networks are nested models named as in :data:`handloop.zoo.networks.NETWORKS`: ``loop.get_layer("updater")``
is the trained updater itself.
"""

from __future__ import annotations

import keras

from handloop.zoo import networks
from handloop.zoo.config import LoopConfig
from handloop.zoo.layers.geometry import CenterOfMass, OffsetCenter, PoseToCamera
from handloop.zoo.layers.merge import CubeToDepth, MinMerge
from handloop.zoo.layers.procrustes import FitObjectPose
from handloop.zoo.layers.render import RenderObject
from handloop.zoo.layers.stn import ISTNPaste, STNCrop
from handloop.zoo.objects import get_object

OUTPUTS = ("joints_xyz", "joints_uvd", "iterations_xyz", "iterations_uvd", "hand_found", "center_uvd", "crop",
           "poses", "synth")
"""Outputs of a hand loop (see :func:`build_hand_loop`)."""
OBJECT_OUTPUTS = OUTPUTS + ("scene_center_uvd", "object_center_uvd", "object_crop", "object_poses",
                            "object_rotations", "object_translations", "object_rotation", "object_translation",
                            "corners_xyz", "corners_uvd", "iterations_corners_xyz", "iterations_corners_uvd",
                            "rendered", "merged")
"""Outputs of a hand-object loop (see :func:`build_hand_object_loop`)."""


def network_names(config: LoopConfig) -> tuple[str, ...]:
    """Names of the networks of ``config``'s loop (the nested models' names), in training order
    (:func:`handloop.zoo.networks.loop_networks`)."""
    return networks.loop_networks(bool(config.object), config.iterations)


def build_network(config: LoopConfig, name: str) -> keras.Model:
    """Builds one of the loop's networks (random weights) by its name in :func:`network_names`.

    Raises:
        ValueError: naming the networks of ``config``'s loop when ``name`` is not one of them.
    """
    if name not in network_names(config):
        raise ValueError(f"{name!r} is not a network of this loop: expected one of {network_names(config)}")
    net = next(net for net in networks.NETWORKS if net.name == name)
    return net.build(getattr(config, net.config), config)


def build_networks(config: LoopConfig) -> dict[str, keras.Model]:
    """Builds the loop's networks (random weights) from ``config``: the hand's, and the object's when it has one."""
    return {name: build_network(config, name) for name in network_names(config)}


def build_loop(config: LoopConfig, nets: dict[str, keras.Model] | None = None) -> keras.Model:
    """The hand loop, or the hand-object loop when ``config.object`` names an object."""
    return build_hand_object_loop(config, nets) if config.object else build_hand_loop(config, nets)


def _camera_outputs(cube: float, poses, center, intrinsics, every: str, last: str, name: str) -> dict:
    """``{every}_xyz``, ``{every}_uvd``: ``poses`` ``(B, N + 1, P, 3)`` (cube units around ``center``) in camera mm
    and pixels; ``{last}_xyz``, ``{last}_uvd``: the last of them. ``name`` names the :class:`PoseToCamera` layer."""
    xyz, uvd = PoseToCamera(cube, name=name)(poses, center, intrinsics)
    return {f"{every}_xyz": xyz, f"{every}_uvd": uvd, f"{last}_xyz": xyz[:, -1], f"{last}_uvd": uvd[:, -1]}


def _found(com):
    """``(B,)`` float32 1 where the centre of mass ``com`` ``(B, 3)`` found depth (its depth is then above
    :data:`handloop.zoo.preprocess.DEPTH_MIN_MM`), else 0 (:func:`handloop.zoo.layers.geometry.center_of_mass`
    gives zeros)."""
    return keras.ops.cast(keras.ops.greater(com[:, 2], 0.0), "float32")


def _inputs(config: LoopConfig):
    depth = keras.Input((config.height, config.width, 1), name="depth")
    intrinsics = keras.Input((4,), name="intrinsics")
    return depth, intrinsics


def build_hand_loop(config: LoopConfig, nets: dict[str, keras.Model] | None = None, name: str = "hand_loop"):
    """Builds the hand feedback loop with ``config.iterations`` iterations.

    Args:
        config: the loop's geometry and networks.
        nets: trained networks to use (from :func:`build_networks`); fresh random ones when None.
    Returns:
        A Keras model: inputs ``depth`` ``(B, H, W, 1)`` float32 mm (0 = missing) and ``intrinsics`` ``(B, 4)``
        fx, fy, cx, cy in pixels; outputs a dict: ``joints_xyz`` ``(B, J, 3)`` mm in OpenCV camera axes (y down),
        ``joints_uvd`` ``(B, J, 3)`` pixels and mm, ``iterations_xyz`` and ``iterations_uvd`` ``(B, N + 1, J, 3)``
        the same after the predictor (index 0) and each iteration, ``hand_found`` ``(B,)`` 1 where the
        centre-of-mass detection found depth in the hand's range and 0 where it found none (the other outputs of
        that frame are then meaningless), ``center_uvd`` ``(B, 3)`` the crop centre, ``crop``
        ``(B, 128, 128, 1)`` the normalised input crop, ``poses`` ``(B, N + 1, J, 3)`` the pose in cube units
        after the predictor (index 0) and each iteration, ``synth`` ``(B, max(N, 1), 128, 128, 1)`` the image
        synthesized at each iteration (for N = 0, the image of the predictor's pose).
    """
    nets = nets or build_networks(config)
    cube = config.cube_mm
    depth, intrinsics = _inputs(config)
    com = CenterOfMass(cube, config.com_stride, name="center_of_mass")(depth, intrinsics)
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
    poses = keras.ops.stack(poses, axis=1)
    outputs = {**_camera_outputs(cube, poses, center, intrinsics, "iterations", "joints", "to_camera"),
               "hand_found": _found(com), "center_uvd": center, "crop": crop, "poses": poses,
               "synth": keras.ops.stack(images, axis=1)}
    return keras.Model({"depth": depth, "intrinsics": intrinsics}, outputs, name=name)


def build_hand_object_loop(config: LoopConfig, nets: dict[str, keras.Model] | None = None,
                           name: str = "hand_object_loop"):
    """Builds the hand-object feedback loop (Alg. 1) with ``config.iterations`` iterations.

    The combined centre of mass is cropped with ``config.scene_cube_mm``; ``localizer`` and ``object_localizer``
    find the hand's reference joint and the object's centroid in that crop (offsets in scene-cube units); each is
    then cropped with ``config.cube_mm`` around its located centre, which stays the centre of its crop and of its
    normalised pose for all iterations. ``predictor`` gives the hand pose, ``object_predictor`` the 8 box corners,
    to which the object model's corners are fitted rigidly (Procrustes). Each iteration pastes the synthesized
    hand into the frame (ISTN, back to mm) and ray-casts the object model in its current pose at every frame pixel
    (the renderer is analytic, so it needs no paste), merges them by pixel-wise minimum, crops the merged frame
    around each entity, and updates each pose from (its input crop, its merged crop); the object's updated corners
    are fitted rigidly again.

    Args:
        config: the loop's geometry and networks; ``config.object`` names a :data:`handloop.zoo.objects.OBJECTS` model.
        nets: trained networks (from :func:`build_networks`); fresh random ones when None.
    Returns:
        A Keras model with the inputs of :func:`build_hand_loop`; outputs a dict with the hand loop's outputs
        (``synth`` is ``(B, max(N, 1), 128, 128, 1)``) and: ``scene_center_uvd`` ``(B, 3)`` the combined centre of
        mass; ``object_center_uvd`` ``(B, 3)`` and ``object_crop`` ``(B, 128, 128, 1)`` the object's crop;
        ``object_poses`` ``(B, N + 1, 8, 3)`` the rigidly fitted corners in cube units around the object centre
        after the predictor and each iteration; ``object_rotations`` ``(B, N + 1, 3, 3)`` (object -> camera) and
        ``object_translations`` ``(B, N + 1, 3)`` mm of each; ``object_rotation``, ``object_translation`` the
        final ones; ``corners_xyz`` ``(B, 8, 3)`` mm and ``corners_uvd`` ``(B, 8, 3)`` the final corners, and
        ``iterations_corners_xyz``, ``iterations_corners_uvd`` ``(B, N + 1, 8, 3)`` the corners of each stage;
        ``rendered`` and ``merged`` ``(B, max(N, 1), H, W, 1)`` mm, the object's rendering and the composed
        frame each iteration was updated from. All 3D is in OpenCV camera axes (y down).
    """
    if not config.object:
        raise ValueError("a hand-object loop needs config.object, the name of an object model")
    model = get_object(config.object)
    nets = nets or build_networks(config)
    cube, scene_cube, size = config.cube_mm, config.scene_cube_mm, config.crop
    depth, intrinsics = _inputs(config)
    scene_center = CenterOfMass(scene_cube, config.com_stride, name="center_of_mass")(depth, intrinsics)
    scene = STNCrop(size, name="scene_crop")(depth, scene_center, cube=scene_cube, intrinsics=intrinsics)
    center = OffsetCenter(scene_cube, name="hand_center")(scene_center, nets["localizer"](scene), intrinsics)
    object_center = OffsetCenter(scene_cube, name="object_center")(
        scene_center, nets["object_localizer"](scene), intrinsics)
    crop = STNCrop(size, name="crop")(depth, center, cube=cube, intrinsics=intrinsics)
    object_crop = STNCrop(size, name="object_crop")(depth, object_center, cube=cube, intrinsics=intrinsics)
    fit = FitObjectPose(model.corners(), cube, name="fit_object_pose")
    paste = ISTNPaste(config.height, config.width, fill=1.0, name="paste_hand")
    to_mm = CubeToDepth(cube, name="hand_depth")
    render = RenderObject(config.object, config.height, config.width, name="render_object")
    merge = MinMerge(name="merge")
    recrop = STNCrop(size, name="merged_crop")

    pose = nets["predictor"](crop)
    rotation, translation, corners = fit(nets["object_predictor"](object_crop), object_center, intrinsics)
    trace = {key: [] for key in ("poses", "object_poses", "object_rotations", "object_translations", "synth",
                                 "rendered", "merged")}

    def record(**values):
        for key, value in values.items():
            trace[key].append(value)

    record(poses=pose, object_poses=corners, object_rotations=rotation, object_translations=translation)
    for i in range(1, max(config.iterations, 1) + 1):
        image = nets["synthesizer"](pose)
        hand_mm = to_mm(paste(image, center, cube=cube, intrinsics=intrinsics), center)
        rendered = render(rotation, translation, intrinsics)
        merged = merge([hand_mm, rendered])
        record(synth=image, rendered=rendered, merged=merged)
        if i > config.iterations:  # N = 0: only show the predictors' images
            break
        hand_pair = keras.layers.Concatenate(name=f"pair_{i}")(
            [crop, recrop(merged, center, cube=cube, intrinsics=intrinsics)])
        object_pair = keras.layers.Concatenate(name=f"object_pair_{i}")(
            [object_crop, recrop(merged, object_center, cube=cube, intrinsics=intrinsics)])
        pose = keras.layers.Add(name=f"pose_{i}")([pose, nets["updater"](hand_pair)])
        moved = keras.layers.Add(name=f"object_pose_{i}")([corners, nets["object_updater"](object_pair)])
        rotation, translation, corners = fit(moved, object_center, intrinsics)
        record(poses=pose, object_poses=corners, object_rotations=rotation, object_translations=translation)
    outputs = {key: keras.ops.stack(values, axis=1) for key, values in trace.items()}
    outputs.update({
        **_camera_outputs(cube, outputs["poses"], center, intrinsics, "iterations", "joints", "to_camera"),
        **_camera_outputs(cube, outputs["object_poses"], object_center, intrinsics, "iterations_corners", "corners",
                          "corners_to_camera"),
        "hand_found": _found(scene_center), "center_uvd": center, "crop": crop,
        "scene_center_uvd": scene_center, "object_center_uvd": object_center, "object_crop": object_crop,
        "object_rotation": rotation, "object_translation": translation,
    })
    return keras.Model({"depth": depth, "intrinsics": intrinsics}, {k: outputs[k] for k in OBJECT_OUTPUTS},
                       name=name)


DEPLOYED_OUTPUTS = ("joints_xyz", "joints_uvd", "iterations_xyz", "hand_found")
"""The outputs an application of a hand loop reads: the joints (mm, pixels), the joints of each stage, and whether
a hand was found."""


def deployed(loop: keras.Model, outputs: tuple[str, ...] = DEPLOYED_OUTPUTS) -> keras.Model:
    """``loop`` (shared weights) with only ``outputs``: Keras builds only what they need, so the predictor-only
    loop (N = 0) drops the synthesizer call that feeds nothing but its ``synth`` output, and N >= 1 loops skip
    stacking the crop, images and cube-unit poses. What the frontier and cost benchmarks time."""
    return keras.Model(loop.inputs, {key: loop.output[key] for key in outputs}, name=f"{loop.name}_deployed")
