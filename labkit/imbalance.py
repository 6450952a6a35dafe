"""Tools for skewed (imbalanced) binary problems.

* :func:`make_rare` - a reproducible binary subset of a labelled dataset in which the
  chosen class(es) have a given prevalence (e.g. one Fashion-MNIST class at 1%).
* :func:`prior_log_odds` - the output-bias initialiser ``log(p / (1 - p))`` that makes an
  untrained sigmoid unit predict the base rate.
* :func:`balanced_class_weight` - ``class_weight`` for ``model.fit``, from scikit-learn's
  ``compute_class_weight("balanced")``.
* :func:`balanced_dataset` - a class-balanced endless ``tf.data`` stream, for data that does not
  fit in memory. In-memory resampling (random over- and undersampling, SMOTE) is
  imbalanced-learn's (``imblearn.over_sampling``, ``imblearn.under_sampling``); lab 10 uses it.
* :func:`threshold_explorer` - an ipywidgets slider that shows the confusion matrix and
  metrics at a decision threshold; its ``update`` also works without a browser, so a
  notebook can call it once to leave a static result (and run headless under nbval).

Labels are binary: 0 = negative (the common class), 1 = positive (the rare class).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from labkit.validation import (
    check_array,
    check_binary_labels,
    check_callable,
    check_int,
    check_labels,
    check_number,
    check_same_length,
    check_str,
)

__all__ = ["make_rare", "prior_log_odds", "balanced_class_weight",
           "balanced_dataset", "ThresholdExplorer", "threshold_explorer", "format_report"]


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, ...) and 0/1 labels (N,) of one length."""
    x = check_array(x, "x", kind="any", min_len=0)
    yb = check_binary_labels(y, "y")
    if len(x) != len(yb):
        raise ValueError(f"x and y have different lengths ({len(x)} and {len(yb)}).")
    return x, yb


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(check_int(seed, "seed", min_val=0))


def _fraction(value: Any, name: str) -> float:
    """A number strictly between 0 and 1."""
    v = check_number(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}.")
    return v


# --------------------------------------------------------------------------- building data
def make_rare(x: Any, y: Any, positive: int | Sequence[int], prevalence: float, *, n: int | None = None,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A binary subset of ``(x, y)`` in which the ``positive`` class(es) have ``prevalence``.

    x: (N, ...) features; y: (N,) integer class labels. Returns ``(x_sub, y_bin)`` with
    ``x_sub`` of shape (n, ...) and ``y_bin`` (n,) int64 in {0, 1}, rows in a random order.
    Exactly ``round(n * prevalence)`` rows are positive (at least one). With ``n=None``
    every negative is kept and positives are added to reach the prevalence.
    """
    x = check_array(x, "x", kind="any", min_len=0)
    y = check_labels(y, "y")
    check_same_length(x=x, y=y)
    p = _fraction(prevalence, "prevalence")
    pos_classes = np.atleast_1d(check_array(positive, "positive", kind="integer", min_len=0))
    if pos_classes.size == 0 or not np.all(np.isin(pos_classes, y)):
        raise ValueError(f"positive={positive!r} names a class that is not in y (classes: {np.unique(y)}).")
    is_pos = np.isin(y, pos_classes)
    pos_idx, neg_idx = np.flatnonzero(is_pos), np.flatnonzero(~is_pos)
    rng = _rng(seed)
    if n is None:
        n_neg = len(neg_idx)
        n_pos = max(1, round(n_neg * p / (1.0 - p)))
    else:
        n = check_int(n, "n", min_val=2)
        n_pos = max(1, round(n * p))
        n_neg = n - n_pos
    if n_pos > len(pos_idx) or n_neg > len(neg_idx) or n_neg < 1:
        raise ValueError(f"cannot draw {n_pos} positives and {n_neg} negatives: y has {len(pos_idx)} "
                         f"positives and {len(neg_idx)} negatives. Ask for a smaller n or another prevalence.")
    idx = np.concatenate([rng.choice(pos_idx, n_pos, replace=False), rng.choice(neg_idx, n_neg, replace=False)])
    idx = rng.permutation(idx)
    return x[idx], is_pos[idx].astype(np.int64)


def prior_log_odds(y: Any) -> float:
    """``log(p / (1 - p))`` for the positive rate ``p`` of binary labels ``y`` (shape (N,)).

    Initialising the bias of a sigmoid output unit to this value makes the untrained
    model predict the base rate instead of 0.5, so training does not spend its first
    steps learning that positives are rare.
    """
    yb = check_binary_labels(y, "y")
    pos = int(yb.sum())
    if pos == 0 or pos == len(yb):
        raise ValueError(f"y has {pos} positives out of {len(yb)}: the log-odds of a base rate of 0 or 1 "
                         f"is infinite. Use labels containing both classes.")
    return float(math.log(pos / (len(yb) - pos)))


def balanced_class_weight(y: Any) -> dict[int, float]:
    """``{0: w0, 1: w1}`` from ``sklearn.utils.class_weight.compute_class_weight("balanced")``:
    ``w_c = N / (2 * N_c)``, so each class carries half the loss. Pass it to
    ``model.fit(..., class_weight=...)``.

    What labkit adds: ``y`` is checked to be binary (bools and an (N, 1) column are
    fine), and a missing class is a ``ValueError`` that gives the counts (scikit-learn
    says only "classes should have valid labels that are in y").
    """
    yb = check_binary_labels(y, "y")
    counts = np.bincount(yb, minlength=2)
    if counts.min() == 0:
        raise ValueError(f"y must contain both classes to weight them, got counts {counts.tolist()}.")
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=yb)
    return {c: float(w) for c, w in zip((0, 1), weights)}


def balanced_dataset(x: Any, y: Any, *, pos_fraction: float = 0.5, batch_size: int = 128, seed: int = 0):
    """An endless ``tf.data`` stream of batches with ``pos_fraction`` positives on average.

    Positives and negatives each get their own shuffled, repeated stream and
    ``tf.data.Dataset.sample_from_datasets`` draws from them (the minority is thereby
    oversampled, as in TensorFlow's imbalanced-data tutorial). Returns
    ``(dataset, steps_per_epoch)`` where one "epoch" shows every negative about once:
    pass both to ``fit(..., steps_per_epoch=steps_per_epoch)``. Batches are
    ``(x (B, ...) float32, y (B,) float32)``.
    """
    x, yb = _check_xy(x, y)
    f = _fraction(pos_fraction, "pos_fraction")
    batch_size = check_int(batch_size, "batch_size", min_val=1)
    seed = check_int(seed, "seed", min_val=0)
    pos, neg = np.flatnonzero(yb == 1), np.flatnonzero(yb == 0)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"y needs both classes, got {len(pos)} positives and {len(neg)} negatives.")

    def stream(idx: np.ndarray, offset: int):
        ds = tf.data.Dataset.from_tensor_slices((x[idx].astype("float32"), yb[idx].astype("float32")))
        return ds.shuffle(len(idx), seed=seed + offset, reshuffle_each_iteration=True).repeat()

    mixed = tf.data.Dataset.sample_from_datasets([stream(neg, 0), stream(pos, 1)], weights=[1.0 - f, f],
                                                 seed=seed)
    steps = max(1, math.ceil(len(neg) / ((1.0 - f) * batch_size)))
    return mixed.batch(batch_size).prefetch(tf.data.AUTOTUNE), steps


# --------------------------------------------------------------------------- threshold explorer
def format_report(report: Mapping[str, Any], threshold: float) -> str:
    """A plain-text confusion matrix plus precision / recall / F1 / accuracy."""
    if not isinstance(report, Mapping):
        raise TypeError(f"report must be a mapping such as a BinaryReport, got {type(report).__name__}.")
    missing = [k for k in ("tp", "fp", "fn", "tn", "precision", "recall", "f1", "accuracy") if k not in report]
    if missing:
        raise ValueError(f"report is missing {missing}; pass a labkit.metrics.BinaryReport or a dict with those keys.")
    threshold = check_number(threshold, "threshold")
    tp, fp, fn, tn = (int(report[k]) for k in ("tp", "fp", "fn", "tn"))
    w = max(len(str(v)) for v in (tp, fp, fn, tn, "pred 0")) + 1
    lines = [
        f"threshold {threshold:.3f}",
        f"{'':>10}{'pred 0':>{w}}{'pred 1':>{w}}",
        f"{'actual 0':>10}{tn:>{w}}{fp:>{w}}",
        f"{'actual 1':>10}{fn:>{w}}{tp:>{w}}",
        "precision {:.3f}  recall {:.3f}  F1 {:.3f}  accuracy {:.4f}".format(
            float(report["precision"]), float(report["recall"]), float(report["f1"]), float(report["accuracy"])),
    ]
    undefined = getattr(report, "undefined", ())
    if undefined:
        lines.append(f"undefined (0/0, shown as 0): {', '.join(undefined)}")
    return "\n".join(lines)


@dataclass
class ThresholdExplorer:
    """A threshold slider bound to fixed labels and scores (see :func:`threshold_explorer`).

    ``update(t)`` computes the report at threshold ``t``, prints it (into the widget's
    output area when the slider moved it, to the cell's output when called directly)
    and returns it; ``widget`` is the slider + output box to display.
    """

    y_true: np.ndarray
    y_score: np.ndarray
    report_fn: Callable[..., Mapping[str, Any]]
    slider: Any
    output: Any
    widget: Any
    last: Mapping[str, Any] | None = field(default=None)
    calls: int = 0

    def update(self, threshold: float) -> Mapping[str, Any]:
        threshold = check_number(threshold, "threshold")
        report = self.report_fn(self.y_true, self.y_score, threshold=threshold)
        self.last, self.calls = report, self.calls + 1
        print(format_report(report, threshold))
        return report

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            self.update(change["new"])


def threshold_explorer(y_true: Any, y_score: Any, *, threshold: float = 0.5, step: float = 0.01,
                       report_fn: Callable[..., Mapping[str, Any]] | None = None,
                       description: str = "threshold") -> ThresholdExplorer:
    """An ipywidgets slider over decision thresholds for binary ``y_true`` (N,) and
    probabilities ``y_score`` (N,) in [0, 1].

    Moving the slider re-computes ``report_fn(y_true, y_score, threshold=t)`` (default
    :func:`labkit.metrics.binary_report`) and shows the confusion matrix and metrics.
    Display ``explorer.widget``; call ``explorer.update(t)`` to print the same result
    statically (what a headless run or a printed page shows).
    """
    import ipywidgets as widgets

    yb = check_binary_labels(y_true, "y_true")
    scores = check_array(y_score, "y_score", ndim=(1, 2), finite=False, min_len=0).astype(np.float64).reshape(-1)
    if len(scores) != len(yb):
        raise ValueError(f"y_true and y_score have different lengths ({len(yb)} and {len(scores)}).")
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise ValueError("y_score must be finite probabilities in [0, 1]; apply a sigmoid to logits first.")
    if not 0.0 <= check_number(threshold, "threshold") <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}.")
    if not 0.0 < check_number(step, "step") <= 0.5:
        raise ValueError(f"step must be in (0, 0.5], got {step!r}.")
    description = check_str(description, "description", allow_empty=True)
    if report_fn is not None:
        check_callable(report_fn, "report_fn", what="a function report_fn(y_true, y_score, threshold=t) -> mapping")
    if report_fn is None:
        from labkit.metrics import binary_report

        def report_fn(y, s, threshold):  # undefined precision is flagged in the text, not warned
            return binary_report(y, s, threshold, warn=False)
    slider = widgets.FloatSlider(value=float(threshold), min=0.0, max=1.0, step=float(step), description=description,
                                 readout_format=".2f", continuous_update=False)
    output = widgets.Output()
    box = widgets.VBox([slider, output])
    explorer = ThresholdExplorer(yb, scores, report_fn, slider, output, box)
    slider.observe(explorer._on_change, names="value")
    return explorer
