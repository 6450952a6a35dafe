"""labkit.checks.cifar10: each check accepts a right answer and rejects wrong ones with a hint."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import cifar10 as check


def _not_written(*args):
    raise NotImplementedError


def test_conv_flops():
    check.conv_flops(lambda h, w, k, cin, cout: 2 * h * w * k * k * cin * cout)
    for wrong, hint in [(None, "no answer"), (_not_written, "not written"),
                        (lambda h, w, k, cin, cout: h * w * k * k * cin * cout, "multiply-add"),
                        (lambda h, w, k, cin, cout: 2 * k * k * cin * cout, "one position"),
                        (lambda h, w, k, cin, cout: "many", "expected a number"),
                        (lambda h, w, k, cin, cout: 2 * h * w * k * cin * cout, "expected")]:
        with pytest.raises(ExerciseError, match=hint):
            check.conv_flops(wrong)


def _stop(val_losses, patience):
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, v in enumerate(val_losses, start=1):
        if v < best:
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def test_early_stop_epoch():
    check.early_stop_epoch(_stop)

    def zero_based(val_losses, patience):
        b, s = _stop(val_losses, patience)
        return b - 1, s - 1

    def argmin_only(val_losses, patience):
        b = int(np.argmin(val_losses)) + 1
        return b, len(val_losses)

    for wrong, hint in [(None, "no answer"), (_not_written, "not written"), (zero_based, "count from 1"),
                        (argmin_only, "expected"), (lambda v, p: 3, "pair")]:
        with pytest.raises(ExerciseError, match=hint):
            check.early_stop_epoch(wrong)


def test_cam_from_gradients():
    check.cam_from_gradients(lambda a, g: np.maximum((g.mean(axis=(1, 2), keepdims=True) * a).sum(-1), 0))
    for wrong, hint in [(None, "no answer"), (_not_written, "not written"),
                        (lambda a, g: (g.mean(axis=(1, 2), keepdims=True) * a).sum(-1), "ReLU"),
                        (lambda a, g: np.maximum((g * a).sum(-1), 0), "averages the gradients"),
                        (lambda a, g: a.sum(-1), "differ"),
                        (lambda a, g: a, "shape")]:
        with pytest.raises(ExerciseError, match=hint):
            check.cam_from_gradients(wrong)
