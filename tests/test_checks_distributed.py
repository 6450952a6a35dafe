from __future__ import annotations

import json

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import distributed as check
from labkit.checks import tuning as tcheck

_RIGHT = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"], "ps": ["10.0.0.3:2222"]},
          "task": {"type": "worker", "index": 1}}


def test_scaled_recipe():
    check.scaled_recipe(128, 0.2)
    check.scaled_recipe(4 * 32, 4 * 0.05)
    for gb, lr, hint in [(None, None, "no answer"), (32, 0.2, "per-replica"), (128, 0.05, "did not grow"),
                         (128, 0.1, "not right"), ("128", 0.2, "number"), (True, 0.2, "number")]:
        with pytest.raises(ExerciseError, match=hint):
            check.scaled_recipe(gb, lr)


def test_second_worker_config():
    check.second_worker_config(_RIGHT)
    check.second_worker_config(json.dumps(_RIGHT))  # the JSON string is fine too
    wrong_index = {**_RIGHT, "task": {"type": "worker", "index": 2}}
    swapped = {**_RIGHT, "cluster": {"worker": _RIGHT["cluster"]["worker"][::-1], "ps": ["10.0.0.3:2222"]}}
    for answer, hint in [(None, "no answer"), (wrong_index, "count from 0"), ("{oops", "JSON"), (["x"], "dict"),
                         ({**_RIGHT, "task": {"type": "ps", "index": 0}}, "type"), (swapped, "in order"),
                         ({"cluster": _RIGHT["cluster"]}, "keys")]:
        with pytest.raises(ExerciseError, match=hint):
            check.second_worker_config(answer)


@pytest.mark.parametrize("answer, hint", [
    ({**_RIGHT, "cluster": {**_RIGHT["cluster"], "junk": 5}}, "junk"),
    ({**_RIGHT, "cluster": {**_RIGHT["cluster"], "chief": ["10.0.0.9:2222"]}}, "chief"),
    ({**_RIGHT, "task": {"type": "worker", "index": 1, "junk": "x"}}, "junk"),
    ({**_RIGHT, "task": {"type": "worker", "index": True}}, "bool"),
    ({**_RIGHT, "task": {"type": "worker", "index": "1"}}, "string"),
    ({**_RIGHT, "task": {"type": "worker", "index": 1.5}}, "integer"),
    ({**_RIGHT, "task": {"type": "worker"}}, "index"),
    ({**_RIGHT, "cluster": {"worker": ["10.0.0.1:2222", 2222], "ps": ["10.0.0.3:2222"]}}, "host:port"),
    ({**_RIGHT, "task": {"type": "worker", "index": np.int64(1)}}, "JSON"),
])
def test_second_worker_config_rejects_junk_and_non_integer_indices(answer, hint):
    with pytest.raises(ExerciseError, match=hint) as err:
        check.second_worker_config(answer)
    assert "Hint:" in str(err.value)


@pytest.mark.parametrize("gb, lr", [(np.int64(128), 0.2), (128.0, np.float64(0.2)), (np.array([128]), 0.2),
                                    (np.array(128), np.float32(0.2))])
def test_scaled_recipe_accepts_any_number_type(gb, lr, capsys):
    check.scaled_recipe(gb, lr)
    assert "correct" in capsys.readouterr().out


def test_distinct_learning_rates():
    for g, r in [(4, 16), (np.int64(4), np.int64(16)), (4.0, 16.0), (np.array([4]), 16)]:
        tcheck.distinct_learning_rates(g, r)   # a count in any number type
    for g, r, hint in [(None, 16, "no answer"), (16, 16, "number of trials"), (4, 4, "not right"),
                       (4.5, 16, "integer"), ("4", 16, "string"), (True, 16, "bool"), (4, None, "no answer")]:
        with pytest.raises(ExerciseError, match=hint):
            tcheck.distinct_learning_rates(g, r)
