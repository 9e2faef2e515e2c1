"""Frame records: encode/decode round trip, tf.data parsing with fixed shapes, hand-only and hand-object alike."""

import numpy as np
import pytest
import tensorflow as tf

from handloop.recipes.records import Frame, decode_frame, encode_frame, list_shards, parse_example, read_manifest
from handloop.zoo.camera import CAMERAS
from handloop.zoo.objects import OBJECTS, get_object


def _frame(with_object: bool, seed: int = 0) -> Frame:
    cam = CAMERAS["synth"]
    rng = np.random.default_rng(seed)
    depth = np.zeros((cam.height, cam.width), np.float32)
    depth[100:180, 200:260] = rng.integers(400, 600, (80, 60))
    joints = rng.uniform([-50, -50, 450], [50, 50, 550], (21, 3)).astype(np.float32)
    extra = {}
    if with_object:
        model = get_object("cuboid-small")
        rotation = np.eye(3, dtype=np.float32)
        translation = np.array([10.0, 20.0, 500.0], np.float32)
        extra = dict(object_name=model.name, object_rotation=rotation, object_translation=translation,
                     corners_xyz=(model.corners() + translation).astype(np.float32),
                     corner_visibility=np.array([1, 0, 1], np.float32))
    return Frame(depth, cam, joints, "msra21", 300.0, np.array([230.0, 140.0, 500.0]), 7,
                 tip_visibility=np.array([1, 1, 0, 1, 1], np.float32), **extra)


@pytest.mark.parametrize("with_object", [False, True])
def test_encode_decode_round_trip(with_object):
    frame = _frame(with_object)
    back = decode_frame(encode_frame(frame))
    np.testing.assert_array_equal(back.depth_mm, frame.depth_mm)
    np.testing.assert_allclose(back.joints_xyz, frame.joints_xyz)
    assert back.intrinsics == frame.intrinsics and back.subject == 7 and back.cube == 300.0
    np.testing.assert_array_equal(back.tip_visibility, frame.tip_visibility)
    if with_object:
        assert back.object_name == "cuboid-small"
        np.testing.assert_allclose(back.corners_xyz, frame.corners_xyz)
        np.testing.assert_array_equal(back.corner_visibility, [1, 0, 1])
    else:
        assert back.object_name is None and back.corners_xyz is None


def test_parse_example_batches_hand_and_hand_object_records():
    records = [encode_frame(_frame(False, 1)), encode_frame(_frame(True, 2))]
    dataset = tf.data.Dataset.from_tensor_slices(records).map(lambda s: parse_example(s, 21, 480, 640)).batch(2)
    batch = next(iter(dataset))
    assert batch["depth"].shape == (2, 480, 640)
    assert batch["joints_uvd"].shape == (2, 21, 3) and batch["corners_uvd"].shape == (2, 8, 3)
    np.testing.assert_array_equal(batch["has_object"].numpy(), [False, True])
    np.testing.assert_array_equal(batch["corners_xyz"].numpy()[0], 0.0)
    frame = _frame(True, 2)
    np.testing.assert_allclose(batch["corners_uvd"].numpy()[1], frame.intrinsics.xyz_to_uvd(frame.corners_xyz),
                               atol=1e-3)
    np.testing.assert_array_equal(batch["depth"].numpy()[1], frame.depth_mm)


def test_objects_table_and_errors(tmp_path):
    large = OBJECTS["cuboid-large"]
    corners = large.corners()
    assert corners.shape == (8, 3)
    np.testing.assert_array_equal(corners[0], [-30, -30, -45])
    np.testing.assert_array_equal(corners[7], [30, 30, 45])
    assert len(large.keypoints) == 3
    with pytest.raises(ValueError, match="unknown object 'mug'.*cuboid-large"):
        get_object("mug")
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"shards": 2, "frames": 4, "frame_size": [480, 640], "num_joints": 21}')
    with pytest.raises(ValueError, match="2 of 2 shards missing"):
        list_shards(tmp_path)


def test_windowed_frames_crop_like_whole_frames(tmp_path):
    """The training pipeline's windowed frames (shifted principal point) give the whole frames' crops and poses."""
    from handloop.recipes.config import AugmentConfig
    from handloop.recipes.pipeline import training_dataset
    from handloop.recipes.records import frames_dataset
    from handloop.recipes.synth.generate import SynthSettings, generate

    generate(SynthSettings(frames=6, seed=3, objects="cuboid", shard_size=6), tmp_path, progress=False)
    whole, windowed = frames_dataset(tmp_path), frames_dataset(tmp_path, windowed=True)
    one = next(iter(windowed))
    assert one["depth"].shape[0] < 480 and one["depth"].shape[1] < 640  # only the stored window
    for scene in (None, 450.0):
        a, b = (next(iter(training_dataset(frames, AugmentConfig(), 6, 0, 5, scene_cube_mm=scene)))
                for frames in (whole, windowed))
        for key in ("crop", "pose", "scene_crop", "object_crop", "corners", "hand_offset"):
            if key in a:
                np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), atol=2e-4, err_msg=key)
