"""Bias/variance diagnosis: compare errors with a baseline, not in absolute terms.

Given the training error J_train, the cross-validation error J_cv and a baseline
(human-level error, a competing system, or a guess)::

    bias gap     = J_train - baseline   (large -> high bias: the model cannot even fit the training set)
    variance gap = J_cv - J_train       (large -> high variance: it does not generalise)

``bias_variance`` turns the two gaps into a verdict and the fix to try first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.validation import check_int, check_number

__all__ = ["Diagnosis", "bias_variance", "from_curve", "VERDICTS", "ADVICE"]

VERDICTS = ("good fit", "high bias", "high variance", "high bias and high variance")

ADVICE = {
    "good fit": "Errors are close to the baseline and to each other: keep the model; check the test set once.",
    "high bias": "High bias: try a bigger model (more units/layers), more or better features, less "
                 "regularisation or longer training - more data alone will not help.",
    "high variance": "High variance: get more training data, add regularisation (larger L2 λ, dropout, "
                     "augmentation) or use a smaller model.",
    "high bias and high variance": "High bias and high variance: first fit the training set (bigger model, "
                                   "less regularisation), then close the gap (more data, regularisation).",
}


@dataclass(frozen=True)
class Diagnosis:
    """The verdict of :func:`bias_variance` with the numbers behind it."""

    verdict: str
    bias_gap: float
    variance_gap: float
    advice: str
    j_train: float
    j_cv: float
    baseline: float
    tolerance: float

    @property
    def high_bias(self) -> bool:
        return "bias" in self.verdict

    @property
    def high_variance(self) -> bool:
        return "variance" in self.verdict

    def __str__(self) -> str:
        return (f"{self.verdict}: J_train - baseline = {self.bias_gap:+.4f}, J_cv - J_train = "
                f"{self.variance_gap:+.4f} (tolerance {self.tolerance:g}). {self.advice}")


def _error(name: str, value: Any) -> float:
    """An error or loss: a finite number >= 0."""
    v = check_number(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (an error or a loss), got {v}.")
    return v


def bias_variance(j_train: float, j_cv: float, baseline: float, tolerance: float = 0.02) -> Diagnosis:
    """Diagnose high bias and/or high variance from three errors on one scale.

    Args:
        j_train: training error (e.g. error rate or loss of the final model on its training set).
        j_cv: validation (cross-validation) error of the same model.
        baseline: the error level you can hope for: human-level error, a competing
            system's error, or a guess. Must be on the same scale as ``j_train``.
        tolerance: how large a gap (absolute, on the error's scale) counts as "high".
            For error rates 0.02 means two percentage points.

    Returns:
        a :class:`Diagnosis`: high bias when ``j_train - baseline > tolerance``, high
        variance when ``j_cv - j_train > tolerance``; both, or neither ("good fit").
    """
    jt, jc, b = _error("j_train", j_train), _error("j_cv", j_cv), _error("baseline", baseline)
    tol = _error("tolerance", tolerance)
    if tol == 0:
        raise ValueError("tolerance must be > 0; any real measurement has some noise.")
    bias_gap, variance_gap = jt - b, jc - jt
    high_bias, high_var = bias_gap > tol, variance_gap > tol
    verdict = {(False, False): "good fit", (True, False): "high bias", (False, True): "high variance",
               (True, True): "high bias and high variance"}[(high_bias, high_var)]
    return Diagnosis(verdict, bias_gap, variance_gap, ADVICE[verdict], jt, jc, b, tol)


def from_curve(curve: Any, baseline: float, tolerance: float = 0.02, index: int = -1) -> Diagnosis:
    """:func:`bias_variance` at one point (default the largest training set or, for a
    validation curve, ``index``) of a :class:`labkit.curves.LearningCurve`/``ValidationCurve``."""
    if not (hasattr(curve, "train_error") and hasattr(curve, "val_error")):
        raise TypeError(f"curve must be a LearningCurve or ValidationCurve (with train_error and val_error), "
                        f"got {type(curve).__name__}.")
    index = check_int(index, "index")
    n = len(curve.train_error)
    if not -n <= index < n:
        raise ValueError(f"index {index} is out of range: the curve has {n} point(s).")
    jt, jc = float(curve.train_error[index]), float(curve.val_error[index])
    return bias_variance(jt, jc, baseline, tolerance)
