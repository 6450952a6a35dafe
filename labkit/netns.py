"""A private network for cluster processes: reachable from nowhere but itself.

Why this exists: every ``tf.distribute`` task - worker, parameter server, and the
coordinator too, once it connects to the cluster - runs a gRPC server that listens on
**every** network interface, whatever host the cluster spec names, and TensorFlow's
distributed runtime has no authentication: anyone who can reach the port can run ops
on that task, including reading and writing files through ``tf.io``. TensorFlow has
no option to bind to loopback only, so the isolation has to come from where the
processes run.

On Linux an unprivileged user can create a *network namespace* (inside a user
namespace): a network stack of its own, holding only a loopback device. Processes
started in it talk to each other over ``127.0.0.1`` as usual, and nothing outside it -
not this machine's other processes, not the local network - can reach their ports.

* :func:`available` - whether this machine lets us create one (cached; the reason why
  not is in :func:`unavailable_reason`);
* :func:`is_private` - whether *this* process already runs in one (its only network
  interface is loopback), so its children need nothing more;
* :class:`Namespace` - ``ns = Namespace(); ns.start()`` starts a small holder process
  that owns a fresh namespace; ``ns.wrap(argv)`` is the command line that runs
  ``argv`` inside it (same PID, same files, same user); ``ns.stop()`` ends the holder.

Nothing here needs root. Where the OS refuses (macOS, Windows, containers whose
seccomp profile forbids user namespaces), :func:`available` is False and
:mod:`labkit.distribute` refuses to start a cluster unless the caller explicitly
accepts an exposed one.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import subprocess
import sys
from functools import lru_cache

__all__ = ["available", "unavailable_reason", "is_private", "Namespace", "NamespaceError"]

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_READY = b"labkit-netns-ready\n"
# Run as a file in isolated mode (-I), not as ``-m labkit.netns``: importing the labkit
# package loads NumPy, whose thread pool would make the process multi-threaded, and the
# kernel lets only a single-threaded process enter a new user namespace.
_LAUNCHER = [sys.executable, "-I", os.path.abspath(__file__)]


class NamespaceError(RuntimeError):
    """A private network namespace could not be created or entered; the message says why."""


def _libc():
    if not sys.platform.startswith("linux"):
        raise NamespaceError(f"network namespaces exist only on Linux, and this is {sys.platform}.")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc


def _fail(what: str) -> NamespaceError:
    err = ctypes.get_errno()
    return NamespaceError(f"{what} failed: {os.strerror(err)} (errno {err}).")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _loopback_up() -> None:
    """Bring up ``lo`` in the current namespace (a new one starts with it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def _enter_new() -> None:
    """Move this (single-threaded) process into a new user + network namespace."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        raise _fail("unshare(CLONE_NEWUSER | CLONE_NEWNET)")
    # map our own ids to themselves, so files written inside belong to us as usual
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _loopback_up()


def _join(pid: int) -> None:
    """Move this (single-threaded) process into the user + network namespace of ``pid``."""
    libc = _libc()
    for kind, flag in (("user", _CLONE_NEWUSER), ("net", _CLONE_NEWNET)):
        fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, flag) != 0:
                raise _fail(f"setns({kind} namespace of process {pid})")
        finally:
            os.close(fd)


def is_private() -> bool:
    """True when this process's only network interface is loopback (nothing can reach it)."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return False
    return names == ["lo"]


@lru_cache(maxsize=1)
def _probe() -> str:
    """'' when a namespace can be made here, else the reason (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces exist only on Linux, and this is {sys.platform}"
    try:
        ns = Namespace()
        ns.start(timeout=30.0)
    except NamespaceError as err:
        return str(err)
    ns.stop()
    return ""


def available() -> bool:
    """Whether this machine lets an unprivileged process create a private network."""
    return _probe() == ""


def unavailable_reason() -> str:
    """Why :func:`available` is False ('' when it is True)."""
    return _probe()


class Namespace:
    """A private network namespace, held open by a small child process.

    ``start()`` launches the holder (``python -I netns.py hold``), which creates the
    namespace, brings its loopback up, reports ready and then waits; it dies with this
    process (Linux parent-death signal) or at ``stop()``. ``wrap(argv)`` returns the
    command line that runs ``argv`` inside the namespace: a short Python launcher joins
    it and ``exec``s ``argv``, so the process keeps the launcher's PID.
    """

    def __init__(self) -> None:
        self._holder: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        if self._holder is None:
            raise NamespaceError("the namespace is not started; call start() first.")
        return self._holder.pid

    def start(self, timeout: float = 30.0) -> "Namespace":
        if self._holder is not None:
            return self
        holder = subprocess.Popen([*_LAUNCHER, "hold", str(os.getpid())],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=True)
        try:
            out, err = _read_ready(holder, timeout)
        except BaseException:
            _end(holder)
            raise
        if out != _READY:
            _end(holder)
            raise NamespaceError(f"could not create a private network namespace: "
                                 f"{err.decode(errors='replace').strip() or 'the holder exited'}")
        self._holder = holder
        return self

    def wrap(self, argv: list[str]) -> list[str]:
        return [*_LAUNCHER, "join", str(self.pid), "--", *argv]

    def stop(self) -> None:
        if self._holder is not None:
            _end(self._holder)
            self._holder = None

    def __enter__(self) -> "Namespace":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _read_ready(proc: subprocess.Popen, timeout: float) -> tuple[bytes, bytes]:
    """The holder's first line (or b'' if it exited) and, if it failed, its stderr."""
    import selectors

    # Namespace.start() opens all three streams with PIPE; this narrows Popen's `IO | None`.
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise NamespaceError(f"the namespace holder did not start within {timeout:.0f} s.")
    line = proc.stdout.readline()
    if line == _READY:
        return line, b""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    return line, proc.stderr.read() if proc.poll() is not None else b""


def _end(proc: subprocess.Popen) -> None:
    if proc.stdin is not None:  # always, from Namespace.start() (PIPE); Popen types it Optional
        with contextlib.suppress(OSError):
            proc.stdin.close()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _hold(parent_pid: int) -> int:
    """Child entry point: create the namespace, say ready, wait for stdin to close."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(1, 9)  # PR_SET_PDEATHSIG = SIGKILL: go when the parent goes
    if parent_pid and os.getppid() != parent_pid:
        return 1
    try:
        _enter_new()
    except (NamespaceError, OSError) as err:
        print(err, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(_READY)
    sys.stdout.buffer.flush()
    sys.stdin.buffer.read()  # until the parent closes the pipe (stop) or dies
    return 0


def _main(argv: list[str]) -> int:
    """``python -I netns.py hold PARENT_PID`` | ``join PID -- COMMAND...``"""
    if argv[:1] == ["hold"] and len(argv) == 2:
        return _hold(int(argv[1]))
    if argv[:1] == ["join"] and len(argv) >= 4 and argv[2] == "--":
        parent = os.getppid()
        try:
            with contextlib.suppress(AttributeError):
                _libc().prctl(1, 9)  # die with the process that started us (kept across exec)
            if os.getppid() != parent:
                return 1
            _join(int(argv[1]))
        except (NamespaceError, OSError) as err:
            print(f"labkit.netns: {err}", file=sys.stderr)
            return 126
        os.execvp(argv[3], argv[3:])
    print("usage: python -I netns.py hold PARENT_PID | join PID -- COMMAND...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
