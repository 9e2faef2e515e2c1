"""Writes synthetic frames to TFRecord shards: deterministic, resumable, refusing a folder of other settings.

Shard ``i`` draws everything from ``numpy.random.default_rng([seed, i])``, so the bytes of a shard depend only on
the settings and its index, never on the worker count or on an earlier interruption. Each shard is written under
a temporary name and renamed when complete; a rerun skips the shards that exist. A generation can render only some
shards (``handloop data synth --shards I:J`` or ``--worker K --workers-total N``): hosts sharing one folder each
write their part, every one the same manifest, and the folder is complete once every shard file is there. Each
shard holds
``SUBJECTS_PER_SHARD`` subjects, drawn from the same seed, so two seeds give disjoint subjects (a test set of
unseen people).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

from typing import Annotated

import numpy as np
from tqdm.auto import tqdm

from handloop.recipes.records import encode_frame, prepare_folder, shard_path
from handloop.zoo.camera import CAMERAS
from handloop.zoo.config import Count, Positive
from handloop.zoo.fileio import atomic_path
from handloop.zoo.objects import OBJECTS, get_object
from handloop.zoo.validate import ConfigError, OneOf, Range, check

SUBJECTS_PER_SHARD = 5
OBJECT_MODES = {
    "none": (),
    "cuboid": ("cuboid-large", "cuboid-small"),
    "mixed": (None, "cuboid-large", "cuboid-small", "cylinder", "sphere"),
    **{name: (name,) for name in OBJECTS},
}
"""Per ``--objects`` mode, what each frame holds, drawn uniformly (None: the hand alone); each object's own name
is a mode holding only it (the training data of a hand-object loop for that object)."""


@dataclasses.dataclass(frozen=True)
class SynthSettings:
    """What a shard folder holds: frame count, seed, object mode (:data:`OBJECT_MODES`), camera name, cube side
    (mm) and frames per shard.

    Raises:
        ConfigError: (a ValueError) listing the fields of wrong type or out of range.
    """

    frames: Count
    seed: Annotated[int, Range(0)]
    objects: Annotated[str, OneOf(OBJECT_MODES)] = "none"
    camera: Annotated[str, OneOf(CAMERAS)] = "synth"
    cube_mm: Positive = 300.0
    shard_size: Count = 250

    def __post_init__(self):
        problems = check(type(self), dataclasses.asdict(self))
        if problems:
            raise ConfigError("synthetic data settings", problems)

    @property
    def shards(self) -> int:
        """Number of shards (``shard_size`` frames each, the last one possibly fewer)."""
        return -(-self.frames // self.shard_size)

    def shard_frames(self, index: int) -> int:
        """Number of frames in shard ``index``."""
        return min(self.shard_size, self.frames - index * self.shard_size)


def _object(rng: np.random.Generator, mode: str):
    choices = OBJECT_MODES[mode]
    name = choices[rng.integers(len(choices))] if choices else None
    return get_object(name) if name else None


def shard_frames(settings: SynthSettings, index: int):
    """Yields the :class:`handloop.recipes.records.Frame` s of shard ``index``, rendered :data:`BATCH` at a time.

    Everything is drawn from ``numpy.random.default_rng([seed, index])``; subject ids are
    ``seed * 1_000_000 + index * SUBJECTS_PER_SHARD + k``, so two seeds never share a subject.
    """
    from handloop.recipes.synth.hand import HandShape
    from handloop.recipes.synth.scene import BATCH, SceneConfig, finish_frame, render_scenes, sample_scene

    rng = np.random.default_rng([settings.seed, index])
    camera = CAMERAS[settings.camera]
    config = SceneConfig(cube_mm=settings.cube_mm)
    shapes = [HandShape.sample(rng) for _ in range(SUBJECTS_PER_SHARD)]
    first_subject = settings.seed * 1_000_000 + index * SUBJECTS_PER_SHARD
    count = settings.shard_frames(index)
    for start in range(0, count, BATCH):
        scenes = []
        for k in range(start, min(count, start + BATCH)):
            subject = k % SUBJECTS_PER_SHARD
            scenes.append(sample_scene(rng, shapes[subject], first_subject + subject, camera, config,
                                       _object(rng, settings.objects)))
        for scene, clean in zip(scenes, render_scenes(scenes, camera)):
            yield finish_frame(scene, clean, rng, camera, config)


DEMO_SEED = 424_242
"""Seed of the subjects and poses of :func:`fresh_frames` by default: neither the training (1) nor the test (1001)
seed of the recipes."""


def fresh_frames(count: int, cube_mm: float, seed: int = DEMO_SEED, objects: str = "none") -> list:
    """``count`` synthetic frames (:class:`handloop.recipes.records.Frame`) of subjects drawn from ``seed``, in memory,
    hand-only or holding ``objects`` (an ``--objects`` mode of :class:`SynthSettings`): the frames of the demo, of
    ``handloop bench``'s error column and of int8 calibration."""
    settings = SynthSettings(frames=count, seed=seed, cube_mm=cube_mm, objects=objects)
    return [frame for index in range(settings.shards) for frame in shard_frames(settings, index)]


def write_shard(settings: SynthSettings, directory: Path, index: int) -> Path:
    """Renders shard ``index`` and writes it under a temporary name, renamed when complete; returns its path."""
    import tensorflow as tf

    path = shard_path(directory, index, settings.shards)
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for frame in shard_frames(settings, index):
            writer.write(encode_frame(frame))
    return path


def _manifest(settings: SynthSettings) -> dict:
    camera = CAMERAS[settings.camera]
    return {"source": "synth", "settings": dataclasses.asdict(settings), "shards": settings.shards,
            "frames": settings.frames, "frame_size": [camera.height, camera.width], "num_joints": 21,
            "joint_set": "msra21"}


def prepare_directory(settings: SynthSettings, directory: str | Path) -> Path:
    """Creates ``directory`` with its manifest, or checks that an existing one holds the same settings
    (:func:`handloop.recipes.records.prepare_folder`; raises ValueError naming both otherwise)."""
    return prepare_folder(directory, _manifest(settings))


def _shard_job(job):
    settings, directory, index = job
    return write_shard(settings, Path(directory), index)


def part_shards(settings: SynthSettings, shards: str | None = None, worker: int | None = None,
                workers_total: int | None = None) -> range:
    """The shard indices one host renders: ``shards`` ``"I:J"`` (shards I to J-1), or every ``workers_total``-th
    shard from ``worker`` (0-based), or all of them when neither is given.

    Raises:
        ValueError: one line naming the bad option.
    """
    count = settings.shards
    if shards is not None and worker is not None:
        raise ValueError("give either --shards or --worker/--workers-total, not both")
    if shards is not None:
        first, colon, end = shards.partition(":")
        if not (colon and first.isdigit() and end.isdigit() and int(first) < int(end) <= count):
            raise ValueError(f"--shards {shards!r} must be I:J with 0 <= I < J <= {count} (this data set's shards)")
        return range(int(first), int(end))
    if (worker is None) != (workers_total is None):
        raise ValueError("--worker and --workers-total go together")
    if worker is None:
        return range(count)
    if not 0 <= worker < workers_total:
        raise ValueError(f"--worker must be in 0..{workers_total - 1} (--workers-total {workers_total}), got {worker}")
    return range(worker, count, workers_total)


def generate(settings: SynthSettings, directory: str | Path, workers: int = 1, progress: bool = True,
             only: range | None = None) -> list[Path]:
    """Writes every missing shard of ``settings`` (of those in ``only``, when given: :func:`part_shards`) into
    ``directory``; returns their paths in order.

    ``workers`` processes render shards in parallel; the bytes written depend neither on it nor on ``only``.
    Temporary files a killed run left behind on this host are removed first; several hosts may write disjoint parts
    into one shared folder at once.

    Raises:
        ValueError: for ``workers`` below 1 or a folder made with other settings.
    """
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    directory = prepare_directory(settings, directory)
    indices = range(settings.shards) if only is None else only
    paths = [shard_path(directory, i, settings.shards) for i in indices]
    todo = [i for i, p in zip(indices, paths) if not p.is_file()]
    total = sum(settings.shard_frames(i) for i in indices)
    done_frames = total - sum(settings.shard_frames(i) for i in todo)
    bar = tqdm(total=total, initial=done_frames, unit="frame", desc=f"synth {directory.name}",
               disable=not progress, dynamic_ncols=True)
    jobs = [(settings, str(directory), i) for i in todo]
    with bar:
        if workers > 1 and len(jobs) > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for path in pool.imap(_shard_job, jobs):
                    bar.update(settings.shard_frames(_index(path)))
        else:
            for job in jobs:
                bar.update(settings.shard_frames(_index(_shard_job(job))))
    return paths


def _index(path: Path) -> int:
    return int(path.name.split("-")[1])
