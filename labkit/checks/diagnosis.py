"""Checks for the exercises of notebook 05, "Diagnosing a model: bias, variance and learning curves"."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_number
from labkit.checks.predictions import ChoicePrediction
from labkit.diagnose import bias_variance
from labkit.validation import check_number

__all__ = ["diagnose_by_hand", "error_ceiling", "data_gain_prediction", "data_gain_verdict"]

# (j_train, j_cv, baseline, tolerance) cases, including both sides of every boundary.
_CASES = [
    (0.15, 0.16, 0.10, 0.02), (0.02, 0.12, 0.01, 0.02), (0.20, 0.35, 0.05, 0.02), (0.06, 0.07, 0.05, 0.02),
    (0.01, 0.02, 0.165, 0.02), (0.30, 0.31, 0.165, 0.02), (0.10, 0.10, 0.10, 0.05), (0.0, 0.5, 0.0, 0.1),
    (0.5, 0.5, 0.0, 0.1), (0.12, 0.125, 0.09, 0.02), (0.09, 0.14, 0.085, 0.01),
]


_VERDICTS = {(False, False): "good fit", (True, False): "high bias", (False, True): "high variance",
             (True, True): "high bias and high variance"}


def _tie_cases(rng) -> list[tuple[float, float, float, float]]:
    """Fresh cases on multiples of 1/256, where j_train - baseline and j_cv - j_train are exact in floating
    point: gaps exactly equal to the tolerance (not high), one step above and below it, and random ones."""
    step = 1 / 256
    cases = []
    for bias_off, var_off in ((0, -3), (-2, 0), (0, 0), (1, 0), (0, 1), (-1, -1), (1, 1)):
        tol = int(rng.integers(4, 12)) * step   # >= 4 steps: every error stays >= 0
        b = int(rng.integers(0, 40)) * step
        jt = b + tol + bias_off * step
        jc = jt + tol + var_off * step
        cases.append((jt, jc, b, tol))
    for _ in range(8):
        b, tol = int(rng.integers(10, 40)) * step, int(rng.integers(1, 12)) * step
        jt = b + int(rng.integers(-5, 20)) * step
        cases.append((jt, jt + int(rng.integers(-5, 20)) * step, b, tol))
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


def diagnose_by_hand(fn: Callable[[float, float, float, float], Any], *, seed: int | None = None) -> None:
    """``fn(j_train, j_cv, baseline, tolerance)`` must return the verdict string of
    :func:`labkit.diagnose.bias_variance` (without calling it).

    The fixed cases (both sides of every boundary), then fresh random ones (``seed=None``: a new seed
    each call, named in any failure), among them gaps exactly equal to the tolerance: not high.
    """
    ex = "diagnose by hand"
    hint = ("bias gap = j_train - baseline, variance gap = j_cv - j_train; a gap counts as high when it is "
            "larger than tolerance. Return exactly one of 'good fit', 'high bias', 'high variance', "
            "'high bias and high variance'.")
    seed = fresh_seed(seed)
    tie_cases = _tie_cases(np.random.default_rng(seed))
    for i, (jt, jc, b, tol) in enumerate(_CASES + tie_cases):
        fresh = f" (a fresh case, seed={seed})" if i >= len(_CASES) else ""
        got = call_answer(ex, fn, "diagnose_by_hand", (jt, jc, b, tol), hint)
        want = bias_variance(jt, jc, b, tol).verdict
        if not isinstance(got, str):
            raise ExerciseError(ex, f"diagnose_by_hand({jt}, {jc}, {b}, {tol}) returned "
                                    f"{type(got).__name__}, expected a string such as {want!r}{fresh}.", hint)
        if got.strip().lower() == want:
            continue
        problem = (f"diagnose_by_hand(j_train={jt}, j_cv={jc}, baseline={b}, tolerance={tol}) returned {got!r}; "
                   f"the gaps are {jt - b:+.4g} (bias) and {jc - jt:+.4g} (variance), so it is {want!r}{fresh}.")
        at_least = _VERDICTS[(jt - b >= tol, jc - jt >= tol)]
        if got.strip().lower() == at_least and (jt - b == tol or jc - jt == tol):
            raise ExerciseError(ex, problem + " A gap exactly equal to the tolerance is not high.",
                                "A gap counts as high only when it is larger than the tolerance: compare with "
                                "`>`, not `>=`.")
        if got.strip().lower() == bias_variance(jt, jc, b, 0.02).verdict and tol != 0.02:
            raise ExerciseError(ex, problem + f" Your verdict is the one for tolerance 0.02, not {tol}.",
                                "Use the `tolerance` argument; do not write 0.02 into the function.")
        raise ExerciseError(ex, problem, hint)
    passed(ex, f"{len(_CASES) + len(tie_cases)} cases agree with labkit.diagnose.bias_variance, "
               "gaps equal to the tolerance included")


_CEILING_CASES = [
    (0.12, {"shirt vs T-shirt": 30, "footwear": 10, "other": 60}),
    (0.08, {"mislabelled": 5, "blurry": 15}),
    (0.30, {"only": 7}),
    (0.05, {"a": 1, "b": 1, "c": 2}),
]


_CAUSES = ("blurry", "occluded", "ambiguous", "mislabelled", "small object", "odd angle", "dark", "cropped")


def _ceiling_cases(rng: np.random.Generator) -> list[tuple[float, dict[str, int]]]:
    """Fresh (error rate, tag counts): 1-6 of the causes, counts 1-80, rates 0.01-0.4."""
    cases = []
    for _ in range(3):
        tags = rng.choice(_CAUSES, size=int(rng.integers(1, 7)), replace=False)
        cases.append((round(float(rng.uniform(0.01, 0.4)), 4), {str(t): int(rng.integers(1, 81)) for t in tags}))
    return cases


def error_ceiling(fn: Callable[[float, Mapping[str, int]], Any], *, seed: int | None = None) -> None:
    """``fn(error_rate, counts)`` must return ``{category: error_rate * count / total}``: the
    most the overall error rate can fall if every error of that category were fixed.

    Fixed cases, then fresh error rates and tag counts (``seed`` replays them).
    """
    ex = "error ceiling"
    hint = ("Each category's share of the sampled errors, times the error rate: "
            "{c: error_rate * n / sum(counts.values()) for c, n in counts.items()}. "
            "Fixing all 'shirt vs T-shirt' errors can remove at most that share of the error.")
    seed = fresh_seed(seed)
    for i, (rate, counts) in enumerate([*_CEILING_CASES, *_ceiling_cases(np.random.default_rng(seed))]):
        tag = "" if i < len(_CEILING_CASES) else f" (fresh random case, seed={seed})"
        got = call_answer(ex, fn, "error_ceiling", (rate, dict(counts)), hint)
        if not isinstance(got, Mapping):
            raise ExerciseError(ex, f"error_ceiling returned {type(got).__name__}, expected a dict "
                                    "{category: reduction}." + tag, hint)
        if set(got) != set(counts):
            raise ExerciseError(ex, f"error_ceiling({rate}, {counts}) has keys {sorted(got)}, expected "
                                    f"{sorted(counts)}." + tag, hint)
        total = sum(counts.values())
        for cat, n in counts.items():
            want = rate * n / total
            where = f"for error rate {rate} and counts {counts}, category {cat!r}"
            value = float(require_number(ex, got[cat], where, hint))   # np.float64, np.array([x]): fine
            if not math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-12):
                raise ExerciseError(ex, f"{where} gave {got[cat]!r}; expected {want:.4g}." + tag, hint)
    passed(ex, "each category's ceiling is its share of the errors times the error rate")


_DATA_GAIN = ChoicePrediction(
    "prediction: whom does more data help?", "predicted_data_gain",
    {"high variance": "",
     "high bias": "More examples cannot lower an error a model already makes on its own training set: "
                  "the high-bias model fits the data it has about as well as it ever will.",
     "about the same": "The two models are limited by different things: variance shrinks as examples are "
                       "added, bias does not."},
    "Think of what each model's validation error is made of: the high-variance model fits noise in its few "
    "examples; the high-bias model already misses on its training set.")


def data_gain_prediction(predicted_data_gain) -> None:
    """Section 5, before the learning curves: commit to which model more data helps more."""
    _DATA_GAIN.commit(predicted_data_gain)


def data_gain_verdict(predicted_data_gain, var_gain, bias_gain, tolerance: float = 0.02) -> None:
    """Section 5, after the curves: compare the prediction with the measured validation-error drops.

    ``var_gain``, ``bias_gain``: how much the validation error fell from the smallest to the largest
    training set, for the high-variance and the high-bias model. Within ``tolerance`` of each other
    the outcome is "about the same".
    """
    var_gain, bias_gain = check_number(var_gain, "var_gain"), check_number(bias_gain, "bias_gain")
    tolerance = check_number(tolerance, "tolerance", min_val=0)
    diff = var_gain - bias_gain
    outcome = "high variance" if diff > tolerance else "high bias" if diff < -tolerance else "about the same"
    _DATA_GAIN.verdict(predicted_data_gain, outcome,
                       f"validation error fell by {var_gain:.3f} for the high-variance model, "
                       f"{bias_gain:.3f} for the high-bias one",
                       "the high-variance model's excess error comes from fitting the noise of too few "
                       "examples, which more examples average out; the high-bias model's error is already "
                       "its training error, and more data does not lower that.")
