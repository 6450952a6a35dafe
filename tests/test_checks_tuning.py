"""labkit.checks.tuning.build_model: a KerasTuner build function, checked against the space and a trial's values."""
from __future__ import annotations

import math

import keras
import keras_tuner as kt
import pytest
from keras import layers

from labkit.checks import ExerciseError
from labkit.checks import tuning as check


def _build(mistake=None):
    """The exercise's solution, or the same with one typical mistake."""
    def build_model(hp, discrete=False):
        lr = hp.Float("learning_rate", 1e-4, 1e-1, sampling="linear" if mistake == "linear lr" else "log",
                      step=math.sqrt(1_000) if discrete else None)
        units = hp.Int("units", 32, 256, step=224 if discrete else 32)
        if mistake != "no dropout hp":
            dropout = hp.Float("dropout", 0.0, 0.5, step=0.5 if discrete and mistake != "no grid step" else None)
        else:
            dropout = 0.2
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(64 if mistake == "fixed units" else units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(10, activation="softmax" if mistake == "softmax" else None),
        ])
        if mistake == "not compiled":
            return model
        optimizer = "adam" if mistake == "default lr" else keras.optimizers.Adam(lr)
        loss = ("sparse_categorical_crossentropy" if mistake == "probabilities"
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.compile(optimizer, loss, metrics=[] if mistake == "no metric" else ["accuracy"])
        return model
    return build_model


def test_build_model_accepts_the_solution(capsys):
    for seed in (0, 1, 2):
        check.build_model(_build(), seed=seed)
    check.build_model(_build())
    assert capsys.readouterr().out.count("correct") == 4


@pytest.mark.parametrize("mistake, hint", [
    ("linear lr", "sampled 'linear'"), ("no dropout hp", "declares the hyperparameters"),
    ("no grid step", "has step None"), ("fixed units", "Dense layers of"), ("softmax", "logits"),
    ("not compiled", "not compiled"), ("default lr", "learning rate is 0.001"),
    ("probabilities", "not a cross-entropy on logits"), ("no metric", "no 'accuracy'"),
])
def test_build_model_names_each_typical_mistake(mistake, hint):
    with pytest.raises(ExerciseError, match=hint):
        check.build_model(_build(mistake), seed=0)


def test_build_model_refuses_placeholders_and_non_models():
    def not_written(hp, discrete=False):
        raise NotImplementedError

    for wrong, hint in [(None, "no answer"), (not_written, "not written"),
                        (lambda hp, discrete=False: None, "returned None"),
                        (lambda hp, discrete=False: "model", "expected a compiled keras.Model")]:
        with pytest.raises(ExerciseError, match=hint):
            check.build_model(wrong, seed=0)


def test_build_model_cannot_be_fooled_by_hard_coded_trial_values():
    """A function that ignores the tuner's values (its own width, rate and lr) fails on fresh values."""
    def hard_coded(hp, discrete=False):
        _build()(kt.HyperParameters(), discrete)         # declares nothing on the tuner's hp
        hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", step=math.sqrt(1_000) if discrete else None)
        hp.Int("units", 32, 256, step=224 if discrete else 32)
        hp.Float("dropout", 0.0, 0.5, step=0.5 if discrete else None)
        return _build()(kt.HyperParameters(), discrete)  # built from a fresh hp: the defaults, always

    with pytest.raises(ExerciseError, match="seed=3"):
        check.build_model(hard_coded, seed=3)


def test_notebook_exercise_cells_fail_as_student_versions_and_pass_as_solutions():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("11_hyperparameter_search.ipynb", "tuning",
                                                 {"keras": keras, "layers": layers, "math": math}, min_exercises=2)
