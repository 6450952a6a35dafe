"""Checks for the exercises of notebook 05, "Diagnosing a model: bias, variance and learning curves"."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed
from labkit.diagnose import bias_variance

__all__ = ["diagnose_by_hand", "error_ceiling"]

# (j_train, j_cv, baseline, tolerance) cases, including both sides of every boundary.
_CASES = [
    (0.15, 0.16, 0.10, 0.02), (0.02, 0.12, 0.01, 0.02), (0.20, 0.35, 0.05, 0.02), (0.06, 0.07, 0.05, 0.02),
    (0.01, 0.02, 0.165, 0.02), (0.30, 0.31, 0.165, 0.02), (0.10, 0.10, 0.10, 0.05), (0.0, 0.5, 0.0, 0.1),
    (0.5, 0.5, 0.0, 0.1), (0.12, 0.125, 0.09, 0.02), (0.09, 0.14, 0.085, 0.01),
]


def diagnose_by_hand(fn: Callable[[float, float, float, float], Any]) -> None:
    """``fn(j_train, j_cv, baseline, tolerance)`` must return the verdict string of
    :func:`labkit.diagnose.bias_variance` (without calling it)."""
    ex = "diagnose by hand"
    hint = ("bias gap = j_train - baseline, variance gap = j_cv - j_train; a gap counts as high when it is "
            "larger than tolerance. Return exactly one of 'good fit', 'high bias', 'high variance', "
            "'high bias and high variance'.")
    for jt, jc, b, tol in _CASES:
        got = call_answer(ex, fn, "diagnose_by_hand", (jt, jc, b, tol), hint)
        want = bias_variance(jt, jc, b, tol).verdict
        if not isinstance(got, str):
            raise ExerciseError(ex, f"diagnose_by_hand({jt}, {jc}, {b}, {tol}) returned "
                                    f"{type(got).__name__}, expected a string such as {want!r}.", hint)
        if got.strip().lower() != want:
            raise ExerciseError(ex, f"diagnose_by_hand(j_train={jt}, j_cv={jc}, baseline={b}, tolerance={tol}) "
                                    f"returned {got!r}; the gaps are {jt - b:+.3f} (bias) and {jc - jt:+.3f} "
                                    f"(variance), so it is {want!r}.", hint)
    passed(ex, f"{len(_CASES)} cases agree with labkit.diagnose.bias_variance")


_CEILING_CASES = [
    (0.12, {"shirt vs T-shirt": 30, "footwear": 10, "other": 60}),
    (0.08, {"mislabelled": 5, "blurry": 15}),
    (0.30, {"only": 7}),
    (0.05, {"a": 1, "b": 1, "c": 2}),
]


def error_ceiling(fn: Callable[[float, Mapping[str, int]], Any]) -> None:
    """``fn(error_rate, counts)`` must return ``{category: error_rate * count / total}``: the
    most the overall error rate can fall if every error of that category were fixed."""
    ex = "error ceiling"
    hint = ("Each category's share of the sampled errors, times the error rate: "
            "{c: error_rate * n / sum(counts.values()) for c, n in counts.items()}. "
            "Fixing all 'shirt vs T-shirt' errors can remove at most that share of the error.")
    for rate, counts in _CEILING_CASES:
        got = call_answer(ex, fn, "error_ceiling", (rate, dict(counts)), hint)
        if not isinstance(got, Mapping):
            raise ExerciseError(ex, f"error_ceiling returned {type(got).__name__}, expected a dict "
                                    "{category: reduction}.", hint)
        if set(got) != set(counts):
            raise ExerciseError(ex, f"error_ceiling({rate}, {counts}) has keys {sorted(got)}, expected "
                                    f"{sorted(counts)}.", hint)
        total = sum(counts.values())
        for cat, n in counts.items():
            want = rate * n / total
            value = got[cat]
            is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not is_number or not math.isclose(float(value), want, rel_tol=1e-9, abs_tol=1e-12):
                raise ExerciseError(ex, f"for error rate {rate} and counts {counts}, category {cat!r} gave "
                                        f"{value!r}; expected {want:.4g}.", hint)
    passed(ex, "each category's ceiling is its share of the errors times the error rate")
