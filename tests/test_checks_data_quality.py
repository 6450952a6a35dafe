"""Checks of notebook 13: right answers pass, placeholders and wrong answers get hints."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import data_quality as dq


def right(logits, labels, k):
    z = logits - logits.max(axis=1, keepdims=True)
    loss = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(labels)), labels]
    return np.argsort(-loss)[:k]


def placeholder(logits, labels, k):
    raise NotImplementedError()


def naive_softmax(logits, labels, k):  # overflows on large logits -> wrong ranking
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits.astype(np.float32))
        p = e / e.sum(1, keepdims=True)
        return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def ascending(logits, labels, k):
    return right(logits, labels, k)[::-1]


def lowest(logits, labels, k):
    z = logits - logits.max(axis=1, keepdims=True)
    loss = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(len(labels)), labels]
    return np.argsort(loss)[:k]


def naive_float64(logits, labels, k):
    """The textbook softmax in float64: overflows (a RuntimeWarning) once logits pass ~709."""
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def log_of_softmax(logits, labels, k):
    """A stable softmax, then its log: a probability that underflows to 0 gives log(0) = -inf."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return np.argsort(np.log(p[np.arange(len(labels)), labels]))[:k]


def memorised(logits, labels, k):
    """The answer to the old check's fixed first case (seed 12, 50 x 10, k=5), whatever the input."""
    rng = np.random.default_rng(12)
    lo = rng.normal(size=(50, 10)) * 3.0
    return right(lo, rng.integers(0, 10, 50), k)


@pytest.mark.parametrize("answer", [right, lambda lo, la, k: right(lo, la, k).tolist(),
                                    lambda lo, la, k: right(lo, la, k).astype(np.int32)],
                         ids=["array", "list", "int32"])
def test_right_answer_passes(answer, capsys):
    for seed in (0, 1, 2, None):
        dq.top_loss_indices(answer, seed=seed)
    assert "correct" in capsys.readouterr().out


def test_top_loss_draws_fresh_cases_with_huge_logits():
    seen = []

    def spy(logits, labels, k):
        seen.append(logits.copy())
        return right(logits, labels, k)

    dq.top_loss_indices(spy)
    first = len(seen)
    dq.top_loss_indices(spy)
    assert not np.array_equal(seen[0], seen[first]), "two calls drew the same case"
    assert len({lo.shape for lo in seen[:first]}) >= 3 and max(np.abs(lo).max() for lo in seen) >= 800


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (naive_softmax, "largest losses|not sorted"),   # with the hint to compute the loss stably
    (ascending, "not sorted"),
    (lowest, "largest losses"),
    (lambda lo, la, k: right(lo, la, k).astype(float), "integer"),
    (lambda lo, la, k: right(lo, la, k + 1), "shape"),
    (naive_float64, "overflow"),
    (log_of_softmax, "log\\(0\\)|divide by zero"),
    (memorised, "largest losses|outside|shape"),
    (lambda lo, la, k: "3 1 4", "string"),
])
def test_wrong_answers_get_hints(answer, words):
    with pytest.raises(ExerciseError, match=words) as err:
        dq.top_loss_indices(answer)
    assert "Hint:" in str(err.value)


@pytest.mark.parametrize("answer", [naive_softmax, naive_float64, log_of_softmax])
def test_unstable_answers_get_the_stability_hint(answer):
    for seed in (0, 1, None):
        with pytest.raises(ExerciseError) as err:
            dq.top_loss_indices(answer, seed=seed)
        assert "Never form exp(logits) or softmax and then take its log" in err.value.hint


# --------------------------------------------------------------------------- augmentation pipeline
def _pipeline(make):
    import keras

    return lambda: keras.Sequential(list(make()))


def _right():
    import keras

    return [keras.layers.RandomRotation(12 / 360, fill_mode="constant"),
            keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant")]


def test_augmenter_accepts_the_keras_pipeline_in_either_order_and_with_tuples(capsys):
    import keras

    dq.augmenter(_pipeline(_right), seed=0)
    dq.augmenter(_pipeline(lambda: _right()[::-1]), seed=1)
    dq.augmenter(lambda: keras.Sequential([keras.layers.RandomRotation((-0.033, 0.033)),
                                           keras.layers.RandomTranslation((-0.07, 0.07), 0.07)]), seed=2)
    assert capsys.readouterr().out.count("correct") == 3


def _slips():
    import keras

    L = keras.layers

    class Jitter(keras.layers.Layer):                   # changes images at inference too
        def call(self, x, training=None):
            return keras.ops.clip(x + 0.05, 0, 1)

    class Scale(keras.layers.Layer):
        def call(self, x, training=None):
            return x * 2.0 if training else x

    return [
        (lambda: None, "returned NoneType"),
        (lambda: [L.RandomRotation(1 / 30), L.RandomTranslation(0.07, 0.07)], "returned list"),
        (lambda: keras.Sequential([L.RandomTranslation(2 / 28, 2 / 28)]), "no RandomRotation"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360)]), "no RandomTranslation"),
        (lambda: keras.Sequential([L.RandomRotation(12)]), "fractions"),
        (lambda: keras.Sequential([L.RandomRotation(float(np.deg2rad(12))), L.RandomTranslation(0.07, 0.07)]),
         "radians"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360), L.RandomTranslation(2, 2)]), "fractions"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360), L.RandomTranslation(0.2, 0.2)]), "5.6 pixels"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360), L.RandomTranslation(0.07, 0.07),
                                   L.RandomFlip("horizontal")]), "not a 2"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360), L.RandomTranslation(0.07, 0.07), Jitter()]),
         "training=False"),
        (lambda: keras.Sequential([L.RandomRotation(12 / 360), L.RandomTranslation(0.07, 0.07), Scale()]),
         "values run from"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_augmenter_rejects_typical_slips_with_their_hint(case):
    fn, match = _slips()[case]
    with pytest.raises(ExerciseError, match=match):
        dq.augmenter(fn, seed=3)


def test_augmenter_placeholder_gets_the_hint():
    def augmenter():
        raise NotImplementedError

    for answer in (None, augmenter):
        with pytest.raises(ExerciseError, match="RandomRotation"):
            dq.augmenter(answer)
