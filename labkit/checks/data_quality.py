"""Exercise checks of notebook 12 (data quality and quantity)."""
from __future__ import annotations

import numpy as np
import scipy.special

from labkit.checks import ExerciseError, call_answer, passed

__all__ = ["top_loss_indices"]

_HINT = ("per-example loss = -log softmax(logits)[i, label_i]; compute log-softmax stably "
         "(subtract the row max, then log-sum-exp), then return the indices of the k largest losses, "
         "largest first, e.g. np.argsort(-loss)[:k].")


def _oracle(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    logp = scipy.special.log_softmax(logits, axis=1)
    return -logp[np.arange(len(labels)), labels]


def top_loss_indices(fn) -> None:
    """Check ``fn(logits, labels, k) -> (k,) int array``: the k highest-loss examples, largest first."""
    ex = "top_loss_indices"
    rng = np.random.default_rng(12)
    for n, k, scale in [(50, 5, 3.0), (200, 20, 30.0), (7, 7, 1.0)]:
        logits = rng.normal(size=(n, 10)) * scale   # large logits: a naive softmax overflows
        labels = rng.integers(0, 10, n)
        got = call_answer(ex, fn, "top_loss_indices", (logits.copy(), labels.copy(), k), _HINT)
        arr = np.asarray(got)
        if arr.shape != (k,):
            raise ExerciseError(ex, f"returned shape {arr.shape}, expected ({k},) for k={k}.", _HINT)
        if arr.dtype.kind not in "iu":
            raise ExerciseError(ex, f"returned dtype {arr.dtype}; return integer indices.", _HINT)
        loss = _oracle(logits, labels)
        want = np.argsort(-loss, kind="stable")[:k]
        if set(arr.tolist()) != set(want.tolist()):
            raise ExerciseError(ex, f"the {k} indices are not the {k} largest losses (n={n}).", _HINT)
        if not np.all(np.diff(loss[arr]) <= 1e-12):
            raise ExerciseError(ex, "the right examples, but not sorted from largest loss down.", _HINT)
    passed(ex, "the largest per-example losses, largest first")
