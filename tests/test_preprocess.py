import numpy as np
import pytest

from handloop.zoo import preprocess as P
from handloop.zoo.camera import CAMERAS

CAM = CAMERAS["nyu"]


def blob_frame(center_uv=(300, 260), depth=700.0, radius=40, background=0.0):
    frame = np.full((480, 640), background, np.float32)
    vs, us = np.mgrid[0:480, 0:640]
    frame[(us - center_uv[0]) ** 2 + (vs - center_uv[1]) ** 2 < radius**2] = depth
    return frame


def test_center_of_mass_finds_blob_and_ignores_wall():
    com = P.center_of_mass(blob_frame(background=1300.0), CAM)
    assert np.allclose(com, [300, 260, 700], atol=0.6)


@pytest.mark.parametrize("frame", [np.zeros((480, 640)), np.full((480, 640), 3000.0), np.full((480, 640), 5.0)])
def test_no_hand_is_reported_not_nan(frame):
    with pytest.raises(P.NoHandError, match="no hand found"):
        P.center_of_mass(frame, CAM)


@pytest.mark.parametrize(
    "frame, message",
    [(np.full((480, 640), np.nan), "NaN"), (np.zeros((4, 480, 640)), "2-D"), (-np.ones((480, 640)), "negative")],
)
def test_bad_depth_frames_are_named(frame, message):
    with pytest.raises(ValueError, match=message):
        P.validate_depth(frame)


def test_crop_uncrop_round_trip():
    rng = np.random.default_rng(0)
    center = np.array([310.3, 250.7, 640.0])
    m = P.crop_matrix(center, 300, CAM)
    uv = rng.uniform(0, 640, (50, 2))
    back = P.transform_points(np.linalg.inv(m), P.transform_points(m, uv))
    assert np.abs(back - uv).max() < 1e-4
    # The cube's window maps onto the crop's outer pixel edges.
    u0, v0, u1, v1 = P.crop_box(center, 300, CAM)
    corners = P.transform_points(m, np.array([[u0 - 0.5, v0 - 0.5], [u1 - 0.5, v1 - 0.5]]))
    assert np.allclose(corners, [[-0.5, -0.5], [127.5, 127.5]])


def test_depth_and_pose_normalisation():
    depth = np.array([[0, 500, 650, 800, 32001]], np.float32)
    norm = P.normalize_depth(depth, 650, 300)
    assert np.allclose(norm, [[1, -1, 0, 1, 1]])
    assert np.allclose(P.denormalize_depth(np.array([-0.5, 0.5]), 650, 300), [575, 725])
    xyz = np.random.default_rng(0).normal(0, 50, (3, 21, 3)) + [0, 0, 600]
    center = xyz.mean(axis=1)
    pose = P.normalize_pose(xyz, center, 300)
    assert np.allclose(P.denormalize_pose(pose, center, 300), xyz)
    assert np.allclose(pose.mean(axis=1), 0)


def test_crop_depth_values():
    frame = blob_frame(depth=700.0, radius=80)
    crop = P.crop_depth(frame, np.array([300, 260, 700.0]), 300, CAM)
    assert crop.shape == (128, 128) and crop.dtype == np.float32
    assert crop[64, 64] == pytest.approx(0.0)
    assert crop[0, 0] == pytest.approx(1.0)  # missing depth is the rear side
