import numpy as np
import tensorflow as tf

from handloop.zoo import preprocess as P
from handloop.zoo.camera import CAMERAS
from handloop.zoo.layers import ISTNPaste, STNCrop, istn_paste, stn_crop
from handloop.zoo.layers.stn import crop_grid

CAM = CAMERAS["nyu"]


def smooth_frame(rng):
    vs, us = np.mgrid[0:480, 0:640].astype(np.float32)
    frame = 650 + 60 * np.sin(us / 37.0 + rng.uniform()) * np.cos(vs / 29.0)
    frame[rng.uniform(size=frame.shape) < 0.05] = 0  # holes
    return frame.astype(np.float32)


def test_stn_crop_equals_numpy_bilinear_crop():
    rng = np.random.default_rng(3)
    frames = np.stack([smooth_frame(rng) for _ in range(3)])
    centers = np.array([[320.2, 240.9, 650], [60.0, 30.0, 500], [600.5, 470.25, 800]], np.float32)
    cubes = np.array([300, 250, 200], np.float32)
    crops = stn_crop(tf.constant(frames), tf.constant(centers), tf.constant(cubes),
                     tf.constant(np.tile(CAM.as_array(), (3, 1)))).numpy()
    for frame, center, cube, crop in zip(frames, centers, cubes, crops):
        expected = P.crop_depth(frame, center.astype(np.float64), float(cube), CAM)
        assert np.abs(crop - expected).max() < 1e-4


def test_istn_puts_every_pixel_back():
    # A cube that maps exactly one frame pixel to one crop pixel, centred on a pixel corner: sampling is exact.
    z = 600.0
    cube = 128 * z / CAM.fx  # window width 128 px
    fy_cam = CAM.as_array().copy()
    fy_cam[1] = CAM.fx  # square pixels so both axes are 1:1
    center = np.array([[300.0, 200.0, z]], np.float32)
    frame = np.random.default_rng(0).uniform(500, 700, (1, 480, 640)).astype(np.float32)
    crop = stn_crop(tf.constant(frame), tf.constant(center), tf.constant([cube], tf.float32),
                    tf.constant(fy_cam[None]))
    pasted = istn_paste(crop, tf.constant(center), tf.constant([cube], tf.float32), tf.constant(fy_cam[None]),
                        480, 640, fill=-5.0).numpy()[0]
    expected = np.clip((frame[0] - z) / (cube / 2), -1, 1)
    window = (slice(136, 264), slice(236, 364))
    assert np.abs(pasted[window] - expected[window]).max() < 1e-5
    outside = np.ones_like(pasted, bool)
    outside[window] = False
    assert np.all(pasted[outside] == -5.0)


def test_layers_in_a_keras_model_serialise(tmp_path):
    import keras

    depth = keras.Input((240, 320, 1))
    center = keras.Input((3,))
    intr = keras.Input((4,))
    crop = STNCrop(64, name="crop")(depth, center, cube=250.0, intrinsics=intr)
    frame = ISTNPaste(240, 320, fill=1.0, name="paste")(crop, center, cube=250.0, intrinsics=intr)
    model = keras.Model([depth, center, intr], [crop, frame])
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    cam = CAMERAS["msra"]
    inputs = [np.full((2, 240, 320, 1), 400, np.float32), np.array([[160, 120, 400]] * 2, np.float32),
              np.tile(cam.as_array(), (2, 1))]
    for a, b in zip(model(inputs), again(inputs)):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert model(inputs)[0].shape == (2, 64, 64, 1)


def test_axis_aligned_crop_equals_the_full_grid_crop():
    # Without a rotation the crop samples a separable grid (columns x rows); a zero rotation takes the per-pixel
    # path. Both must read the same values.
    rng = np.random.default_rng(5)
    frames = tf.constant(np.stack([smooth_frame(rng) for _ in range(2)]))
    centers = tf.constant([[320.2, 240.9, 650], [20.0, 470.0, 500]], tf.float32)
    cubes = tf.constant([300, 250], tf.float32)
    intr = tf.constant(np.tile(CAM.as_array(), (2, 1)).astype(np.float32))
    u, v = crop_grid(centers, cubes, intr)
    assert u.shape == (2, 1, 128) and v.shape == (2, 128, 1)
    separable = stn_crop(frames, centers, cubes, intr).numpy()
    full = stn_crop(frames, centers, cubes, intr, rotation=tf.zeros([2])).numpy()
    np.testing.assert_allclose(separable, full, atol=1e-6)
