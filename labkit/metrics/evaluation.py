"""Scoring a Keras classifier: :func:`evaluate` predicts once (batched), reads what the
model outputs (one sigmoid unit, k logits or probabilities, k independent sigmoids) and
returns the matching report from :mod:`labkit.metrics.reports`.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.metrics.reports import (
    BinaryReport,
    MulticlassReport,
    MultilabelReport,
    UndefinedMetricWarning,
    binary_report,
    multiclass_report,
)
from labkit.metrics.scores import sigmoid
from labkit.validation import (
    check_array,
    check_binary_labels,
    check_bool,
    check_int,
    check_labels,
    check_names,
    check_number,
    check_option,
)

__all__ = ["evaluate"]

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
