"""Reports of a classifier's predictions, with ``sklearn.metrics`` doing the arithmetic.

What this module adds to scikit-learn is safety and convenience around it:

* inputs are validated once, with a ``ValueError`` that says what was wrong
  (mismatched lengths, empty arrays, labels that are not 0/1, NaN/inf scores,
  probabilities outside [0, 1], thresholds outside the score range);
* model outputs of every kind are understood - labels, one-hot rows, probabilities
  or logits - and the report says which kind it assumed;
* undefined values (precision with no predicted positives, recall with no actual
  positives) are 0.0, flagged in the report and warned about, never NaN;
* every report is one read-only mapping (:class:`Report`): ``report["f1"]`` or
  ``report.f1``, ``dict(report)``.

Functions::

    binary_report(y_true, y_score, threshold=0.5)     -> BinaryReport
    pr_curve(y_true, y_score)                          -> (precision, recall, thresholds)
    best_threshold(y_true, y_score, objective="f1")    -> ThresholdChoice(threshold, report)
    multiclass_report(y_true, y_pred, class_names)     -> MulticlassReport
    MultilabelReport(per_label)                        -> one BinaryReport per label + macro avg
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Iterator, NamedTuple

import numpy as np
from sklearn.metrics import (
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from labkit.metrics.scores import to_labels
from labkit.validation import (
    check_array,
    check_binary_labels,
    check_bool,
    check_int,
    check_names,
    check_number,
    check_option,
    check_same_length,
)

__all__ = ["Report", "BinaryReport", "MulticlassReport", "MultilabelReport", "ThresholdChoice",
           "UndefinedMetricWarning", "binary_report", "pr_curve", "best_threshold", "multiclass_report"]

_SCORE_KINDS = ("auto", "probability", "score")
_OBJECTIVES = ("f1", "precision", "recall")


class UndefinedMetricWarning(UserWarning):
    """Precision or recall was undefined (0/0) and was reported as 0.0."""


class Report(Mapping):
    """A read-only mapping of metric names to values; every key is also an attribute
    (``report["f1"] == report.f1``). Subclasses set ``self._values`` and add ``to_text``."""

    _values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # also what copy/pickle probe for: never a key
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no {name!r}; keys: "
                                 f"{', '.join(map(str, self._values))}") from None

    def to_text(self) -> str:  # pragma: no cover - every subclass has its own
        raise NotImplementedError


# --------------------------------------------------------------------------- validation
def _scores(name: str, values: Any) -> np.ndarray:
    """(n,) numeric scores; an (n, 1) column (one Keras output unit) is read as (n,)."""
    s = check_array(values, name, ndim=(1, 2))
    if s.ndim == 2:
        if s.shape[1] != 1:
            raise ValueError(f"{name} must be 1-D (one score per example), got an array of shape {s.shape}.")
        s = s[:, 0]
    return s.astype(np.float64) if s.dtype == bool else s


def _binary_scores(y_score: Any, kind: str) -> tuple[np.ndarray, str]:
    check_option(kind, "kind", _SCORE_KINDS)
    s = _scores("y_score", y_score)
    lo, hi = float(s.min()), float(s.max())
    in_unit = lo >= 0.0 and hi <= 1.0
    if kind == "probability" and not in_unit:
        raise ValueError(f"y_score was declared as probabilities but spans [{lo:.4g}, {hi:.4g}], outside "
                         "[0, 1]; pass kind='score' for logits or other scores (or apply a sigmoid first).")
    assumed = kind if kind != "auto" else ("probability" if in_unit else "score")
    return s, assumed


def _check_threshold(threshold: Any, assumed: str) -> float:
    t = check_number(threshold, "threshold")
    if assumed == "probability" and not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold {t:g} is outside the score range [0, 1] of probabilities, so every "
                         "example would get the same prediction; pick a threshold in [0, 1] (or pass "
                         "kind='score' if y_score holds logits).")
    return t


def _ratio(num: int, den: int) -> float:
    return float(num) / float(den) if den else 0.0


# --------------------------------------------------------------------------- binary report
class BinaryReport(Report):
    """Metrics of a binary classifier at one threshold; a read-only mapping.

    Keys: ``precision``, ``recall``, ``f1``, ``accuracy`` (floats in [0, 1]), ``tp``,
    ``fp``, ``fn``, ``tn``, ``support`` (ints; support = number of actual positives).
    Attributes: ``threshold``, ``assumed`` (``"probability"`` or ``"score"``) and
    ``undefined`` - the names of metrics that were 0/0 and are reported as 0.0.
    """

    KEYS = ("precision", "recall", "f1", "accuracy", "tp", "fp", "fn", "tn", "support")

    def __init__(self, tp: int, fp: int, fn: int, tn: int, *, threshold: float, assumed: str):
        tp, fp, fn, tn = int(tp), int(fp), int(fn), int(tn)
        undefined = []
        if tp + fp == 0:
            undefined.append("precision")
        if tp + fn == 0:
            undefined.append("recall")
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)  # = harmonic mean of P and R when both > 0
        self._values = {"precision": precision, "recall": recall, "f1": f1,
                        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
                        "tp": tp, "fp": fp, "fn": fn, "tn": tn, "support": tp + fn}
        self.threshold = float(threshold)
        self.assumed = assumed
        self.undefined: tuple[str, ...] = tuple(undefined)

    def to_text(self) -> str:
        v = self._values
        lines = [f"binary report at threshold {self.threshold:.4g} ({self.assumed} scores)",
                 f"  precision {v['precision']:.4f}   recall {v['recall']:.4f}   f1 {v['f1']:.4f}   "
                 f"accuracy {v['accuracy']:.4f}",
                 f"  tp {v['tp']}   fp {v['fp']}   fn {v['fn']}   tn {v['tn']}   support {v['support']}"]
        if self.undefined:
            lines.append(f"  undefined (0/0, reported as 0.0): {', '.join(self.undefined)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        v = self._values
        flag = f", undefined={list(self.undefined)}" if self.undefined else ""
        return (f"BinaryReport(threshold={self.threshold:.4g}, precision={v['precision']:.4f}, "
                f"recall={v['recall']:.4f}, f1={v['f1']:.4f}, accuracy={v['accuracy']:.4f}, "
                f"tp={v['tp']}, fp={v['fp']}, fn={v['fn']}, tn={v['tn']}{flag})")


def binary_report(y_true: Any, y_score: Any, threshold: float = 0.5, *, kind: str = "auto",
                  warn: bool = True) -> BinaryReport:
    """Precision, recall, F1, accuracy and the confusion counts at ``threshold``.

    Args:
        y_true: (n,) labels in {0, 1} (ints, floats or booleans; list or array).
        y_score: (n,) or (n, 1) scores; the prediction is ``y_score >= threshold``.
        threshold: the decision threshold. Must lie in [0, 1] for probabilities.
        kind: ``"probability"`` (checked to lie in [0, 1]), ``"score"`` (logits or any
            real score) or ``"auto"`` (probabilities if every score is in [0, 1]).
        warn: emit an :class:`UndefinedMetricWarning` when precision or recall is 0/0.

    Returns:
        a :class:`BinaryReport`. Undefined precision/recall are 0.0 and listed in
        ``report.undefined``.
    """
    y = check_binary_labels(y_true, "y_true", dtype=np.int8)
    s, assumed = _binary_scores(y_score, kind)
    check_same_length(y_true=y, y_score=s)
    t = _check_threshold(threshold, assumed)
    warn = check_bool(warn, "warn")
    cm = confusion_matrix(y, s >= t, labels=[0, 1])
    (tn, fp), (fn, tp) = cm
    report = BinaryReport(tp, fp, fn, tn, threshold=t, assumed=assumed)
    if warn and report.undefined:
        why = {"precision": "no example was predicted positive",
               "recall": "y_true has no positive example"}
        warnings.warn("; ".join(f"{m} is undefined ({why[m]}) and reported as 0.0" for m in report.undefined),
                      UndefinedMetricWarning, stacklevel=2)
    return report


# --------------------------------------------------------------------------- PR curve, thresholds
def pr_curve(y_true: Any, y_score: Any, *, kind: str = "auto",
             drop_intermediate: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall pairs for every distinct threshold, as
    :func:`sklearn.metrics.precision_recall_curve` (which does the work).

    Returns ``(precision, recall, thresholds)``: ``precision[i]``/``recall[i]`` are the
    values when predicting ``y_score >= thresholds[i]`` (thresholds increasing); the
    last pair is (1, 0) and has no threshold. With no positive in ``y_true`` recall is
    set to 1 (scikit-learn's convention) and an :class:`UndefinedMetricWarning` is given.
    """
    y = check_binary_labels(y_true, "y_true", dtype=np.int8)
    s, _ = _binary_scores(y_score, kind)
    check_same_length(y_true=y, y_score=s)
    drop_intermediate = check_bool(drop_intermediate, "drop_intermediate")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        precision, recall, thresholds = precision_recall_curve(y, s, pos_label=1,
                                                               drop_intermediate=drop_intermediate)
    for w in caught:
        warnings.warn(str(w.message), UndefinedMetricWarning, stacklevel=2)
    return precision, recall, thresholds


class ThresholdChoice(NamedTuple):
    """What :func:`best_threshold` returns: the threshold and the report there."""

    threshold: float
    report: BinaryReport


def best_threshold(y_true: Any, y_score: Any, objective: str = "f1", *, min_recall: float | None = None,
                   min_precision: float | None = None, kind: str = "auto") -> ThresholdChoice:
    """The decision threshold that is best for ``objective``, and the metrics there.

    Objectives:
        * ``"f1"``: the highest F1;
        * ``"precision"``: the highest precision among thresholds with recall >= ``min_recall``;
        * ``"recall"``: the highest recall among thresholds with precision >= ``min_precision``.

    Ties go to the highest threshold (the fewest positive predictions). Raises
    ``ValueError`` for an unknown objective, a missing/out-of-range constraint, no
    positive example, or a constraint no threshold meets.
    """
    if not isinstance(objective, str):
        check_option(objective, "objective", _OBJECTIVES)  # a TypeError naming the choices
    if objective not in _OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; use one of {', '.join(map(repr, _OBJECTIVES))} "
                         "('precision' needs min_recall=, 'recall' needs min_precision=).")
    need = {"precision": ("min_recall", min_recall), "recall": ("min_precision", min_precision)}
    if objective in need:
        name, value = need[objective]
        if value is None:
            raise ValueError(f"objective={objective!r} needs {name}= (e.g. {name}=0.9).")
        if not 0 <= check_number(value, name) <= 1:
            raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    y = check_binary_labels(y_true, "y_true", dtype=np.int8)
    check_same_length(y_true=y, y_score=_scores("y_score", y_score))
    if not y.any():
        raise ValueError("y_true has no positive example, so no threshold can be chosen for recall, "
                         "precision or F1; score the model on data that contains positives.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        precision, recall, thresholds = pr_curve(y, y_score, kind=kind)
    p, r = precision[:-1], recall[:-1]  # the final (1, 0) point has no threshold
    if objective == "f1":
        denom = p + r
        score = np.divide(2 * p * r, denom, out=np.zeros_like(denom), where=denom > 0)
        feasible = np.ones_like(score, dtype=bool)
    elif objective == "precision":
        score, feasible = p, r >= min_recall
    else:
        score, feasible = r, p >= min_precision
    if not feasible.any():
        best_p = float(p.max())
        raise ValueError(f"no threshold reaches precision >= {min_precision}; the highest precision "
                         f"this model reaches is {best_p:.4f}. Lower min_precision or improve the model.")
    masked = np.where(feasible, score, -np.inf)
    best = masked.max()
    i = int(np.flatnonzero(masked == best)[-1])  # highest threshold among ties
    t = float(thresholds[i])
    _, assumed = _binary_scores(y_score, kind)
    return ThresholdChoice(t, binary_report(y, y_score, t, kind=assumed, warn=False))


# --------------------------------------------------------------------------- multi-class
class MulticlassReport(Report):
    """Per-class precision/recall/F1/support, macro and weighted averages, accuracy and
    the confusion matrix of a multi-class classifier; a read-only mapping.

    Keys (also attributes): ``"per_class"`` ({name: {"precision", "recall", "f1",
    "support"}}), ``"macro avg"``, ``"weighted avg"`` (same four keys), ``"accuracy"``,
    ``"confusion_matrix"`` ((k, k) int array, rows = true class, columns = predicted)
    and ``"assumed"`` (what ``y_true`` and ``y_pred`` were read as). ``to_text()`` is
    :func:`sklearn.metrics.classification_report` plus that last line.
    """

    def __init__(self, values: dict[str, Any], class_names: tuple[str, ...], y_true: np.ndarray,
                 y_pred: np.ndarray):
        self._values = values
        self.class_names = class_names
        self._labels = (y_true, y_pred)  # what classification_report needs for to_text

    def table(self) -> list[tuple[str, float, float, float, int]]:
        """Rows ``(class, precision, recall, f1, support)``."""
        return [(name, m["precision"], m["recall"], m["f1"], m["support"])
                for name, m in self._values["per_class"].items()]

    def to_text(self, digits: int = 3) -> str:
        """:func:`sklearn.metrics.classification_report` of the classes (never-predicted
        classes at 0.0), then what ``y_true`` and ``y_pred`` were read as."""
        digits = check_int(digits, "digits", min_val=0)
        y_true, y_pred = self._labels
        text = classification_report(y_true, y_pred, labels=list(range(len(self.class_names))),
                                     target_names=list(self.class_names), digits=digits, zero_division=0.0)
        a = self._values["assumed"]
        return f"{text.rstrip()}\n(y_true read as {a['y_true']}, y_pred read as {a['y_pred']})"

    def __repr__(self) -> str:
        return self.to_text()


def multiclass_report(y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None) -> MulticlassReport:
    """A per-class report of a multi-class classifier (``sklearn.metrics`` does the sums).

    Args:
        y_true: (n,) integer labels or (n, k) one-hot rows.
        y_pred: (n,) predicted labels, or (n, k) one-hot rows, probabilities or logits
            (the arg-max is the prediction). ``report["assumed"]`` says which was read.
        class_names: k names; default ``"0" .. "k-1"`` with k from the columns or labels.

    Classes that are never predicted get precision 0.0 (not NaN); classes absent from
    ``y_true`` get recall 0.0 and support 0.
    """
    t, t_kind, t_cols = to_labels(y_true, "y_true")
    p, p_kind, p_cols = to_labels(y_pred, "y_pred")
    check_same_length(y_true=t, y_pred=p)
    if t_cols and p_cols and t_cols != p_cols:
        raise ValueError(f"y_true has {t_cols} columns but y_pred has {p_cols}; both need one per class.")
    if class_names is not None:
        class_names = check_names(class_names, "class_names")
        if len(class_names) < 2:
            raise ValueError("class_names needs at least two classes.")
        if (t_cols or p_cols) and len(class_names) != (t_cols or p_cols):
            raise ValueError(f"{len(class_names)} class_names for {t_cols or p_cols} output columns.")
        k = len(class_names)
    else:
        k = t_cols or p_cols or max(int(max(t.max(), p.max())) + 1, 2)
    names = class_names or tuple(str(i) for i in range(k))
    for arg, given in (("y_true", t), ("y_pred", p)):
        top = int(given.max())
        if top >= k:
            raise ValueError(f"{arg} has label {top} but there are only {k} classes ({', '.join(names[:5])}"
                             f"{', ...' if k > 5 else ''}); labels must be 0..{k - 1}.")
    labels = list(range(k))
    prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, zero_division=0.0)
    per_class = {name: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                        "support": int(sup[i])} for i, name in enumerate(names)}
    avgs = {}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(t, p, labels=labels, average=avg, zero_division=0.0)
        avgs[f"{avg} avg"] = {"precision": float(ap), "recall": float(ar), "f1": float(af),
                              "support": int(sup.sum())}
    cm = confusion_matrix(t, p, labels=labels)
    values = {"per_class": per_class, **avgs, "accuracy": float(np.trace(cm) / cm.sum()),
              "confusion_matrix": cm, "assumed": {"y_true": t_kind, "y_pred": p_kind}}
    return MulticlassReport(values, names, t, p)


# --------------------------------------------------------------------------- multi-label
class MultilabelReport(Report):
    """One :class:`BinaryReport` per label plus their macro averages; a read-only mapping
    ``{label name: BinaryReport, ..., "macro avg": {...}}``."""

    def __init__(self, per_label: dict[str, BinaryReport]):
        self._values: dict[str, Any] = dict(per_label)
        self._values["macro avg"] = {k: float(np.mean([r[k] for r in per_label.values()]))
                                     for k in ("precision", "recall", "f1", "accuracy")}

    def to_text(self) -> str:
        lines = [f"{'label':>12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}"]
        for name, r in self._values.items():
            if name == "macro avg":
                continue
            lines.append(f"{name:>12} {r['precision']:>9.3f} {r['recall']:>9.3f} {r['f1']:>9.3f} {r['support']:>9d}")
        m = self._values["macro avg"]
        lines.append(f"{'macro avg':>12} {m['precision']:>9.3f} {m['recall']:>9.3f} {m['f1']:>9.3f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.to_text()
