"""Checks for notebook 11 (hyperparameter search)."""
from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer, require_number

__all__ = ["distinct_learning_rates", "build_model"]


def distinct_learning_rates(grid_distinct_lr: Any, random_distinct_lr: Any) -> None:
    """4 x 4 grid vs 16 random trials: distinct learning rates tried by each."""
    ex = "distinct learning rates"
    hint = ("A grid repeats each learning rate once for every dropout value, so it tries only as many "
            "learning rates as the grid has along that axis. Random search draws a fresh value from a "
            "continuous range in every trial, so (almost surely) every trial has its own.")
    require_answer(ex, grid_distinct_lr, "grid_distinct_lr", hint)
    require_answer(ex, random_distinct_lr, "random_distinct_lr", hint)
    grid_distinct_lr = require_number(ex, grid_distinct_lr, "`grid_distinct_lr`", hint, integer=True)
    random_distinct_lr = require_number(ex, random_distinct_lr, "`random_distinct_lr`", hint, integer=True)
    if grid_distinct_lr != 4:
        why = " - that is the number of trials, not of learning rates" if grid_distinct_lr == 16 else ""
        raise ExerciseError(ex, f"grid_distinct_lr={grid_distinct_lr} is not right{why}.", hint)
    if random_distinct_lr != 16:
        raise ExerciseError(ex, f"random_distinct_lr={random_distinct_lr} is not right.", hint)
    passed(ex, "the grid tries 4 learning rates, random search 16, for the same 16 trials")


# --------------------------------------------------------------------------- exercise: a tuner's build function
_BUILD_HINT = ("build_model(hp, discrete=False) declares three hyperparameters and returns a compiled model: "
               "lr = hp.Float('learning_rate', 1e-4, 1e-1, sampling='log'), units = hp.Int('units', 32, 256, "
               "step=32), dropout = hp.Float('dropout', 0.0, 0.5); with discrete=True the steps are "
               "math.sqrt(1000) (a factor, on a log scale), 224 and 0.5. The model: Input((28, 28, 1)), Flatten, "
               "Dense(units, relu), Dropout(dropout), Dense(10); compiled with keras.optimizers.Adam(lr), "
               "SparseCategoricalCrossentropy(from_logits=True) and metrics=['accuracy'].")
# name -> (class, min, max, sampling, step when continuous, step when discrete)
_SPACE = {"learning_rate": ("Float", 1e-4, 1e-1, "log", None, math.sqrt(1_000)),
          "units": ("Int", 32, 256, "linear", 32, 224),
          "dropout": ("Float", 0.0, 0.5, "linear", None, 0.5)}


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6,
                                                                                          abs_tol=1e-12))


def _space(ex: str, hp: kt.HyperParameters, discrete: bool) -> None:
    call = f"build_model(hp, discrete={discrete})"
    got = {h.name: h for h in hp.space}
    if set(got) != set(_SPACE):
        raise ExerciseError(ex, f"{call} declares the hyperparameters {sorted(got)}, expected "
                            f"{sorted(_SPACE)}.", "The tuners and the notebook read them by these names. "
                            + _BUILD_HINT)
    for name, (kind, lo, hi, sampling, step, dstep) in _SPACE.items():
        h = got[name]
        want_step = dstep if discrete else step
        if type(h).__name__ != kind:
            raise ExerciseError(ex, f"{call}: {name!r} is a {type(h).__name__}, expected hp.{kind}.", _BUILD_HINT)
        if not (_same(h.min_value, lo) and _same(h.max_value, hi)):
            raise ExerciseError(ex, f"{call}: {name!r} ranges over [{h.min_value}, {h.max_value}], expected "
                                f"[{lo}, {hi}].", _BUILD_HINT)
        if h.sampling != sampling:
            raise ExerciseError(ex, f"{call}: {name!r} is sampled {h.sampling!r}, expected {sampling!r}.",
                                "A learning rate matters by its order of magnitude: 1e-4 -> 1e-3 is as big a change "
                                "as 1e-3 -> 1e-2, so draw it on a log scale (sampling='log'); linear sampling puts "
                                "90% of the trials above 1e-2." if name == "learning_rate" else _BUILD_HINT)
        if not _same(h.step, want_step):
            raise ExerciseError(ex, f"{call}: {name!r} has step {h.step}, expected {want_step}.",
                                "With discrete=True the grid needs a few values per axis (3 learning rates, 2 "
                                "widths, 2 dropout rates); otherwise the learning rate and dropout are continuous "
                                "(no step) and the width moves in steps of 32. " + _BUILD_HINT)


def _model(ex: str, out: Any, call: str):
    if out is None:
        raise ExerciseError(ex, f"{call} returned None.", "Did you forget `return model`?")
    if not isinstance(out, keras.Model):
        raise ExerciseError(ex, f"{call} returned a {type(out).__name__}, expected a compiled keras.Model.",
                            _BUILD_HINT)
    if getattr(out, "optimizer", None) is None or not getattr(out, "compiled", False):
        raise ExerciseError(ex, f"{call} returned a model that is not compiled.",
                            "The tuner calls fit on what build_model returns, so compile it there, with the "
                            "learning rate the tuner chose: model.compile(keras.optimizers.Adam(lr), ...).")
    return out


def build_model(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(hp, discrete=False)`` is a KerasTuner build function for the lab's MLP.

    Structure: the three hyperparameters (names, types, ranges, log sampling for the learning
    rate, steps with and without ``discrete``). Behaviour: for fresh values set on ``hp`` (the
    way a tuner sets a trial's values), the model uses them - its width, dropout rate and Adam's
    learning rate - and is compiled on logits with an accuracy metric. ``seed=None``: new values
    each call, named in any failure.
    """
    ex = "a KerasTuner build function"
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    require_answer(ex, fn, "build_model", _BUILD_HINT)
    for discrete in (False, True):
        hp = kt.HyperParameters()
        _model(ex, call_answer(ex, lambda h, d=discrete: fn(h, discrete=d), "build_model", (hp,), _BUILD_HINT),
               f"build_model(hp, discrete={discrete})")
        _space(ex, hp, discrete)
    # a trial: the tuner sets the values, then calls build_model again
    lr, units, rate = float(10 ** rng.uniform(-4, -1)), int(32 * rng.integers(1, 9)), float(rng.uniform(0.05, 0.5))
    hp = kt.HyperParameters()
    call_answer(ex, fn, "build_model", (hp,), _BUILD_HINT)  # declares the space, as a tuner's first call does
    hp.values.update(learning_rate=lr, units=units, dropout=rate)
    call = f"build_model(hp) with learning_rate={lr:.3g}, units={units}, dropout={rate:.3f} (seed={seed})"
    model = _model(ex, call_answer(ex, fn, "build_model", (hp,), _BUILD_HINT), call)
    shape_in = tuple(model.inputs[0].shape) if model.inputs else None
    if shape_in != (None, 28, 28, 1) or tuple(model.outputs[0].shape) != (None, 10):
        raise ExerciseError(ex, f"{call}: the model maps {shape_in} to {tuple(model.outputs[0].shape)}, expected "
                            "(None, 28, 28, 1) -> (None, 10).", _BUILD_HINT)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    if [d.units for d in dense] != [units, 10]:
        raise ExerciseError(ex, f"{call}: Dense layers of {[d.units for d in dense]} units, expected [{units}, 10].",
                            "Use the value hp.Int returns (units = hp.Int(...)), not a number of your own: the tuner "
                            "decides it for each trial. " + _BUILD_HINT)
    if getattr(dense[-1].activation, "__name__", "") != "linear":
        raise ExerciseError(ex, f"{call}: the last layer has activation {dense[-1].activation.__name__}.",
                            "Output logits (Dense(10) with no activation) and let the loss apply the softmax "
                            "(from_logits=True).")
    rates = [float(layer.rate) for layer in model.layers if type(layer).__name__ == "Dropout"]
    if len(rates) != 1 or not math.isclose(rates[0], rate, rel_tol=1e-6):
        raise ExerciseError(ex, f"{call}: Dropout rates {rates}, expected one Dropout({rate:.3f}).",
                            "One Dropout layer after the hidden Dense layer, at the rate hp.Float('dropout', ...) "
                            "returns.")
    if not isinstance(model.optimizer, keras.optimizers.Adam):
        raise ExerciseError(ex, f"{call}: the optimiser is {type(model.optimizer).__name__}, expected Adam.",
                            _BUILD_HINT)
    got_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    if not math.isclose(got_lr, lr, rel_tol=1e-5):
        raise ExerciseError(ex, f"{call}: Adam's learning rate is {got_lr:.3g}, expected {lr:.3g}.",
                            "Pass the tuner's value: keras.optimizers.Adam(lr) with lr = hp.Float('learning_rate', "
                            "...); the string 'adam' would always use Adam's default 1e-3.")
    loss = model.loss
    if not (isinstance(loss, keras.losses.Loss) and loss.get_config().get("from_logits")):
        raise ExerciseError(ex, f"{call}: the loss is {loss!r}, not a cross-entropy on logits.",
                            "keras.losses.SparseCategoricalCrossentropy(from_logits=True): the model outputs logits "
                            "and the labels are class indices.")
    x = rng.random((4, 28, 28, 1)).astype("float32")
    scores = model.evaluate(x, rng.integers(0, 10, 4), verbose=0, return_dict=True)
    if "accuracy" not in scores:
        raise ExerciseError(ex, f"{call}: evaluate reports {sorted(scores)}, no 'accuracy'.",
                            "The tuners optimise val_accuracy, so compile with metrics=['accuracy'].")
    passed(ex, f"the search space, and a trial's values used by the model (seed={seed})")
