"""The training task of each network of the loop, registered by network name (like Model Garden's task registry).

The core's table of networks (:data:`handloop.zoo.networks.NETWORKS`) names the networks and their training
order; a task class registers here, with :func:`register_task`, for the networks and the kinds of loop it trains.
Its constructor takes ``(recipe, frames, config)`` and then the trained networks named in its ``needs``, in order.
"""

from __future__ import annotations

from handloop.zoo.config import LoopConfig
from handloop.zoo.networks import NETWORKS

LOOPS = ("hand", "hand-object")
"""The kinds of loop: ``hand``, or ``hand-object`` when the config names an object."""
TASKS: dict[tuple[str, str], type] = {}
"""``(network name, kind of loop) -> task class``, filled by :func:`register_task`."""


def loop_kind(config: LoopConfig) -> str:
    """``hand-object`` when ``config`` names an object, else ``hand``."""
    return "hand-object" if config.object else "hand"


def register_task(network: str, *loops: str):
    """Class decorator: the decorated task trains ``network`` in the ``loops`` named (default: every kind).

    Raises:
        ValueError: naming the known networks or kinds of loop for an unknown one.
    """
    names = [net.name for net in NETWORKS]
    if network not in names or not set(loops) <= set(LOOPS):
        raise ValueError(f"cannot register a task for network {network!r} in loops {loops}: the networks are "
                         f"{names}, the loops {LOOPS}")

    def register(task: type) -> type:
        for loop in loops or LOOPS:
            TASKS[network, loop] = task
        return task

    return register


def task_class(config: LoopConfig, network: str) -> type:
    """The task class that trains ``network`` of ``config``'s loop.

    Raises:
        ValueError: naming the registered tasks when none trains that network in that kind of loop.
    """
    from handloop.recipes.train import object_tasks, tasks  # noqa: F401 - their classes register themselves

    key = (network, loop_kind(config))
    if key not in TASKS:
        raise ValueError(f"no training task for network {network!r} of a {key[1]} loop; registered: {sorted(TASKS)}")
    return TASKS[key]
