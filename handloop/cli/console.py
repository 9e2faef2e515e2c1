"""What the ``handloop`` command writes to the terminal: strict JSON on stdout, and native libraries' start-up
noise kept off stderr.

TensorFlow's C++ side logs through absl before ``absl::InitializeLog()`` runs, so ``TF_CPP_MIN_LOG_LEVEL`` does
not reach every line (``WARNING: All log messages before absl::InitializeLog() ...``, ``Could not find cuda
drivers``, ``oneDNN custom operations are on``, ``failed call to cuInit``). Such lines are written straight to
file descriptor 2, below Python, so the command filters that descriptor: :func:`quiet_native_stderr`. Only the
command does this; a process that imports :mod:`handloop` keeps its descriptors as they are.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import threading
from typing import Iterator

import numpy as np

NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} [\d:.]+ +\d+ "
                   rb"\S+:\d+\] )")
"""Lines of native start-up and converter logging dropped unless ``--verbose``: absl's pre-initialisation notice
and every absl/glog-format info, warning or error line (``I0000 00:00:1796207347.90 27389 cudart_stub.cc:31] ...``).
Fatal (``F``) lines pass."""

QUIET_LOGGERS = ("tensorflow", "absl", "h5py", "tf2onnx")
"""Python loggers of the libraries below handloop, set to ERROR unless ``--verbose``."""


def strict(value):
    """``value`` with every float NaN or infinity replaced by None and numpy scalars and arrays made plain Python,
    so ``json.dumps(..., allow_nan=False)`` accepts it (strict JSON has no ``NaN`` literal)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # paths and other objects by their text


def dumps(document) -> str:
    """``document`` as strict JSON on one line (see :func:`strict`)."""
    return json.dumps(strict(document), allow_nan=False)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Sends everything written to stdout while the block runs, by Python or by native code (file descriptor 1), to
    stderr, keeping stdout for the JSON document written after it."""
    stdout = sys.stdout
    stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stdout = stdout
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Drops :data:`NOISE` lines written to file descriptor 2 while the block runs; every other line passes.

    Native writes go through a pipe read by a thread that forwards the lines it keeps; Python's own ``sys.stderr``
    (progress bars, errors, warnings) is pointed straight at the terminal so partial lines are not held back.
    Python loggers of :data:`QUIET_LOGGERS` are raised to ERROR for the block.
    """
    import logging

    sys.stderr.flush()
    terminal = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward():
        with open(read, "rb") as lines:
            for line in lines:
                if not NOISE.match(line):
                    os.write(terminal, line)

    pump = threading.Thread(target=forward, name="handloop-stderr", daemon=True)
    pump.start()
    python_stderr = sys.stderr
    if python_stderr is sys.__stderr__:  # not a test's capture: keep Python's writes unfiltered and unbuffered
        sys.stderr = open(os.dup(terminal), "w", buffering=1, encoding=python_stderr.encoding,
                          errors="backslashreplace")
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(terminal, 2)  # closes the pipe's last write end here: the pump reads to its end
        pump.join(timeout=5)
        os.close(terminal)


def show_library_logs() -> None:
    """For ``--verbose``: handloop's own debug log (the converters' output among it) goes to stderr."""
    import logging

    logger = logging.getLogger("handloop")
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
