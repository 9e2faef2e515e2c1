"""Compiles a zoo entry's whole loop (detection, crops, networks, N iterations, back to mm) into one artefact."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from handloop.export import metadata as meta
from handloop.export.formats import FORMATS
from handloop.zoo.fileio import atomic_path, refuse_existing


LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def converter_output_logged():
    """Sends what the block prints to Python's stdout to this module's logger at DEBUG instead.

    Keras' SavedModel export inside ``TFLiteConverter`` prints a listing of the saved endpoints (over a hundred
    lines of ``TensorSpec``) that no caller asked for and that would corrupt a caller's own stdout (a JSON
    document, a table); ``handloop -v`` shows it through the log.
    """
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        if printed.getvalue():
            LOG.debug("converter output:\n%s", printed.getvalue().rstrip())


def fixed_batch(loop, config):
    """The loop rebuilt on batch-1 inputs (shared weights): TFLite needs static shapes (docs/export.md, conversion pitfalls)."""
    import keras

    depth = keras.Input((config.height, config.width, 1), batch_size=1, name="depth")
    intrinsics = keras.Input((4,), batch_size=1, name="intrinsics")
    inputs = {"depth": depth, "intrinsics": intrinsics}
    return keras.Model(inputs, loop(inputs), name=f"{loop.name}_b1")


def synthetic_calibration(config, frames: int = 32):
    """Representative inputs for int8 calibration: fresh synthetic frames (the generator's 640x480 camera)."""
    import numpy as np

    from handloop.recipes.synth.generate import fresh_frames
    from handloop.zoo.camera import CAMERAS

    if (config.height, config.width) != (CAMERAS["synth"].height, CAMERAS["synth"].width):
        raise ValueError(f"int8 calibration draws synthetic 640x480 frames; this loop takes "
                         f"{config.height}x{config.width}")
    data = fresh_frames(frames, config.cube_mm, seed=77)

    def representative():
        for frame in data:
            yield {"depth": frame.depth_mm[None, ..., None], "intrinsics": frame.intrinsics.as_array()[None]}

    return representative


def default_path(name: str, fmt: str, precision: str, iterations: int) -> Path:
    """``<entry>-n<N>-<precision><suffix>`` in the working directory."""
    return Path(f"{Path(name).stem}-n{iterations}-{precision}{FORMATS[fmt].suffix}")


def export(name: str, fmt: str, precision: str | None = None, iterations: int | None = None,
           out: str | Path | None = None, force: bool = False) -> Path:
    """Exports zoo entry ``name`` (registry name or card path) as ``fmt`` in ``precision`` (None: the format's
    default, the first of its precisions) to ``out`` (None: :func:`default_path`); returns the artefact's path.

    The artefact is written under a temporary name and renamed when complete, so an export killed mid-way never
    leaves a file that looks finished. An existing file or folder at the path is replaced only with ``force``.

    Raises:
        ValueError: an unknown format, a precision the format does not offer, or a missing toolchain.
        FileExistsError: the path exists and ``force`` is false (checked before any work).
    """
    from handloop.zoo.registry import build_loop, find_entry

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {sorted(FORMATS)}")
    spec = FORMATS[fmt]
    precision = precision or spec.precisions[0]
    if precision not in spec.precisions:
        raise ValueError(f"{fmt} export offers precisions {spec.precisions}, not {precision!r}")
    entry = find_entry(name)
    path = Path(out) if out else default_path(entry.name, fmt, precision,
                                                    entry.config.iterations if iterations is None else iterations)
    refuse_existing(path, force=force)
    loop, config = build_loop(entry, iterations)
    calibration = synthetic_calibration(config) if precision == "int8" else None
    with atomic_path(path) as tmp, converter_output_logged():
        spec.write(fixed_batch(loop, config), tmp, precision, meta.build(entry.name, config, fmt, precision),
                   calibration)
    return path
