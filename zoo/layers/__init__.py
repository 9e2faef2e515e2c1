"""Keras layers of the feedback loop: spatial transformer crop and paste (more join as the zoo grows)."""

from zoo.layers.stn import ISTNPaste, STNCrop, istn_paste, stn_crop

__all__ = ["ISTNPaste", "STNCrop", "istn_paste", "stn_crop"]
