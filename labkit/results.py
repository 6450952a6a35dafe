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
from pathlib import Path
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


_BENCH_NAME = re.compile(r"^[a-z0-9_]+$")


def stored_benchmark(name: str, start: str | os.PathLike | None = None) -> tuple[dict, str] | None:
    """The newest stored run of benchmark ``name``, as ``(result, path)``; None where there is none.

    A benchmark script writes ``benchmarks/results/<name>_<YYYY-MM-DD>.json`` in the workbook's folder;
    this looks for that folder in ``start`` (default: the working directory) and each folder above
    it, so a notebook finds it from ``notebooks/`` and from a workspace beneath it. The newest is the
    last by name (the ISO date sorts). Outside a clone of the workbook (an installed labkit, Colab)
    there is none. Raises ``ValueError`` for a ``name`` that is not lowercase words joined by ``_``,
    and ``ValueError`` naming the file when the newest one is not valid JSON.
    """
    if not isinstance(name, str) or not _BENCH_NAME.match(name):
        raise ValueError(f"name must be a benchmark's name such as 'recipe_ablation' (lowercase letters, digits and "
                         f"_), got {name!r}.")
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        dated = re.compile(rf"{name}_\d{{4}}-\d{{2}}-\d{{2}}\.json")
        found = sorted(f for f in (folder / "benchmarks" / "results").glob(f"{name}_*.json") if dated.fullmatch(f.name))
        if found:
            path = found[-1]
            try:
                return json.loads(path.read_text(encoding="utf-8")), str(path)
            except ValueError as err:
                raise ValueError(f"{path} is not a valid benchmark result ({err}); rerun the benchmark or restore "
                                 "the file from git.") from None
    return None
