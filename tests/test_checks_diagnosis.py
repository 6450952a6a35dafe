"""The diagnosis exercise checks accept right answers and reject wrong ones with a hint."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError, diagnosis


def _right(j_train, j_cv, baseline, tolerance=0.02):
    b, v = j_train - baseline > tolerance, j_cv - j_train > tolerance
    return {(False, False): "good fit", (True, False): "high bias", (False, True): "high variance",
            (True, True): "high bias and high variance"}[(b, v)]


def _right_ge(j_train, j_cv, baseline, tolerance=0.02):
    b, v = j_train - baseline >= tolerance, j_cv - j_train >= tolerance
    return {(False, False): "good fit", (True, False): "high bias", (False, True): "high variance",
            (True, True): "high bias and high variance"}[(b, v)]


def _placeholder(*args):
    raise NotImplementedError()


def test_diagnose_accepts_a_right_answer(capsys):
    diagnosis.diagnose_by_hand(_right)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer,match", [
    (None, "no answer yet"),
    (_placeholder, "not written yet"),
    ("high bias", "should be a function"),
    (lambda jt, jc, b, tol: "high bias" if jt > b else "good fit", "so it is"),           # ignores tolerance
    (lambda jt, jc, b, tol: _right(jt, jc, b, tol).replace("high bias and ", ""), "so it is"),  # drops 'both'
    (lambda jt, jc, b, tol: _right(jc, jt, b, tol), "so it is"),                           # swapped errors
    (lambda jt, jc, b, tol: 1, "expected a string"),
    (lambda jt, jc, b, tol: _right_ge(jt, jc, b, tol), "larger than|>="),               # >= for >
    (lambda jt, jc, b, tol: _right(jt, jc, b, 0.02), "tolerance"),                     # tolerance hard-coded
])
def test_diagnose_rejects_wrong_answers(answer, match):
    with pytest.raises(ExerciseError, match=match) as err:
        diagnosis.diagnose_by_hand(answer)
    assert "Hint:" in str(err.value)


def test_diagnose_draws_fresh_cases_with_exact_ties():
    seen = []

    def spy(jt, jc, b, tol):
        seen.append((jt, jc, b, tol))
        return _right(jt, jc, b, tol)

    diagnosis.diagnose_by_hand(spy)
    first = len(seen)
    diagnosis.diagnose_by_hand(spy)
    assert seen[:first] != seen[first:], "two calls drew the same cases"
    assert any(jt - b == tol for jt, jc, b, tol in seen) and any(jc - jt == tol for jt, jc, b, tol in seen)


def test_diagnose_names_the_seed():
    with pytest.raises(ExerciseError, match="seed=3"):
        diagnosis.diagnose_by_hand(_right_ge, seed=3)


def _ceiling(rate, counts):
    total = sum(counts.values())
    return {c: rate * n / total for c, n in counts.items()}


def test_ceiling_accepts_right_answers(capsys):
    diagnosis.error_ceiling(_ceiling)
    diagnosis.error_ceiling(lambda r, c: {k: np.float64(r * v / sum(c.values())) for k, v in c.items()})
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer,match", [
    (None, "no answer yet"),
    (_placeholder, "not written yet"),
    (lambda r, c: [1, 2], "expected a dict"),
    (lambda r, c: {k: v / sum(c.values()) for k, v in c.items()}, "expected"),        # forgot the rate
    (lambda r, c: {k: r * v for k, v in c.items()}, "expected"),                      # forgot to divide
    (lambda r, c: {"other": r}, "has keys"),
])
def test_ceiling_rejects_wrong_answers(answer, match):
    with pytest.raises(ExerciseError, match=match):
        diagnosis.error_ceiling(answer)
