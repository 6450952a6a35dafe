"""Metrics for Keras classifiers, with ``sklearn.metrics`` doing the arithmetic.

What this module adds to scikit-learn is safety and convenience around it:

* inputs are validated once, with a ``ValueError`` that says what was wrong
  (mismatched lengths, empty arrays, labels that are not 0/1, NaN/inf scores,
  probabilities outside [0, 1], thresholds outside the score range);
* model outputs of every kind are understood - labels, one-hot rows, probabilities
  or logits - and the report says which kind it assumed;
* undefined values (precision with no predicted positives, recall with no actual
  positives) are 0.0, flagged in the report and warned about, never NaN.

Public functions::

    binary_report(y_true, y_score, threshold=0.5)     -> BinaryReport (a mapping)
    pr_curve(y_true, y_score)                          -> (precision, recall, thresholds)
    best_threshold(y_true, y_score, objective="f1")    -> ThresholdChoice(threshold, report)
    multiclass_report(y_true, y_pred, class_names)     -> MulticlassReport (a mapping)
    evaluate(model, x, y)                              -> the right report for the model's output
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Iterator, NamedTuple

import numpy as np

from labkit.validation import (check_array, check_axis, check_binary_labels, check_bool, check_int, check_labels,
                               check_names, check_number, check_option, check_same_length, check_str)

__all__ = [
    "BinaryReport", "MulticlassReport", "MultilabelReport", "ThresholdChoice",
    "UndefinedMetricWarning", "binary_report", "pr_curve", "best_threshold",
    "multiclass_report", "evaluate", "to_labels", "softmax", "sigmoid",
]

_SCORE_KINDS = ("auto", "probability", "score")
_OBJECTIVES = ("f1", "precision", "recall")


class UndefinedMetricWarning(UserWarning):
    """Precision or recall was undefined (0/0) and was reported as 0.0."""


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
class BinaryReport(Mapping):
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

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"BinaryReport has no {name!r}; keys: {', '.join(self.KEYS)}") from None

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
    from sklearn.metrics import confusion_matrix

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
    from sklearn.metrics import precision_recall_curve

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
def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = check_array(logits, "logits").astype(np.float64)
    axis = check_axis(axis, z.ndim)
    if z.shape[axis] == 0:
        raise ValueError(f"logits has no entries along axis {axis} (shape {z.shape}); softmax needs at least one.")
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = check_array(x, "x", min_len=0).astype(np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _kind_of_2d(arr: np.ndarray) -> str:
    """"one-hot", "probabilities" or "logits" for an (n, k) array."""
    is01 = np.logical_or(arr == 0, arr == 1).all()
    sums = arr.sum(axis=1)
    if is01 and np.all(sums == 1):
        return "one-hot"
    if arr.min() >= 0 and arr.max() <= 1 and np.allclose(sums, 1.0, atol=1e-3):
        return "probabilities"
    return "logits"


def to_labels(y: Any, name: str = "y", num_classes: int | None = None) -> tuple[np.ndarray, str, int | None]:
    """Class labels from labels, one-hot rows, probabilities or logits.

    Returns ``(labels (n,) int64, assumed kind, number of columns or None)``; the
    kind is one of ``"labels"``, ``"one-hot"``, ``"probabilities"``, ``"logits"``.
    """
    name = check_str(name, "name")
    if num_classes is not None:
        num_classes = check_int(num_classes, "num_classes", min_val=2)
    arr = check_array(y, name, ndim=(1, 2))
    if arr.ndim == 2:
        if arr.shape[1] < 2:
            raise ValueError(f"{name} has shape {arr.shape}; a multi-class output needs one column per class "
                             "(use binary_report for a single score column).")
        if num_classes is not None and arr.shape[1] != num_classes:
            raise ValueError(f"{name} has {arr.shape[1]} columns but num_classes is {num_classes}.")
        return np.argmax(arr, axis=1).astype(np.int64), _kind_of_2d(arr.astype(np.float64)), arr.shape[1]
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} is 1-D with non-integer values; class labels must be whole numbers "
                         "(for scores of a binary model use binary_report).")
    if arr.dtype.kind != "b" and arr.min() < 0:
        raise ValueError(f"{name} has negative class labels ({int(arr.min())}); labels must be 0..k-1.")
    labels = check_labels(arr.astype(np.int64), name, n_classes=num_classes)
    return labels, "labels", None


class MulticlassReport(Mapping):
    """Per-class precision/recall/F1/support, macro and weighted averages, accuracy and
    the confusion matrix of a multi-class classifier; a read-only mapping.

    Keys: ``"per_class"`` ({name: {"precision", "recall", "f1", "support"}}),
    ``"macro avg"``, ``"weighted avg"`` (same four keys), ``"accuracy"``,
    ``"confusion_matrix"`` ((k, k) int array, rows = true class, columns = predicted)
    and ``"assumed"`` (what ``y_true`` and ``y_pred`` were read as).
    """

    def __init__(self, values: dict[str, Any], class_names: tuple[str, ...]):
        self._values = values
        self.class_names = class_names

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def accuracy(self) -> float:
        return self._values["accuracy"]

    @property
    def confusion_matrix(self) -> np.ndarray:
        return self._values["confusion_matrix"]

    @property
    def assumed(self) -> dict[str, str]:
        return self._values["assumed"]

    def table(self) -> list[tuple[str, float, float, float, int]]:
        """Rows ``(class, precision, recall, f1, support)``."""
        return [(name, m["precision"], m["recall"], m["f1"], m["support"])
                for name, m in self._values["per_class"].items()]

    def to_text(self, digits: int = 3) -> str:
        width = max(12, *(len(n) for n in self.class_names))
        head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}"
        lines = [head]
        for name, p, r, f, s in self.table():
            lines.append(f"{name:>{width}} {p:>9.{digits}f} {r:>9.{digits}f} {f:>9.{digits}f} {s:>9d}")
        n = int(self.confusion_matrix.sum())
        lines.append("")
        lines.append(f"{'accuracy':>{width}} {'':>9} {'':>9} {self.accuracy:>9.{digits}f} {n:>9d}")
        for avg in ("macro avg", "weighted avg"):
            m = self._values[avg]
            lines.append(f"{avg:>{width}} {m['precision']:>9.{digits}f} {m['recall']:>9.{digits}f} "
                         f"{m['f1']:>9.{digits}f} {m['support']:>9d}")
        a = self.assumed
        lines.append(f"(y_true read as {a['y_true']}, y_pred read as {a['y_pred']})")
        return "\n".join(lines)

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
    for arg, labels in (("y_true", t), ("y_pred", p)):
        top = int(labels.max())
        if top >= k:
            raise ValueError(f"{arg} has label {top} but there are only {k} classes ({', '.join(names[:5])}"
                             f"{', ...' if k > 5 else ''}); labels must be 0..{k - 1}.")
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

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
    return MulticlassReport(values, names)


# --------------------------------------------------------------------------- multi-label
class MultilabelReport(Mapping):
    """One :class:`BinaryReport` per label plus their macro averages; a read-only mapping
    ``{label name: BinaryReport, ..., "macro avg": {...}}``."""

    def __init__(self, per_label: dict[str, BinaryReport]):
        self._values: dict[str, Any] = dict(per_label)
        self._values["macro avg"] = {k: float(np.mean([r[k] for r in per_label.values()]))
                                     for k in ("precision", "recall", "f1", "accuracy")}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

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


# --------------------------------------------------------------------------- Keras models
def _last_activation(model: Any) -> str | None:
    try:
        layer = model.layers[-1]
    except (AttributeError, IndexError, TypeError):
        return None
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None) if act is not None else None


def evaluate(model: Any, x: Any, y: Any, *, batch_size: int = 256, threshold: float = 0.5,
             output: str = "auto", from_logits: bool | None = None,
             class_names: Sequence[str] | None = None) -> BinaryReport | MulticlassReport | MultilabelReport:
    """Predict ``x`` with a Keras model once (batched) and return the right report.

    Args:
        model: a Keras model (anything with ``predict(x, batch_size=, verbose=)``).
        x, y: inputs and targets; ``y`` is (n,) labels, (n, k) one-hot, or (n, k)
            multi-hot for a multi-label model.
        threshold: probability threshold for binary and multi-label outputs.
        output: ``"binary"``, ``"multiclass"``, ``"multilabel"`` or ``"auto"``: one
            output unit -> binary; several units and ``y`` with several 1s per row ->
            multi-label; otherwise multi-class.
        from_logits: whether the model outputs logits. ``None`` reads the last layer's
            activation (sigmoid/softmax -> probabilities, otherwise logits, the labkit
            convention) and falls back to the output range.
    """
    output = check_option(output, "output", ("auto", "binary", "multiclass", "multilabel"))
    batch_size = check_int(batch_size, "batch_size", min_val=1)
    threshold = check_number(threshold, "threshold")
    if from_logits is not None:
        from_logits = check_bool(from_logits, "from_logits")
    if class_names is not None:
        class_names = check_names(class_names, "class_names")
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must be a Keras model (anything with predict(x, batch_size=, verbose=)), "
                        f"got {type(model).__name__}.")
    y_arr = check_array(y, "y", ndim=(1, 2), min_len=0)
    if len(x) != len(y_arr):
        raise ValueError(f"x has {len(x)} examples but y has {len(y_arr)}; pass one target per example.")
    if len(x) == 0:
        raise ValueError("x is empty; pass at least one example.")
    out = check_array(model.predict(x, batch_size=batch_size, verbose=0), "model output", min_len=0, finite=False)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        raise ValueError(f"model output contains {bad} NaN or infinite value(s); a model that outputs NaN has "
                         "diverged - fix the model (or drop those rows) before scoring it.")
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2:
        raise ValueError(f"model output has shape {out.shape}; evaluate handles (n,), (n, 1) and (n, k) outputs.")
    if output == "auto":
        if out.shape[1] == 1:
            output = "binary"
        elif y_arr.ndim == 2 and y_arr.shape[1] == out.shape[1] and np.any(y_arr.sum(axis=1) != 1):
            output = "multilabel"
        else:
            output = "multiclass"
    if from_logits is None:
        act = _last_activation(model)
        if act in ("sigmoid", "softmax"):
            from_logits = False
        elif act is not None:
            from_logits = True
        else:
            from_logits = not (out.min() >= 0 and out.max() <= 1)
    if output == "multiclass":
        if y_arr.ndim == 1:
            check_labels(y_arr, "y", n_classes=out.shape[1])
        return multiclass_report(y_arr, out, class_names=class_names)
    probs = sigmoid(out) if from_logits else out
    if output == "binary":
        if out.shape[1] != 1:
            raise ValueError(f"output='binary' needs one output unit, the model has {out.shape[1]}.")
        report = binary_report(check_binary_labels(y_arr, "y"), probs[:, 0], threshold, kind="probability")
        report.assumed = "logits" if from_logits else "probability"
        return report
    if y_arr.shape != out.shape:
        raise ValueError(f"multi-label y has shape {y_arr.shape}, the model output {out.shape}; they must match.")
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(out.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        per_label = {names[j]: binary_report(y_arr[:, j], probs[:, j], threshold, kind="probability")
                     for j in range(out.shape[1])}
    return MultilabelReport(per_label)
