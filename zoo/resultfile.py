"""The community result-file format: one frame per line, J joints x (u, v, d), space separated.

``u, v`` are pixels of the full depth frame and ``d`` is depth in mm. Frame i of a dataset's test split is line i.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from handloop.zoo.camera import CAMERAS, Intrinsics
from handloop.zoo.fileio import atomic_path


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A dataset's evaluation protocol: camera and number of evaluated joints."""

    name: str
    intrinsics: Intrinsics
    num_joints: int


BENCHMARKS = {
    "nyu": Benchmark("nyu", CAMERAS["nyu"], 14),
    "icvl": Benchmark("icvl", CAMERAS["icvl"], 16),
    "msra": Benchmark("msra", CAMERAS["msra"], 21),
    "synth": Benchmark("synth", CAMERAS["synth"], 21),
}


def get_benchmark(name: str) -> Benchmark:
    """Returns the evaluation protocol of dataset ``name``; ValueError naming the known ones otherwise."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]


def read_rows(path: str | Path, columns: int, named: bool = False, first_line: int = 1, blank_lines: bool = True,
              what: str = "label file") -> tuple[list[str], np.ndarray]:
    """Reads a whitespace-separated text file of numeric rows, checking every line (result and label files).

    Args:
        path: the file.
        columns: numbers per row.
        named: each row starts with one non-numeric field (an image path, as in ICVL's labels).
        first_line: 1-based number of the first row (earlier lines are a header the caller reads).
        blank_lines: True skips blank lines; False rejects them (in a result file, a blank line is a lost frame).
        what: what the file is, for the error messages.
    Returns:
        ``(names, values)``: the leading field of each row (``""`` when not ``named``) and ``(rows, columns)``
        float64 values.
    Raises:
        FileNotFoundError: naming ``what`` and the path.
        ValueError: naming the file and line of a wrong field count, a value that is not a finite number, or a
            blank line where none may be; naming the file when it is not text (a binary file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    skip = int(named)
    names, rows = [], []
    with open(path, encoding="utf-8") as handle:
        try:
            lines = list(enumerate(handle, 1))
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file; expected a {what} of numbers, one frame per line") from None
        for number, line in lines:
            fields = line.split()
            if number < first_line or (not fields and blank_lines):
                continue
            if not fields:
                raise ValueError(f"{path}:{number}: blank line (missing frame); every frame needs one line")
            if len(fields) != skip + columns:
                raise ValueError(f"{path}:{number}: {len(fields)} fields, expected {skip + columns}")
            try:
                values = [float(f) for f in fields[skip:]]
            except ValueError:
                raise ValueError(f"{path}:{number}: a value is not a number") from None
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{path}:{number}: NaN or infinite value")
            names.append(fields[0] if named else "")
            rows.append(values)
    return names, np.asarray(rows, np.float64).reshape(len(rows), columns)


DEPTH_RANGE_MM = (10.0, 5000.0)
"""Depth a joint of a result or label file may have, mm: within a depth camera's reach."""
PIXEL_LIMIT = 10_000.0
"""Largest ``|u|`` or ``|v|`` a joint may have, pixels: far outside any frame, but not a fill value like -1e9."""


def read_results(path: str | Path, num_joints: int, what: str = "result file") -> np.ndarray:
    """Reads a result file (or labels in the same format: ``what="label file"``) into ``(F, num_joints, 3)``
    float64 (u, v in pixels, d in mm).

    Raises:
        FileNotFoundError: naming ``what`` and the path when the file does not exist.
        ValueError: naming the file and line for an empty file, a blank line, a wrong field count (3 per joint),
            a value that is not a finite number, or an implausible row: all zeros (a frame the method skipped),
            a depth outside :data:`DEPTH_RANGE_MM` or a pixel coordinate beyond :data:`PIXEL_LIMIT`; naming the
            file when it is not text.
    """
    _, rows = read_rows(path, 3 * num_joints, blank_lines=False, what=what)
    if not len(rows):
        raise ValueError(f"{path}: the {what} is empty")
    joints = rows.reshape(len(rows), num_joints, 3)
    low, high = DEPTH_RANGE_MM
    problems = ((~joints.any((1, 2)), "all zeros (a skipped frame?)"),
                (((joints[..., 2] < low) | (joints[..., 2] > high)).any(1),
                 f"a depth outside {low:g}-{high:g} mm (d is the third value of each joint, in mm)"),
                ((np.abs(joints[..., :2]) > PIXEL_LIMIT).any((1, 2)), f"a pixel coordinate beyond +-{PIXEL_LIMIT:g}"))
    bad = np.flatnonzero(np.any([flags for flags, _ in problems], 0))
    if len(bad):  # blank lines are refused above, so row i is line i + 1
        problem = next(text for flags, text in problems if flags[bad[0]])
        raise ValueError(f"{path}:{bad[0] + 1}: implausible row: {problem}")
    return joints


def write_results(path: str | Path, joints_uvd: np.ndarray) -> None:
    """Writes ``(F, J, 3)`` joints (u, v pixels, d mm) in the community format, atomically, 3 decimals."""
    joints_uvd = np.asarray(joints_uvd, np.float64)
    if joints_uvd.ndim != 3 or joints_uvd.shape[-1] != 3:
        raise ValueError(f"joints must be (frames, joints, 3), got {joints_uvd.shape}")
    if not np.all(np.isfinite(joints_uvd)):
        raise ValueError("refusing to write NaN or infinite joints to a result file")
    with atomic_path(path) as tmp:
        np.savetxt(tmp, joints_uvd.reshape(len(joints_uvd), -1), fmt="%.3f")


def evaluate_file(result_path: str | Path, labels_uvd: np.ndarray, benchmark: Benchmark) -> np.ndarray:
    """Scores a result file against labels ``(F, J, 3)`` uvd; returns ``(F, J)`` 3D errors in mm.

    Raises:
        ValueError: when the frame counts differ.
    """
    results = read_results(result_path, benchmark.num_joints)
    if len(results) != len(labels_uvd):
        raise ValueError(f"{result_path}: {len(results)} frames, but the labels have {len(labels_uvd)}")
    from handloop.zoo.metrics import joint_errors

    cam = benchmark.intrinsics
    return joint_errors(cam.uvd_to_xyz(results), cam.uvd_to_xyz(labels_uvd))
