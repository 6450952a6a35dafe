"""labkit.cluster and labkit.distribute: real local clusters start privately, train and leave no process behind.

Most tests here start processes (clusters, scripts in a private network): marked ``multiprocess``.
The single-process parts of labkit.distribute are tests/test_distribute.py's. The data is
synthetic (what is tested is the cluster, not Fashion-MNIST): the same generator runs here
and in the scripts, so a script's numbers can be compared with this process's.
"""
from __future__ import annotations

import inspect
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

from labkit import cluster as dist
from labkit import distribute


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
            if "labkit.cluster" in " ".join(child.cmdline()):
                found.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def synthetic(n):
    """Ten classes of 28x28x1 images: a fixed random template per class plus as much noise."""
    import numpy as np

    rng = np.random.default_rng(0)
    templates = rng.uniform(0, 1, size=(10, 28, 28, 1))
    y = np.arange(n) % 10
    x = 0.5 * templates[y] + 0.5 * rng.uniform(0, 1, size=(n, 28, 28, 1))
    return x.astype("float32"), y.astype("int64")


_SYNTHETIC = "\n" + textwrap.dedent(inspect.getsource(synthetic)) + "\n"


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


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                                        ("2", TypeError)])
def test_free_ports_rejects_bad_counts(bad, error):
    with pytest.raises(error, match="n must be an integer"):
        dist.free_ports(bad)


def test_tf_config_round_trips_and_validates():
    spec = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], "ps": ["127.0.0.1:3"]}
    conf = json.loads(dist.tf_config(spec, "worker", 1))
    assert conf == {"cluster": spec, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match="not a job"):
        dist.tf_config(spec, "chief", 0)
    with pytest.raises(ValueError, match="out of range"):
        dist.tf_config(spec, "ps", 1)


@pytest.mark.parametrize("kwargs, match", [(dict(n_workers=0), "n_workers"), (dict(n_ps=-1), "n_ps"),
                                           (dict(threads=0), "threads"), (dict(start_timeout=0), "timeout")])
def test_local_cluster_validates_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dist.LocalCluster(**kwargs)


# ------------------------------------------------------------------ a real cluster
_PS_SCRIPT = """
import json, math, os, sys
import numpy as np
import labkit
import tensorflow as tf
from labkit import cluster, distribute
from labkit.models import mnist_mlp

x, y = synthetic(512)
with cluster.LocalCluster(n_workers=2, n_ps=1) as local:
    pids = local.pids()
    chief = [f"127.0.0.1:{cluster.free_ports(1)[0]}"]   # the coordinator's own address
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {**local.spec, "chief": chief},
                                          "task": {"type": "chief", "index": 0}})
    strategy = distribute.strategy_from_env()   # a ps job in TF_CONFIG -> parameter servers
    assert isinstance(strategy, tf.distribute.ParameterServerStrategy), type(strategy)
    log = distribute.train_async(strategy, lambda: mnist_mlp(32), x, y, steps=80, batch=32,
                                 lr=0.05, seed=0)
    device = log.model.trainable_variables[0].value.device
    logits = log.model(x)
    final = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
json.dump(dict(pids=pids, losses=log.losses, staleness=log.staleness, replicas=log.replicas,
               device=device, final=final, left=cluster.live_children()), open(sys.argv[1], "w"))
"""


@pytest.mark.multiprocess
@pytest.mark.slow
def test_two_workers_one_ps_trains_privately_and_leaves_nothing_running(tmp_path):
    script = tmp_path / "ps.py"
    script.write_text(_SYNTHETIC + _PS_SCRIPT)
    out = tmp_path / "out.json"
    run = dist.run_script(script, args=[str(out)], timeout=240)
    assert run.ok and dist.live_children() == []
    got = json.loads(out.read_text())
    assert len(got["pids"]) == 3 and got["replicas"] == 2 and got["left"] == []
    assert len(got["losses"]) == 80 and all(math.isfinite(v) for v in got["losses"])
    assert len(got["staleness"]) == 80 and all(0 <= s < 80 for s in got["staleness"]), got["staleness"]
    # The two workers draw different batches. Were their orders the same, the first two
    # steps would take the same batch and, where the second also read the initial weights
    # (staleness 1: the first step's update came after its read), report the same loss.
    if sorted(got["staleness"][:2]) == [0, 1]:
        assert got["losses"][0] != got["losses"][1], got["losses"][:4]
    # It learned. Chance is ln 10 = 2.30; five runs here ended at 0.30-0.59 on all 512
    # examples (and 1.24-1.51 after 40 steps, lr 0.1 diverged now and then).
    assert got["final"] < 0.5 * math.log(10), (got["final"], got["losses"])
    assert "/job:ps" in got["device"], "the variables must live on the parameter server"
    assert not any(_alive(p) for p in got["pids"]), "a cluster process survived the with-block"
    assert _server_children() == []


@pytest.mark.multiprocess
def test_cluster_is_stopped_when_the_body_raises(tmp_path):
    script = tmp_path / "raise.py"
    script.write_text(textwrap.dedent("""
        import sys
        from labkit.cluster import LocalCluster
        try:
            with LocalCluster(n_workers=1, n_ps=0, start_timeout=120) as cluster:
                open(sys.argv[1], "w").write(" ".join(map(str, cluster.pids())))
                raise RuntimeError("boom")
        except RuntimeError as err:
            assert str(err) == "boom" and not cluster.running
    """))
    out = tmp_path / "pids"
    assert dist.run_script(script, args=[str(out)], timeout=120).ok
    pids = [int(p) for p in out.read_text().split()]
    assert len(pids) == 1 and not any(_alive(p) for p in pids)
    assert dist.live_children() == []


@pytest.mark.multiprocess
def test_cluster_dies_with_its_parent(tmp_path):
    """Kill -9 the process that started the cluster: its servers must go too."""
    from labkit import netns

    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from labkit.cluster import LocalCluster
        c = LocalCluster(n_workers=1, n_ps=1).start()
        print(" ".join(map(str, c.pids())), flush=True)
        time.sleep(600)
    """))
    with netns.Namespace() as ns:
        parent = subprocess.Popen(ns.wrap([sys.executable, str(script)]), stdout=subprocess.PIPE, text=True,
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


# ------------------------------------------------------------------ network isolation
def _machine_addresses() -> list[tuple[int, str]]:
    """(family, address) of every non-loopback IP address of this machine."""
    import ipaddress
    import socket

    import psutil

    found = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(a.address.split("%")[0])
                if not ip.is_loopback:
                    found.append((a.family, a.address))
    return found


def _reachable(family: int, address: str, port: int) -> bool:
    import socket

    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        return s.connect_ex((address, port)) == 0


_LISTEN_SCRIPT = """
import json, os, socket, sys, time
from labkit.cluster import LocalCluster
with LocalCluster(n_workers=1, n_ps=0) as cluster:
    port = int(cluster.spec["worker"][0].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5):   # reachable from inside
        pass
    open(sys.argv[1], "w").write(str(port))
    deadline = time.monotonic() + 60
    while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:   # the outside probes run
        time.sleep(0.05)
    with socket.create_connection(("127.0.0.1", port), timeout=5):   # still up after them
        pass
    print(json.dumps({"port": port, "interfaces": [n for _, n in socket.if_nameindex()],
                      "probed": os.path.exists(sys.argv[2])}), flush=True)
"""


@pytest.mark.multiprocess
def test_cluster_ports_are_unreachable_from_outside_its_private_network(tmp_path):
    """The smallest cluster: its server listens on all interfaces *of its namespace*, and no
    address of this machine - non-loopback or loopback - reaches it from outside."""
    import socket
    import threading

    from labkit import netns

    if not netns.available():
        pytest.skip(f"no private network on this machine: {netns.unavailable_reason()}")
    addresses = _machine_addresses() + [(socket.AF_INET, "127.0.0.1")]
    # The probe can see an exposed port: a socket bound to all interfaces here is reachable.
    with socket.socket() as control:
        control.bind(("0.0.0.0", 0))
        control.listen()
        for family, address in addresses:
            if family == socket.AF_INET:
                assert _reachable(family, address, control.getsockname()[1]), address
    script = tmp_path / "listen.py"
    script.write_text(_LISTEN_SCRIPT)
    port_file, probed = tmp_path / "port", tmp_path / "probed"
    result = {}
    runner = threading.Thread(target=lambda: result.update(run=dist.run_script(
        script, args=[str(port_file), str(probed)], timeout=120)))
    runner.start()
    try:
        deadline = time.monotonic() + 90
        while not port_file.exists() and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert port_file.exists(), "the cluster did not start"
        port = int(port_file.read_text())
        reached = [address for family, address in addresses if _reachable(family, address, port)]
        assert reached == [], f"the cluster's port {port} is reachable at {reached}"
    finally:
        probed.write_text("")   # the script keeps its cluster up until here, then checks it still is
        runner.join(150)
    run = result["run"]
    assert run.ok, run.logs[0]
    info = json.loads(run.logs[0].strip().splitlines()[-1])
    assert info == {"port": port, "interfaces": ["lo"], "probed": True}


def test_local_cluster_refuses_to_make_this_process_an_exposed_coordinator():
    from labkit import netns

    if netns.is_private():
        pytest.skip("this test process already runs in a private network")
    with pytest.raises(dist.ClusterIsolationError, match="run_script"):
        dist.LocalCluster(n_workers=1, n_ps=0).start()
    assert dist.live_children() == []


@pytest.mark.multiprocess
def test_without_a_private_network_clusters_need_explicit_consent(tmp_path, monkeypatch):
    from labkit import netns

    script = tmp_path / "ok.py"
    script.write_text("print('ran')\n")
    monkeypatch.setattr(netns, "is_private", lambda: False)
    monkeypatch.setattr(netns, "available", lambda: False)
    monkeypatch.setattr(netns, "unavailable_reason", lambda: "user namespaces are disabled")
    for call in (lambda: dist.run_script(script), lambda: dist.run_workers(script, 2)):
        with pytest.raises(dist.ClusterIsolationError, match="user namespaces are disabled.*network='exposed'"):
            call()
    assert dist.live_children() == []
    with pytest.warns(dist.ExposedClusterWarning, match="every network interface"):
        run = dist.run_script(script, network="exposed", timeout=60)
    assert run.ok and "ran" in run.logs[0]
    with pytest.raises(ValueError, match="network must be one of"):
        dist.run_script(script, network="public")


_MWMS_SCRIPT = """
import json, sys
import numpy as np
import labkit
labkit.seed_everything(0)
import tensorflow as tf
from labkit import distribute
from labkit.models import mnist_mlp

strategy = tf.distribute.MultiWorkerMirroredStrategy()
x, y = synthetic(512)
log = distribute.train_sync(strategy, lambda: mnist_mlp(32), x, y, steps=8, global_batch=64, lr=0.1)
if strategy.cluster_resolver.task_id == 0:
    json.dump({"losses": log.losses, "replicas": log.replicas}, open(sys.argv[1], "w"))
"""


@pytest.mark.multiprocess
@pytest.mark.slow
def test_multi_worker_sync_training_equals_single_process_large_batch(tmp_path):
    """Two MultiWorkerMirrored processes averaging gradients = one process, same global batch."""
    import tensorflow as tf

    script = tmp_path / "mwms.py"
    script.write_text(_SYNTHETIC + _MWMS_SCRIPT)
    out = tmp_path / "out.json"
    run = dist.run_workers(script, 2, args=[str(out)], timeout=240)
    assert run.ok and dist.live_children() == []
    got = json.loads(out.read_text())
    assert got["replicas"] == 2
    x, y = synthetic(512)
    ref = distribute.train_sync(tf.distribute.get_strategy(), _mlp, x, y, steps=8, global_batch=64, lr=0.1)
    np.testing.assert_allclose(got["losses"], ref.losses, rtol=2e-3, atol=2e-4)


@pytest.mark.multiprocess
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
