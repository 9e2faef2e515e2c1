"""Published test labels and result files of other methods, fetched by name with a SHA-256 check.

The community collection of hand-pose result files (Xinghao Chen's *awesome-hand-pose-estimation*, folder
``evaluation/``) holds each benchmark's test labels and the result files released by the methods' authors, in the
format :mod:`handloop.zoo.resultfile` reads. :func:`fetch` downloads the files of :data:`PUBLISHED` into the user
cache once, like Keras does for weights, and checks each against its SHA-256, so ``handloop compare --published
nyu`` works in a plain clone.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from handloop.zoo.fileio import atomic_path, file_sha256, user_cache

PUBLISHED_URL = "https://raw.githubusercontent.com/xinghaochen/awesome-hand-pose-estimation/master/evaluation/"
"""Default base address of the published files; ``$HANDLOOP_PUBLISHED_URL`` replaces it (a mirror, a test
server)."""


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """One published file: its path under the base address and its SHA-256 (hex)."""

    path: str
    sha256: str

    @property
    def name(self) -> str:
        """The file's name (its stem names the method in ``handloop compare``)."""
        return self.path.rsplit("/", 1)[-1]


@dataclasses.dataclass(frozen=True)
class PublishedSet:
    """A benchmark's published test labels and the result files of published methods."""

    labels: PublishedFile
    results: tuple[PublishedFile, ...]


PUBLISHED: dict[str, PublishedSet] = {
    "nyu": PublishedSet(
        labels=PublishedFile("groundtruth/nyu/nyu_test_groundtruth_label.txt",
                             "ffd64a0b6c2040231d91334a5b08ac4d7f0fc40fecf4f4a32deb7370c7db3707"),
        results=(
            PublishedFile("results/nyu/ICCV15_NYU_Feedback.txt",
                          "d8660937cccbebea591b00e16f41f4d1e2ce58541059d7901604ea4abeb92a9e"),
            PublishedFile("results/nyu/ICCVW17_NYU_DeepPrior++.txt",
                          "cb8651724adb4a1071aafc6baf30638f5641e6320747d149fadee12e4148f891"),
            PublishedFile("results/nyu/TPAMI19_NYU_Generalized_Feedback.txt",
                          "90c4cf33754e23b44b30af0c5c0231066bba7d94ac05e23b9802fd3db066d8ae"),
        )),
}
"""Benchmark name -> its published files: the NYU test labels (8,252 frames, 14 joints) and the results of
the feedback loop (ICCV 2015), DeepPrior++ (ICCVW 2017) and the generalized feedback loop (TPAMI 2019)."""


def base_url() -> str:
    """``$HANDLOOP_PUBLISHED_URL`` if set, else :data:`PUBLISHED_URL`; always ending in ``/``."""
    return os.environ.get("HANDLOOP_PUBLISHED_URL", PUBLISHED_URL).rstrip("/") + "/"


def download(file: PublishedFile, folder: Path) -> Path:
    """``folder/<name>``, downloaded from :func:`base_url` first if missing or not matching its SHA-256.

    The download is written atomically and checked before it takes the file's name.

    Raises:
        OSError: naming the address when the download fails.
        ValueError: naming the address when the downloaded bytes do not match the SHA-256.
    """
    path = folder / file.name
    if path.is_file() and file_sha256(path) == file.sha256:
        return path
    url = base_url() + file.path
    print(f"downloading {url} to {path}", file=sys.stderr)
    with atomic_path(path) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except (urllib.error.URLError, OSError) as error:
            raise OSError(f"could not download {url}: {getattr(error, 'reason', error)}") from None
        if file_sha256(tmp) != file.sha256:
            raise ValueError(f"{url}: downloaded file does not match its SHA-256 {file.sha256} (set "
                             "HANDLOOP_PUBLISHED_URL to a mirror holding the original files)")
    return path


def fetch(benchmark: str) -> tuple[Path, list[Path]]:
    """Returns (labels path, result paths) of ``benchmark``'s published files, in the user cache under
    ``published/<benchmark>``, downloading the ones missing.

    Raises:
        ValueError: naming the known benchmarks for an unknown one.
    """
    if benchmark not in PUBLISHED:
        raise ValueError(f"no published results for {benchmark!r}: expected one of {sorted(PUBLISHED)}")
    files = PUBLISHED[benchmark]
    folder = user_cache() / "published" / benchmark
    return download(files.labels, folder), [download(f, folder) for f in files.results]
