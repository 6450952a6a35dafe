"""Supervised child processes, in a private network: started private, stopped for sure.

The process half of :mod:`labkit.cluster` (which re-exports every public name here, so
notebooks keep using ``cluster.run_script`` and ``cluster.live_children``). It needs no
TensorFlow:

* :func:`run_script` - runs one script (a coordinator that starts a ``LocalCluster``)
  in a private network of its own, and waits; returns a :class:`WorkerRun`.
* :func:`live_children` - the processes this process started that are still alive.
* Building blocks for :mod:`labkit.cluster`: :class:`ProcessGroup` (children that are
  killed as groups), :func:`run_group` (start copies of one command, wait, kill),
  :func:`network_namespace` (the ``network="private"|"exposed"`` choice),
  :func:`die_with_parent`, :func:`child_env`, :func:`check_script`, and the errors.

Every child process runs in its own process group and is killed as a group (SIGTERM,
then SIGKILL after a timeout) - after each run, at interpreter exit (``atexit``) and,
for children that call :func:`die_with_parent`, when this process is killed - so
nothing is left running.

**Network safety.** Every TensorFlow cluster task - and the coordinator, once it connects -
runs a gRPC server that listens on *every* network interface whatever the cluster spec
says, with no authentication: whoever reaches a port can run ops there, ``tf.io`` file
reads and writes included. So by default (``network="private"``) processes start in a
private network namespace (:mod:`labkit.netns`) that nothing outside can reach. Where
the OS gives no private network, they raise :class:`ClusterIsolationError` unless the
caller passes ``network="exposed"``, accepting that the ports are open to the network
while the processes run.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
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
from labkit.validation import check_number, check_option

__all__ = ["run_script", "live_children", "WorkerRun", "ClusterError", "ClusterIsolationError",
           "ExposedClusterWarning", "NETWORKS", "EXPOSED_RISK", "network_namespace", "ProcessGroup",
           "run_group", "die_with_parent", "child_env", "check_script"]

_LIVE: "weakref.WeakSet[ProcessGroup]" = weakref.WeakSet()


class ClusterError(RuntimeError):
    """A cluster task failed to start, crashed or timed out; the message has its log."""


class ClusterIsolationError(ClusterError):
    """A cluster was asked to run privately, and this machine cannot give it a private network."""


class ExposedClusterWarning(UserWarning):
    """A cluster runs with ``network="exposed"``: its ports are reachable from the network."""


NETWORKS = ("private", "exposed")
EXPOSED_RISK = ("TensorFlow's cluster servers listen on every network interface and accept anyone who "
                "connects, with no password: a machine that can reach a port can read and write your "
                "files through the task")


def network_namespace(network: Any, caller: str) -> netns.Namespace | None:
    """The private namespace to start ``caller``'s processes in (None: start them here).

    ``network="exposed"`` warns (:class:`ExposedClusterWarning`, attributed to the caller
    of ``caller``) and returns None; ``"private"`` returns None where this process is
    private already, a started :class:`netns.Namespace` where the OS gives one, and
    raises :class:`ClusterIsolationError` otherwise.
    """
    check_option(network, "network", NETWORKS)
    if network == "exposed":
        warnings.warn(f"{caller} runs with network='exposed': {EXPOSED_RISK}, for as long as it runs.",
                      ExposedClusterWarning, stacklevel=3)
        return None
    if netns.is_private():
        return None  # this process is in a private network already; children share it
    if not netns.available():
        raise ClusterIsolationError(
            f"{caller} would start cluster processes, but this machine cannot give them a private "
            f"network ({netns.unavailable_reason()}). {EXPOSED_RISK}. Pass network='exposed' only "
            "on a machine whose network you trust completely.")
    return netns.Namespace().start()


# --------------------------------------------------------------------------- processes
def die_with_parent(parent_pid: int) -> None:
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


class ProcessGroup:
    """Child processes, each the leader of its own process group; killed as groups.

    Each child's output goes to ``log_dir/NAME.log``; with a ``namespace`` every child
    starts in that private network, which :meth:`kill_all` stops too.
    """

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
    started (empty after every ``with LocalCluster`` block and ``run_workers`` call)."""
    alive = []
    for group in list(_LIVE):
        alive += [p.pid for _, p in group.procs if p.poll() is None]
    return alive


# --------------------------------------------------------------------------- runs
@dataclass
class WorkerRun:
    """What ``run_workers`` and :func:`run_script` return: each process's exit code and
    log, the wall time, and the cluster spec the workers were given (empty for a script)."""

    returncodes: list[int]
    logs: list[str]
    seconds: float
    cluster: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return all(rc == 0 for rc in self.returncodes)


def run_group(name: str, argv: list[str], envs: list[dict[str, str]], *, timeout: float,
              cwd: str | os.PathLike | None, network: str, caller: str) -> tuple[list[int], list[str], float]:
    """Start ``len(envs)`` copies of ``argv`` (one per env), wait; kill all at the end.

    The copies share one private network (:func:`network_namespace`; ``caller`` names the
    public function in its messages). Stops early when one process fails (the others may
    wait for it forever). Returns exit codes, logs and the wall time.
    """
    namespace = network_namespace(network, caller)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labkit-workers-") as tmp:
        group = ProcessGroup(Path(tmp), namespace)
        try:
            for i, env in enumerate(envs):
                group.spawn(f"{name}{i}", argv, env=env, cwd=str(cwd) if cwd is not None else None)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                polled = [p.poll() for _, p in group.procs]
                if all(c is not None for c in polled) or any(c not in (None, 0) for c in polled):
                    break
                time.sleep(0.1)
        finally:
            group.kill_all(timeout=2.0)
        codes = [int(p.returncode) for _, p in group.procs]
        logs = [group.log(f"{name}{i}", tail=20_000) for i in range(len(envs))]
    return codes, logs, time.perf_counter() - start


def check_script(script: str | os.PathLike, timeout: Any) -> Path:
    """The resolved path of an existing ``script``, after checking it and ``timeout``."""
    if not isinstance(script, (str, os.PathLike)):
        raise TypeError(f"script must be a path, got {type(script).__name__}.")
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"script {str(script)!r} does not exist; write it first (e.g. with %%writefile).")
    check_number(timeout, "timeout", min_val=0, include_min=False)
    return script.resolve()


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child, TensorFlow quiet, ``TF_CONFIG`` only if in ``extra``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"), **extra}
    if "TF_CONFIG" not in extra:
        env.pop("TF_CONFIG", None)
    return env


def run_script(script: str | os.PathLike, *, args: Sequence[str] = (), timeout: float = 300.0,
               cwd: str | os.PathLike | None = None, check: bool = True,
               network: str = "private") -> WorkerRun:
    """Run ``python script *args`` once, in a private network of its own, and wait.

    For programs that start clusters themselves: inside the script
    ``with LocalCluster(...)`` works as usual - its servers and the coordinator (the
    script) reach each other over 127.0.0.1, and nothing outside reaches them. The
    script's ``TF_CONFIG`` is removed. Returns a :class:`WorkerRun` with one entry
    (``cluster`` empty); ``check``/``timeout`` as in ``run_workers``.
    """
    script = check_script(script, timeout)
    codes, logs, seconds = run_group("script", [sys.executable, str(script), *map(str, args)], [child_env()],
                                     timeout=timeout, cwd=cwd, network=network, caller="run_script")
    run = WorkerRun(codes, logs, seconds, {})
    if check and not run.ok:
        raise ClusterError(f"{'timed out after ' + format(timeout, '.0f') + ' s; ' if seconds >= timeout else ''}"
                           f"{script.name} exited with code {codes[0]}. Its log:\n{logs[0][-3000:]}")
    return run
