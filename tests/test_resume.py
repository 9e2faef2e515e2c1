"""Training outlasts a process: a run killed (SIGKILL) mid-epoch and resumed in a new process ends with the same
weights as an uninterrupted run in another process; two runs of a recipe give the same weights."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import yaml

from test_train_cli import TINY_MODEL

STAGE = {"epochs": 2, "steps_per_epoch": 60, "batch_size": 4, "learning_rate": 0.003}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A tiny localizer recipe and its generated frames; returns a function writing it with another workdir."""
    root = tmp_path_factory.mktemp("resume")
    tree = {"name": "tiny-resume", "model": TINY_MODEL, "stages": {"localizer": STAGE},
            "data": {"train": str(root / "train"), "test": str(root / "test"), "shuffle_buffer": 8,
                     "generate": {"train": {"frames": 12, "seed": 1}, "test": {"frames": 2, "seed": 1001}}}}

    def write(name):
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**tree, "workdir": str(root / name)}))
        return path

    return write


def _train(path, **popen):
    command = ("from handloop.cli import main; raise SystemExit(main(['train', %r, '--stage', 'localizer', "
               "'--no-progress', '--checkpoint-every', '0']))" % str(path))
    return subprocess.Popen([sys.executable, "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, **popen)


def _weights(path) -> list[np.ndarray]:
    arrays = []
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda _, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def _run_dir(path):
    return path.parent / path.stem / "tiny-resume"


@pytest.fixture(scope="module")
def whole(recipe):
    """An uninterrupted run in its own process (it also generates the frames the other runs read)."""
    path = recipe("whole")
    assert _train(path).wait(timeout=600) == 0
    return path


def test_killed_mid_epoch_and_resumed_equals_uninterrupted(recipe, whole):
    killed = recipe("killed")
    process = _train(killed)
    index = _run_dir(killed) / "localizer" / "ckpt" / "checkpoint"
    deadline = time.monotonic() + 300
    while not index.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    import tensorflow as tf

    saved = tf.train.load_checkpoint(str(index.parent))
    position = (int(saved.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE")),
                int(saved.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")))
    assert position < (STAGE["epochs"], 0) and position != (0, 0), f"the kill came too late or too early: {position}"
    assert not (_run_dir(killed) / "stages" / "localizer.weights.h5").exists()
    assert _train(killed).wait(timeout=600) == 0
    for a, b in zip(_weights(_run_dir(whole) / "localizer" / "localizer.weights.h5"),
                    _weights(_run_dir(killed) / "localizer" / "localizer.weights.h5"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_two_runs_give_identical_weights(recipe, whole):
    """The recipe's seed fixes the initial weights as well as the data: a second, separate run is bit-identical."""
    second = recipe("second")
    assert _train(second).wait(timeout=600) == 0
    for a, b in zip(_weights(_run_dir(whole) / "stages" / "localizer.weights.h5"),
                    _weights(_run_dir(second) / "stages" / "localizer.weights.h5"), strict=True):
        np.testing.assert_array_equal(a, b)
