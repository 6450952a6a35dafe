"""Tests of labkit.imbalance against independent oracles (scikit-learn, counting, math)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit import imbalance as imb


def _labels(n_pos: int, n_neg: int, seed: int = 0) -> np.ndarray:
    y = np.array([1] * n_pos + [0] * n_neg)
    return np.random.default_rng(seed).permutation(y)


# --------------------------------------------------------------------------- make_rare
def test_make_rare_prevalence_and_membership():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=5_000)
    x = np.arange(len(y))  # x holds the row index: lets us check which rows were taken
    xs, yb = imb.make_rare(x, y, positive=3, prevalence=0.01, n=2_000, seed=1)
    assert xs.shape == (2_000,) and yb.shape == (2_000,) and yb.dtype == np.int64
    assert yb.sum() == 20
    np.testing.assert_array_equal(yb, (y[xs] == 3).astype(int))   # labels match the source rows
    assert len(np.unique(xs)) == len(xs)                              # no row twice


def test_make_rare_keeps_every_negative_when_n_is_none():
    y = np.array([0] * 990 + [1] * 500 + [2] * 10)
    x = np.arange(len(y))
    xs, yb = imb.make_rare(x, y, positive=[1], prevalence=0.01, seed=0)
    assert (yb == 0).sum() == 1_000                                   # classes 0 and 2 are negatives
    assert yb.sum() == round(1_000 * 0.01 / 0.99)
    assert set(xs[yb == 0]) == set(np.flatnonzero(y != 1))


def test_make_rare_is_reproducible_and_seed_dependent():
    y = np.repeat(np.arange(4), 250)
    x = np.arange(len(y))
    a = imb.make_rare(x, y, 0, 0.05, n=400, seed=3)
    b = imb.make_rare(x, y, 0, 0.05, n=400, seed=3)
    c = imb.make_rare(x, y, 0, 0.05, n=400, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(positive=7, prevalence=0.1), "not in y"),
    (dict(positive=0, prevalence=0.0), "strictly between"),
    (dict(positive=0, prevalence=1.5), "strictly between"),
    (dict(positive=0, prevalence=0.5, n=10_000), "cannot draw"),
    (dict(positive=0, prevalence=0.1, n=1), "n must be"),
])
def test_make_rare_rejects_bad_input(kwargs, match):
    y = np.repeat(np.arange(3), 100)
    with pytest.raises(ValueError, match=match):
        imb.make_rare(np.zeros((300, 2)), y, **kwargs)


# --------------------------------------------------------------------------- bias and weights
@given(st.integers(1, 500), st.integers(1, 500))
@settings(max_examples=50, deadline=None)
def test_prior_log_odds_inverts_the_sigmoid(n_pos, n_neg):
    b = imb.prior_log_odds(_labels(n_pos, n_neg))
    assert 1.0 / (1.0 + math.exp(-b)) == pytest.approx(n_pos / (n_pos + n_neg), rel=1e-9)


def test_prior_log_odds_makes_an_untrained_keras_unit_predict_the_base_rate():
    keras = pytest.importorskip("keras")
    y = _labels(5, 995)
    b = imb.prior_log_odds(y)
    layer = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(b))
    p = keras.ops.convert_to_numpy(keras.ops.sigmoid(layer(np.ones((3, 4), "float32"))))
    np.testing.assert_allclose(p, 0.005, rtol=1e-5)


@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1], [0, 2, 1], [[0, 1], [1, 0]], []])
def test_prior_log_odds_rejects_degenerate_or_non_binary(y):
    with pytest.raises(ValueError):
        imb.prior_log_odds(y)


@given(st.integers(1, 300), st.integers(1, 300))
@settings(max_examples=50, deadline=None)
def test_balanced_class_weight_matches_sklearn(n_pos, n_neg):
    from sklearn.utils.class_weight import compute_class_weight

    y = _labels(n_pos, n_neg)
    ours = imb.balanced_class_weight(y)
    ref = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    assert ours[0] == pytest.approx(ref[0]) and ours[1] == pytest.approx(ref[1])
    # each class then carries half of the total weight
    assert ours[1] * n_pos == pytest.approx(ours[0] * n_neg)


def test_balanced_class_weight_accepts_bools_and_column_vectors():
    y = np.array([True, False, False, False])
    assert imb.balanced_class_weight(y) == imb.balanced_class_weight(y.astype(int).reshape(-1, 1))
    with pytest.raises(ValueError, match="both classes"):
        imb.balanced_class_weight([0, 0, 0])


# --------------------------------------------------------------------------- balanced stream
def test_balanced_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="different lengths"):
        imb.balanced_dataset(np.zeros((5, 2)), [0, 1, 0])


def test_balanced_dataset_rejects_a_fractional_seed_with_type_error():
    with pytest.raises(TypeError, match="seed"):
        imb.balanced_dataset(np.zeros((110, 2)), _labels(10, 100), seed=1.5)


def test_balanced_dataset_mixes_to_the_requested_fraction():
    pytest.importorskip("tensorflow")
    y = _labels(20, 980)
    x = np.arange(len(y), dtype="float32")[:, None]
    ds, steps = imb.balanced_dataset(x, y, pos_fraction=0.5, batch_size=50, seed=0)
    assert steps == math.ceil(980 / 25)
    ys, xs = [], []
    for xb, yb in ds.take(40):
        assert xb.shape == (50, 1) and yb.shape == (50,)
        xs.append(xb.numpy()[:, 0].astype(int))
        ys.append(yb.numpy())
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    assert abs(ys.mean() - 0.5) < 0.05                    # 2,000 draws: SE 0.011
    np.testing.assert_array_equal(ys, y[xs])              # labels travel with their rows
    with pytest.raises(ValueError, match="pos_fraction"):
        imb.balanced_dataset(x, y, pos_fraction=1.0)


# --------------------------------------------------------------------------- explorer
def _fake_report(y_true, y_score, threshold=0.5):
    pred = np.asarray(y_score) >= threshold
    y = np.asarray(y_true).astype(bool)
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return dict(tp=tp, fp=fp, fn=fn, tn=tn, precision=p, recall=r, f1=2 * p * r / (p + r) if p + r else 0.0,
                accuracy=(tp + tn) / len(y))


def test_threshold_explorer_updates_on_slider_and_directly(capsys):
    pytest.importorskip("ipywidgets")
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.6, 0.7, 0.4, 0.2, 0.9])
    ex = imb.threshold_explorer(y, s, threshold=0.5, report_fn=_fake_report)
    rep = ex.update(0.5)
    assert (rep["tp"], rep["fp"], rep["fn"], rep["tn"]) == (2, 1, 1, 2)
    out = capsys.readouterr().out
    assert "threshold 0.500" in out and "precision 0.667" in out and "recall 0.667" in out
    ex.slider.value = 0.8                                 # what moving the slider does
    assert ex.calls == 2 and ex.last["tp"] == 1 and ex.last["fp"] == 0
    assert ex.widget.children == (ex.slider, ex.output)


@pytest.mark.parametrize("y, s, kw, match", [
    ([0, 1], [0.2, 1.3], {}, "probabilities"),
    ([0, 1], [0.2, float("nan")], {}, "probabilities"),
    ([0, 1, 1], [0.2, 0.3], {}, "different lengths"),
    ([0, 2], [0.2, 0.3], {}, "only 0 and 1"),
    ([0, 1], [0.2, 0.3], dict(threshold=2.0), "threshold"),
])
def test_threshold_explorer_rejects_bad_input(y, s, kw, match):
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match=match):
        imb.threshold_explorer(y, s, report_fn=_fake_report, **kw)


def test_format_report_layout():
    text = imb.format_report(dict(tp=3, fp=1, fn=2, tn=94, precision=0.75, recall=0.6, f1=2 / 3, accuracy=0.97), 0.3)
    lines = text.splitlines()
    assert lines[0] == "threshold 0.300"
    assert lines[2].split() == ["actual", "0", "94", "1"] and lines[3].split() == ["actual", "1", "2", "3"]
    assert "F1 0.667" in lines[4]
