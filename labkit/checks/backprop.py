"""Checks of notebook 03 (profile ``backprop``): losses and backpropagation.

Cross-entropy from logits, KL divergence, derivatives by hand on a small graph, the
backward pass of a two-layer network, a numerical gradient, soft thresholding (the L1
proximal step), and one Keras training step with ``tf.GradientTape``. Each check compares
the student's answer with an independent reference (:mod:`labkit.scratch`; for the training
step, Keras' own ``train_on_batch``) and recognises the usual mistakes (sum instead of mean,
swapped arguments, a forward difference, a step uphill...).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from labkit import scratch as ref
from labkit.checks import (
    ExerciseError,
    call_answer,
    close,
    fresh_cases,
    fresh_seed,
    one_number,
    passed,
    require_answer,
    require_array,
    require_number,
    require_output,
)

__all__ = ["cross_entropy", "kl_divergence", "graph_derivatives", "backward", "numerical_gradient",
           "soft_threshold", "train_step"]

def _ce_args(rng: np.random.Generator) -> tuple:
    n, k = int(rng.integers(1, 9)), int(rng.integers(2, 11))
    return rng.normal(size=(n, k)) * rng.choice([1.0, 10.0, 300.0]), rng.integers(0, k, size=n)


def cross_entropy(fn: Callable, *, seed: int | None = None) -> None:
    """``cross_entropy(logits, y)``: mean CE of integer labels, stable for logits of 1000.

    Fixed cases with hints (and +-1000), then fresh batches of 1-8 examples, 2-10 classes and
    random scales (``seed`` replays them).
    """
    ex = "cross_entropy"
    hint = ("loss_i = -log softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i]; compute logsumexp stably as "
            "m + log(sum(exp(z - m))) with m the row maximum, then average over the batch.")
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.2, 0.2, 3.1], [0.0, 0.0, 0.0]])
    y = np.array([0, 1, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = call_answer(ex, fn, "cross_entropy", (logits.copy(), y.copy()), hint)
        got = require_array(ex, out, "the output of cross_entropy", None, hint)
        per = -ref.log_softmax(logits)[np.arange(4), y]
        if got.shape == (4,) and close(got, per):
            raise ExerciseError(ex, "you returned one loss per example.",
                                "Average them: return the mean over the batch.")
        if got.size != 1:
            raise ExerciseError(ex, f"cross_entropy returned shape {got.shape}, expected one number.", hint)
        value = float(got.reshape(-1)[0])
        if np.isclose(value, per.sum()):
            raise ExerciseError(ex, "you returned the sum over the batch.", "Use the mean (divide by the batch size).")
        if np.isclose(value, -per.mean()):
            raise ExerciseError(ex, "the sign is wrong (a loss is >= 0).",
                                "Cross-entropy is *minus* the log-probability.")
        if not np.isclose(value, per.mean()):
            raise ExerciseError(ex, f"got {value:.4f}, expected {per.mean():.4f}.", hint)
        big = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 990.0]])
        got_big = require_array(ex, call_answer(ex, fn, "cross_entropy", (big.copy(), np.array([2, 2])), hint),
                                "the output of cross_entropy", None, hint)
    if not np.all(np.isfinite(got_big)):
        raise ExerciseError(ex, "cross_entropy gives nan or inf for logits of 1000.",
                            "It is unstable for large inputs: never form softmax and then log it. Use "
                            "logsumexp(z) - z[y] with the row maximum subtracted inside the exp.")
    if not np.isclose(float(np.ravel(got_big)[0]), ref.cross_entropy_from_logits(big, np.array([2, 2]))):
        raise ExerciseError(ex, "wrong value for logits of +-1000 (expected (2000 + 10) / 2 = 1005: the "
                            "examples are 2000 and 10 logits short of their true class).", hint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fresh_cases(ex, one_number(fn), "cross_entropy", _ce_args, ref.cross_entropy_from_logits,
                    "Use the batch size and number of classes of the logits you are given.", seed=seed, n=4)
    passed(ex, "mean, stable at 1000")


_KL_HINT = "KL(p || q) = sum_i p_i * log(p_i / q_i), summed over the last axis (natural log)."
_KL_ZERO_HINT = ("A term with p_i = 0 is 0 (0 * log 0 counts as 0: p_i * log(p_i) -> 0 as p_i -> 0), but NumPy "
                 "computes 0 * log(0) = 0 * -inf = nan. Leave those terms out: e.g. "
                 "np.sum(p * np.log(np.where(p > 0, p, 1.0) / q), axis=-1), or scipy.special.rel_entr(p, q).")


def _distributions(rng, shape: tuple, zeros: float) -> np.ndarray:
    """Random distributions along the last axis; about ``zeros`` of the entries exactly 0 (never a whole row)."""
    x = rng.gamma(0.7, size=shape) + 1e-3
    if zeros:
        x = np.where(rng.random(shape) < zeros, 0.0, x)
        rows = x.reshape(-1, shape[-1])
        empty = rows.sum(axis=1) == 0
        rows[empty, rng.integers(shape[-1], size=int(empty.sum()))] = 1.0
    return x / x.sum(axis=-1, keepdims=True)


def _kl_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(description, p, q): p with zeros (one-hot rows, sparse rows), q > 0 as a softmax gives, several shapes."""
    cases = []
    n, k = int(rng.integers(3, 7)), int(rng.integers(3, 11))
    onehot = np.eye(k)[rng.integers(k, size=n)]
    cases.append((f"one-hot p, shape ({n}, {k})", onehot, _distributions(rng, (n, k), 0.0)))
    for shape, zeros in (((int(rng.integers(4, 9)), int(rng.integers(2, 6))), 0.4), ((int(rng.integers(3, 12)),), 0.0),
                         ((2, int(rng.integers(2, 5)), int(rng.integers(3, 8))), 0.3), ((1, 2), 0.0)):
        cases.append((f"p and q of shape {shape}" + (" with some p_i = 0" if zeros else ""),
                      _distributions(rng, shape, zeros), _distributions(rng, shape, 0.0)))
    return cases


def kl_divergence(fn: Callable, *, seed: int | None = None) -> None:
    """``kl(p, q)`` = sum p log(p/q) along the last axis, with 0 log 0 = 0.

    First a small fixed batch (whose mistakes get specific hints), then fresh random p and q of
    several shapes - 1-D, 2-D, 3-D, one-hot and sparse p (``seed=None``: a new seed each call,
    named in any failure).
    """
    ex = "kl_divergence"
    hint = _KL_HINT
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    q = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    got = require_array(ex, call_answer(ex, fn, "kl", (p.copy(), q.copy()), hint), "the output of kl", None, hint)
    want = ref.kl_divergence(p, q)
    if got.shape != (2,):
        if got.size == 1 and (np.isclose(float(got.reshape(-1)[0]), want.sum())
                              or np.isclose(float(got.reshape(-1)[0]), want.mean())):
            raise ExerciseError(ex, "you reduced over the batch too.", "Sum over axis=-1 only: one KL per row.")
        raise ExerciseError(ex, f"kl returned shape {got.shape}, expected (2,).", "Sum over axis=-1: one KL per row.")
    if not close(got, want):
        if close(got, ref.kl_divergence(q, p)):
            raise ExerciseError(ex, "p and q are swapped: KL is not symmetric.", hint)
        if close(got, -want):
            raise ExerciseError(ex, "the sign is wrong (KL >= 0).", hint)
        if close(got, want / np.log(2)) or close(got, want / np.log(10)):
            raise ExerciseError(ex, "wrong logarithm base.", "Use np.log (nats), as Keras does.")
        raise ExerciseError(ex, "wrong values.", hint)
    seed = fresh_seed(seed)
    for case, p, q in _kl_cases(np.random.default_rng(seed)):
        where = f"for {case} (seed={seed})"
        with np.errstate(divide="ignore", invalid="ignore"):  # np.where(p > 0, p * log(p / q), 0) warns, rightly
            out = call_answer(ex, fn, "kl", (p.copy(), q.copy()), hint + f" [It failed {where}.]")
        want = ref.kl_divergence(p, q)
        if p.ndim == 1:
            value = require_number(ex, out, f"kl(p, q) {where}", "For 1-D p and q, KL is one number: "
                                   "the sum over the only axis.", kind="one number")
            got = np.asarray(float(value))
        else:
            got = require_array(ex, out, "the output of kl", None, hint)
            if got.shape != want.shape:
                raise ExerciseError(ex, f"kl returned shape {got.shape} {where}, expected {want.shape}.",
                                    "Sum over the last axis (axis=-1), whatever the number of axes: one KL per "
                                    "distribution.")
        if np.any(np.isnan(got)):
            zero = np.any(p == 0, axis=-1)
            if np.all(np.isnan(got)[zero]) and not np.any(np.isnan(got)[~zero]):
                raise ExerciseError(ex, f"kl gives nan {where}, in exactly the rows where some p_i = 0 (as with "
                                        "one-hot targets).", _KL_ZERO_HINT)
            raise ExerciseError(ex, f"kl gives nan {where}.", hint)
        if not close(got, want):
            if close(got, ref.kl_divergence(q, p)):
                raise ExerciseError(ex, f"p and q are swapped {where}: KL is not symmetric.", hint)
            raise ExerciseError(ex, f"wrong values {where}: got {np.round(got, 4).ravel()[:4].tolist()}, expected "
                                    f"{np.round(want, 4).ravel()[:4].tolist()}...", hint)
    passed(ex, "one KL per distribution, 0 log 0 = 0 for one-hot targets")


GRAPH = dict(x=2.0, w=0.5, b=-0.25, y=1.0)


def graph_derivatives(dL_dw: Any, dL_db: Any) -> None:
    """Hand derivatives of z = w x + b, a = sigmoid(z), L = -log a (y = 1) at :data:`GRAPH`."""
    ex = "graph_derivatives"
    hint = ("Chain rule backwards: dL/dz = a - y (sigmoid + cross-entropy), dz/dw = x, dz/db = 1, so "
            "dL/dw = (a - y) * x and dL/db = a - y, with a = sigmoid(w*x + b).")
    x, w, b, y = GRAPH["x"], GRAPH["w"], GRAPH["b"], GRAPH["y"]
    a = float(ref.sigmoid(w * x + b))
    vals = []
    for name, val in (("dL_dw", dL_dw), ("dL_db", dL_db)):
        require_answer(ex, val, name, hint)
        vals.append(float(require_number(ex, val, f"`{name}`", hint)))
    gw, gb = vals
    if np.isclose(gw, -(a - y) * x) and np.isclose(gb, -(a - y)):
        raise ExerciseError(ex, "both signs are wrong.",
                            "dL/da = -1/a, so dL/dz = a - y (negative here: the loss falls as z grows).")
    if np.isclose(gw, (a - y)) and np.isclose(gb, (a - y) * x):
        raise ExerciseError(ex, "dL_dw and dL_db are swapped.", hint)
    if np.isclose(gw, (a - y)):
        raise ExerciseError(ex, "dL_dw is missing the factor dz/dw = x.", hint)
    if np.isclose(gw, a * (1 - a) * x) or np.isclose(gw, -(1 - a) * x * a):
        raise ExerciseError(ex, "dL_dw uses only the sigmoid's derivative.",
                            "Multiply by dL/da = -1/a too: together they give a - y.")
    if not np.isclose(gw, (a - y) * x):
        raise ExerciseError(ex, f"dL_dw = {gw:.4f} is wrong.", hint)
    if not np.isclose(gb, a - y):
        raise ExerciseError(ex, f"dL_db = {gb:.4f} is wrong.", hint)
    passed(ex, f"dL/dw = {gw:.4f}, dL/db = {gb:.4f}")


_GRAD_KEYS = ("W1", "b1", "W2", "b2")


def _backward_args(rng: np.random.Generator) -> tuple:
    n_in, n_hidden, n_out, n = (int(v) for v in rng.integers((1, 1, 2, 1), (7, 7, 6, 9)))
    params = ref.init_two_layer(n_in, n_hidden, n_out, seed=int(rng.integers(2**31)))
    params["b1"], params["b2"] = rng.normal(size=n_hidden) * 0.5, rng.normal(size=n_out) * 0.5
    logits, cache = ref.two_layer_forward(params, rng.normal(size=(n, n_in)))
    return params, cache, logits, rng.integers(0, n_out, size=n)


def _backward_ref(params, cache, logits, y):
    grads = ref.two_layer_backward(params, cache, logits, y)
    return tuple(grads[k] for k in _GRAD_KEYS)


def backward(fn: Callable, *, seed: int | None = None) -> None:
    """``backward(params, cache, logits, y)`` -> dict of gradients, vs the reference backward.

    A fixed network with hints for the usual mistakes, then fresh networks of random sizes
    (``seed`` replays them).
    """
    ex = "backward"
    hint = ("Go back through the graph: dZ2 = (softmax(logits) - onehot(y)) / n; dW2 = H.T @ dZ2; "
            "db2 = dZ2.sum(axis=0); dH = dZ2 @ W2.T; dZ1 = dH * (Z1 > 0); dW1 = X.T @ dZ1; db1 = dZ1.sum(axis=0).")
    params = ref.init_two_layer(6, 5, 3, seed=2)
    rng = np.random.default_rng(2)
    params["b1"] = rng.normal(size=5) * 0.5
    params["b2"] = rng.normal(size=3) * 0.5
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8)
    logits, cache = ref.two_layer_forward(params, X)
    want = ref.two_layer_backward(params, cache, logits, y)
    out = call_answer(ex, fn, "backward", ({k: v.copy() for k, v in params.items()},
                                           tuple(c.copy() for c in cache), logits.copy(), y.copy()), hint)
    if not isinstance(out, dict):
        raise ExerciseError(ex, f"`backward` should return a dict, got {type(out).__name__}.",
                            'Return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.')
    for key in ("W2", "b2", "W1", "b1"):
        if key not in out:
            raise ExerciseError(ex, f"the gradient dict has no key {key!r}.", 'Use the keys "W1", "b1", "W2", "b2".')
        g = require_array(ex, out[key], f"grads[{key!r}]", None, hint)
        if g.shape != want[key].shape:
            t = " (transposed?)" if g.shape == want[key].shape[::-1] else ""
            raise ExerciseError(ex, f"grads[{key!r}] has shape {g.shape}, expected {want[key].shape}{t}.",
                                "Every gradient has the shape of its parameter: dW = (layer input).T @ dZ, "
                                "db = dZ.sum(axis=0) (sum over the batch).")
        if not close(g, want[key]):
            if close(g, want[key] * len(y)):
                raise ExerciseError(ex, f"grads[{key!r}] is {len(y)} times too large.",
                                    "The loss is a mean over the batch: divide dZ2 by n.")
            if key in ("W1", "b1"):
                X_, Z1, H = cache
                dZ2 = ref.softmax(logits)
                dZ2[np.arange(len(y)), y] -= 1
                dZ2 /= len(y)
                nomask = dZ2 @ params["W2"].T
                if close(g, (X_.T @ nomask) if key == "W1" else nomask.sum(0)):
                    raise ExerciseError(ex, f"grads[{key!r}] ignores the ReLU.",
                                        "Multiply dH by the ReLU's derivative, (Z1 > 0), before going further back.")
            if key in ("W2", "b2"):
                raise ExerciseError(ex, f"grads[{key!r}] is wrong.",
                                    "Start from dZ2 = softmax(logits) with 1 subtracted at each true class, "
                                    "divided by n.")
            raise ExerciseError(ex, f"grads[{key!r}] is wrong.", hint)
    fresh_cases(ex, lambda *args: tuple(fn(*args)[k] for k in _GRAD_KEYS), "backward", _backward_args,
                _backward_ref, "Take every size from the arrays you are given (batch, inputs, hidden units, classes).",
                seed=seed, n=4)
    passed(ex, "all four gradients match, on the fixed network and on random ones")


_NG_HINT = ("For each index i: remember x[i], set x[i] = old + eps and evaluate f, set x[i] = old - eps and "
            "evaluate f, put x[i] = old back, and store (f_plus - f_minus) / (2 * eps). Use np.ndindex(x.shape), "
            "np.nditer or loop over x.reshape(-1) (a view) so that any shape works.")


def _ng_f(v):
    """A smooth function with a non-zero third derivative, so the central difference depends on eps (error eps**2)."""
    return float(np.sum(v ** 3) + np.sum(np.sin(v)))


def _ng_cases(rng) -> list[tuple[np.ndarray, float]]:
    """Fresh (x, eps): x of 1, 2, 3 and 4 axes, eps large enough that the answer depends on it visibly."""
    shapes = [(int(rng.integers(3, 8)),), (int(rng.integers(2, 5)), int(rng.integers(2, 5))),
              (2, int(rng.integers(2, 4)), int(rng.integers(2, 4))), (2, 1, 2, 2)]
    eps = rng.permutation([0.1, 0.05, 0.02, 0.2])
    return [(rng.normal(size=shape), float(e)) for shape, e in zip(shapes, eps)]


def _ng_call(ex: str, fn: Callable, x: np.ndarray, eps: float, where: str, two_d_ok: bool) -> np.ndarray:
    x0 = x.copy()
    try:
        out = fn(_ng_f, x, eps)
    except NotImplementedError:
        raise ExerciseError(ex, "`numerical_gradient` is not written yet (it raises NotImplementedError).",
                            _NG_HINT) from None
    except Exception as err:  # noqa: BLE001 - report the student's error with the hint
        if two_d_ok and x.ndim != 2:
            raise ExerciseError(ex, f"it works for a 2-D x but raised {type(err).__name__}: {err} {where}.",
                                "Do not assume x has two axes (x[i, j], x.shape[1]): loop over "
                                "np.ndindex(x.shape), which gives index tuples for any number of axes.") from None
        raise ExerciseError(ex, f"calling `numerical_gradient` raised {type(err).__name__}: {err} {where}.",
                            _NG_HINT) from None
    if not np.array_equal(x, x0):
        raise ExerciseError(ex, f"x was changed by the call {where}.",
                            "Restore each x[i] to its old value after perturbing it.")
    return require_output(ex, out, "numerical_gradient", x.shape,
                          "Return an array with the shape of x (np.zeros_like(x)).")


def numerical_gradient(fn: Callable, *, seed: int | None = None) -> None:
    """``numerical_gradient(f, x, eps)``: central differences, x restored afterwards, any shape, the given eps.

    First a fixed 2-D x with eps = 1e-3 (whose mistakes get specific hints), then fresh random x of
    1 to 4 axes with eps from 0.02 to 0.2, where the central difference visibly depends on eps
    (``seed=None``: a new seed each call, named in any failure).
    """
    ex = "numerical_gradient"
    hint = _NG_HINT
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]])
    x0 = x.copy()
    f = _ng_f
    exact = 3 * x0 ** 2 + np.cos(x0)
    eps = 1e-3
    got = _ng_call(ex, fn, x, eps, "for the first example (a 2 x 3 x, eps = 1e-3)", two_d_ok=False)
    central = ref.numerical_gradient(f, x0.copy(), eps)
    if not close(got, central, rtol=1e-6, atol=1e-9):
        forward = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            up = x0.copy()
            up[i] += eps
            forward[i] = (f(up) - f(x0)) / eps
        if close(got, forward, rtol=1e-6, atol=1e-9):
            raise ExerciseError(ex, "you used the forward difference (f(x+eps) - f(x)) / eps.",
                                f"Its error is of order eps (here {np.abs(forward - exact).max():.1e}); the central "
                                f"difference (f(x+eps) - f(x-eps)) / (2 eps) has error of order eps**2 "
                                f"({np.abs(central - exact).max():.1e}).")
        if close(got, 2 * central):
            raise ExerciseError(ex, "the result is twice too large.",
                                "Divide by 2 * eps: the two points are 2 eps apart.")
        raise ExerciseError(ex, "wrong values.", hint)
    seed = fresh_seed(seed)
    for xc, e in _ng_cases(np.random.default_rng(seed)):
        where = f"for x of shape {xc.shape} and eps = {e} (seed={seed})"
        x_in = xc.copy()
        got_c = _ng_call(ex, fn, x_in, e, where, two_d_ok=True)
        want = ref.numerical_gradient(_ng_f, xc.copy(), e)
        if close(got_c, want, rtol=1e-6, atol=1e-9):
            continue
        exact_c = 3 * xc ** 2 + np.cos(xc)
        other = [ref.numerical_gradient(_ng_f, xc.copy(), o) for o in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)]
        if close(got_c, exact_c, rtol=1e-4, atol=1e-6) or any(close(got_c, g, rtol=1e-6, atol=1e-9) for g in other):
            raise ExerciseError(ex, f"wrong values {where}: they match a central difference with another step, "
                                    "so your function ignores its eps argument (a step size written into it?).",
                                f"Perturb by the eps you are given: x[i] = old + eps and old - eps, divided by "
                                f"2 * eps (with eps = {e} the central difference differs from the exact gradient "
                                f"by about eps**2 = {e * e:.1e} here, and so must yours).")
        if xc.ndim != 2:
            raise ExerciseError(ex, f"wrong values {where}; right for the 2-D x.",
                                "Do not assume x has two axes: loop over np.ndindex(x.shape), which gives index "
                                "tuples for any number of axes, and perturb x[i] for each.")
        raise ExerciseError(ex, f"wrong values {where}.", hint)
    passed(ex, f"max error vs the exact gradient {np.abs(got - exact).max():.1e}; any shape, the given eps")


def _shrink_args(rng: np.random.Generator) -> tuple:
    shape = tuple(int(k) for k in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    return rng.normal(size=shape), float(rng.uniform(0.05, 1.0))


def soft_threshold(fn: Callable, *, seed: int | None = None) -> None:
    """``soft_threshold(w, t)`` = sign(w) max(|w| - t, 0): the L1 proximal step.

    A fixed w with hints for hard thresholding, crossing zero and the L2 shrink, then fresh w of
    1-3 axes and fresh thresholds (``seed`` replays them).
    """
    ex = "soft_threshold"
    hint = ("Shrink every weight towards 0 by t and stop at exactly 0: np.sign(w) * np.maximum(np.abs(w) - t, 0). "
            "Weights with |w| <= t become exactly 0.")
    w = np.array([-2.0, -0.3, -0.05, 0.0, 0.04, 0.25, 1.5])
    t = 0.1
    got = require_output(ex, call_answer(ex, fn, "soft_threshold", (w.copy(), t), hint), "soft_threshold",
                         w.shape, hint)
    want = ref.soft_threshold(w, t)
    if not close(got, want, atol=0):
        if close(got, w - t * np.sign(w)):
            raise ExerciseError(ex, "small weights crossed zero instead of stopping at exactly 0.",
                                "Clip |w| - t at 0 (np.maximum) before restoring the sign.")
        if close(got, np.where(np.abs(w) > t, w, 0.0)):
            raise ExerciseError(ex, "that is hard thresholding: large weights were not shrunk.", hint)
        if close(got, w / (1 + t)) or close(got, w * (1 - t)):
            raise ExerciseError(ex, "that is the L2 (weight decay) shrink, which never gives exact zeros.", hint)
        raise ExerciseError(ex, "wrong values.", hint)
    if np.count_nonzero(got == 0) != np.count_nonzero(want == 0):
        raise ExerciseError(ex, "weights below the threshold are small but not exactly 0.", hint)
    fresh_cases(ex, fn, "soft_threshold", _shrink_args, ref.soft_threshold,
                "Work element-wise on any shape of w, with the threshold t you are given.", seed=seed, n=4, atol=0)
    passed(ex, f"{int(np.sum(got == 0))} of {w.size} weights exactly 0; random arrays and thresholds too")


_STEP_HINT = ("Inside `with tf.GradientTape() as tape:` compute logits = model(x, training=True) and "
              "loss = loss_fn(y, logits); after the block, grads = tape.gradient(loss, model.trainable_variables) "
              "and optimizer.apply_gradients(zip(grads, model.trainable_variables)); return loss.")


def _probe(n_in: int, n_hidden: int, n_out: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(n_hidden, activation="tanh"),
                             keras.layers.Dense(n_out)])


def train_step(fn: Callable, seed: int | None = None) -> None:
    """``train_step(model, optimizer, loss_fn, x, y)``: one gradient step with ``tf.GradientTape``.

    A fresh random two-layer model, batch and learning rate each call (``seed`` fixes them). The
    oracle is Keras itself: a copy of the model compiled with the same SGD and loss takes the same
    step with ``train_on_batch``; the weights after the student's step and the loss it returns (of
    the batch, before the step) must match it. A missing update, a step uphill, a doubled step,
    a loss computed outside the tape and a missing ``return`` each get their own hint."""
    ex = "train_step"
    rng = np.random.default_rng(fresh_seed(seed))
    n_in, n_hidden, n_out, n = (int(v) for v in rng.integers((3, 4, 2, 8), (7, 9, 5, 17)))
    lr = float(rng.uniform(0.05, 0.5))
    model_seed = int(rng.integers(2**31))
    x = rng.normal(size=(n, n_in)).astype("float32")
    y = rng.integers(0, n_out, n)

    def loss_fn():
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    oracle = _probe(n_in, n_hidden, n_out, model_seed)
    before = [w.copy() for w in oracle.get_weights()]
    oracle.compile(optimizer=keras.optimizers.SGD(lr), loss=loss_fn())
    want_loss = float(oracle.train_on_batch(x, y))
    want = oracle.get_weights()

    require_answer(ex, fn, "train_step", _STEP_HINT)
    if not callable(fn):
        raise ExerciseError(ex, f"`train_step` should be a function, got {type(fn).__name__}.", _STEP_HINT)
    model = _probe(n_in, n_hidden, n_out, model_seed)
    try:
        out = fn(model, keras.optimizers.SGD(lr), loss_fn(), tf.constant(x), tf.constant(y))
    except NotImplementedError:
        raise ExerciseError(ex, "`train_step` is not written yet (it raises NotImplementedError).",
                            _STEP_HINT) from None
    except ValueError as err:
        if "No gradients" in str(err) or "None" in str(err):
            raise ExerciseError(ex, f"`train_step` had no gradients to apply ({err}).",
                                "The tape only records what runs inside its `with` block: compute the model's "
                                "output and the loss there, then call tape.gradient after it.") from None
        raise ExerciseError(ex, f"calling `train_step` raised ValueError: {err}", _STEP_HINT) from None
    except Exception as err:  # noqa: BLE001 - report the student's error with the hint
        raise ExerciseError(ex, f"calling `train_step` raised {type(err).__name__}: {err}", _STEP_HINT) from None
    got = model.get_weights()
    step = [g - b for g, b in zip(got, before)]
    want_step = [w - b for w, b in zip(want, before)]
    if all(np.allclose(g, w, rtol=1e-4, atol=1e-6) for g, w in zip(got, want)):
        if out is None:
            raise ExerciseError(ex, "`train_step` updated the weights but returned None.",
                                "Return the loss of the batch (the value computed inside the tape).")
        try:
            got_loss = float(np.asarray(out))
        except (TypeError, ValueError):
            raise ExerciseError(ex, f"`train_step` returned {type(out).__name__}, not one loss value.",
                                "Return the loss of the batch, a scalar tensor.") from None
        if not np.isclose(got_loss, want_loss, rtol=1e-4, atol=1e-6):
            raise ExerciseError(ex, f"`train_step` returned {got_loss:.6g}; the batch loss before the step is "
                                f"{want_loss:.6g}.", "Return the loss computed inside the tape, before the update.")
        passed(ex, "the same step as Keras' train_on_batch")
        return
    if all(np.allclose(s_, 0, atol=1e-7) for s_ in step):
        raise ExerciseError(ex, "`train_step` left every weight unchanged.",
                            "After tape.gradient, apply the gradients: "
                            "optimizer.apply_gradients(zip(grads, model.trainable_variables)).")
    if all(np.allclose(s_, -w, rtol=1e-4, atol=1e-6) for s_, w in zip(step, want_step)):
        raise ExerciseError(ex, "`train_step` moved the weights uphill, along the gradient.",
                            "The optimiser subtracts lr * gradient itself: pass it the gradients of the loss as "
                            "they are, not their negatives.")
    if all(np.allclose(s_, 2 * w, rtol=1e-3, atol=1e-6) for s_, w in zip(step, want_step)):
        raise ExerciseError(ex, "`train_step` took the step twice.", "Call optimizer.apply_gradients once per step.")
    worst = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    raise ExerciseError(ex, f"after `train_step` the weights differ from one SGD step by up to {worst:.3g}.",
                        _STEP_HINT)
