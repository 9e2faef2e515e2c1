"""handloop: 3D hand pose and hand-object pose from one depth image with the generalized feedback loop.

``handloop.load(name)`` returns a pretrained loop ready for ``predict(depth_mm, intrinsics)``
(:class:`handloop.zoo.api.HandPoseModel`); ``handloop.list_entries()`` lists the shipped entries;
``handloop.export.load(path)`` runs an exported artefact with the same API.

The subpackages form layers, each importing only the ones below it:

* :mod:`handloop.zoo`, the core: cameras, preprocessing, metrics, layers, networks, the loop graphs, the
  registry of pretrained entries and the inference API;
* :mod:`handloop.recipes`: the synthetic generator, the dataset readers, the input pipelines and the training
  recipes and tasks;
* :mod:`handloop.export`: the loop compiled into one artefact per format, their runners and the benchmark;
* :mod:`handloop.cli`: the ``handloop`` command.

Importing :mod:`handloop` is light: a subpackage is imported on first use, and TensorFlow by the modules that
need it.
"""

import importlib

__version__ = "0.1.0"

SUBPACKAGES = ("zoo", "recipes", "export", "cli")
"""The subpackages, from the core up."""


def load(name_or_path, iterations=None):
    """Loads a zoo entry by registry name or card path (see :func:`handloop.zoo.registry.load`)."""
    from handloop.zoo.registry import load as _load

    return _load(name_or_path, iterations)


def list_entries():
    """The shipped zoo entries (see :func:`handloop.zoo.registry.list_entries`)."""
    from handloop.zoo.registry import list_entries as _list_entries

    return _list_entries()


def __getattr__(name):
    if name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *SUBPACKAGES])
