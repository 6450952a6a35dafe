"""Checks for notebook 16 (open problems: landscapes, hand-made filters, cost design)."""
from __future__ import annotations

import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_array, require_number
from labkit.filters import gabor_kernel as _gabor

_PERM_HINT = ("Permuting hidden units means permuting the *columns* of W1 and the entries of b1 "
              "(the units' outputs), and the *rows* of W2 (the next layer's inputs from those units) "
              "by the same permutation; b2 stays as it is.")
_GABOR_HINT = ("Rotate the coordinates: x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), "
               "with (x, y) measured from the kernel centre (size - 1) / 2; then "
               "exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + psi).")
_L1_HINT = ("The penalty is lam times the mean over the batch (axis 0) of the sum over code units "
            "(axis 1) of |h|. Use np.abs, not a square.")


def _perm_cases(rng) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(W1, b1, W2, b2, perm): the fixed 6-5-3 network, then fresh sizes; every perm moves some unit and
    differs from its own inverse, so that perm, its inverse and no permutation can be told apart."""
    fixed = np.random.default_rng(0)
    cases = [(fixed.normal(size=(6, 5)), fixed.normal(size=5), fixed.normal(size=(5, 3)), fixed.normal(size=3),
              np.array([3, 0, 4, 1, 2]))]
    for _ in range(3):
        n_in, hidden, n_out = int(rng.integers(2, 8)), int(rng.integers(4, 10)), int(rng.integers(1, 5))
        perm = rng.permutation(hidden)
        while np.array_equal(perm[perm], np.arange(hidden)):   # identity or an involution: draw again
            perm = rng.permutation(hidden)
        cases.append((rng.normal(size=(n_in, hidden)), rng.normal(size=hidden), rng.normal(size=(hidden, n_out)),
                      rng.normal(size=n_out), perm))
    return cases


def _column_order(P: np.ndarray, W: np.ndarray) -> np.ndarray | None:
    """The permutation sigma with P == W[:, sigma], or None when P's columns are not W's columns reordered."""
    sigma = []
    for j in range(P.shape[1]):
        match = np.flatnonzero(np.all(np.isclose(W, P[:, [j]]), axis=0))
        if match.size == 0:
            return None
        sigma.append(int(match[0]))
    return np.array(sigma) if len(set(sigma)) == len(sigma) else None


def _rescaled(P: np.ndarray, W: np.ndarray) -> bool:
    """Each column of P a positive multiple (not 1) of some column of W: a rescaling, not a permutation."""
    scales = []
    for j in range(P.shape[1]):
        for i in range(W.shape[1]):
            c = P[:, j] @ W[:, i] / (W[:, i] @ W[:, i])
            if c > 0 and np.allclose(P[:, j], c * W[:, i]):
                scales.append(c)
                break
        else:
            return False
    return not np.allclose(scales, 1.0)


def permute_hidden(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(W1, b1, W2, b2, perm)`` returns the weights of the same network with its hidden units
    reordered by ``perm``: ``W1[:, perm], b1[perm], W2[perm], b2``.

    The fixed 6-5-3 network, then fresh sizes and permutations (``seed=None``: a new seed each call,
    named in any failure). The same function is not enough: a rescaling (ReLU is positively
    homogeneous) or another permutation computes it too, but is not the one asked for.
    """
    ex = "permutation symmetry"
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    for i, (W1, b1, W2, b2, perm) in enumerate(_perm_cases(rng)):
        where = (f" (hidden units {len(perm)}, perm={perm.tolist()}" + (f", seed={seed})" if i else ")"))
        got = call_answer(ex, fn, "permute_hidden", (W1.copy(), b1.copy(), W2.copy(), b2.copy(), perm.copy()),
                          _PERM_HINT)
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            raise ExerciseError(ex, "return the four arrays (W1, b1, W2, b2) as a tuple.", _PERM_HINT)
        P1 = require_array(ex, got[0], "W1", W1.shape, _PERM_HINT)
        c1 = require_array(ex, got[1], "b1", b1.shape, _PERM_HINT)
        P2 = require_array(ex, got[2], "W2", W2.shape, _PERM_HINT)
        c2 = require_array(ex, got[3], "b2", b2.shape, _PERM_HINT)
        x = rng.normal(size=(10, W1.shape[0]))

        def f(W1, b1, W2, b2, x=x):
            return np.maximum(x @ W1 + b1, 0) @ W2 + b2

        if np.allclose(P1, W1) and np.allclose(P2, W2):
            raise ExerciseError(ex, f"the weights are unchanged: the permutation was not applied{where}.", _PERM_HINT)
        right = (W1[:, perm], b1[perm], W2[perm], b2)
        if all(np.allclose(a, b) for a, b in zip((P1, c1, P2, c2), right)):
            continue
        same = np.allclose(f(P1, c1, P2, c2), f(W1, b1, W2, b2))
        sigma = _column_order(P1, W1)
        if same and sigma is None and _rescaled(P1, W1):
            raise ExerciseError(ex, f"the weights are rescaled, not permuted{where}: the network computes the same "
                                    "function (ReLU(c z) = c ReLU(z) for c > 0), but `perm` was not used.",
                                "Reorder, do not rescale: new hidden unit j is old unit perm[j], so W1[:, perm], "
                                "b1[perm], W2[perm], b2. " + _PERM_HINT)
        if sigma is not None and not np.array_equal(sigma, perm):
            if np.array_equal(sigma, np.argsort(perm)):
                raise ExerciseError(ex, f"you applied the inverse permutation{where}: new unit perm[j] is old unit "
                                        "j in your answer.", "Index with perm itself: new hidden unit j is old unit "
                                                             "perm[j], i.e. W1[:, perm], b1[perm], W2[perm].")
            raise ExerciseError(ex, f"the columns of W1 are reordered by {sigma.tolist()}, not the one in `perm`"
                                    f"{where}: a fixed or hard-coded order instead of the argument?",
                                "Use the perm you are given: W1[:, perm], b1[perm], W2[perm], b2. " + _PERM_HINT)
        if np.allclose(P1, W1[:, perm]) and np.allclose(P2, W2[perm]):
            if not np.allclose(c1, b1[perm]):
                raise ExerciseError(ex, f"W1 and W2 are permuted but b1 is not{where}: each hidden unit's bias must "
                                        "move with its column of W1.", _PERM_HINT)
            raise ExerciseError(ex, f"W1, b1 and W2 are right but b2 changed{where}: the output units are not "
                                    "permuted, so b2 stays as it is.", _PERM_HINT)
        if np.allclose(P1, W1[:, perm]) and not np.allclose(P2, W2[perm]):
            raise ExerciseError(ex, f"W1 is permuted but W2's rows are not{where}: the network computes something "
                                    "else.", _PERM_HINT)
        if not same:
            raise ExerciseError(ex, f"the permuted network does not compute the same function{where}.", _PERM_HINT)
        raise ExerciseError(ex, f"the same function, but not the weights W1[:, perm], b1[perm], W2[perm], b2{where}.",
                            _PERM_HINT)
    passed(ex, "different weights, identical function, on fresh sizes and permutations")


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
    # np.float32 (from float32 h), a 0-d or one-element array: one number
    value = float(require_number(ex, got, "the output of l1_penalty", "Return one number: " + _L1_HINT,
                                 kind="one number"))
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
