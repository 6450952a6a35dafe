"""Checks for notebook 06 (CIFAR-10: convolutional networks, overfitting and regularisation)."""
from __future__ import annotations

import numbers

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed

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
        got = call_answer(ex, fn, "conv_flops", (h, w, k, cin, cout), _FLOPS_HINT)
        if isinstance(got, bool) or not isinstance(got, (numbers.Real, np.number)):
            raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} returned {type(got).__name__}, "
                                "expected a number.", _FLOPS_HINT)
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


def _reference_stop(val_losses: np.ndarray, patience: int) -> tuple[int, int]:
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, v in enumerate(val_losses, start=1):
        if v < best:
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def early_stop_epoch(fn) -> None:
    """Exercise 2: ``fn(val_losses, patience)`` -> (best_epoch, stop_epoch), both counted from 1."""
    ex = "early stopping"
    cases = [([1.0, 0.8, 0.7, 0.75, 0.72, 0.9, 1.0], 2),
             ([1.0, 0.8, 0.7, 0.75, 0.72, 0.69, 1.0, 1.1, 1.2], 3),
             ([2.0, 1.5, 1.2, 1.1], 2),
             ([0.5, 0.6, 0.7, 0.8], 1)]
    for losses, patience in cases:
        got = call_answer(ex, fn, "early_stop_epoch", (list(losses), patience), _STOP_HINT)
        try:
            best, stop = (int(v) for v in got)
        except (TypeError, ValueError):
            raise ExerciseError(ex, f"early_stop_epoch returned {got!r}; return a pair (best_epoch, stop_epoch).",
                                _STOP_HINT) from None
        want = _reference_stop(np.asarray(losses), patience)
        if (best, stop) == want:
            continue
        if (best + 1, stop + 1) == want:
            raise ExerciseError(ex, f"for {losses} and patience {patience} you returned {(best, stop)}: "
                                "epochs count from 1, not 0.", _STOP_HINT)
        raise ExerciseError(ex, f"for val_losses={losses}, patience={patience} you returned {(best, stop)}, "
                            f"expected {want}.", _STOP_HINT)
    passed(ex)


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
