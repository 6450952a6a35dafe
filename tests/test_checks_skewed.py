"""The skewed-datasets exercise checks accept right answers and reject wrong ones with a hint."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from labkit.checks import ExerciseError, skewed


# --------------------------------------------------------------------------- F1 from counts
def _f1_right(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _f1_placeholder(tp, fp, fn):
    raise NotImplementedError()


def test_f1_accepts_the_harmonic_mean(capsys):
    skewed.f1_from_counts(_f1_right)
    skewed.f1_from_counts(lambda tp, fp, fn: 2 * tp / (2 * tp + fp + fn))   # the simplified form
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, match", [
    (None, "no answer yet"),
    (_f1_placeholder, "not written yet"),
    (lambda tp, fp, fn: ((tp / (tp + fp) if tp + fp else 0) + (tp / (tp + fn) if tp + fn else 0)) / 2,
     "arithmetic mean"),
    (lambda tp, fp, fn: 2 * tp / (2 * tp + fp + fn + 1e-3) if tp else float("nan"), "expected|finite"),
    # the textbook formula without the tp == 0 guard: 0 / 0 when precision and recall are both 0
    (lambda tp, fp, fn: 2 * (tp / (tp + fp)) * (tp / (tp + fn)) / (tp / (tp + fp) + tp / (tp + fn)),
     "ZeroDivisionError"),
    (lambda tp, fp, fn: "0.5", "one number"),
    (42, "should be a function"),
])
def test_f1_rejects_wrong_answers(answer, match):
    with pytest.raises(ExerciseError, match=match) as err:
        skewed.f1_from_counts(answer)
    assert "harmonic" in err.value.hint


def test_f1_rejects_nan_for_zero_tp():
    def nan_when_undefined(tp, fp, fn):
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn)
        return 2 * p * r / (p + r) if p + r else float("nan")

    with pytest.raises(ExerciseError, match="not a finite number|expected"):
        skewed.f1_from_counts(nan_when_undefined)


# --------------------------------------------------------------------------- threshold for recall
def _thr_right(y_true, y_score, target):
    pos = np.sort(y_score[y_true == 1])[::-1]
    k = math.ceil(target * len(pos) - 1e-9)
    return float(pos[k - 1])


def _thr_via_sklearn(y_true, y_score, target):
    from sklearn.metrics import precision_recall_curve

    _, r, t = precision_recall_curve(y_true, y_score)
    return t[r[:-1] >= target].max()


def test_threshold_accepts_right_answers(capsys):
    skewed.threshold_for_recall(_thr_right)
    skewed.threshold_for_recall(_thr_via_sklearn)
    # any threshold giving the same predictions is as good: just above the next lower score
    skewed.threshold_for_recall(lambda y, s, t: _thr_right(y, s, t) - 1e-9)
    assert capsys.readouterr().out.count("correct") == 3


def test_threshold_rejects_wrong_answers():
    with pytest.raises(ExerciseError, match="no answer yet"):
        skewed.threshold_for_recall(None)
    with pytest.raises(ExerciseError, match="not written yet"):
        skewed.threshold_for_recall(lambda y, s, t: (_ for _ in ()).throw(NotImplementedError()))
    with pytest.raises(ExerciseError, match="only reaches recall"):
        skewed.threshold_for_recall(lambda y, s, t: 0.5)        # the default threshold misses the target
    with pytest.raises(ExerciseError, match="fewer false positives"):
        skewed.threshold_for_recall(lambda y, s, t: 0.0)        # flags everything: recall 1, but wasteful
    with pytest.raises(ExerciseError, match="only reaches recall"):
        # off by one: the (k+1)-th highest positive score is *lower*, so this one is the k-1-th: too high
        skewed.threshold_for_recall(
            lambda y, s, t: float(np.sort(s[y == 1])[::-1][max(0, math.ceil(t * (y == 1).sum()) - 2)]))
    with pytest.raises(ExerciseError, match="one number"):
        skewed.threshold_for_recall(lambda y, s, t: [0.5])


# --------------------------------------------------------------------------- random oversampling
def _oversample_right(x, y, ratio, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    extra = rng.choice(pos, int(ratio * np.sum(y == 0)) - len(pos), replace=True)
    idx = np.concatenate([np.arange(len(y)), extra])
    return x[idx], y[idx]


def _oversample_imblearn(x, y, ratio, seed=0):
    from imblearn.over_sampling import RandomOverSampler

    flat, y_new = RandomOverSampler(sampling_strategy=ratio, random_state=seed).fit_resample(x.reshape(len(x), -1), y)
    return flat.reshape(len(flat), *x.shape[1:]), y_new


def _shuffled(x, y, ratio, seed=0):
    x_new, y_new = _oversample_right(x, y, ratio, seed)
    order = np.random.default_rng(seed + 1).permutation(len(y_new))
    return x_new[order], y_new[order]


def test_oversample_accepts_a_numpy_answer_imbalanced_learn_and_a_shuffled_one(capsys):
    skewed.oversample(_oversample_right, seed=0)
    skewed.oversample(_oversample_imblearn, seed=1)
    skewed.oversample(_shuffled, seed=2)
    assert capsys.readouterr().out.count("correct") == 3


def _separately_shuffled(x, y, ratio, seed=0):
    x_new, y_new = _oversample_right(x, y, ratio, seed)
    return x_new, np.random.default_rng(seed).permutation(y_new)


def _without_replacement(x, y, ratio, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    extra = rng.choice(pos, int(ratio * np.sum(y == 0)) - len(pos), replace=False)
    return x[np.r_[np.arange(len(y)), extra]], y[np.r_[np.arange(len(y)), extra]]


def _on_top(x, y, ratio, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    idx = np.r_[np.arange(len(y)), rng.choice(pos, int(ratio * np.sum(y == 0)), replace=True)]
    return x[idx], y[idx]


def _per_row(x, y, ratio, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    idx = np.r_[np.arange(len(y)), rng.choice(pos, int(ratio * len(y)) - len(pos), replace=True)]
    return x[idx], y[idx]


def _any_row(x, y, ratio, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    idx = np.r_[np.arange(len(y)), rng.choice(len(y), int(ratio * np.sum(y == 0)) - len(pos), replace=True)]
    return x[idx], y[idx]


def _drops_negatives(x, y, ratio, seed=0):
    x_new, y_new = _oversample_right(x, y, ratio, seed)
    keep = np.r_[np.flatnonzero(y_new == 1), np.flatnonzero(y_new == 0)[1:]]
    return x_new[keep], y_new[keep]


def _in_place(x, y, ratio, seed=0):
    out = _oversample_right(x, y, ratio, seed)
    y[0] = 1 - y[0]
    return out


def _seedless(x, y, ratio, seed=0):
    return _oversample_right(x, y, ratio, 0)


def _unseeded(x, y, ratio, seed=0):
    return _oversample_right(x, y, ratio, np.random.default_rng().integers(1 << 30))


def _jittered(x, y, ratio, seed=0):
    x_new, y_new = _oversample_right(x, y, ratio, seed)
    return x_new + 1e-3, y_new


@pytest.mark.parametrize("fn, match", [
    (None, "no answer yet"),
    (_separately_shuffled, "another row's label"),
    (_without_replacement, "raised ValueError"),
    (_on_top, "on top of the ones"),
    (_per_row, "per \\*negative\\*"),
    (_any_row, "positives"),
    (_drops_negatives, "negatives"),
    (_in_place, "in place"),
    (_seedless, "same sample"),
    (_unseeded, "different results"),
    (_jittered, "not rows of x"),
    (lambda x, y, ratio, seed=0: x, "pair"),
    (lambda x, y, ratio, seed=0: (x, y), "positives"),
    (lambda x, y, ratio, seed=0: (x[:, :1], y), "shape"),
])
def test_oversample_rejects_typical_slips_with_their_hint(fn, match):
    with pytest.raises(ExerciseError, match=match):
        skewed.oversample(fn, seed=5)


# --------------------------------------------------------------------------- focal loss
def _focal_right(y_true, logits, gamma=2.0):
    p = keras.ops.sigmoid(logits)
    p_t = y_true * p + (1 - y_true) * (1 - p)
    ce = keras.ops.binary_crossentropy(y_true, logits, from_logits=True)
    return keras.ops.mean((1 - p_t) ** gamma * ce, axis=-1)


def _focal_not_written(y_true, logits, gamma=2.0):
    raise NotImplementedError


def test_focal_loss_accepts_the_right_loss_and_keras_own(capsys):
    skewed.focal_loss(_focal_right, seed=0)
    skewed.focal_loss(lambda y, z, gamma=2.0: keras.losses.BinaryFocalCrossentropy(
        from_logits=True, gamma=gamma, reduction=None)(y, z), seed=1)
    assert capsys.readouterr().out.count("correct") == 2


@pytest.mark.parametrize("seed", range(3))
def test_focal_loss_refuses_an_answer_copied_from_another_call(seed):
    seen = {}

    def spy(y, z, gamma=2.0):
        out = _focal_right(y, z, gamma)
        if gamma not in seen and not isinstance(out, type(None)) and tf.executing_eagerly():
            seen[gamma] = keras.ops.convert_to_numpy(out)
        return out

    skewed.focal_loss(spy, seed=seed)
    frozen = seen[2.0]
    with pytest.raises(ExerciseError):
        skewed.focal_loss(lambda y, z, gamma=2.0: frozen, seed=seed + 50)


def _naive_log(y_true, logits, gamma=2.0):   # log of a sigmoid that rounds to 0 or 1
    p = keras.ops.sigmoid(logits)
    p_t = y_true * p + (1 - y_true) * (1 - p)
    return keras.ops.mean(-(1 - p_t) ** gamma * keras.ops.log(p_t), axis=-1)


@pytest.mark.parametrize("wrong, match", [
    (None, "no answer yet"),
    (_focal_not_written, "not written yet"),
    (lambda y, z, gamma=2.0: None, "returned None"),
    (lambda y, z, gamma=2.0: keras.ops.binary_crossentropy(y, z, from_logits=True)[:, 0], "plain cross-entropy"),
    (lambda y, z, gamma=2.0: keras.ops.mean(keras.ops.sigmoid(z) ** gamma * keras.ops.binary_crossentropy(
        y, z, from_logits=True), axis=-1), "p \\*\\* gamma"),
    (lambda y, z, gamma=2.0: keras.ops.mean(
        (1 - (y * keras.ops.sigmoid(z) + (1 - y) * (1 - keras.ops.sigmoid(z)))) ** gamma
        * keras.ops.binary_crossentropy(y, z), axis=-1), "as if they were"),
    (lambda y, z, gamma=2.0: _focal_right(y, z, 2.0), "gamma="),
    (_naive_log, "numerically stable"),
    (lambda y, z, gamma=2.0: _focal_right(y, z, gamma)[:, None], "shape"),
])
def test_focal_loss_wrong_answers_get_their_hint(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        skewed.focal_loss(wrong, seed=3)


def test_focal_loss_in_numpy_fails_inside_fit_with_a_hint():
    def numpy_focal(y, z, gamma=2.0):
        y, z = np.asarray(y), np.asarray(z)
        return np.asarray(keras.losses.BinaryFocalCrossentropy(from_logits=True, gamma=gamma, reduction=None)(y, z))

    with pytest.raises(ExerciseError, match="keras.ops"):
        skewed.focal_loss(numpy_focal, seed=4)


def test_the_notebook_exercises_fail_as_student_versions_and_pass_as_solutions():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("10_skewed_datasets.ipynb", "skewed", {"keras": keras, "math": math},
                                                 min_exercises=4)
