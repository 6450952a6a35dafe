"""Checks for notebook 12 (training on many devices and machines)."""
from __future__ import annotations

import json
import math
from typing import Any

import keras
import numpy as np
import scipy.special
import tensorflow as tf

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer, require_array

__all__ = ["distributed_step", "second_worker_config", "stale_sgd"]

_STALE_HINT = ("Keep the weights of the last staleness + 1 steps (collections.deque(maxlen=staleness + 1)); at "
               "each step append the current weights, load the oldest ones into the model (what a slow worker "
               "read), compute the loss and its gradient there with tf.GradientTape, then put the current "
               "weights back and subtract lr * gradient from them. Return the list of the losses computed.")


_STEP_HINT = ("Inside replica_step(xb, yb): per-example losses from LOSS (reduction=None), then "
              "tf.nn.compute_average_loss(per_example, global_batch_size=global_batch) so that the replicas' "
              "gradients *add up* to the gradient of the global mean; tape.gradient, "
              "optimizer.apply_gradients. Then per_replica = strategy.run(replica_step, args=dist_batch) and "
              "return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).")
_STEP_LR = 0.5


def _step_problem(rng: np.random.Generator, n: int):
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, 3, size=n).astype("int64")
    w = (rng.normal(size=(6, 3)) * 0.5).astype("float32")
    b = (rng.normal(size=(3,)) * 0.1).astype("float32")
    return x, y, w, b


def _step_reference(x, y, w, b, lr: float):
    """The global-batch SGD step on one device, with GradientTape (the oracle): loss, new W, new b."""
    wv, bv = tf.Variable(w), tf.Variable(b)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.matmul(x, wv) + bv))
    gw, gb = tape.gradient(loss, [wv, bv])
    return float(loss), w - lr * gw.numpy(), b - lr * gb.numpy()


def distributed_step(fn, strategy, *, seed: int | None = None) -> None:
    """Exercise 1: ``fn(strategy, model, optimizer, dist_batch, global_batch)`` -> the global mean loss.

    One synchronous SGD step, written with ``strategy.run`` and ``strategy.reduce``, run inside a
    ``tf.function`` under ``strategy`` (the notebook's ``MirroredStrategy`` with 2 replicas) on fresh
    random data; the loss and the new weights must equal one device's step on the whole global batch,
    computed with ``tf.GradientTape``. A per-replica mean (the weights move ``n`` times too far) and a
    MEAN reduction of the loss are told apart - with ``n >= 2`` replicas; with one they look alike.
    """
    ex = "distributed training step"
    require_answer(ex, fn, "train_step", _STEP_HINT)
    if not callable(fn):
        raise ExerciseError(ex, f"`train_step` should be a function, got {type(fn).__name__}.", _STEP_HINT)
    if not isinstance(strategy, tf.distribute.Strategy):
        raise ExerciseError(ex, f"the strategy to check under is {type(strategy).__name__}, not a "
                            "tf.distribute.Strategy.", "Run the cells of section 2 first: they make `mirrored`, "
                            "the MirroredStrategy this check runs your step under.")
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    n = strategy.num_replicas_in_sync
    global_batch = 8 * n
    replay = f"(replay with checks.distributed.distributed_step(train_step, strategy, seed={seed}))"
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(_STEP_LR)
        optimizer.build(model.trainable_variables)
    step = tf.function(lambda batch: fn(strategy, model, optimizer, batch, global_batch))
    for attempt in range(2):
        x, y, w, b = _step_problem(rng, global_batch)
        model.set_weights([w, b])
        dist = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch))
        try:
            out = step(next(iter(dist)))
        except NotImplementedError:
            raise ExerciseError(ex, "`train_step` is not written yet (it raises NotImplementedError).",
                                _STEP_HINT) from None
        except Exception as err:  # noqa: BLE001 - report the learner's error with the hint
            raise ExerciseError(ex, f"running train_step under {type(strategy).__name__} raised "
                                f"{type(err).__name__}: {str(err)[:300]}", _STEP_HINT) from None
        if out is None:
            raise ExerciseError(ex, "train_step returned None.", "Return the loss, reduced over the replicas.")
        if isinstance(out, tf.distribute.DistributedValues):
            raise ExerciseError(ex, "train_step returned one value per replica.",
                                "Combine them into one number: strategy.reduce(tf.distribute.ReduceOp.SUM, "
                                "per_replica, axis=None).")
        try:
            got_loss = float(np.asarray(out))
        except (TypeError, ValueError):
            raise ExerciseError(ex, f"train_step returned {type(out).__name__}, not one loss value.",
                                _STEP_HINT) from None
        want_loss, want_w, want_b = _step_reference(x, y, w, b, _STEP_LR)
        got_w, got_b = (np.asarray(v) for v in model.get_weights())
        where = f"(step {attempt + 1}, {n} replicas, global batch {global_batch}) {replay}"
        moved = np.abs(got_w - w).max()
        if moved == 0:
            raise ExerciseError(ex, f"the weights did not change {where}.",
                                "Apply the gradients: optimizer.apply_gradients(zip(grads, "
                                "model.trainable_variables)) inside replica_step.")
        if not np.allclose(got_w, want_w, rtol=1e-4, atol=1e-5) or not np.allclose(got_b, want_b, atol=1e-5):
            if n > 1 and np.allclose(got_w - w, n * (want_w - w), rtol=1e-3, atol=1e-5):
                raise ExerciseError(ex, f"the weights moved {n} times too far {where}.",
                                    "Each replica averaged its own slice, and the replicas' gradients are "
                                    "*summed*: divide by the global batch with tf.nn.compute_average_loss("
                                    "per_example, global_batch_size=global_batch), not by the slice.")
            if np.allclose(got_w - w, -(want_w - w), rtol=1e-3, atol=1e-5):
                raise ExerciseError(ex, f"the weights moved uphill {where}.", "Minimise the loss: apply the "
                                    "gradient of the loss itself, not of its negative.")
            raise ExerciseError(ex, f"the new weights differ from one device's SGD step on the whole batch "
                                f"{where}: largest difference {np.abs(got_w - want_w).max():.3g}.", _STEP_HINT)
        if not math.isclose(got_loss, want_loss, rel_tol=1e-4, abs_tol=1e-6):
            if n > 1 and math.isclose(got_loss * n, want_loss, rel_tol=1e-4):
                why = ("the loss is 1/n of the global mean: reduce with ReduceOp.SUM - each replica's "
                       "compute_average_loss is already its share of the global mean.")
            elif n > 1 and math.isclose(got_loss, want_loss * n, rel_tol=1e-4):
                why = "the loss is n times the global mean: each replica should return its share, not its own mean."
            else:
                why = "return the global mean loss of the batch (the sum of the replicas' shares)."
            raise ExerciseError(ex, f"train_step returned {got_loss:.6g}, the mean loss of the global batch is "
                                f"{want_loss:.6g} {where}: {why}", _STEP_HINT)
    passed(ex, f"two steps under {type(strategy).__name__} with {n} replicas equal one device's step on the "
               "whole batch")


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


def _stale_reference(W: np.ndarray, b: np.ndarray, batches: list, lr: float, tau: int, *,
                     apply_to_stale: bool = False, sign: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Softmax regression trained by SGD whose step t uses the gradient at the weights of step max(0, t - tau).

    float64 NumPy, the gradient in closed form: dL/dlogits = (softmax - onehot) / n. ``apply_to_stale`` and
    ``sign`` are two typical slips, for their hints.
    """
    history: list[tuple[np.ndarray, np.ndarray]] = []
    losses = []
    for x, y in batches:
        history.append((W, b))
        Ws, bs = history[max(0, len(history) - 1 - tau)]
        logits = x @ Ws + bs
        p = scipy.special.softmax(logits, axis=1)
        losses.append(float(np.mean(scipy.special.logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])))
        d = p.copy()
        d[np.arange(len(y)), y] -= 1.0
        d /= len(y)
        base_W, base_b = (Ws, bs) if apply_to_stale else (W, b)
        W, b = base_W - sign * lr * (x.T @ d), base_b - sign * lr * d.sum(axis=0)
    return W, b, losses


def stale_sgd(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(model, batches, lr, staleness, loss_fn)`` trains ``model`` in place by SGD in which the
    gradient of step t is computed at the weights of step max(0, t - staleness), and returns the losses
    computed at those weights, one per step.

    Checked on fresh softmax-regression problems on every call (``seed`` replays one), against a float64
    NumPy reference with the gradient in closed form: staleness 0 (plain SGD) and a staleness of 2 to 4.
    """
    ex = "stale_sgd"
    seed = fresh_seed(seed)
    tag = f" (replay with seed={seed})"
    require_answer(ex, fn, "stale_sgd", _STALE_HINT)
    rng = np.random.default_rng(seed)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for tau in (0, int(rng.integers(2, 5))):   # from 2: at 1, 'one too recent' would be 'ignored'
        d, k, steps, batch = int(rng.integers(3, 7)), int(rng.integers(2, 5)), int(rng.integers(8, 13)), 8
        lr = float(rng.uniform(0.3, 1.0))
        W0, b0 = rng.normal(size=(d, k)), rng.normal(scale=0.5, size=k)
        data = [(rng.normal(size=(batch, d)), rng.integers(0, k, batch)) for _ in range(steps)]
        model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k)])
        model.layers[0].set_weights([W0.astype("float32"), b0.astype("float32")])
        batches = [(tf.constant(x, tf.float32), tf.constant(y)) for x, y in data]
        call = f" for staleness={tau}, lr={lr:.3g}, {steps} steps"
        got = call_answer(ex, fn, "stale_sgd", (model, batches, lr, tau, loss_fn), _STALE_HINT)
        if got is None:
            raise ExerciseError(ex, "stale_sgd returned None: return the list of losses." + tag, _STALE_HINT)
        losses = require_array(ex, got, "the losses stale_sgd returned", (steps,), "One loss per step.")
        W, b = (np.asarray(v, np.float64) for v in model.layers[0].get_weights())
        want_W, want_b, want_losses = _stale_reference(W0, b0, data, lr, tau)
        if np.allclose(W, W0) and np.allclose(b, b0):
            raise ExerciseError(ex, "the model's weights did not change: train the model in place (assign to its "
                                    "variables)." + call + tag, _STALE_HINT)
        if not (np.allclose(W, want_W, atol=1e-4) and np.allclose(b, want_b, atol=1e-4)):
            slips: dict[str, dict[str, Any]] = {
                     "the gradient came from the current weights: staleness was ignored": dict(tau=0),
                     "the gradient came from one update too recent (off by one: keep staleness + 1 weights)":
                         dict(tau=tau - 1),
                     "the gradient came from one update too old (off by one)": dict(tau=tau + 1),
                     "the update was applied to the stale weights; a parameter server applies it to the current "
                     "ones": dict(tau=tau, apply_to_stale=True),
                     "the update went uphill: subtract lr * gradient": dict(tau=tau, sign=-1.0)}
            for why, kw in slips.items():
                t = kw.pop("tau")
                if t >= 0 and (t, kw) != (tau, {}):
                    sW, sb, _ = _stale_reference(W0, b0, data, lr, t, **kw)
                    if np.allclose(W, sW, atol=1e-4) and np.allclose(b, sb, atol=1e-4):
                        raise ExerciseError(ex, why + "." + call + tag, _STALE_HINT)
            raise ExerciseError(ex, "the trained weights differ from SGD with stale gradients." + call + tag,
                                _STALE_HINT)
        if not np.allclose(losses, want_losses, rtol=1e-4, atol=1e-5):
            _, _, current = _stale_reference(W0, b0, data, lr, 0)
            why = ("the losses are those of other weights: return the loss computed where the gradient was, at "
                   "the stale weights") if tau and not np.allclose(losses, current) else "the losses are wrong"
            raise ExerciseError(ex, why + "." + call + tag, _STALE_HINT)
    passed(ex, "plain SGD at staleness 0, and the gradients of older weights applied to the current ones")
