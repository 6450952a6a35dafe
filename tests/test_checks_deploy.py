"""Checks of notebook 15: right answers pass, placeholders and wrong answers get hints."""
from __future__ import annotations

import numpy as np
import pytest

from labkit import monitor
from labkit.checks import ExerciseError, deploy


def right(p, q, eps=1e-4):
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def placeholder(p, q, eps=1e-4):
    raise NotImplementedError()


def test_right_answer_passes_and_agrees_with_monitor_psi(capsys):
    deploy.psi_from_fractions(right)
    assert "correct" in capsys.readouterr().out
    # the same formula as labkit.monitor.psi on quartile-binned data
    ref = np.repeat(np.arange(4.0), 25)
    cur = np.repeat(np.arange(4.0), [40, 30, 20, 10])
    assert right(np.full(4, 0.25), np.array([0.4, 0.3, 0.2, 0.1])) == pytest.approx(monitor.psi(ref, cur, 4)[0])


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (lambda p, q, eps=1e-4: float(np.sum((q - p) * np.log(q / p))), "empty bin|expected"),
    (lambda p, q, eps=1e-4: float(np.sum(q * np.log(np.maximum(q, eps) / np.maximum(p, eps)))), "expected"),
    (lambda p, q, eps=1e-4: "0.1", "expected one float|expected"),
    (lambda p, q, eps=1e-4: [right(p, q)] * 2, "expected one float"),
])
def test_wrong_answers_get_hints(answer, words):
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(ExerciseError, match=words) as err:
            deploy.psi_from_fractions(answer)
    assert "Hint:" in str(err.value)
