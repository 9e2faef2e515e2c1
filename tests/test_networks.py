"""Network builders: paper and lite sizes, the object networks, the PCA prior, growing the synthesizer, and the
synthesizer's sub-pixel upsampling convolutions."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from handloop.zoo import networks
from handloop.zoo.config import lite, paper
from handloop.zoo.layers.unpool import SubpixelConv2D
from handloop.zoo.loops import build_networks


def test_lite_is_smaller_than_paper_and_object_networks_have_their_shapes():
    small = build_networks(dataclasses.replace(lite(), object="cuboid-small"))
    big = build_networks(dataclasses.replace(paper(), object="cuboid-small"))
    assert set(small) == set(big) == {"localizer", "predictor", "synthesizer", "updater", "object_localizer",
                                      "object_predictor", "object_updater"}
    for name, net in small.items():
        assert net.count_params() < big[name].count_params(), name
    assert small["object_predictor"].output_shape == (None, 8, 3)
    assert small["object_localizer"].output_shape == (None, 3)
    assert small["object_updater"].output_shape == (None, 8, 3)
    assert small["object_predictor"].get_layer("opred_conv1") and small["object_localizer"].get_layer("oloc_out")


def test_every_network_returns_float32_under_mixed_bfloat16():
    """A stage trained with ``precision: mixed_bfloat16`` computes in bfloat16 but its loss sees float32 outputs."""
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        built = build_networks(dataclasses.replace(lite(), object="cuboid-small"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for name, net in built.items():
        assert net.output.dtype == "float32", name
        assert any(layer.compute_dtype == "bfloat16" for layer in net.layers), name


def test_pca_prior_is_fixed_and_settable():
    config = lite().predictor
    net = networks.build_predictor(config, 21)
    pca = net.get_layer("pred_pca")
    assert not pca.trainable and not pca.trainable_weights
    rng = np.random.default_rng(0)
    components, mean = rng.normal(size=(30, 63)).astype(np.float32), rng.normal(size=63).astype(np.float32)
    networks.set_pca(net, components, mean)
    embedding = rng.normal(size=(2, 30)).astype(np.float32)
    np.testing.assert_allclose(pca(embedding), (embedding @ components + mean).reshape(2, 21, 3), atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        networks.set_pca(net, components[:, :60], mean)


def test_synthesizer_grows_one_stage_at_a_time():
    config = lite().synthesizer
    grown = networks.build_synthesizer(config, 21, stages=0)
    assert grown.output_shape == (None, 8, 8, 1)
    pose = np.random.default_rng(1).normal(size=(2, 21, 3)).astype(np.float32)
    for stages in range(1, 5):
        larger = networks.build_synthesizer(config, 21, stages=stages)
        copied = networks.transfer_weights(grown, larger)
        assert larger.output_shape == (None, 8 * 2**stages, 8 * 2**stages, 1)
        assert {"synth_fc1", "synth_fc_grid"} <= set(copied) and f"synth_head_{8 * 2**stages}" not in copied
        assert {f"synth_conv{s}" for s in range(1, stages)} <= set(copied)
        for name in copied:
            for a, b in zip(grown.get_layer(name).get_weights(), larger.get_layer(name).get_weights()):
                np.testing.assert_array_equal(a, b)
        grown = larger
    assert grown(pose).shape == (2, 128, 128, 1)


def _unpooled_conv_reference(x, kernel, bias):
    """Zero-unpooling by 2 (value at the top-left of each 2x2 cell), then a 'same' convolution."""
    b, h, w, c = x.shape
    unpooled = np.zeros((b, 2 * h, 2 * w, c), np.float32)
    unpooled[:, ::2, ::2] = x
    return tf.nn.conv2d(unpooled, kernel, 1, "SAME").numpy() + bias


@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_subpixel_conv_equals_unpooling_then_convolution(kernel_size):
    x = np.random.default_rng(kernel_size).normal(size=(2, 6, 5, 3)).astype(np.float32)
    stage = SubpixelConv2D(4, kernel_size, packed_output=True)
    head = SubpixelConv2D(2, kernel_size, unpool=False)
    packed = stage(x)
    assert packed.shape == (2, 6, 5, 16) and head(packed).shape == (2, 12, 10, 2)
    stage.bias.assign(np.linspace(-1, 1, 4).astype(np.float32))
    head.bias.assign(np.array([0.5, -0.25], np.float32))
    full = _unpooled_conv_reference(x, stage.kernel.numpy(), stage.bias.numpy())
    np.testing.assert_allclose(tf.nn.depth_to_space(stage(x), 2).numpy(), full, atol=1e-5)
    expected = tf.nn.conv2d(full, head.kernel, 1, "SAME").numpy() + head.bias.numpy()
    np.testing.assert_allclose(head(stage(x)).numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match="odd kernel"):
        SubpixelConv2D(4, 4)
