"""Exercise checks of notebook 13 (data quality and quantity)."""
from __future__ import annotations

import numpy as np
import scipy.special

from labkit.checks import ExerciseError, call_answer, fresh_seed, numpy_warnings, overflow_warnings, passed

__all__ = ["top_loss_indices"]

_HINT = ("per-example loss = -log softmax(logits)[i, label_i]; compute log-softmax stably "
         "(subtract the row max, then log-sum-exp), then return the indices of the k largest losses, "
         "largest first, e.g. np.argsort(-loss)[:k].")
_STABLE_HINT = ("Never form exp(logits) or softmax and then take its log: with z = logits - logits.max(axis=1, "
                "keepdims=True), log_softmax = z - log(sum(exp(z), axis=1)) - exp(z) is at most 1 and the sum at "
                "least 1, so nothing overflows and no probability underflows to log(0).")


def _oracle(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    logp = scipy.special.log_softmax(logits.astype(np.float64), axis=1)
    return -logp[np.arange(len(labels)), labels]


def _loss_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(description, logits, labels, k): fresh cases of several sizes; most with some rows of logits in the
    hundreds (up to +-1000), where exp overflows and a softmax's small probabilities underflow to 0."""
    cases = []
    # first two cases with moderate logits only, so that an answer right there but wrong later is unstable
    for n, c, k, scale, huge in ((50, 10, 5, 3.0, 0), (7, 10, 7, 1.0, 0), (60, 10, 5, 3.0, 8),
                                 (200, 10, 20, 30.0, 30), (120, 10, 12, 5.0, 120), (30, 10, 1, 2.0, 4)):
        logits = rng.normal(size=(n, c)) * scale
        rows = rng.choice(n, huge, replace=False)
        logits[rows] = rng.normal(size=(huge, c)) * rng.uniform(300.0, 1000.0, size=(huge, 1))
        if huge:
            logits[rows[0], 0] = 1000.0   # at least one logit at 1000: np.exp overflows for certain
        cases.append((f"{n} examples, k={k}" + (f", {huge} rows of logits up to +-1000" if huge else ""),
                      logits, rng.integers(0, c, n), k))
    logits = (rng.normal(size=(64, 10)) * 400.0).astype(np.float32)  # as a model gives them
    cases.append(("64 examples as float32 logits up to +-1000, k=10", logits, rng.integers(0, 10, 64), 10))
    return cases


def _as_indices(got, n: int, k: int, where: str) -> np.ndarray:
    if got is None:
        raise ExerciseError(_EX, f"the function returned None {where}: did you forget `return`?", _HINT)
    if isinstance(got, (str, bytes)):
        raise ExerciseError(_EX, f"the function returned the string {got!r} {where}, not indices.", _HINT)
    arr = np.asarray(got)
    if arr.shape != (k,):
        raise ExerciseError(_EX, f"returned shape {arr.shape}, expected ({k},) for k={k} {where}.", _HINT)
    if arr.dtype.kind not in "iu":
        raise ExerciseError(_EX, f"returned dtype {arr.dtype} {where}; return integer indices.", _HINT)
    if arr.min() < 0 or arr.max() >= n:
        raise ExerciseError(_EX, f"index {int(arr.min() if arr.min() < 0 else arr.max())} is outside 0..{n - 1} "
                                 f"{where}.", _HINT)
    if len(np.unique(arr)) != k:
        raise ExerciseError(_EX, f"the answer repeats an index {where}.", _HINT)
    return arr.astype(np.int64)


_EX = "top_loss_indices"


def top_loss_indices(fn, *, seed: int | None = None) -> None:
    """Check ``fn(logits, labels, k) -> (k,) int array``: the k highest-loss examples, largest first.

    Each call draws fresh cases (``seed=None``: a new seed, named in any failure) of several sizes,
    most with rows of logits up to +-1000 and one in float32: an answer must be finite, raise no
    overflow / divide-by-zero warning, and rank by the exact losses. Ties do not occur (continuous
    random logits), so the answer is judged by its properties: the k largest losses, non-increasing.
    """
    ex = _EX
    seed = fresh_seed(seed)
    for case, logits, labels, k in _loss_cases(np.random.default_rng(seed)):
        big = bool(np.abs(logits).max() > 100)
        where = f"for {case} (seed={seed})"
        with numpy_warnings() as caught:
            got = call_answer(ex, fn, "top_loss_indices", (logits.copy(), labels.copy(), k),
                              _HINT + f" [It failed {where}.]")
        arr = _as_indices(got, len(labels), k, where)
        warned = overflow_warnings(caught)
        if warned:
            what = "log(0)" if "divide" in warned[0] else "overflow"
            raise ExerciseError(ex, f"NumPy warned {warned[0]!r} {where}: the loss is not computed stably "
                                    f"({what}: some losses are inf or nan, so the ranking is not reliable).",
                                _STABLE_HINT)
        loss = _oracle(logits, labels)
        kth = np.sort(loss)[::-1][k - 1]
        # round-off allowed in the student's losses: float64 logits give ~1e-13 of their size, float32 ~1e-7
        gap = (1e-9 if logits.dtype == np.float64 else 1e-6) * max(1.0, float(np.abs(logits).max()))
        unstable = big   # the cases with moderate logits only come first: they passed
        if np.any(loss[arr] < kth - gap):
            missed = np.setdiff1d(np.argsort(-loss, kind="stable")[:k], arr)
            i = int(missed[0]) if missed.size else int(arr[np.argmin(loss[arr])])
            raise ExerciseError(ex, f"the {k} indices are not the {k} largest losses {where}: row {i} has loss "
                                    f"{loss[i]:.4g}" + (", although the answers for moderate logits were right: "
                                                        "are your losses right for logits this large?"
                                                        if unstable else "") + ".",
                                _STABLE_HINT if unstable else _HINT)
        if np.any(np.diff(loss[arr]) > gap):
            raise ExerciseError(ex, f"the right examples, but not sorted from largest loss down {where}.",
                                _STABLE_HINT if unstable else _HINT)
    passed(ex, "the largest per-example losses, largest first, stable for logits up to 1000")
