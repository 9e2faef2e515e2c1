"""Analytic checks of the TF ray caster (handloop.zoo.render): depths and silhouettes of primitives against closed forms."""

import numpy as np
import pytest
import tensorflow as tf

from handloop.zoo import render
from handloop.zoo.camera import CAMERAS

CAM = CAMERAS["synth"]
Z, R = 500.0, 30.0


def _rays(cam=CAM):
    """(1, H*W, 3) rays of the full frame and the frame's (H, W) shape."""
    v, u = np.mgrid[0:cam.height, 0:cam.width].astype(np.float32)
    return render.ray_directions(u.reshape(1, -1), v.reshape(1, -1), cam.as_array()[None]), (cam.height, cam.width)


def _image(t, shape):
    return render.finite_depth(t).numpy().reshape(shape)


def _extent(row):
    """Half the number of hit pixels of a 1D profile through the centre (pixels)."""
    return (row > 0).sum() / 2


def test_sphere_depth_and_silhouette():
    rays, shape = _rays()
    depth = _image(render.nearest(render.spheres(rays, tf.constant([[[0.0, 0.0, Z]]]), tf.constant([[R]]))), shape)
    assert depth[240, 320] == pytest.approx(Z - R, abs=1e-3)
    expected = CAM.fx * R / np.sqrt(Z**2 - R**2)  # the tangent cone's radius in pixels
    assert abs(_extent(depth[240]) - expected) <= 1.0
    assert abs(_extent(depth[:, 320]) - CAM.fy * R / np.sqrt(Z**2 - R**2)) <= 1.0


def test_capsule_depth_and_silhouette():
    rays, shape = _rays()
    half = 60.0
    t = render.capsules(rays, tf.constant([[[-half, 0.0, Z]]]), tf.constant([[[half, 0.0, Z]]]), tf.constant([[R]]))
    depth = _image(render.nearest(t), shape)
    assert depth[240, 320] == pytest.approx(Z - R, abs=1e-3)
    assert abs(_extent(depth[:, 320]) - CAM.fy * R / np.sqrt(Z**2 - R**2)) <= 1.0
    # The end caps are spheres: the outermost ray is tangent to the sphere around (half, 0, Z).
    angle = np.arctan(half / Z) + np.arcsin(R / np.hypot(half, Z))
    hit = np.flatnonzero(depth[240] > 0)
    assert abs(hit.max() + 0.5 - (CAM.cx + CAM.fx * np.tan(angle))) <= 1.0
    assert abs(CAM.cx - (hit.min() - 0.5) - CAM.fx * np.tan(angle)) <= 1.0


def test_box_depth_and_silhouette():
    rays, shape = _rays()
    size = np.array([60.0, 40.0, 90.0])
    t = render.boxes(rays, tf.constant([[[0.0, 0.0, Z]]]), tf.constant(np.eye(3, dtype=np.float32)[None, None]),
                     tf.constant(size[None, None] / 2, tf.float32))
    depth = _image(render.nearest(t), shape)
    front = Z - size[2] / 2
    assert depth[240, 320] == pytest.approx(front, abs=1e-3)
    assert abs(_extent(depth[240]) - CAM.fx * size[0] / 2 / front) <= 1.0  # the front face is the widest
    assert abs(_extent(depth[:, 320]) - CAM.fy * size[1] / 2 / front) <= 1.0


def test_ellipsoid_depth():
    rays, shape = _rays()
    t = render.ellipsoids(rays, tf.constant([[[0.0, 0.0, Z]]]), tf.constant(np.eye(3, dtype=np.float32)[None, None]),
                          tf.constant([[[40.0, 20.0, 10.0]]]))
    depth = _image(render.nearest(t), shape)
    assert depth[240, 320] == pytest.approx(Z - 10.0, abs=1e-3)
    assert abs(_extent(depth[240]) - CAM.fx * 40.0 / Z) <= 1.5  # silhouette ~ semi-axis / z for a thin ellipsoid


def test_composition_takes_the_nearer_surface():
    rays, shape = _rays()
    near = render.spheres(rays, tf.constant([[[20.0, 0.0, 400.0]]]), tf.constant([[R]]))
    far = render.boxes(rays, tf.constant([[[0.0, 0.0, 450.0]]]), tf.constant(np.eye(3, dtype=np.float32)[None, None]),
                       tf.constant([[[80.0, 80.0, 10.0]]]))
    both = _image(render.nearest(near, far), shape)
    near_only, far_only = _image(render.nearest(near), shape), _image(render.nearest(far), shape)
    np.testing.assert_array_equal(both, np.where(near_only > 0, near_only, far_only))
    u = int(round(CAM.cx + CAM.fx * 20.0 / 400.0))
    assert both[240, u] == pytest.approx(400.0 - R, abs=0.2)  # the pixel is 0.4 px off the centre
    assert both[240, 260] == pytest.approx(440.0, abs=1e-3)  # beside the sphere: the box's front face


@pytest.mark.parametrize("kind,size,front", [
    ("sphere", (60.0, 60.0, 60.0), Z - 30.0),
    ("box", (60.0, 60.0, 90.0), Z - 45.0),
    ("cylinder", (60.0, 60.0, 100.0), Z - 50.0),
])
def test_render_object_window_and_gradients(kind, size, front):
    """render_object renders an arbitrary pixel grid (here a window and a half-pixel grid) with finite gradients."""
    rotation = tf.constant(np.eye(3, dtype=np.float32)[None])
    translation = tf.Variable([[0.0, 0.0, Z]])
    v, u = np.mgrid[200:280, 280:360].astype(np.float32)
    with tf.GradientTape() as tape:
        depth = render.render_object(kind, size, rotation, translation, u[None], v[None], CAM.as_array()[None])
        loss = tf.reduce_sum(depth)
    assert depth.shape == (1, 80, 80)
    assert float(depth[0, 40, 40]) == pytest.approx(front, abs=1e-3)
    assert float(depth[0, 0, 0]) == 0.0
    gradient = tape.gradient(loss, translation).numpy()
    assert np.isfinite(gradient).all() and gradient[0, 2] > 0
    half = render.render_object(kind, size, rotation, translation, u[None] + 0.5, v[None] + 0.5, CAM.as_array()[None])
    assert np.isfinite(half.numpy()).all()


def test_render_object_rejects_bad_input():
    args = (tf.eye(3)[None], tf.constant([[0.0, 0.0, Z]]), tf.zeros((1, 2, 2)), tf.zeros((1, 2, 2)),
            CAM.as_array()[None])
    with pytest.raises(ValueError, match="unknown object kind 'cone'"):
        render.render_object("cone", (1.0, 1.0, 1.0), *args)
    with pytest.raises(ValueError, match="3 positive numbers"):
        render.render_object("box", (10.0, 10.0), *args)


def test_generator_and_loop_render_an_object_pose_alike():
    """The generator's batched caster and the loop's renderer go through the same object_depth code."""
    import numpy as np
    import tensorflow as tf

    from handloop.recipes.synth import scene
    from handloop.zoo.objects import get_object
    from handloop.zoo.render import render_object

    model = get_object("cuboid-large")
    angle = 0.6
    rotation = np.array([[[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]],
                        np.float32)
    translation = np.array([[15.0, -10.0, 500.0]], np.float32)
    intrinsics = np.array([[588.03, 587.07, 320.0, 240.0]], np.float32)
    vs, us = np.mgrid[180:300, 260:380].astype(np.float32)
    pixels = np.stack([us.ravel(), vs.ravel()], -1)
    far = np.zeros((1, 1, 3), np.float32)
    generated = scene._cast(
        tf.constant(pixels), tf.zeros(len(pixels), tf.int32), -tf.ones((len(pixels), 1), tf.int32), intrinsics,
        far, far, np.ones((1, 1), np.float32), np.full((1, 1, 3), -1e4, np.float32), np.eye(3, dtype=np.float32)[None, None],
        np.ones((1, 1, 3), np.float32), rotation, translation, np.array([model.size_mm], np.float32), "box").numpy()
    rendered = render_object("box", list(model.size_mm), rotation, translation, us[None], vs[None], intrinsics)
    generated = np.where(np.isinf(generated), 0.0, generated).reshape(us.shape)
    assert (rendered.numpy()[0] > 0).sum() > 1000
    np.testing.assert_allclose(generated, rendered.numpy()[0], atol=1e-3)
