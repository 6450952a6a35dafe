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

One concern per module: :mod:`~labkit.serve.server` (``PredictionServer``: settings,
lifecycle, the answer to one body), :mod:`~labkit.serve.httpd` (connections, deadlines,
the request head and its limits), :mod:`~labkit.serve.request` (decoding and checking a
body: ``validate_instances``, ``RequestError``), :mod:`~labkit.serve.client`
(``get_json``, ``post_json``).
"""
from __future__ import annotations

from .client import get_json, post_json
from .request import RequestError, validate_instances
from .server import PredictionServer

__all__ = ["PredictionServer", "RequestError", "validate_instances", "post_json", "get_json"]
