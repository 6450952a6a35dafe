"""Plots of the workbook. Every function is named ``plot_<what it draws>`` (so none
shares a name with the computation it draws, e.g. :func:`labkit.curves.learning_curve`
or :func:`labkit.metrics.pr_curve`), returns the matplotlib ``Axes`` (or ``Figure``) it
drew on and never calls ``plt.show()`` - the notebook does that.

    plot_history(fit_result, metrics=("loss",))              -> Axes   train and val_ curves per epoch
    plot_learning_curve(curve, baseline=0.165)               -> Axes   error vs training-set size
    plot_validation_curve(curve)                             -> Axes   error vs a hyper-parameter
    plot_pr_curve(precision, recall, operating_point=...)    -> Axes   sklearn's PrecisionRecallDisplay
    plot_confusion_matrix(cm, class_names, normalize=True)   -> Axes   sklearn's ConfusionMatrixDisplay
    plot_image_grid(images, titles, ncols=8)                 -> Figure a grid of images

The curves and the image grid are labkit's own (scikit-learn has no drawing of a Keras
history or of labkit's curve results); the PR curve and the confusion matrix are drawn
by scikit-learn's Display classes, with labkit's input checks and additions in front.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay

from labkit.validation import check_array, check_bool, check_int, check_names, check_number, check_str, check_values

__all__ = ["plot_history", "plot_learning_curve", "plot_validation_curve", "plot_pr_curve",
           "plot_confusion_matrix", "plot_image_grid"]


def _axes(ax, figsize=(5.5, 3.8)):
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _ticks_at(ax, positions, labels) -> None:
    """Major ticks exactly at ``positions`` with ``labels``; no minor tick labels."""
    ax.set_xticks(list(positions), labels)
    ax.xaxis.set_minor_formatter(NullFormatter())


def _history_dict(h: Any) -> Mapping[str, Sequence[float]]:
    if hasattr(h, "history") and isinstance(h.history, Mapping):  # FitResult or keras History
        h = h.history
    if not isinstance(h, Mapping):
        raise TypeError("h must be a dict of per-epoch lists, a labkit FitResult or a keras History; "
                        f"got {type(h).__name__}.")
    if not h:
        raise ValueError("h (the history) needs a non-empty dict of per-epoch lists, a labkit FitResult or a "
                         "keras History; got an empty one.")
    return h


def _title(title: Any, name: str = "title") -> str | None:
    return None if title is None else check_str(title, name, allow_empty=True)


def plot_history(h: Any, metrics: Sequence[str] | str = ("loss",), ax=None, *, title: str | None = None):
    """Training and validation curves per epoch.

    ``h``: a dict ``{"loss": [...], "val_loss": [...], ...}``, a labkit ``FitResult`` or a
    Keras ``History``. For each metric m, ``m`` is drawn solid and ``val_m`` dashed in the
    same colour (when present). Returns the Axes.
    """
    hist = _history_dict(h)
    metrics = (metrics,) if isinstance(metrics, str) else check_names(metrics, "metrics")
    missing = [m for m in metrics if m not in hist]
    if missing:
        raise ValueError(f"metrics: the history has no {missing}; it has {sorted(hist)}.")
    title = _title(title)
    curves = {}
    for m in metrics:
        for key in (m, f"val_{m}"):
            if key in hist:  # a diverged run logs NaN: draw it as a gap, do not refuse it
                curves[key] = check_array(hist[key], f"h[{key!r}]", ndim=1, finite=False).astype(float)
    ax = _axes(ax)
    for i, m in enumerate(metrics):
        color = f"C{i}"
        y = curves[m]
        epochs = np.arange(1, len(y) + 1)
        ax.plot(epochs, y, "-o", ms=3, color=color, label=f"train {m}")
        if f"val_{m}" in curves:
            yv = curves[f"val_{m}"]
            ax.plot(np.arange(1, len(yv) + 1), yv, "--o", ms=3, color=color, label=f"validation {m}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metrics[0] if len(metrics) == 1 else "value")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def _curve_arrays(curve, x, train, val, xname):
    if curve is not None:
        if not all(hasattr(curve, a) for a in (xname, "train_error", "val_error")):
            raise TypeError(f"curve must be a labkit.curves result with {xname}, train_error and val_error, "
                            f"got {type(curve).__name__}.")
        x = getattr(curve, xname)
        train, val = curve.train_error, curve.val_error
    if x is None or train is None or val is None:
        raise ValueError(f"pass a curve result or all of {xname}, train_error and val_error.")
    x, train, val = (check_array(a, name, min_len=0).astype(float)
                     for a, name in ((x, xname), (train, "train_error"), (val, "val_error")))
    if not (x.shape == train.shape == val.shape) or x.ndim != 1 or x.size == 0:
        raise ValueError(f"{xname}, train_error and val_error must be 1-D of one length, got "
                         f"{x.shape}, {train.shape}, {val.shape}.")
    return x, train, val


def _baseline(baseline: Any) -> float | None:
    return None if baseline is None else check_number(baseline, "baseline")


def plot_learning_curve(curve=None, *, train_sizes=None, train_error=None, val_error=None,
                   baseline: float | None = None, baseline_label: str = "baseline", ax=None,
                   title: str | None = None, ylabel: str = "error"):
    """Training and validation error against the training-set size, with an optional
    horizontal ``baseline`` (human-level error, a competing system, a guess).

    Pass a :class:`labkit.curves.LearningCurve` or the three arrays. Returns the Axes.
    """
    x, tr, va = _curve_arrays(curve, train_sizes, train_error, val_error, "train_sizes")
    if x.min() <= 0:
        raise ValueError(f"train_sizes must be positive (they are drawn on a log axis), got {x.tolist()}.")
    baseline = _baseline(baseline)
    baseline_label, ylabel = check_str(baseline_label, "baseline_label"), check_str(ylabel, "ylabel", allow_empty=True)
    title = _title(title)
    ax = _axes(ax)
    ax.plot(x, tr, "-o", color="C0", label="training error")
    ax.plot(x, va, "-o", color="C1", label="validation error")
    if baseline is not None:
        ax.axhline(float(baseline), color="k", ls=":", lw=1.5, label=f"{baseline_label} ({baseline:.3g})")
    ax.set_xscale("log")
    _ticks_at(ax, x, [f"{int(v):,}" for v in x])
    ax.set_xlabel("training examples")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax


def plot_validation_curve(curve=None, *, param_values=None, train_error=None, val_error=None,
                     param_name: str | None = None, log_x: bool | None = None, best: bool = True,
                     baseline: float | None = None, ax=None, title: str | None = None, ylabel: str = "error"):
    """Training and validation error against a hyper-parameter (e.g. the L2 λ).

    Pass a :class:`labkit.curves.ValidationCurve` or the three arrays. The x-axis is
    logarithmic when every value is positive and they span over a factor 20 (``log_x``
    overrides); a zero is drawn at the left edge of a log axis. Marks the value with
    the lowest validation error when ``best``. Returns the Axes.
    """
    x, tr, va = _curve_arrays(curve, param_values, train_error, val_error, "param_values")
    if param_name is None:
        param_name = getattr(curve, "param_name", "parameter")
    param_name = check_str(param_name, "param_name")
    if log_x is not None:
        log_x = check_bool(log_x, "log_x")
    best = check_bool(best, "best")
    baseline = _baseline(baseline)
    ylabel, title = check_str(ylabel, "ylabel", allow_empty=True), _title(title)
    ax = _axes(ax)
    pos = x[x > 0]
    if log_x is None:
        log_x = pos.size >= 2 and pos.max() / pos.min() > 20
    xp = x.copy()
    if log_x and (x <= 0).any():
        xp[x <= 0] = pos.min() / 10 if pos.size else 1e-6  # draw zero one decade left of the smallest
    ax.plot(xp, tr, "-o", color="C0", label="training error")
    ax.plot(xp, va, "-o", color="C1", label="validation error")
    if baseline is not None:
        ax.axhline(float(baseline), color="k", ls=":", lw=1.5, label=f"baseline ({baseline:.3g})")
    if best:
        i = int(np.argmin(va))
        ax.plot([xp[i]], [va[i]], "*", ms=14, color="C3", label=f"best {param_name} = {x[i]:g}")
    if log_x:
        ax.set_xscale("log")
        _ticks_at(ax, xp, [f"{v:g}" for v in x])  # label the values tried (0 at its stand-in spot)
    ax.set_xlabel(param_name)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax


def plot_pr_curve(precision, recall, operating_point: Mapping[str, float] | None = None, ax=None, *,
                  label: str | None = None, title: str | None = None):
    """A precision-recall curve drawn by :class:`sklearn.metrics.PrecisionRecallDisplay`.

    ``precision``, ``recall``: the arrays :func:`labkit.metrics.pr_curve` returns. What
    labkit adds: the arrays are checked (1-D, one length, values in [0, 1]), and an
    optional ``operating_point`` - a mapping with ``precision`` and ``recall`` (and
    optionally ``threshold``) such as a :class:`labkit.metrics.BinaryReport` - is marked
    and labelled ``P=…, R=… @ t=…``. Returns the Axes.
    """
    p = check_values(check_array(precision, "precision", min_len=0).astype(float), "precision", min_val=0, max_val=1)
    r = check_values(check_array(recall, "recall", min_len=0).astype(float), "recall", min_val=0, max_val=1)
    if p.shape != r.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(f"precision and recall must be 1-D of one length, got {p.shape} and {r.shape}.")
    label, title = _title(label, "label"), _title(title)
    if operating_point is not None:
        if not isinstance(operating_point, Mapping):
            raise TypeError(f"operating_point must be a mapping with 'precision' and 'recall' (e.g. a BinaryReport), "
                            f"got {type(operating_point).__name__}.")
        if "precision" not in operating_point or "recall" not in operating_point:
            raise ValueError("operating_point needs 'precision' and 'recall' (e.g. a BinaryReport).")
        op_p = check_number(operating_point["precision"], "operating_point['precision']", min_val=0, max_val=1)
        op_r = check_number(operating_point["recall"], "operating_point['recall']", min_val=0, max_val=1)
        t = getattr(operating_point, "threshold", None)
        if t is None:
            t = operating_point.get("threshold")
    ax = _axes(ax, figsize=(4.5, 4.2))
    PrecisionRecallDisplay(precision=p, recall=r).plot(ax=ax, name=label or "PR curve", curve_kwargs={"color": "C0"})
    if operating_point is not None:
        text = f"P={op_p:.2f}, R={op_r:.2f}" + (f" @ t={float(t):.3g}" if t is not None else "")
        ax.plot([op_r], [op_p], "o", ms=9, color="C3", label=f"operating point ({text})")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return ax


def plot_confusion_matrix(cm, class_names: Sequence[str] | None = None, ax=None, *, normalize: bool = False,
                          cmap: str = "Blues", title: str | None = None, annotate: bool | None = None):
    """A confusion matrix (rows: true class, columns: predicted) drawn by
    :class:`sklearn.metrics.ConfusionMatrixDisplay`.

    ``cm``: a (k, k) matrix you already have, such as ``report.confusion_matrix`` of a
    :class:`labkit.metrics.MulticlassReport`. What labkit adds: the matrix and names are
    checked; ``normalize=True`` divides each row by its total (rows with no example stay
    0), so the diagonal is per-class recall, on a fixed [0, 1] colour scale; cells are
    annotated only when k <= 15 (``annotate`` overrides); the figure grows with k.
    Returns the Axes.
    """
    m = check_array(cm, "cm", min_len=0)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.size == 0:
        raise ValueError(f"cm must be a square (k, k) matrix, got shape {m.shape}.")
    if m.min() < 0:
        raise ValueError(f"cm must hold counts (or rates) >= 0, got a value of {m.min():g}.")
    k = m.shape[0]
    names = list(check_names(class_names, "class_names")) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class_names for a {k}x{k} matrix.")
    normalize = check_bool(normalize, "normalize")
    if annotate is not None:
        annotate = check_bool(annotate, "annotate")
    cmap, title = check_str(cmap, "cmap"), _title(title)
    if normalize:
        rows = m.sum(axis=1, keepdims=True).astype(float)
        m = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    counts = not normalize and np.all(m == np.round(m))
    ax = _axes(ax, figsize=(0.55 * k + 2.5, 0.55 * k + 2.0))
    ConfusionMatrixDisplay(m.astype(np.int64) if counts else m, display_labels=names).plot(
        ax=ax, cmap=cmap, include_values=k <= 15 if annotate is None else annotate,
        values_format="d" if counts else ".2f", xticks_rotation=45, text_kw={"fontsize": 8},
        im_kw={"vmin": 0, "vmax": 1 if normalize else None})
    for tick in ax.get_xticklabels():
        tick.set_ha("right")
    if title:
        ax.set_title(title)
    return ax


def plot_image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, cmap: str | None = None, *,
               figsize: tuple[float, float] | None = None, title_colors: Sequence[str] | None = None,
               suptitle: str | None = None):
    """Images in a grid, one optional title (and title colour) each. Returns the Figure.

    ``images``: (n, H, W), (n, H, W, 1) or (n, H, W, 3), uint8 or floats in [0, 1].
    Greyscale images use ``cmap`` (default ``"gray_r"``: dark ink on white).
    """
    imgs = check_array(images, "images", min_len=0)
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        imgs = imgs[..., 0]
    if imgs.ndim not in (3, 4) or len(imgs) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W[, C]) array, got shape {imgs.shape}.")
    if imgs.ndim == 4 and imgs.shape[-1] not in (3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels (grey, RGB, RGBA), got {imgs.shape[-1]} "
                         f"(shape {imgs.shape}).")
    n = len(imgs)
    if titles is not None:
        titles = check_names(titles, "titles", min_len=0)
        if len(titles) != n:
            raise ValueError(f"{len(titles)} titles for {n} images.")
    if title_colors is not None:
        title_colors = check_names(title_colors, "title_colors", min_len=0)
        if len(title_colors) != n:
            raise ValueError(f"{len(title_colors)} title_colors for {n} images; pass one colour per image.")
    ncols = min(check_int(ncols, "ncols", min_val=1), n)
    suptitle = _title(suptitle, "suptitle")
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (1.35 * ncols, 1.8 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = imgs[i]
        ax.imshow(img, cmap=(cmap or "gray_r") if img.ndim == 2 else None)
        if titles is not None:
            color = title_colors[i] if title_colors is not None else "black"
            ax.set_title(str(titles[i]), fontsize=8, color=color)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
