"""The PCA prior: a fixed linear layer from the pose embedding to 3J joint coordinates (DeepPrior)."""

from __future__ import annotations

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="handloop")
class PCAPrior(keras.layers.Layer):
    """``(B, K)`` embedding -> ``(B, J, 3)`` pose in cube units: ``x @ components + mean``, not trained.

    The weights are the K leading principal components ``(K, 3J)`` of the training poses and their mean ``(3J,)``,
    set with :meth:`set_pca`; they are saved with the model like any weights.
    """

    def __init__(self, num_joints: int, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.num_joints = num_joints

    def build(self, input_shape):
        dim = 3 * self.num_joints
        self.components = self.add_weight(shape=(input_shape[-1], dim), initializer="glorot_uniform",
                                          trainable=False, name="components")
        self.mean = self.add_weight(shape=(dim,), initializer="zeros", trainable=False, name="mean")

    def set_pca(self, components: np.ndarray, mean: np.ndarray) -> None:
        """Sets ``(K, 3J)`` components and the ``(3J,)`` mean (cube units); ValueError on a shape mismatch."""
        if tuple(components.shape) != tuple(self.components.shape) or tuple(mean.shape) != tuple(self.mean.shape):
            raise ValueError(f"PCA of shapes {components.shape}, {mean.shape} does not fit the layer's "
                             f"{tuple(self.components.shape)}, {tuple(self.mean.shape)}")
        self.components.assign(components)
        self.mean.assign(mean)

    def call(self, x):
        flat = keras.ops.matmul(x, self.components) + self.mean
        return keras.ops.reshape(flat, (-1, self.num_joints, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_joints, 3)

    def get_config(self):
        return {**super().get_config(), "num_joints": self.num_joints}
