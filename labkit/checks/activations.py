"""Checks of notebook 02 (profile ``activations``): activation functions.

The sigmoid's derivative, leaky ReLU, a stack of linear layers collapsed into one, a
stable softmax, the share of dead ReLU units, and the output activation for a task.
Each check compares the student's answer with the reference in :mod:`labkit.scratch`
and recognises the usual mistakes (unstable for large inputs, wrong axis, ...).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labkit import scratch as ref
from labkit.checks import ExerciseError, call_answer, close, passed, require_answer, require_array, require_output

__all__ = ["sigmoid_prime", "leaky_relu", "collapse_linear", "softmax", "dead_fraction", "output_activations"]

_BIG = np.array([-1000.0, -40.0, -1.0, 0.0, 0.5, 3.0, 40.0, 1000.0])


def _finite_or_hint(ex: str, got: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(got)):
        raise ExerciseError(ex, f"{what} gives nan or inf for large inputs (|z| = 1000).",
                            "It is unstable for large inputs: np.exp(1000) overflows. Rewrite it so that only "
                            "exp of non-positive numbers is taken (e.g. subtract the maximum first, or use "
                            "exp(-|z|)).")


def sigmoid_prime(fn: Callable) -> None:
    """``sigmoid_prime(z)`` = s(z) (1 - s(z)), finite for |z| = 1000."""
    ex = "sigmoid_prime"
    hint = "If s = sigmoid(z) then d s / d z = s * (1 - s)."
    z = np.linspace(-6, 6, 25)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = require_output(ex, call_answer(ex, fn, "sigmoid_prime", (z.copy(),), hint), "sigmoid_prime",
                             z.shape, hint)
        want = ref.sigmoid_prime(z)
        if not close(got, want):
            s = ref.sigmoid(z)
            if close(got, s):
                raise ExerciseError(ex, "you returned the sigmoid itself, not its derivative.", hint)
            if close(got, z * (1 - z)):
                raise ExerciseError(ex, "you computed z * (1 - z).", "Apply the formula to s = sigmoid(z), not to z.")
            if close(got, s * (1 + s)) or close(got, -s * (1 - s)):
                raise ExerciseError(ex, "a sign is wrong.", hint)
            raise ExerciseError(ex, "wrong values.", hint)
        big = require_output(ex, call_answer(ex, fn, "sigmoid_prime", (_BIG.copy(),), hint), "sigmoid_prime",
                             _BIG.shape, hint)
    _finite_or_hint(ex, big, "sigmoid_prime")
    if not close(big, ref.sigmoid_prime(_BIG), atol=1e-12):
        raise ExerciseError(ex, "wrong values for large |z| (the derivative should be ~0 there).", hint)
    passed(ex, f"max {float(got.max()):.2f} at z = 0")


def leaky_relu(fn: Callable) -> None:
    """``leaky_relu(z, alpha)``: z for z > 0, alpha * z otherwise."""
    ex = "leaky_relu"
    hint = ("Leaky ReLU keeps positive z unchanged and multiplies negative z by the small slope alpha: "
            "np.where(z > 0, z, alpha * z).")
    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    got = require_output(ex, call_answer(ex, fn, "leaky_relu", (z.copy(), 0.1), hint), "leaky_relu", z.shape, hint)
    want = np.where(z > 0, z, 0.1 * z)
    if not close(got, want):
        if close(got, np.maximum(z, 0)):
            raise ExerciseError(ex, "negative inputs give 0: that is the plain ReLU.",
                                "Multiply negative z by alpha instead of setting it to 0.")
        if close(got, np.where(z > 0, 0.1 * z, z)):
            raise ExerciseError(ex, "alpha was applied to the positive side.", hint)
        raise ExerciseError(ex, "wrong values.", hint)
    got2 = require_output(ex, call_answer(ex, fn, "leaky_relu", (z.copy(), 0.25), hint), "leaky_relu", z.shape, hint)
    if not close(got2, np.where(z > 0, z, 0.25 * z)):
        raise ExerciseError(ex, "the slope does not follow alpha.",
                            "Use the alpha argument; do not hard-code 0.01 or 0.1.")
    passed(ex)


def collapse_linear(fn: Callable) -> None:
    """``collapse(layers)``: the one (W, b) equal to a stack of linear layers [(W1, b1), ...]."""
    ex = "collapse_linear"
    hint = ("Write the stack out: ((x W1 + b1) W2 + b2) W3 + b3 = x (W1 W2 W3) + ((b1 W2 + b2) W3 + b3). "
            "Loop over the layers, updating W <- W @ Wk and b <- b @ Wk + bk.")
    rng = np.random.default_rng(5)
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 5)), rng.normal(size=5)),
              (rng.normal(size=(5, 2)), rng.normal(size=2))]
    out = call_answer(ex, fn, "collapse", ([(W.copy(), b.copy()) for W, b in layers],), hint)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError(ex, "`collapse` should return a pair (W, b).", hint)
    W1, W2, W3 = (W for W, _ in layers)
    b1, b2, b3 = (b for _, b in layers)
    W = require_output(ex, out[0], "collapse(...)[0] (W)", (3, 2),
                       "W of the stack has shape (n_in, n_out) = (3, 2): W1 @ W2 @ W3.")
    b = require_output(ex, out[1], "collapse(...)[1] (b)", (2,), "b of the stack has shape (n_out,) = (2,).")
    if not close(W, W1 @ W2 @ W3):
        raise ExerciseError(ex, "W is wrong.", "Multiply the kernels in the order the data meets them: W1 @ W2 @ W3.")
    if not close(b, (b1 @ W2 + b2) @ W3 + b3):
        if close(b, b3) or close(b, b1 @ W2 @ W3 + b3) or close(b, b2 @ W3 + b3):
            raise ExerciseError(ex, "b is wrong: the earlier biases also pass through the later kernels.", hint)
        raise ExerciseError(ex, "b is wrong.", hint)
    passed(ex, "three linear layers are one linear layer")


def softmax(fn: Callable) -> None:
    """``softmax(Z)``: row-wise over a batch (n, k), stable for logits of +-1000."""
    ex = "softmax"
    hint = ("softmax(z)_i = exp(z_i) / sum_j exp(z_j) along the last axis (one distribution per row). "
            "Subtract each row's maximum first (keepdims=True): it does not change the result and keeps exp "
            "from overflowing.")
    Z = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = require_output(ex, call_answer(ex, fn, "softmax", (Z.copy(),), hint), "softmax", Z.shape, hint)
        want = ref.softmax(Z)
        if not close(got, want):
            if close(got, np.exp(Z) / np.exp(Z).sum(axis=0)):
                raise ExerciseError(ex, "the columns sum to 1, not the rows.", "Sum over axis=-1 with keepdims=True.")
            if close(got, np.exp(Z) / np.exp(Z).sum()):
                raise ExerciseError(ex, "the whole batch sums to 1, not each row.",
                                    "Sum over axis=-1 with keepdims=True.")
            raise ExerciseError(ex, "wrong values.", hint)
        one = np.array([[1000.0, 1001.0, 1002.0]])
        got_one = require_output(ex, call_answer(ex, fn, "softmax", (one.copy(),), hint), "softmax", one.shape, hint)
        _finite_or_hint(ex, got_one, "softmax")
        big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
        got_big = require_output(ex, call_answer(ex, fn, "softmax", (big.copy(),), hint), "softmax", big.shape, hint)
    if not close(got_big, ref.softmax(big)):
        raise ExerciseError(ex, "wrong values for rows of very different size (+1000 and -1000).",
                            "Subtract each row's own maximum (np.max(Z, axis=-1, keepdims=True)), not one global "
                            "maximum: with a global one the second row underflows to 0/0.")
    passed(ex, "rows sum to 1, no overflow at 1000")


def dead_fraction(fn: Callable) -> None:
    """``dead_fraction(H)``: share of units (columns) that are 0 for every example (row)."""
    ex = "dead_fraction"
    hint = ("A ReLU unit is dead on this data when its output is 0 for every example: look at each column "
            "of H (n_examples, n_units) and count the columns whose maximum is 0; divide by the number of units.")
    H = np.array([[0.0, 1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0]])
    out = call_answer(ex, fn, "dead_fraction", (H.copy(),), hint)
    got = require_array(ex, out, "the output of dead_fraction", None, hint)
    if got.size != 1:
        raise ExerciseError(ex, f"dead_fraction returned shape {got.shape}, expected one number.",
                            "Reduce to a single fraction between 0 and 1.")
    value = float(got)
    if np.isclose(value, np.mean(H == 0)):
        raise ExerciseError(ex, "you counted zero entries, not dead units.", hint)
    if np.isclose(value, np.mean((H == 0).any(axis=0))):
        raise ExerciseError(ex, "you counted units that are zero for *some* example.", hint)
    if np.isclose(value, np.mean((H == 0).all(axis=1))):
        raise ExerciseError(ex, "you looked at rows (examples) instead of columns (units).", hint)
    if np.isclose(value, 2.0):
        raise ExerciseError(ex, "you returned a count, not a fraction.", "Divide by the number of units, H.shape[1].")
    if not np.isclose(value, 0.4):
        raise ExerciseError(ex, f"got {value}, expected 0.4 (2 of 5 units dead).", hint)
    passed(ex)


OUTPUT_TASKS = {
    "house_price": "linear",
    "spam_or_not": "sigmoid",
    "digit_0_to_9": "softmax",
    "photo_tags": "sigmoid",
}
_TASK_WHY = {
    "house_price": "a price is any real number: regression needs an unbounded, linear output.",
    "spam_or_not": "one yes/no answer: a single sigmoid unit gives P(spam).",
    "digit_0_to_9": "exactly one of ten classes: softmax makes ten probabilities that sum to 1.",
    "photo_tags": "several tags can be true at once (multi-label): one independent sigmoid per tag.",
}


def output_activations(choices: Any) -> None:
    """``choices``: dict task -> "linear" | "sigmoid" | "softmax" for the four tasks."""
    ex = "output_activations"
    hint = "Fill in a dict with the keys " + ", ".join(OUTPUT_TASKS) + ' and values "linear", "sigmoid" or "softmax".'
    require_answer(ex, choices, "choices", hint)
    if not isinstance(choices, dict):
        raise ExerciseError(ex, f"`choices` should be a dict, got {type(choices).__name__}.", hint)
    missing = [k for k in OUTPUT_TASKS if k not in choices]
    if missing:
        raise ExerciseError(ex, f"missing keys: {missing}.", hint)
    for task, want in OUTPUT_TASKS.items():
        got = str(choices[task]).strip().lower()
        if got != want:
            raise ExerciseError(ex, f"{task}: {choices[task]!r} is not the right output activation.",
                                _TASK_WHY[task])
    passed(ex, "linear / sigmoid / softmax / per-label sigmoid")
