"""The object renderer as a Keras layer: a known object model in a given pose, ray-cast at every frame pixel."""

from __future__ import annotations

import keras
import tensorflow as tf

from handloop.zoo.layers.merge import FAR_MM
from handloop.zoo.layers.stn import frame_pixels
from handloop.zoo.objects import get_object
from handloop.zoo.render import render_object


@keras.saving.register_keras_serializable(package="handloop")
class RenderObject(keras.layers.Layer):
    """``[rotation (B,3,3), translation (B,3) mm, intrinsics (B,4)]`` -> ``(B, height, width, 1)`` depth mm, 0 = miss.

    The object is :func:`handloop.zoo.objects.get_object` ``(object_name)``; poses are object -> camera in OpenCV axes
    (y down), as :func:`handloop.zoo.render.render_object` takes them. Its output equals ``render_object``'s exactly.
    """

    def __init__(self, object_name: str, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.object_model = get_object(object_name)
        self.object_name, self.height, self.width = object_name, height, width

    def call(self, rotation, translation, intrinsics):
        u, v = frame_pixels(tf.shape(translation)[0], self.height, self.width)
        model = self.object_model
        depth = render_object(model.kind, list(model.size_mm), rotation, translation, u, v, intrinsics)
        # a miss is 0; where TFLite turned the renderer's inf into the largest float, make it 0 again
        return tf.where(depth < FAR_MM, depth, tf.zeros_like(depth))[..., None]

    def get_config(self):
        return {**super().get_config(), "object_name": self.object_name, "height": self.height, "width": self.width}
