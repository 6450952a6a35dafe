from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import distributed as check

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_RIGHT = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"], "ps": ["10.0.0.3:2222"]},
          "task": {"type": "worker", "index": 1}}


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


# --------------------------------------------------------------- the distributed step (Exercise 1)
def _steps():
    """(right, per-replica mean, MEAN reduction, returns per-replica values, no update) training steps."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def make(scale_by_global=True, reduce_op="SUM", reduce=True, apply=True):
        def train_step(strategy, model, optimizer, dist_batch, global_batch):
            def replica_step(xb, yb):
                with tf.GradientTape() as tape:
                    per_example = loss_fn(yb, model(xb, training=True))
                    loss = (tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
                            if scale_by_global else tf.reduce_mean(per_example))
                grads = tape.gradient(loss, model.trainable_variables)
                if apply:
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss

            per_replica = strategy.run(replica_step, args=dist_batch)
            if not reduce:
                return per_replica
            return strategy.reduce(getattr(tf.distribute.ReduceOp, reduce_op), per_replica, axis=None)
        return train_step

    return dict(right=make(), replica_mean=make(scale_by_global=False), mean_reduce=make(reduce_op="MEAN"),
                unreduced=make(reduce=False), no_update=make(apply=False))


def test_distributed_step_on_one_replica_accepts_the_answer_and_rejects_what_one_replica_shows(capsys):
    import tensorflow as tf

    steps, strategy = _steps(), tf.distribute.get_strategy()
    check.distributed_step(steps["right"], strategy, seed=0)
    # with one replica a per-replica mean *is* the global mean: the check cannot and does not object
    check.distributed_step(steps["replica_mean"], strategy, seed=1)
    assert capsys.readouterr().out.count("correct") == 2
    with pytest.raises(ExerciseError, match="did not change"):
        check.distributed_step(steps["no_update"], strategy, seed=2)
    with pytest.raises(ExerciseError, match="no answer"):
        check.distributed_step(None, strategy)
    with pytest.raises(ExerciseError, match="not written yet"):
        check.distributed_step(lambda *a: (_ for _ in ()).throw(NotImplementedError), strategy)
    with pytest.raises(ExerciseError, match="returned None"):
        check.distributed_step(lambda *a: None, strategy)
    with pytest.raises(ExerciseError, match="not a tf.distribute.Strategy"):
        check.distributed_step(steps["right"], "mirrored")


_TWO_REPLICAS = textwrap.dedent("""
    import json, sys
    from labkit import distribute
    distribute.split_cpu(2)
    import tensorflow as tf
    sys.path.insert(0, sys.argv[2])
    from test_checks_distributed import _steps
    from labkit.checks import ExerciseError
    from labkit.checks import distributed as check

    strategy = tf.distribute.MirroredStrategy()
    out = {"replicas": strategy.num_replicas_in_sync}
    for name, fn in _steps().items():
        try:
            check.distributed_step(fn, strategy, seed=4)
            out[name] = "passed"
        except ExerciseError as err:
            out[name] = str(err)
    json.dump(out, open(sys.argv[1], "w"))
""")


@pytest.mark.multiprocess
def test_distributed_step_on_two_replicas_tells_each_slip(tmp_path):
    script, out = tmp_path / "two.py", tmp_path / "out.json"
    script.write_text(_TWO_REPLICAS)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    run = subprocess.run([sys.executable, str(script), str(out), str(Path(__file__).parent)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(out.read_text())
    assert got["replicas"] == 2 and got["right"] == "passed"
    assert "moved 2 times too far" in got["replica_mean"] and "compute_average_loss" in got["replica_mean"]
    assert "ReduceOp.SUM" in got["mean_reduce"] and "1/n of the global mean" in got["mean_reduce"]
    assert "one value per replica" in got["unreduced"]
    assert "did not change" in got["no_update"]


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

    import keras
    import tensorflow as tf
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("12_distributed_training.ipynb", "distributed",
                                                 {"tf": tf, "keras": keras, "collections": collections,
                                                  "mirrored": tf.distribute.get_strategy()}, min_exercises=3)
