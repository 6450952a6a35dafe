"""labkit.checks.cifar10: each check accepts a right answer and rejects wrong ones with a hint."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

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


# --------------------------------------------------------------------------- the remedies as Keras layers
def _builder(mistake=None):
    """The exercise's solution, or the same with one typical mistake."""
    def large_cnn(width, dense_units, l2=0.0, dropout=0.0, batch_norm=False, augment=False):
        reg = (keras.regularizers.L1(l2) if mistake == "l1" else keras.regularizers.L2(l2 / 2)
               if mistake == "half" else keras.regularizers.L2(l2)) if l2 else None
        conv_reg = reg
        head_reg = None if mistake == "conv only" else reg
        x = inputs = keras.Input((32, 32, 3))
        if augment and mistake != "no augmentation":
            x = layers.RandomFlip("horizontal_and_vertical" if mistake == "vertical" else "horizontal")(x)
            x = layers.RandomTranslation(0.125, 0.125, fill_mode="reflect")(x)
        if mistake == "baseline with dropout":
            x = layers.Dropout(0.1)(x)
        for i in range(3):
            for _ in range(2):
                x = layers.Conv2D(width * (i + 1) if mistake == "widths" else width * 2 ** i, 3, padding="same",
                                  use_bias=mistake == "bias kept" or not batch_norm, kernel_regularizer=conv_reg,
                                  bias_regularizer=reg if mistake == "bias penalised" else None,
                                  activation="relu" if mistake == "relu before bn" else None)(x)
                if batch_norm:
                    x = layers.BatchNormalization()(x)
                if mistake != "no relu" and mistake != "relu before bn":
                    x = layers.ReLU()(x)
            x = layers.MaxPooling2D()(x)
            if dropout and mistake != "head dropout only":
                x = layers.Dropout(1 - dropout if mistake == "keep rate" else dropout)(x)
        x = layers.GlobalAveragePooling2D()(x) if mistake == "gap" else layers.Flatten()(x)
        x = layers.Dense(dense_units, activation="relu", kernel_regularizer=head_reg)(x)
        if dropout:
            x = layers.Dropout(1 - dropout if mistake == "keep rate" else dropout)(x)
        outputs = layers.Dense(10, kernel_regularizer=head_reg,
                               activation="softmax" if mistake == "softmax" else None)(x)
        return keras.Model(inputs, outputs)
    return large_cnn


def test_large_cnn_accepts_the_solution_for_fresh_sizes(capsys):
    for seed in (0, 1, 2):
        check.large_cnn(_builder(), seed=seed)
    check.large_cnn(_builder())
    assert capsys.readouterr().out.count("correct") == 4


@pytest.mark.parametrize("mistake, hint", [
    ("l1", "L1 penalty"), ("half", "half the penalty"), ("conv only", "conv kernels only"),
    ("bias penalised", "penalises the biases"), ("widths", "filters, expected"), ("no relu", "not a ReLU"),
    ("relu before bn", "before batch norm"), ("bias kept", "use_bias=True"), ("keep rate", "not the fraction to keep"),
    ("head dropout only", "expected 4 layers"), ("gap", "trainable parameters|flatten"),
    ("softmax", "logits"), ("vertical", "mode 'horizontal_and_vertical'"), ("no augmentation", "starts with"),
    ("baseline with dropout", "the baseline, with no remedy"),
])
def test_large_cnn_names_each_typical_mistake(mistake, hint):
    with pytest.raises(ExerciseError, match=hint):
        check.large_cnn(_builder(mistake), seed=0)


def test_large_cnn_refuses_placeholders_wrong_types_and_the_answer_key():
    from labkit.models import cifar_large_cnn

    def uses_labkit(width, dense_units, **kw):
        return cifar_large_cnn(width, dense_units, **kw)

    for wrong, hint in [(None, "no answer"), (_not_written, "not written"), (lambda *a, **k: None, "returned None"),
                        (lambda *a, **k: "model", "expected a keras.Model"), (uses_labkit, "answer key")]:
        with pytest.raises(ExerciseError, match=hint):
            check.large_cnn(wrong, seed=0)


def test_large_cnn_cannot_be_fooled_by_a_model_of_fixed_size():
    """A builder hard-coded to one size passes for that size only; fresh sizes catch it."""
    fixed = _builder()

    def size(seed):
        rng = np.random.default_rng(seed)  # the check's first two draws
        return int(rng.integers(2, 5)), int(rng.integers(8, 25))

    width, dense_units = size(0)
    other = next(s for s in range(1, 100) if size(s) != size(0))

    def hard_coded(w, d, **kw):
        return fixed(width, dense_units, **kw)

    check.large_cnn(hard_coded, seed=0)  # the size seed 0 draws
    with pytest.raises(ExerciseError, match=f"seed={other}"):
        check.large_cnn(hard_coded, seed=other)


def test_notebook_exercise_cells_fail_as_student_versions_and_pass_as_solutions():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("06_cifar10_cnn_regularisation.ipynb", "cifar10", {"keras": keras},
                                                 min_exercises=4)
