"""The core of handloop: cameras, preprocessing, metrics and result files, the feedback loop's layers, networks
and graphs, the registry of pretrained entries and the inference API.

It imports nothing from :mod:`handloop.recipes`, :mod:`handloop.export` or :mod:`handloop.cli`, which build on
it. Importing it is light: TensorFlow is imported by the modules that need it.
"""
