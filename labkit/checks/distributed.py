"""Checks for notebook 11 (training on many devices and machines)."""
from __future__ import annotations

import json
from typing import Any

from labkit.checks import ExerciseError, passed, require_answer

__all__ = ["scaled_recipe", "second_worker_config"]


def scaled_recipe(global_batch: Any, scaled_lr: Any) -> None:
    """4 replicas x 32 examples each; base recipe: batch 32, lr 0.05 -> linear scaling."""
    ex = "scaled recipe"
    hint = ("With MirroredStrategy you pass the GLOBAL batch to fit: per-replica batch x number of "
            "replicas. The linear scaling rule multiplies the learning rate by the same factor the "
            "global batch grew by.")
    require_answer(ex, global_batch, "global_batch", hint)
    require_answer(ex, scaled_lr, "scaled_lr", hint)
    for name, value in (("global_batch", global_batch), ("scaled_lr", scaled_lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExerciseError(ex, f"`{name}` should be a number, got {type(value).__name__}.", hint)
    if global_batch != 128:
        why = " (that is the per-replica batch)" if global_batch == 32 else ""
        raise ExerciseError(ex, f"global_batch={global_batch!r} is not right{why}.", hint)
    if abs(scaled_lr - 0.2) > 1e-9:
        why = " - the learning rate did not grow with the batch" if abs(scaled_lr - 0.05) < 1e-9 else ""
        raise ExerciseError(ex, f"scaled_lr={scaled_lr!r} is not right{why}.", hint)
    passed(ex, "global batch 128, learning rate 0.2")


_WANT = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"], "ps": ["10.0.0.3:2222"]},
         "task": {"type": "worker", "index": 1}}


def second_worker_config(config: Any) -> None:
    """TF_CONFIG of worker 1 of {worker: [10.0.0.1:2222, 10.0.0.2:2222], ps: [10.0.0.3:2222]}."""
    ex = "TF_CONFIG"
    hint = ('TF_CONFIG has two keys: "cluster" maps each job name ("worker", "ps") to the list of '
            '"host:port" addresses (the same on every host), and "task" says which one this process '
            'is: {"type": "worker", "index": i}, counting from 0.')
    require_answer(ex, config, "worker_config", hint)
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            raise ExerciseError(ex, "`worker_config` is a string but not valid JSON.", hint) from None
    if not isinstance(config, dict):
        raise ExerciseError(ex, f"`worker_config` should be a dict, got {type(config).__name__}.", hint)
    if set(config) != {"cluster", "task"}:
        raise ExerciseError(ex, f"the keys should be 'cluster' and 'task', got {sorted(map(str, config))}.", hint)
    cluster, task = config["cluster"], config["task"]
    if not isinstance(cluster, dict) or {k: list(v) for k, v in cluster.items()
                                         if isinstance(v, (list, tuple))} != _WANT["cluster"]:
        raise ExerciseError(ex, f"'cluster' is {cluster!r}; it must list both workers in order and the ps.", hint)
    if not isinstance(task, dict) or task.get("type") != "worker":
        raise ExerciseError(ex, f"'task' is {task!r}; its type should be 'worker'.", hint)
    if task.get("index") != 1:
        why = " - indices count from 0, so the second worker is 1" if task.get("index") == 2 else ""
        raise ExerciseError(ex, f"task index {task.get('index')!r} is not the second worker{why}.", hint)
    passed(ex, "this process is worker 1 of a 2-worker, 1-ps cluster")
