"""Error analysis: look at the mistakes before deciding what to fix.

The workflow the course teaches: take a reproducible sample of (say) 100 misclassified
validation examples, look at them, tag each with a category ("blurry", "mislabelled",
"shirt vs T-shirt", ...), count the categories, and spend effort on the biggest one::

    ea = labkit.errors.error_analysis(y_val, logits, n=100, seed=0, class_names=names)
    ea.confusion_pairs[:5]            # the most frequent (true, predicted, count)
    fig = ea.plot(x_val)              # the sampled errors with true/pred/confidence
    ea.tag([12, 40, 41], "ambiguous") # indices into the *dataset*
    ea.category_counts()              # Counter({'ambiguous': 3, ...})
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from labkit.metrics import softmax, to_labels
from labkit.validation import check_array, check_bool, check_int, check_names, check_same_length, check_str

__all__ = ["ErrorAnalysis", "error_analysis", "plot_errors"]


class ErrorAnalysis:
    """The misclassified examples of a classifier and tools to study them.

    Attributes:
        all_indices: (m,) dataset indices of every misclassified example, ascending.
        indices: (min(n, m),) a reproducible random sample of them (ascending), the
            ones to look at.
        y_true, y_pred: (N,) labels of the whole dataset.
        confidence: (N,) probability of the predicted class, or ``None`` when labels
            (not scores) were given.
        confusion_pairs: ``[(true, pred, count), ...]`` over all errors, most frequent
            first (ties by label); ``named_pairs()`` gives class names.
        assumed: how the predictions were read ("labels", "probabilities", "logits", ...).
    """

    def __init__(self, y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray | None,
                 sample: np.ndarray, class_names: tuple[str, ...], assumed: str):
        self.y_true, self.y_pred, self.confidence = y_true, y_pred, confidence
        self.class_names = class_names
        self.assumed = assumed
        self.all_indices = np.flatnonzero(y_true != y_pred)
        self.indices = sample
        pairs = Counter(zip(y_true[self.all_indices].tolist(), y_pred[self.all_indices].tolist()))
        self.confusion_pairs: list[tuple[int, int, int]] = sorted(
            ((t, p, c) for (t, p), c in pairs.items()), key=lambda tpc: (-tpc[2], tpc[0], tpc[1]))
        self._tags: dict[int, str] = {}

    # ------------------------------------------------------------------ summaries
    @property
    def n_errors(self) -> int:
        return int(self.all_indices.size)

    @property
    def error_rate(self) -> float:
        return self.n_errors / len(self.y_true)

    def name(self, label: int) -> str:
        return self.class_names[label] if label < len(self.class_names) else str(label)

    def named_pairs(self, top: int | None = None) -> list[tuple[str, str, int]]:
        """``confusion_pairs`` with class names, the ``top`` most frequent."""
        pairs = self.confusion_pairs if top is None else self.confusion_pairs[:top]
        return [(self.name(t), self.name(p), c) for t, p, c in pairs]

    def __repr__(self) -> str:
        top = ", ".join(f"{t}->{p}: {c}" for t, p, c in self.named_pairs(3))
        return (f"ErrorAnalysis({self.n_errors} errors of {len(self.y_true)} ({self.error_rate:.1%}), "
                f"sample of {len(self.indices)}; top pairs {top or 'none'})")

    # ------------------------------------------------------------------ tagging
    def tag(self, index: int | Iterable[int], category: str) -> "ErrorAnalysis":
        """Tag one or more misclassified examples (dataset indices) with a category.

        A later tag replaces an earlier one. Returns ``self`` so calls chain. Raises
        ``ValueError`` for an index that is not a misclassified example.
        """
        category = check_str(category, "category")
        if isinstance(index, (str, bytes, bool, np.bool_)) or not isinstance(index, (int, np.integer, Iterable)):
            raise TypeError(f"index must be a dataset index or a list of them, got {index!r} of type "
                            f"{type(index).__name__}.")
        idx = [check_int(i, "index") for i in ([index] if isinstance(index, (int, np.integer)) else list(index))]
        errors = set(self.all_indices.tolist())
        for i in idx:
            if i not in errors:
                raise ValueError(f"index {i}: example {i} is not misclassified (or out of range); tag indices from "
                                 "`.indices` or `.all_indices`.")
        for i in idx:
            self._tags[int(i)] = category.strip()
        return self

    @property
    def tags(self) -> dict[int, str]:
        return dict(self._tags)

    def untagged(self) -> np.ndarray:
        """Sampled indices that have no tag yet."""
        return np.array([i for i in self.indices if int(i) not in self._tags], dtype=np.int64)

    def category_counts(self, normalize: bool = False) -> Counter | dict[str, float]:
        """Errors per category, most common first (``normalize``: shares of tagged errors)."""
        counts = Counter(self._tags.values())
        if not check_bool(normalize, "normalize"):
            return Counter(dict(counts.most_common()))
        total = sum(counts.values())
        return {k: v / total for k, v in counts.most_common()} if total else {}

    # ------------------------------------------------------------------ plotting
    def plot(self, x: Any, indices: Sequence[int] | None = None, *, ncols: int = 8, max_images: int = 32,
             cmap: str | None = None):
        """A grid of misclassified images titled ``true -> pred (confidence)``; returns the Figure."""
        return plot_errors(self, x, indices, ncols=ncols, max_images=max_images, cmap=cmap)


def error_analysis(y_true: Any, y_pred_or_scores: Any, x: Any = None, n: int = 100, seed: int = 0,
                   class_names: Sequence[str] | None = None) -> ErrorAnalysis:
    """Find the misclassified examples and draw a reproducible sample of ``n`` of them.

    Args:
        y_true: (N,) integer labels or (N, k) one-hot rows.
        y_pred_or_scores: (N,) predicted labels, or (N, k) probabilities / logits / one-hot.
        x: optional (N, ...) inputs, only checked for length (pass them to ``.plot``).
        n: how many errors to sample (all of them when fewer).
        seed: the sample's seed: the same inputs and seed give the same sample.
        class_names: k names for the reports and plots.
    """
    t, _, t_cols = to_labels(y_true, "y_true")
    p, kind, p_cols = to_labels(y_pred_or_scores, "y_pred_or_scores")
    check_same_length(y_true=t, y_pred_or_scores=p)
    if x is not None:
        if not hasattr(x, "__len__"):
            raise TypeError(f"x must be an array of examples (or None), got {type(x).__name__}.")
        check_same_length(y_true=t, x=x)
    n = check_int(n, "n", min_val=1)
    seed = check_int(seed, "seed", min_val=0)
    confidence = None
    if kind in ("probabilities", "logits", "one-hot"):
        scores = np.asarray(y_pred_or_scores, dtype=np.float64)
        probs = softmax(scores) if kind == "logits" else scores
        confidence = probs[np.arange(len(p)), p]
    k = max(int(t.max()), int(p.max())) + 1
    k = max(k, t_cols or 0, p_cols or 0)
    if class_names is not None:
        names = check_names(class_names, "class_names")
        if len(names) < k:
            raise ValueError(f"{len(names)} class_names but labels go up to {k - 1}.")
    else:
        names = tuple(str(i) for i in range(k))
    wrong = np.flatnonzero(t != p)
    rng = np.random.default_rng(int(seed))
    sample = np.sort(rng.choice(wrong, size=min(int(n), wrong.size), replace=False)) if wrong.size else wrong
    return ErrorAnalysis(t, p, confidence, sample.astype(np.int64), names, kind)


def plot_errors(analysis: ErrorAnalysis, x: Any, indices: Sequence[int] | None = None, *, ncols: int = 8,
                max_images: int = 32, cmap: str | None = None):
    """A grid of the sampled errors (or ``indices``), titled ``true -> pred (conf)``,
    with the category tag when there is one. Returns the Figure."""
    from labkit import plots

    if not isinstance(analysis, ErrorAnalysis):
        raise TypeError(f"analysis must be an ErrorAnalysis (from error_analysis(...)), got {type(analysis).__name__}.")
    x = check_array(x, "x", kind="any", min_len=0)
    if len(x) != len(analysis.y_true):
        raise ValueError(f"x has {len(x)} examples but the analysis covers {len(analysis.y_true)}.")
    max_images = check_int(max_images, "max_images", min_val=1)
    check_int(ncols, "ncols", min_val=1)
    if indices is None:
        idx = analysis.indices
    else:
        idx = check_array(indices, "indices", ndim=1, kind="integer", min_len=0)
        if idx.size and (idx.min() < 0 or idx.max() >= len(x)):
            raise ValueError(f"indices must be dataset indices in [0, {len(x)}), got values from {idx.min()} "
                             f"to {idx.max()}.")
    idx = np.asarray(idx, dtype=np.int64)[:max_images]
    if idx.size == 0:
        raise ValueError("there are no misclassified examples to plot (indices is empty).")
    titles, tags = [], analysis.tags
    for i in idx:
        t, p = analysis.name(int(analysis.y_true[i])), analysis.name(int(analysis.y_pred[i]))
        title = f"#{i} {t}\n→ {p}"
        if analysis.confidence is not None:
            title += f" ({analysis.confidence[i]:.0%})"
        if int(i) in tags:
            title += f"\n[{tags[int(i)]}]"
        titles.append(title)
    colors = ["C3" if analysis.y_true[i] != analysis.y_pred[i] else "black" for i in idx]
    fig = plots.plot_image_grid(x[idx], titles, ncols=ncols, cmap=cmap, title_colors=colors)
    return fig
