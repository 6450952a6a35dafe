"""Metrics for Keras classifiers, with ``sklearn.metrics`` doing the arithmetic.

Three modules, one concern each (everything is importable from ``labkit.metrics``):

* :mod:`labkit.metrics.reports` - reports of predictions: binary (at a threshold),
  the precision-recall curve and threshold choice, multi-class, multi-label; each a
  read-only mapping (:class:`Report`);
* :mod:`labkit.metrics.evaluation` - :func:`evaluate`: predict with a Keras model once
  and return the report that fits its output;
* :mod:`labkit.metrics.scores` - reading outputs: :func:`to_labels`, :func:`softmax`,
  :func:`sigmoid` (SciPy's, behind labkit's checks).

Public functions::

    binary_report(y_true, y_score, threshold=0.5)     -> BinaryReport (a mapping)
    pr_curve(y_true, y_score)                          -> (precision, recall, thresholds)
    best_threshold(y_true, y_score, objective="f1")    -> ThresholdChoice(threshold, report)
    multiclass_report(y_true, y_pred, class_names)     -> MulticlassReport (a mapping)
    evaluate(model, x, y)                              -> the right report for the model's output
    to_labels(y), softmax(logits), sigmoid(x)
"""
from __future__ import annotations

from labkit.metrics.evaluation import evaluate
from labkit.metrics.reports import (
                                    BinaryReport,
                                    MulticlassReport,
                                    MultilabelReport,
                                    Report,
                                    ThresholdChoice,
                                    UndefinedMetricWarning,
                                    best_threshold,
                                    binary_report,
                                    multiclass_report,
                                    pr_curve,
)
from labkit.metrics.scores import sigmoid, softmax, to_labels

__all__ = [
    "Report", "BinaryReport", "MulticlassReport", "MultilabelReport", "ThresholdChoice",
    "UndefinedMetricWarning", "binary_report", "pr_curve", "best_threshold",
    "multiclass_report", "evaluate", "to_labels", "softmax", "sigmoid",
]
