from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import mnist as check


def test_dense_param_count():
    check.dense_param_count(101_770)
    for wrong, hint in [(None, "no answer"), (784 * 128 + 1280, "biases"), (100_480, "only the hidden"),
                        ("101770", "whole number"), (5, "not the parameter count")]:
        with pytest.raises(ExerciseError, match=hint):
            check.dense_param_count(wrong)


def test_conv_param_count():
    check.conv_param_count(320, 784 * 25088 + 25088)
    with pytest.raises(ExerciseError, match="biases"):
        check.conv_param_count(288, 784 * 25088 + 25088)
    with pytest.raises(ExerciseError, match="biases"):
        check.conv_param_count(320, 784 * 25088)
    with pytest.raises(ExerciseError, match="no answer"):
        check.conv_param_count(None, None)


def _solution(probs, y_true, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    return wrong[np.argsort(-probs[wrong, pred[wrong]])][:k]


def test_confident_mistakes():
    check.confident_mistakes(_solution)

    def unsorted(probs, y_true, k):
        return np.sort(_solution(probs, y_true, k))

    def any_mistakes(probs, y_true, k):
        return np.flatnonzero(probs.argmax(axis=1) != y_true)[:k]

    def placeholder(probs, y_true, k):
        raise NotImplementedError()

    for fn, hint in [(unsorted, "wrong order"), (any_mistakes, "not the most confident"),
                     (placeholder, "not written yet"), (None, "no answer"), (lambda p, y, k: "x", "not indices")]:
        with pytest.raises(ExerciseError, match=hint):
            check.confident_mistakes(fn)
