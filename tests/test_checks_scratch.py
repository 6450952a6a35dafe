"""Each from-scratch check accepts a right answer and rejects the placeholder and the
typical wrong answers with the matching hint."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from labkit.checks import ExerciseError
from labkit.checks import scratch as checks


def placeholder(*args, **kwargs):
    raise NotImplementedError()


def _fails(check, *answer, match: str) -> None:
    with pytest.raises(ExerciseError, match=match):
        check(*answer)


# --------------------------------------------------------------------------- 01 forward
def dense_loop_ok(a, W, b, g):
    z = np.zeros(W.shape[1])
    for j in range(W.shape[1]):
        s = b[j]
        for i in range(W.shape[0]):
            s += a[i] * W[i, j]
        z[j] = s
    return g(z)


CASES = [
    (checks.dense_loop, [dense_loop_ok], [
        ([placeholder], "not written yet"),
        ([None], "no answer yet"),
        ([lambda a, W, b, g: g(a @ W)], "bias b is missing"),
        ([lambda a, W, b, g: a @ W + b], "activation g was not applied"),
        ([lambda a, W, b, g: g(W @ a + b)], "W transposed"),
        ([lambda a, W, b, g: g(a @ W) + b], "after the activation"),
        ([lambda a, W, b, g: None], "forget the `return`"),
        ([lambda a, W, b, g: g(a @ W + b)[None, :]], "shape"),
        ([lambda a, W, b, g: np.maximum(a @ W + b, 0)], "do not hard-code relu"),
    ]),
    (checks.dense, [lambda A, W, b, g: g(A @ W + b)], [
        ([placeholder], "not written yet"),
        ([lambda A, W, b, g: g(A @ W)], "bias b is missing"),
        ([lambda A, W, b, g: g(A @ W.T + b)], "W transposed"),
        ([lambda A, W, b, g: g(W @ A.T + b[:, None]).T], "transposed"),
        ([lambda A, W, b, g: g(A[0] @ W + b)], "shape"),
        ([lambda A, W, b, g: g(A @ W + b).ravel()], "shape"),
    ]),
    (checks.sequential, [lambda A, layers: _seq_ok(A, layers)], [
        ([placeholder], "not written yet"),
        ([lambda A, layers: layers[0][2](A @ layers[0][0] + layers[0][1])], "hidden layer"),
        ([lambda A, layers: _seq_ok(A, [(W, b, lambda z: z) for W, b, _ in layers])], "activations were not applied"),
        ([lambda A, layers: _seq_ok(A, [(W, b, lambda z: np.maximum(z, 0)) for W, b, _ in layers])], "every layer used relu"),
        ([lambda A, layers: None], "forget the `return`"),
    ]),
    (checks.param_count, [2 * 16 + 16 + 16 * 8 + 8 + 8 + 1], [
        ([None], "no answer yet"),
        ([2 * 16 + 16 * 8 + 8], "only the weights"),
        ([100], "not the number"),
        (["193"], "integer"),
    ]),
    (checks.output_predictions,
     [lambda z: np.argmax(z, axis=1), lambda z: special.expit(z) > 0.5], [
         ([placeholder, placeholder], "not written yet"),
         ([lambda z: np.argmax(z, axis=0), lambda z: z > 0], "shape"),
         ([lambda z: np.argmin(z, axis=1), lambda z: z > 0], "expected \\[0, 1, 1, 2\\]"),
         ([lambda z: np.argmax(z, axis=1), lambda z: special.softmax(z, axis=1) > 0.5], "used softmax"),
         ([lambda z: np.argmax(z, axis=1), lambda z: z > 0.5], "compared the logits with 0.5"),
         ([lambda z: np.argmax(z, axis=1), placeholder], "not written yet"),
     ]),
    # ----------------------------------------------------------------------- 02 activations
    (checks.sigmoid_prime, [lambda z: special.expit(z) * (1 - special.expit(z))], [
        ([placeholder], "not written yet"),
        ([lambda z: special.expit(z)], "sigmoid itself"),
        ([lambda z: z * (1 - z)], "z \\* \\(1 - z\\)"),
        ([lambda z: -special.expit(z) * (1 - special.expit(z))], "sign"),
        ([lambda z: np.exp(z) / (1 + np.exp(z)) ** 2], "unstable for large inputs"),
    ]),
    (checks.leaky_relu, [lambda z, alpha: np.where(z > 0, z, alpha * z)], [
        ([placeholder], "not written yet"),
        ([lambda z, alpha: np.maximum(z, 0)], "plain ReLU"),
        ([lambda z, alpha: np.where(z > 0, alpha * z, z)], "positive side"),
        ([lambda z, alpha: np.where(z > 0, z, 0.1 * z)], "alpha argument"),
    ]),
    (checks.collapse_linear, [lambda layers: _collapse_ok(layers)], [
        ([placeholder], "not written yet"),
        ([lambda layers: _collapse_ok(layers)[0]], "pair"),
        ([lambda layers: (_collapse_ok(layers)[0], layers[-1][1])], "earlier biases"),
        ([lambda layers: (_collapse_ok(layers)[0], layers[0][1] @ layers[1][0] @ layers[2][0] + layers[2][1])], "earlier biases"),
        ([lambda layers: (layers[2][0].T @ layers[1][0].T @ layers[0][0].T, _collapse_ok(layers)[1])], "shape"),
    ]),
    (checks.softmax, [lambda Z: special.softmax(Z, axis=-1)], [
        ([placeholder], "not written yet"),
        ([lambda Z: np.exp(Z) / np.exp(Z).sum(axis=-1, keepdims=True)], "unstable for large inputs"),
        ([lambda Z: np.exp(Z) / np.exp(Z).sum(axis=0)], "columns"),
        ([lambda Z: np.exp(Z) / np.exp(Z).sum()], "whole batch"),
        ([lambda Z: (lambda e: e / e.sum(-1, keepdims=True))(np.exp(Z - Z.max()))], "own maximum"),
    ]),
    (checks.dead_fraction, [lambda H: float(np.mean(H.max(axis=0) <= 0))], [
        ([placeholder], "not written yet"),
        ([lambda H: float(np.mean(H == 0))], "zero entries"),
        ([lambda H: float(np.mean((H == 0).any(axis=0)))], "some"),
        ([lambda H: int(np.sum(H.max(axis=0) <= 0))], "count"),
        ([lambda H: H.max(axis=0) <= 0], "one number"),
    ]),
    (checks.output_activations, [dict(checks.OUTPUT_TASKS)], [
        ([None], "no answer yet"),
        ([["linear"]], "dict"),
        ([{**checks.OUTPUT_TASKS, "photo_tags": "softmax"}], "several tags"),
        ([{**checks.OUTPUT_TASKS, "house_price": "relu"}], "unbounded"),
        ([{"house_price": "linear"}], "missing keys"),
    ]),
    # ----------------------------------------------------------------------- 03 backprop
    (checks.cross_entropy, [lambda z, y: float(np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]))], [
        ([placeholder], "not written yet"),
        ([lambda z, y: -np.mean(np.log(special.softmax(z, axis=1)[np.arange(len(y)), y]))], "unstable for large inputs"),
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


def _seq_ok(A, layers):
    for W, b, g in layers:
        A = g(A @ W + b)
    return A


def _collapse_ok(layers):
    W, b = layers[0]
    for Wk, bk in layers[1:]:
        W, b = W @ Wk, b @ Wk + bk
    return W, b


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


IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("check,answer", [(c[0], c[1]) for c in CASES], ids=IDS)
def test_check_accepts_correct_answer(check, answer, capsys):
    check(*answer)
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("check,answer,match",
                         [(c[0], w, m) for c in CASES for w, m in c[2]],
                         ids=[f"{c[0].__name__}-{i}" for c in CASES for i in range(len(c[2]))])
def test_check_rejects_wrong_answer_with_hint(check, answer, match):
    _fails(check, *answer, match=match)


def test_every_check_is_tested():
    assert sorted(IDS) == sorted(checks.__all__)


def test_reference_solutions_pass_their_checks(capsys):
    from labkit import scratch as ref

    checks.dense(ref.dense)
    checks.sequential(ref.sequential)
    checks.sigmoid_prime(ref.sigmoid_prime)
    checks.softmax(ref.softmax)
    checks.cross_entropy(ref.cross_entropy_from_logits)
    checks.kl_divergence(ref.kl_divergence)
    checks.backward(ref.two_layer_backward)
    checks.numerical_gradient(ref.numerical_gradient)
    checks.soft_threshold(ref.soft_threshold)
    assert capsys.readouterr().out.count("✔") == 9


# --------------------------------------------------------------------------- student versions
SCRATCH_NOTEBOOKS = ["01_neurons_forward_propagation.ipynb", "02_activation_functions.ipynb",
                     "03_losses_backpropagation.ipynb"]


@pytest.mark.parametrize("name", SCRATCH_NOTEBOOKS)
def test_student_exercise_cells_fail_their_checks_with_a_hint(name):
    """Run each student-version exercise cell alone, then its check: it must give a hint."""
    import os

    import nbformat

    import labkit
    from labkit.student import has_solution, strip_solution

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", name)
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    n_exercises = 0
    for i, cell in enumerate(cells):
        if not has_solution(cell.source):
            continue
        n_exercises += 1
        check_src = cells[i + 1].source
        assert check_src.startswith("checks.scratch."), f"{name}: the cell after exercise {n_exercises} must call a check"
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks}
        exec(compile(strip_solution(cell.source), f"{name}[student {i}]", "exec"), ns)
        with pytest.raises(ExerciseError) as err:
            exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
        assert err.value.hint and ("no answer yet" in str(err.value) or "not written yet" in str(err.value))
        # ... and the solution passes the same check
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks, **_solution_context(name)}
        exec(compile(cell.source, f"{name}[solution {i}]", "exec"), ns)
        exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
    assert n_exercises >= 5, f"{name}: expected several exercises, found {n_exercises}"


def _solution_context(name):
    """Names the notebooks define before their exercise cells that the solutions use."""
    from labkit import scratch as ref

    ctx = {"sigmoid": ref.sigmoid, "softmax_ref": ref.softmax, "relu": ref.relu}
    ctx["dense"] = lambda A, W, b, g: g(A @ W + b)
    ctx.update(x0=checks.GRAPH["x"], w0=checks.GRAPH["w"], b0=checks.GRAPH["b"], yv=checks.GRAPH["y"])
    return ctx
