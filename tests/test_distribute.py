"""labkit.distribute: real local clusters start, train and leave no process behind."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from labkit import distribute as dist


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose, but must not be one of ours (we reap them)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _server_children() -> list[int]:
    """Descendants of this test process that run a labkit cluster task."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "labkit.distribute" in " ".join(child.cmdline()):
                found.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _data(n: int = 512):
    from labkit import data

    ds = data.load("fashion_mnist").subset(n, 10, seed=0)
    return ds.x_train.astype("float32")[..., None] / 255.0, ds.y_train


def _mlp():
    from labkit.models import mnist_mlp

    return mnist_mlp(32)


# ------------------------------------------------------------------ pure helpers
def test_free_ports_are_distinct_and_bindable():
    import socket

    ports = dist.free_ports(4)
    assert len(set(ports)) == 4
    for p in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_free_ports_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer"):
        dist.free_ports(bad)


def test_tf_config_round_trips_and_validates():
    spec = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], "ps": ["127.0.0.1:3"]}
    conf = json.loads(dist.tf_config(spec, "worker", 1))
    assert conf == {"cluster": spec, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="not a job"):
        dist.tf_config(spec, "chief", 0)
    with pytest.raises(ValueError, match="out of range"):
        dist.tf_config(spec, "ps", 1)


@pytest.mark.parametrize("raw", ["{not json", '{"task": {}}', '{"cluster": {}}'])
def test_strategy_from_env_rejects_malformed_tf_config(raw):
    with pytest.raises(ValueError, match="TF_CONFIG"):
        dist.strategy_from_env({"TF_CONFIG": raw})


def test_strategy_from_env_without_cluster_is_local():
    import tensorflow as tf

    strategy = dist.strategy_from_env({})
    n_cpu = len(tf.config.list_logical_devices("CPU"))
    expected = tf.distribute.MirroredStrategy if n_cpu > 1 else type(tf.distribute.get_strategy())
    assert isinstance(strategy, expected)


@pytest.mark.parametrize("kwargs, match", [(dict(n_workers=0), "n_workers"), (dict(n_ps=-1), "n_ps"),
                                           (dict(threads=0), "threads"), (dict(start_timeout=0), "timeout")])
def test_local_cluster_validates_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dist.LocalCluster(**kwargs)


def test_train_sync_validates_arguments():
    import tensorflow as tf

    x, y = _data(64)
    strategy = tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="steps"):
        dist.train_sync(strategy, _mlp, x, y, steps=0, global_batch=32, lr=0.1)
    with pytest.raises(ValueError, match="length"):
        dist.train_sync(strategy, _mlp, x, y[:10], steps=1, global_batch=32, lr=0.1)
    with pytest.raises(ValueError, match="ParameterServerStrategy"):
        dist.train_async(strategy, _mlp, x, y, steps=1, batch=32, lr=0.1)


# ------------------------------------------------------------------ a real cluster
def test_two_workers_one_ps_trains_and_leaves_nothing_running():
    import tensorflow as tf

    x, y = _data(512)
    with dist.LocalCluster(n_workers=2, n_ps=1) as cluster:
        pids = cluster.pids()
        assert len(pids) == 3 and cluster.running
        assert sorted(_server_children()) == sorted(pids)
        # strategy selection by environment: a TF_CONFIG naming a ps job -> parameter servers
        env = {"TF_CONFIG": json.dumps({"cluster": cluster.spec, "task": {"type": "chief", "index": 0}})}
        strategy = dist.strategy_from_env(env)
        assert isinstance(strategy, tf.distribute.ParameterServerStrategy)
        log = dist.train_async(strategy, _mlp, x, y, steps=40, batch=32, lr=0.1, seed=0)
        assert log.replicas == 2
        assert len(log.losses) == 40 and all(math.isfinite(v) for v in log.losses)
        assert all(s >= 0 for s in log.staleness)
        # it learned: the loss of the last steps is well below the first (chance: ln 10 = 2.30)
        assert np.mean(log.losses[-10:]) < 0.8 * log.losses[0], log.losses
        # the variables live on the parameter server
        assert "/job:ps" in log.model.trainable_variables[0].value.device
    assert not cluster.running and dist.live_children() == []
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a cluster process survived the with-block"
    assert _server_children() == []


def test_cluster_is_stopped_when_the_body_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with dist.LocalCluster(n_workers=1, n_ps=0, start_timeout=120) as cluster:
            pids = cluster.pids()
            raise RuntimeError("boom")
    time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    assert dist.live_children() == []


def test_cluster_dies_with_its_parent(tmp_path):
    """Kill -9 the process that started the cluster: its servers must go too."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from labkit.distribute import LocalCluster
        c = LocalCluster(n_workers=1, n_ps=1).start()
        print(" ".join(map(str, c.pids())), flush=True)
        time.sleep(600)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        line = parent.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, line
        assert all(_alive(p) for p in pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), "servers outlived a killed parent"
    finally:
        with pytest.raises(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)  # the group is gone already


_MWMS_SCRIPT = """
import json, sys
import numpy as np
import labkit
labkit.seed_everything(0)
import tensorflow as tf
from labkit import data, distribute
from labkit.models import mnist_mlp

strategy = tf.distribute.MultiWorkerMirroredStrategy()
ds = data.load("fashion_mnist").subset(512, 10, seed=0)
x = ds.x_train.astype("float32")[..., None] / 255.0
log = distribute.train_sync(strategy, lambda: mnist_mlp(32), x, ds.y_train, steps=8, global_batch=64, lr=0.1)
if strategy.cluster_resolver.task_id == 0:
    json.dump({"losses": log.losses, "replicas": log.replicas}, open(sys.argv[1], "w"))
"""


def test_multi_worker_sync_training_equals_single_process_large_batch(tmp_path):
    """Two MultiWorkerMirrored processes averaging gradients = one process, same global batch."""
    import tensorflow as tf

    script = tmp_path / "mwms.py"
    script.write_text(_MWMS_SCRIPT)
    out = tmp_path / "out.json"
    run = dist.run_workers(script, 2, args=[str(out)], timeout=240)
    assert run.ok and dist.live_children() == []
    got = json.loads(out.read_text())
    assert got["replicas"] == 2
    x, y = _data(512)
    ref = dist.train_sync(tf.distribute.get_strategy(), _mlp, x, y, steps=8, global_batch=64, lr=0.1)
    np.testing.assert_allclose(got["losses"], ref.losses, rtol=2e-3, atol=2e-4)


def test_run_workers_reports_a_failing_worker(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import os, sys, time\n"
                      "idx = __import__('json').loads(os.environ['TF_CONFIG'])['task']['index']\n"
                      "sys.exit(3) if idx == 1 else time.sleep(600)\n")
    start = time.monotonic()
    with pytest.raises(dist.ClusterError, match=r"exit codes"):
        dist.run_workers(script, 2, timeout=60)
    assert time.monotonic() - start < 30, "a failed worker must stop the others at once"
    assert dist.live_children() == []
    with pytest.raises(ValueError, match="does not exist"):
        dist.run_workers(tmp_path / "missing.py", 2)
