"""A small prediction service: JSON over HTTP on 127.0.0.1, standard library only.

``PredictionServer`` wraps any ``predict(x: np.ndarray) -> np.ndarray`` function (a
Keras model's ``predict_on_batch``, a reloaded SavedModel's ``serve``) and validates
every request before the model sees it: wrong JSON, shape, dtype or value range get a
4xx answer whose ``error`` field says what was wrong and what was expected; an
exception inside ``predict``, or a NaN/infinite output, gets a 500 answer. The server
never crashes on a request, and every answer, error pages included, is valid JSON.

It is a context manager that starts the server on a free port in a background thread
and, on exit, shuts it down, closes the socket and joins every thread it started::

    with PredictionServer(model.predict_on_batch, input_shape=(28, 28, 1)) as srv:
        status, body = post_json(srv.url + "/predict", {"instances": x[:2].tolist()})

Endpoints: ``GET /health`` (and ``HEAD``) -> ``{"status": "ok", "input_shape": [...], ...}``;
``POST /predict`` with ``{"instances": [...]}`` (a batch: list of arrays of
``input_shape``) -> ``{"outputs": [[...]], "classes": [...], "confidence": [...]}``
(``classes``/``confidence`` from a softmax when the outputs are (n, k) logits).

What it holds against (each limit is a constructor argument):

* body size: ``Content-Length`` is required, digits only and at most ``max_body_bytes``
  (411 / 400 / 413); chunked bodies are refused (411); a body is never read past it;
* nesting: JSON nested deeper than the input shape needs (plus 2 levels of slack, so a
  wrong shape still gets its precise 422) is refused before ``json`` parses it (400);
* slow or idle clients: each request must arrive whole within ``request_timeout``
  seconds, checked per socket read *and* as a whole-request deadline (408);
* many clients: ``backlog`` pending connections wait in the kernel, at most
  ``max_connections`` handler threads run at once; ``stop()`` joins every one of them;
* browsers: only ``Content-Type: application/json`` (415), which a cross-origin page
  cannot send without a CORS preflight, and the preflight is refused (405, no CORS
  headers); the ``Host`` header must name this server, ``127.0.0.1:PORT`` or
  ``localhost:PORT`` (421; a missing one is 400), which defeats DNS rebinding;
* values: booleans, strings, nulls, NaN/infinity and numbers the model's dtype cannot
  hold (1e300 as float32, 300 as uint8) are refused (422).
* NaN or infinite *model outputs* are a 500 error naming the instances, never a 200
  (JSON has no NaN, and a wrong-but-plausible answer is worse than none).

Why the standard library (``http.server``/``socketserver``) and not Flask, FastAPI or
an ASGI server: the course environment installs nothing for it, the whole request path
fits on a page a student can read, and it only ever listens on loopback. It is a
teaching server: a thread per connection, one model call at a time. To serve real
traffic, put the model behind TF Serving or an ASGI/WSGI server behind a reverse proxy.
"""
from __future__ import annotations

import json
import math
import numbers
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer
from typing import Any, Callable

import numpy as np

from .validation import check_bool, check_int, check_number

__all__ = ["PredictionServer", "RequestError", "validate_instances", "post_json", "get_json"]

_DEPTH_SLACK = 2            # levels beyond what input_shape needs, so a wrong shape still gets its 422
_MAX_LINE = 65536           # longest request line, as http.server
_LINGER_S, _LINGER_BYTES = 1.0, 8 * 2**20   # after an early error: how long/much unread body to discard
_STOP_GRACE_S = 5.0         # stop(): how long answers being computed may still finish
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_REQUEST_LINE = re.compile(rb"(?P<method>[A-Z]{1,20}) (?P<target>/[!-~]*|\*) HTTP/(?P<version>[0-9]\.[0-9])\r?\n")
_DIGITS = re.compile(r"[0-9]+")
_MAX_STRINGS = 50_000       # JSON strings a body may hold (the API needs one: the key "instances")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


class RequestError(ValueError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


# ---------------------------------------------------------------------- request bodies
def _nests_deeper(body: bytes, limit: int) -> bool:
    """Whether a JSON text nests ``[``/``{`` more than ``limit`` levels deep outside its strings.

    No recursion and no Python loop over bytes: escaped backslashes and escaped quotes
    are deleted, then every byte but brackets and quotes (``bytes.translate``), string
    contents are dropped by splitting at the quotes, and the running depth is a cumsum
    over 4 MiB chunks. A body with more than 50 000 strings is refused (422) rather than split.
    """
    if b"\\" in body:   # escapes live inside strings only; after this every quote delimits one
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = body.translate(None, _NOT_STRUCTURE)
    if kept.count(b'"') > 2 * _MAX_STRINGS:
        raise RequestError(422, f"the body holds more than {_MAX_STRINGS} strings; instances must contain "
                                "only numbers.")
    brackets = b"".join(kept.split(b'"')[::2])
    depth = 0
    for start in range(0, len(brackets), 2**22):
        b = np.frombuffer(brackets, np.uint8, count=min(2**22, len(brackets) - start), offset=start)
        levels = np.cumsum(((b == 0x5B) | (b == 0x7B)).astype(np.int8) * 2 - 1, dtype=np.int32) + depth
        if levels.max() > limit:
            return True
        depth = int(levels[-1])
    return False


def _decode_json(body: bytes, max_depth: int, shape: tuple[int, ...]) -> Any:
    """``json.loads(body)`` for a request, or RequestError(400): not UTF-8, not JSON, nested too deep."""
    need = f'{{"instances": [...]}} around inputs of shape {list(shape)} needs {len(shape) + 2}'
    if _nests_deeper(body, max_depth):
        raise RequestError(400, f"the JSON is nested more than {max_depth} levels deep ({need}); "
                                "refused before parsing.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(400, f"body is not valid JSON: not UTF-8 text ({err}).") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError(400, f"the JSON is nested too deeply to parse ({need}).") from None
    except ValueError as err:   # JSONDecodeError, and ints longer than Python's 4300-digit limit
        raise RequestError(400, f"body is not valid JSON ({err}).") from None


def validate_instances(payload: Any, input_shape: Sequence[int], dtype: str = "float32",
                       value_range: tuple[float, float] | None = (0.0, 1.0), max_batch: int = 1024) -> np.ndarray:
    """Check a decoded JSON payload and return the batch, (n, *input_shape), as ``dtype``.

    Raises :class:`RequestError` (400 for malformed requests, 413 for a batch that is
    too large, 422 for well-formed arrays with the wrong shape, type or range, or with
    values ``dtype`` cannot hold: 1e300 is finite as float64 but inf as float32).
    """
    shape = tuple(int(s) for s in input_shape)
    want = np.dtype(dtype)
    if not isinstance(payload, dict) or "instances" not in payload:
        raise RequestError(400, 'body must be a JSON object with key "instances": a list of inputs, '
                                f'each of shape {list(shape)}.')
    inst = payload["instances"]
    if not isinstance(inst, list) or not inst:
        raise RequestError(400, '"instances" must be a non-empty list of inputs, '
                                f'each of shape {list(shape)}.')
    if len(inst) > max_batch:
        raise RequestError(413, f"batch of {len(inst)} instances is larger than the limit {max_batch}; "
                                "split it into smaller requests.")
    ragged = RequestError(422, f"instances are ragged (nested lists of unequal lengths); each must have "
                               f"shape {list(shape)}.")
    try:
        obj = np.array(inst, dtype=object)  # element types survive: True stays a bool, not 1.0
    except ValueError:
        raise ragged from None
    types = set(map(type, obj.ravel()))
    if any(issubclass(t, (list, tuple)) for t in types):
        raise ragged
    kinds = {_element_kind(t) for t in types}
    wrong = sorted(kinds - {"integers", "reals"})
    if wrong:
        raise RequestError(422, f"instances must contain only numbers, got {', '.join(wrong)}.")
    integral = kinds <= {"integers"}
    try:   # Python ints are unbounded: 2**70 does not fit int64, 10**400 not even float64
        arr = obj.astype(np.int64 if integral and want.kind in "iu" else np.float64)
    except OverflowError:
        raise RequestError(422, f"instances contain a number too large for a 64-bit "
                                f"{'integer' if integral and want.kind in 'iu' else 'float'}; the model takes "
                                f"{want.name}.") from None
    if arr.shape[1:] != shape:
        hint = " (did you send one input without the batch list around it?)" if arr.shape == shape else ""
        raise RequestError(422, f"each instance must have shape {list(shape)}, got {list(arr.shape[1:])} "
                                f"(batch shape {list(arr.shape)}){hint}.")
    if want.kind in "iu" and arr.dtype.kind == "f":
        raise RequestError(422, f"instances must be integers ({want.name}), got floating-point numbers.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise RequestError(422, "instances contain NaN or infinity.")
    amin, amax = arr.min(), arr.max()
    if value_range is not None:
        lo, hi = value_range
        if amin < lo or amax > hi:
            raise RequestError(422, f"values must lie in [{lo}, {hi}], got min {float(amin):g} and max {float(amax):g}"
                                    + (" (scale uint8 pixels by 1/255)." if hi <= 1 and amax > 1 else "."))
    if want.kind in "iu":
        info = np.iinfo(want)
        if amin < info.min or amax > info.max:
            raise RequestError(422, f"values must fit {want.name}, [{info.min}, {info.max}], "
                                    f"got min {int(amin)} and max {int(amax)}.")
    with np.errstate(over="ignore"):
        x = arr.astype(want)
    if want.kind == "f" and not np.all(np.isfinite(x)):
        raise RequestError(422, f"values overflow {want.name}: its largest finite value is "
                                f"{float(np.finfo(want).max):.4g}, got magnitude {float(np.abs(arr).max()):.4g}.")
    return x


def _element_kind(t: type) -> str:
    if issubclass(t, (bool, np.bool_)):   # before Integral: True is an int to Python
        return "booleans (send 0 and 1, not false and true)"
    if issubclass(t, numbers.Integral):
        return "integers"
    if issubclass(t, numbers.Real):
        return "reals"
    return "strings" if issubclass(t, str) else "null values" if t is type(None) else f"{t.__name__} values"


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- the HTTP layer
class _Handler(BaseHTTPRequestHandler):
    """One connection: requests read under a deadline, checked head first, answered in JSON."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"   # early errors still get a status line (0.9 has none)
    server_version, sys_version = "labkit-serve", ""
    server: "_Server"

    def setup(self) -> None:
        self.owner = self.server.owner
        self.timeout = self.owner.request_timeout   # every socket read and write
        super().setup()
        self._linger = self._answered = self._body_read = False

    def log_message(self, *args) -> None:  # quiet: no per-request lines on stderr
        pass

    # -------------------------------------------------------------- answers
    def _send(self, status: int, obj: dict) -> None:
        try:
            data = json.dumps(obj, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as err:
            status, data = 500, json.dumps({"error": f"the answer could not be written as JSON ({err})."}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if status == 405:
            self.send_header("Allow", "GET, HEAD, POST")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._answered = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error, http.server's own included, as ``{"error": ...}``; the connection then closes."""
        short, long = self.responses.get(code, ("Error", ""))
        text = message or long or short
        if explain and explain != text:
            text = f"{text}: {explain}"
        self.close_connection, self._linger = True, not self._body_read
        self._send(code, {"error": text})

    # -------------------------------------------------------------- one request
    def handle_one_request(self) -> None:
        conn, srv = self.connection, self.server
        srv.set_deadline(conn, self.timeout)
        self.command, self.requestline, self.request_version = "", "", self.default_request_version
        self._answered = self._body_read = self._started = False
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            if srv.expired(conn) or not line:
                self.close_connection = True
                if line:
                    self._timed_out()
                return
            self._started = True
            if len(line) > _MAX_LINE:
                return self.send_error(414, f"request line longer than {_MAX_LINE} bytes.")
            match = _REQUEST_LINE.fullmatch(line)
            if match is None:
                return self.send_error(400, "malformed request line; expected 'METHOD /path HTTP/1.1'.")
            if match["version"] not in (b"1.0", b"1.1"):
                return self.send_error(505, f"HTTP/{match['version'].decode()} is not supported; use HTTP/1.1.")
            self.raw_requestline = line
            if not self.parse_request():   # headers; http.server answers 431 itself (through send_error)
                return
            if srv.expired(conn):
                return self._timed_out()
            method = {"GET": self.do_GET, "HEAD": self.do_GET, "POST": self.do_POST}.get(self.command)
            if method is None:
                return self.send_error(405, f"method {self.command} not allowed; use GET /health or POST /predict.")
            method()
            self.wfile.flush()
        except TimeoutError:   # a read or write stalled for request_timeout
            self.close_connection = True
            if self._started and not self._answered:   # an idle keep-alive connection just closes
                self._timed_out()

    def _timed_out(self) -> None:
        self.send_error(408, f"the request did not arrive whole within {self.owner.request_timeout:g} s.")

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` with the refusal itself when the head is already wrong."""
        refusal = self._refusal()
        if refusal is not None:
            self.send_error(*refusal)
            return False
        return super().handle_expect_100()

    def _refusal(self) -> tuple[int, str] | None:
        """(status, message) when the request head is refused, else None; sets ``self._length``."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            return 400, f"exactly one Host header is required (Host: {self.owner._hosts[0]})."
        if hosts[0].strip().lower() not in self.owner._hosts:
            return 421, (f"Host {hosts[0]!r} is not this server; it answers to {' or '.join(self.owner._hosts)} "
                         "only (a page on another site must not reach it through DNS rebinding).")
        if self.command != "POST":
            return None
        if self.path != "/predict":
            return 404, f"no such endpoint {self.path!r}; POST to /predict."
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get_all("Transfer-Encoding"):
            return (400 if lengths else 411), ("Transfer-Encoding (chunked) bodies are not accepted; send the "
                                               "body with a Content-Length header.")
        ctypes = self.headers.get_all("Content-Type") or []
        charset = self.headers.get_content_charset()
        if len(ctypes) != 1 or self.headers.get_content_type() != "application/json" or charset not in (None, "utf-8"):
            return 415, (f"Content-Type must be application/json (UTF-8), got {', '.join(ctypes) or 'none'}; "
                         "this service reads JSON only.")
        if not lengths:
            return 411, "a Content-Length header is required."
        values = {v.strip() for v in lengths}
        value = values.pop()
        if values or not _DIGITS.fullmatch(value):
            return 400, f"Content-Length must be one byte count (digits only), got {', '.join(lengths)!r}."
        if len(value) > 19 or int(value) > self.owner.max_body_bytes:
            return 413, f"body of {value} bytes is over the {self.owner.max_body_bytes}-byte limit."
        self._length = int(value)
        return None

    def do_GET(self) -> None:   # and HEAD: the same answer without its body
        refusal = self._refusal()
        if refusal is not None:
            return self.send_error(*refusal)
        if self.headers.get("Content-Length", "0").strip() != "0" or self.headers.get("Transfer-Encoding"):
            self.close_connection, self._linger = True, True   # a body we will not read: do not reuse the stream
        self.server.set_deadline(self.connection, None)
        self._body_read = not self._linger
        if self.path == "/health":
            self._send(200, self.owner.health())
        else:
            self._send(404, {"error": f"no such endpoint {self.path!r}; use GET /health or POST /predict."})

    def do_POST(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            return self.send_error(*refusal)
        body = self.rfile.read(self._length)   # never more than the checked Content-Length
        if self.server.expired(self.connection):
            return self._timed_out()
        if len(body) < self._length:
            return self.send_error(400, f"the body ended after {len(body)} of the {self._length} bytes "
                                        "its Content-Length announced.")
        self._body_read = True
        self.server.set_deadline(self.connection, None)
        try:
            answer = self.owner.handle_predict(body)
        except Exception as err:  # noqa: BLE001 - handle_predict should not raise; if it does, still JSON
            answer = 500, {"error": f"the service failed: {type(err).__name__}: {err}"}
        self._send(*answer)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        if self._linger:   # answered before reading the body: let the client read the answer, not a reset
            _discard_input(self.connection)


def _discard_input(conn: socket.socket) -> None:
    """Half-close, then read and drop what the client still sends, for at most 1 s / 8 MiB."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(0.1)
        end, seen = time.monotonic() + _LINGER_S, 0
        while time.monotonic() < end and seen < _LINGER_BYTES:
            chunk = conn.recv(65536)
            if not chunk:
                break
            seen += len(chunk)
    except OSError:
        pass


def _shut(sock: socket.socket, how: int) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass


class _Server(HTTPServer):
    """``HTTPServer`` with a thread per connection, at most ``max_connections`` at once.

    A connection past the limit waits in the accept loop (the kernel's backlog holds
    the rest). ``service_actions`` runs every poll of that loop and cuts connections
    past their deadline: ``shutdown(SHUT_RD)`` wakes the blocked read with EOF, the
    handler answers 408 and ends. ``close_all`` does the same to every connection,
    joins every handler thread and closes the socket.
    """

    def __init__(self, owner: "PredictionServer"):
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in owner.host else socket.AF_INET
        self.request_queue_size = owner.backlog
        self._slots = threading.BoundedSemaphore(owner.max_connections)
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._deadlines: dict[socket.socket, float] = {}   # live connection -> when its read must be done
        self._expired: set[socket.socket] = set()
        self._stopping = threading.Event()
        super().__init__((owner.host, owner.port), _Handler)

    def server_bind(self) -> None:
        TCPServer.server_bind(self)   # HTTPServer's would call socket.getfqdn: a DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: socket.socket, client_address) -> None:
        while not self._slots.acquire(timeout=0.05):
            self.service_actions()   # keep cutting overdue connections while every slot is taken
            if self._stopping.is_set():
                return self.shutdown_request(request)
        worker = threading.Thread(target=self._work, args=(request, client_address), daemon=True,
                                  name=f"labkit-serve-{self.server_port}-conn")
        with self._lock:   # finished workers are pruned here, never by themselves: stop() joins the rest
            self._workers = {w for w in self._workers if w.is_alive()} | {worker}
            self._deadlines[request] = math.inf
        try:
            worker.start()
        except RuntimeError:   # no thread to be had: drop this connection, keep serving
            with self._lock:
                self._workers.discard(worker)
                self._deadlines.pop(request, None)
            self._slots.release()
            self.shutdown_request(request)

    def _work(self, request: socket.socket, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one connection's failure must not reach the others
            self.handle_error(request, client_address)
        finally:
            with self._lock:
                self._deadlines.pop(request, None)
                self._expired.discard(request)
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):   # the client hung up or reset: nothing to report
            return
        super().handle_error(request, client_address)

    def set_deadline(self, conn: socket.socket, seconds: float | None) -> None:
        """Cut ``conn`` unless its request has arrived within ``seconds`` (None: no deadline)."""
        with self._lock:
            if conn in self._deadlines:
                self._deadlines[conn] = math.inf if seconds is None else time.monotonic() + seconds

    def expired(self, conn: socket.socket) -> bool:
        with self._lock:
            return conn in self._expired

    def service_actions(self) -> None:
        now = time.monotonic()
        with self._lock:   # under the lock: a connection is never shut after its handler closed it
            for conn, deadline in self._deadlines.items():
                if deadline < now and conn not in self._expired:
                    self._expired.add(conn)
                    _shut(conn, socket.SHUT_RD)

    def _shut_all(self, how: int) -> None:
        with self._lock:
            for conn in self._deadlines:
                _shut(conn, how)

    def close_all(self) -> list[threading.Thread]:
        """Stop accepting, end every connection, join the handlers; returns those still alive."""
        self._stopping.set()
        self.shutdown()                      # serve_forever returns
        self._shut_all(socket.SHUT_RD)       # idle and half-sent requests see EOF; answers being computed still go out
        end = time.monotonic() + _STOP_GRACE_S
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))
        if any(w.is_alive() for w in workers):
            self._shut_all(socket.SHUT_RDWR)
            for worker in workers:
                worker.join(1.0)
        self.server_close()
        return [w for w in workers if w.is_alive()]


# ---------------------------------------------------------------------- the service
class PredictionServer:
    """Serve ``predict`` on ``http://127.0.0.1:<free port>`` while the ``with`` block runs.

    predict: takes a (n, *input_shape) array of ``dtype`` and returns (n, k) logits
    (or any (n, ...) array of numbers). ``outputs_are_logits=False`` skips the softmax
    summary. Limits: ``max_batch`` instances and ``max_body_bytes`` bytes per request,
    ``request_timeout`` seconds to send one, ``max_connections`` handled at once,
    ``backlog`` waiting. Raises TypeError / ValueError for arguments of the wrong type /
    value.
    """

    def __init__(self, predict: Callable[[np.ndarray], Any], *, input_shape: Sequence[int],
                 dtype: str = "float32", value_range: tuple[float, float] | None = (0.0, 1.0),
                 max_batch: int = 1024, max_body_bytes: int = 64 * 2**20, host: str = "127.0.0.1",
                 port: int = 0, outputs_are_logits: bool = True, request_timeout: float = 10.0,
                 max_connections: int = 32, backlog: int = 256):
        if not callable(predict):
            raise TypeError(f"predict must be callable (a function from a batch to outputs), "
                            f"got {type(predict).__name__}.")
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, (Sequence, np.ndarray)):
            raise TypeError(f"input_shape must be a sequence of integers such as (28, 28, 1), got {input_shape!r}.")
        self.input_shape = tuple(check_int(s, f"input_shape[{i}]", min_val=1) for i, s in enumerate(input_shape))
        try:
            want = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must name a NumPy dtype such as 'float32', got {dtype!r}.") from None
        if want.kind not in "iuf":
            raise ValueError(f"dtype must be an integer or floating-point dtype, got {want.name}.")
        self.dtype = want.name
        self.value_range = _check_range(value_range)
        self.max_batch = check_int(max_batch, "max_batch", min_val=1)
        self.max_body_bytes = check_int(max_body_bytes, "max_body_bytes", min_val=1)
        if not isinstance(host, str):
            raise TypeError(f"host must be a string, one of {list(_LOOPBACK)}, got {host!r}.")
        if host not in _LOOPBACK:
            raise ValueError(f"this teaching server only listens on loopback {list(_LOOPBACK)}, got host {host!r}.")
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = check_int(port, "port", min_val=0, max_val=65535)
        self.outputs_are_logits = check_bool(outputs_are_logits, "outputs_are_logits")
        self.request_timeout = check_number(request_timeout, "request_timeout", min_val=0, include_min=False)
        self.max_connections = check_int(max_connections, "max_connections", min_val=1, max_val=4096)
        self.backlog = check_int(backlog, "backlog", min_val=1, max_val=65535)
        self.max_depth = len(self.input_shape) + 2 + _DEPTH_SLACK   # {"instances": [ instance ]}
        self.predict = predict
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._hosts: tuple[str, ...] = ()
        self._lock = threading.Lock()  # one model call at a time
        self.requests_served = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server is not running; use it as `with PredictionServer(...) as srv:`.")
        return f"http://{self._hosts[0]}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "PredictionServer":
        if self._httpd is not None:
            raise RuntimeError("server already started.")
        httpd = _Server(self)
        port = httpd.server_address[1]
        self._hosts = (f"[{self.host}]:{port}" if ":" in self.host else f"{self.host}:{port}", f"localhost:{port}")
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"labkit-serve-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every connection, join every thread, close the socket."""
        if self._httpd is None:
            return
        alive = self._httpd.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None
        if alive:
            warnings.warn(f"{len(alive)} request thread(s) still running after stop(): a predict call that "
                          "does not return?", RuntimeWarning, stacklevel=2)

    def __enter__(self) -> "PredictionServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ requests
    def health(self) -> dict:
        """The ``GET /health`` answer: what this service accepts."""
        return {"status": "ok", "input_shape": list(self.input_shape), "dtype": self.dtype,
                "value_range": None if self.value_range is None else list(self.value_range),
                "max_batch": self.max_batch, "max_body_bytes": self.max_body_bytes}

    def handle_predict(self, body: bytes) -> tuple[int, dict]:
        """Answer one ``/predict`` body: ``(status, json_dict)``. Never raises.

        A model output with NaN or infinity is a 500 naming the instances: JSON cannot
        carry NaN, and a client must not act on it.
        """
        try:
            payload = _decode_json(body, self.max_depth, self.input_shape)
            x = validate_instances(payload, self.input_shape, self.dtype, self.value_range, self.max_batch)
        except RequestError as err:
            return err.status, {"error": str(err)}
        try:
            with self._lock:
                out = np.asarray(self.predict(x))
            if out.shape[:1] != (len(x),):
                raise ValueError(f"predict returned shape {out.shape} for {len(x)} instances")
            if out.dtype.kind not in "biuf":
                raise TypeError(f"predict returned {out.dtype} values; expected numbers")
        except Exception as err:  # noqa: BLE001 - the service answers 500 instead of dying
            return 500, {"error": f"prediction failed: {type(err).__name__}: {err}"}
        finite = np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            return 500, {"error": f"the model produced non-finite output (NaN or infinity) for instance(s) "
                                  f"{bad[:20].tolist()}{' ...' if len(bad) > 20 else ''} of {len(out)}; "
                                  "no prediction is returned."}
        answer: dict[str, Any] = {"outputs": out.tolist()}
        if self.outputs_are_logits and out.ndim == 2 and out.shape[1] >= 2:
            prob = _softmax(out.astype(np.float64))
            answer["classes"] = prob.argmax(axis=1).tolist()
            answer["confidence"] = prob.max(axis=1).round(6).tolist()
        with self._lock:
            self.requests_served += 1
        return 200, answer


def _check_range(value_range: Any) -> tuple[float, float] | None:
    """``value_range`` as (low, high) floats with low < high, or None."""
    if value_range is None:
        return None
    if isinstance(value_range, (str, bytes)) or not isinstance(value_range, (Sequence, np.ndarray)):
        raise TypeError(f"value_range must be None or a pair (low, high), got {value_range!r}.")
    if len(value_range) != 2:
        raise ValueError(f"value_range must be a pair (low, high), got {len(value_range)} values.")
    lo, hi = (check_number(v, f"value_range[{i}]") for i, v in enumerate(value_range))
    if not lo < hi:
        raise ValueError(f"value_range must be (low, high) with low < high, got ({lo:g}, {hi:g}).")
    return lo, hi


# ---------------------------------------------------------------------- client side
def _strict_loads(data: bytes) -> Any:
    def refuse(token: str):
        raise ValueError(f"the answer is not valid JSON: it contains {token}")
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def _request(req: urllib.request.Request, timeout: float) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, _strict_loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, _strict_loads(err.read())


def post_json(url: str, payload: Any = None, *, data: bytes | None = None, timeout: float = 30.0) -> tuple[int, dict]:
    """POST ``payload`` as JSON (or raw ``data`` bytes) and return ``(status, decoded_body)``."""
    body = data if data is not None else json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    return _request(req, timeout)


def get_json(url: str, *, timeout: float = 30.0) -> tuple[int, dict]:
    """GET ``url`` and return ``(status, decoded_body)``."""
    return _request(urllib.request.Request(url, method="GET"), timeout)
