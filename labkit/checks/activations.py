"""Checks of notebook 02 (profile ``activations``): activation functions.

The sigmoid's derivative, leaky ReLU, a stack of linear layers collapsed into one, a
stable softmax, the share of dead ReLU units, and the output activation for a task.
Each check compares the student's answer with the reference in :mod:`labkit.scratch`
and recognises the usual mistakes (unstable for large inputs, wrong axis, ...).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from labkit import scratch as ref
from labkit.checks import (
    ExerciseError,
    call_answer,
    close,
    fresh_cases,
    fresh_seed,
    numpy_warnings,
    overflow_warnings,
    passed,
    require_answer,
    require_number,
    require_output,
)

__all__ = ["sigmoid_prime", "leaky_relu", "collapse_linear", "softmax", "dead_fraction", "output_activations"]

_BIG = np.array([-1000.0, -40.0, -1.0, 0.0, 0.5, 3.0, 40.0, 1000.0])


def _finite_or_hint(ex: str, got: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(got)):
        raise ExerciseError(ex, f"{what} gives nan or inf for large inputs (|z| = 1000).",
                            "It is unstable for large inputs: np.exp(1000) overflows. Rewrite it so that only "
                            "exp of non-positive numbers is taken (e.g. subtract the maximum first, or use "
                            "exp(-|z|)).")


def _sigmoid_prime_inputs(rng) -> list[np.ndarray]:
    """Fresh z of several shapes (0-d, 1-D, 2-D), mixing moderate values with |z| from 30 to 1000."""
    cases = [np.array(rng.normal() * 3.0), rng.normal(size=int(rng.integers(5, 12))) * 4.0]
    big = rng.uniform(30.0, 1000.0, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))
    big[0, :2] = [-1000.0, 1000.0]
    big[1, 1:3] = rng.normal(size=2)   # moderate values in the same array
    cases.append(big)
    cases.append(rng.uniform(-750.0, -700.0, size=6))  # exp(-z) overflows here, exp(z) does not
    return cases


def sigmoid_prime(fn: Callable, *, seed: int | None = None) -> None:
    """``sigmoid_prime(z)`` = s(z) (1 - s(z)), finite, accurate and without overflow warnings for |z| up to 1000.

    First fixed z in [-6, 6] (whose mistakes get specific hints) and the fixed large inputs, then
    fresh random z of several shapes (``seed=None``: a new seed each call, named in any failure).
    """
    ex = "sigmoid_prime"
    hint = "If s = sigmoid(z) then d s / d z = s * (1 - s)."
    unstable = ("Compute it from a sigmoid that never takes exp of a large positive number, e.g. the "
                "`sigmoid` defined above (safe for any z) or exp(-|z|) / (1 + exp(-|z|))**2: the textbook "
                "1 / (1 + np.exp(-z)) overflows for z = -1000.")
    z = np.linspace(-6, 6, 25)
    with numpy_warnings():
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
    first = got
    seed = fresh_seed(seed)
    for zc in [_BIG, *_sigmoid_prime_inputs(np.random.default_rng(seed))]:
        where = f"for z of shape {zc.shape} with |z| up to {np.abs(zc).max():.0f} (seed={seed})"
        with numpy_warnings() as caught:
            out = call_answer(ex, fn, "sigmoid_prime", (zc.copy(),), hint)
        if out is not None and np.shape(out) == first.shape and close(np.asarray(out, dtype=float), first):
            raise ExerciseError(ex, f"sigmoid_prime returned the same values {where} as for the check's first "
                                    "z: they are hard-coded.", "Compute the derivative from the argument z.")
        got = require_output(ex, out, "sigmoid_prime", zc.shape, hint)
        _finite_or_hint(ex, got, "sigmoid_prime")
        warned = overflow_warnings(caught)
        if warned:
            raise ExerciseError(ex, f"sigmoid_prime raised the warning {warned[0]!r} {where}: it is unstable "
                                    "for large inputs (its exp overflowed to inf).", unstable)
        want = ref.sigmoid_prime(zc)
        moderate = np.abs(zc) <= 15
        if not (close(got, want, rtol=0, atol=1e-12) and close(got[moderate], want[moderate], rtol=1e-6, atol=0)):
            i = np.unravel_index(np.argmax(np.abs(got - want)), zc.shape)
            raise ExerciseError(ex, f"wrong values for large |z| {where}: at z = {zc[i]:.4g} it gives {got[i]:.3g}, "
                                    f"not {want[i]:.3g} (the derivative should be ~0 there).", hint)
        if np.any(got < 0) or np.any(got > 0.25):
            raise ExerciseError(ex, f"values outside [0, 0.25] {where}.", hint)
    passed(ex, f"max {float(first.max()):.2f} at z = 0; finite and warning-free up to |z| = 1000")


def _leaky_args(rng: np.random.Generator) -> tuple:
    shape = tuple(int(k) for k in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    return rng.normal(size=shape) * 3, float(rng.uniform(0.01, 0.5))


def _leaky_ref(z, alpha):
    return np.where(z > 0, z, alpha * z)


def leaky_relu(fn: Callable, *, seed: int | None = None) -> None:
    """``leaky_relu(z, alpha)``: z for z > 0, alpha * z otherwise.

    A fixed z with hints for the usual mistakes, then fresh z of 1-3 axes and fresh slopes
    (``seed`` replays them).
    """
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
    fresh_cases(ex, fn, "leaky_relu", _leaky_args, _leaky_ref,
                "Work element-wise on any shape of z, with the alpha you are given.", seed=seed, n=4)
    passed(ex, "fixed cases and random arrays of 1-3 axes")


def _linear_stack(rng: np.random.Generator) -> tuple:
    widths = rng.integers(1, 6, size=int(rng.integers(2, 6)))
    return ([(rng.normal(size=(m, n)), rng.normal(size=n)) for m, n in zip(widths[:-1], widths[1:])],)


def _collapse_ref(layers):
    W, b = layers[0]
    for Wk, bk in layers[1:]:
        W, b = W @ Wk, b @ Wk + bk
    return W, b


def collapse_linear(fn: Callable, *, seed: int | None = None) -> None:
    """``collapse(layers)``: the one (W, b) equal to a stack of linear layers [(W1, b1), ...].

    A fixed 3-layer stack with hints, then fresh stacks of 1-4 layers (``seed`` replays them).
    """
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
    fresh_cases(ex, fn, "collapse", _linear_stack, _collapse_ref,
                "Loop over however many layers there are (a single layer is its own collapse).", seed=seed, n=4)
    passed(ex, "three linear layers are one linear layer; so are random stacks of 1-4")


def _logit_batch(rng: np.random.Generator) -> tuple:
    n, k = (int(v) for v in rng.integers(1, 9, size=2))
    return (rng.normal(size=(n, k + 1)) * rng.choice([1.0, 10.0, 300.0]),)


def softmax(fn: Callable, *, seed: int | None = None) -> None:
    """``softmax(Z)``: row-wise over a batch (n, k), stable for logits of +-1000.

    Fixed batches with hints (and +-1000), then fresh batches of random sizes and scales
    (``seed`` replays them).
    """
    ex = "softmax"
    hint = ("softmax(z)_i = exp(z_i) / sum_j exp(z_j) along the last axis (one distribution per row). "
            "Subtract each row's maximum first (keepdims=True): it does not change the result and keeps exp "
            "from overflowing.")
    Z = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fresh_cases(ex, fn, "softmax", _logit_batch, ref.softmax,
                    "Normalise each row of any (n, k) batch, after subtracting that row's maximum.", seed=seed, n=4)
    passed(ex, "rows sum to 1, no overflow at 1000")


_DEAD_HINT = ("A ReLU unit is dead on this data when its output is 0 for every example: look at each column "
              "of H (n_examples, n_units) and count the columns whose maximum is 0; divide by the number of units.")
_DEAD_H = np.array([[0.0, 1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0]])


def _dead_cases(rng) -> list[np.ndarray]:
    """Fresh ReLU outputs of several shapes with a known set of dead columns (none, some, all)."""
    cases = []
    for n, units, share in ((8, 10, 0.3), (50, 7, 0.0), (1, 6, 0.5), (20, 16, 0.75), (5, 4, 1.0), (30, 9, 0.4)):
        H = np.maximum(rng.normal(size=(n, units)), 0) * rng.uniform(0.5, 3.0)
        H[rng.integers(n), :] += rng.uniform(0.1, 1.0, size=units)  # every column alive to begin with
        dead = rng.choice(units, int(round(share * units)), replace=False)
        H[:, dead] = 0.0
        cases.append(H.astype(np.float32) if units == 16 else H)  # Keras gives float32
    return cases


def _dead_value(ex: str, fn: Callable, H: np.ndarray) -> float:
    out = call_answer(ex, fn, "dead_fraction", (H.copy(),), _DEAD_HINT)
    if out is None:
        raise ExerciseError(ex, "`dead_fraction` returned None.", "Did you forget the `return` statement?")
    if np.ndim(out) > 0 and np.size(out) == H.shape[1] and not isinstance(out, (str, bytes)):
        raise ExerciseError(ex, f"dead_fraction returned {np.shape(out)} values, one per unit, expected one number.",
                            "Reduce to a single fraction between 0 and 1 (np.mean of the per-unit True/False).")
    return float(require_number(ex, out, "the output of dead_fraction", _DEAD_HINT, kind="one number"))


def _dead_mistakes(ex: str, value: float, H: np.ndarray, where: str) -> None:
    want = float(np.mean(H.max(axis=0) <= 0))
    wrong = [
        (np.mean(H == 0), "you counted zero entries, not dead units.", _DEAD_HINT),
        (np.mean((H == 0).any(axis=0)), "you counted units that are zero for *some* example.", _DEAD_HINT),
        (np.mean((H == 0).all(axis=1)), "you looked at rows (examples) instead of columns (units).", _DEAD_HINT),
        (np.sum(H.max(axis=0) <= 0), "you returned a count, not a fraction.",
         "Divide by the number of units, H.shape[1]."),
    ]
    for formula, problem, hint in wrong:
        if not np.isclose(formula, want) and np.isclose(value, formula):
            raise ExerciseError(ex, f"{problem} ({where})", hint)


def dead_fraction(fn: Callable, *, seed: int | None = None) -> None:
    """``dead_fraction(H)``: share of units (columns) that are 0 for every example (row).

    First a small fixed H (whose mistakes get specific hints), then fresh random ReLU outputs of
    several shapes with none, some or all units dead (``seed=None``: a new seed each call, named in
    any failure), so that a hard-coded number fails.
    """
    ex = "dead_fraction"
    first = _dead_value(ex, fn, _DEAD_H)
    _dead_mistakes(ex, first, _DEAD_H, "for the first example, 3 x 5")
    if not np.isclose(first, 0.4):
        raise ExerciseError(ex, f"got {first}, expected 0.4 (2 of 5 units dead).", _DEAD_HINT)
    seed = fresh_seed(seed)
    for H in _dead_cases(np.random.default_rng(seed)):
        dead = int(np.sum(H.max(axis=0) <= 0))
        where = f"for a fresh H of shape {H.shape} with {dead} of {H.shape[1]} units dead (seed={seed})"
        value = _dead_value(ex, fn, H)
        want = dead / H.shape[1]
        if np.isclose(value, want):
            continue
        if np.isclose(value, first) and all(np.isclose(_dead_value(ex, fn, probe), first)
                                            for probe in (np.zeros((3, 4)), np.ones((3, 4)))):
            raise ExerciseError(ex, f"dead_fraction returned {value} again {where}, and for an H with every unit "
                                    "dead or none: the same answer for every H, so it is hard-coded.",
                                "Compute the fraction from the argument H. " + _DEAD_HINT)
        _dead_mistakes(ex, value, H, where)
        raise ExerciseError(ex, f"got {value}, expected {want:.4g} {where}.", _DEAD_HINT)
    passed(ex, "on fresh ReLU outputs with none, some and all units dead")


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
