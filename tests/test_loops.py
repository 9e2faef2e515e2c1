"""The hand loop as one graph: equals its networks run one by one, saves and reloads exactly, passes gradients."""

import numpy as np
import pytest
import tensorflow as tf

from handloop.zoo.camera import CAMERAS
from handloop.zoo.config import LoopConfig, LocalizerConfig, PredictorConfig, SynthesizerConfig, UpdaterConfig, lite, paper
from handloop.zoo.layers.geometry import center_of_mass
from handloop.zoo.layers.stn import stn_crop
from handloop.zoo.loops import build_hand_loop
from handloop.zoo import networks
from handloop.zoo.preprocess import center_of_mass as numpy_center_of_mass

SMALL = LoopConfig(
    height=120, width=160, iterations=2, cube_mm=250,
    localizer=LocalizerConfig(filters=(8, 8, 8), dense=(32,)),
    predictor=PredictorConfig(stem=8, stages=(32, 32, 32, 32), blocks=1, dense=(32,), bottleneck=8),
    synthesizer=SynthesizerConfig(dense=(32,), channels=8),
    updater=UpdaterConfig(filters=(8, 8, 8, 8), dense=(32,)),
)
CAM = CAMERAS["msra"]


def frames(count=2, seed=0):
    rng = np.random.default_rng(seed)
    depth = np.zeros((count, 120, 160), np.float32)
    for i in range(count):
        u, v = rng.integers(50, 110), rng.integers(40, 80)
        depth[i, v - 15:v + 15, u - 12:u + 12] = rng.uniform(350, 450)
        depth[i, v + 10:v + 40, u - 5:u + 5] = rng.uniform(350, 450)
    intr = np.tile((np.array([120.0, 120.0, 80.0, 60.0], np.float32)), (count, 1))
    return {"depth": depth[..., None], "intrinsics": intr}


@pytest.fixture(scope="module")
def loop():
    import keras

    keras.utils.set_random_seed(1)
    return build_hand_loop(SMALL)


def test_unrolled_loop_equals_networks_run_one_by_one(loop):
    inputs = frames()
    out = loop(inputs)
    depth, intr = tf.constant(inputs["depth"][..., 0]), tf.constant(inputs["intrinsics"])
    cube = tf.fill([2], tf.constant(SMALL.cube_mm, tf.float32))
    com = center_of_mass(depth, intr, SMALL.cube_mm, stride=SMALL.com_stride)
    offset = loop.get_layer("localizer")(stn_crop(depth, com, cube, intr)[..., None])
    from handloop.zoo.camera import tf_uvd_to_xyz, tf_xyz_to_uvd

    center = tf_xyz_to_uvd(tf_uvd_to_xyz(com, intr) + offset * SMALL.cube_mm / 2, intr)
    crop = stn_crop(depth, center, cube, intr)[..., None]
    pose = loop.get_layer("predictor")(crop)
    poses = [pose]
    for _ in range(SMALL.iterations):
        image = loop.get_layer("synthesizer")(pose)
        pose = pose + loop.get_layer("updater")(tf.concat([crop, image], -1))
        poses.append(pose)
    np.testing.assert_allclose(out["poses"], tf.stack(poses, 1), atol=1e-5)
    xyz = tf.stack(poses, 1) * SMALL.cube_mm / 2 + tf_uvd_to_xyz(center, intr)[:, None, None]
    np.testing.assert_allclose(out["iterations_xyz"], xyz, atol=1e-3)
    np.testing.assert_allclose(out["iterations_uvd"], tf_xyz_to_uvd(xyz, intr), atol=1e-3)
    np.testing.assert_array_equal(out["joints_xyz"], out["iterations_xyz"][:, -1])
    np.testing.assert_array_equal(out["hand_found"], [1, 1])
    empty = loop({"depth": np.zeros_like(inputs["depth"]), "intrinsics": inputs["intrinsics"]})
    np.testing.assert_array_equal(empty["hand_found"], [0, 0])
    assert out["synth"].shape == (2, 2, 128, 128, 1)


@pytest.mark.parametrize("stride", [1, 2])
def test_graph_center_of_mass_matches_numpy(stride):
    inputs = frames(3, seed=4)
    depth, intr = tf.constant(inputs["depth"][..., 0]), tf.constant(inputs["intrinsics"])
    graph = center_of_mass(depth, intr, 250.0, stride=stride).numpy()
    from handloop.zoo.camera import Intrinsics

    cam = Intrinsics("t", 120, 120, 80, 60, 160, 120)
    for g, d in zip(graph, inputs["depth"][..., 0]):
        np.testing.assert_allclose(g, numpy_center_of_mass(d, cam, 250.0, stride=stride), atol=1e-3)
    if stride > 1:  # a quarter of the pixels finds the same hand, within a pixel and a millimetre
        np.testing.assert_allclose(graph, center_of_mass(depth, intr, 250.0).numpy(), atol=1.0)


def check_save_and_reload(loop, inputs, folder, atol=1e-6, rtol=1e-7):
    """Saves ``loop`` as .keras (reloaded exactly) and as a SavedModel (served within ``atol`` + ``rtol``)."""
    import keras

    expected = loop(inputs)
    loop.save(folder / "loop.keras")
    again = keras.models.load_model(folder / "loop.keras")
    for key, value in again(inputs).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(expected[key]), err_msg=key)
    loop.export(str(folder / "saved"), verbose=False)
    restored = tf.saved_model.load(str(folder / "saved"))  # keep a reference: it owns the variables
    for key, value in restored.serve(inputs).items():
        np.testing.assert_allclose(np.asarray(value), np.asarray(expected[key]), rtol=rtol, atol=atol,
                                   err_msg=key)


def test_save_and_reload_keras_and_savedmodel(loop, tmp_path):
    check_save_and_reload(loop, frames(), tmp_path)


def test_gradients_flow_through_crop_and_loop(loop):
    inputs = frames()
    depth = tf.Variable(inputs["depth"])
    with tf.GradientTape(persistent=True) as tape:
        out = loop({"depth": tf.identity(depth), "intrinsics": tf.constant(inputs["intrinsics"])})
        loss = tf.reduce_sum(out["joints_xyz"])
    for var in (depth, *loop.get_layer("updater").trainable_variables[:1], *loop.get_layer("predictor").trainable_variables[:1]):
        grad = tape.gradient(loss, var)
        assert grad is not None and np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).sum() > 0


@pytest.mark.parametrize("preset", [lite, paper])
def test_presets_build_with_structured_names(preset):
    config = preset()
    predictor = networks.build_predictor(config.predictor, 21)
    assert predictor.output_shape == (None, 21, 3)
    assert predictor.get_layer("pred_stage2_block1_conv2") is not None
    synth = networks.build_synthesizer(config.synthesizer, 21)
    assert synth.output_shape == (None, 128, 128, 1)
    assert networks.build_updater(config.updater, 21).input_shape == (None, 128, 128, 2)
    with pytest.raises(ValueError, match="stages must be 0-4"):
        networks.build_synthesizer(config.synthesizer, 21, stages=5)


def test_config_round_trip_and_errors():
    config = LoopConfig.from_dict({"size": "lite", "iterations": 3, "predictor": {"blocks": 2}})
    assert config.iterations == 3 and config.predictor.blocks == 2 and config.predictor.stem == lite().predictor.stem
    assert LoopConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="predictor.depth: unknown key"):
        LoopConfig.from_dict({"size": "lite", "predictor": {"depth": 3}})
    with pytest.raises(ValueError, match="size: .huge. is not one of"):
        LoopConfig.from_dict({"size": "huge"})


def test_deployed_loop_keeps_only_what_applications_read(loop):
    import dataclasses

    from handloop.zoo.loops import DEPLOYED_OUTPUTS, deployed

    nets = {name: loop.get_layer(name) for name in ("localizer", "predictor", "synthesizer", "updater")}
    predictor_only = deployed(build_hand_loop(dataclasses.replace(SMALL, iterations=0), nets))
    assert "synthesizer" not in [layer.name for layer in predictor_only.layers]
    inputs = frames()
    out = deployed(loop)(inputs)
    assert set(out) == set(DEPLOYED_OUTPUTS)
    np.testing.assert_allclose(out["joints_xyz"], loop(inputs)["joints_xyz"], atol=1e-4)
    np.testing.assert_allclose(predictor_only(inputs)["joints_xyz"], out["iterations_xyz"][:, 0], atol=1e-4)
