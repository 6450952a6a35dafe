"""Checks for notebook 12 (training on many devices and machines)."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from labkit.checks import ExerciseError, passed, require_answer, require_number

__all__ = ["scaled_recipe", "second_worker_config"]


def scaled_recipe(global_batch: Any, scaled_lr: Any) -> None:
    """4 replicas x 32 examples each; base recipe: batch 32, lr 0.05 -> linear scaling."""
    ex = "scaled recipe"
    hint = ("With MirroredStrategy you pass the GLOBAL batch to fit: per-replica batch x number of "
            "replicas. The linear scaling rule multiplies the learning rate by the same factor the "
            "global batch grew by.")
    require_answer(ex, global_batch, "global_batch", hint)
    require_answer(ex, scaled_lr, "scaled_lr", hint)
    # np.int64(128), 128.0, np.array([128]) and np.float32(0.2) are right too; "128" and True are not
    global_batch = require_number(ex, global_batch, "`global_batch`", hint)
    scaled_lr = require_number(ex, scaled_lr, "`scaled_lr`", hint)
    if global_batch != 128:
        why = " (that is the per-replica batch)" if global_batch == 32 else ""
        raise ExerciseError(ex, f"global_batch={global_batch!r} is not right{why}.", hint)
    if not math.isclose(scaled_lr, 0.2, rel_tol=1e-6):   # float32(0.2) is 0.2 to 3e-9
        why = " - the learning rate did not grow with the batch" if math.isclose(scaled_lr, 0.05, rel_tol=1e-6) else ""
        raise ExerciseError(ex, f"scaled_lr={scaled_lr!r} is not right{why}.", hint)
    passed(ex, "global batch 128, learning rate 0.2")


_WANT = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"], "ps": ["10.0.0.3:2222"]},
         "task": {"type": "worker", "index": 1}}


def second_worker_config(config: Any) -> None:
    """TF_CONFIG of worker 1 of {worker: [10.0.0.1:2222, 10.0.0.2:2222], ps: [10.0.0.3:2222]}.

    Exactly the keys TF_CONFIG needs (no others, at any level), "host:port" strings, an integer
    task index (a bool or a string is refused), and a dict that ``json.dumps`` can write into the
    environment variable.
    """
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
    if not isinstance(cluster, dict):
        raise ExerciseError(ex, f"'cluster' is {cluster!r}; it should be a dict from job name to addresses.", hint)
    extra = sorted(map(str, set(cluster) - {"worker", "ps"}))
    if extra:
        raise ExerciseError(ex, f"'cluster' has jobs {extra} that this cluster does not have: only 'worker' and "
                                "'ps'.", "List exactly the cluster's jobs; TensorFlow would try to reach every "
                                         "address of every job you name. " + hint)
    for job, addresses in cluster.items():
        if not isinstance(addresses, (list, tuple)) or not all(isinstance(a, str) for a in addresses):
            raise ExerciseError(ex, f"cluster[{job!r}] is {addresses!r}; it should be a list of \"host:port\" "
                                    "strings.", hint)
    if {k: list(v) for k, v in cluster.items()} != _WANT["cluster"]:
        raise ExerciseError(ex, f"'cluster' is {cluster!r}; it must list both workers in order and the ps.", hint)
    if not isinstance(task, dict) or task.get("type") != "worker":
        raise ExerciseError(ex, f"'task' is {task!r}; its type should be 'worker'.", hint)
    extra = sorted(map(str, set(task) - {"type", "index"}))
    if extra:
        raise ExerciseError(ex, f"'task' has the keys {extra} besides 'type' and 'index'.",
                            "'task' has exactly two keys: {\"type\": \"worker\", \"index\": i}. " + hint)
    if "index" not in task:
        raise ExerciseError(ex, "'task' has no 'index': which worker is this process?", hint)
    index = task["index"]
    if isinstance(index, (bool, np.bool_)):
        raise ExerciseError(ex, f"the task index is the bool {index!r}, not an integer.",
                            "Write the integer index (True happens to equal 1 in Python, but JSON writes it as "
                            "true and TensorFlow needs a number). " + hint)
    if isinstance(index, str):
        raise ExerciseError(ex, f"the task index is the string {index!r}, not an integer.",
                            "Write the number without quotes. " + hint)
    if not isinstance(index, (int, np.integer)):
        raise ExerciseError(ex, f"the task index is {index!r}, not an integer.", hint)
    if index != 1:
        why = " - indices count from 0, so the second worker is 1" if index == 2 else ""
        raise ExerciseError(ex, f"task index {index!r} is not the second worker{why}.", hint)
    try:
        json.dumps(config)
    except (TypeError, ValueError) as err:
        raise ExerciseError(ex, f"json.dumps(worker_config) fails ({err}): TF_CONFIG cannot be written into the "
                                "environment.", "TF_CONFIG travels as a JSON string in an environment variable: "
                                                "use plain Python ints, strings, lists and dicts (int(i), not "
                                                "np.int64).") from None
    passed(ex, "this process is worker 1 of a 2-worker, 1-ps cluster")
