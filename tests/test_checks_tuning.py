"""labkit.checks.tuning.build_model: a KerasTuner build function, checked against the space and a trial's values."""
from __future__ import annotations

import math

import keras
import keras_tuner as kt
import numpy as np
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


# --------------------------------------------------------------------------- random-search trials
def _configs(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([10 ** rng.uniform(-4, -1, n), rng.uniform(0, 0.5, n)])


def _natural_log(n, seed=0):
    """The same distribution drawn with natural logs, trial by trial, as a list of lists."""
    rng = np.random.default_rng(seed)
    return [[math.exp(rng.uniform(math.log(1e-4), math.log(1e-1))), rng.uniform(0, 0.5)] for _ in range(n)]


def test_sample_configs_accepts_log_uniform_draws_in_any_array_form(capsys):
    check.sample_configs(_configs, seed=0)
    check.sample_configs(lambda n, seed=0: _configs(n, seed).tolist(), seed=1)
    check.sample_configs(_natural_log, seed=2)
    assert capsys.readouterr().out.count("correct") == 3


def _grid(n, seed=0):
    lr = np.repeat(np.logspace(-4, -1, 4), int(np.ceil(n / 4)))[:n]
    return np.column_stack([lr, np.random.default_rng(seed).uniform(0, 0.5, n)])


@pytest.mark.parametrize("fn, match", [
    (None, "no answer"),
    (lambda n, seed=0: None, "returned None"),
    (lambda n, seed=0: _configs(n, seed)[:, :1], "shape"),
    (lambda n, seed=0: _configs(n, seed).T, "shape"),
    (lambda n, seed=0: np.column_stack([np.random.default_rng(seed).uniform(1e-4, 1e-1, n),
                                        np.random.default_rng(seed + 1).uniform(0, 0.5, n)]), "linear scale"),
    (lambda n, seed=0: np.column_stack([np.random.default_rng(seed).uniform(-4, -1, n),
                                        np.random.default_rng(seed + 1).uniform(0, 0.5, n)]), "log10"),
    (lambda n, seed=0: _configs(n, seed)[:, ::-1], "swapped"),
    (_grid, "grid"),
    (lambda n, seed=0: _configs(n, seed) * [1, 0.2], "dropout is not uniform"),
    (lambda n, seed=0: _configs(n, np.random.default_rng().integers(1 << 30)), "same seed"),
    (lambda n, seed=0: _configs(n, 0), "another seed"),
    (lambda n, seed=0: np.full((n, 2), "x"), "array of numbers"),
])
def test_sample_configs_rejects_each_slip_with_its_hint(fn, match):
    with pytest.raises(ExerciseError, match=match):
        check.sample_configs(fn, seed=3)


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
