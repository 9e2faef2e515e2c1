"""Keras layers of the feedback loop: spatial transformer crop and paste, PCA prior, object renderer, depth
merge and Procrustes pose fitting (graph geometry of the loop is in :mod:`handloop.zoo.layers.geometry`)."""

from handloop.zoo.layers.merge import CubeToDepth, MinMerge, min_merge
from handloop.zoo.layers.pca import PCAPrior
from handloop.zoo.layers.procrustes import FitObjectPose, procrustes
from handloop.zoo.layers.render import RenderObject
from handloop.zoo.layers.stn import ISTNPaste, STNCrop, istn_paste, stn_crop

__all__ = ["CubeToDepth", "FitObjectPose", "ISTNPaste", "MinMerge", "PCAPrior", "RenderObject", "STNCrop",
           "istn_paste", "min_merge", "procrustes", "stn_crop"]
