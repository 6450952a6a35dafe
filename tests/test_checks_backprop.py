"""labkit.checks.backprop (notebook 03, losses and backpropagation): each check accepts a right answer and
rejects the placeholder and the typical wrong answers with the matching hint."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from exercise_cells import check_tests, placeholder
from scipy import special

from labkit import scratch as ref
from labkit.checks import ExerciseError
from labkit.checks import backprop as checks

CASES = [
    (checks.cross_entropy, [lambda z, y: float(np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]))], [
        ([placeholder], "not written yet"),
        ([lambda z, y: -np.mean(np.log(special.softmax(z, axis=1)[np.arange(len(y)), y]))],
         "unstable for large inputs"),
        ([lambda z, y: special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]], "one loss per example"),
        ([lambda z, y: np.sum(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y])], "sum over the batch"),
        ([lambda z, y: -np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y])], "sign"),
    ]),
    (checks.kl_divergence, [lambda p, q: np.sum(p * np.log(np.where(p > 0, p, 1.0) / q), axis=-1)], [
        ([placeholder], "not written yet"),
        ([lambda p, q: np.sum(q * np.log(q / p), axis=-1)], "swapped"),
        ([lambda p, q: np.sum(p * np.log2(p / q), axis=-1)], "base"),
        ([lambda p, q: np.sum(p * np.log(p / q))], "over the batch"),
        ([lambda p, q: -np.sum(p * np.log(p / q), axis=-1)], "sign"),
        # right for p > 0 only: 0 * log(0 / q) is nan, so one-hot targets give nan
        ([lambda p, q: np.sum(p * np.log(p / q), axis=-1)], "p_i = 0"),
        # the right values with the last axis hard-coded as axis 1
        ([lambda p, q: np.sum(special.rel_entr(p, q), axis=1)], "last axis|shape|raised"),
    ]),
    (checks.graph_derivatives, [*(lambda a: ((a - 1) * 2.0, a - 1))(special.expit(0.75))], [
        ([None, None], "no answer yet"),
        ([(special.expit(0.75) - 1), (special.expit(0.75) - 1)], "factor dz/dw = x"),
        ([-(special.expit(0.75) - 1) * 2, -(special.expit(0.75) - 1)], "signs"),
        ([(special.expit(0.75) - 1), (special.expit(0.75) - 1) * 2], "swapped"),
        ([special.expit(0.75) * (1 - special.expit(0.75)) * 2, 0.1], "sigmoid's derivative"),
        (["a", 1.0], "number"),
        ([True, 1.0], "bool"),
    ]),
    (checks.backward, [lambda params, cache, logits, y: _backward_ok(params, cache, logits, y)], [
        ([placeholder], "not written yet"),
        ([lambda *a: [1, 2]], "dict"),
        ([lambda *a: {k: v for k, v in _backward_ok(*a).items() if k != "b1"}], "no key 'b1'"),
        ([lambda *a: {**_backward_ok(*a), "W2": _backward_ok(*a)["W2"].T}], "transposed"),
        ([lambda *a: {**_backward_ok(*a), "b2": _backward_ok(*a)["b2"].sum()}], "shape"),
        ([lambda *a: _backward_ok(*a, mean=False)], "times too large"),
        ([lambda *a: _backward_ok(*a, mask=False)], "ignores the ReLU"),
    ]),
    (checks.numerical_gradient, [lambda f, x, eps: _numgrad(f, x, eps)], [
        ([placeholder], "not written yet"),
        ([lambda f, x, eps: _numgrad(f, x, eps, kind="forward")], "forward difference"),
        ([lambda f, x, eps: 2 * _numgrad(f, x, eps)], "twice"),
        ([lambda f, x, eps: _numgrad(f, x, eps, restore=False)], "x was changed"),
        ([lambda f, x, eps: _numgrad(f, x, eps).ravel()], "shape"),
        # eps hard-coded to the check's 1e-3 (or any other value): right there, wrong for another eps
        ([lambda f, x, eps: _numgrad(f, x, 1e-3)], "eps"),
        ([lambda f, x, eps: _numgrad(f, x, 1e-6)], "eps"),
        # written for a 2-D x only
        ([lambda f, x, eps: _numgrad_2d(f, x, eps)], "2-D"),
    ]),
    (checks.soft_threshold, [lambda w, t: np.sign(w) * np.maximum(np.abs(w) - t, 0)], [
        ([placeholder], "not written yet"),
        ([lambda w, t: w - t * np.sign(w)], "crossed zero"),
        ([lambda w, t: np.where(np.abs(w) > t, w, 0.0)], "hard thresholding"),
        ([lambda w, t: w / (1 + t)], "L2"),
        ([lambda w, t: np.sign(w) * np.maximum(np.abs(w) - t, 1e-12)], "wrong values|not exactly 0"),
    ]),
    (checks.train_step, [lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y)], [
        ([None], "no answer yet"),
        ([placeholder], "not written yet"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y, apply=False)], "unchanged"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y, sign=-1.0)], "uphill"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y, times=2)], "twice"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y, sign=0.5)], "differ"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y, outside=True)], "no gradients"),
        ([lambda m, o, loss_fn, x, y: None if _step(m, o, loss_fn, x, y) is not None else 0], "returned None"),
        ([lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y) * 0 + 1.0], "before the step"),
        ([lambda m, o, loss_fn, x, y: (_step(m, o, loss_fn, x, y), 1)], "not one loss"),
    ]),
]


def _step(model, optimizer, loss_fn, x, y, *, apply=True, sign=1.0, times=1, outside=False):
    """One GradientTape step, right by default; the keywords make the typical slips."""
    if outside:
        loss = loss_fn(y, model(x, training=True))
        with tf.GradientTape() as tape:
            pass
    else:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    if apply:
        for _ in range(times):
            pairs = zip(grads, model.trainable_variables) if sign == 1.0 else \
                [(sign * g, v) for g, v in zip(grads, model.trainable_variables)]
            optimizer.apply_gradients(pairs)
    return loss


def _backward_ok(params, cache, logits, y, mean=True, mask=True):
    X, Z1, H = cache
    n = len(y)
    d = special.softmax(logits, axis=1)
    d[np.arange(n), y] -= 1
    d = d / n if mean else d
    dH = d @ params["W2"].T
    dZ1 = dH * (Z1 > 0) if mask else dH
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(0), "W2": H.T @ d, "b2": d.sum(0)}


def _numgrad(f, x, eps, kind="central", restore=True):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        if kind == "central":
            x[i] = old - eps
            g[i] = (up - f(x)) / (2 * eps)
        else:
            x[i] = old
            g[i] = (up - f(x)) / eps
        if restore:
            x[i] = old
    return g


def _numgrad_2d(f, x, eps):
    g = np.zeros_like(x)
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            old = x[r, c]
            x[r, c] = old + eps
            up = f(x)
            x[r, c] = old - eps
            g[r, c] = (up - f(x)) / (2 * eps)
            x[r, c] = old
    return g


@pytest.mark.parametrize("wrap", [np.float32, np.array, lambda v: np.array([v])],
                         ids=["float32", "0-d array", "1-element array"])
def test_graph_derivatives_accepts_any_one_number(wrap, capsys):
    a = special.expit(0.75)
    checks.graph_derivatives(wrap((a - 1) * 2.0), wrap(a - 1))
    assert "✔" in capsys.readouterr().out


def test_kl_and_numerical_gradient_draw_fresh_inputs():
    shapes, eps_seen = [], []

    def kl_spy(p, q):
        shapes.append(p.shape)
        return ref.kl_divergence(p, q)

    def ng_spy(f, x, eps):
        shapes.append(x.shape)
        eps_seen.append(eps)
        return _numgrad(f, x, eps)

    checks.kl_divergence(kl_spy)
    assert len(set(shapes)) >= 3 and any(len(s) == 1 for s in shapes) and any(len(s) == 3 for s in shapes)
    shapes.clear()
    checks.numerical_gradient(ng_spy)
    assert len(set(shapes)) >= 3 and len(set(eps_seen)) >= 3


def test_kl_names_the_seed():
    with pytest.raises(ExerciseError, match="seed=4"):
        checks.kl_divergence(lambda p, q: np.sum(p * np.log(p / q), axis=-1), seed=4)


# The solutions each check must pass, and the names the notebook defines before its exercise cells
# that the solutions use.
REFERENCES = [(checks.cross_entropy, ref.cross_entropy_from_logits),
              (checks.kl_divergence, ref.kl_divergence),
              (checks.backward, ref.two_layer_backward),
              (checks.numerical_gradient, ref.numerical_gradient),
              (checks.soft_threshold, ref.soft_threshold),
              (checks.train_step, lambda m, o, loss_fn, x, y: _step(m, o, loss_fn, x, y))]
CONTEXT = {"sigmoid": ref.sigmoid, "softmax_ref": ref.softmax, "relu": ref.relu,
           "x0": checks.GRAPH["x"], "w0": checks.GRAPH["w"], "b0": checks.GRAPH["b"],
           "yv": checks.GRAPH["y"], "tf": tf}

# the generic tests (accepts the right answer, rejects each wrong one with its hint, ...): see check_tests
globals().update(check_tests(checks, CASES, references=REFERENCES, context=CONTEXT,
                             notebook="03_losses_backpropagation.ipynb"))
