"""Checks for the exercises of notebook 10, "Skewed datasets"."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from sklearn.metrics import precision_recall_curve

from labkit.checks import ExerciseError, call_answer, passed, require_answer

__all__ = ["f1_from_counts", "threshold_for_recall", "prior_bias", "PRIOR_BIAS_COUNTS"]

# The numbers the prior-bias exercise states: 200 frauds among 40,000 transactions.
PRIOR_BIAS_COUNTS = (200, 39_800)


def _number(exercise: str, value: Any, name: str, hint: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        else:
            raise ExerciseError(exercise, f"`{name}` should be one number, got {type(value).__name__}.", hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"`{name}` is {value}, not a finite number.", hint)
    return value


def f1_from_counts(fn: Callable[[int, int, int], float]) -> None:
    """``fn(tp, fp, fn)`` must return F1 = 2PR / (P + R), and 0.0 when tp == 0."""
    ex = "F1 from counts"
    hint = ("precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 * P * R / (P + R) - the harmonic "
            "mean, which simplifies to 2*tp / (2*tp + fp + fn). When tp == 0 return 0.0 (not NaN).")
    cases = [(3, 1, 2), (90, 10, 10), (1, 99, 0), (5, 0, 95), (50, 50, 50), (7, 0, 0), (0, 4, 6), (0, 0, 5)]
    for tp, fp, fneg in cases:
        got = _number(ex, call_answer(ex, fn, "f1_from_counts", (tp, fp, fneg), hint),
                      f"f1_from_counts({tp}, {fp}, {fneg})", hint)
        want = 2 * tp / (2 * tp + fp + fneg) if tp else 0.0
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fneg) if tp + fneg else 0.0
            extra = ""
            if math.isclose(got, (p + r) / 2, rel_tol=1e-9):
                extra = " That is the arithmetic mean of precision and recall; F1 is the harmonic mean."
            raise ExerciseError(ex, f"f1_from_counts({tp}, {fp}, {fneg}) returned {got:.6g}, expected {want:.6g}."
                                + extra, hint)
    passed(ex, f"{len(cases)} cases, including tp = 0")


def _oracle_threshold(y: np.ndarray, s: np.ndarray, target: float) -> float:
    """The highest score threshold whose recall reaches ``target`` (via scikit-learn)."""
    _, recall, thresholds = precision_recall_curve(y, s)
    return float(thresholds[recall[:-1] >= target - 1e-12].max())


def threshold_for_recall(fn: Callable[[np.ndarray, np.ndarray, float], float]) -> None:
    """``fn(y_true, y_score, target)`` must return the highest threshold whose recall >= target
    (predictions are ``y_score >= threshold``)."""
    ex = "threshold for a recall target"
    hint = ("Sort the scores of the actual positives from high to low: to catch at least target * n_pos of "
            "them, the threshold can be no higher than the k-th highest positive score, k = ceil(target * n_pos). "
            "Return that score (predictions are y_score >= threshold).")
    rng = np.random.default_rng(2024)
    trials = []
    for n, prev, target in [(400, 0.05, 0.9), (1000, 0.01, 0.8), (300, 0.2, 0.5), (200, 0.1, 1.0)]:
        y = (rng.random(n) < prev).astype(np.int64)
        y[:2] = (1, 0)
        s = np.clip(rng.normal(0.3 + 0.35 * y, 0.15), 0.0, 1.0).round(3)   # rounded: ties happen
        trials.append((y, s, target))
    for y, s, target in trials:
        got = _number(ex, call_answer(ex, fn, "threshold_for_recall", (y.copy(), s.copy(), target), hint),
                      "threshold_for_recall(...)", hint)
        want = _oracle_threshold(y, s, target)
        pred, ref = s >= got, s >= want
        recall = (pred & (y == 1)).sum() / (y == 1).sum()
        if recall < target - 1e-12:
            raise ExerciseError(ex, f"with target recall {target} your threshold {got:.4g} only reaches recall "
                                    f"{recall:.3f}.", hint)
        if not np.array_equal(pred, ref):
            raise ExerciseError(ex, f"with target recall {target} your threshold {got:.4g} meets the target but "
                                    f"flags {int(pred.sum())} examples; the highest threshold that meets it "
                                    f"({want:.4g}) flags only {int(ref.sum())} (fewer false positives).", hint)
    passed(ex, f"{len(trials)} random problems with ties, targets 0.5 to 1.0")


def prior_bias(bias: Any) -> None:
    """``bias`` must be the prior log-odds for 200 positives among 40,000 examples."""
    ex = "prior log-odds bias"
    hint = ("The base rate is p = 200 / 40000; the bias b with sigmoid(b) = p is log(p / (1 - p)), "
            "i.e. log(n_pos / n_neg). It is negative because positives are rare.")
    require_answer(ex, bias, "bias", hint)
    value = _number(ex, bias, "bias", hint)
    n_pos, n_neg = PRIOR_BIAS_COUNTS
    want = math.log(n_pos / n_neg)
    if math.isclose(value, -want, rel_tol=1e-6):
        raise ExerciseError(ex, f"bias = {value:.4f} has the wrong sign.", hint)
    if math.isclose(value, math.log(n_pos / (n_pos + n_neg)), rel_tol=1e-6):
        raise ExerciseError(ex, f"bias = {value:.4f} is log(p), not the log-odds log(p / (1 - p)).", hint)
    if not math.isclose(value, want, rel_tol=1e-4):
        raise ExerciseError(ex, f"bias = {value:.4f}, expected about {want:.4f}.", hint)
    passed(ex, f"sigmoid({value:.3f}) = {1 / (1 + math.exp(-value)):.4f} = the base rate")
