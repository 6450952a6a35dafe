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


def _stale(model, batches, lr, staleness, loss_fn, *, keep=None, apply_to_stale=False, sign=1.0,
           current_loss=False, in_place=True):
    """SGD with stale gradients; each keyword swaps in one typical slip."""
    import collections

    import tensorflow as tf

    history = collections.deque(maxlen=(staleness + 1) if keep is None else max(1, keep(staleness)))
    variables = model.trainable_variables
    start = [tf.identity(v) for v in variables]
    losses = []
    for x, y in batches:
        current = [tf.identity(v) for v in variables]
        history.append(current)
        if current_loss:
            losses.append(float(loss_fn(y, model(x))))
        for v, w in zip(variables, history[0]):
            v.assign(w)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, variables)
        base = history[0] if apply_to_stale else current
        for v, w, g in zip(variables, base, grads):
            v.assign(w - sign * lr * g)
        if not current_loss:
            losses.append(float(loss))
    if not in_place:
        for v, w in zip(variables, start):
            v.assign(w)
    return losses


def test_stale_sgd_accepts_the_right_answer_on_fresh_problems(capsys):
    for seed in (0, 1, None):
        check.stale_sgd(_stale, seed=seed)
    assert capsys.readouterr().out.count("correct") == 3


@pytest.mark.parametrize("answer, hint", [
    (None, "no answer yet"),
    (lambda *a: _stale(*a, keep=lambda s: 1), "staleness was ignored"),
    (lambda *a: _stale(*a, keep=lambda s: s), "one update too recent"),
    (lambda *a: _stale(*a, keep=lambda s: s + 2), "one update too old"),
    (lambda *a: _stale(*a, apply_to_stale=True), "applied to the stale weights"),
    (lambda *a: _stale(*a, sign=-1.0), "uphill"),
    (lambda *a: _stale(*a, current_loss=True), "loss computed where the gradient was"),
    (lambda *a: _stale(*a, in_place=False), "did not change"),
    (lambda *a: None, "returned None"),
    (lambda *a: _stale(*a)[:-1], "shape"),
    (lambda *a: [0.5] * len(a[1]) if _stale(*a) else None, "losses are wrong"),   # hard-coded losses
])
def test_stale_sgd_rejects_each_slip_with_its_hint(answer, hint):
    for seed in (3, None):
        with pytest.raises(ExerciseError, match=hint) as err:
            check.stale_sgd(answer, seed=seed)
        assert err.value.hint


@pytest.mark.slow
def test_exercise_cells_student_fails_solution_passes():
    import collections

    import tensorflow as tf
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("12_distributed_training.ipynb", "distributed",
                                                 {"tf": tf, "collections": collections}, min_exercises=3)
