"""Shared test fixtures: the published NYU files (served on the loopback address and downloaded as users get them)
and quiet TensorFlow."""

import http.server
import os
import threading
import urllib.parse
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

PUBLISHED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "published"


@pytest.fixture(scope="session", autouse=True)
def small_pca_fit():
    """Tests fit the predictor's PCA prior on 4 batches of augmented poses instead of 160: cropping 10,240 poses
    took about 20 s for every predictor a test trains, and no test depends on how well the prior is fitted."""
    from handloop.recipes.train.tasks import PredictorTask

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PredictorTask, "pca_batches", 4)
        yield


@pytest.fixture(scope="session")
def published_url():
    """Base address of an HTTP server on 127.0.0.1 serving ../shared/data/published by file name, in place of the
    public source of :mod:`handloop.zoo.published` (whose paths have folders: only the name is looked up)."""
    if not PUBLISHED.is_dir():
        pytest.skip(f"published NYU files not found at {PUBLISHED}")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            return str(PUBLISHED / Path(urllib.parse.urlparse(path).path).name)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def published_source(published_url, tmp_path, monkeypatch) -> Path:
    """Points handloop's published-results download at :func:`published_url` and its user cache at an empty
    folder, which it returns."""
    monkeypatch.setenv("HANDLOOP_PUBLISHED_URL", published_url)
    monkeypatch.setenv("HANDLOOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def published(published_url, tmp_path_factory) -> Path:
    """Folder of the real NYU labels and published result files, downloaded from :func:`published_url` by
    :func:`handloop.zoo.published.fetch` as a user's ``handloop compare --published nyu`` does."""
    from handloop.zoo.published import fetch

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HANDLOOP_PUBLISHED_URL", published_url)
        patch.setenv("HANDLOOP_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("no_proxy", "127.0.0.1")
        labels, _ = fetch("nyu")
    return labels.parent


def blob_frames(count: int, seed: int = 0, height: int = 240, width: int = 320):
    """A tf.data.Dataset of parsed-frame dicts (depth, intrinsics, joints_uvd, cube) with a box-shaped 'hand'.

    Joints scatter around the box so poses vary; enough for pipelines and training loops to learn something.
    """
    import numpy as np
    import tensorflow as tf

    from handloop.zoo.camera import CAMERAS

    cam = CAMERAS["msra"]
    rng = np.random.default_rng(seed)
    depth = np.zeros((count, height, width), np.float32)
    uvd = np.zeros((count, 21, 3), np.float32)
    for i in range(count):
        c = rng.uniform([width * 0.4, height * 0.4, 350], [width * 0.6, height * 0.6, 450])
        w, h = rng.integers(10, 25, 2)
        depth[i, int(c[1]) - h:int(c[1]) + h, int(c[0]) - w:int(c[0]) + w] = c[2]
        uvd[i] = c + rng.normal(0, [w, h, 10], (21, 3))
        uvd[i, 5] = c
    com = uvd[:, 5] + rng.normal(0, [3, 3, 10], (count, 3)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices({
        "depth": depth, "intrinsics": np.tile(cam.as_array(), (count, 1)), "joints_uvd": uvd, "com_uvd": com,
        "cube": np.full(count, 200, np.float32),
    })


def on_one_batch(task, size: int = 8):
    """Makes ``task`` train on one fixed batch of ``size``, repeated: its loss must fall as the network memorises
    it. For tasks whose loss on fresh tiny batches is too noisy to fall reliably in a few steps (the updaters,
    whose T_D draws change with every batch)."""
    import tensorflow as tf

    batch = next(iter(task.build_inputs(size)))
    task.build_inputs = lambda batch_size: tf.data.Dataset.from_tensors(batch).repeat()
    return task


def run_benchmark(name: str, *args) -> None:
    """Runs ``benchmarks/<name>.py`` with ``args`` as its command line; it must end or exit with status 0."""
    import runpy
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    saved, sys.argv = sys.argv, [str(script), *map(str, args)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        assert done.code in (0, None), f"{name} exited with {done.code}"
    finally:
        sys.argv = saved
