"""Writes synthetic frames to TFRecord shards: deterministic, resumable, refusing a folder of other settings.

Shard ``i`` draws everything from ``numpy.random.default_rng([seed, i])``, so the bytes of a shard depend only on
the settings and its index, never on the worker count or on an earlier interruption. Each shard is written under
a temporary name and renamed when complete; a rerun skips the shards that exist. Each shard holds
``SUBJECTS_PER_SHARD`` subjects, drawn from the same seed, so two seeds give disjoint subjects (a test set of
unseen people).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from recipes.records import MANIFEST, encode_frame, shard_path
from zoo.camera import CAMERAS
from zoo.fileio import atomic_path, write_text

SHARD_FRAMES = 250
SUBJECTS_PER_SHARD = 5
OBJECT_MODES = ("none",)
"""Object modes this generator renders (``cuboid``/``mixed`` are not implemented yet)."""


@dataclasses.dataclass(frozen=True)
class SynthSettings:
    """What a shard folder holds: frame count, seed, object mode, camera name, cube side (mm)."""

    frames: int
    seed: int
    objects: str = "none"
    camera: str = "synth"
    cube_mm: float = 300.0

    def __post_init__(self):
        if self.frames < 1:
            raise ValueError(f"--frames must be at least 1, got {self.frames}")
        if self.objects not in OBJECT_MODES:
            raise ValueError(f"objects mode {self.objects!r} is not available; this generator renders {OBJECT_MODES}")

    @property
    def shards(self) -> int:
        return -(-self.frames // SHARD_FRAMES)


def write_shard(settings: SynthSettings, directory: Path, index: int) -> Path:
    """Renders and writes shard ``index`` (atomically); returns its path."""
    from recipes.synth.hand import HandShape
    from recipes.synth.scene import SceneConfig, render_frame

    rng = np.random.default_rng([settings.seed, index])
    camera = CAMERAS[settings.camera]
    scene = SceneConfig(cube_mm=settings.cube_mm)
    subjects = [HandShape.sample(rng) for _ in range(SUBJECTS_PER_SHARD)]
    first = index * SHARD_FRAMES
    count = min(SHARD_FRAMES, settings.frames - first)
    path = shard_path(directory, index, settings.shards)
    import tensorflow as tf

    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for k in range(count):
            subject = k % SUBJECTS_PER_SHARD
            frame = render_frame(rng, subjects[subject], camera, scene,
                                 settings.seed * 1_000_000 + index * SUBJECTS_PER_SHARD + subject)
            writer.write(encode_frame(frame))
    return path


def _manifest(settings: SynthSettings) -> dict:
    camera = CAMERAS[settings.camera]
    return {"source": "synth", "settings": dataclasses.asdict(settings), "shards": settings.shards,
            "frames": settings.frames, "frame_size": [camera.height, camera.width], "num_joints": 21,
            "joint_set": "msra21"}


def prepare_directory(settings: SynthSettings, directory: str | Path) -> Path:
    """Creates ``directory`` with its manifest, or checks that an existing one holds the same settings.

    Raises:
        ValueError: naming both settings when the folder was made with others.
    """
    directory = Path(directory)
    manifest = _manifest(settings)
    path = directory / MANIFEST
    if path.is_file():
        existing = json.loads(path.read_text())
        if existing.get("settings") != manifest["settings"]:
            raise ValueError(f"{directory} holds frames made with other settings {existing.get('settings')}; "
                             f"refusing to mix in {manifest['settings']}: choose another --out")
    elif directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty and holds no {MANIFEST}: choose another --out")
    else:
        write_text(path, json.dumps(manifest, indent=2))
    return directory


def _shard_job(job):
    settings, directory, index = job
    return write_shard(settings, Path(directory), index)


def generate(settings: SynthSettings, directory: str | Path, workers: int = 1, progress: bool = True) -> list[Path]:
    """Writes every missing shard of ``settings`` into ``directory``; returns all shard paths in order."""
    directory = prepare_directory(settings, directory)
    paths = [shard_path(directory, i, settings.shards) for i in range(settings.shards)]
    todo = [i for i, p in enumerate(paths) if not p.is_file()]
    done_frames = settings.frames - sum(min(SHARD_FRAMES, settings.frames - i * SHARD_FRAMES) for i in todo)
    bar = tqdm(total=settings.frames, initial=done_frames, unit="frame", desc=f"synth {directory.name}",
               disable=not progress, dynamic_ncols=True)
    jobs = [(settings, str(directory), i) for i in todo]
    with bar:
        if workers > 1 and len(jobs) > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for path in pool.imap(_shard_job, jobs):
                    bar.update(_frames_in(path, settings))
        else:
            for job in jobs:
                bar.update(_frames_in(_shard_job(job), settings))
    return paths


def _frames_in(path: Path, settings: SynthSettings) -> int:
    index = int(path.name.split("-")[1])
    return min(SHARD_FRAMES, settings.frames - index * SHARD_FRAMES)
