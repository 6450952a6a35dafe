"""Reading a classifier's outputs: labels from labels, one-hot rows, probabilities or
logits (:func:`to_labels`), and the softmax / sigmoid that turn logits into
probabilities (:func:`softmax`, :func:`sigmoid`: ``scipy.special.softmax`` and
``scipy.special.expit`` behind labkit's input checks; the from-scratch versions a
learner writes are in :mod:`labkit.scratch`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from labkit.validation import check_array, check_axis, check_int, check_labels, check_str

__all__ = ["softmax", "sigmoid", "to_labels"]


def softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """``scipy.special.softmax(logits, axis)`` in float64, after checking that ``logits``
    is a finite numeric array with at least one entry along ``axis``."""
    from scipy.special import softmax as _softmax

    z = check_array(logits, "logits").astype(np.float64)
    axis = check_axis(axis, z.ndim)
    if z.shape[axis] == 0:
        raise ValueError(f"logits has no entries along axis {axis} (shape {z.shape}); softmax needs at least one.")
    return _softmax(z, axis=axis)


def sigmoid(x: Any) -> np.ndarray:
    """The logistic function, ``scipy.special.expit(x)`` in float64, after checking that
    ``x`` is a finite numeric array (it may be empty)."""
    from scipy.special import expit

    return expit(check_array(x, "x", min_len=0).astype(np.float64))


def _kind_of_2d(arr: np.ndarray) -> str:
    """"one-hot", "probabilities" or "logits" for an (n, k) array."""
    is01 = np.logical_or(arr == 0, arr == 1).all()
    sums = arr.sum(axis=1)
    if is01 and np.all(sums == 1):
        return "one-hot"
    if arr.min() >= 0 and arr.max() <= 1 and np.allclose(sums, 1.0, atol=1e-3):
        return "probabilities"
    return "logits"


def to_labels(y: Any, name: str = "y", num_classes: int | None = None) -> tuple[np.ndarray, str, int | None]:
    """Class labels from labels, one-hot rows, probabilities or logits.

    Returns ``(labels (n,) int64, assumed kind, number of columns or None)``; the
    kind is one of ``"labels"``, ``"one-hot"``, ``"probabilities"``, ``"logits"``.
    """
    name = check_str(name, "name")
    if num_classes is not None:
        num_classes = check_int(num_classes, "num_classes", min_val=2)
    arr = check_array(y, name, ndim=(1, 2))
    if arr.ndim == 2:
        if arr.shape[1] < 2:
            raise ValueError(f"{name} has shape {arr.shape}; a multi-class output needs one column per class "
                             "(use binary_report for a single score column).")
        if num_classes is not None and arr.shape[1] != num_classes:
            raise ValueError(f"{name} has {arr.shape[1]} columns but num_classes is {num_classes}.")
        return np.argmax(arr, axis=1).astype(np.int64), _kind_of_2d(arr.astype(np.float64)), arr.shape[1]
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} is 1-D with non-integer values; class labels must be whole numbers "
                         "(for scores of a binary model use binary_report).")
    if arr.dtype.kind != "b" and arr.min() < 0:
        raise ValueError(f"{name} has negative class labels ({int(arr.min())}); labels must be 0..k-1.")
    labels = check_labels(arr.astype(np.int64), name, n_classes=num_classes)
    return labels, "labels", None
