"""Checks for notebook 11 (hyperparameter search)."""
from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer

__all__ = ["sample_configs", "build_model"]


_SAMPLE_HINT = ("rng = np.random.default_rng(seed); draw log10 of the learning rate uniformly in [-4, -1] and "
                "raise 10 to it (lr = 10 ** rng.uniform(-4, -1, n)), draw dropout = rng.uniform(0, 0.5, n), and "
                "return np.column_stack([lr, dropout]), shape (n, 2).")
_SAMPLE_N, _KS_ALPHA = 2_000, 1e-4   # a right answer fails one of the two KS tests with probability < 2e-4


def sample_configs(fn, *, seed: int | None = None) -> None:
    """Exercise 1: ``fn(n, seed)`` -> (n, 2) array of random-search trials: learning rate, dropout.

    The learning rate must be log-uniform on [1e-4, 1e-1] and dropout uniform on [0, 0.5]: each is
    compared with its distribution by a Kolmogorov-Smirnov test (``scipy.stats.kstest``) on 2,000 draws
    of a fresh seed; the same seed must give the same draws, another seed other ones.
    """
    import scipy.stats  # noqa: PLC0415

    ex = "random search trials"
    require_answer(ex, fn, "sample_configs", _SAMPLE_HINT)
    seed = fresh_seed(seed)
    replay = f"(replay with checks.tuning.sample_configs(sample_configs, seed={seed}))"
    out = call_answer(ex, fn, "sample_configs", (_SAMPLE_N, seed), _SAMPLE_HINT)
    if out is None:
        raise ExerciseError(ex, "sample_configs returned None.", "Did you forget the `return`?")
    try:
        trials = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"sample_configs returned {type(out).__name__}, not an array of numbers.",
                            _SAMPLE_HINT) from None
    if trials.shape != (_SAMPLE_N, 2):
        raise ExerciseError(ex, f"sample_configs({_SAMPLE_N}, seed) returned shape {trials.shape}, expected "
                            f"({_SAMPLE_N}, 2): one row per trial, columns learning rate and dropout.", _SAMPLE_HINT)
    lr, dropout = trials[:, 0], trials[:, 1]
    if not np.all(np.isfinite(trials)):
        raise ExerciseError(ex, "some trials are nan or inf.", _SAMPLE_HINT)
    if lr.min() < 0 and lr.min() >= -4 - 1e-9 and lr.max() <= -1 + 1e-9:
        raise ExerciseError(ex, "the learning rates are between -4 and -1: that is their log10.",
                            "Return the learning rate itself: 10 ** (the uniform draw).")
    if not np.all(lr > 0):
        raise ExerciseError(ex, f"learning rates must be positive, got a smallest of {lr.min():.3g}.", _SAMPLE_HINT)
    if lr.min() < 1e-4 * (1 - 1e-9) or lr.max() > 1e-1 * (1 + 1e-9) or dropout.min() < 0 or dropout.max() > 0.5:
        swapped = " (are the columns swapped?)" if dropout.max() < 0.2 and lr.max() > 0.2 else ""
        raise ExerciseError(ex, f"values outside the ranges: learning rate in [{lr.min():.3g}, {lr.max():.3g}] "
                            f"(want [1e-4, 1e-1]), dropout in [{dropout.min():.3g}, {dropout.max():.3g}] "
                            f"(want [0, 0.5]){swapped}.", _SAMPLE_HINT)
    distinct = len(np.unique(lr))
    if distinct < _SAMPLE_N // 2:
        raise ExerciseError(ex, f"only {distinct} distinct learning rates in {_SAMPLE_N} trials {replay}.",
                            "That is a grid: random search draws a fresh value from the continuous range in "
                            "every trial, so every trial tries a learning rate of its own.")
    log_p = scipy.stats.kstest(np.log10(lr), scipy.stats.uniform(loc=-4, scale=3).cdf).pvalue
    if log_p < _KS_ALPHA:
        linear_p = scipy.stats.kstest(lr, scipy.stats.uniform(loc=1e-4, scale=1e-1 - 1e-4).cdf).pvalue
        share = float(np.mean(lr > 1e-2))
        why = (f" They look uniform on the linear scale: {share:.0%} of them are above 1e-2, so 1e-4..1e-3 is "
               "hardly ever tried." if linear_p >= _KS_ALPHA else "")
        raise ExerciseError(ex, f"the learning rates are not log-uniform on [1e-4, 1e-1] (KS test p = "
                            f"{log_p:.1e}) {replay}.{why}", _SAMPLE_HINT)
    drop_p = scipy.stats.kstest(dropout, scipy.stats.uniform(loc=0, scale=0.5).cdf).pvalue
    if drop_p < _KS_ALPHA:
        raise ExerciseError(ex, f"dropout is not uniform on [0, 0.5] (KS test p = {drop_p:.1e}) {replay}.",
                            _SAMPLE_HINT)
    again = np.asarray(call_answer(ex, fn, "sample_configs", (_SAMPLE_N, seed), _SAMPLE_HINT), dtype=np.float64)
    if not np.array_equal(again, trials):
        raise ExerciseError(ex, "two calls with the same seed gave different trials.",
                            "Draw from np.random.default_rng(seed), so that a search can be repeated.")
    other = np.asarray(call_answer(ex, fn, "sample_configs", (_SAMPLE_N, seed + 1), _SAMPLE_HINT), dtype=np.float64)
    if np.array_equal(other, trials):
        raise ExerciseError(ex, "another seed gave the same trials.", "Use the `seed` argument for the generator.")
    passed(ex, f"{_SAMPLE_N} trials: log10(lr) uniform on [-4, -1] (KS p = {log_p:.2f}), dropout uniform "
               f"(p = {drop_p:.2f}), reproducible by seed")


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
