"""Checks for notebook 04 (MNIST)."""
from __future__ import annotations

import numbers

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed, require_answer

_DENSE_HINT = ("A Dense layer with n_in inputs and n_out units has n_in*n_out weights plus n_out biases. "
               "The network is 784 -> 128 -> 10 (the Flatten layer has no parameters).")
_CONV_HINT = ("A Conv2D layer has one kh x kw x c_in kernel per filter, shared by every position, "
              "plus one bias per filter: kh*kw*c_in*filters + filters.")
_MISTAKES_HINT = ("Keep only the rows where argmax(probs) != y_true, then sort them by the predicted "
                  "class's probability, highest first, and return the first k row indices (into the "
                  "full array, as integers).")


def _integer(exercise: str, value, name: str, hint: str) -> int:
    require_answer(exercise, value, name, hint)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ExerciseError(exercise, f"`{name}` should be a whole number, got {type(value).__name__} {value!r}.", hint)
    return int(value)


def dense_param_count(n_params) -> None:
    """Exercise 1: parameters of the 784-128-10 dense network."""
    ex = "dense parameter count"
    n = _integer(ex, n_params, "n_params", _DENSE_HINT)
    expected = 784 * 128 + 128 + 128 * 10 + 10
    if n == expected:
        return passed(ex, f"{n:,} parameters")
    if n == 784 * 128 + 128 * 10:
        raise ExerciseError(ex, f"{n:,} counts the weights but not the biases.", _DENSE_HINT)
    if n == 784 * 128 + 128:
        raise ExerciseError(ex, f"{n:,} is only the hidden layer; add the output layer.", _DENSE_HINT)
    raise ExerciseError(ex, f"{n:,} is not the parameter count of a 784-128-10 network.", _DENSE_HINT)


def conv_param_count(conv_params, dense_equivalent_params) -> None:
    """Exercise 2: a 3x3 conv layer with 32 filters on a 28x28x1 image vs a dense layer
    producing the same 28x28x32 output from the flattened image."""
    ex = "convolution vs dense parameters"
    c = _integer(ex, conv_params, "conv_params", _CONV_HINT)
    d = _integer(ex, dense_equivalent_params, "dense_equivalent_params",
                 "A dense layer from 784 inputs to 28*28*32 outputs: weights + one bias per output.")
    if c == 3 * 3 * 32:
        raise ExerciseError(ex, f"conv_params={c} forgets the 32 biases.", _CONV_HINT)
    if c != 3 * 3 * 1 * 32 + 32:
        raise ExerciseError(ex, f"conv_params={c:,} is not right.", _CONV_HINT)
    out = 28 * 28 * 32
    if d == 784 * out:
        raise ExerciseError(ex, "dense_equivalent_params forgets the biases (one per output unit).",
                            "Add 28*28*32 biases.")
    if d != 784 * out + out:
        raise ExerciseError(ex, f"dense_equivalent_params={d:,} is not right.",
                            "Every one of the 28*28*32 output units connects to all 784 pixels, plus a bias.")
    passed(ex, f"{c} shared weights vs {d:,}: {d // c:,}x fewer thanks to weight sharing")


def _reference_mistakes(probs: np.ndarray, y_true: np.ndarray, k: int) -> np.ndarray:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")][:k]


def confident_mistakes(fn) -> None:
    """Exercise 3: ``fn(probs, y_true, k)`` -> indices of the k most confident mistakes."""
    ex = "most confident mistakes"
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(200, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = rng.integers(0, 10, 200)
    expected = _reference_mistakes(probs, y_true, 5)
    got = call_answer(ex, fn, "confident_mistakes", (probs.copy(), y_true.copy(), 5), _MISTAKES_HINT)
    try:
        got = np.asarray(got).astype(int).ravel()
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"the function returned {type(got).__name__}, not indices.", _MISTAKES_HINT) from None
    if got.shape != (5,):
        raise ExerciseError(ex, f"asked for k=5 indices, got {got.shape[0]}.", _MISTAKES_HINT)
    pred = probs.argmax(axis=1)
    if np.any(pred[got] == y_true[got]):
        raise ExerciseError(ex, "some returned indices are correct predictions, not mistakes.", _MISTAKES_HINT)
    if set(got) == set(expected) and not np.array_equal(got, expected):
        raise ExerciseError(ex, "the right mistakes, in the wrong order.", "Sort by confidence, highest first.")
    if not np.array_equal(got, expected):
        raise ExerciseError(ex, "these are mistakes, but not the most confident ones.", _MISTAKES_HINT)
    passed(ex)
