"""Notebook 04, exercise 3: the most confident mistakes, judged on fresh random cases by the
properties a right answer has."""
from __future__ import annotations

import numbers
import secrets

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed, require_answer

__all__ = ["confident_mistakes", "reference_confident_mistakes"]

_MISTAKES_EX = "most confident mistakes"
_MISTAKES_HINT = ("pred = probs.argmax(axis=1); keep the rows where pred != y_true (np.flatnonzero); sort them by "
                  "the probability of the *predicted* class, highest first (np.argsort of minus it); return the "
                  "first k row indices, as integers, into the full array.")


def reference_confident_mistakes(probs, y_true, k: int) -> np.ndarray:
    """labkit's answer to exercise 3: indices of the k most confident mistakes, most confident first."""
    probs, y_true = np.asarray(probs), np.asarray(y_true)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")][:k]


def _softmax_rows(rng, n: int, c: int, scale: float) -> np.ndarray:
    z = rng.normal(size=(n, c)) * scale
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _mistake_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(description, probs, y_true, k): fresh random cases of several shapes and the edge cases."""
    cases = []
    for n, c, k in ((200, 10, 5), (37, 3, 4), (60, 2, 7), (12, 10, 1)):
        probs = _softmax_rows(rng, n, c, 3.0)
        cases.append((f"{n} examples, {c} classes, k={k}", probs, rng.integers(0, c, n), k))
    # ties: duplicated rows with the same wrong label have exactly the same confidence
    base = _softmax_rows(rng, 15, 10, 2.0)
    probs = np.concatenate([base, base, base])
    y = np.concatenate([rng.integers(0, 10, 15)] * 3)
    order = rng.permutation(len(y))
    cases.append(("45 examples in tied triples (equal confidences), k=6", probs[order], y[order], 6))
    # k larger than the number of mistakes: all of them, most confident first
    probs = _softmax_rows(rng, 30, 10, 3.0)
    y = probs.argmax(axis=1)
    wrong = rng.choice(30, 3, replace=False)
    y[wrong] = (y[wrong] + rng.integers(1, 10, 3)) % 10
    cases.append(("30 examples with 3 mistakes, k=10", probs, y, 10))
    # no mistakes at all; k = 0
    probs = _softmax_rows(rng, 20, 10, 3.0)
    cases.append(("20 examples, every one right, k=5", probs, probs.argmax(axis=1), 5))
    probs = _softmax_rows(rng, 20, 10, 3.0)
    cases.append(("20 examples, k=0", probs, rng.integers(0, 10, 20), 0))
    # one example, wrong; float32 probabilities and int32 labels (as models and loaders give them)
    probs = _softmax_rows(rng, 1, 10, 3.0)
    cases.append(("1 example, wrong, k=1", probs, np.array([(probs.argmax() + 1) % 10]), 1))
    probs = _softmax_rows(rng, 300, 10, 4.0).astype(np.float32)
    cases.append(("300 examples as float32 / int32, k=20", probs, rng.integers(0, 10, 300).astype(np.int32), 20))
    return cases


def _as_indices(got, n: int, case: str) -> np.ndarray:
    where = f"for {case}"
    if got is None:
        raise ExerciseError(_MISTAKES_EX, f"the function returned None {where}: did you forget `return`?",
                            _MISTAKES_HINT)
    if isinstance(got, (str, bytes)):
        raise ExerciseError(_MISTAKES_EX, f"the function returned the string {got!r} {where}, not indices.",
                            _MISTAKES_HINT)
    if isinstance(got, (set, frozenset, dict)):
        raise ExerciseError(_MISTAKES_EX, f"the function returned a {type(got).__name__} {where}: it has no order; "
                                          "return a list or an array, most confident first.", _MISTAKES_HINT)
    try:
        arr = np.asarray(got)
    except Exception as err:  # noqa: BLE001 - anything unconvertible is a wrong answer
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is not a list of indices ({err}).",
                            _MISTAKES_HINT) from None
    if arr.ndim == 0 and arr.dtype.kind in "iu":
        arr = arr.reshape(1)
    elif arr.ndim == 0:
        raise ExerciseError(_MISTAKES_EX, f"the function returned one {type(got).__name__} {where}, not a list of "
                                          "indices.", _MISTAKES_HINT)
    if arr.ndim != 1:
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has shape {arr.shape}; return a flat list of row "
                                          "indices.", _MISTAKES_HINT)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "b":
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is a boolean mask; return the row indices "
                                          "(np.flatnonzero turns a mask into indices).", _MISTAKES_HINT)
    if arr.dtype.kind == "f":
        hint = ("these look like probabilities, not row numbers." if np.all((arr >= 0) & (arr <= 1))
                and not np.all(arr == np.round(arr)) else "indices must be integers, not floats.")
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has float values ({arr[:3].tolist()}...): {hint}",
                            _MISTAKES_HINT)
    if arr.dtype.kind == "O":
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr):
            kinds = sorted({type(v).__name__ for v in arr})
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} holds {', '.join(kinds)}, not integer indices.",
                                _MISTAKES_HINT)
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has dtype {arr.dtype}, not integer indices.",
                            _MISTAKES_HINT)
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= n:
        bad = int(arr.min() if arr.min() < 0 else arr.max())
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has index {bad}, outside 0..{n - 1}: indices count "
                                          "rows of the full array (no negative indices).", _MISTAKES_HINT)
    return arr


def _judge(got: np.ndarray, probs: np.ndarray, y_true: np.ndarray, k: int, case: str) -> None:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[np.arange(len(probs)), pred]
    want = min(k, len(wrong))
    where = f"for {case}"
    if len(np.unique(got)) != len(got):
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} repeats an index.", _MISTAKES_HINT)
    right = got[pred[got] == y_true[got]]
    if right.size:
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} includes row {int(right[0])}, which the model got "
                                          "right: keep only the mistakes (argmax != y_true).", _MISTAKES_HINT)
    if len(got) != want:
        detail = (f"there are only {len(wrong)} mistakes, so all of them" if len(wrong) < k else f"k={k}")
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has {len(got)} indices; expected {want} ({detail}).",
                            "Return at most k indices: slice the sorted mistakes with [:k].")
    if want == 0:
        return
    c = conf[got]
    if np.any(np.diff(c) > 0):
        if np.all(np.diff(c) >= 0):
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} is sorted least confident first.",
                                "Most confident first: sort by minus the confidence (or reverse the order).")
        by_true = wrong[np.argsort(probs[wrong, y_true[wrong]], kind="stable")][:k]
        if np.array_equal(np.sort(got), np.sort(by_true)):
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} is sorted by the probability of the true class; "
                                              "confidence is the probability of the *predicted* class.",
                                _MISTAKES_HINT)
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is not sorted by confidence, highest first.",
                            _MISTAKES_HINT)
    left_out = np.setdiff1d(wrong, got)
    if left_out.size and conf[left_out].max() > c.min():
        i = int(left_out[np.argmax(conf[left_out])])
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} leaves out row {i}, a mistake made with confidence "
                                          f"{conf[i]:.3f}, more than {c.min():.3f} in your answer: these are "
                                          "mistakes, but not the most confident ones.", _MISTAKES_HINT)


def confident_mistakes(fn, *, seed: int | None = None) -> None:
    """Exercise 3: ``fn(probs, y_true, k)`` -> indices of the k most confident mistakes.

    Each call draws fresh random cases (``seed=None``: a new seed, named in any failure so
    the case can be replayed with ``seed=``): several sizes and numbers of classes, tied
    confidences, fewer mistakes than k, no mistakes, k=0, float32/int32 inputs. An answer
    is right when it has the properties of the right answer (only mistakes, no repeats,
    min(k, #mistakes) of them, confidence non-increasing, none left out that is more
    confident), so any tie-breaking and any integer type (list, tuple, array) passes.
    """
    require_answer(_MISTAKES_EX, fn, "confident_mistakes", _MISTAKES_HINT)
    if seed is None:
        seed = secrets.randbits(32)  # fresh OS entropy, as np.random.SeedSequence()'s, cut to 32 bits
    rng = np.random.default_rng(seed)
    for case, probs, y_true, k in _mistake_cases(rng):
        label = f"{case} (seed={seed})"
        p_in, y_in = probs.copy(), y_true.copy()
        got = call_answer(_MISTAKES_EX, fn, "confident_mistakes", (p_in, y_in, k),
                          _MISTAKES_HINT + f" [It failed on {label}.]")
        if not (np.array_equal(p_in, probs) and np.array_equal(y_in, y_true)):
            raise ExerciseError(_MISTAKES_EX, f"the function changed its inputs for {label}.",
                                "Do not sort or modify probs or y_true in place: work on the results of argmax, "
                                "flatnonzero and argsort.")
        _judge(_as_indices(got, len(probs), label), probs, y_true, k, label)
    passed(_MISTAKES_EX, "right on fresh cases with ties, no mistakes, k=0 and k above the number of mistakes")
