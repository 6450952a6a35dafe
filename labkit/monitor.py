"""Drift monitoring: is live data still like the data the model was tested on?

Labels arrive late (or never) after deployment, so a monitor compares what *is*
available at once - the inputs, an embedding of them, the model's confidence - with a
reference sample taken when the model was validated.

* :func:`ks_test` / :func:`ks_statistic` - two-sample Kolmogorov-Smirnov test, one per
  feature (column): ``scipy.stats.ks_2samp`` along axis 0, behind labkit's input checks.
* :func:`psi` - population stability index per feature, bins from reference quantiles
  (labkit's own: neither SciPy nor scikit-learn computes it).
* :class:`DriftDetector` - per-feature tests on a window of live rows, combined with a
  Bonferroni correction (KS) so that the false-alarm rate on windows drawn from the
  reference distribution is at most ``alpha``; or a PSI score against a threshold
  calibrated on held-out reference windows.
* :func:`confidence` - max softmax probability from logits (the input of a
  prediction-confidence detector: ``DriftDetector(confidence(ref_logits)[:, None])``).
* :func:`windows` - split a stream into consecutive windows.

Example::

    det = DriftDetector(reference_embeddings, alpha=0.01)
    report = det.test(live_embeddings[:500])
    report.drift, report.score, report.threshold
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal

import numpy as np

from labkit.metrics import softmax
from labkit.validation import check_array, check_bool, check_int, check_number, check_option

__all__ = ["ks_test", "ks_statistic", "psi", "confidence", "windows", "DriftReport", "DriftDetector"]


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    arr = check_array(x, name, min_len=2).astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (n_samples,) or (n_samples, n_features), got shape {arr.shape}; "
                         "flatten images or pass embeddings.")
    return arr


def _pair(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_2d(ref, "reference"), _as_2d(cur, "current")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"reference has {a.shape[1]} features but current has {b.shape[1]}; "
                         "compare the same features (same embedding layer, same flattening).")
    return a, b


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature two-sample KS test: ``(statistics (d,), p_values (d,))``, from
    ``scipy.stats.ks_2samp(reference, current, method="asymp", axis=0)``.

    reference: (n, d) or (n,); current: (m, d) or (m,). The statistic is
    ``D = sup |F_ref - F_cur|`` in [0, 1]; the p-values are the asymptotic ones (the
    same cost for every window size, which the detector's Bonferroni bound assumes).
    For discrete features (ties) the test is conservative: p-values are too large, never
    too small. What labkit adds: both samples are checked (numeric, finite, at least two
    rows, the same number of features) with a message that names the one at fault.
    """
    from scipy.stats import ks_2samp

    a, b = _pair(reference, current)
    res = ks_2samp(a, b, method="asymp", axis=0)
    d = np.atleast_1d(np.asarray(res.statistic, dtype=np.float64))
    return d, np.clip(np.atleast_1d(np.asarray(res.pvalue, dtype=np.float64)), 0.0, 1.0)


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The KS statistic ``D`` per feature alone: ``ks_test(reference, current)[0]``."""
    return ks_test(reference, current)[0]


def _psi_bins(reference: np.ndarray, bins: int, eps: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per feature: (quantile edges, reference fractions per bin)."""
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    out = []
    for j in range(reference.shape[1]):
        edges = np.unique(np.quantile(reference[:, j], qs))
        idx = np.searchsorted(edges, reference[:, j], side="right")
        p = np.bincount(idx, minlength=len(edges) + 1) / reference.shape[0]
        out.append((edges, np.maximum(p, eps)))
    return out


def _psi_from_bins(spec: list[tuple[np.ndarray, np.ndarray]], current: np.ndarray, eps: float) -> np.ndarray:
    out = np.empty(len(spec))
    for j, (edges, p) in enumerate(spec):
        idx = np.searchsorted(edges, current[:, j], side="right")
        q = np.maximum(np.bincount(idx, minlength=len(edges) + 1) / current.shape[0], eps)
        out[j] = float(np.sum((q - p) * np.log(q / p)))
    return out


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> np.ndarray:
    """Population stability index per feature: ``sum((q - p) * ln(q / p))`` over bins.

    Bin edges are the reference's quantiles (so each bin holds about ``1/bins`` of the
    reference); ``p``/``q`` are the reference/current fractions per bin, floored at
    ``eps``. Rule of thumb: < 0.1 stable, 0.1-0.25 some shift, > 0.25 major shift
    (but PSI grows as windows shrink: calibrate a threshold for your window size).
    reference: (n, d) or (n,); current: (m, d) or (m,). Returns (d,) non-negative floats.
    """
    bins = check_int(bins, "bins", min_val=2)
    eps = check_number(eps, "eps", min_val=0, max_val=1, include_min=False, include_max=False)
    a, b = _pair(reference, current)
    return _psi_from_bins(_psi_bins(a, bins, eps), b, eps)


def _max_psi(spec: list[tuple[np.ndarray, np.ndarray]], eps: float) -> float:
    """The largest PSI any window can reach: all of it in one bin (the rest floored at ``eps``)."""
    best = 0.0
    for _, p in spec:
        floor = np.sum((eps - p) * np.log(eps / p))  # every bin at eps ...
        for i in range(len(p)):  # ... but bin i, which holds everything
            best = max(best, float(floor - (eps - p[i]) * np.log(eps / p[i]) + (1 - p[i]) * np.log(1 / p[i])))
    return best


def confidence(logits: np.ndarray) -> np.ndarray:
    """Max softmax probability per row of ``logits`` (n, k) -> (n,); the softmax is
    ``scipy.special.softmax`` (via :func:`labkit.metrics.softmax`)."""
    z = check_array(logits, "logits").astype(np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be (n_samples, n_classes>=2), got shape {z.shape}.")
    return softmax(z, axis=1).max(axis=1)


def windows(x: np.ndarray, size: int, *, drop_last: bool = True) -> Iterator[np.ndarray]:
    """Consecutive windows of ``size`` rows of a stream ``x`` (the last partial one dropped).

    The arguments are checked at the call, not at the first ``next()``.
    """
    if not (hasattr(x, "__len__") and hasattr(x, "__getitem__")) or isinstance(x, (str, bytes)):
        raise TypeError(f"x must be an array (a stream of rows), got {type(x).__name__}.")
    size = check_int(size, "size", min_val=2)
    return _windows(x, size, check_bool(drop_last, "drop_last"))


def _windows(x, size: int, drop_last: bool) -> Iterator[np.ndarray]:
    n = len(x)
    for start in range(0, n, size):
        if drop_last and start + size > n:
            return
        yield x[start:start + size]


@dataclass
class DriftReport:
    """Result of one window: ``drift`` is ``score > threshold``.

    For KS, ``score`` is ``-log10(min p * n_features)`` (Bonferroni) and ``threshold``
    is ``-log10(alpha)``; for PSI, ``score`` is the largest per-feature PSI.
    """

    drift: bool
    score: float
    threshold: float
    method: str
    statistics: np.ndarray = field(repr=False)
    p_values: np.ndarray | None = field(default=None, repr=False)

    @property
    def top_features(self) -> np.ndarray:
        """Feature indices sorted from most to least shifted."""
        return np.argsort(-self.statistics, kind="stable")


class DriftDetector:
    """Windowed drift detector on a fixed reference sample.

    reference: (n, d) rows seen when the model was validated (inputs, embeddings, or
    confidences as (n, 1)). ``method="ks"`` runs one KS test per feature and flags a
    window when the smallest p-value is below ``alpha / d`` (Bonferroni): under no
    shift the chance of a false alarm per window is at most ``alpha``, whatever the
    correlation between features. ``method="psi"`` flags when the largest per-feature
    PSI exceeds ``psi_threshold``; pass ``psi_threshold=None`` to calibrate it as the
    ``1 - alpha`` quantile of the score on ``calibration_windows`` bootstrap windows of
    ``window_size`` rows drawn from a held-out half of the reference (the other half
    is then the reference); ``seed`` seeds that split and those draws (``None``: a fresh
    draw each time).
    """

    def __init__(self, reference: np.ndarray, *, method: Literal["ks", "psi"] = "ks", alpha: float = 0.01,
                 bins: int = 10, psi_threshold: float | None = 0.25, window_size: int = 500,
                 calibration_windows: int = 50, seed: int | None = 0):
        kind = check_option(method, "method", ("ks", "psi"))
        alpha = check_number(alpha, "alpha", min_val=0, max_val=1, include_min=False, include_max=False)
        bins = check_int(bins, "bins", min_val=2)  # one bin holds everything: PSI would always be 0
        window_size = check_int(window_size, "window_size", min_val=2)
        calibration_windows = check_int(calibration_windows, "calibration_windows", min_val=1)
        if seed is not None:
            seed = check_int(seed, "seed", min_val=0)
        if psi_threshold is not None:
            psi_threshold = check_number(psi_threshold, "psi_threshold", min_val=0, include_min=False)
        ref = _as_2d(reference, "reference")
        self.method, self.alpha, self.bins = kind, alpha, bins
        self.n_features = ref.shape[1]
        self._psi_spec: list[tuple[np.ndarray, np.ndarray]] | None = None
        if kind == "psi":
            if psi_threshold is None:
                if len(ref) < 20:
                    raise ValueError(f"calibrating a PSI threshold needs at least 20 reference rows, got {len(ref)}.")
                rng = np.random.default_rng(seed)
                perm = rng.permutation(len(ref))
                held, ref = ref[perm[: len(ref) // 2]], ref[perm[len(ref) // 2:]]
                spec = _psi_bins(ref, self.bins, 1e-4)
                scores = [_psi_from_bins(spec, held[rng.integers(0, len(held), window_size)], 1e-4).max()
                          for _ in range(calibration_windows)]
                psi_threshold = float(np.quantile(scores, 1 - self.alpha))
            self._psi_spec = _psi_bins(ref, self.bins, 1e-4)
            reachable = _max_psi(self._psi_spec, 1e-4)
            if psi_threshold >= reachable:
                raise ValueError(f"psi_threshold {psi_threshold:g} can never be exceeded with bins={bins} on this "
                                 f"reference (the largest PSI any window can reach is {reachable:.3g}), so no "
                                 "drift would ever be flagged; lower psi_threshold or use more bins.")
        self.reference = ref
        self.psi_threshold = psi_threshold

    @property
    def threshold(self) -> float:
        if self.method == "ks":
            return float(-np.log10(self.alpha))
        assert self.psi_threshold is not None  # method "psi": given, or calibrated in __init__
        return float(self.psi_threshold)

    def test(self, window: np.ndarray) -> DriftReport:
        """Test one window (m, d) against the reference."""
        cur = _as_2d(window, "window")
        if cur.shape[1] != self.n_features:
            raise ValueError(f"window has {cur.shape[1]} features, the reference has {self.n_features}.")
        if self.method == "ks":
            stat, p = ks_test(self.reference, cur)
            p_adj = min(1.0, float(p.min()) * self.n_features)
            score = max(0.0, float(-np.log10(max(p_adj, 1e-300))))
            return DriftReport(score > self.threshold, score, self.threshold, "ks", stat, p)
        assert self._psi_spec is not None  # method "psi": set in __init__
        stat = _psi_from_bins(self._psi_spec, cur, 1e-4)
        score = float(stat.max())
        return DriftReport(score > self.threshold, score, self.threshold, "psi", stat)

    def scan(self, stream: np.ndarray, window_size: int) -> list[DriftReport]:
        """Test every consecutive window of ``window_size`` rows of ``stream``."""
        window_size = check_int(window_size, "window_size", min_val=2)
        if not (hasattr(stream, "__len__") and hasattr(stream, "__getitem__")) or isinstance(stream, (str, bytes)):
            raise TypeError(f"stream must be an array of rows, got {type(stream).__name__}.")
        return [self.test(w) for w in _windows(stream, window_size, True)]
