"""Arithmetic cost of the zoo's networks: multiply-adds counted from their Keras graphs, for one frame.

A multiply-add (MAC) is one ``a * b + c``; it is 2 floating-point operations (FLOPs). Counted: the layers that
carry weights and do dense arithmetic (convolutions of every kind, including the synthesizer's
:class:`handloop.zoo.layers.unpool.SubpixelConv2D` as executed on its packed maps, dense layers, batch
normalisation as its inference-time scale and shift, the fixed PCA layer). Not counted: element-wise and
data-movement layers without weights (activations, pooling, additions, reshapes, crops), which are memory-bound
and small beside the convolutions. A layer with weights of any other type raises, so a count never silently
leaves a weighted layer out.
"""

from __future__ import annotations

import math

import keras

from handloop.zoo.layers.pca import PCAPrior
from handloop.zoo.layers.unpool import SubpixelConv2D

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


def layer_multiply_adds(layer: keras.layers.Layer, input_shape: tuple, output_shape: tuple) -> int:
    """Multiply-adds of one call of ``layer`` on one frame.

    Args:
        layer: a built Keras layer (channels-last, as every zoo layer is).
        input_shape, output_shape: its input and output shapes without the batch axis.
    Returns:
        The count: a convolution multiplies each output value by its receptive field (``k x k x C_in / groups``;
        a transposed one each input value by ``k x k x C_out``), a dense layer each output by its input width,
        batch normalisation does one multiply-add per value; 0 for layers without weights.
    Raises:
        ValueError: a layer with weights of a type not listed here.
    """
    if isinstance(layer, keras.Model):
        raise ValueError(f"{layer.name} is a model: count it with multiply_adds")
    out, inputs = math.prod(output_shape), math.prod(input_shape)
    if isinstance(layer, _CONVS):
        return out * math.prod(layer.kernel.shape[:-1])  # kernel (*k, C_in / groups, C_out)
    if isinstance(layer, _TRANSPOSED):
        return math.prod(input_shape[:-1]) * math.prod(layer.kernel.shape)  # kernel (*k, C_out, C_in)
    if isinstance(layer, _DEPTHWISE):
        return out * math.prod(layer.kernel.shape[:-2])  # kernel (*k, C_in, multiplier)
    if isinstance(layer, _SEPARABLE):
        depthwise = layer.depthwise_kernel.shape  # (*k, C_in, multiplier)
        return math.prod(output_shape[:-1]) * math.prod(depthwise) + out * depthwise[-2] * depthwise[-1]
    if isinstance(layer, keras.layers.Dense):
        return out * layer.kernel.shape[0]
    if isinstance(layer, keras.layers.BatchNormalization):
        return out
    if isinstance(layer, SubpixelConv2D):  # a 'same' conv of the packed kernel over the half-resolution map
        return math.prod(input_shape[:-1]) * math.prod(layer.packed_kernel().shape)
    if isinstance(layer, PCAPrior):
        return math.prod(input_shape[:-1]) * math.prod(layer.components.shape)
    if layer.weights:
        raise ValueError(f"layer {layer.name} ({type(layer).__name__}) has weights but no multiply-add count")
    return 0


def _shape(tensor) -> tuple:
    return tuple(tensor.shape[1:])


def multiply_adds(model: keras.Model) -> dict[str, int]:
    """Multiply-adds of one frame through a functional ``model`` (one of the loop's networks), per layer.

    Returns ``{layer name: count}`` over its layers in order, nested models counted once each (their layers
    as ``model/layer``); layers without multiply-adds are left out. ``sum(...values())`` is the network's count.
    A loop calls its synthesizer and updater once per iteration: :func:`loop_multiply_adds` composes them.
    """
    counts = {}
    for layer in model.layers:
        if not layer.weights:  # inputs, activations, pooling, merges: no multiply-adds
            continue
        if isinstance(layer, keras.Model):
            counts.update({f"{layer.name}/{k}": v for k, v in multiply_adds(layer).items()})
            continue
        count = layer_multiply_adds(layer, _shape(layer.input), _shape(layer.output))
        if count:
            counts[layer.name] = count
    return counts


def loop_multiply_adds(networks: dict[str, int], iterations: int) -> int:
    """Multiply-adds of one frame through a hand loop with ``iterations`` iterations, from its networks' counts
    (``networks`` maps ``localizer``, ``predictor``, ``synthesizer``, ``updater`` to theirs): the localizer and
    the predictor once, then ``iterations`` x (synthesizer + updater). The detection, crops and the map back to
    mm are not multiply-add layers (see the module's note)."""
    return (networks["localizer"] + networks["predictor"]
            + iterations * (networks["synthesizer"] + networks["updater"]))
