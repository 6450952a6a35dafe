"""labkit.monitor: KS/PSI against independent oracles; detector power and false-alarm rate."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from labkit import monitor


def test_ks_matches_scipy_per_feature():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 4))
    b = rng.normal(size=(170, 4)) + np.array([0.0, 0.2, 0.5, 1.0])
    b[:, 0] = np.round(b[:, 0], 1)  # ties in one feature
    d, p = monitor.ks_test(a, b)
    for j in range(4):
        ref = stats.ks_2samp(a[:, j], b[:, j], method="asymp")
        assert d[j] == pytest.approx(ref.statistic, abs=1e-12)
        assert p[j] == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_ks_statistic_extremes():
    a = np.arange(10.0)
    assert monitor.ks_statistic(a, a)[0] == 0.0
    assert monitor.ks_statistic(a, a + 100)[0] == 1.0
    # by hand: F_ref(2) = 2/3 while F_cur(2) = 0, and the gap is smaller everywhere else
    assert monitor.ks_statistic([1.0, 2.0, 3.0], [2.5, 2.6])[0] == pytest.approx(2 / 3)


def test_psi_hand_computed():
    # reference uniform over 4 quartile bins; current puts 40/30/20/10 %
    ref = np.repeat(np.arange(4.0), 25)
    cur = np.repeat(np.arange(4.0), [40, 30, 20, 10])
    p = np.full(4, 0.25)
    q = np.array([0.4, 0.3, 0.2, 0.1])
    expected = np.sum((q - p) * np.log(q / p))
    assert monitor.psi(ref, cur, bins=4)[0] == pytest.approx(expected, rel=1e-12)
    assert monitor.psi(ref, ref, bins=4)[0] == pytest.approx(0.0, abs=1e-12)


def test_confidence_is_max_softmax():
    z = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 2.0]])
    e = np.exp(z)
    np.testing.assert_allclose(monitor.confidence(z), (e / e.sum(1, keepdims=True)).max(1))


def _clean_and_shifted(seed: int):
    rng = np.random.default_rng(seed)
    cov = 0.5 * np.eye(16) + 0.5  # correlated features
    ref = rng.multivariate_normal(np.zeros(16), cov, size=2000)
    clean = rng.multivariate_normal(np.zeros(16), cov, size=(200, 300))
    shift = np.zeros(16)
    shift[3] = 0.5  # half a standard deviation in ONE feature
    shifted = rng.multivariate_normal(shift, cov, size=(20, 300))
    return ref, clean, shifted


@pytest.mark.parametrize("method, kwargs", [("ks", {}), ("psi", {"psi_threshold": None, "window_size": 300,
                                                                  "calibration_windows": 200})])
def test_detector_flags_shift_and_bounds_false_alarms(method, kwargs):
    alpha = 0.05
    ref, clean, shifted = _clean_and_shifted(1)
    det = monitor.DriftDetector(ref, method=method, alpha=alpha, **kwargs)
    false_alarms = np.mean([det.test(w).drift for w in clean])
    power = np.mean([det.test(w).drift for w in shifted])
    # 200 clean windows: with a true rate <= alpha, > alpha + 3 sd happens < 0.2% of the time
    assert false_alarms <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / len(clean)), false_alarms
    assert power >= 0.9, power
    rep = det.test(shifted[0])
    assert rep.top_features[0] == 3  # the shifted feature ranks first


def test_ks_false_alarm_rate_bound_holds_with_many_features():
    # Bonferroni: independent features, 50 of them, the per-window rate stays <= alpha
    rng = np.random.default_rng(2)
    det = monitor.DriftDetector(rng.uniform(size=(1000, 50)), alpha=0.1)
    rate = np.mean([det.test(rng.uniform(size=(200, 50))).drift for _ in range(150)])
    assert rate <= 0.1 + 3 * np.sqrt(0.09 / 150)


def test_scan_and_windows():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(1000, 2))
    stream = np.concatenate([rng.normal(size=(600, 2)), rng.normal(size=(600, 2)) + 2.0])
    reports = monitor.DriftDetector(ref).scan(stream, 200)
    assert [r.drift for r in reports] == [False] * 3 + [True] * 3
    assert len(list(monitor.windows(np.arange(10), 3))) == 3
    assert len(list(monitor.windows(np.arange(10), 3, drop_last=False))) == 4


@pytest.mark.parametrize("bad, match", [
    (np.zeros((5, 2, 2)), "n_samples"),
    (np.array([[np.nan, 1.0], [1.0, 2.0]]), "NaN"),
    (np.zeros((1, 3)), "at least 2"),
])
def test_bad_inputs_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        monitor.ks_test(bad, bad)


def test_non_numeric_inputs_raise_type_error():
    bad = np.array([["a", "b"], ["c", "d"]])
    with pytest.raises(TypeError, match="must hold numbers"):
        monitor.ks_test(bad, bad)


def test_bad_arguments_raise():
    ref = np.zeros((10, 3))
    with pytest.raises(ValueError, match="features"):
        monitor.ks_test(ref, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="method"):
        monitor.DriftDetector(ref, method="chi2")
    with pytest.raises(ValueError, match="alpha"):
        monitor.DriftDetector(ref, alpha=1.5)
    with pytest.raises(ValueError, match="bins"):
        monitor.psi(ref, ref, bins=1)
    with pytest.raises(ValueError, match="features"):
        monitor.DriftDetector(ref).test(np.zeros((10, 2)))


def test_psi_detector_refuses_settings_that_could_never_flag_drift():
    ref = np.random.default_rng(0).normal(size=(1000, 1))
    with pytest.raises(ValueError, match="bins must be an integer >= 2, got 1"):
        monitor.DriftDetector(ref, method="psi", bins=1)  # one bin holds everything: PSI is always 0
    two = monitor.DriftDetector(ref, method="psi", bins=2)  # the minimum still sees a +5 sigma shift
    live = np.random.default_rng(1).normal(size=(500, 1))
    assert two.test(live + 5).drift and not two.test(live).drift
    # all of a window in one of two median bins gives PSI ~ 4.6: a threshold of 5 is never exceeded
    with pytest.raises(ValueError, match=r"psi_threshold 5 can never be exceeded with bins=2.*4\.6"):
        monitor.DriftDetector(ref, method="psi", bins=2, psi_threshold=5.0)


def test_windows_checks_its_arguments_at_the_call():
    with pytest.raises(ValueError, match="size must be an integer >= 2"):
        monitor.windows(np.arange(10), 1)  # not deferred to the first next()
