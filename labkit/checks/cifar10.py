"""Checks for notebook 06 (CIFAR-10: convolutional networks, overfitting and regularisation)."""
from __future__ import annotations

import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_number

_FLOPS_HINT = ("A 'same' conv layer computes, at each of the h*w output positions and for each of the "
               "c_out filters, a k*k*c_in dot product: k*k*c_in multiply-adds, and a multiply-add is "
               "2 FLOPs. So 2*h*w*k*k*c_in*c_out (ignore the bias).")
_STOP_HINT = ("Keras' EarlyStopping(patience=p) remembers the epoch with the lowest val_loss so far; when "
              "p epochs in a row bring no new lowest value, it stops after that p-th epoch. With "
              "restore_best_weights=True the model goes back to the best epoch. Epochs count from 1; "
              "if it never triggers, training runs all len(val_losses) epochs.")
_CAM_HINT = ("alpha_k is the mean of the gradients over the spatial axes (axes 1 and 2, keep the channel "
             "axis); the map is the ReLU of sum_k alpha_k * A_k over the channel axis: "
             "np.maximum((grads.mean(axis=(1, 2), keepdims=True) * feats).sum(axis=-1), 0).")


def conv_flops(fn) -> None:
    """Exercise 1: ``fn(h, w, k, c_in, c_out)`` -> forward FLOPs of a k x k 'same' conv layer."""
    ex = "FLOPs of a convolution"
    cases = [(32, 32, 3, 3, 32), (16, 16, 3, 32, 64), (8, 8, 1, 64, 10), (31, 31, 2, 3, 24)]
    for h, w, k, cin, cout in cases:
        out = call_answer(ex, fn, "conv_flops", (h, w, k, cin, cout), _FLOPS_HINT)
        # np.int64, 1.8e6 as a float and np.array([n]) are the same count; "1769472" and True are not
        got = require_number(ex, out, f"conv_flops{(h, w, k, cin, cout)}", _FLOPS_HINT)
        want = 2 * h * w * k * k * cin * cout
        if got == want:
            continue
        if got == want // 2:
            raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got:,} counts multiply-adds; "
                                "a multiply-add is 2 FLOPs.", _FLOPS_HINT)
        if got == 2 * k * k * cin * cout:
            raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got:,} is one position; the filter "
                                "slides over all h*w positions.", _FLOPS_HINT)
        raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got!r}, expected {want:,}.", _FLOPS_HINT)
    passed(ex, f"a 3x3 conv with 32 filters on a 32x32x3 image costs {2 * 32 * 32 * 9 * 3 * 32 / 1e6:.1f} "
               "MFLOPs per image")


def _reference_stop(val_losses: np.ndarray, patience: int, *, ties_improve: bool = False) -> tuple[int, int]:
    """What Keras' EarlyStopping(patience) does with min_delta=0: only a strictly lower val_loss is an
    improvement. ``ties_improve`` is the typical slip (``<=``), for its hint."""
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, v in enumerate(val_losses, start=1):
        if v < best or (ties_improve and v == best):
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


_STOP_CASES = [([1.0, 0.8, 0.7, 0.75, 0.72, 0.9, 1.0], 2),
               ([1.0, 0.8, 0.7, 0.75, 0.72, 0.69, 1.0, 1.1, 1.2], 3),
               ([2.0, 1.5, 1.2, 1.1], 2),
               ([0.5, 0.6, 0.7, 0.8], 1),
               ([1.0, 0.8, 0.8, 0.8, 0.7, 0.9], 2),        # a tie with the best is no improvement
               ([0.9, 0.6, 0.6, 0.5, 0.6, 0.6, 0.4], 3)]


def _stop_cases(rng) -> list[tuple[list[float], int]]:
    """Fresh validation curves (a noisy U, rounded to 2 decimals so that ties happen) and patiences 1 to 4."""
    cases = []
    for _ in range(8):
        n = int(rng.integers(4, 16))
        t = np.arange(n)
        low = rng.uniform(0.2, 0.8) * n
        curve = 0.5 + 0.004 * (t - low) ** 2 + rng.normal(scale=0.02, size=n)
        curve = np.round(curve, 2)
        if n > 5:  # an exact tie with the best so far, somewhere after the first epoch
            i = int(rng.integers(2, n))
            curve[i] = curve[:i].min()
        cases.append(([float(v) for v in curve], int(rng.integers(1, 5))))
    return cases


def _stop_pair(ex: str, got, where: str) -> tuple[int, int]:
    """The student's answer as two whole numbers, or a hint on what it is instead."""
    pair_hint = "Return a pair of integers: `return best_epoch, epoch` (a tuple), both counted from 1. " + _STOP_HINT
    if isinstance(got, (str, bytes)):
        raise ExerciseError(ex, f"early_stop_epoch returned the string {got!r} {where}; return a pair "
                                "(best_epoch, stop_epoch) of integers, not their digits as text.", pair_hint)
    if isinstance(got, np.ndarray):
        got = got.tolist() if got.ndim == 1 else got
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseError(ex, f"early_stop_epoch returned {got!r} {where}; return a pair (best_epoch, stop_epoch).",
                            pair_hint)
    best, stop = (require_number(ex, v, f"{name} {where}", pair_hint, integer=True)
                  for name, v in zip(("best_epoch", "stop_epoch"), got))
    return best, stop


def early_stop_epoch(fn, *, seed: int | None = None) -> None:
    """Exercise 2: ``fn(val_losses, patience)`` -> (best_epoch, stop_epoch), both counted from 1.

    Fixed curves (ties with the best included), then fresh random ones with ties (``seed=None``:
    a new seed each call, named in any failure). The answer is a pair of whole numbers: ints,
    NumPy integers or whole floats; strings and bools are refused.
    """
    ex = "early stopping"
    seed = fresh_seed(seed)
    cases = _STOP_CASES + _stop_cases(np.random.default_rng(seed))
    for i, (losses, patience) in enumerate(cases):
        fresh = f" (a fresh case, seed={seed})" if i >= len(_STOP_CASES) else ""
        where = f"for val_losses={losses}, patience={patience}{fresh}"
        got = call_answer(ex, fn, "early_stop_epoch", (list(losses), patience), _STOP_HINT)
        best, stop = _stop_pair(ex, got, where)
        want = _reference_stop(np.asarray(losses), patience)
        if (best, stop) == want:
            continue
        if (best + 1, stop + 1) == want:
            raise ExerciseError(ex, f"for {losses} and patience {patience} you returned {(best, stop)}: "
                                f"epochs count from 1, not 0{fresh}.", _STOP_HINT)
        if (best, stop) == _reference_stop(np.asarray(losses), patience, ties_improve=True):
            raise ExerciseError(ex, f"{where} you returned {(best, stop)}, expected {want}: you counted a val_loss "
                                "equal to the best so far as an improvement.",
                                "With min_delta=0 only a strictly lower val_loss is an improvement (v < best, not "
                                "v <= best): a tie neither becomes the best epoch nor resets the patience count.")
        raise ExerciseError(ex, f"{where} you returned {(best, stop)}, expected {want}.", _STOP_HINT)
    passed(ex, f"{len(cases)} curves, ties with the best included")


def cam_from_gradients(fn) -> None:
    """Exercise 3: ``fn(feats, grads)`` -> Grad-CAM maps relu(sum_k mean_ij(grads_k) * A_k), (N, h, w)."""
    ex = "Grad-CAM from gradients"
    rng = np.random.default_rng(11)
    feats = rng.random((2, 4, 5, 3)).astype("float32")
    grads = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    got = call_answer(ex, fn, "cam_from_gradients", (feats.copy(), grads.copy()), _CAM_HINT)
    try:
        got = np.asarray(got, dtype="float64")
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"cam_from_gradients returned {type(got).__name__}, expected an array.",
                            _CAM_HINT) from None
    if got.shape != (2, 4, 5):
        raise ExerciseError(ex, f"the maps have shape {got.shape}, expected (2, 4, 5) = (N, h, w).", _CAM_HINT)
    alpha = grads.mean(axis=(1, 2), keepdims=True)
    raw = (alpha * feats).sum(axis=-1)
    want = np.maximum(raw, 0)
    if np.allclose(got, want, atol=1e-5):
        return passed(ex)
    if np.allclose(got, raw, atol=1e-5):
        raise ExerciseError(ex, "the maps have negative values: apply the ReLU.", _CAM_HINT)
    if np.allclose(got, np.maximum((grads * feats).sum(axis=-1), 0), atol=1e-5):
        raise ExerciseError(ex, "you weighted each position by its own gradient; Grad-CAM averages the "
                            "gradients over the positions first (one weight per channel).", _CAM_HINT)
    raise ExerciseError(ex, "the maps differ from relu(sum_k alpha_k A_k).", _CAM_HINT)
