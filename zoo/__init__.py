"""handloop's model zoo: cameras, preprocessing, metrics, the feedback-loop networks and pretrained entries.

Importing :mod:`zoo` is light; TensorFlow is imported by the modules that need it.
"""

__version__ = "0.1.0"
