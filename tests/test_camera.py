import numpy as np
import pytest
import tensorflow as tf

from handloop.zoo.camera import CAMERAS, get_intrinsics, tf_uvd_to_xyz, tf_xyz_to_uvd


@pytest.mark.parametrize("name", sorted(CAMERAS))
def test_uvd_xyz_round_trip_numpy_and_tf_agree(name):
    cam = CAMERAS[name]
    rng = np.random.default_rng(1)
    uvd = rng.uniform([0, 0, 200], [cam.width, cam.height, 1200], (6, 21, 3))
    xyz = cam.uvd_to_xyz(uvd)
    assert np.abs(cam.xyz_to_uvd(xyz) - uvd).max() < 1e-4
    intr = tf.constant(np.tile(cam.as_array(), (6, 1)))
    xyz_tf = tf_uvd_to_xyz(tf.constant(uvd, tf.float32), intr, cam.y_up).numpy()
    assert np.abs(xyz_tf - xyz).max() < 1e-4 * np.abs(xyz).max()
    uvd_tf = tf_xyz_to_uvd(tf.constant(xyz, tf.float32), intr, cam.y_up).numpy()
    assert np.abs(uvd_tf - uvd).max() < 1e-3  # float32 through a division by z of ~1000 mm


def test_axis_conventions():
    up, down = CAMERAS["nyu"], CAMERAS["icvl"]
    above_centre = np.array([up.cx, up.cy - 10, 500.0])
    assert up.uvd_to_xyz(above_centre)[1] > 0
    assert down.uvd_to_xyz(np.array([down.cx, down.cy - 10, 500.0]))[1] < 0


def test_get_intrinsics_parses_and_rejects():
    assert get_intrinsics("NYU") is CAMERAS["nyu"]
    custom = get_intrinsics("500,501,320.5,240")
    assert (custom.fx, custom.fy, custom.cx, custom.cy) == (500, 501, 320.5, 240)
    for bad in ("kinect", "1,2,3", "a,b,c,d"):  # values that parse but do not fit: tests/test_bad_inputs.py
        with pytest.raises(ValueError, match="unknown camera"):
            get_intrinsics(bad)


def test_per_frame_conventions_and_axes():
    up, down = CAMERAS["nyu"], CAMERAS["synth"]  # the same sensor, y up and y down
    xyz = np.random.default_rng(2).uniform([-100, -100, 300], [100, 100, 900], (2, 5, 3))
    intr = tf.constant(np.tile(up.as_array(), (2, 1)))
    got = tf_xyz_to_uvd(tf.constant(xyz, tf.float32), intr, tf.constant([[True], [False]])).numpy()
    np.testing.assert_allclose(got, [up.xyz_to_uvd(xyz[0]), down.xyz_to_uvd(xyz[1])], atol=1e-3)
    uvd = down.xyz_to_uvd(xyz)
    np.testing.assert_array_equal(up.uvd_to_xyz(uvd), down.uvd_to_xyz(uvd) @ up.axes)
    np.testing.assert_array_equal(down.axes, np.eye(3))
