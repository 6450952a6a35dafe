"""The HTTP layer of :mod:`labkit.serve`: one connection at a time, read under limits, answered in JSON.

``LoopbackHTTPServer`` is ``http.server.HTTPServer`` with a thread per connection (at
most ``max_connections``), a deadline per request and a ``close_all`` that leaves no
thread or socket behind. ``_Handler`` reads each request head first and refuses it
(every refusal a JSON ``{"error": ...}``) before the body is read: request line, Host
header (DNS rebinding), Content-Type, Content-Length, chunked bodies. What a body
*contains* is checked by :mod:`labkit.serve.request`, called through the owner's
``handle_predict``.
"""
from __future__ import annotations

import json
import math
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import PredictionServer

__all__ = ["LoopbackHTTPServer"]

_MAX_LINE = 65536           # longest request line, as http.server
_LINGER_S, _LINGER_BYTES = 1.0, 8 * 2**20   # after an early error: how long/much unread body to discard
_STOP_GRACE_S = 5.0         # stop(): how long answers being computed may still finish
_REQUEST_LINE = re.compile(rb"(?P<method>[A-Z]{1,20}) (?P<target>/[!-~]*|\*) HTTP/(?P<version>[0-9]\.[0-9])\r?\n")
_DIGITS = re.compile(r"[0-9]+")


class _Handler(BaseHTTPRequestHandler):
    """One connection: requests read under a deadline, checked head first, answered in JSON."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"   # early errors still get a status line (0.9 has none)
    server_version, sys_version = "labkit-serve", ""
    server: "LoopbackHTTPServer"

    def setup(self) -> None:
        self.owner = self.server.owner
        # every socket read and write. typeshed declares StreamRequestHandler.timeout a ClassVar, but
        # StreamRequestHandler.setup() reads it through self, so an instance value is what it uses.
        self.timeout = self.owner.request_timeout  # type: ignore[misc]
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
            return 400, f"exactly one Host header is required (Host: {self.server.hosts[0]})."
        if hosts[0].strip().lower() not in self.server.hosts:
            return 421, (f"Host {hosts[0]!r} is not this server; it answers to {' or '.join(self.server.hosts)} "
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


class LoopbackHTTPServer(HTTPServer):
    """``HTTPServer`` with a thread per connection, at most ``max_connections`` at once.

    A connection past the limit waits in the accept loop (the kernel's backlog holds
    the rest). ``service_actions`` runs every poll of that loop and cuts connections
    past their deadline: ``shutdown(SHUT_RD)`` wakes the blocked read with EOF, the
    handler answers 408 and ends. ``close_all`` does the same to every connection,
    joins every handler thread and closes the socket.

    owner: the :class:`~labkit.serve.PredictionServer` whose ``host``, ``port``,
    ``backlog``, ``max_connections``, ``request_timeout`` and ``max_body_bytes`` it
    honours and whose ``health()`` and ``handle_predict(body)`` answer the requests.
    """

    # An AF_INET/AF_INET6 socket's own address: a str host (typeshed's TCPServer allows bytes too).
    server_address: tuple[str, int] | tuple[str, int, int, int]

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
        port = self.server_address[1]
        host = f"[{owner.host}]:{port}" if ":" in owner.host else f"{owner.host}:{port}"
        self.hosts = (host, f"localhost:{port}")   # the Host headers it answers; hosts[0] is its URL

    def server_bind(self) -> None:
        TCPServer.server_bind(self)   # HTTPServer's would call socket.getfqdn: a DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    # A TCPServer's request is always the connection's socket (the (bytes, socket) form in
    # BaseServer's signature is UDPServer's), so this narrower parameter type is safe.
    def process_request(self, request: socket.socket, client_address) -> None:  # type: ignore[override]
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
