"""The skewed-datasets exercise checks accept right answers and reject wrong ones with a hint."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from labkit.checks import ExerciseError, skewed


# --------------------------------------------------------------------------- the precision-recall curve
def _pr_loop(y_true, y_score):
    thresholds = np.unique(y_score)[::-1]
    precision, recall = [], []
    for t in thresholds:
        flagged = y_score >= t
        tp = np.sum(flagged & (y_true == 1))
        precision.append(tp / flagged.sum())
        recall.append(tp / np.sum(y_true == 1))
    return np.array(precision), np.array(recall), thresholds


def _pr_cumsum(y_true, y_score):
    order = np.argsort(-y_score, kind="stable")
    s, y = y_score[order], y_true[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]     # the last example of each group of tied scores
    tp, flagged = np.cumsum(y)[last], last + 1
    return tp / flagged, tp / y.sum(), s[last]


def _pr_sklearn(y_true, y_score):
    from sklearn.metrics import precision_recall_curve

    p, r, t = precision_recall_curve(y_true, y_score)
    return p[:-1][::-1], r[:-1][::-1], t[::-1]


def _pr_per_example(y_true, y_score):
    order = np.argsort(-y_score, kind="stable")
    tp = np.cumsum(y_true[order])
    return tp / np.arange(1, len(order) + 1), tp / y_true.sum(), y_score[order]


def _pr_strict(y_true, y_score):
    t = np.unique(y_score)[::-1]
    flagged = y_score[None, :] > t[:, None]
    tp = (flagged & (y_true == 1)).sum(1)
    return tp / np.maximum(flagged.sum(1), 1), tp / (y_true == 1).sum(), t


def _pr_sorting_in_place(y_true, y_score):
    y_score.sort()
    return _pr_loop(y_true, y_score)


def _pr_fixed_only(y_true, y_score):
    """Right for the check's 8-example problem only (its answer pasted in)."""
    if len(y_true) == 8 and y_score[0] == 0.9:
        return _pr_loop(y_true, y_score)
    return _pr_loop(y_true[:8], y_score[:8])


def test_pr_points_accepts_a_loop_a_cumulative_sum_and_scikit_learn(capsys):
    for seed, answer in enumerate([_pr_loop, _pr_cumsum, _pr_sklearn]):
        skewed.pr_points(answer, seed=seed)
        skewed.pr_points(lambda y, s, a=answer: list(a(y, s)))                 # a list is a fine tuple
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, match", [
    (None, "no answer yet"),
    (lambda y, s: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
    (lambda y, s: _pr_loop(y, s)[:2], "tuple"),
    (lambda y, s: tuple(a[::-1] for a in _pr_loop(y, s)), "low to high"),
    (lambda y, s: (_pr_loop(y, s)[1], _pr_loop(y, s)[0], _pr_loop(y, s)[2]), "swapped"),
    (_pr_per_example, "tied scores"),
    (_pr_strict, "y_score > t"),
    (lambda y, s: (np.r_[_pr_loop(y, s)[0], 1.0], np.r_[_pr_loop(y, s)[1], 0.0], np.r_[_pr_loop(y, s)[2], 2.0]),
     "end point"),
    (lambda y, s: (_pr_loop(y, s)[0], _pr_loop(y, s)[1] * y.sum() / len(y), _pr_loop(y, s)[2]),
     "number of examples"),
    (lambda y, s: (_pr_loop(y, s)[0], _pr_loop(y, s)[1], np.unique(s)[::-1] + 0.01), "distinct scores"),
    (lambda y, s: (_pr_loop(y, s)[0], _pr_loop(y, s)[1][:-1], _pr_loop(y, s)[2]), "lengths"),
    (lambda y, s: ("a", "b", "c"), "dtype"),
    (_pr_sorting_in_place, "changed its input"),
    (_pr_fixed_only, "seed="),
])
def test_pr_points_rejects_typical_slips_with_their_hint(answer, match):
    with pytest.raises(ExerciseError, match=match):
        skewed.pr_points(answer, seed=7)


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
