"""labkit.checks.backprop (notebook 03, losses and backpropagation): each check accepts a right answer and
rejects the placeholder and the typical wrong answers with the matching hint."""
from __future__ import annotations

import numpy as np
from exercise_cells import check_tests, placeholder
from scipy import special

from labkit import scratch as ref
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
    (checks.kl_divergence, [lambda p, q: np.sum(p * np.log(p / q), axis=-1)], [
        ([placeholder], "not written yet"),
        ([lambda p, q: np.sum(q * np.log(q / p), axis=-1)], "swapped"),
        ([lambda p, q: np.sum(p * np.log2(p / q), axis=-1)], "base"),
        ([lambda p, q: np.sum(p * np.log(p / q))], "over the batch"),
        ([lambda p, q: -np.sum(p * np.log(p / q), axis=-1)], "sign"),
    ]),
    (checks.graph_derivatives, [*(lambda a: ((a - 1) * 2.0, a - 1))(special.expit(0.75))], [
        ([None, None], "no answer yet"),
        ([(special.expit(0.75) - 1), (special.expit(0.75) - 1)], "factor dz/dw = x"),
        ([-(special.expit(0.75) - 1) * 2, -(special.expit(0.75) - 1)], "signs"),
        ([(special.expit(0.75) - 1), (special.expit(0.75) - 1) * 2], "swapped"),
        ([special.expit(0.75) * (1 - special.expit(0.75)) * 2, 0.1], "sigmoid's derivative"),
        (["a", 1.0], "number"),
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
    ]),
    (checks.soft_threshold, [lambda w, t: np.sign(w) * np.maximum(np.abs(w) - t, 0)], [
        ([placeholder], "not written yet"),
        ([lambda w, t: w - t * np.sign(w)], "crossed zero"),
        ([lambda w, t: np.where(np.abs(w) > t, w, 0.0)], "hard thresholding"),
        ([lambda w, t: w / (1 + t)], "L2"),
        ([lambda w, t: np.sign(w) * np.maximum(np.abs(w) - t, 1e-12)], "wrong values|not exactly 0"),
    ]),
]


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


# The solutions each check must pass, and the names the notebook defines before its exercise cells
# that the solutions use.
REFERENCES = [(checks.cross_entropy, ref.cross_entropy_from_logits),
              (checks.kl_divergence, ref.kl_divergence),
              (checks.backward, ref.two_layer_backward),
              (checks.numerical_gradient, ref.numerical_gradient),
              (checks.soft_threshold, ref.soft_threshold)]
CONTEXT = {"sigmoid": ref.sigmoid, "softmax_ref": ref.softmax, "relu": ref.relu,
           "x0": checks.GRAPH["x"], "w0": checks.GRAPH["w"], "b0": checks.GRAPH["b"],
           "yv": checks.GRAPH["y"]}

# the generic tests (accepts the right answer, rejects each wrong one with its hint, ...): see check_tests
globals().update(check_tests(checks, CASES, references=REFERENCES, context=CONTEXT,
                             notebook="03_losses_backpropagation.ipynb"))
