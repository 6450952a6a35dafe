"""Checks of notebook 12: right answers pass, placeholders and wrong answers get hints."""
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


def test_right_answer_passes(capsys):
    dq.top_loss_indices(right)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (naive_softmax, "largest losses"),
    (ascending, "not sorted"),
    (lowest, "largest losses"),
    (lambda lo, la, k: right(lo, la, k).astype(float), "integer"),
    (lambda lo, la, k: right(lo, la, k + 1), "shape"),
])
def test_wrong_answers_get_hints(answer, words):
    with pytest.raises(ExerciseError, match=words) as err:
        dq.top_loss_indices(answer)
    assert "Hint:" in str(err.value)
