"""handloop's model zoo: cameras, preprocessing, metrics, the feedback-loop networks and pretrained entries.

``zoo.load(name)`` returns a :class:`zoo.api.HandPoseModel`; ``zoo.list()`` the shipped entries. Importing
:mod:`zoo` is light: TensorFlow is imported by the modules that need it.
"""

__version__ = "0.1.0"


def load(name_or_path, iterations=None):
    """Loads a zoo entry by registry name or card path (see :func:`zoo.registry.load`)."""
    from zoo.registry import load as _load

    return _load(name_or_path, iterations)


def list():  # noqa: A001 - the zoo's public verb, as in the docs
    """The shipped zoo entries (see :func:`zoo.registry.list_entries`)."""
    from zoo.registry import list_entries

    return list_entries()
