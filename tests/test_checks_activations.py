"""labkit.checks.activations (notebook 02, activation functions): each check accepts a right answer and
rejects the placeholder and the typical wrong answers with the matching hint."""
from __future__ import annotations

import numpy as np
import pytest
from exercise_cells import check_tests, placeholder
from scipy import special

from labkit import scratch as ref
from labkit.checks import ExerciseError
from labkit.checks import activations as checks

CASES = [
    (checks.sigmoid_prime, [lambda z: special.expit(z) * (1 - special.expit(z))], [
        ([placeholder], "not written yet"),
        ([lambda z: special.expit(z)], "sigmoid itself"),
        ([lambda z: z * (1 - z)], "z \\* \\(1 - z\\)"),
        ([lambda z: -special.expit(z) * (1 - special.expit(z))], "sign"),
        ([lambda z: np.exp(z) / (1 + np.exp(z)) ** 2], "unstable for large inputs"),
        # the textbook sigmoid 1 / (1 + exp(-z)) overflows for z = -1000 (a RuntimeWarning), although 0 comes out
        ([lambda z: (lambda s: s * (1 - s))(1 / (1 + np.exp(-z)))], "overflow"),
        # hard-coded to the check's fixed inputs
        ([lambda z: ref.sigmoid_prime(np.linspace(-6, 6, 25))], "hard-coded|same values"),
        # finite and warning-free, but not accurate in the tails
        ([lambda z: np.maximum(special.expit(z) * (1 - special.expit(z)), 1e-9)], "wrong values for large"),
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
        ([lambda layers: (_collapse_ok(layers)[0], layers[0][1] @ layers[1][0] @ layers[2][0] + layers[2][1])],
         "earlier biases"),
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
        ([lambda H: 0.4], "hard-coded|same answer"),
        ([lambda H: "0.4"], "string"),
        ([lambda H: bool(np.mean(H.max(axis=0) <= 0))], "bool"),
        ([lambda H: float(np.mean(H[:, :5].max(axis=0) <= 0))], "expected|instead of|counted"),
    ]),
    (checks.output_activations, [dict(checks.OUTPUT_TASKS)], [
        ([None], "no answer yet"),
        ([["linear"]], "dict"),
        ([{**checks.OUTPUT_TASKS, "photo_tags": "softmax"}], "several tags"),
        ([{**checks.OUTPUT_TASKS, "house_price": "relu"}], "unbounded"),
        ([{"house_price": "linear"}], "missing keys"),
    ]),
]


def _collapse_ok(layers):
    W, b = layers[0]
    for Wk, bk in layers[1:]:
        W, b = W @ Wk, b @ Wk + bk
    return W, b


# The solutions each check must pass, and the names the notebook defines before its exercise cells
# that the solutions use.
REFERENCES = [(checks.sigmoid_prime, ref.sigmoid_prime), (checks.softmax, ref.softmax)]
CONTEXT = {"sigmoid": ref.sigmoid, "softmax_ref": ref.softmax, "relu": ref.relu}

# the generic tests (accepts the right answer, rejects each wrong one with its hint, ...): see check_tests
globals().update(check_tests(checks, CASES, references=REFERENCES, context=CONTEXT,
                             notebook="02_activation_functions.ipynb"))


@pytest.mark.parametrize("wrap", [np.float32, np.float64, np.array, lambda v: np.array([v])],
                         ids=["float32", "float64", "0-d array", "1-element array"])
def test_dead_fraction_accepts_any_one_number(wrap, capsys):
    checks.dead_fraction(lambda H: wrap(np.mean(H.max(axis=0) <= 0)))
    assert "✔" in capsys.readouterr().out


def test_sigmoid_prime_and_dead_fraction_draw_fresh_inputs():
    for check, answer in ((checks.sigmoid_prime, ref.sigmoid_prime),
                          (checks.dead_fraction, lambda H: float(np.mean(H.max(axis=0) <= 0)))):
        seen = []

        def spy(x, answer=answer, seen=seen):
            seen.append(np.array(x, copy=True))
            return answer(x)

        check(spy)
        first = len(seen)
        check(spy)
        assert len({x.shape for x in seen[:first]}) >= 3, check.__name__
        assert not np.array_equal(seen[first - 1], seen[-1]), f"{check.__name__}: two calls drew the same input"


def test_sigmoid_prime_names_the_seed():
    with pytest.raises(ExerciseError, match="seed=9"):
        checks.sigmoid_prime(lambda z: ref.sigmoid_prime(np.linspace(-6, 6, 25)), seed=9)
