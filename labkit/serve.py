"""A small prediction service: JSON over HTTP on 127.0.0.1, standard library only.

``PredictionServer`` wraps any ``predict(x: np.ndarray) -> np.ndarray`` function (a
Keras model's ``predict_on_batch``, a reloaded SavedModel's ``serve``) and validates
every request before the model sees it: wrong JSON, shape, dtype or value range get a
4xx answer whose ``error`` field says what was wrong and what was expected; an
exception inside ``predict`` gets a 500 answer. The server never crashes on a request.

It is a context manager that starts the server on a free port in a background thread
and, on exit, shuts it down, closes the socket and joins the thread::

    with PredictionServer(model.predict_on_batch, input_shape=(28, 28, 1)) as srv:
        status, body = post_json(srv.url + "/predict", {"instances": x[:2].tolist()})

Endpoints: ``GET /health`` -> ``{"status": "ok", "input_shape": [...], ...}``;
``POST /predict`` with ``{"instances": [...]}`` (a batch: list of arrays of
``input_shape``) -> ``{"outputs": [[...]], "classes": [...], "confidence": [...]}``
(``classes``/``confidence`` from a softmax when the outputs are (n, k) logits).
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["PredictionServer", "RequestError", "validate_instances", "post_json", "get_json"]


class RequestError(ValueError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def validate_instances(payload: Any, input_shape: Sequence[int], dtype: str = "float32",
                       value_range: tuple[float, float] | None = (0.0, 1.0), max_batch: int = 1024) -> np.ndarray:
    """Check a decoded JSON payload and return the batch as an array of ``dtype``.

    Raises :class:`RequestError` (400 for malformed requests, 413 for a batch that is
    too large, 422 for well-formed arrays with the wrong shape, type or range).
    """
    shape = tuple(int(s) for s in input_shape)
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
    try:
        arr = np.array(inst)
    except ValueError:
        raise RequestError(422, f"instances are ragged (nested lists of unequal lengths); each must have "
                                f"shape {list(shape)}.") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        kind = {"b": "booleans", "U": "strings", "O": "mixed or null values"}.get(arr.dtype.kind, str(arr.dtype))
        raise RequestError(422, f"instances must contain only numbers, got {kind}.")
    if arr.shape[1:] != shape:
        hint = " (did you send one input without the batch list around it?)" if arr.shape == shape else ""
        raise RequestError(422, f"each instance must have shape {list(shape)}, got {list(arr.shape[1:])} "
                                f"(batch shape {list(arr.shape)}){hint}.")
    want = np.dtype(dtype)
    if want.kind in "iu" and arr.dtype.kind == "f":
        raise RequestError(422, f"instances must be integers ({want.name}), got floating-point numbers.")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise RequestError(422, "instances contain NaN or infinity.")
    if value_range is not None:
        lo, hi = value_range
        amin, amax = float(arr.min()), float(arr.max())
        if amin < lo or amax > hi:
            raise RequestError(422, f"values must lie in [{lo}, {hi}], got min {amin:g} and max {amax:g}"
                                    + (" (scale uint8 pixels by 1/255)." if hi <= 1 and amax > 1 else "."))
    return arr.astype(want)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class PredictionServer:
    """Serve ``predict`` on ``http://127.0.0.1:<free port>`` while the ``with`` block runs.

    predict: takes a (n, *input_shape) array of ``dtype`` and returns (n, k) logits
    (or any (n, ...) array). ``outputs_are_logits=False`` skips the softmax summary.
    """

    def __init__(self, predict: Callable[[np.ndarray], Any], *, input_shape: Sequence[int],
                 dtype: str = "float32", value_range: tuple[float, float] | None = (0.0, 1.0),
                 max_batch: int = 1024, max_body_bytes: int = 64 * 2**20, host: str = "127.0.0.1",
                 port: int = 0, outputs_are_logits: bool = True):
        if not callable(predict):
            raise ValueError(f"predict must be callable, got {type(predict).__name__}.")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"this teaching server only listens on loopback, got host {host!r}.")
        self.predict = predict
        self.input_shape = tuple(int(s) for s in input_shape)
        self.dtype, self.value_range = str(np.dtype(dtype)), value_range
        self.max_batch, self.max_body_bytes = int(max_batch), int(max_body_bytes)
        self.host, self.port = host, int(port)
        self.outputs_are_logits = outputs_are_logits
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one model call at a time
        self.requests_served = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server is not running; use it as `with PredictionServer(...) as srv:`.")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "PredictionServer":
        if self._httpd is not None:
            raise RuntimeError("server already started.")
        self._httpd = ThreadingHTTPServer((self.host, self.port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"labkit-serve-{self._httpd.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> "PredictionServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ requests
    def handle_predict(self, body: bytes) -> tuple[int, dict]:
        """Answer one ``/predict`` body: ``(status, json_dict)``. Never raises."""
        try:
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise RequestError(400, f"body is not valid JSON ({err}).") from None
            x = validate_instances(payload, self.input_shape, self.dtype, self.value_range, self.max_batch)
        except RequestError as err:
            return err.status, {"error": str(err)}
        try:
            with self._lock:
                out = np.asarray(self.predict(x))
            if out.shape[:1] != (len(x),):
                raise ValueError(f"predict returned shape {out.shape} for {len(x)} instances")
        except Exception as err:  # noqa: BLE001 - the service answers 500 instead of dying
            return 500, {"error": f"prediction failed: {type(err).__name__}: {err}"}
        answer: dict[str, Any] = {"outputs": out.tolist()}
        if self.outputs_are_logits and out.ndim == 2 and out.shape[1] >= 2:
            prob = _softmax(out.astype(np.float64))
            answer["classes"] = prob.argmax(axis=1).tolist()
            answer["confidence"] = prob.max(axis=1).round(6).tolist()
        self.requests_served += 1
        return 200, answer

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: no per-request lines on stderr
                pass

            def _send(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/health":
                    self._send(200, {"status": "ok", "input_shape": list(server.input_shape),
                                     "dtype": server.dtype, "value_range": server.value_range,
                                     "max_batch": server.max_batch})
                else:
                    self._send(404, {"error": f"no such endpoint {self.path!r}; use GET /health or POST /predict."})

            def do_POST(self):
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self.close_connection = True
                    return self._send(411, {"error": "a Content-Length header is required."})
                if length > server.max_body_bytes:
                    self.close_connection = True
                    return self._send(413, {"error": f"body of {length} bytes is over the "
                                                     f"{server.max_body_bytes}-byte limit."})
                body = self.rfile.read(length)
                if self.path != "/predict":
                    return self._send(404, {"error": f"no such endpoint {self.path!r}; POST to /predict."})
                self._send(*server.handle_predict(body))

            def _method_not_allowed(self):
                self._send(405, {"error": f"method {self.command} not allowed; use GET /health or POST /predict."})

            do_PUT = do_DELETE = do_PATCH = _method_not_allowed

        return Handler


# ---------------------------------------------------------------------- client side
def _request(req: urllib.request.Request, timeout: float) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read().decode("utf-8"))


def post_json(url: str, payload: Any = None, *, data: bytes | None = None, timeout: float = 30.0) -> tuple[int, dict]:
    """POST ``payload`` as JSON (or raw ``data`` bytes) and return ``(status, decoded_body)``."""
    body = data if data is not None else json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    return _request(req, timeout)


def get_json(url: str, *, timeout: float = 30.0) -> tuple[int, dict]:
    """GET ``url`` and return ``(status, decoded_body)``."""
    return _request(urllib.request.Request(url, method="GET"), timeout)
