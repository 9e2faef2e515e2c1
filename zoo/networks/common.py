"""Pieces every network shares: the dense head and weight transfer by layer name."""

from __future__ import annotations

import keras

OUTPUT_DTYPE = "float32"
"""Dtype policy of every network's output layer, whatever the global one: a network built under Keras'
``mixed_bfloat16`` policy (a recipe stage's ``precision``) computes in bfloat16 but returns float32 poses, offsets
and images, which its loss compares with float32 targets. Under the default float32 policy this changes nothing."""


def dense_head(x, widths: tuple[int, ...], dropout: float, prefix: str):
    """FC layers ``widths`` with ReLU, each followed by dropout when ``dropout > 0``; returns the last tensor."""
    for i, width in enumerate(widths, 1):
        x = keras.layers.Dense(width, activation="relu", name=f"{prefix}_fc{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"{prefix}_fc{i}_dropout")(x)
    return x


def transfer_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copies the weights of every layer of ``source`` into the layer of the same name and shapes in ``target``.

    Returns the names of the layers copied (used to grow the synthesizer one stage at a time).
    """
    copied = []
    for layer in target.layers:
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        weights = other.get_weights()
        if weights and [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(weights)
            copied.append(layer.name)
    return copied
