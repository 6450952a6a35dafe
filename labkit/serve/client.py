"""Client helpers for :mod:`labkit.serve`: one JSON request, answered as ``(status, body)``.

Standard library only (``urllib``). A 4xx or 5xx answer is returned, not raised, so a
notebook can show what the service said; an answer that is not strict JSON (NaN,
Infinity) raises ``ValueError``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["get_json", "post_json"]


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
