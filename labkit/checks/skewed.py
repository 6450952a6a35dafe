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

__all__ = ["f1_from_counts", "threshold_for_recall", "oversample", "focal_loss",
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


def f1_from_counts(fn: Callable[[int, int, int], float]) -> None:
    """``fn(tp, fp, fn)`` must return F1 = 2PR / (P + R), and 0.0 when tp == 0."""
    ex = "F1 from counts"
    hint = ("precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 * P * R / (P + R) - the harmonic "
            "mean, which simplifies to 2*tp / (2*tp + fp + fn). When tp == 0 return 0.0 (not NaN).")
    cases = [(3, 1, 2), (90, 10, 10), (1, 99, 0), (5, 0, 95), (50, 50, 50), (7, 0, 0), (0, 4, 6), (0, 0, 5)]
    for tp, fp, fneg in cases:
        got = _number(ex, call_answer(ex, fn, "f1_from_counts", (tp, fp, fneg), hint),
                      f"f1_from_counts({tp}, {fp}, {fneg})", hint)
        want = 2 * tp / (2 * tp + fp + fneg) if tp else 0.0
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fneg) if tp + fneg else 0.0
            extra = ""
            if math.isclose(got, (p + r) / 2, rel_tol=1e-9):
                extra = " That is the arithmetic mean of precision and recall; F1 is the harmonic mean."
            raise ExerciseError(ex, f"f1_from_counts({tp}, {fp}, {fneg}) returned {got:.6g}, expected {want:.6g}."
                                + extra, hint)
    passed(ex, f"{len(cases)} cases, including tp = 0")


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
