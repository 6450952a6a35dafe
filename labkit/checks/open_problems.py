"""Checks for notebook 15 (open problems: landscapes, hand-made filters, cost design)."""
from __future__ import annotations

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed, require_array
from labkit.filters import gabor_kernel as _gabor

_PERM_HINT = ("Permuting hidden units means permuting the *columns* of W1 and the entries of b1 "
              "(the units' outputs), and the *rows* of W2 (the next layer's inputs from those units) "
              "by the same permutation; b2 stays as it is.")
_GABOR_HINT = ("Rotate the coordinates: x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), "
               "with (x, y) measured from the kernel centre (size - 1) / 2; then "
               "exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + psi).")
_L1_HINT = ("The penalty is lam times the mean over the batch (axis 0) of the sum over code units "
            "(axis 1) of |h|. Use np.abs, not a square.")


def permute_hidden(fn) -> None:
    """Exercise: ``fn(W1, b1, W2, b2, perm)`` returns the weights of the same function."""
    ex = "permutation symmetry"
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(6, 5)), rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=3)
    perm = np.array([3, 0, 4, 1, 2])
    got = call_answer(ex, fn, "permute_hidden", (W1.copy(), b1.copy(), W2.copy(), b2.copy(), perm), _PERM_HINT)
    if not isinstance(got, (tuple, list)) or len(got) != 4:
        raise ExerciseError(ex, "return the four arrays (W1, b1, W2, b2) as a tuple.", _PERM_HINT)
    P1 = require_array(ex, got[0], "W1", (6, 5), _PERM_HINT)
    c1 = require_array(ex, got[1], "b1", (5,), _PERM_HINT)
    P2 = require_array(ex, got[2], "W2", (5, 3), _PERM_HINT)
    c2 = require_array(ex, got[3], "b2", (3,), _PERM_HINT)
    x = rng.normal(size=(10, 6))

    def f(W1, b1, W2, b2):
        return np.maximum(x @ W1 + b1, 0) @ W2 + b2

    if np.allclose(P1, W1) and np.allclose(P2, W2):
        raise ExerciseError(ex, "the weights are unchanged: the permutation was not applied.", _PERM_HINT)
    if not np.allclose(f(P1, c1, P2, c2), f(W1, b1, W2, b2)):
        if np.allclose(P1, W1[:, perm]) and not np.allclose(P2, W2[perm]):
            raise ExerciseError(ex, "W1 is permuted but W2's rows are not: the network computes something else.",
                                _PERM_HINT)
        raise ExerciseError(ex, "the permuted network does not compute the same function.", _PERM_HINT)
    passed(ex, "different weights, identical function")


def gabor(fn) -> None:
    """Exercise: ``fn(size, sigma, theta, wavelength, gamma, psi)`` -> (size, size) kernel."""
    ex = "Gabor kernel"
    cases = [(7, 2.0, 0.0, 4.0, 0.5, 0.0), (9, 2.5, np.pi / 3, 5.0, 0.5, np.pi / 2), (5, 1.5, 1.0, 3.0, 1.0, 0.3)]
    for args in cases:
        got = call_answer(ex, fn, "gabor_kernel", args, _GABOR_HINT)
        got = require_array(ex, got, "the kernel", (args[0], args[0]), _GABOR_HINT)
        want = _gabor(*args)
        if np.allclose(got, want, atol=1e-6):
            continue
        if np.allclose(got, want.T, atol=1e-6):
            raise ExerciseError(ex, f"for theta={args[2]:.2f} the kernel is transposed (x and y swapped).",
                                "Use y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2: rows are y, columns x.")
        named = dict(zip(("size", "sigma", "theta", "wavelength", "gamma", "psi"), args))
        raise ExerciseError(ex, f"wrong values for {named}.", _GABOR_HINT)
    passed(ex)


def l1_penalty(fn) -> None:
    """Exercise: ``fn(h, lam)`` -> lam * mean_batch(sum_units |h|) as a float."""
    ex = "L1 sparsity penalty"
    h = np.random.default_rng(1).normal(size=(8, 5)).astype("float32")
    want = 0.01 * np.abs(h).sum(axis=1).mean()
    got = call_answer(ex, fn, "l1_penalty", (h, 0.01), _L1_HINT)
    try:
        value = float(np.asarray(got))
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"return one number, got {type(got).__name__}.", _L1_HINT) from None
    if np.isclose(value, want, rtol=1e-5):
        return passed(ex)
    if np.isclose(value, 0.01 * np.abs(h).mean(), rtol=1e-5):
        raise ExerciseError(ex, "that is the mean over units too; sum over the code units, average over the batch.",
                            _L1_HINT)
    if np.isclose(value, 0.01 * np.abs(h).sum(), rtol=1e-5):
        raise ExerciseError(ex, "that sums over the batch too; average over the batch (axis 0).", _L1_HINT)
    if np.isclose(value, 0.01 * (h ** 2).sum(axis=1).mean(), rtol=1e-5):
        raise ExerciseError(ex, "that is an L2 (squared) penalty.", _L1_HINT)
    raise ExerciseError(ex, f"expected {want:.5f} for this test input, got {value:.5f}.", _L1_HINT)
