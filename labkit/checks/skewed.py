"""Checks for the exercises of notebook 10, "Skewed datasets"."""
from __future__ import annotations

import math
from typing import Any, Callable

import keras
import numpy as np
from sklearn.metrics import precision_recall_curve

from labkit.checks import (
    ExerciseError,
    call_answer,
    close,
    fresh_seed,
    passed,
    require_answer,
    require_array,
    require_output,
)
from labkit.checks.predictions import NumberPrediction
from labkit.validation import check_number

__all__ = ["pr_points", "threshold_for_recall", "oversample", "focal_loss",
           "baseline_accuracy_prediction", "baseline_accuracy_verdict"]


def _number(exercise: str, value: Any, name: str, hint: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        else:
            raise ExerciseError(exercise, f"`{name}` should be one number, got {type(value).__name__}.", hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"`{name}` is {value}, not a finite number.", hint)
    return value


_PR_HINT = ("Take the distinct scores from high to low (np.unique(y_score)[::-1]) as the thresholds; at each "
            "threshold t predict y_score >= t, count tp (flagged positives) and fp (flagged negatives), and "
            "compute precision = tp / (tp + fp) and recall = tp / (number of positives). Return the three arrays "
            "(precision, recall, thresholds), one entry per threshold.")


def _pr_by_rule(y: np.ndarray, s: np.ndarray, strict: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point per distinct score, high to low; ``strict`` is the slip ``y_score > t``."""
    t = np.unique(s)[::-1]
    pred = s[None, :] > t[:, None] if strict else s[None, :] >= t[:, None]
    tp, fp = (pred & (y == 1)).sum(axis=1), (pred & (y == 0)).sum(axis=1)
    precision = np.divide(tp, tp + fp, out=np.ones(len(t)), where=tp + fp > 0)
    return precision, tp / (y == 1).sum(), t


def _pr_oracle(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's ``precision_recall_curve``, high thresholds first, without its end point (P=1, R=0)."""
    precision, recall, thresholds = precision_recall_curve(y, s)
    return precision[:-1][::-1], recall[:-1][::-1], thresholds[::-1]


_PR_FIXED = (np.array([1, 0, 1, 1, 0, 0, 1, 0]), np.array([0.9, 0.8, 0.8, 0.6, 0.5, 0.3, 0.3, 0.1]))


def _pr_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fresh skewed problems with ties (scores rounded), one with a single distinct score."""
    cases = []
    for n, prevalence, digits in [(int(rng.integers(30, 80)), 0.2, 1), (int(rng.integers(200, 600)), 0.03, 2),
                                  (int(rng.integers(50, 150)), 0.5, 3)]:
        y = (rng.random(n) < prevalence).astype(np.int64)
        y[:2] = (1, 0)
        cases.append((y, np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1).round(digits)))
    y = rng.permutation(np.r_[np.ones(3, dtype=np.int64), np.zeros(5, dtype=np.int64)])
    cases.append((y, np.full(8, 0.5)))
    return cases


def _pr_answer(ex: str, out: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise ExerciseError(ex, f"pr_points{where} returned {type(out).__name__}; expected a tuple "
                                "(precision, recall, thresholds).", _PR_HINT)
    arrays = []
    for name, value in zip(("precision", "recall", "thresholds"), out):
        arr = require_array(ex, value, f"{name}{where}", (None,), _PR_HINT)
        arrays.append(arr.astype(np.float64))
    if len({len(a) for a in arrays}) != 1:
        raise ExerciseError(ex, f"precision, recall and thresholds{where} have lengths "
                                f"{[len(a) for a in arrays]}; they should have one entry per threshold.", _PR_HINT)
    return arrays[0], arrays[1], arrays[2]


def _pr_mistake(ex: str, got: tuple, y: np.ndarray, s: np.ndarray, where: str) -> None:
    """Raise with the hint for the typical slip ``got`` matches, if any."""
    want = _pr_oracle(y, s)
    n_t = len(want[2])
    if len(got[2]) == n_t + 1:
        raise ExerciseError(ex, f"one point too many{where}: scikit-learn appends the end point (precision 1, "
                                "recall 0) without a threshold; here each point has its threshold.", _PR_HINT)
    if len(got[2]) == len(s) and n_t < len(s):
        raise ExerciseError(ex, f"{len(s)} points for {len(s)} examples{where}, but only {n_t} distinct scores: "
                                "tied scores cross the threshold together, so each distinct score is one point.",
                            _PR_HINT)
    if len(got[2]) != n_t:
        raise ExerciseError(ex, f"{len(got[2])} points{where}; there are {n_t} distinct scores, one threshold "
                                "each.", _PR_HINT)
    if all(close(g, w[::-1]) for g, w in zip(got, want)):
        raise ExerciseError(ex, f"the points run from low to high thresholds{where}.",
                            "Order them from the highest threshold (few flagged) to the lowest (all flagged).")
    if close(got[0], want[1]) and close(got[1], want[0]):
        raise ExerciseError(ex, f"precision and recall are swapped{where}.", _PR_HINT)
    strict = _pr_by_rule(y, s, strict=True)
    if close(got[0][1:], strict[0][1:]) and close(got[1], strict[1]):
        raise ExerciseError(ex, f"the points are those of `y_score > t`{where}: a score equal to the threshold "
                                "is flagged (`y_score >= t`), as in scikit-learn.", _PR_HINT)
    if close(got[1], want[1] * (y == 1).sum() / len(y)):
        raise ExerciseError(ex, f"recall{where} was divided by the number of examples; divide by the number "
                                "of positives.", _PR_HINT)
    if not close(got[2], want[2]):
        raise ExerciseError(ex, f"the thresholds{where} should be the distinct scores, high to low.", _PR_HINT)
    bad = "precision" if not close(got[0], want[0]) else "recall"
    raise ExerciseError(ex, f"{bad}{where} differs from scikit-learn's precision_recall_curve.", _PR_HINT)


def pr_points(fn: Callable[[np.ndarray, np.ndarray], Any], *, seed: int | None = None) -> None:
    """Exercise 1: ``fn(y_true, y_score)`` -> ``(precision, recall, thresholds)``, the precision-recall curve.

    One point per distinct score, thresholds from high to low, predictions ``y_score >= t``;
    judged against scikit-learn's ``precision_recall_curve`` on a fixed 8-example problem (whose
    slips get hints), then on fresh skewed problems with ties and one with a single score
    (``seed`` replays them). The inputs must be left unchanged.
    """
    ex = "the precision-recall curve"
    seed = fresh_seed(seed)
    cases = [_PR_FIXED, *_pr_cases(np.random.default_rng(seed))]
    for i, (y, s) in enumerate(cases):
        where = "" if i == 0 else f" (fresh problem of {len(y)} examples, seed={seed})"
        y_in, s_in = y.copy(), s.copy()
        got = _pr_answer(ex, call_answer(ex, fn, "pr_points", (y_in, s_in), _PR_HINT), where)
        if not (np.array_equal(y_in, y) and np.array_equal(s_in, s)):
            raise ExerciseError(ex, f"pr_points changed its input arrays{where}.",
                                "Sort or modify copies (np.sort, np.argsort), never the arrays you are given.")
        want = _pr_oracle(y, s)
        if not (len(got[2]) == len(want[2]) and all(close(g, w) for g, w in zip(got, want))):
            _pr_mistake(ex, got, y, s, where)
    passed(ex, f"the same points as scikit-learn's precision_recall_curve on {len(cases)} problems with ties")


def _oracle_threshold(y: np.ndarray, s: np.ndarray, target: float) -> float:
    """The highest score threshold whose recall reaches ``target`` (via scikit-learn)."""
    _, recall, thresholds = precision_recall_curve(y, s)
    return float(thresholds[recall[:-1] >= target - 1e-12].max())


def threshold_for_recall(fn: Callable[[np.ndarray, np.ndarray, float], float]) -> None:
    """``fn(y_true, y_score, target)`` must return the highest threshold whose recall >= target
    (predictions are ``y_score >= threshold``)."""
    ex = "threshold for a recall target"
    hint = ("Sort the scores of the actual positives from high to low: to catch at least target * n_pos of "
            "them, the threshold can be no higher than the k-th highest positive score, k = ceil(target * n_pos). "
            "Return that score (predictions are y_score >= threshold).")
    rng = np.random.default_rng(2024)
    trials = []
    for n, prev, target in [(400, 0.05, 0.9), (1000, 0.01, 0.8), (300, 0.2, 0.5), (200, 0.1, 1.0)]:
        y = (rng.random(n) < prev).astype(np.int64)
        y[:2] = (1, 0)
        s = np.clip(rng.normal(0.3 + 0.35 * y, 0.15), 0.0, 1.0).round(3)   # rounded: ties happen
        trials.append((y, s, target))
    for y, s, target in trials:
        got = _number(ex, call_answer(ex, fn, "threshold_for_recall", (y.copy(), s.copy(), target), hint),
                      "threshold_for_recall(...)", hint)
        want = _oracle_threshold(y, s, target)
        pred, ref = s >= got, s >= want
        recall = (pred & (y == 1)).sum() / (y == 1).sum()
        if recall < target - 1e-12:
            raise ExerciseError(ex, f"with target recall {target} your threshold {got:.4g} only reaches recall "
                                    f"{recall:.3f}.", hint)
        if not np.array_equal(pred, ref):
            raise ExerciseError(ex, f"with target recall {target} your threshold {got:.4g} meets the target but "
                                    f"flags {int(pred.sum())} examples; the highest threshold that meets it "
                                    f"({want:.4g}) flags only {int(ref.sum())} (fewer false positives).", hint)
    passed(ex, f"{len(trials)} random problems with ties, targets 0.5 to 1.0")


_OVERSAMPLE_HINT = ("Keep every row once; then draw n_pos_target - n_pos extra row indices from the positives with "
                    "rng.choice(pos, size, replace=True), where n_pos_target = int(ratio * n_neg) (what "
                    "imbalanced-learn's RandomOverSampler(sampling_strategy=ratio) does); index x and y with the "
                    "same index array, so every row keeps its label.")


def _oversample_case(rng: np.random.Generator, shape: tuple[int, ...], n_pos: int, n_neg: int):
    """Random rows whose first value is unique (so each output row can be traced to its input row)."""
    x = rng.normal(size=(n_pos + n_neg, *shape)).astype("float32")
    x.reshape(len(x), -1)[:, 0] = rng.permutation(len(x)).astype("float32")
    y = rng.permutation(np.r_[np.ones(n_pos, dtype=np.int64), np.zeros(n_neg, dtype=np.int64)])
    return x, y


def oversample(fn: Callable[..., Any], seed: int | None = None) -> None:
    """Exercise 3: ``fn(x, y, ratio, seed)`` -> ``(x_new, y_new)``, random oversampling of the positives.

    ``x``: (N, ...) features, ``y``: (N,) 0/1 labels. Afterwards there are ``int(ratio * n_neg)``
    positives (imbalanced-learn's ``RandomOverSampler(sampling_strategy=ratio)``, the oracle for the
    counts), every input row is still there, the extra rows are copies of positives with label 1, the
    inputs are unchanged, the same seed gives the same draw and another seed another one. Checked on
    fresh random data (flat rows and image-shaped rows) each call; ``seed`` replays one.
    """
    from imblearn.over_sampling import RandomOverSampler  # noqa: PLC0415 - only this exercise needs it

    ex = "random oversampling"
    require_answer(ex, fn, "oversample", _OVERSAMPLE_HINT)
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    replay = f"(replay with checks.skewed.oversample(oversample, seed={seed}))"
    cases = [((4,), int(rng.integers(5, 9)), int(rng.integers(60, 90)), 0.5),
             ((3, 3), int(rng.integers(3, 6)), int(rng.integers(40, 60)), 1.0),
             ((2,), int(rng.integers(10, 14)), int(rng.integers(30, 40)), 0.6)]
    for shape, n_pos, n_neg, ratio in cases:
        x, y = _oversample_case(rng, shape, n_pos, n_neg)
        x0, y0 = x.copy(), y.copy()
        where = f"with {n_pos} positives, {n_neg} negatives, rows of shape {shape}, ratio={ratio} {replay}"
        out = call_answer(ex, fn, "oversample", (x, y, ratio, 0), _OVERSAMPLE_HINT)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ExerciseError(ex, f"oversample returned {type(out).__name__}; return a pair (x_new, y_new).",
                                _OVERSAMPLE_HINT)
        if not (np.array_equal(x, x0) and np.array_equal(y, y0)):
            raise ExerciseError(ex, "oversample changed x or y in place; build new arrays.", _OVERSAMPLE_HINT)
        x_new = require_array(ex, out[0], "x_new", (None, *shape), _OVERSAMPLE_HINT)
        y_new = require_array(ex, out[1], "y_new", (None,), _OVERSAMPLE_HINT).ravel()
        if len(x_new) != len(y_new):
            raise ExerciseError(ex, f"x_new has {len(x_new)} rows but y_new {len(y_new)} labels {where}.",
                                _OVERSAMPLE_HINT)
        _, want = RandomOverSampler(sampling_strategy=ratio, random_state=0).fit_resample(
            x.reshape(len(x), -1), y)
        want_pos, got_pos, got_neg = int(want.sum()), int((y_new == 1).sum()), int((y_new == 0).sum())
        key = x.reshape(len(x), -1)[:, 0].astype(np.int64)
        origin = np.full(len(x), -1)
        origin[key] = np.arange(len(x))
        ids = np.rint(x_new.reshape(len(x_new), -1)[:, 0]).astype(np.int64)
        if ids.min() < 0 or ids.max() >= len(x) or \
                not np.array_equal(x_new, x[origin[ids]]):
            raise ExerciseError(ex, f"x_new holds rows that are not rows of x {where}.",
                                "Oversampling copies existing rows; it does not make new ones (that is SMOTE).")
        rows = origin[ids]
        if not np.array_equal(y_new, y[rows]):
            raise ExerciseError(ex, f"some rows of x_new carry another row's label {where}.",
                                "Index x and y with the same index array; shuffling them separately pairs "
                                "rows with the wrong labels.")
        if got_neg != n_neg:
            raise ExerciseError(ex, f"y_new has {got_neg} negatives, y had {n_neg} {where}.",
                                "Oversampling adds copies of positives only: every negative stays, once.")
        if np.unique(rows).size != len(x):
            raise ExerciseError(ex, f"some rows of x are missing from x_new {where}.",
                                "Keep every original row and add the extra positives to them.")
        if got_pos != want_pos and got_pos != round(ratio * n_neg):
            if got_pos == n_pos + want_pos:
                why = "you added int(ratio * n_neg) extra positives on top of the ones there were"
            elif got_pos == int(ratio * (n_neg + n_pos)):
                why = "ratio is positives per *negative*, not per row"
            else:
                why = f"there should be int(ratio * n_neg) = {want_pos}"
            raise ExerciseError(ex, f"y_new has {got_pos} positives {where}: {why}.", _OVERSAMPLE_HINT)
        again = call_answer(ex, fn, "oversample", (x, y, ratio, 0), _OVERSAMPLE_HINT)
        if not np.array_equal(np.asarray(again[0]), x_new):
            raise ExerciseError(ex, f"two calls with seed=0 gave different results {where}.",
                                "Draw from np.random.default_rng(seed), so that a seed gives the same sample.")
    x, y = _oversample_case(rng, (2,), 5, 200)
    draws = {np.asarray(call_answer(ex, fn, "oversample", (x, y, 1.0, s), _OVERSAMPLE_HINT)[0]).tobytes()
             for s in range(4)}
    if len(draws) == 1:
        raise ExerciseError(ex, "four different seeds gave the same sample.",
                            "Use the seed: rng = np.random.default_rng(seed), and draw the extra rows from it.")
    passed(ex, f"{len(cases)} random problems: counts as imbalanced-learn's RandomOverSampler, rows and labels kept")


_FOCAL_HINT = ("With p = sigmoid(logits) and p_t = p where y = 1, 1 - p where y = 0: "
               "loss = (1 - p_t) ** gamma * cross-entropy, where the cross-entropy of logits is "
               "keras.ops.binary_crossentropy(y_true, logits, from_logits=True). Use keras.ops throughout and "
               "return one value per example: keras.ops.mean(..., axis=-1) over the last axis of size 1.")


def _focal_reference(y: np.ndarray, z: np.ndarray, gamma: float) -> np.ndarray:
    loss = keras.losses.BinaryFocalCrossentropy(from_logits=True, gamma=gamma, reduction=None)
    return np.asarray(loss(y, z), dtype=np.float64)


def focal_loss(fn: Callable[..., Any], seed: int | None = None) -> None:
    """Exercise 4: ``fn(y_true, logits, gamma=2.0)`` -> (N,) binary focal loss of logits, in keras.ops.

    The oracle is Keras' own ``BinaryFocalCrossentropy(from_logits=True, reduction=None)``, on
    fresh random labels and logits each call (``seed`` fixes them), for several gammas, including
    logits of +-60 where a naive sigmoid-then-log gives inf or nan. The answer must also work as a
    ``compile`` loss: one training step of a small model with it must give a finite loss."""
    ex = "focal loss"
    rng = np.random.default_rng(fresh_seed(seed))
    n = int(rng.integers(6, 12))
    y = (rng.random((n, 1)) < 0.3).astype("float32")
    z = rng.normal(0, 3, (n, 1)).astype("float32")
    for gamma in (2.0, 0.0, float(rng.uniform(0.5, 4.0))):
        out = call_answer(ex, fn, "focal_loss", (keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(z),
                                                 gamma), _FOCAL_HINT)
        got = require_output(ex, keras.ops.convert_to_numpy(out) if out is not None else None, "focal_loss", (n,),
                             _FOCAL_HINT)
        want = _focal_reference(y, z, gamma)
        if close(got, want, rtol=1e-4, atol=1e-6):
            continue
        p = 1 / (1 + np.exp(-z[:, 0].astype(np.float64)))
        bce = _focal_reference(y, z, 0.0)
        p_not_t = p ** gamma * bce          # (p)^gamma instead of (1 - p_t)^gamma
        if gamma and close(got, bce, rtol=1e-4, atol=1e-6):
            raise ExerciseError(ex, f"with gamma={gamma:g} `focal_loss` returned the plain cross-entropy.",
                                "Multiply the cross-entropy by (1 - p_t) ** gamma.")
        if gamma and close(got, p_not_t, rtol=1e-4, atol=1e-6):
            raise ExerciseError(ex, "`focal_loss` scales by p ** gamma, the same for both classes.",
                                "Use p_t, the probability of the *true* class: p where y = 1, 1 - p where y = 0; "
                                "the factor is (1 - p_t) ** gamma.")
        logits_as_probs = np.asarray(keras.losses.binary_crossentropy(y, z), dtype=np.float64)
        if close(got, (1 - np.where(y[:, 0] == 1, p, 1 - p)) ** gamma * logits_as_probs, rtol=1e-3, atol=1e-5):
            raise ExerciseError(ex, "`focal_loss` takes the cross-entropy of the logits as if they were probabilities.",
                                "The model outputs logits: binary_crossentropy(y_true, logits, from_logits=True).")
        raise ExerciseError(ex, f"with gamma={gamma:g}, `focal_loss` differs from the focal loss by up to "
                            f"{np.abs(got - want).max():.3g}.", _FOCAL_HINT)
    y_big = np.array([[1.0], [0.0], [1.0], [0.0]], "float32")
    z_big = np.array([[-60.0], [60.0], [60.0], [-60.0]], "float32")
    out = call_answer(ex, fn, "focal_loss", (keras.ops.convert_to_tensor(y_big), keras.ops.convert_to_tensor(z_big),
                                             2.0), _FOCAL_HINT)
    big = np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(big)) or not close(big, _focal_reference(y_big, z_big, 2.0), rtol=1e-3, atol=1e-4):
        raise ExerciseError(ex, f"for logits of -60 and +60 `focal_loss` gives {big.round(3).tolist()}: it is not "
                            "numerically stable.",
                            "Take the cross-entropy from the logits (binary_crossentropy(..., from_logits=True)), "
                            "not the log of a sigmoid that rounds to 0 or 1.")
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=lambda yt, yp: fn(yt, yp, 2.0))
    try:
        history = model.fit(rng.normal(size=(32, 3)).astype("float32"),
                            y=(rng.random((32, 1)) < 0.5).astype("float32"), epochs=1, batch_size=16, verbose=0)
    except Exception as err:  # noqa: BLE001 - report the student's error with the hint
        raise ExerciseError(ex, f"as a loss in model.fit, `focal_loss` raised {type(err).__name__}: {err}",
                            "Inside fit the loss gets symbolic tensors: use keras.ops (not NumPy) throughout."
                            ) from None
    if not np.isfinite(history.history["loss"][-1]):
        raise ExerciseError(ex, "`focal_loss` gave a non-finite loss inside model.fit.", _FOCAL_HINT)
    passed(ex, "matches keras.losses.BinaryFocalCrossentropy for every gamma tried, and trains")


_BASELINE = NumberPrediction(
    "prediction: the accuracy of always answering 'no'", "predicted_accuracy",
    "Accuracy counts every example the model gets right. If it answers 'not a sandal' for every image, which "
    "images does it get right, and what share of the test set are they? Write a number between 0 and 1.",
    tolerance=0.005, min_val=0.0, max_val=1.0, slip_tolerance=0.004,
    slips={0.009: "0.9% is the share of sandals - the examples it gets wrong, not the ones it gets right.",
           0.0: "0 is its recall (it finds no sandal); accuracy also counts the non-sandals it gets right.",
           0.5: "0.5 would be a coin flip on balanced data; these data are far from balanced.",
           1.0: "Close, but not perfect: every sandal is answered wrongly."})


def baseline_accuracy_prediction(predicted_accuracy) -> None:
    """Section 2, before the run: commit to a number in [0, 1]."""
    _BASELINE.commit(predicted_accuracy)


def baseline_accuracy_verdict(predicted_accuracy, measured_accuracy) -> None:
    """Section 2, after the run: compare with the always-negative baseline's measured test accuracy."""
    measured = check_number(measured_accuracy, "measured_accuracy", min_val=0, max_val=1)
    _BASELINE.verdict(predicted_accuracy, measured,
                      "answering 'no' is right on every negative, so its accuracy is the share of negatives, "
                      "1 - prevalence: with 1 positive in 110 that is above 99%, while it finds none of the "
                      "positives.")
