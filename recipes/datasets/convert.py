"""Converts a real dataset's split to TFRecord shards of :class:`handloop.recipes.records.Frame` s, resumably.

Shard ``i`` holds entries ``[i * shard_size, (i + 1) * shard_size)`` of the split in the reader's order, so its
bytes depend only on the dataset and the settings. Each shard is written under a temporary name and renamed when
complete; a rerun skips the shards that exist and refuses a folder made from other settings. To keep shards small,
only the window of ``window`` cubes around the hand detection is kept of each frame (the rest set to 0, missing):
the training crops, augmented, read well inside it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm

from handloop.recipes.datasets.base import DatasetReader, keep_box
from handloop.recipes.records import Frame, encode_frame, prepare_folder, shard_path
from handloop.zoo.fileio import atomic_path
from handloop.zoo.preprocess import crop_box


@dataclasses.dataclass(frozen=True)
class ConvertSettings:
    """How a split is converted: ``split`` name, frames per shard, and the kept window side in cubes."""

    split: str = "train"
    shard_size: int = 1000
    window: float = 2.0

    def __post_init__(self):
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {self.shard_size}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1 cube, got {self.window}")


def hand_window(frame: Frame, window: float) -> Frame:
    """``frame`` with depth outside the square of ``window`` cubes around its hand detection set to 0 (missing)."""
    box = crop_box(frame.com_uvd, frame.cube * window, frame.intrinsics)
    return dataclasses.replace(frame, depth_mm=keep_box(frame.depth_mm, box))


def convert(reader: DatasetReader, settings: ConvertSettings, directory: str | Path,
            progress: bool = True) -> list[Path]:
    """Writes every missing shard of ``reader``'s split ``settings.split`` into ``directory``; returns all shard
    paths in order.

    Raises:
        ValueError / FileNotFoundError: from the reader, naming the bad file; or for a folder of other settings.
    """
    import tensorflow as tf

    directory = Path(directory)
    entries = reader.entries(settings.split)
    if not entries:
        raise ValueError(f"{reader.root}: the {reader.name} {settings.split} split holds no frames")
    count = -(-len(entries) // settings.shard_size)
    cam = reader.intrinsics
    prepare_folder(directory, {
        "source": reader.name, "settings": {**reader.settings(), **dataclasses.asdict(settings)}, "shards": count,
        "frames": len(entries), "frame_size": [cam.height, cam.width], "num_joints": reader.num_joints,
        "joint_set": reader.joint_set})
    paths = [shard_path(directory, i, count) for i in range(count)]
    chunks = [entries[i * settings.shard_size:(i + 1) * settings.shard_size] for i in range(count)]
    todo = [i for i, p in enumerate(paths) if not p.is_file()]
    done = len(entries) - sum(len(chunks[i]) for i in todo)
    with tqdm(total=len(entries), initial=done, unit="frame", desc=f"{reader.name} {settings.split}",
              disable=not progress, dynamic_ncols=True) as bar:
        for i in todo:
            with atomic_path(paths[i]) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
                for entry in chunks[i]:
                    writer.write(encode_frame(hand_window(reader.read(entry), settings.window)))
                    bar.update(1)
    return paths
