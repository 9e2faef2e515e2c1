"""Multiply-add counts from Keras graphs (issue 14), against counts done by hand."""

import keras
import pytest

from handloop.zoo.cost import layer_multiply_adds, loop_multiply_adds, multiply_adds


def test_conv2d_and_dense_counts_by_hand():
    inputs = keras.Input((16, 12, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(inputs)  # -> (8, 6, 8)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten(name="flat")(x)  # 384
    outputs = keras.layers.Dense(10, name="dense")(x)
    counts = multiply_adds(keras.Model(inputs, outputs))
    # conv: 8 x 6 output pixels x 8 filters, each 3 x 3 x 3 taps; dense: 384 inputs x 10 outputs
    assert counts == {"conv": 8 * 6 * 8 * 3 * 3 * 3, "dense": 384 * 10}


def test_nested_models_batch_norm_and_unknown_weighted_layers():
    inner_in = keras.Input((4, 4, 2))
    inner = keras.Model(inner_in, keras.layers.BatchNormalization(name="bn")(inner_in), name="inner")
    outer_in = keras.Input((4, 4, 2))
    assert multiply_adds(keras.Model(outer_in, inner(outer_in))) == {"inner/bn": 4 * 4 * 2}
    embedding = keras.layers.Embedding(10, 3)
    embedding.build((None, 5))
    with pytest.raises(ValueError, match="no multiply-add count"):
        layer_multiply_adds(embedding, (5,), (5, 3))


def test_loop_count_composes_the_networks():
    nets = {"localizer": 1, "predictor": 10, "synthesizer": 100, "updater": 1000}
    assert loop_multiply_adds(nets, 0) == 11
    assert loop_multiply_adds(nets, 2) == 11 + 2 * 1100
