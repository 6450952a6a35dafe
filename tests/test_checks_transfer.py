"""Checks of notebook 09 accept the right answers and reject wrong ones with a hint."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import transfer as checks


def test_head_param_count():
    checks.head_param_count(1280 * 10 + 10)
    checks.head_param_count(12810.0)
    for wrong, says in [(None, "no answer"), (12_800, "biases"), (2_257_984, "backbone"),
                        (1280, "not the parameter"), ("12810", "whole number"), (True, "whole number"),
                        (12810.5, "whole number")]:
        with pytest.raises(ExerciseError, match=says):
            checks.head_param_count(wrong)


def test_head_param_count_refuses_nan_and_infinity():
    # a bug mypy led to: int(nan) / int(inf) raised ValueError / OverflowError, not the exercise's hint
    for wrong in (float("nan"), float("inf"), -np.inf, np.float64("nan")):
        with pytest.raises(ExerciseError, match="whole number"):
            checks.head_param_count(wrong)


def _right(x):
    return np.asarray(x, dtype="float32") / 127.5 - 1.0


def _in_place(x):
    x -= x  # changes the caller's array
    return _right(np.full_like(x, 0))


def _not_written(*args):
    raise NotImplementedError()


def test_mobilenet_preprocess():
    checks.mobilenet_preprocess(_right)
    import tensorflow as tf

    checks.mobilenet_preprocess(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0)  # tensors are fine too
    for wrong, says in [(None, "no answer"), (_not_written, "not written"),
                        (lambda x: x / 255.0, r"\[0, 1\]"), (lambda x: x.astype("float32"), r"\[0, 255\]"),
                        (lambda x: x / 128.0 - 1.0, "ranges over"), (_in_place, "in place"),
                        (lambda x: _right(x)[0], "shape"), (lambda x: "pixels", "not an array"),
                        (lambda x: 1 / 0, "ZeroDivisionError"), (42, "function")]:
        with pytest.raises(ExerciseError, match=says):
            checks.mobilenet_preprocess(wrong)


def _unfreeze_right(model, name):
    model.trainable = True
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= names.index(name)


def _unfreeze_forgets_model(model, name):
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= names.index(name)


def _unfreeze_off_by_one(model, name):
    model.trainable = True
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i > names.index(name)


def _unfreeze_everything(model, name):
    model.trainable = True


_TOY_NAMES = ["input_layer", "conv_a", "bn_a", "conv_b", "bn_b", "pool", "dense"]


def _unfreeze_hard_coded(model, name):
    """Right for the check's toy model, by its layer names: fails on any other model."""
    model.trainable = True
    later = _TOY_NAMES[_TOY_NAMES.index(name):]
    for layer in model.layers:
        layer.trainable = layer.name in later


def _unfreeze_by_position(model, name):
    """Right on the toy model: counts the toy model's 7 layers instead of looking the name up."""
    model.trainable = True
    first = {"conv_b": 3, "bn_b": 4, "dense": 6}.get(name, 3)
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= first


def test_unfreeze_from():
    checks.unfreeze_from(_unfreeze_right)
    for wrong, says in [(None, "no answer"), (_not_written, "not written"),
                        (_unfreeze_forgets_model, "trains the weights of"),
                        (_unfreeze_off_by_one, "wrong layers"), (_unfreeze_everything, "wrong layers"),
                        (_unfreeze_hard_coded, "toy model|hard-code"), (_unfreeze_by_position, "toy model|hard-code")]:
        with pytest.raises(ExerciseError, match=says):
            checks.unfreeze_from(wrong)


def test_unfreeze_from_builds_fresh_models():
    seen = []

    def spy(model, name):
        seen.append(([layer.name for layer in model.layers], name))
        _unfreeze_right(model, name)

    checks.unfreeze_from(spy)
    assert len({tuple(names) for names, _ in seen}) >= 3 and any("conv_a" not in names for names, _ in seen)
