"""labkit.checks.forward (notebook 01, neurons and forward propagation): each check accepts a right answer and
rejects the placeholder and the typical wrong answers with the matching hint."""
from __future__ import annotations

import numpy as np
import pytest
from exercise_cells import check_tests, placeholder
from scipy import special

from labkit import scratch as ref
from labkit.checks import ExerciseError
from labkit.checks import forward as checks


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
        ([lambda A, layers: _seq_ok(A, [(W, b, lambda z: np.maximum(z, 0)) for W, b, _ in layers])],
         "every layer used relu"),
        ([lambda A, layers: None], "forget the `return`"),
    ]),
    (checks.param_count, [2 * 16 + 16 + 16 * 8 + 8 + 8 + 1], [
        ([None], "no answer yet"),
        ([2 * 16 + 16 * 8 + 8], "only the weights"),
        ([100], "not the number"),
        (["193"], "integer"),
        ([193.5], "fractional part"),
        ([True], "bool"),
        ([np.array([193, 1])], "one number"),
    ]),
    (checks.output_predictions,
     [lambda z: np.argmax(z, axis=1), lambda z: special.expit(z) > 0.5], [
         ([placeholder, placeholder], "not written yet"),
         ([lambda z: np.argmax(z, axis=0), lambda z: z > 0], "shape"),
         ([lambda z: np.argmin(z, axis=1), lambda z: z > 0], "expected \\[0, 1, 1, 2\\]"),
         ([lambda z: np.argmax(z, axis=1), lambda z: special.softmax(z, axis=1) > 0.5], "used softmax"),
         ([lambda z: np.argmax(z, axis=1), lambda z: z > 0.5], "compared the logits with 0.5"),
         ([lambda z: np.argmax(z, axis=1), placeholder], "not written yet"),
         # hard-coded to the check's fixed logits: right there, wrong on any other batch
         ([lambda z: np.array([0, 1, 1, 2]), lambda z: z > 0], "hard-coded"),
         ([lambda z: np.argmax(z, axis=1), lambda z: FIXED_LOGITS > 0], "hard-coded"),
         ([lambda z: np.argmax(z[:, :3], axis=1), lambda z: z > 0], "predict_multiclass (gave|is wrong)"),
     ]),
]


FIXED_LOGITS = np.array([[2.0, 1.5, -3.0], [-1.0, -0.5, -2.0], [0.3, 4.0, 0.2], [-0.1, 0.1, 5.0]])


def _seq_ok(A, layers):
    for W, b, g in layers:
        A = g(A @ W + b)
    return A


# The solutions each check must pass, and the names the notebook defines before its exercise cells
# that the solutions use.
REFERENCES = [(checks.dense, ref.dense), (checks.sequential, ref.sequential)]
CONTEXT = {"sigmoid": ref.sigmoid, "softmax_ref": ref.softmax, "relu": ref.relu,
           "dense": lambda A, W, b, g: g(A @ W + b)}

# the generic tests (accepts the right answer, rejects each wrong one with its hint, ...): see check_tests
globals().update(check_tests(checks, CASES, references=REFERENCES, context=CONTEXT,
                             notebook="01_neurons_forward_propagation.ipynb"))


@pytest.mark.parametrize("value", [193, np.int64(193), np.int32(193), 193.0, np.float64(193.0), np.array(193),
                                   np.array([193])])
def test_param_count_accepts_any_whole_number(value, capsys):
    checks.param_count(value)
    assert "✔" in capsys.readouterr().out


def test_output_predictions_draws_fresh_logits_of_several_shapes():
    seen = []

    def spy(z):
        seen.append(z.copy())
        return np.argmax(z, axis=1)

    checks.output_predictions(spy, lambda z: z > 0)
    first = len(seen)
    checks.output_predictions(spy, lambda z: z > 0)
    assert len({z.shape for z in seen[:first]}) >= 4
    assert not np.array_equal(seen[first - 1], seen[-1]), "two calls drew the same logits"


def test_output_predictions_names_the_seed():
    with pytest.raises(ExerciseError, match="seed=5"):
        checks.output_predictions(lambda z: np.array([0, 1, 1, 2]), lambda z: z > 0, seed=5)
