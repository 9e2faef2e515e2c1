"""Training across machines: MultiWorkerMirroredStrategy over two local worker processes ends with the weights of
MirroredStrategy over two logical CPUs; strategy choice and TF_CONFIG errors."""

import json
import os
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import yaml

from test_train_cli import TINY_MODEL

from handloop.recipes.train.distribute import cluster_config, resolve

HANDLOOP = """
import sys
from handloop.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""A ``handloop`` command run by ``python -c``."""
MIRRORED = """
import sys
import tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
from handloop.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""A ``handloop`` command in a process with two logical CPU devices (what --strategy mirrored mirrors over)."""


def tiny_recipe(root, name: str) -> str:
    """A localizer-only recipe of 12 generated frames in 3 shards, 3 steps of 4; returns its path.

    A worker takes every other frame of the stream while a mirrored replica takes half of each batch: the global
    batches are the same, so the runs agree when nothing differs per replica: one view per frame (so each worker's
    half batch holds whole frames) and no dropout (whose masks are drawn per replica)."""
    recipe = {
        "name": name, "workdir": str(root / "runs"),
        "model": {**TINY_MODEL, "localizer": {**TINY_MODEL["localizer"], "dropout": 0.0}}, "augment": {"views_per_frame": 1},
        "data": {"train": str(root / "train"), "test": str(root / "test"), "shuffle_buffer": 8,
                 "generate": {"train": {"frames": 12, "seed": 1, "shard_size": 4}}},
        "stages": {"localizer": {"epochs": 1, "steps_per_epoch": 3, "batch_size": 4}},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return str(path)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def weights(path) -> dict:
    with h5py.File(path) as handle:
        arrays = {}
        handle.visititems(lambda key, item: arrays.update({key: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_multiworker_matches_mirrored_on_two_cpus(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "grpc_proxy", "tf_config")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    command = ["train", "--stage", "localizer", "--no-progress"]
    (tmp_path / "mirrored").mkdir()
    (tmp_path / "multi").mkdir()
    mirrored = tiny_recipe(tmp_path / "mirrored", "tiny")
    multi = tiny_recipe(tmp_path / "multi", "tiny")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = [subprocess.Popen([sys.executable, "-c", MIRRORED, *command, mirrored, "--strategy", "mirrored"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)]
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-c", HANDLOOP, *command, multi, "--strategy", "multiworker"],
            env={**env, "TF_CONFIG": config}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 300  # generous: 73 s beside two training runs (34 s of CPU), over 150 s at nice 19 beside them
    try:
        outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0].decode() for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-3000:]
    run = "runs/tiny/localizer/localizer.weights.h5"
    one, two = weights(tmp_path / "mirrored" / run), weights(tmp_path / "multi" / run)
    assert one.keys() == two.keys() and one
    for key in one:
        np.testing.assert_allclose(one[key], two[key], rtol=1e-4, atol=1e-6, err_msg=key)
    finished = tmp_path / "multi" / "runs" / "tiny"
    assert (finished / "stages" / "localizer.weights.h5").is_file()
    assert json.loads((finished / "localizer" / "settings.json").read_text())["workers"] == 2
    assert not any(p.name.startswith("ckpt-worker") for p in finished.rglob("*"))  # the worker's scratch is gone
    assert (finished / "localizer" / "inputs-worker-1").is_dir()


@pytest.mark.parametrize("text, message", [
    ("{", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', 'TF_CONFIG needs "cluster"'),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "is not one of its cluster's"),
])
def test_a_malformed_tf_config_is_named(text, message):
    with pytest.raises(ValueError, match=message) as error:
        cluster_config({"TF_CONFIG": text})
    assert "\n" not in str(error.value)


def test_auto_picks_multiworker_for_a_cluster_and_default_alone():
    cluster = json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}})
    assert resolve("auto", {"TF_CONFIG": cluster}) == "multiworker"
    assert resolve("auto", {}) == "default"  # this machine has no GPU
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        resolve("multiworker", {})
