"""labkit.metrics against scikit-learn as the oracle, plus invariants and input validation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import metrics as skm

from labkit import metrics
from labkit.metrics import UndefinedMetricWarning

FAST = settings(max_examples=40, deadline=None)


@st.composite
def binary_data(draw, min_size=1, max_size=60):
    """Labels in {0,1} and scores with many ties, float32 or float64, list or array."""
    n = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["mixed", "all0", "all1"]))
    if kind == "mixed":
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 1)))
    else:
        y = np.full(n, 0 if kind == "all0" else 1, dtype=np.int64)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # Few distinct values -> many ties.
    s = draw(hnp.arrays(dtype, n, elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])))
    as_list = draw(st.booleans())
    return (y.tolist() if as_list else y), (s.tolist() if as_list else s)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------- binary_report
@FAST
@given(binary_data(), st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.75, 1.0]))
def test_binary_report_matches_sklearn(data, threshold):
    y, s = data
    r = _quiet(metrics.binary_report, y, s, threshold)
    pred = (np.asarray(s) >= threshold).astype(int)
    yt = np.asarray(y)
    (tn, fp), (fn, tp) = skm.confusion_matrix(yt, pred, labels=[0, 1])
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (tp, fp, fn, tn)
    assert r["precision"] == pytest.approx(skm.precision_score(yt, pred, zero_division=0))
    assert r["recall"] == pytest.approx(skm.recall_score(yt, pred, zero_division=0))
    assert r["f1"] == pytest.approx(skm.f1_score(yt, pred, zero_division=0))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(yt, pred))
    assert r["support"] == int(yt.sum())


@FAST
@given(binary_data(), st.floats(0, 1))
def test_binary_report_invariants(data, threshold):
    y, s = data
    r = _quiet(metrics.binary_report, y, s, threshold)
    n = len(y)
    assert r["tp"] + r["fp"] + r["fn"] + r["tn"] == n
    assert r["tp"] + r["fn"] == r["support"] == int(np.sum(y))
    for k in ("precision", "recall", "f1", "accuracy"):
        assert 0.0 <= r[k] <= 1.0 and not np.isnan(r[k])
    p, rec = r["precision"], r["recall"]
    expected_f1 = 2 * p * rec / (p + rec) if p + rec > 0 else 0.0
    assert r["f1"] == pytest.approx(expected_f1)


def test_binary_report_is_a_mapping_with_the_issue_keys():
    r = metrics.binary_report([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.6])
    assert set(r) == {"precision", "recall", "f1", "accuracy", "tp", "fp", "fn", "tn", "support"}
    assert dict(r)["tp"] == 1 and r.tp == 1 and r.threshold == 0.5 and r.assumed == "probability"
    assert "precision" in r.to_text() and "BinaryReport" in repr(r)


def test_undefined_precision_and_recall_are_zero_flagged_and_warned():
    with pytest.warns(UndefinedMetricWarning, match="precision is undefined"):
        r = metrics.binary_report([0, 1, 1], [0.1, 0.2, 0.3], threshold=0.9)
    assert r["precision"] == 0.0 and r.undefined == ("precision",)
    with pytest.warns(UndefinedMetricWarning, match="recall is undefined"):
        r = metrics.binary_report([0, 0], [0.1, 0.9])
    assert r["recall"] == 0.0 and "recall" in r.undefined and "undefined" in r.to_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.binary_report([0, 0], [0.1, 0.9], warn=False).undefined == ("recall",)


def test_single_example_and_booleans_and_column_scores():
    r = metrics.binary_report([True], np.array([[0.7]], dtype=np.float32))
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (1, 0, 0, 0)
    assert r["precision"] == r["recall"] == r["f1"] == r["accuracy"] == 1.0


def test_logit_scores_are_accepted_as_scores():
    r = metrics.binary_report([0, 1, 1], [-2.0, 3.0, -0.5], threshold=0.0)
    assert r.assumed == "score" and r["tp"] == 1 and r["fn"] == 1


@pytest.mark.parametrize("y,s,kw,match", [
    ([0, 1, 1], [0.1, 0.2], {}, "different numbers of examples"),
    ([], [], {}, "empty"),
    ([0, 1, 2], [0.1, 0.2, 0.3], {}, "labels 0 and 1"),
    ([0, 1, 0.5], [0.1, 0.2, 0.3], {}, "labels 0 and 1"),
    ([0, 1], [np.nan, 0.2], {}, "NaN or infinite"),
    ([0, 1], [np.inf, 0.2], {}, "NaN or infinite"),
    ([0, 1], [-0.1, 0.2], {"kind": "probability"}, r"outside \[0, 1\]"),
    ([0, 1], [0.1, 0.2], {"threshold": 1.5}, "outside the score range"),
    ([0, 1], [0.1, 0.2], {"threshold": -0.1}, "outside the score range"),
    ([0, 1], [0.1, 0.2], {"threshold": float("nan")}, "finite"),
    ([0, 1], [0.1, 0.2], {"kind": "odds"}, "kind must be"),
    ([[0, 1], [1, 0]], [0.1, 0.2], {}, "1-D"),
])
def test_binary_report_rejects_bad_input(y, s, kw, match):
    with pytest.raises(ValueError, match=match):
        metrics.binary_report(y, s, **kw)


@pytest.mark.parametrize("y,s,kw,match", [
    ([0, 1], [0.1, 0.2], {"threshold": "0.5"}, "threshold must be a real number"),
    ([0, 1], ["a", "b"], {}, "must hold numbers"),
])
def test_binary_report_rejects_wrong_types_with_type_error(y, s, kw, match):
    with pytest.raises(TypeError, match=match):
        metrics.binary_report(y, s, **kw)


# --------------------------------------------------------------------------- pr_curve
@FAST
@given(binary_data())
def test_pr_curve_matches_sklearn(data):
    y, s = data
    ours = _quiet(metrics.pr_curve, y, s)
    theirs = _quiet(skm.precision_recall_curve, np.asarray(y), np.asarray(s), pos_label=1)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b)
    p, r, t = ours
    assert np.all((p >= 0) & (p <= 1)) and np.all((r >= 0) & (r <= 1))
    assert len(p) == len(r) == len(t) + 1 and np.all(np.diff(t) > 0)


def test_pr_curve_points_are_binary_reports_at_each_threshold():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = rng.random(200).round(2)
    p, r, t = metrics.pr_curve(y, s)
    for i in range(0, len(t), 7):
        rep = metrics.binary_report(y, s, t[i], warn=False)
        assert rep["precision"] == pytest.approx(p[i]) and rep["recall"] == pytest.approx(r[i])


def test_pr_curve_warns_without_positives():
    with pytest.warns(UndefinedMetricWarning):
        metrics.pr_curve([0, 0, 0], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("y,s,match", [([0, 1], [0.1], "different"), ([0, 3], [0.1, 0.2], "labels 0 and 1"),
                                       ([0, 1], [0.1, np.nan], "NaN"), ([], [], "empty")])
def test_pr_curve_rejects_bad_input(y, s, match):
    with pytest.raises(ValueError, match=match):
        metrics.pr_curve(y, s)


# --------------------------------------------------------------------------- best_threshold
def _brute_force(y, s, objective, bound):
    """Try every distinct score as a threshold with sklearn; best value per objective."""
    best = -1.0
    for t in np.unique(s):
        pred = s >= t
        p = skm.precision_score(y, pred, zero_division=0)
        r = skm.recall_score(y, pred, zero_division=0)
        f = skm.f1_score(y, pred, zero_division=0)
        if objective == "f1":
            best = max(best, f)
        elif objective == "precision" and r >= bound:
            best = max(best, p)
        elif objective == "recall" and p >= bound:
            best = max(best, r)
    return best


@settings(max_examples=25, deadline=None)
@given(binary_data(min_size=2), st.sampled_from(["f1", "precision", "recall"]), st.sampled_from([0.3, 0.6, 0.9]))
def test_best_threshold_is_optimal_by_brute_force(data, objective, bound):
    y, s = np.asarray(data[0]), np.asarray(data[1], dtype=np.float64)
    if not y.any():
        with pytest.raises(ValueError, match="no positive"):
            metrics.best_threshold(y, s, objective, min_recall=bound, min_precision=bound)
        return
    best = _brute_force(y, s, objective, bound)
    kw = ({"min_recall": bound} if objective == "precision"
          else {"min_precision": bound} if objective == "recall" else {})
    if best < 0:
        with pytest.raises(ValueError, match="no threshold reaches"):
            metrics.best_threshold(y, s, objective, **kw)
        return
    t, rep = metrics.best_threshold(y, s, objective, **kw)
    key = {"f1": "f1", "precision": "precision", "recall": "recall"}[objective]
    assert rep[key] == pytest.approx(best)
    if objective == "precision":
        assert rep["recall"] >= bound
    if objective == "recall":
        assert rep["precision"] >= bound
    assert rep.threshold == t


@pytest.mark.parametrize("kw,match", [
    ({"objective": "auc"}, "unknown objective"),
    ({"objective": "precision"}, "needs min_recall"),
    ({"objective": "recall"}, "needs min_precision"),
    ({"objective": "recall", "min_precision": 1.5}, r"in \[0, 1\]"),
])
def test_best_threshold_rejects_bad_objectives(kw, match):
    with pytest.raises(ValueError, match=match):
        metrics.best_threshold([0, 1, 1], [0.1, 0.6, 0.8], **kw)


# --------------------------------------------------------------------------- multiclass_report
@st.composite
def multiclass_data(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(1, 50))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    logits = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-5, 5, allow_nan=False, allow_subnormal=False)))
    return k, y, logits


@FAST
@given(multiclass_data(), st.sampled_from(["labels", "one-hot", "probabilities", "logits"]))
def test_multiclass_report_matches_sklearn(data, form):
    k, y, logits = data
    pred = logits.argmax(axis=1)
    if form == "labels":
        y_pred = pred
    elif form == "one-hot":
        y_pred = np.eye(k)[pred]
    elif form == "probabilities":
        y_pred = metrics.softmax(logits)
    else:
        y_pred = logits
    pred = np.asarray(y_pred).argmax(axis=1) if np.ndim(y_pred) == 2 else pred  # the arg-max is the prediction
    names = [f"c{i}" for i in range(k)]
    rep = metrics.multiclass_report(y, y_pred, class_names=names)
    labels = list(range(k))
    p, r, f, sup = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for i, name in enumerate(names):
        row = rep["per_class"][name]
        assert row["precision"] == pytest.approx(p[i]) and row["recall"] == pytest.approx(r[i])
        assert row["f1"] == pytest.approx(f[i]) and row["support"] == sup[i]
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
        assert rep[f"{avg} avg"]["f1"] == pytest.approx(af)
        assert rep[f"{avg} avg"]["precision"] == pytest.approx(ap)
    np.testing.assert_array_equal(rep["confusion_matrix"], skm.confusion_matrix(y, pred, labels=labels))
    assert rep["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert rep["confusion_matrix"].sum() == len(y)


def test_multiclass_report_says_what_it_assumed():
    y = np.array([0, 1, 2, 2])
    logits = np.array([[3.0, -1, 0], [0, 2, -5], [0, 0, 1], [4, 0, 1]])
    assert metrics.multiclass_report(y, logits)["assumed"] == {"y_true": "labels", "y_pred": "logits"}
    probs = metrics.softmax(logits)
    assert metrics.multiclass_report(np.eye(3)[y], probs)["assumed"] == {"y_true": "one-hot",
                                                                        "y_pred": "probabilities"}
    rep = metrics.multiclass_report(y.tolist(), logits.argmax(1).tolist(), ["a", "b", "c"])
    assert rep["assumed"]["y_pred"] == "labels"
    text = rep.to_text()
    assert "macro avg" in text and "weighted avg" in text and "read as labels" in text
    assert rep.table()[0][0] == "a"


def test_multiclass_to_text_is_sklearns_classification_report():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    logits = rng.normal(size=(40, 4))  # class 3 is never the truth, maybe never predicted
    names = ["ant", "bee", "cat", "dog"]
    rep = metrics.multiclass_report(y, logits, class_names=names)
    oracle = skm.classification_report(y, logits.argmax(1), labels=range(4), target_names=names, digits=2,
                                       zero_division=0)
    assert rep.to_text(digits=2) == oracle.rstrip() + "\n(y_true read as labels, y_pred read as logits)"
    with pytest.raises(ValueError, match="digits"):
        rep.to_text(digits=-1)


def test_every_report_is_one_read_only_mapping_with_attribute_access():
    y = np.array([0, 1, 2, 2, 1])
    bin_rep = metrics.binary_report([0, 1, 1], [0.2, 0.7, 0.4])
    mc_rep = metrics.multiclass_report(y, y)
    ml_rep = metrics.MultilabelReport({"a": bin_rep, "b": bin_rep})
    for rep in (bin_rep, mc_rep, ml_rep):
        assert isinstance(rep, metrics.Report) and type(rep).__mro__[1] is metrics.Report
        with pytest.raises(TypeError):
            rep["f1"] = 1.0  # read-only: no item assignment
        with pytest.raises(AttributeError, match="no 'nope'"):
            _ = rep.nope
    assert bin_rep.f1 == bin_rep["f1"] and mc_rep.accuracy == 1.0 and mc_rep.per_class["2"]["support"] == 2
    assert ml_rep["macro avg"]["f1"] == pytest.approx(bin_rep["f1"]) and ml_rep.a is bin_rep
    import copy
    import pickle

    assert dict(copy.deepcopy(bin_rep)) == dict(bin_rep) and dict(pickle.loads(pickle.dumps(mc_rep)))["accuracy"] == 1.0


def test_softmax_and_sigmoid_are_stable_where_the_formula_overflows():
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        p = metrics.softmax(z)
        s = metrics.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3] * 3])
    np.testing.assert_allclose(metrics.softmax(z, axis=0)[:, 1], [0.5, 0.5])
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])
    assert metrics.sigmoid([]).shape == (0,)


@pytest.mark.parametrize("y,p,names,match", [
    ([0, 1], [0], None, "different numbers"),
    ([0, 1], [[0.2, 0.8]] * 3, None, "different numbers"),
    ([0, 3], [0, 1], ["a", "b"], "only 2 classes"),
    ([0, -1], [0, 1], None, "negative"),
    ([0, 1], [0.5, 1.0], None, "non-integer"),
    ([0, 1], [[0.1, np.nan], [0.2, 0.8]], None, "NaN"),
    ([0, 1], [[0.1, 0.9], [0.2, 0.8]], ["a", "b", "c"], "class_names"),
    ([], [], None, "empty"),
])
def test_multiclass_report_rejects_bad_input(y, p, names, match):
    with pytest.raises(ValueError, match=match):
        metrics.multiclass_report(y, p, class_names=names)


# --------------------------------------------------------------------------- evaluate
class _FakeModel:
    """Stands in for a Keras model: fixed outputs, counts predict calls and batch sizes."""

    def __init__(self, outputs, activation=None):
        self.outputs, self.calls = np.asarray(outputs), []
        if activation is not None:
            def act(z):
                return z

            act.__name__ = activation
            layer = type("Layer", (), {})()
            layer.activation = act
            self.layers = [layer]

    def predict(self, x, batch_size=None, verbose=0):
        self.calls.append(batch_size)
        return self.outputs


def test_evaluate_binary_logits_and_probabilities():
    y = np.array([0, 1, 1, 0])
    logits = np.array([[-2.0], [1.0], [-0.5], [0.3]])
    rep = metrics.evaluate(_FakeModel(logits), np.zeros((4, 3)), y)
    oracle = metrics.binary_report(y, 1 / (1 + np.exp(-logits[:, 0])), 0.5)
    assert dict(rep) == dict(oracle) and rep.assumed == "logits"
    probs = 1 / (1 + np.exp(-logits))
    model = _FakeModel(probs, activation="sigmoid")
    rep2 = metrics.evaluate(model, np.zeros((4, 3)), y, batch_size=2)
    assert dict(rep2) == dict(oracle) and rep2.assumed == "probability" and model.calls == [2]


def test_evaluate_multiclass_and_multilabel():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(30, 4))
    y = rng.integers(0, 4, 30)
    rep = metrics.evaluate(_FakeModel(logits), np.zeros((30, 2)), y)
    assert isinstance(rep, metrics.MulticlassReport)
    np.testing.assert_array_equal(rep["confusion_matrix"], skm.confusion_matrix(y, logits.argmax(1), labels=range(4)))
    y_multi = (rng.random((30, 4)) < 0.4).astype(int)
    y_multi[0] = [1, 1, 0, 0]  # at least one row with two labels
    rep = metrics.evaluate(_FakeModel(logits), np.zeros((30, 2)), y_multi)
    assert isinstance(rep, metrics.MultilabelReport)
    for j in range(4):
        pred = logits[:, j] >= 0
        assert rep[str(j)]["f1"] == pytest.approx(skm.f1_score(y_multi[:, j], pred, zero_division=0))


def test_evaluate_with_a_real_keras_model():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = np.arange(40) % 5
    rep = metrics.evaluate(model, x, y, batch_size=16)
    pred = model.predict(x, verbose=0).argmax(1)
    assert rep["accuracy"] == pytest.approx(np.mean(pred == y)) and rep["assumed"]["y_pred"] == "logits"


def test_evaluate_rejects_bad_input():
    m = _FakeModel(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="3 examples but y has 2"):
        metrics.evaluate(m, np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="output must be"):
        metrics.evaluate(m, np.zeros((3, 2)), [0, 1, 1], output="regression")
    with pytest.raises(ValueError, match="batch_size"):
        metrics.evaluate(m, np.zeros((3, 2)), [0, 1, 1], batch_size=0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.evaluate(_FakeModel(np.full((3, 1), np.nan)), np.zeros((3, 2)), [0, 1, 1])
