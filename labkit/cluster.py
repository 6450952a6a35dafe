"""Cluster processes on this machine: started private, stopped for sure.

TensorFlow's distribution engine runs the same program on one machine or on many: the
only difference is *where the tasks are*, written in ``TF_CONFIG`` (or given to a
cluster resolver). This module starts real clusters on ``127.0.0.1`` so that the
notebook's code is exactly what a multi-machine user runs:

* :class:`LocalCluster` - ``with LocalCluster(n_workers=2, n_ps=1) as cluster:`` starts
  one ``tf.distribute.Server`` **process** per worker and parameter-server task, on
  ports chosen free at run time, and stops them on exit - also when the body raises,
  when the interpreter exits (``atexit``) and, on Linux, when this process is killed
  (each server asks the kernel to kill it when its parent dies). Use
  ``cluster.resolver()`` to build a ``tf.distribute.ParameterServerStrategy``.
* :func:`run_workers` - runs one Python script as ``n`` worker processes, each with its
  own ``TF_CONFIG``: how ``tf.distribute.MultiWorkerMirroredStrategy`` programs run.
* :func:`run_script` - runs one script (a coordinator that starts a ``LocalCluster``)
  in a private network of its own.

Every child process runs in its own process group and is killed as a group (SIGTERM,
then SIGKILL after a timeout), so nothing is left running.

**Network safety.** Every TensorFlow cluster task - and the coordinator, once it connects -
runs a gRPC server that listens on *every* network interface whatever the cluster spec
says, with no authentication: whoever reaches a port can run ops there, ``tf.io`` file
reads and writes included. So by default (``network="private"``) :func:`run_workers` and
:func:`run_script` start their processes in a private network namespace
(:mod:`labkit.netns`) that nothing outside can reach, and :class:`LocalCluster` - whose
coordinator is the calling process - starts only where that process is already private
(inside :func:`run_script`). Where the OS gives no private network, they raise
:class:`ClusterIsolationError` unless the caller passes ``network="exposed"``, accepting
that the ports are open to the network while the cluster runs.

Why labkit keeps its own: TensorFlow starts servers (``tf.distribute.Server``) but
supervises no processes, and has no way to keep them off the network.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from labkit import netns
from labkit.validation import check_int, check_number, check_option

__all__ = ["free_ports", "LocalCluster", "run_workers", "run_script", "WorkerRun", "tf_config",
           "live_children", "ClusterError", "ClusterIsolationError", "ExposedClusterWarning"]

_LOCALHOST = "127.0.0.1"
_LIVE: "weakref.WeakSet[_ProcessGroup]" = weakref.WeakSet()


class ClusterError(RuntimeError):
    """A cluster task failed to start, crashed or timed out; the message has its log."""


class ClusterIsolationError(ClusterError):
    """A cluster was asked to run privately, and this machine cannot give it a private network."""


class ExposedClusterWarning(UserWarning):
    """A cluster runs with ``network="exposed"``: its ports are reachable from the network."""


_NETWORKS = ("private", "exposed")
_EXPOSED_RISK = ("TensorFlow's cluster servers listen on every network interface and accept anyone who "
                 "connects, with no password: a machine that can reach a port can read and write your "
                 "files through the task")


def _namespace(network: Any, caller: str) -> netns.Namespace | None:
    """The private namespace to start ``caller``'s processes in (None: start them here)."""
    check_option(network, "network", _NETWORKS)
    if network == "exposed":
        warnings.warn(f"{caller} runs with network='exposed': {_EXPOSED_RISK}, for as long as it runs.",
                      ExposedClusterWarning, stacklevel=3)
        return None
    if netns.is_private():
        return None  # this process is in a private network already; children share it
    if not netns.available():
        raise ClusterIsolationError(
            f"{caller} would start cluster processes, but this machine cannot give them a private "
            f"network ({netns.unavailable_reason()}). {_EXPOSED_RISK}. Pass network='exposed' only "
            "on a machine whose network you trust completely.")
    return netns.Namespace().start()


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


# --------------------------------------------------------------------------- processes
def _die_with_parent(parent_pid: int) -> None:
    """In a child: ask Linux to SIGKILL us when the parent dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no libc: rely on atexit/killpg
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


class _ProcessGroup:
    """Child processes, each the leader of its own process group; killed as groups."""

    def __init__(self, log_dir: Path, namespace: netns.Namespace | None = None):
        self.log_dir = log_dir
        self.namespace = namespace
        self.procs: list[tuple[str, subprocess.Popen]] = []
        _LIVE.add(self)

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None,
              cwd: str | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")
        try:
            if self.namespace is not None:
                argv = self.namespace.wrap(argv)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(env) if env is not None else None, cwd=cwd,
                                    start_new_session=True)
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            return path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return [p.pid for _, p in self.procs]

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every group, wait up to ``timeout`` s, then SIGKILL what is left."""
        for _, proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for _, proc in self.procs:
            # the group may hold grandchildren even when the leader is gone
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5.0)
        if self.namespace is not None:
            self.namespace.stop()
        _LIVE.discard(self)


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - runs at interpreter exit
    for group in list(_LIVE):
        group.kill_all(timeout=2.0)


def live_children() -> list[int]:
    """PIDs of processes still alive that a cluster or worker run of *this* process
    started (empty after every ``with LocalCluster`` block and :func:`run_workers` call)."""
    alive = []
    for group in list(_LIVE):
        alive += [p.pid for _, p in group.procs if p.poll() is None]
    return alive


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
        self.network = check_option(network, "network", _NETWORKS)
        self.n_workers = check_int(n_workers, "n_workers", min_val=1)
        self.n_ps = check_int(n_ps, "n_ps", min_val=0)
        self.threads = check_int(threads, "threads", min_val=1)
        self.start_timeout = check_number(start_timeout, "start_timeout", min_val=0, include_min=False)
        self.stop_timeout = check_number(stop_timeout, "stop_timeout", min_val=0, include_min=False)
        self.spec: dict[str, list[str]] = {}
        self._group: _ProcessGroup | None = None
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
                f"as usual. {_EXPOSED_RISK}; pass network='exposed' only on a machine whose network you "
                "trust completely.")
        _namespace(self.network, "LocalCluster")  # private here already, or warned: start them here
        ports = free_ports(self.n_workers + self.n_ps)
        self.spec = {"worker": [f"{_LOCALHOST}:{p}" for p in ports[:self.n_workers]]}
        if self.n_ps:
            self.spec["ps"] = [f"{_LOCALHOST}:{p}" for p in ports[self.n_workers:]]
        self._tmp = tempfile.TemporaryDirectory(prefix="labkit-cluster-")
        self._group = _ProcessGroup(Path(self._tmp.name))
        env = _child_env()
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
        import tensorflow as tf

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
    if int(parent_pid) > 0:
        _die_with_parent(int(parent_pid))
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=int(threads),
                                      inter_op_parallelism_threads=max(4, int(threads)))
    server = tf.distribute.Server(tf.train.ClusterSpec(json.loads(spec_json)), job_name=job,
                                  task_index=int(index), protocol="grpc", config=config, start=True)
    server.join()


# --------------------------------------------------------------------------- run_workers
@dataclass
class WorkerRun:
    """What :func:`run_workers` returns: each worker's exit code and log, and the wall time."""

    returncodes: list[int]
    logs: list[str]
    seconds: float
    cluster: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return all(rc == 0 for rc in self.returncodes)


def _run_group(name: str, argv: list[str], envs: list[dict[str, str]], *, timeout: float,
               cwd: str | os.PathLike | None, network: str, caller: str) -> tuple[list[int], list[str], float]:
    """Start ``len(envs)`` copies of ``argv`` (one per env), wait; kill all at the end.

    Stops early when one process fails (the others may wait for it forever).
    Returns exit codes, logs and the wall time.
    """
    namespace = _namespace(network, caller)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labkit-workers-") as tmp:
        group = _ProcessGroup(Path(tmp), namespace)
        try:
            for i, env in enumerate(envs):
                group.spawn(f"{name}{i}", argv, env=env, cwd=str(cwd) if cwd is not None else None)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                codes = [p.poll() for _, p in group.procs]
                if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
                    break
                time.sleep(0.1)
        finally:
            group.kill_all(timeout=2.0)
        codes = [int(p.returncode) for _, p in group.procs]
        logs = [group.log(f"{name}{i}", tail=20_000) for i in range(len(envs))]
    return codes, logs, time.perf_counter() - start


def _check_script(script: str | os.PathLike, timeout: Any) -> Path:
    if not isinstance(script, (str, os.PathLike)):
        raise TypeError(f"script must be a path, got {type(script).__name__}.")
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"script {str(script)!r} does not exist; write it first (e.g. with %%writefile).")
    check_number(timeout, "timeout", min_val=0, include_min=False)
    return script.resolve()


def _child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"), **extra}
    if "TF_CONFIG" not in extra:
        env.pop("TF_CONFIG", None)
    return env


def run_workers(script: str | os.PathLike, n_workers: int, *, args: Sequence[str] = (),
                timeout: float = 300.0, threads: int = 1, cwd: str | os.PathLike | None = None,
                check: bool = True, network: str = "private") -> WorkerRun:
    """Run ``python script *args`` as ``n_workers`` processes of one cluster, and wait.

    Each process gets ``TF_CONFIG`` naming the cluster (free ports on 127.0.0.1) and
    its own task (``worker``, index 0..n-1), exactly as on ``n`` machines - the script
    builds ``tf.distribute.MultiWorkerMirroredStrategy()`` and reads nothing else.
    ``LABKIT_THREADS`` is set to ``threads`` in each. With ``network="private"`` all of
    them share one private network that nothing else can reach (see the module
    docstring). After ``timeout`` seconds, or when one worker fails (the others would
    wait for it forever), every process is killed; with ``check=True`` a failure
    raises :class:`ClusterError` with the log.
    """
    script = _check_script(script, timeout)
    check_int(n_workers, "n_workers", min_val=1)
    check_int(threads, "threads", min_val=1)
    spec = {"worker": [f"{_LOCALHOST}:{p}" for p in free_ports(n_workers)]}
    envs = [_child_env(TF_CONFIG=tf_config(spec, "worker", i), LABKIT_THREADS=str(threads))
            for i in range(n_workers)]
    codes, logs, seconds = _run_group("worker", [sys.executable, str(script), *map(str, args)], envs,
                                      timeout=timeout, cwd=cwd, network=network, caller="run_workers")
    run = WorkerRun(codes, logs, seconds, spec)
    if check and not run.ok:
        bad = next((i for i, c in enumerate(codes) if c != 0), 0)
        raise ClusterError(f"{'timed out after ' + format(timeout, '.0f') + ' s; ' if seconds >= timeout else ''}"
                           f"worker exit codes {codes}. Log of worker {bad}:\n{logs[bad][-3000:]}")
    return run


def run_script(script: str | os.PathLike, *, args: Sequence[str] = (), timeout: float = 300.0,
               cwd: str | os.PathLike | None = None, check: bool = True,
               network: str = "private") -> WorkerRun:
    """Run ``python script *args`` once, in a private network of its own, and wait.

    For programs that start clusters themselves: inside the script
    ``with LocalCluster(...)`` works as usual - its servers and the coordinator (the
    script) reach each other over 127.0.0.1, and nothing outside reaches them. The
    script's ``TF_CONFIG`` is removed. Returns a :class:`WorkerRun` with one entry
    (``cluster`` empty); ``check``/``timeout`` as in :func:`run_workers`.
    """
    script = _check_script(script, timeout)
    codes, logs, seconds = _run_group("script", [sys.executable, str(script), *map(str, args)], [_child_env()],
                                      timeout=timeout, cwd=cwd, network=network, caller="run_script")
    run = WorkerRun(codes, logs, seconds, {})
    if check and not run.ok:
        raise ClusterError(f"{'timed out after ' + format(timeout, '.0f') + ' s; ' if seconds >= timeout else ''}"
                           f"{script.name} exited with code {codes[0]}. Its log:\n{logs[0][-3000:]}")
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
