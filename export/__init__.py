"""Export: the whole feedback loop as one artefact (SavedModel, TFLite, ONNX, TensorRT) and runners for them.

``handloop.export.export(name, fmt)`` writes an artefact; ``handloop.export.load(path).predict(depth_mm,
intrinsics)`` runs one with the zoo's own API. The formats are one table, :data:`handloop.export.formats.FORMATS`.
Importing this package is light: TensorFlow loads on use.
"""


def export(name, fmt, precision=None, iterations=None, out=None):
    """See :func:`handloop.export.exporter.export`."""
    from handloop.export.exporter import export as _export

    return _export(name, fmt, precision, iterations, out)


def load(path, threads=None):
    """See :func:`handloop.export.formats.load`."""
    from handloop.export.formats import load as _load

    return _load(path, threads)
