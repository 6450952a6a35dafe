"""Argument validation shared by every public function of labkit.

The contract follows scikit-learn's (``sklearn.utils.validation``): a value of the
wrong *type* raises :class:`TypeError`, a value of the right type but the wrong
*value*, shape or range raises :class:`ValueError`, and the message names the
argument, says what was wrong and what to pass instead.

Why our own and not ``sklearn.utils.check_scalar`` / ``check_array`` /
``check_consistent_length`` directly: those accept ``True`` as an integer, silently
cast fractional class labels, and name neither argument in a length mismatch
("inconsistent numbers of samples: [2, 3]"). The functions here are thin and keep
scikit-learn's exception types, so a caller catching ``ValueError`` still works.

Functions (each returns the validated value, converted)::

    check_int(value, name, min_val=None, max_val=None)                       -> int
    check_number(value, name, min_val=None, max_val=None, ...)               -> float
    check_bool(value, name)                                           -> bool
    check_option(value, name, options)                                -> str
    check_array(value, name, ndim=None, kind="numeric", ...)          -> np.ndarray
    check_labels(value, name, n_classes=None)                         -> np.ndarray (int64, 1-D)
    check_same_length(**arrays)                                       -> int (the common length)
"""
from __future__ import annotations

import numbers
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

__all__ = ["check_int", "check_number", "check_bool", "check_option", "check_array",
           "check_labels", "check_same_length"]

_KINDS = {"numeric": "biuf", "integer": "biu", "float": "f", "any": None}


def _type_name(value: Any) -> str:
    return type(value).__name__


def _bounds_text(lo: Any, hi: Any, include_min: bool = True, include_max: bool = True) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>=' if include_min else '>'} {lo}")
    if hi is not None:
        parts.append(f"{'<=' if include_max else '<'} {hi}")
    return " and ".join(parts)


def check_int(value: Any, name: str, *, min_val: int | None = None, max_val: int | None = None) -> int:
    """``value`` as a Python int, in ``[min_val, max_val]`` (either bound may be None).

    Booleans are refused (``True`` is an ``int`` to Python, never a count to a user);
    NumPy integers are accepted; floats are refused, even ``3.0``, because a count that
    arrives as a float is usually a computation gone wrong upstream.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        want = "an integer" + (f" {_bounds_text(min_val, max_val)}" if min_val is not None or max_val is not None else "")
        raise TypeError(f"{name} must be {want}, got {value!r} of type {_type_name(value)}.")
    out = int(value)
    if (min_val is not None and out < min_val) or (max_val is not None and out > max_val):
        raise ValueError(f"{name} must be an integer {_bounds_text(min_val, max_val)}, got {out}.")
    return out


def check_number(value: Any, name: str, *, min_val: float | None = None, max_val: float | None = None,
                 include_min: bool = True, include_max: bool = True, finite: bool = True) -> float:
    """``value`` as a Python float within the bounds; NaN and +-inf refused when ``finite``.

    Accepts Python and NumPy reals (and 0-d arrays of them); refuses booleans, strings
    and complex numbers with a TypeError.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {_type_name(value)}.")
    out = float(value)
    if np.isnan(out) or (finite and not np.isfinite(out)):
        raise ValueError(f"{name} must be a finite number, got {out}.")
    low_bad = min_val is not None and (out < min_val if include_min else out <= min_val)
    high_bad = max_val is not None and (out > max_val if include_max else out >= max_val)
    if low_bad or high_bad:
        raise ValueError(f"{name} must be {_bounds_text(min_val, max_val, include_min, include_max)}, got {out:g}.")
    return out


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool; only ``True``/``False`` (and NumPy booleans) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {_type_name(value)}.")
    return bool(value)


def check_option(value: Any, name: str, options: Collection[str]) -> str:
    """``value`` if it is one of the strings ``options``."""
    choices = sorted(options) if not isinstance(options, Sequence) else list(options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {value!r} of type {_type_name(value)}.")
    if value not in options:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def check_array(value: Any, name: str, *, ndim: int | Sequence[int] | None = None, kind: str = "numeric",
                finite: bool = True, min_len: int = 1, dtype: Any = None) -> np.ndarray:
    """``value`` as a NumPy array (no copy when it already is one).

    ndim: the allowed number(s) of dimensions (None: any); kind: "numeric"
    (booleans, integers, floats), "integer", "float" or "any"; finite: refuse NaN/inf
    in float arrays; min_len: the least number of rows (first axis) for arrays of
    ndim >= 1; dtype: convert to it after the checks.

    Strings, objects and ragged lists raise TypeError; a wrong ndim, too few rows or
    non-finite values raise ValueError.
    """
    allowed = _KINDS.get(kind, "")
    if allowed == "":
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}.")
    if value is None:
        raise TypeError(f"{name} must be an array, got None.")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise TypeError(f"{name} could not be read as an array of numbers ({err}); pass a NumPy array "
                        "or a list of equal-length rows.") from None
    if allowed is not None and (arr.dtype == object or arr.dtype.kind not in allowed):
        want = {"numeric": "numbers", "integer": "integers", "float": "floating-point numbers"}[kind]
        raise TypeError(f"{name} must hold {want}, got an array of dtype {arr.dtype}"
                        f"{' (strings?)' if arr.dtype.kind in 'USO' else ''}.")
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in dims:
            want = " or ".join(f"{d}-D" for d in dims)
            raise ValueError(f"{name} must be {want}, got an array of shape {arr.shape}.")
    if arr.ndim >= 1 and arr.shape[0] < min_len:
        raise ValueError(f"{name} has {arr.shape[0]} row(s); it needs at least {min_len}.")
    if finite and arr.dtype.kind in "fc" and arr.size and not np.isfinite(arr).all():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); remove or fix them first.")
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def check_labels(value: Any, name: str, *, n_classes: int | None = None) -> np.ndarray:
    """Class labels as a 1-D int64 array of values in ``0 .. n_classes - 1``.

    Integer-valued floats (``3.0``) are accepted, as Keras and NumPy produce them;
    fractional, negative or too-large labels raise ValueError (NumPy would otherwise
    truncate ``0.5`` to 0 and index ``-1`` as the last class). Booleans are refused.
    """
    arr = check_array(value, name, ndim=1, kind="numeric")
    if arr.dtype == bool:
        raise TypeError(f"{name} must hold integer class labels, got booleans; convert them with "
                        f"{name}.astype(int) if you mean classes 0 and 1.")
    if arr.dtype.kind == "f":
        if not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold whole-number class labels, got fractional values such as "
                             f"{arr[arr != np.round(arr)][:3].tolist()}.")
    labels = arr.astype(np.int64)
    if labels.min() < 0:
        raise ValueError(f"{name} must hold class labels >= 0, got {int(labels.min())}.")
    if n_classes is not None and labels.max() >= n_classes:
        raise ValueError(f"{name} holds label {int(labels.max())}, but there are only {n_classes} classes "
                         f"(labels 0 .. {n_classes - 1}).")
    return labels


def check_same_length(**arrays: Any) -> int:
    """The common number of rows of the named arrays; ValueError naming each when they differ."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        parts = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"inputs have different numbers of examples: {parts}; pass one entry per example.")
    return next(iter(lengths.values()), 0)
