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
    check_str(value, name, allow_empty=False)                         -> str
    check_callable(value, name, what="a function")                    -> the callable
    check_ints(value, name, min_val=None, min_len=1)                  -> tuple[int, ...]
    check_values(array, name, min_val=None, max_val=None)             -> the array (values in range)
    check_binary_labels(value, name, dtype=np.int64)                  -> np.ndarray (0/1, 1-D)
    check_axis(axis, ndim, name="axis")                               -> int (non-negative)
    check_names(value, name, min_len=1)                               -> tuple[str, ...]
    check_numbers(value, name, min_len=1, min_val=None, ...)          -> tuple[float, ...]
"""
from __future__ import annotations

import numbers
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

__all__ = ["check_int", "check_number", "check_bool", "check_option", "check_array",
           "check_labels", "check_same_length", "check_str", "check_callable", "check_ints", "check_values",
           "check_binary_labels", "check_axis", "check_names", "check_numbers"]

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
        bounded = min_val is not None or max_val is not None
        want = "an integer" + (f" {_bounds_text(min_val, max_val)}" if bounded else "")
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
        empty = " (it is empty)" if arr.shape[0] == 0 else ""
        raise ValueError(f"{name} has {arr.shape[0]} row(s){empty}; it needs at least {min_len}.")
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


def check_str(value: Any, name: str, *, allow_empty: bool = False) -> str:
    """``value`` if it is a string (not blank, unless ``allow_empty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r} of type {_type_name(value)}.")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}.")
    return value


def check_callable(value: Any, name: str, *, what: str = "a function") -> Any:
    """``value`` if it can be called; ``what`` says what to pass (e.g. "a function () -> keras.Model")."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}, got {value!r} of type {_type_name(value)}.")
    return value


def check_ints(value: Any, name: str, *, min_val: int | None = None, min_len: int = 1) -> tuple[int, ...]:
    """A list/tuple of integers (each as :func:`check_int`), at least ``min_len`` of them.

    A single integer or a string is refused with a TypeError: ``hidden=512`` where
    ``hidden=(512,)`` is meant should not be read as anything else.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list or tuple of integers, got {value!r} of type {_type_name(value)}.")
    items = list(value)
    if len(items) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} integer(s), got {items!r}.")
    for i, item in enumerate(items):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name} must hold integers, got {item!r} of type {_type_name(item)} at position {i}.")
    out = tuple(int(v) for v in items)
    if min_val is not None and min(out) < min_val:
        raise ValueError(f"{name} must hold integers >= {min_val}, got {list(out)}.")
    return out


def check_values(array: np.ndarray, name: str, *, min_val: float | None = None,
                 max_val: float | None = None) -> np.ndarray:
    """``array`` (already checked with :func:`check_array`) if every value lies in ``[min_val, max_val]``."""
    if array.size:
        lo, hi = float(np.min(array)), float(np.max(array))
        if (min_val is not None and lo < min_val) or (max_val is not None and hi > max_val):
            raise ValueError(f"{name} must hold values {_bounds_text(min_val, max_val)}, got values from "
                             f"{lo:g} to {hi:g}.")
    return array


def check_binary_labels(value: Any, name: str, *, dtype: Any = np.int64) -> np.ndarray:
    """Binary labels as a 1-D array of 0s and 1s (``dtype``), at least one of them.

    Accepts booleans, integers and floats equal to 0 or 1, as a 1-D array or an
    ``(n, 1)`` column (what a Keras model with one output unit gives); anything else,
    e.g. the labels 1 and 2, raises ValueError naming the values found.
    """
    arr = check_array(value, name, ndim=(1, 2), kind="numeric")
    if arr.ndim == 2:
        if arr.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D (one 0/1 label per example), got an array of shape {arr.shape}.")
        arr = arr[:, 0]
    if arr.dtype != bool and not np.logical_or(arr == 0, arr == 1).all():  # no sort: fast on 10^7 labels
        seen = np.unique(arr)
        raise ValueError(f"{name} must hold only 0 and 1 (or booleans): binary labels 0 and 1, got values "
                         f"{seen[:10].tolist()}{' ...' if seen.size > 10 else ''}; for more classes use a "
                         "multi-class function, or map your positive class to 1 and the others to 0.")
    return arr.astype(dtype, copy=False)


def check_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """``axis`` as a non-negative axis index of an array with ``ndim`` dimensions."""
    axis = check_int(axis, name)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} {axis} is out of range for an array with {ndim} dimension(s); use "
                         f"{-ndim} .. {ndim - 1}." if ndim else f"{name} cannot be used on a 0-D array.")
    return axis % ndim


def check_names(value: Any, name: str, *, min_len: int = 1) -> tuple[str, ...]:
    """A list/tuple/array of names (e.g. class names) as a tuple of strings.

    A single string is refused with a TypeError (``"ab"`` would otherwise be read as
    the two names ``"a"`` and ``"b"``), and so is anything that is not a sequence.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list or tuple of names, got {value!r} of type {_type_name(value)}.")
    names = tuple(str(v) for v in value)
    if len(names) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} name(s), got {list(names)}.")
    return names


def check_numbers(value: Any, name: str, *, min_len: int = 1, min_val: float | None = None,
                  max_val: float | None = None, include_min: bool = True) -> tuple[float, ...]:
    """A list/tuple of real numbers (each as :func:`check_number`, named ``name[i]``).

    A single number or a string is refused with a TypeError, as in :func:`check_ints`.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list or tuple of numbers, got {value!r} of type {_type_name(value)}.")
    items = list(value)
    if len(items) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} number(s), got {items!r}.")
    return tuple(check_number(v, f"{name}[{i}]", min_val=min_val, max_val=max_val, include_min=include_min)
                 for i, v in enumerate(items))
