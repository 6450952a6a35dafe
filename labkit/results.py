"""Publish a notebook's headline numbers: ``record(key, value)``.

When the environment variable ``LABKIT_RESULTS`` names a file, each record is
appended to it as one JSON line (``{"key", "value", "profile", "time"}``); the
headless runner (:mod:`labkit.runbook`) gathers those lines into one table.
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any

import numpy as np

_KEY = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_\-]+)*$")
_RECORDED: dict[str, Any] = {}


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"value must be a finite number: cannot record {value}; record a finite value or a "
                             "string.")
        return value
    raise TypeError(f"value must be a number, a bool or a string (what record() can store), got "
                    f"{type(value).__name__}.")


def record(key: str, value: Any) -> None:
    """Record a headline result under a dotted key such as ``"mnist.cnn.test_accuracy"``.

    Returns ``None``, like any call made for its side effect, so a notebook cell that
    ends in ``record(...)`` displays nothing (a displayed value would be a volatile
    output). Raises ``TypeError`` for a key that is not a string or a value that is not
    a plain number, bool or string, ``ValueError`` for a malformed key or a non-finite number.
    """
    if not isinstance(key, str):
        raise TypeError(f"record key must be a string of dotted words like 'mnist.cnn.test_accuracy', got {key!r} "
                        f"of type {type(key).__name__}.")
    if not _KEY.match(key):
        raise ValueError(f"record key must be dotted words like 'mnist.cnn.test_accuracy', got {key!r}.")
    plain = _plain(value)
    _RECORDED[key] = plain
    path = os.environ.get("LABKIT_RESULTS")
    if path:
        from labkit.profiles import active_profile

        line = json.dumps({"key": key, "value": plain, "profile": active_profile(),
                           "time": round(time.time(), 3)})
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def recorded() -> dict[str, Any]:
    """A copy of everything recorded in this process so far."""
    return dict(_RECORDED)
