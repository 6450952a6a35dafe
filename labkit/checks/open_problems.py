"""Checks for notebook 16 (open problems: landscapes, hand-made filters, cost design)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from labkit.checks import (
    ExerciseError,
    call_answer,
    fresh_cases,
    fresh_seed,
    passed,
    require_answer,
    require_array,
)
from labkit.filters import gabor_kernel as _gabor

_PERM_HINT = ("Permuting hidden units means permuting the *columns* of W1 and the entries of b1 "
              "(the units' outputs), and the *rows* of W2 (the next layer's inputs from those units) "
              "by the same permutation; b2 stays as it is.")
_GABOR_HINT = ("Rotate the coordinates: x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), "
               "with (x, y) measured from the kernel centre (size - 1) / 2; then "
               "exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + psi).")
_L1_HINT = ("In `call`, add lam times the mean over the batch (axis 0) of the sum over the code units (last "
            "axis) of |h| with self.add_loss(...), using keras.ops (abs, sum, mean); then return h unchanged. "
            "In `__init__`, pass **kwargs on to super().__init__ and keep lam as self.lam.")


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


def _gabor_args(rng: np.random.Generator) -> tuple:
    return (int(rng.choice([3, 5, 7, 9, 11])), float(rng.uniform(1.0, 3.0)), float(rng.uniform(0, np.pi)),
            float(rng.uniform(2.0, 8.0)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0, np.pi)))


def gabor(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(size, sigma, theta, wavelength, gamma, psi)`` -> (size, size) kernel.

    Fixed kernels whose mistakes get hints, then fresh random sizes, angles and phases
    (``seed`` replays them).
    """
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
    fresh_cases(ex, fn, "gabor_kernel", _gabor_args, _gabor, "Use all six arguments; no parameter may be fixed.",
                seed=seed, n=4, atol=1e-6)
    passed(ex, "fixed and random kernels")


def _penalty_cases(rng) -> list[tuple[float, np.ndarray]]:
    """Fresh (lam, h) pairs: lam log-uniform in [1e-4, 1e-1], h of fresh shape with negative and zero entries."""
    cases = []
    for _ in range(3):
        lam = float(10 ** rng.uniform(-4, -1))
        h = rng.normal(size=(int(rng.integers(3, 10)), int(rng.integers(4, 13)))).astype("float32")
        h[rng.random(h.shape) < 0.2] = 0.0
        cases.append((lam, h))
    return cases


def _penalty_slip(value: float, lam: float, h: np.ndarray) -> str | None:
    """Name the typical slip whose penalty equals ``value``, or None."""
    a = np.abs(h).astype(np.float64)
    slips = [(lam * a.mean(), "that is the mean over the code units too; sum over the units (last axis), "
                              "average over the batch"),
             (lam * a.sum(), "that sums over the batch too; average over the batch (axis 0)"),
             (lam * (h.astype(np.float64) ** 2).sum(axis=1).mean(), "that is an L2 (squared) penalty, not L1"),
             (lam * h.astype(np.float64).sum(axis=1).mean(), "that sums h, not |h|: take the absolute value"),
             (a.sum(axis=1).mean(), "lam is missing: multiply by self.lam"),
             (lam ** 2 * a.sum(axis=1).mean(), "lam appears twice")]
    for want, why in slips:
        if np.isclose(value, want, rtol=1e-4, atol=1e-9):
            return why
    return None


def sparse_code(cls, *, seed: int | None = None) -> None:
    """Exercise: ``cls(lam)`` is a Keras layer, the identity on the code ``h`` of shape (batch, units), that
    adds ``lam * mean_batch(sum_units |h|)`` to the model's cost with ``add_loss``.

    Checked on fresh lam and h on every call (``seed`` replays one): the output equals h; the layer's
    ``losses`` hold the penalty (NumPy oracle); in a functional model the penalty's gradient with respect to
    h is ``lam * sign(h) / batch`` (``tf.GradientTape``); the model saved to ``.keras`` loads without
    ``custom_objects`` and adds the same penalty.
    """
    ex = "SparseCode layer"
    seed = fresh_seed(seed)
    require_answer(ex, cls, "SparseCode", _L1_HINT)
    tag = f" (replay with seed={seed})"
    for lam, h in _penalty_cases(np.random.default_rng(seed)):
        layer = call_answer(ex, cls, "SparseCode", (lam,), _L1_HINT) if isinstance(cls, type) else None
        if not isinstance(layer, keras.layers.Layer):
            raise ExerciseError(ex, f"`SparseCode` should be a class deriving from keras.layers.Layer, got "
                                    f"{cls!r:.60}.", "Write `class SparseCode(keras.layers.Layer):` with `__init__` "
                                                     "and `call` methods.")
        out = call_answer(ex, layer, "SparseCode(lam)", (tf.constant(h),), _L1_HINT)
        out = require_array(ex, out, "the layer's output", h.shape, "The layer passes h through unchanged.")
        if not np.array_equal(out, h):
            raise ExerciseError(ex, "the layer changed h: it must return h as it is (the penalty goes to "
                                    "add_loss, not into the output)." + tag, _L1_HINT)
        if not layer.losses:
            raise ExerciseError(ex, "the layer added no loss: call self.add_loss(penalty) in `call`." + tag,
                                _L1_HINT)
        value = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses))
        want = lam * float(np.abs(h).astype(np.float64).sum(axis=1).mean())
        if not np.isclose(value, want, rtol=1e-4, atol=1e-9):
            why = _penalty_slip(value, lam, h)
            raise ExerciseError(ex, (why or f"for lam={lam:.2g} and h of shape {h.shape} the penalty is "
                                     f"{value:.6g}, expected {want:.6g}") + "." + tag, _L1_HINT)
    lam, h = _penalty_cases(np.random.default_rng(seed + 1))[0]
    inputs = keras.Input(h.shape[1:])
    try:
        model = keras.Model(inputs, cls(lam)(inputs))
    except Exception as err:  # noqa: BLE001 - a layer that only works eagerly is a typical slip
        raise ExerciseError(ex, f"the layer fails inside a model ({type(err).__name__}: {err})." + tag,
                            "Compute the penalty with keras.ops (keras.ops.abs, keras.ops.sum, keras.ops.mean), "
                            "not NumPy: inside a model h is a symbolic tensor.") from None
    x = tf.constant(h)
    with tf.GradientTape() as tape:
        tape.watch(x)
        model(x)
        penalty = tf.add_n([tf.convert_to_tensor(loss) for loss in model.losses]) if model.losses else None
    grad = None if penalty is None else tape.gradient(penalty, x)
    if penalty is None or grad is None:
        raise ExerciseError(ex, "inside a model the penalty has no gradient with respect to h: training "
                                "could not make the code sparser." + tag,
                            "Build the penalty from h with keras.ops, without converting it to NumPy.")
    if not np.allclose(grad.numpy(), lam * np.sign(h) / h.shape[0], rtol=1e-4, atol=1e-9):
        raise ExerciseError(ex, "the penalty's gradient with respect to h is not lam * sign(h) / batch." + tag,
                            _L1_HINT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sparse.keras"
        try:
            model.save(path)
            loaded = keras.saving.load_model(path)
        except Exception as err:  # noqa: BLE001 - report why saving or loading failed
            raise ExerciseError(ex, f"a model with the layer does not survive saving and loading "
                                    f"({type(err).__name__}: {str(err)[:160]})." + tag,
                                "Keep the decorator @keras.saving.register_keras_serializable(package=...) on "
                                "the class, and pass **kwargs on to super().__init__.") from None
    loaded(x)
    again, before = float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in loaded.losses)), float(penalty)
    if not np.isclose(again, before, rtol=1e-5, atol=1e-9):
        raise ExerciseError(ex, f"after saving and loading, the layer adds {again:.6g} instead of "
                                f"{before:.6g}: lam was not saved." + tag,
                            "Keep lam as an argument of __init__ (Keras saves __init__'s arguments) or return it "
                            "from get_config.")
    passed(ex, "identity on h, penalty lam * mean_batch(sum |h|) with its gradient, saved and loaded")
