"""Checks of notebook 13: right answers pass, placeholders and wrong answers get hints."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import data_quality as dq


def right(logits, labels, k):
    z = logits - logits.max(axis=1, keepdims=True)
    loss = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(labels)), labels]
    return np.argsort(-loss)[:k]


def placeholder(logits, labels, k):
    raise NotImplementedError()


def naive_softmax(logits, labels, k):  # overflows on large logits -> wrong ranking
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits.astype(np.float32))
        p = e / e.sum(1, keepdims=True)
        return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def ascending(logits, labels, k):
    return right(logits, labels, k)[::-1]


def lowest(logits, labels, k):
    z = logits - logits.max(axis=1, keepdims=True)
    loss = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(labels)), labels]
    return np.argsort(loss)[:k]


def naive_float64(logits, labels, k):
    """The textbook softmax in float64: overflows (a RuntimeWarning) once logits pass ~709."""
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def log_of_softmax(logits, labels, k):
    """A stable softmax, then its log: a probability that underflows to 0 gives log(0) = -inf."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def memorised(logits, labels, k):
    """The answer to the old check's fixed first case (seed 12, 50 x 10, k=5), whatever the input."""
    rng = np.random.default_rng(12)
    lo = rng.normal(size=(50, 10)) * 3.0
    return right(lo, rng.integers(0, 10, 50), k)


@pytest.mark.parametrize("answer", [right, lambda lo, la, k: right(lo, la, k).tolist(),
                                    lambda lo, la, k: right(lo, la, k).astype(np.int32)],
                         ids=["array", "list", "int32"])
def test_right_answer_passes(answer, capsys):
    for seed in (0, 1, 2, None):
        dq.top_loss_indices(answer, seed=seed)
    assert "correct" in capsys.readouterr().out


def test_top_loss_draws_fresh_cases_with_huge_logits():
    seen = []

    def spy(logits, labels, k):
        seen.append(logits.copy())
        return right(logits, labels, k)

    dq.top_loss_indices(spy)
    first = len(seen)
    dq.top_loss_indices(spy)
    assert not np.array_equal(seen[0], seen[first]), "two calls drew the same case"
    assert len({lo.shape for lo in seen[:first]}) >= 3 and max(np.abs(lo).max() for lo in seen) >= 800


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (naive_softmax, "largest losses|not sorted"),   # with the hint to compute the loss stably
    (ascending, "not sorted"),
    (lowest, "largest losses"),
    (lambda lo, la, k: right(lo, la, k).astype(float), "integer"),
    (lambda lo, la, k: right(lo, la, k + 1), "shape"),
    (naive_float64, "overflow"),
    (log_of_softmax, "log\\(0\\)|divide by zero"),
    (memorised, "largest losses|outside|shape"),
    (lambda lo, la, k: "3 1 4", "string"),
])
def test_wrong_answers_get_hints(answer, words):
    with pytest.raises(ExerciseError, match=words) as err:
        dq.top_loss_indices(answer)
    assert "Hint:" in str(err.value)


@pytest.mark.parametrize("answer", [naive_softmax, naive_float64, log_of_softmax])
def test_unstable_answers_get_the_stability_hint(answer):
    for seed in (0, 1, None):
        with pytest.raises(ExerciseError) as err:
            dq.top_loss_indices(answer, seed=seed)
        assert "Never form exp(logits) or softmax and then take its log" in err.value.hint
