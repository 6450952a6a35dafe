"""Request bodies for :mod:`labkit.serve`: JSON decoded under limits, then checked as a batch.

``decode_json`` refuses a body nested deeper than the model's input needs *before*
``json`` parses it (no recursion, no Python loop over bytes), and anything that is not
UTF-8 JSON; ``validate_instances`` turns the decoded payload into a (n, *input_shape)
array of the model's dtype or raises :class:`RequestError` with the HTTP status to
answer and a message that says what was wrong and what was expected.
"""
from __future__ import annotations

import json
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["RequestError", "decode_json", "nesting_limit", "validate_instances"]

_DEPTH_SLACK = 2            # levels beyond what input_shape needs, so a wrong shape still gets its 422
_MAX_STRINGS = 50_000       # JSON strings a body may hold (the API needs one: the key "instances")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


class RequestError(ValueError):
    """A request the service refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def nesting_limit(input_shape: Sequence[int]) -> int:
    """How deep a ``/predict`` body may nest: ``{"instances": [ instance ]}`` plus 2 levels of slack."""
    return len(input_shape) + 2 + _DEPTH_SLACK


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


def decode_json(body: bytes, max_depth: int, shape: tuple[int, ...]) -> Any:
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
