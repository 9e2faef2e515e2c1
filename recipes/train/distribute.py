"""Choosing a ``tf.distribute`` strategy and the worker roles of a run across several machines.

``auto`` picks :class:`tf.distribute.MultiWorkerMirroredStrategy` when ``TF_CONFIG`` names a cluster,
:class:`tf.distribute.MirroredStrategy` on several local GPUs and the default (single device) strategy otherwise.
Every worker of a multi-worker run runs the same program; the chief (the ``chief`` task, else ``worker`` 0) alone
writes checkpoints, validation, histories and finished stages, and every worker feeds its own part of the data
(:func:`input_part`). A multi-worker strategy must be created before any other TensorFlow op of the process.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from handloop.recipes.config import STRATEGIES


def cluster_config(environ=os.environ) -> dict | None:
    """Reads ``TF_CONFIG``: ``{"cluster": {task type: [host:port, ...]}, "task": {"type", "index"}}``, or None
    when it is unset or empty.

    Raises:
        ValueError: one line naming the problem when it is not such JSON, or its task is not in its cluster.
    """
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not all(
            isinstance(hosts, list) and hosts for hosts in cluster.values()):
        raise ValueError('TF_CONFIG needs "cluster": {task type: [host:port, ...]} with at least one address')
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) or not (
            0 <= task["index"] < len(cluster[task["type"]])):
        raise ValueError(f'TF_CONFIG "task" {task!r} is not one of its cluster\'s tasks '
                         f'({", ".join(f"{kind} 0-{len(hosts) - 1}" for kind, hosts in cluster.items())})')
    return config


def resolve(name: str, environ=os.environ) -> str:
    """The strategy ``name`` (:data:`STRATEGIES`) stands for here: ``auto`` becomes ``multiworker`` when
    ``TF_CONFIG`` names a cluster of more than one task, ``mirrored`` with several local GPUs, else ``default``.

    Raises:
        ValueError: for an unknown name, a malformed ``TF_CONFIG``, or ``multiworker`` without one.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    config = cluster_config(environ)
    if name == "multiworker" and config is None:
        raise ValueError("strategy multiworker needs TF_CONFIG naming the cluster and this task (docs/distributed.md)")
    if name != "auto":
        return name
    if config is not None and sum(len(hosts) for hosts in config["cluster"].values()) > 1:
        return "multiworker"
    return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"


def make_strategy(name: str, environ=os.environ) -> tf.distribute.Strategy:
    """Creates the strategy ``name`` resolves to (:func:`resolve`); call it before any other TensorFlow op.

    ``mirrored`` mirrors across this machine's GPUs, or across its logical CPU devices when it has none (one,
    unless the process configured more with ``tf.config.set_logical_device_configuration``)."""
    chosen = resolve(name, environ)
    if chosen == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if chosen == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    return tf.distribute.get_strategy()


def input_part(strategy: tf.distribute.Strategy) -> tuple[int, int]:
    """``(index, count)``: which of the run's input pipelines this process feeds (one per worker; ``(0, 1)`` on
    one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1
    spec = resolver.cluster_spec()
    chiefs = spec.num_tasks("chief") if "chief" in spec.jobs else 0
    count = chiefs + (spec.num_tasks("worker") if "worker" in spec.jobs else 0)
    return (0 if resolver.task_type == "chief" else chiefs + resolver.task_id), count


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always on one machine)."""
    return strategy.extended.should_checkpoint


def barrier(strategy: tf.distribute.Strategy) -> None:
    """Waits until every worker gets here (a collective sum), e.g. until the chief has written files the others
    read; returns at once on one machine."""
    if input_part(strategy)[1] > 1:
        strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None)
