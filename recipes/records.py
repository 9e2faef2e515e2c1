"""The frame record: one depth frame with its labels, as stored in TFRecord shards by every data source.

The synthetic generator and the real-dataset converters write the same records, so training pipelines read any
of them alike. Depth is stored compactly as a 16-bit PNG of the window holding the hand (``window`` gives its
top-left pixel in the frame), and pasted back into a zero frame of ``frame_size`` when read.

Fields (units): ``depth_png`` 16-bit PNG, mm; ``window`` (x0, y0) pixels; ``frame_size`` (H, W) pixels;
``intrinsics`` (fx, fy, cx, cy) pixels; ``y_up`` the camera's y convention of ``joints_xyz``; ``joints_xyz`` (J, 3)
mm; ``joints_uvd`` (J, 3) pixels and mm; ``joint_set`` name; ``com_uvd`` (3,) the centre-of-mass hand detection
of :func:`handloop.zoo.preprocess.center_of_mass` (pixels, mm); ``cube`` mm; ``subject`` id; ``tip_visibility`` (5,) 1 where
the fingertip (MSRA order: index, middle, ring, pinky, thumb) is seen, 0 where occluded or outside the frame.
Hand-object frames add: ``object`` the :data:`handloop.zoo.objects.OBJECTS` name; ``object_rotation`` (3, 3) object -> camera;
``object_translation`` (3,) object centre, camera mm; ``corners_xyz`` (8, 3) bounding-box corners, camera mm, in
:meth:`handloop.zoo.objects.ObjectModel.corners` order; ``corner_visibility`` (3,) of the keypoint corners
(:attr:`handloop.zoo.objects.ObjectModel.keypoints`). Records without them parse with ``has_object`` False and zeros.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from handloop.zoo.camera import Intrinsics, tf_xyz_to_uvd
from handloop.zoo.fileio import TEMP_PREFIX, write_text

SHARD_PATTERN = "shard-{index:05d}-of-{count:05d}.tfrecord"
MANIFEST = "manifest.json"


@dataclasses.dataclass
class Frame:
    """One labelled depth frame.

    Attributes:
        depth_mm: ``(H, W)`` float32 depth in mm, 0 where missing.
        intrinsics: the camera.
        joints_xyz: ``(J, 3)`` joints in camera mm, in the camera's own y convention.
        joint_set: name of the joint order (:mod:`handloop.zoo.joints`).
        cube: crop cube side for this frame, mm.
        com_uvd: ``(3,)`` hand centre found by centre of mass, pixels and mm.
        subject: id of the person (or synthetic subject).
        tip_visibility: ``(5,)`` 1 where the fingertip (index, middle, ring, pinky, thumb) is seen, else 0.
        object_name: name of the held :data:`handloop.zoo.objects.OBJECTS` model, None for a hand alone.
        object_rotation: ``(3, 3)`` object -> camera rotation (None without an object).
        object_translation: ``(3,)`` object centre in camera mm.
        corners_xyz: ``(8, 3)`` object bounding-box corners in camera mm.
        corner_visibility: ``(3,)`` 1 where the keypoint corner is seen, else 0.
    """

    depth_mm: np.ndarray
    intrinsics: Intrinsics
    joints_xyz: np.ndarray
    joint_set: str
    cube: float
    com_uvd: np.ndarray
    subject: int = 0
    tip_visibility: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(5, np.float32))
    object_name: str | None = None
    object_rotation: np.ndarray | None = None
    object_translation: np.ndarray | None = None
    corners_xyz: np.ndarray | None = None
    corner_visibility: np.ndarray | None = None

    @property
    def joints_uvd(self) -> np.ndarray:
        """``(J, 3)`` joints in pixels and mm."""
        return self.intrinsics.xyz_to_uvd(self.joints_xyz)


def _png16(window: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # Level 1: 3x faster to write than the default 6, for 15 % more bytes.
    Image.fromarray(window.astype(np.uint16)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_frame(frame: Frame) -> bytes:
    """Serialises a :class:`Frame` to a ``tf.train.Example`` (depth rounded to whole mm, window-cropped)."""
    import tensorflow as tf

    depth = np.rint(frame.depth_mm).clip(0, 65535)
    rows, cols = np.flatnonzero(depth.any(1)), np.flatnonzero(depth.any(0))
    y0, y1, x0, x1 = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if len(rows) else (0, 1, 0, 1)
    cam = frame.intrinsics

    def floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.asarray(values, np.int64).ravel()))

    def text(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    features = {
        "depth_png": text(_png16(depth[y0:y1, x0:x1])),
        "window": ints([x0, y0]),
        "frame_size": ints(depth.shape),
        "intrinsics": floats(cam.as_array()),
        "camera": text(json.dumps(dataclasses.asdict(cam)).encode()),
        "y_up": ints([cam.y_up]),
        "joints_xyz": floats(frame.joints_xyz),
        "joints_uvd": floats(frame.joints_uvd),
        "joint_set": text(frame.joint_set.encode()),
        "com_uvd": floats(frame.com_uvd),
        "cube": floats([frame.cube]),
        "subject": ints([frame.subject]),
        "tip_visibility": floats(frame.tip_visibility),
    }
    if frame.object_name is not None:
        features.update({
            "object": text(frame.object_name.encode()),
            "object_rotation": floats(frame.object_rotation),
            "object_translation": floats(frame.object_translation),
            "corners_xyz": floats(frame.corners_xyz),
            "corner_visibility": floats(frame.corner_visibility),
        })
    # Deterministic: map entries in key order, so equal frames give equal bytes in every process.
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


def decode_frame(record: bytes) -> Frame:
    """Parses a serialised record back into a :class:`Frame` (numpy), depth pasted into the full frame."""
    import tensorflow as tf

    example = tf.train.Example.FromString(record)
    f = example.features.feature
    window = np.asarray(Image.open(io.BytesIO(f["depth_png"].bytes_list.value[0])), np.float32)
    x0, y0 = f["window"].int64_list.value
    depth = np.zeros(tuple(f["frame_size"].int64_list.value), np.float32)
    depth[y0:y0 + window.shape[0], x0:x0 + window.shape[1]] = window
    cam = Intrinsics(**json.loads(f["camera"].bytes_list.value[0]))

    def array(key, shape):
        return np.asarray(f[key].float_list.value, np.float32).reshape(shape) if key in f else None

    return Frame(
        depth_mm=depth, intrinsics=cam,
        joints_xyz=np.asarray(f["joints_xyz"].float_list.value, np.float32).reshape(-1, 3),
        joint_set=f["joint_set"].bytes_list.value[0].decode(), cube=f["cube"].float_list.value[0],
        com_uvd=np.asarray(f["com_uvd"].float_list.value), subject=f["subject"].int64_list.value[0],
        tip_visibility=array("tip_visibility", (5,)) if "tip_visibility" in f else np.ones(5, np.float32),
        object_name=f["object"].bytes_list.value[0].decode() if "object" in f else None,
        object_rotation=array("object_rotation", (3, 3)), object_translation=array("object_translation", (3,)),
        corners_xyz=array("corners_xyz", (8, 3)), corner_visibility=array("corner_visibility", (3,)),
    )


def parse_example(serialized, num_joints: int, height: int, width: int, windowed: bool = False) -> dict:
    """tf.data parser: a serialised record -> dict of tensors.

    With ``windowed`` False, ``depth`` is the whole ``(H, W)`` frame; with True it is only the stored window
    ``(h, w)`` around hand and object, seen as a camera of its own: the principal point and every pixel coordinate
    (``intrinsics``, ``joints_uvd``, ``com_uvd``, ``corners_uvd``) are shifted by the window's top-left pixel, so
    that any crop of it equals the crop of the whole frame while a training pipeline never builds the 1.2 MB frame.
    Millimetre coordinates (``joints_xyz``, ``object_translation``, ``corners_xyz``) are the same either way.

    Returns ``depth`` float32 mm, ``intrinsics`` ``(4,)``, ``joints_uvd`` and ``joints_xyz``
    ``(J, 3)``, ``com_uvd`` ``(3,)``, ``cube`` scalar mm, ``y_up`` bool, ``subject`` int64, ``tip_visibility``
    ``(5,)``, ``has_object`` bool, ``object`` name (empty without one), ``object_rotation`` ``(3, 3)``,
    ``object_translation`` ``(3,)`` mm, ``corners_xyz`` and ``corners_uvd`` ``(8, 3)``, ``corner_visibility`` ``(3,)``
    (zeros without an object).
    """
    import tensorflow as tf

    spec = {
        "depth_png": tf.io.FixedLenFeature([], tf.string),
        "window": tf.io.FixedLenFeature([2], tf.int64),
        "intrinsics": tf.io.FixedLenFeature([4], tf.float32),
        "y_up": tf.io.FixedLenFeature([1], tf.int64),
        "joints_xyz": tf.io.FixedLenFeature([num_joints * 3], tf.float32),
        "joints_uvd": tf.io.FixedLenFeature([num_joints * 3], tf.float32),
        "com_uvd": tf.io.FixedLenFeature([3], tf.float32),
        "cube": tf.io.FixedLenFeature([1], tf.float32),
        "subject": tf.io.FixedLenFeature([1], tf.int64),
        "tip_visibility": tf.io.FixedLenFeature([5], tf.float32, default_value=[1.0] * 5),
        "object": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "object_rotation": tf.io.FixedLenFeature([9], tf.float32, default_value=[0.0] * 9),
        "object_translation": tf.io.FixedLenFeature([3], tf.float32, default_value=[0.0] * 3),
        "corners_xyz": tf.io.FixedLenFeature([24], tf.float32, default_value=[0.0] * 24),
        "corner_visibility": tf.io.FixedLenFeature([3], tf.float32, default_value=[0.0] * 3),
    }
    f = tf.io.parse_single_example(serialized, spec)
    window = tf.cast(tf.io.decode_png(f["depth_png"], channels=1, dtype=tf.uint16)[..., 0], tf.float32)
    x0, y0 = tf.cast(f["window"][0], tf.int32), tf.cast(f["window"][1], tf.int32)
    if windowed:
        depth, shift = window, tf.cast(tf.stack([x0, y0]), tf.float32)
    else:
        shape = tf.shape(window)
        depth = tf.pad(window, [[y0, height - y0 - shape[0]], [x0, width - x0 - shape[1]]])
        depth, shift = tf.ensure_shape(depth, [height, width]), tf.zeros([2])
    intrinsics = f["intrinsics"] - tf.pad(shift, [[2, 0]])
    uvd_shift = tf.pad(shift, [[0, 1]])
    corners = tf.reshape(f["corners_xyz"], [8, 3])
    return {
        "depth": depth,
        "intrinsics": intrinsics,
        "joints_uvd": tf.reshape(f["joints_uvd"], [num_joints, 3]) - uvd_shift,
        "joints_xyz": tf.reshape(f["joints_xyz"], [num_joints, 3]),
        "com_uvd": f["com_uvd"] - uvd_shift,
        "cube": f["cube"][0],
        "y_up": f["y_up"][0] > 0,
        "subject": f["subject"][0],
        "tip_visibility": f["tip_visibility"],
        "has_object": tf.strings.length(f["object"]) > 0,
        "object": f["object"],
        "object_rotation": tf.reshape(f["object_rotation"], [3, 3]),
        "object_translation": f["object_translation"],
        "corners_xyz": corners,
        "corners_uvd": _project(corners, intrinsics, f["y_up"][0] > 0),
        "corner_visibility": f["corner_visibility"],
    }


def _project(xyz, intrinsics, y_up):
    """TF: ``(N, 3)`` camera mm -> pixels and mm (:func:`handloop.zoo.camera.tf_xyz_to_uvd`, ``y_up`` a boolean
    tensor); zeros where z <= 0 (a frame without an object stores zero corners)."""
    import tensorflow as tf

    placed = xyz[:, 2:] > 0
    return tf.where(placed, tf_xyz_to_uvd(tf.where(placed, xyz, 1.0), intrinsics, y_up), 0.0)


def shard_path(directory: str | Path, index: int, count: int) -> Path:
    """Path of shard ``index`` of ``count`` in ``directory``."""
    return Path(directory) / SHARD_PATTERN.format(index=index, count=count)


MANIFEST_KEYS = ("frames", "shards", "frame_size", "num_joints")
"""What every manifest holds: frame count, shard count, frame size (H, W) in pixels, joints per frame."""


def read_manifest(directory: str | Path) -> dict:
    """Reads a shard folder's manifest (settings, frame size, joint count).

    Raises:
        FileNotFoundError: naming the folder when it holds no manifest.
        ValueError: naming the manifest when it is not JSON or lacks one of :data:`MANIFEST_KEYS`.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{directory} holds no {MANIFEST}: not a handloop shard folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: corrupt manifest, not JSON ({error})") from None
    missing = [k for k in MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise ValueError(f"{path}: corrupt manifest, it lacks {missing}")
    return manifest


def prepare_folder(directory: str | Path, manifest: dict) -> Path:
    """Makes ``directory`` a shard folder for ``manifest``, or checks that it already is one for the same settings.

    A new or empty folder gets the manifest; an existing manifest must hold the same ``settings`` and ``frames``.
    What a killed writer left half-written is removed by the next shard written
    (:func:`handloop.zoo.fileio.atomic_path`). Several writers (hosts sharing the folder) may prepare it at once:
    each writes the same manifest atomically, and a folder holding only writers' temporary folders counts as empty.

    Raises:
        ValueError: naming both settings when the folder was made with others, or when it is not empty and holds
            no manifest.
    """
    directory = Path(directory)
    path = directory / MANIFEST
    if path.is_file():
        existing = read_manifest(directory)
        if existing.get("settings") != manifest["settings"] or existing.get("frames") != manifest["frames"]:
            raise ValueError(f"{directory} holds frames made with other settings {existing.get('settings')}; "
                             f"refusing to mix in {manifest['settings']}: choose another --out")
    elif directory.exists() and any(not entry.name.startswith(TEMP_PREFIX) for entry in directory.iterdir()):
        raise ValueError(f"{directory} is not empty and holds no {MANIFEST}: choose another --out")
    else:
        write_text(path, json.dumps(manifest, indent=2))
    return directory


def list_shards(directory: str | Path) -> list[Path]:
    """The complete shards of a folder, in order.

    Raises:
        ValueError: naming the missing shards, a truncated one (:func:`check_shard`), or one holding fewer records
            than the manifest's ``frames`` and ``settings.shard_size`` give it (cut at a record's end).
    """
    manifest = read_manifest(directory)
    count = manifest["shards"]
    paths = [shard_path(directory, i, count) for i in range(count)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"{directory} is incomplete: {len(missing)} of {count} shards missing (e.g. {missing[0]}); "
                         "run the generation or conversion again to resume it")
    frames, size = manifest["frames"], (manifest.get("settings") or {}).get("shard_size")
    counts = [check_shard(path) for path in paths]
    for index, (path, found) in enumerate(zip(paths, counts)):
        if size and found != min(size, frames - index * size):
            raise shard_error(path, f"{found} records, the manifest gives it {min(size, frames - index * size)}")
    if sum(counts) != frames:
        raise ValueError(f"{directory}: its shards hold {sum(counts)} records, the manifest says {frames} frames: "
                         "a shard is truncated or corrupt")
    return paths


def shard_error(path: Path, detail: str) -> ValueError:
    """The one-line error for a truncated or corrupt shard ``path``."""
    return ValueError(f"{path}: truncated or corrupt shard ({detail}); remove it and run the generation or "
                      "conversion again to rewrite it")


def check_shard(path: Path) -> int:
    """Walks a TFRecord shard's record frames (8-byte length, 4-byte CRC, the data, 4-byte CRC) by their lengths,
    without reading the data, and returns the number of records. TensorFlow reads a shard cut inside a record as if
    it ended before that record, silently dropping frames; this catches it.

    Raises:
        ValueError: naming the shard when a record runs past the end of the file.
    """
    size, offset, count = path.stat().st_size, 0, 0
    with open(path, "rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(8)
            offset += 16 + int.from_bytes(header, "little") if len(header) == 8 else size + 1
            if offset > size:
                raise shard_error(path, f"record {count + 1} runs past the end of the file")
            count += 1
    return count


def read_records(directory: str | Path, limit: int | None = None) -> Iterator[bytes]:
    """Yields the serialised records of a complete shard folder in order, the first ``limit`` (all when None).

    Raises:
        ValueError: naming the shard when one is truncated (:func:`check_shard`) or corrupt (a failed checksum).
    """
    import tensorflow as tf

    shards = list_shards(directory)
    count = 0
    for shard in shards:
        try:
            for record in tf.data.TFRecordDataset(str(shard)):
                if count == limit:
                    return
                count += 1
                yield record.numpy()
        except tf.errors.DataLossError as error:
            raise shard_error(shard, error.message.splitlines()[0]) from None


def corrupt_shard_error(directories, error) -> ValueError:
    """The one-line error for ``error``, a DataLossError a tf.data pipeline over the shard folders ``directories``
    raised without saying which shard: reads them through :func:`read_records` to name it."""
    for directory in directories:
        try:
            for _ in read_records(directory):
                pass
        except ValueError as named:
            return named
    return ValueError(f"a shard of {', '.join(map(str, directories))} is corrupt ({error.message.splitlines()[0]})")


FILES_PER_WORKER = 4
"""A worker of a multi-worker run reads its own shard files when each gets at least this many; with fewer, every
worker reads the whole (identically shuffled) record stream and parses every ``count``-th record."""


def frames_dataset(directory: str | Path, windowed: bool = False, shuffle_buffer: int = 0, seed: int = 0,
                   part: tuple[int, int] = (0, 1)):
    """A tf.data.Dataset of parsed frames (:func:`parse_example`, whole or ``windowed``) of a complete shard
    folder: once, in order; or, with ``shuffle_buffer``, endlessly in a seeded order.

    Shuffled, pass ``p`` reads the shards in an order drawn from the stateless seed ``(seed, p)``, eight at a time
    and interleaved; the records then go through blocks of ``shuffle_buffer`` each permuted with the stateless seed
    ``(seed + 1, block)``. The order depends only on ``seed`` (no global random state, nothing shared between
    iterators), so a resumed iterator carries on exactly; the records are parsed after the shuffle, so a training
    checkpoint, which stores the current block, holds compressed records (about 24 KB per synthetic frame), not
    decoded frames.

    ``part`` ``(index, count)``: with ``count`` above 1, only worker ``index``'s part of the frames, each carrying
    ``position`` (int64), a number unique across the workers' streams: with :data:`FILES_PER_WORKER` shard files
    per worker or more, the worker reads every ``count``-th file (from ``index``) and its ``n``-th frame has position
    ``n * count + index``; else it takes every ``count``-th record (from ``index``) of the stream a single worker
    reads, whose position is its place in that stream.
    """
    import tensorflow as tf

    manifest = read_manifest(directory)
    files = [str(p) for p in list_shards(directory)]
    height, width = manifest["frame_size"]
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"input part {index} of {count} does not exist")
    by_files = count > 1 and len(files) >= FILES_PER_WORKER * count
    if by_files:
        files = files[index::count]
    if shuffle_buffer:
        seed = tf.constant(seed, tf.int64)

        def one_pass(index):
            order = tf.random.experimental.stateless_shuffle(tf.constant(files), tf.stack([seed, index]))
            return tf.data.Dataset.from_tensor_slices(order).interleave(
                tf.data.TFRecordDataset, cycle_length=min(8, len(files)))

        def permute(index, block):
            return tf.random.experimental.stateless_shuffle(block, tf.stack([seed + 1, index]))

        blocks = tf.data.Dataset.counter().flat_map(one_pass).batch(shuffle_buffer)
        records = tf.data.Dataset.zip(tf.data.Dataset.counter(), blocks).map(permute).unbatch()
    else:
        records = tf.data.TFRecordDataset(files)

    def parse(serialized):
        return parse_example(serialized, manifest["num_joints"], height, width, windowed)

    if count == 1:
        return records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    numbered = tf.data.Dataset.zip(tf.data.Dataset.counter(), records)
    numbered = (numbered.map(lambda n, record: (n * count + index, record)) if by_files
                else numbered.shard(count, index))
    return numbered.map(lambda position, record: {**parse(record), "position": position},
                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
