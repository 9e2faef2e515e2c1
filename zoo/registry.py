"""The pretrained registry: zoo entries shipped in ``zoo/weights/`` as a JSON card plus Keras weights.

An entry ``NAME`` is ``NAME.json`` (its :class:`handloop.zoo.config.LoopConfig`, measured metrics, the weights' SHA-256)
and ``NAME.weights.h5`` (Keras' own weights format of the whole loop, stored as float16 to keep the package
small; loaded into float32 variables). ``load`` verifies the hash before reading a byte of the weights, and also
accepts a path to an entry's JSON card or to a folder holding one.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from handloop.zoo.config import LoopConfig
from handloop.zoo.fileio import atomic_path, file_sha256, write_text

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class RegistryError(ValueError):
    """A zoo entry that cannot be loaded: unknown name, missing or corrupt file, or a config/weights mismatch."""


@dataclasses.dataclass
class Entry:
    """A zoo entry's card."""

    name: str
    config: LoopConfig
    weights: Path
    sha256: str
    metrics: dict
    description: str = ""

    @property
    def size_mb(self) -> float:
        """Size of the weights file in MB."""
        return self.weights.stat().st_size / 1e6 if self.weights.is_file() else float("nan")


def read_entry(card: Path) -> Entry:
    """Reads an entry's JSON card; RegistryError naming the file when it is unreadable or incomplete."""
    try:
        data = json.loads(card.read_text())
        return Entry(name=data["name"], config=LoopConfig.from_dict(data["config"]), weights=card.parent /
                     data["weights"], sha256=data["sha256"], metrics=data.get("metrics", {}),
                     description=data.get("description", ""))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RegistryError(f"{card}: not a valid zoo entry card ({error})") from None


def list_entries(directory: Path = WEIGHTS_DIR) -> list[Entry]:
    """Every entry shipped in ``directory``, by name."""
    return [read_entry(p) for p in sorted(directory.glob("*.json"))]


def find_entry(name_or_path: str | Path) -> Entry:
    """Resolves a registry name, a card path or a folder holding one card to its :class:`Entry`."""
    path = Path(name_or_path)
    if path.is_dir():
        cards = sorted(path.glob("*.json"))
        if len(cards) != 1:
            raise RegistryError(f"{path} must hold exactly one zoo entry card (*.json), found {len(cards)}")
        return read_entry(cards[0])
    if path.suffix == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"zoo entry card not found: {path}")
        return read_entry(path)
    card = WEIGHTS_DIR / f"{name_or_path}.json"
    if not card.is_file():
        known = [e.name for e in list_entries()]
        raise RegistryError(f"unknown zoo entry {str(name_or_path)!r}: known entries are {known or 'none yet'}, "
                            "or pass a path to an entry's .json card")
    return read_entry(card)


def build_loop(entry: Entry, iterations: int | None = None):
    """Builds the entry's loop and loads its verified weights; ``iterations`` overrides N (same weights; a
    predictor-only entry, shipped with 0 iterations, has no updater to iterate).

    Returns ``(loop, config)``: a hand loop, or a hand-object loop when the config names an object.
    """
    from handloop.zoo import loops

    if not entry.weights.is_file():
        raise FileNotFoundError(f"weights of zoo entry {entry.name!r} not found: {entry.weights}")
    if file_sha256(entry.weights) != entry.sha256:
        raise RegistryError(f"{entry.weights} is corrupt or was modified: its SHA-256 does not match the card")
    if iterations and not entry.config.iterations:
        raise RegistryError(f"zoo entry {entry.name!r} is predictor-only (it ships no updater): it runs with "
                            f"iterations 0, not {iterations}")
    config = entry.config if iterations is None else dataclasses.replace(entry.config, iterations=iterations)
    loop = loops.build_loop(entry.config)
    try:
        loop.load_weights(entry.weights)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a mismatched file
        raise RegistryError(f"{entry.weights} does not fit the config of {entry.name!r}: {error}") from None
    if config is not entry.config:
        loop = loops.build_loop(config, {n: loop.get_layer(n) for n in loops.network_names(config)})
    return loop, config


def load(name_or_path: str | Path, iterations: int | None = None):
    """Loads a zoo entry (a registry name or a path to its card) as a :class:`handloop.zoo.api.HandPoseModel`."""
    from handloop.zoo.api import HandPoseModel

    entry = find_entry(name_or_path)
    loop, config = build_loop(entry, iterations)
    return HandPoseModel(loop, config, entry.name, str(entry.weights))


def copy_float16(source: Path, target: Path) -> None:
    """Copies a Keras ``.weights.h5`` file, storing its float32 arrays as float16 (same groups and attributes)."""
    import h5py
    import numpy as np

    def copy(src, dst):
        dst.attrs.update(src.attrs)
        for key, item in src.items():
            if isinstance(item, h5py.Group):
                copy(item, dst.create_group(key))
            else:
                data = item[()]
                dst.create_dataset(key, data=data.astype(np.float16) if data.dtype == np.float32 else data)

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        copy(src, dst)


def save_entry(loop, config: LoopConfig, name: str, metrics: dict, directory: Path = WEIGHTS_DIR,
               description: str = "") -> Entry:
    """Writes a loop's weights (float16) and card into ``directory`` atomically; returns the new entry."""
    directory = Path(directory)
    weights = directory / f"{name}.weights.h5"
    with atomic_path(weights) as tmp, tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "full.weights.h5"
        loop.save_weights(full)
        copy_float16(full, tmp)
    card = {"name": name, "description": description, "config": config.to_dict(), "weights": weights.name,
            "sha256": file_sha256(weights), "metrics": metrics, "parameters": int(loop.count_params())}
    write_text(directory / f"{name}.json", json.dumps(card, indent=2))
    return read_entry(directory / f"{name}.json")
