"""TensorFlow clusters on this machine: the same code a multi-machine user runs.

TensorFlow's distribution engine runs the same program on one machine or on many: the
only difference is *where the tasks are*, written in ``TF_CONFIG`` (or given to a
cluster resolver). This module starts real clusters on ``127.0.0.1``:

* :class:`LocalCluster` - ``with LocalCluster(n_workers=2, n_ps=1) as cluster:`` starts
  one ``tf.distribute.Server`` **process** per worker and parameter-server task, on
  ports chosen free at run time, and stops them on exit - also when the body raises,
  when the interpreter exits and, on Linux, when this process is killed. Use
  ``cluster.resolver()`` to build a ``tf.distribute.ParameterServerStrategy``.
* :func:`run_workers` - runs one Python script as ``n`` worker processes, each with its
  own ``TF_CONFIG``: how ``tf.distribute.MultiWorkerMirroredStrategy`` programs run.
* :func:`free_ports`, :func:`tf_config` - the ports and ``TF_CONFIG`` of such clusters.
* ``python -m labkit.cluster serve ...`` - one cluster task server (:func:`_main`), as
  ``LocalCluster`` starts them; on a real host too.

The processes themselves - started in a private network, killed as groups, reaped - are
:mod:`labkit.processes`' job; :func:`run_script`, :func:`live_children`,
:class:`WorkerRun` and the errors (:class:`ClusterError`, :class:`ClusterIsolationError`,
:class:`ExposedClusterWarning`) live there and are re-exported here. Its docstring says
why clusters run in a private network by default (``network="private"``) and what
``network="exposed"`` risks.

Why labkit keeps its own: TensorFlow starts servers (``tf.distribute.Server``) but
supervises no processes, and has no way to keep them off the network.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

import tensorflow as tf

from labkit import netns
from labkit.processes import (
    EXPOSED_RISK,
    NETWORKS,
    ClusterError,
    ClusterIsolationError,
    ExposedClusterWarning,
    ProcessGroup,
    WorkerRun,
    check_script,
    child_env,
    die_with_parent,
    live_children,
    network_namespace,
    run_group,
    run_script,
)
from labkit.validation import check_int, check_number, check_option

__all__ = ["free_ports", "LocalCluster", "run_workers", "run_script", "WorkerRun", "tf_config",
           "live_children", "ClusterError", "ClusterIsolationError", "ExposedClusterWarning"]

_LOCALHOST = "127.0.0.1"


# --------------------------------------------------------------------------- ports/config
def free_ports(n: int, host: str = _LOCALHOST) -> list[int]:
    """``n`` distinct TCP ports that were free on ``host`` a moment ago.

    The sockets are bound together (so the ports differ) and closed before returning;
    another program could in principle take one in between, which :class:`LocalCluster`
    reports as a start-up failure naming the port.
    """
    check_int(n, "n", min_val=1)
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(cluster: Mapping[str, Sequence[str]], task_type: str, task_index: int) -> str:
    """The ``TF_CONFIG`` JSON string of one task of ``cluster`` ({job: [host:port, ...]})."""
    if task_type not in cluster:
        raise ValueError(f"task_type {task_type!r} is not a job of the cluster {sorted(cluster)}.")
    if not 0 <= task_index < len(cluster[task_type]):
        raise ValueError(f"task_index {task_index} is out of range for job {task_type!r} "
                         f"with {len(cluster[task_type])} task(s).")
    return json.dumps({"cluster": {k: list(v) for k, v in cluster.items()},
                       "task": {"type": task_type, "index": int(task_index)}})


def _wait_for_port(port: int, proc: subprocess.Popen, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((_LOCALHOST, port)) == 0:
                return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- LocalCluster
class LocalCluster:
    """A real TensorFlow cluster on this machine: one server process per task.

    ``with LocalCluster(n_workers=2, n_ps=1) as cluster:`` starts ``n_workers`` worker
    and ``n_ps`` parameter-server ``tf.distribute.Server`` processes on free ports of
    127.0.0.1, waits until each listens, and on exit stops them all (also when the
    body raises). ``cluster.spec`` is the ``{"worker": [...], "ps": [...]}`` mapping;
    ``cluster.resolver()`` the cluster resolver a ``ParameterServerStrategy`` needs.

    ``threads`` pins each server's intra-op thread pool (1 suits a 2-core machine: the
    tasks then compete for cores the way separate machines would not).

    ``network="private"`` (the default) starts only where this process already runs in
    a private network - inside :func:`run_script` - because the coordinator (this
    process) listens on every interface as soon as it connects to the cluster; anywhere
    else it raises :class:`ClusterIsolationError` saying so. ``network="exposed"``
    starts anyway, with an :class:`ExposedClusterWarning`.
    """

    def __init__(self, n_workers: int = 2, n_ps: int = 1, *, threads: int = 1,
                 start_timeout: float = 120.0, stop_timeout: float = 5.0, network: str = "private"):
        self.network = check_option(network, "network", NETWORKS)
        self.n_workers = check_int(n_workers, "n_workers", min_val=1)
        self.n_ps = check_int(n_ps, "n_ps", min_val=0)
        self.threads = check_int(threads, "threads", min_val=1)
        self.start_timeout = check_number(start_timeout, "start_timeout", min_val=0, include_min=False)
        self.stop_timeout = check_number(stop_timeout, "stop_timeout", min_val=0, include_min=False)
        self.spec: dict[str, list[str]] = {}
        self._group: ProcessGroup | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    # lifecycle ---------------------------------------------------------------
    def start(self) -> "LocalCluster":
        if self._group is not None:
            raise RuntimeError("this LocalCluster is already running; stop() it first.")
        if self.network == "private" and not netns.is_private():
            raise ClusterIsolationError(
                "LocalCluster makes this process the cluster's coordinator, and TensorFlow then opens a "
                "port on every network interface of this process too, so a private cluster needs this "
                "process to run in a private network: put the code that uses the cluster in a script and "
                "run it with distribute.run_script(script), which starts it in one where LocalCluster works "
                f"as usual. {EXPOSED_RISK}; pass network='exposed' only on a machine whose network you "
                "trust completely.")
        network_namespace(self.network, "LocalCluster")  # private here already, or warned: start them here
        ports = free_ports(self.n_workers + self.n_ps)
        self.spec = {"worker": [f"{_LOCALHOST}:{p}" for p in ports[:self.n_workers]]}
        if self.n_ps:
            self.spec["ps"] = [f"{_LOCALHOST}:{p}" for p in ports[self.n_workers:]]
        self._tmp = tempfile.TemporaryDirectory(prefix="labkit-cluster-")
        self._group = ProcessGroup(Path(self._tmp.name))
        env = child_env()
        try:
            tasks = [(job, i) for job in self.spec for i in range(len(self.spec[job]))]
            for job, i in tasks:
                argv = [sys.executable, "-m", "labkit.cluster", "serve", json.dumps(self.spec), job,
                        str(i), str(self.threads), str(os.getpid())]
                self._group.spawn(f"{job}{i}", argv, env=env)
            deadline = time.monotonic() + self.start_timeout
            for (job, i), (_, proc) in zip(tasks, self._group.procs):
                port = int(self.spec[job][i].rsplit(":", 1)[1])
                if not _wait_for_port(port, proc, deadline):
                    why = "exited" if proc.poll() is not None else f"did not listen within {self.start_timeout:.0f} s"
                    raise ClusterError(f"task {job}:{i} on port {port} {why}. Its log:\n"
                                       f"{self._group.log(f'{job}{i}')}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every task process (idempotent)."""
        if self._group is not None:
            self._group.kill_all(self.stop_timeout)
            self._group = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # queries -----------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._group is not None and all(p.poll() is None for _, p in self._group.procs)

    def pids(self) -> list[int]:
        return self._group.pids() if self._group is not None else []

    def resolver(self, n_workers: int | None = None):
        """A ``SimpleClusterResolver`` for this cluster (gRPC), for a coordinator here.

        ``n_workers`` < the cluster's size hands only the first workers to the strategy.
        """
        if self._group is None:
            raise RuntimeError("the cluster is not running; use it inside `with LocalCluster(...)`.")
        spec = {k: list(v) for k, v in self.spec.items()}
        if n_workers is not None:
            check_int(n_workers, "n_workers", min_val=1)
            if n_workers > self.n_workers:
                raise ValueError(f"n_workers={n_workers} but the cluster has {self.n_workers} workers.")
            spec["worker"] = spec["worker"][:n_workers]
        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(spec), rpc_layer="grpc")

    def tf_config(self, task_type: str, task_index: int) -> str:
        return tf_config(self.spec, task_type, task_index)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalCluster({self.n_workers} worker(s), {self.n_ps} ps, {state}: {self.spec})"


def _serve(spec_json: str, job: str, index: str, threads: str, parent_pid: str) -> None:
    """Child-process entry point: run one ``tf.distribute.Server`` until killed."""
    # TensorFlow was imported with this module, before the kernel was asked to tie our life to the
    # parent's: a parent that died meanwhile is caught by die_with_parent's own getppid() check.
    if int(parent_pid) > 0:
        die_with_parent(int(parent_pid))
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=int(threads),
                                      inter_op_parallelism_threads=max(4, int(threads)))
    server = tf.distribute.Server(tf.train.ClusterSpec(json.loads(spec_json)), job_name=job,
                                  task_index=int(index), protocol="grpc", config=config, start=True)
    server.join()


# --------------------------------------------------------------------------- run_workers
def run_workers(script: str | os.PathLike, n_workers: int, *, args: Sequence[str] = (),
                timeout: float = 300.0, threads: int = 1, cwd: str | os.PathLike | None = None,
                check: bool = True, network: str = "private") -> WorkerRun:
    """Run ``python script *args`` as ``n_workers`` processes of one cluster, and wait.

    Each process gets ``TF_CONFIG`` naming the cluster (free ports on 127.0.0.1) and
    its own task (``worker``, index 0..n-1), exactly as on ``n`` machines - the script
    builds ``tf.distribute.MultiWorkerMirroredStrategy()`` and reads nothing else.
    ``LABKIT_THREADS`` is set to ``threads`` in each. With ``network="private"`` all of
    them share one private network that nothing else can reach (see
    :mod:`labkit.processes`). After ``timeout`` seconds, or when one worker fails (the others would
    wait for it forever), every process is killed; with ``check=True`` a failure
    raises :class:`ClusterError` with the log.
    """
    script = check_script(script, timeout)
    check_int(n_workers, "n_workers", min_val=1)
    check_int(threads, "threads", min_val=1)
    spec = {"worker": [f"{_LOCALHOST}:{p}" for p in free_ports(n_workers)]}
    envs = [child_env(TF_CONFIG=tf_config(spec, "worker", i), LABKIT_THREADS=str(threads))
            for i in range(n_workers)]
    codes, logs, seconds = run_group("worker", [sys.executable, str(script), *map(str, args)], envs,
                                     timeout=timeout, cwd=cwd, network=network, caller="run_workers")
    run = WorkerRun(codes, logs, seconds, spec)
    if check and not run.ok:
        bad = next((i for i, c in enumerate(codes) if c != 0), 0)
        raise ClusterError(f"{'timed out after ' + format(timeout, '.0f') + ' s; ' if seconds >= timeout else ''}"
                           f"worker exit codes {codes}. Log of worker {bad}:\n{logs[bad][-3000:]}")
    return run


def _main(argv: list[str]) -> int:
    """``python -m labkit.cluster serve CLUSTER_JSON JOB INDEX [THREADS [PARENT_PID]]``.

    Runs one cluster task until killed - on a real host too: give it the cluster JSON
    (``{"worker": [...], "ps": [...]}``), its job and index; PARENT_PID 0 (default) does
    not tie its life to a parent process.
    """
    if argv[:1] == ["serve"] and 4 <= len(argv) <= 6:
        spec, job, index = argv[1:4]
        threads = argv[4] if len(argv) > 4 else "1"
        parent = argv[5] if len(argv) > 5 else "0"
        _serve(spec, job, index, threads, parent)
        return 0
    print("usage: python -m labkit.cluster serve CLUSTER_JSON JOB INDEX [THREADS [PARENT_PID]]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
