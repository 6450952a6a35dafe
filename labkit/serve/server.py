"""``PredictionServer``: a model's ``predict`` behind ``GET /health`` and ``POST /predict``.

The service itself: its settings (each checked when it is built), its lifecycle as a
context manager, and the answer to one ``/predict`` body. Requests reach it through
:mod:`labkit.serve.httpd`; their bodies are checked by :mod:`labkit.serve.request`.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import scipy.special

from ..validation import check_bool, check_int, check_number
from .httpd import LoopbackHTTPServer
from .request import RequestError, decode_json, nesting_limit, validate_instances

__all__ = ["PredictionServer"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
        self.max_depth = nesting_limit(self.input_shape)
        self.predict = predict
        self._httpd: LoopbackHTTPServer | None = None
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
        httpd = LoopbackHTTPServer(self)
        port = httpd.server_address[1]
        self._hosts = httpd.hosts
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
            payload = decode_json(body, self.max_depth, self.input_shape)
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
            prob = scipy.special.softmax(out.astype(np.float64), axis=1)
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
