"""Checks of notebook 09 accept the right answers and reject wrong ones with a hint."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import transfer as checks


def _transfer(base, n_classes, dropout=0.2, *, freeze=True, pool=True, drop=True, activation=None,
              units=None, new_network=False):
    """The canonical transfer model; each keyword swaps in one typical slip."""
    base.trainable = not freeze
    inputs = keras.Input(base.input_shape[1:])
    x = keras.layers.Conv2D(4, 3)(inputs) if new_network else base(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x) if pool else keras.layers.Flatten()(x)
    if drop:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(units or n_classes, activation=activation)(x))


def _sequential(base, n_classes, dropout=0.2):
    base.trainable = False
    return keras.Sequential([base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(dropout),
                             keras.layers.Dense(n_classes)])


def test_transfer_model_accepts_the_functional_and_the_sequential_form(capsys):
    for fn in (_transfer, _sequential):
        for seed in (0, None):
            checks.transfer_model(fn, seed=seed)
    assert capsys.readouterr().out.count("correct") == 4


@pytest.mark.parametrize("fn, says", [
    (None, "no answer"),
    (lambda b, n, d: (_ for _ in ()).throw(NotImplementedError()), "not written"),
    (lambda b, n, d: _transfer(b, n, d, freeze=False), "still trainable"),
    (lambda b, n, d: _transfer(b, n, d, pool=False), "GlobalAveragePooling2D"),
    (lambda b, n, d: _transfer(b, n, d, drop=False), "Dropout"),
    (lambda b, n, d: _transfer(b, n, 0.5 if d != 0.5 else 0.3), "Dropout"),
    (lambda b, n, d: _transfer(b, n, d, activation="softmax"), "logits"),
    (lambda b, n, d: _transfer(b, n, d, units=10), "Dense"),          # ten classes hard-coded
    (lambda b, n, d: _transfer(b, n, d, new_network=True), "does not contain `base`"),
    (lambda b, n, d: "model", "keras.Model"),
])
def test_transfer_model_rejects_each_slip_with_its_hint(fn, says):
    for seed in (1, None):
        with pytest.raises(ExerciseError, match=says) as err:
            checks.transfer_model(fn, seed=seed)
        assert err.value.hint


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
        layer.trainable = i >= names.index(name) and not isinstance(layer, keras.layers.BatchNormalization)


def _unfreeze_with_batch_norm(model, name):
    """Unfreezes the BatchNormalization layers too: they would train on the small batches' statistics."""
    model.trainable = True
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= names.index(name)


def _unfreeze_forgets_model(model, name):
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= names.index(name) and not isinstance(layer, keras.layers.BatchNormalization)


def _unfreeze_off_by_one(model, name):
    model.trainable = True
    names = [layer.name for layer in model.layers]
    for i, layer in enumerate(model.layers):
        layer.trainable = i > names.index(name) and not isinstance(layer, keras.layers.BatchNormalization)


def _unfreeze_everything(model, name):
    model.trainable = True


_TOY_NAMES = ["input_layer", "conv_a", "bn_a", "conv_b", "bn_b", "pool", "dense"]


def _unfreeze_hard_coded(model, name):
    """Right for the check's toy model, by its layer names: fails on any other model."""
    model.trainable = True
    later = _TOY_NAMES[_TOY_NAMES.index(name):]
    for layer in model.layers:
        layer.trainable = layer.name in later and not layer.name.startswith("bn")


def _unfreeze_by_position(model, name):
    """Right on the toy model: counts the toy model's 7 layers instead of looking the name up."""
    model.trainable = True
    first = {"conv_b": 3, "bn_b": 4, "dense": 6}.get(name, 3)
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)


def test_unfreeze_from():
    checks.unfreeze_from(_unfreeze_right)
    for wrong, says in [(None, "no answer"), (_not_written, "not written"),
                        (_unfreeze_forgets_model, "trains the weights of|wrong layers"),
                        (_unfreeze_with_batch_norm, "BatchNormalization"),
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


@pytest.mark.slow
def test_exercise_cells_student_fails_solution_passes():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("09_transfer_learning.ipynb", "transfer",
                                                 {"keras": keras, "layers": keras.layers}, min_exercises=3)
