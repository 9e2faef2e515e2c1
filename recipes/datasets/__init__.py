"""Readers of the real benchmarks on disk (NYU, ICVL, MSRA15) yielding :class:`handloop.recipes.records.Frame` s, and their
conversion to TFRecord shards."""

from __future__ import annotations

from handloop.recipes.datasets.base import DatasetReader, Entry
from handloop.recipes.datasets.icvl import IcvlReader
from handloop.recipes.datasets.msra import MsraReader
from handloop.recipes.datasets.nyu import NyuReader

READERS: dict[str, type[DatasetReader]] = {"nyu": NyuReader, "icvl": IcvlReader, "msra": MsraReader}
"""Dataset name -> reader class."""


def open_dataset(name: str, root, test_subject: int = 0) -> DatasetReader:
    """The reader of dataset ``name`` over folder ``root``; ``test_subject`` picks MSRA's fold (ignored otherwise).

    Raises:
        ValueError: naming the known datasets for an unknown name.
        FileNotFoundError: naming ``root`` when it does not exist.
    """
    if name not in READERS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(READERS)}")
    if name == "msra":
        return MsraReader(root, test_subject)
    return READERS[name](root)


__all__ = ["READERS", "DatasetReader", "Entry", "IcvlReader", "MsraReader", "NyuReader", "open_dataset"]
