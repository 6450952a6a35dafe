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


@pytest.mark.parametrize("wrap", [np.int64, float, np.float32, lambda v: np.array([v])],
                         ids=["int64", "float", "float32", "1-element array"])
def test_conv_flops_accepts_any_whole_number(wrap, capsys):
    check.conv_flops(lambda h, w, k, cin, cout: wrap(2 * h * w * k * k * cin * cout))
    assert "correct" in capsys.readouterr().out


def test_conv_flops_rejects_strings_and_bools():
    for wrong, hint in [(lambda *a: str(2 * np.prod(a[:3]) * np.prod(a)), "string"), (lambda *a: True, "bool")]:
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


def _stop_ties_improve(val_losses, patience):
    """A loss equal to the best so far counted as an improvement (<= for <)."""
    best, best_epoch, wait = float("inf"), 0, 0
    for epoch, v in enumerate(val_losses, start=1):
        if v <= best:
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


@pytest.mark.parametrize("wrong, hint", [
    (_stop_ties_improve, "equal to the best"),
    (lambda v, p: "".join(map(str, _stop(v, p))), "string"),         # "35" for (3, 5)
    (lambda v, p: tuple(map(str, _stop(v, p))), "string"),           # ("3", "5")
    (lambda v, p: (True, _stop(v, p)[1]), "bool"),
    (lambda v, p: (*_stop(v, p), 0), "pair"),
    (lambda v, p: (_stop(v, p)[0] + 0.5, _stop(v, p)[1]), "fractional part|whole number"),
])
def test_early_stop_epoch_rejects_ties_and_non_integers(wrong, hint):
    with pytest.raises(ExerciseError, match=hint) as err:
        check.early_stop_epoch(wrong)
    assert "Hint:" in str(err.value)


@pytest.mark.parametrize("wrap", [lambda b, s: (np.int64(b), np.int64(s)), lambda b, s: [b, s],
                                  lambda b, s: np.array([b, s]), lambda b, s: (float(b), float(s))],
                         ids=["int64", "list", "array", "floats"])
def test_early_stop_epoch_accepts_any_pair_of_whole_numbers(wrap, capsys):
    check.early_stop_epoch(lambda v, p: wrap(*_stop(v, p)))
    assert "correct" in capsys.readouterr().out


def test_early_stop_epoch_draws_fresh_cases_with_ties():
    seen = []

    def spy(v, p):
        seen.append((list(v), p))
        return _stop(v, p)

    check.early_stop_epoch(spy)
    first = len(seen)
    check.early_stop_epoch(spy)
    assert seen[:first] != seen[first:], "two calls drew the same cases"
    fresh = seen[len(check._STOP_CASES):first] + seen[first + len(check._STOP_CASES):]
    # a tie that changes the answer in some fresh case (in ~99.6% of calls; two calls here)
    assert any(_stop(v, p) != _stop_ties_improve(v, p) for v, p in fresh)


def test_cam_from_gradients():
    check.cam_from_gradients(lambda a, g: np.maximum((g.mean(axis=(1, 2), keepdims=True) * a).sum(-1), 0))
    for wrong, hint in [(None, "no answer"), (_not_written, "not written"),
                        (lambda a, g: (g.mean(axis=(1, 2), keepdims=True) * a).sum(-1), "ReLU"),
                        (lambda a, g: np.maximum((g * a).sum(-1), 0), "averages the gradients"),
                        (lambda a, g: a.sum(-1), "differ"),
                        (lambda a, g: a, "shape")]:
        with pytest.raises(ExerciseError, match=hint):
            check.cam_from_gradients(wrong)
