"""labkit.errors: the sample of misclassified examples, confusion pairs, tags and the grid."""
from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from labkit import errors, metrics  # noqa: E402


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 2.0 * np.eye(4)[y]
    return y, logits


def test_errors_are_exactly_the_misclassified_examples(data):
    y, logits = data
    ea = errors.error_analysis(y, logits, n=20, seed=3)
    pred = logits.argmax(1)
    np.testing.assert_array_equal(ea.all_indices, np.flatnonzero(pred != y))
    assert len(ea.indices) == 20 and set(ea.indices) <= set(ea.all_indices)
    assert np.all(np.diff(ea.indices) > 0)
    assert ea.error_rate == pytest.approx(np.mean(pred != y))


def test_sample_is_reproducible_and_depends_on_seed(data):
    y, logits = data
    a = errors.error_analysis(y, logits, n=20, seed=1).indices
    b = errors.error_analysis(y.tolist(), logits.tolist(), n=20, seed=1).indices
    c = errors.error_analysis(y, logits, n=20, seed=2).indices
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    everything = errors.error_analysis(y, logits, n=10_000)
    np.testing.assert_array_equal(everything.indices, everything.all_indices)


def test_confusion_pairs_agree_with_the_confusion_matrix(data):
    y, logits = data
    ea = errors.error_analysis(y, logits, class_names=list("abcd"))
    cm = confusion_matrix(y, logits.argmax(1), labels=range(4))
    off = {(t, p): cm[t, p] for t in range(4) for p in range(4) if t != p and cm[t, p]}
    assert {(t, p): c for t, p, c in ea.confusion_pairs} == off
    counts = [c for _, _, c in ea.confusion_pairs]
    assert counts == sorted(counts, reverse=True)
    t, p, c = ea.confusion_pairs[0]
    assert ea.named_pairs(1) == [("abcd"[t], "abcd"[p], c)]
    assert sum(counts) == ea.n_errors


def test_confidence_is_the_probability_of_the_predicted_class(data):
    y, logits = data
    ea = errors.error_analysis(y, logits)
    probs = metrics.softmax(logits)
    np.testing.assert_allclose(ea.confidence, probs.max(axis=1))
    assert ea.assumed == "logits"
    assert errors.error_analysis(y, logits.argmax(1)).confidence is None


def test_tags_and_category_counts(data):
    y, logits = data
    ea = errors.error_analysis(y, logits, n=10)
    first, rest = ea.indices[:3], ea.indices[3:5]
    ea.tag(first, "blurry").tag(rest, "mislabelled").tag(int(first[0]), "mislabelled")
    assert ea.category_counts() == Counter({"mislabelled": 3, "blurry": 2})
    assert list(ea.category_counts()) == ["mislabelled", "blurry"]
    assert ea.category_counts(normalize=True) == pytest.approx({"mislabelled": 0.6, "blurry": 0.4})
    assert len(ea.untagged()) == 5
    correct = int(np.flatnonzero(logits.argmax(1) == y)[0])
    with pytest.raises(ValueError, match="not misclassified"):
        ea.tag(correct, "x")
    with pytest.raises(ValueError, match="non-empty string"):
        ea.tag(int(first[0]), "")


def test_plot_returns_a_figure_with_true_pred_and_confidence(data):
    y, logits = data
    x = np.random.default_rng(0).integers(0, 255, (300, 8, 8), dtype=np.uint8)
    ea = errors.error_analysis(y, logits, n=6, class_names=list("abcd"))
    ea.tag(ea.indices[0], "odd")
    fig = ea.plot(x, ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6
    i = ea.indices[0]
    assert titles[0].startswith(f"#{i} {'abcd'[y[i]]}") and "%" in titles[0] and "[odd]" in titles[0]
    plt.close(fig)
    with pytest.raises(ValueError, match="x has 5 examples"):
        ea.plot(x[:5])


@pytest.mark.parametrize("kw,match", [
    (dict(y_true=[0, 1], y_pred_or_scores=[0]), "different numbers"),
    (dict(y_true=[0, 1], y_pred_or_scores=[0, 1], n=0), "n must be"),
    (dict(y_true=[0, 1], y_pred_or_scores=[0, 1], seed=-1), "seed"),
    (dict(y_true=[0, 1], y_pred_or_scores=[0, 1], x=np.zeros((3, 2))), "different numbers"),
    (dict(y_true=[0, 2], y_pred_or_scores=[0, 1], class_names=["a", "b"]), "class_names"),
    (dict(y_true=[], y_pred_or_scores=[]), "empty"),
])
def test_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        errors.error_analysis(**kw)
