"""Atomic file writing: nothing half-written is ever read as complete.

Every writer in handloop (shards, checkpoints, weights, exported artefacts, figures, result files) writes to a
temporary name beside the target and renames it into place only when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; on success renames it to ``path``, on error removes it.

    The temporary name ends with the target's whole name (``.tmp123.net.weights.h5``) so libraries that infer a
    format from the name still work. Parent directories are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp{os.getpid()}.{path.name}")
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():  # a directory artefact replaces the old one whole
            import shutil

            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp)
            else:
                tmp.unlink()


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (shipped weights and downloads are checked against it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def user_cache() -> Path:
    """handloop's per-user cache folder: ``$HANDLOOP_CACHE``, else ``$XDG_CACHE_HOME/handloop``, else
    ``~/.cache/handloop`` (training runs and downloads; it outlives a clone of the repository)."""
    if os.environ.get("HANDLOOP_CACHE"):
        return Path(os.environ["HANDLOOP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "handloop"


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
