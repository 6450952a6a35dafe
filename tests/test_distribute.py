"""labkit.distribute: the strategy TF_CONFIG calls for, split CPUs, and synchronous SGD that is plain SGD.

Oracles: TensorFlow's own ``TFConfigClusterResolver`` on the same TF_CONFIG, full-batch
gradient descent written in NumPy, and a one-replica run of the same training.
The real clusters (parameter servers, multi-worker) are tests/test_cluster.py's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labkit import distribute

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blobs(n: int = 64, d: int = 5, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = (rng.normal(0, 2, size=(k, d))[y] + rng.normal(0, 1, size=(n, d))).astype("float32")
    return x, y.astype("int64")


# ------------------------------------------------------------------ strategy_from_env
class _Recorder:
    """Stands in for a tf.distribute strategy class: records how strategy_from_env built it."""

    made: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        _Recorder.made.append(self)

    @property
    def resolver(self):
        return self.kwargs.get("cluster_resolver", self.args[0] if self.args else None)


@pytest.fixture
def recorded_strategies(monkeypatch):
    """Replace the two cluster strategies (which would connect to the cluster) by recorders."""
    import tensorflow as tf

    made = {}
    for name in ("ParameterServerStrategy", "MultiWorkerMirroredStrategy"):
        made[name] = type(name, (_Recorder,), {})
        monkeypatch.setattr(tf.distribute, name, made[name])
    return made


_W = ["127.0.0.1:20001", "127.0.0.1:20002"]


@pytest.mark.parametrize("config, expected", [
    ({"cluster": {"worker": _W, "ps": ["127.0.0.1:20003"], "chief": ["127.0.0.1:20004"]},
      "task": {"type": "chief", "index": 0}}, "ParameterServerStrategy"),
    ({"cluster": {"worker": _W[:1], "ps": ["127.0.0.1:20003"]}, "task": {"type": "worker", "index": 0}},
     "ParameterServerStrategy"),
    ({"cluster": {"worker": _W}, "task": {"type": "worker", "index": 1}}, "MultiWorkerMirroredStrategy"),
    ({"cluster": {"chief": ["127.0.0.1:20004"], "worker": _W[:1]}, "task": {"type": "chief", "index": 0}},
     "MultiWorkerMirroredStrategy"),
])
def test_strategy_from_env_picks_the_cluster_strategy_with_tensorflows_resolver(config, expected, monkeypatch,
                                                                                recorded_strategies):
    import tensorflow as tf

    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    strategy = distribute.strategy_from_env()
    assert type(strategy) is recorded_strategies[expected]
    oracle = tf.distribute.cluster_resolver.TFConfigClusterResolver()   # reads the same TF_CONFIG
    resolver = strategy.resolver
    assert resolver.cluster_spec().as_dict() == oracle.cluster_spec().as_dict() == config["cluster"]
    assert (resolver.task_type, resolver.task_id) == (config["task"]["type"], config["task"]["index"])


def test_strategy_from_env_with_a_one_task_cluster_trains_locally(monkeypatch, recorded_strategies):
    import tensorflow as tf

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": _W[:1]},
                                                "task": {"type": "worker", "index": 0}}))
    strategy = distribute.strategy_from_env()
    assert not isinstance(strategy, tuple(recorded_strategies.values()))
    if len(tf.config.list_logical_devices("CPU")) == 1 and not tf.config.list_logical_devices("GPU"):
        assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1


def test_strategy_from_env_without_tf_config_is_the_default_strategy_on_one_device(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribute.strategy_from_env()
    n_cpu, n_gpu = len(tf.config.list_logical_devices("CPU")), len(tf.config.list_logical_devices("GPU"))
    if n_gpu > 1 or (n_cpu > 1 and not n_gpu):
        assert isinstance(strategy, tf.distribute.MirroredStrategy)
        assert strategy.num_replicas_in_sync == (n_gpu if n_gpu > 1 else n_cpu)
    else:
        assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1


@pytest.mark.parametrize("raw, match", [
    ("{not json", "must be JSON"), ('{"task": {}}', "must be JSON"), ('["worker"]', "must be JSON"),
    ('{"cluster": {}}', "non-empty mapping"), ('{"cluster": ["127.0.0.1:1"]}', "non-empty mapping"),
])
def test_strategy_from_env_rejects_malformed_tf_config(raw, match, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ValueError, match=match):
        distribute.strategy_from_env()


# ------------------------------------------------------------------ train_sync = plain SGD
def _softmax_regression(w0: np.ndarray, b0: np.ndarray):
    import keras

    def build():
        return keras.Sequential([keras.Input((w0.shape[0],)),
                                 keras.layers.Dense(w0.shape[1], kernel_initializer=keras.initializers.Constant(w0),
                                                    bias_initializer=keras.initializers.Constant(b0))])
    return build


def _numpy_gradient_descent(x, y, w, b, steps: int, lr: float):
    """Full-batch gradient descent on the mean softmax cross-entropy; loss before each update."""
    onehot = np.eye(w.shape[1])[y]
    losses = []
    for _ in range(steps):
        z = x @ w + b
        z = z - z.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        losses.append(float(-np.mean(np.log(p[np.arange(len(y)), y]))))
        g = (p - onehot) / len(y)
        w, b = w - lr * (x.T @ g), b - lr * g.sum(0)
    return losses, w, b


def test_train_sync_with_one_replica_is_full_batch_gradient_descent():
    import tensorflow as tf

    x, y = _blobs(48)
    rng = np.random.default_rng(1)
    w0, b0 = rng.normal(0, 0.3, size=(5, 3)), rng.normal(0, 0.1, size=3)
    # global_batch = every example: each step's batch is the whole (shuffled) set, so the
    # update does not depend on the order and NumPy can follow it exactly
    log = distribute.train_sync(tf.distribute.get_strategy(), _softmax_regression(w0, b0), x, y, steps=12,
                                global_batch=len(x), lr=0.5)
    losses, w, b = _numpy_gradient_descent(x.astype("float64"), y, w0, b0, steps=12, lr=0.5)
    np.testing.assert_allclose(log.losses, losses, rtol=1e-5)
    kernel, bias = log.model.get_weights()
    np.testing.assert_allclose(kernel, w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, b, rtol=1e-4, atol=1e-5)
    assert log.replicas == 1 and log.staleness == [0] * 12 and log.mean_staleness == 0.0
    assert log.samples_per_second == pytest.approx(11 * len(x) / log.seconds)
    assert losses[-1] < 0.5 * losses[0], "the oracle itself must have moved"


def test_train_sync_with_one_step_reports_no_rate():
    import tensorflow as tf

    x, y = _blobs(16)
    w0, b0 = np.zeros((5, 3)), np.zeros(3)
    log = distribute.train_sync(tf.distribute.get_strategy(), _softmax_regression(w0, b0), x, y, steps=1,
                                global_batch=16, lr=0.1)
    assert log.losses == [pytest.approx(np.log(3), rel=1e-6)]   # zero weights: uniform over 3 classes
    assert np.isnan(log.samples_per_second)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=0), ValueError, "steps"), (dict(global_batch=0), ValueError, "batch"),
    (dict(lr=0.0), ValueError, "lr"), (dict(global_batch=65), ValueError, "at least one batch of 65"),
    (dict(y=np.arange(10)), ValueError, "different numbers of examples"),
    (dict(x="pixels"), TypeError, "x"),
])
def test_train_sync_validates_arguments(kwargs, error, match):
    import tensorflow as tf

    x, y = _blobs(64)
    args = dict(x=x, y=y, steps=1, global_batch=32, lr=0.1)
    args.update(kwargs)
    build = _softmax_regression(np.zeros((5, 3)), np.zeros(3))
    with pytest.raises(error, match=match):
        distribute.train_sync(tf.distribute.get_strategy(), build, args.pop("x"), args.pop("y"), **args)


def test_train_async_needs_parameter_servers():
    import tensorflow as tf

    x, y = _blobs(64)
    with pytest.raises(ValueError, match="ParameterServerStrategy"):
        distribute.train_async(tf.distribute.get_strategy(), _softmax_regression(np.zeros((5, 3)), np.zeros(3)),
                               x, y, steps=1, batch=32, lr=0.1)


# ------------------------------------------------------------------ split_cpu (a fresh process)
_SPLIT_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from labkit import distribute

    out = {}
    out["devices"] = [d.name for d in distribute.split_cpu(2)]       # before any TensorFlow op
    out["rerun"] = [d.name for d in distribute.split_cpu(2)]         # a re-run cell
    import keras
    import tensorflow as tf

    strategy = distribute.strategy_from_env()
    out["strategy"], out["replicas"] = type(strategy).__name__, strategy.num_replicas_in_sync
    rng = np.random.default_rng(0)
    y = np.arange(64) % 3
    x = (rng.normal(0, 2, size=(3, 5))[y] + rng.normal(0, 1, size=(64, 5))).astype("float32")

    def build():
        return keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])

    kw = dict(steps=6, global_batch=32, lr=0.1, seed=0)
    mirrored = distribute.train_sync(strategy, build, x, y, **kw)
    single = distribute.train_sync(tf.distribute.get_strategy(), build, x, y, **kw)
    out["mirrored"], out["single"], out["mirrored_replicas"] = mirrored.losses, single.losses, mirrored.replicas
    out["weight_gap"] = max(float(np.max(np.abs(a - b))) for a, b in
                            zip(mirrored.model.get_weights(), single.model.get_weights()))
    try:
        distribute.train_sync(strategy, build, x, y, steps=1, global_batch=33, lr=0.1)
    except ValueError as err:
        out["odd_batch"] = str(err)
    out["after_ops"] = [d.name for d in distribute.split_cpu(2)]     # still fine: the same split
    try:
        distribute.split_cpu(3)                                       # too late: TensorFlow has started
    except ValueError as err:
        out["late"] = str(err)
    json.dump(out, open(sys.argv[1], "w"))
""")


@pytest.mark.multiprocess
def test_split_cpu_before_tensorflow_starts_gives_a_mirrored_strategy_equal_to_one_replica(tmp_path):
    script, out = tmp_path / "split.py", tmp_path / "out.json"
    script.write_text(_SPLIT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    run = subprocess.run([sys.executable, str(script), str(out)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(out.read_text())
    cpus = ["/device:CPU:0", "/device:CPU:1"]
    assert [d[-len("/device:CPU:0"):] for d in got["devices"]] == cpus
    assert got["devices"] == got["rerun"] == got["after_ops"]
    assert got["strategy"] == "MirroredStrategy" and got["replicas"] == got["mirrored_replicas"] == 2
    # two replicas each take half of the global batch and all-reduce: the same SGD as one replica
    np.testing.assert_allclose(got["mirrored"], got["single"], rtol=1e-5, atol=1e-6)
    assert got["weight_gap"] < 1e-5
    assert "global_batch=33 must be a multiple of the 2 replicas" in got["odd_batch"]
    assert "already started with 2 CPU device(s), so it cannot be split into 3" in got["late"]
    assert "before any TensorFlow op" in got["late"]


@pytest.mark.parametrize("n, error", [(0, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_split_cpu_refuses_a_bad_count(n, error):
    with pytest.raises(error, match="n must be"):
        distribute.split_cpu(n)
