"""Atomic file writing: nothing half-written is ever read as complete, and nothing the tool did not make is replaced
unasked.

Every writer in handloop (shards, checkpoints, weights, exported artefacts, figures, result files) writes into a
private temporary folder beside the target (``tempfile.mkdtemp``: an unpredictable name, created exclusively,
readable by its owner only, so no planted link is ever followed) and renames the result into place only when
complete. The folders that killed runs left behind are removed by the next write to the same folder from the same
host (their names hold the writer's process id and host, so hosts sharing a folder never remove each other's). A command's
output named by the user is refused when it already exists, unless ``--force`` (:func:`refuse_existing`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Iterator

TEMP_PREFIX = ".handloop-tmp-"
"""Start of the name of every temporary folder :func:`atomic_path` makes: ``.handloop-tmp-<pid>@<host>-<random>``
(``.handloop-tmp-<pid>-<random>`` from earlier versions)."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path with the same name as ``path``, in a new private folder beside it; on success renames
    it to ``path`` (a directory replaces the old one whole), and in any case removes the private folder.

    The temporary path keeps the target's whole name so libraries that infer a format from it still work; the
    writer creates it, as a file or a directory. Parent directories are created, and temporary folders that
    killed runs left in the same folder are removed first (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    private = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}@{socket.gethostname()}-", dir=path.parent))
    try:
        tmp = private / path.name
        yield tmp
        if tmp.is_dir() and path.is_dir() and not path.is_symlink():  # a directory artefact replaces the old one
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Removes the temporary folders of :func:`atomic_path` in ``folder`` made on this host by a process no longer
    running (a killed write's leftovers); only real directories named ``.handloop-tmp-<pid>[@<host>]-...``, never
    through a link."""
    with os.scandir(folder) as entries:
        for entry in entries:
            pid, _, host = entry.name[len(TEMP_PREFIX):].rpartition("-")[0].partition("@")
            if entry.name.startswith(TEMP_PREFIX) and pid.isdigit() and host in ("", socket.gethostname()) \
                    and entry.is_dir(follow_symlinks=False) and not _running(int(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refuse_existing(*paths: str | os.PathLike | None, force: bool = False) -> None:
    """Checks, before a command does its work, that none of its outputs ``paths`` (None: not written) exists.

    Raises:
        FileExistsError: naming the first that exists and ``--force``, unless ``force``.
    """
    for path in paths:
        if not force and path is not None and os.path.lexists(path):
            kind = "folder" if os.path.isdir(path) else "file"
            raise FileExistsError(f"{path} exists ({kind}): pass --force to replace it, or choose another path")


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
