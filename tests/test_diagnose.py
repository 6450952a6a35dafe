"""labkit.diagnose: verdicts from the two gaps, advice, validation."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit import diagnose
from labkit.curves import LearningCurve

err = st.floats(0, 1, allow_nan=False)


@pytest.mark.parametrize("jt,jc,base,verdict", [
    (0.15, 0.16, 0.10, "high bias"),
    (0.02, 0.12, 0.01, "high variance"),
    (0.20, 0.35, 0.05, "high bias and high variance"),
    (0.06, 0.07, 0.05, "good fit"),
])
def test_textbook_cases(jt, jc, base, verdict):
    d = diagnose.bias_variance(jt, jc, base, tolerance=0.02)
    assert d.verdict == verdict
    assert d.bias_gap == pytest.approx(jt - base) and d.variance_gap == pytest.approx(jc - jt)
    assert d.advice == diagnose.ADVICE[verdict] and verdict in str(d)


def test_advice_names_the_fixes():
    assert "more training data" in diagnose.bias_variance(0.0, 0.3, 0.0).advice
    assert "bigger model" in diagnose.bias_variance(0.3, 0.3, 0.0).advice
    assert "regularisation" in diagnose.bias_variance(0.0, 0.3, 0.0).advice


@settings(max_examples=200, deadline=None)
@given(err, err, err, st.floats(0.001, 0.2))
def test_verdict_follows_the_gaps(jt, jc, base, tol):
    d = diagnose.bias_variance(jt, jc, base, tolerance=tol)
    high_bias, high_variance = jt - base > tol, jc - jt > tol
    assert d.high_bias == high_bias and d.high_variance == high_variance
    assert d.verdict == {(True, False): "high bias", (False, True): "high variance",
                         (True, True): "high bias and high variance", (False, False): "good fit"}[
        high_bias, high_variance]
    assert d.advice == diagnose.ADVICE[d.verdict]


def test_from_curve_uses_the_last_point():
    import numpy as np

    c = LearningCurve(np.array([10, 100]), np.array([0.0, 0.01]), np.array([0.5, 0.2]), np.zeros(2))
    assert diagnose.from_curve(c, baseline=0.0).verdict == "high variance"
    assert diagnose.from_curve(c, baseline=0.0, index=0).variance_gap == pytest.approx(0.5)
    with pytest.raises(TypeError, match="curve"):
        diagnose.from_curve(object(), 0.0)


@pytest.mark.parametrize("args,match", [
    ((math.nan, 0.1, 0.0), "finite"), ((0.1, math.inf, 0.0), "finite"), ((-0.1, 0.1, 0.0), ">= 0"),
    ((0.1, 0.1, 0.0, 0.0), "> 0"),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        diagnose.bias_variance(*args)


@pytest.mark.parametrize("args,match", [((0.1, 0.1, "0.05"), "baseline must be a real number"),
                                        ((True, 0.1, 0.0), "j_train must be a real number")])
def test_wrong_types_raise_type_error(args, match):
    with pytest.raises(TypeError, match=match):
        diagnose.bias_variance(*args)
