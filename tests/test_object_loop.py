"""The hand-object loop (Alg. 1) and its layers: Procrustes, merge, renderer; one graph, saved and reloaded."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial.transform import Rotation

from test_loops import SMALL, check_save_and_reload
from handloop.zoo.camera import tf_uvd_to_xyz
from handloop.zoo.config import LocalizerConfig, UpdaterConfig
from handloop.zoo.layers.geometry import center_of_mass
from handloop.zoo.layers.merge import BACKGROUND, min_merge
from handloop.zoo.layers.procrustes import procrustes
from handloop.zoo.layers.stn import frame_pixels, istn_paste, stn_crop
from handloop.zoo.loops import OBJECT_OUTPUTS, build_loop
from handloop.zoo.objects import get_object
from handloop.zoo.render import render_object

OBJECT = SMALL.__class__(**{
    **{f.name: getattr(SMALL, f.name) for f in dataclasses.fields(SMALL)},
    "object": "cuboid-small", "scene_cube_mm": 400.0,
    "object_localizer": LocalizerConfig(filters=(8, 8, 8), dense=(32,)),
    "object_predictor": LocalizerConfig(filters=(8, 8, 8), dense=(32,)),
    "object_updater": UpdaterConfig(filters=(8, 8, 8, 8), dense=(32,)),
})
INTRINSICS = np.array([120.0, 120.0, 80.0, 60.0], np.float32)


def frames(count=2, seed=0):
    """Frames of 120x160 with a hand-like blob and a box beside it."""
    rng = np.random.default_rng(seed)
    depth = np.zeros((count, 120, 160), np.float32)
    for i in range(count):
        u, v = rng.integers(60, 90), rng.integers(45, 70)
        depth[i, v - 15:v + 15, u - 12:u + 12] = rng.uniform(380, 420)
        depth[i, v - 10:v + 6, u + 12:u + 26] = rng.uniform(360, 380)
    return {"depth": depth[..., None], "intrinsics": np.tile(INTRINSICS, (count, 1))}


@pytest.fixture(scope="module")
def loop():
    import keras

    keras.utils.set_random_seed(3)
    return build_loop(OBJECT)


def svd_procrustes(model, points):
    """Reference: Kabsch/Umeyama with numpy's SVD and the determinant correction."""
    mc, pc = model - model.mean(0), points - points.mean(0)
    u, _, vt = np.linalg.svd(mc.T @ pc)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1, 1, d]) @ u.T
    return rotation, points.mean(0) - rotation @ model.mean(0)


def test_procrustes_recovers_pose_and_matches_svd():
    model = get_object("cuboid-large").corners()
    rng = np.random.default_rng(0)
    rotation = Rotation.random(32, random_state=1).as_matrix()
    translation = rng.uniform([-100, -100, 300], [100, 100, 600], (32, 3))
    noisy = np.einsum("bij,pj->bpi", rotation, model) + translation[:, None] + rng.normal(0, 1.0, (32, 8, 3))
    found_r, found_t = (np.asarray(t) for t in procrustes(model, tf.constant(noisy, tf.float32)))
    for points, r, t in zip(noisy, found_r, found_t):
        ref_r, ref_t = svd_procrustes(model, points)
        np.testing.assert_allclose(r, ref_r, atol=1e-4)
        np.testing.assert_allclose(t, ref_t, atol=1e-2)
    angle = np.degrees(Rotation.from_matrix(np.einsum("bji,bjk->bik", rotation, found_r)).magnitude())
    assert angle.max() < 3 and np.abs(found_t - translation).max() < 3
    np.testing.assert_allclose(np.linalg.det(found_r), 1, atol=1e-5)
    # a reflected observation: still a proper rotation, the SVD solution with the determinant correction
    mirrored = noisy * np.array([1, 1, -1])
    r, t = (np.asarray(x) for x in procrustes(model, tf.constant(mirrored[:4], tf.float32)))
    for points, ri, ti in zip(mirrored, r, t):
        ref_r, ref_t = svd_procrustes(model, points)
        np.testing.assert_allclose(ri, ref_r, atol=1e-3)
        np.testing.assert_allclose(ti, ref_t, atol=1e-1)


def test_min_merge_treats_zero_as_missing():
    a = tf.constant([[0.0, 500.0, 300.0, 0.0]])
    b = tf.constant([[400.0, 0.0, 350.0, 0.0]])
    np.testing.assert_array_equal(min_merge(a, b), [[400.0, 500.0, 300.0, 0.0]])


def test_unrolled_loop_equals_networks_run_one_by_one(loop):
    inputs = frames()
    out = loop(inputs)
    assert set(out) == set(OBJECT_OUTPUTS)
    depth, intr = tf.constant(inputs["depth"][..., 0]), tf.constant(inputs["intrinsics"])
    net = loop.get_layer
    cube = tf.fill([2], tf.constant(OBJECT.cube_mm, tf.float32))
    scene_cube = tf.fill([2], tf.constant(OBJECT.scene_cube_mm, tf.float32))
    com = center_of_mass(depth, intr, OBJECT.scene_cube_mm, stride=OBJECT.com_stride)
    scene = stn_crop(depth, com, scene_cube, intr)[..., None]
    from handloop.zoo.camera import tf_xyz_to_uvd

    def moved(offset):
        return tf_xyz_to_uvd(tf_uvd_to_xyz(com, intr) + offset * OBJECT.scene_cube_mm / 2, intr)

    center, object_center = moved(net("localizer")(scene)), moved(net("object_localizer")(scene))
    crop = stn_crop(depth, center, cube, intr)[..., None]
    object_crop = stn_crop(depth, object_center, cube, intr)[..., None]
    model = get_object(OBJECT.object)
    corners_model = model.corners().astype(np.float32)
    object_xyz = tf_uvd_to_xyz(object_center, intr)[:, None]

    def fit(corners):
        r, t = procrustes(corners_model, corners * OBJECT.cube_mm / 2 + object_xyz)
        return r, t, (tf.einsum("bij,pj->bpi", r, corners_model) + t[:, None] - object_xyz) / (OBJECT.cube_mm / 2)

    pose = net("predictor")(crop)
    r, t, corners = fit(net("object_predictor")(object_crop))
    u, v = frame_pixels(2, OBJECT.height, OBJECT.width)
    for i in range(OBJECT.iterations):
        synth = istn_paste(net("synthesizer")(pose)[..., 0], center, cube, intr, OBJECT.height, OBJECT.width, 1.0)
        hand_mm = np.where(synth < BACKGROUND, synth * OBJECT.cube_mm / 2 + center[:, 2, None, None], 0)
        rendered = render_object(model.kind, list(model.size_mm), r, t, u, v, intr)
        np.testing.assert_array_equal(out["rendered"][:, i, ..., 0], rendered)  # the renderer, called both ways
        merged = min_merge(tf.constant(hand_mm, tf.float32), rendered)
        np.testing.assert_allclose(out["merged"][:, i, ..., 0], merged, atol=1e-3)
        hand_pair = tf.concat([crop, stn_crop(merged, center, cube, intr)[..., None]], -1)
        object_pair = tf.concat([object_crop, stn_crop(merged, object_center, cube, intr)[..., None]], -1)
        pose = pose + net("updater")(hand_pair)
        r, t, corners = fit(corners + net("object_updater")(object_pair))
        np.testing.assert_allclose(out["poses"][:, i + 1], pose, atol=1e-5)
        np.testing.assert_allclose(out["object_poses"][:, i + 1], corners, atol=1e-5)
    np.testing.assert_allclose(out["object_rotation"], r, atol=1e-5)
    np.testing.assert_allclose(out["object_translation"], t, atol=1e-3)
    assert out["rendered"].shape == (2, 2, 120, 160, 1) and out["object_rotations"].shape == (2, 3, 3, 3)


def test_gradients_flow_through_stn_renderer_merge_and_procrustes(loop):
    inputs = frames()
    depth = tf.Variable(inputs["depth"])
    with tf.GradientTape(persistent=True) as tape:
        out = loop({"depth": tf.identity(depth), "intrinsics": tf.constant(inputs["intrinsics"])})
        rendered = tf.reduce_sum(out["rendered"][:, -1])  # renderer <- Procrustes <- object updater
        merged = tf.reduce_sum(out["merged"])  # merge <- ISTN paste of the synthesizer and the renderer
        joints = tf.reduce_sum(out["joints_xyz"]) + tf.reduce_sum(out["object_translation"])  # STN <- depth
    checks = [(joints, depth), (rendered, loop.get_layer("object_updater").trainable_variables[0]),
              (rendered, loop.get_layer("object_predictor").trainable_variables[0]),
              (merged, loop.get_layer("synthesizer").trainable_variables[-2])]
    for loss, var in checks:
        grad = np.asarray(tape.gradient(loss, var))
        assert np.isfinite(grad).all() and np.abs(grad).sum() > 0, var.name


def test_save_and_reload_keras_and_savedmodel(loop, tmp_path):
    # the served graph and the eager call round the Procrustes fit differently: a few float32 ulps of the
    # rendered depth (1.5e-4 of 400 mm)
    check_save_and_reload(loop, frames(), tmp_path, atol=1e-4, rtol=1e-6)


def test_registry_entry_predicts_object_pose(loop, tmp_path, capsys):
    from handloop.zoo.camera import Intrinsics
    from handloop.cli import main
    from handloop.zoo.registry import load, save_entry

    save_entry(loop, OBJECT, "tiny-object", {"mean_mm": 20.0}, tmp_path)
    model = load(tmp_path / "tiny-object.json")
    depth = frames(1)["depth"][0, ..., 0]
    down = model.predict(depth, Intrinsics("d", *INTRINSICS, 160, 120, y_up=False))
    assert down.object_rotation.shape == (3, 3) and down.corners_xyz.shape == (8, 3)
    np.testing.assert_allclose(np.linalg.det(down.object_rotation), 1, atol=1e-4)
    assert down.iterations_corners_xyz.shape == (OBJECT.iterations + 1, 8, 3)
    np.testing.assert_allclose(down.iterations_corners_xyz[-1], down.corners_xyz)
    # the final corners are the rigid object model in the returned pose
    corners = get_object(OBJECT.object).corners() @ down.object_rotation.T + down.object_translation
    np.testing.assert_allclose(down.corners_xyz, corners, atol=0.05)
    up = model.predict(depth, Intrinsics("u", *INTRINSICS, 160, 120, y_up=True))
    np.testing.assert_allclose(np.linalg.det(up.object_rotation), 1, atol=1e-4)
    np.testing.assert_allclose(up.object_translation * [1, -1, 1], down.object_translation, atol=1e-3)
    np.save(tmp_path / "frame.npy", depth)
    assert main(["predict", str(tmp_path / "tiny-object.json"), str(tmp_path / "frame.npy"), "--intrinsics",
                 "120,120,80,60", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert np.array(out["corners_xyz_mm"]).shape == (8, 3) and np.array(out["object_rotation"]).shape == (3, 3)
    assert main(["zoo", "summary", str(tmp_path / "tiny-object.json")]) == 0
    assert "object_updater" in capsys.readouterr().out


@pytest.mark.parametrize("config", [SMALL, OBJECT], ids=["hand", "hand_object"])
def test_loops_convert_to_tflite_builtins(config):
    """Batch-1 TFLite with builtin ops only, matching Keras (the exporter's starting point)."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(4)
    loop = build_loop(config)
    depth = keras.Input((config.height, config.width, 1), batch_size=1, name="depth")
    intrinsics = keras.Input((4,), batch_size=1, name="intrinsics")
    fixed = keras.Model({"depth": depth, "intrinsics": intrinsics}, loop({"depth": depth, "intrinsics": intrinsics}))
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    runner = Interpreter(model_content=converter.convert()).get_signature_runner()
    inputs = {key: value[:1] for key, value in frames(1).items()}
    expected = fixed(inputs)
    for key, value in runner(**inputs).items():
        np.testing.assert_allclose(value, np.asarray(expected[key]), atol=1e-2, err_msg=key)


def test_demo_of_a_hand_object_entry_measures_and_draws_the_object(tmp_path, capsys, monkeypatch):
    """``handloop demo --entry`` on a hand-object entry runs on frames holding its object, reports the object's corner
    error and eq. 23 per iteration, and draws the box (predicted and true) in every pose panel."""
    import json

    from handloop.cli import main
    from test_export import random_entry

    card = random_entry(tmp_path, dataclasses.replace(OBJECT, height=480, width=640), "tiny-object", 5)
    drawn = []
    monkeypatch.setattr("handloop.zoo.overlays.save_figure", lambda fig, path: drawn.append(fig))
    assert main(["demo", "--entry", str(card), "--frames", "1", "--json", "--out", str(tmp_path / "demo")]) == 0
    rows = json.loads(capsys.readouterr().out)["iterations"]
    assert [row["iteration"] for row in rows] == list(range(OBJECT.iterations + 1))
    assert all(row["object_mm"] > 0 and row["hand_object_mm"] > 0 for row in rows)
    lines = [line.get_gid() for ax in drawn[0].axes for line in ax.lines]
    steps = OBJECT.iterations + 1
    assert lines.count("box-prediction") == 12 * steps and lines.count("box-truth") == 12 * steps
    assert "object box" in [t.get_text() for t in drawn[0].legends[0].get_texts()]
