"""Learning curves and validation (hyper-parameter) curves of Keras models.

``learning_curve`` trains a fresh, identically seeded model on growing subsets of the
training data and records the training and validation error of each; read it to decide
whether more data will help. ``validation_curve`` trains one model per value of a
hyper-parameter such as an L2 λ or a dropout rate; read it to pick the value.

Both cost the fits they run and nothing more: one ``predict`` on the training subset
and one on the validation set per fit, and ``keras.backend.clear_session()`` between
fits so memory does not grow with the number of points.
"""
from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from sklearn.metrics import log_loss, zero_one_loss

from labkit.metrics import sigmoid, softmax
from labkit.validation import (
    check_array,
    check_bool,
    check_callable,
    check_int,
    check_labels,
    check_same_length,
    check_str,
)

__all__ = ["LearningCurve", "ValidationCurve", "learning_curve", "validation_curve", "error_rate",
           "cross_entropy"]


# --------------------------------------------------------------------------- error functions
def _binary_probs(out: np.ndarray, from_logits: bool) -> np.ndarray:
    return sigmoid(out[:, 0]) if from_logits else out[:, 0]


def _labels_and_outputs(y_true: Any, outputs: Any, from_logits: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels (n,) and outputs (n, k) of one length, labels within the k classes
    (0/1 for a single output column); probabilities checked when ``from_logits`` is False."""
    from_logits = check_bool(from_logits, "from_logits")
    y = check_array(y_true, "y_true", ndim=(1, 2))
    if y.ndim == 2:
        y = y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]  # one-hot rows, or an (n, 1) column
    out = check_array(outputs, "outputs", ndim=(1, 2)).astype(np.float64)
    if out.ndim == 1:
        out = out[:, None]
    check_same_length(y_true=y, outputs=out)
    y = check_labels(y.astype(np.int64) if y.dtype == bool else y, "y_true", n_classes=max(2, out.shape[1]))
    if not from_logits and (out.min() < 0 or out.max() > 1):
        raise ValueError(f"outputs must be probabilities in [0, 1] when from_logits=False, got values from "
                         f"{out.min():g} to {out.max():g}; pass from_logits=True for logits.")
    return y, out


def error_rate(y_true: np.ndarray, outputs: np.ndarray, from_logits: bool = True) -> float:
    """Fraction misclassified, :func:`sklearn.metrics.zero_one_loss` of the predictions.

    ``outputs``: (n, k) scores (the arg-max is the prediction) or (n, 1) binary scores
    (positive at logit >= 0, i.e. probability >= 0.5). ``y_true``: (n,) integer labels in
    ``0 .. k-1`` (0/1 for one output column) or (n, k) one-hot rows; a length mismatch,
    fractional, negative or too-large labels raise ValueError (labkit's checks).
    """
    y, out = _labels_and_outputs(y_true, outputs, from_logits)
    pred = out.argmax(axis=1) if out.shape[1] > 1 else (_binary_probs(out, from_logits) >= 0.5).astype(np.int64)
    return float(zero_one_loss(y, pred))


def cross_entropy(y_true: np.ndarray, outputs: np.ndarray, from_logits: bool = True) -> float:
    """Mean cross-entropy (natural log) of integer labels under the model's outputs:
    :func:`sklearn.metrics.log_loss` with ``labels=range(k)`` (so a batch that lacks a
    class is still scored against all k), after a sigmoid / softmax of logits.

    With ``from_logits=False`` the outputs must be probabilities: in [0, 1] and, for
    several columns, rows that sum to 1 (labkit checks both and says which row is off).
    """
    y, out = _labels_and_outputs(y_true, outputs, from_logits)
    if out.shape[1] == 1:
        return float(log_loss(y, _binary_probs(out, from_logits), labels=[0, 1]))
    sums = out.sum(axis=1)
    if not from_logits and not np.allclose(sums, 1.0, atol=1e-3):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"outputs must be probabilities whose rows sum to 1 when from_logits=False; row {i} "
                         f"sums to {sums[i]:.4g}. Pass from_logits=True for logits (or apply a softmax).")
    probs = softmax(out) if from_logits else out / sums[:, None]  # rows within 1e-3 of 1: make them exact
    return float(log_loss(y, probs, labels=list(range(out.shape[1]))))


_ERRORS: dict[str, Callable[..., float]] = {"error_rate": error_rate, "cross_entropy": cross_entropy}


def _error_fn(error: str | Callable) -> tuple[Callable, str]:
    if callable(error):
        return error, getattr(error, "__name__", "error")
    if not isinstance(error, str):
        raise TypeError(f"error must be one of {sorted(_ERRORS)} or a function f(y_true, outputs) -> float, "
                        f"got {type(error).__name__}.")
    if error not in _ERRORS:
        raise ValueError(f"unknown error {error!r}; use one of {sorted(_ERRORS)} or a function "
                         "f(y_true, outputs) -> float.")
    return _ERRORS[error], error


# --------------------------------------------------------------------------- results
@dataclass
class LearningCurve:
    """Training and validation error per training-set size (arrays of one length)."""

    train_sizes: np.ndarray
    train_error: np.ndarray
    val_error: np.ndarray
    seconds: np.ndarray
    error: str = "error_rate"
    histories: list[dict[str, list[float]]] = field(default_factory=list, repr=False)

    @property
    def gap(self) -> np.ndarray:
        """Validation minus training error per size (the variance signal)."""
        return self.val_error - self.train_error

    def table(self) -> str:
        rows = [f"{'n_train':>8} {'train':>8} {'val':>8} {'gap':>8}"]
        for n, tr, va in zip(self.train_sizes, self.train_error, self.val_error):
            rows.append(f"{int(n):>8d} {tr:>8.4f} {va:>8.4f} {va - tr:>8.4f}")
        return "\n".join(rows)


@dataclass
class ValidationCurve:
    """Training and validation error per value of one hyper-parameter."""

    param_name: str
    param_values: np.ndarray
    train_error: np.ndarray
    val_error: np.ndarray
    seconds: np.ndarray
    error: str = "error_rate"
    histories: list[dict[str, list[float]]] = field(default_factory=list, repr=False)

    @property
    def gap(self) -> np.ndarray:
        """Validation minus training error per value (the variance signal)."""
        return self.val_error - self.train_error

    @property
    def best_index(self) -> int:
        """Index of the lowest validation error (the first one among ties)."""
        return int(np.argmin(self.val_error))

    @property
    def best_value(self) -> Any:
        return self.param_values[self.best_index]

    def table(self) -> str:
        rows = [f"{self.param_name:>10} {'train':>8} {'val':>8} {'gap':>8}"]
        for v, tr, va in zip(self.param_values, self.train_error, self.val_error):
            rows.append(f"{v:>10g} {tr:>8.4f} {va:>8.4f} {va - tr:>8.4f}")
        return "\n".join(rows)


# --------------------------------------------------------------------------- helpers
def _train_one(build: Callable[[], Any], x_fit, y_fit, x_val, y_val, *, epochs: int, batch_size: int,
               seed: int, err: Callable, from_logits: bool, fit_kwargs: dict) -> tuple[float, float, float, dict]:
    """Clear the session, seed, build, fit, predict train + val once each; returns errors."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    model = build()
    if not getattr(model, "compiled", True) or getattr(model, "optimizer", None) is None:
        raise ValueError("build_model must return a compiled Keras model (call model.compile(...) in it).")
    hist = model.fit(x_fit, y_fit, epochs=epochs, batch_size=batch_size, verbose=0, **fit_kwargs)
    # Errors of the final weights, measured in inference mode (no dropout, no running average).
    out_train = model.predict(x_fit, batch_size=max(batch_size, 256), verbose=0)
    out_val = model.predict(x_val, batch_size=max(batch_size, 256), verbose=0)
    train_e = float(err(y_fit, out_train, from_logits=from_logits))
    val_e = float(err(y_val, out_val, from_logits=from_logits))
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    del model, out_train, out_val
    keras.backend.clear_session()
    gc.collect()
    return train_e, val_e, seconds, history


def _validate_data(x_train, y_train, x_val, y_val) -> None:
    for name, a in (("x_train", x_train), ("y_train", y_train), ("x_val", x_val), ("y_val", y_val)):
        if not hasattr(a, "__len__") or isinstance(a, str):
            raise TypeError(f"{name} must be an array of examples, got {type(a).__name__}.")
        if len(a) == 0:
            raise ValueError(f"{name} is empty; pass at least one example.")
    check_same_length(x_train=x_train, y_train=y_train)
    check_same_length(x_val=x_val, y_val=y_val)


def _validate_fit(build_model, epochs, batch_size, seed, error, from_logits, fit_kwargs, verbose, what):
    """The arguments every curve shares; returns (epochs, batch_size, seed, err, err_name, fit_kwargs)."""
    check_callable(build_model, "build_model", what=what)
    epochs, batch_size = check_int(epochs, "epochs", min_val=1), check_int(batch_size, "batch_size", min_val=1)
    seed = check_int(seed, "seed", min_val=0)
    err, err_name = _error_fn(error)
    check_bool(from_logits, "from_logits")
    check_bool(verbose, "verbose")
    if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
        raise TypeError(f"fit_kwargs must be a dict of extra model.fit arguments, got {type(fit_kwargs).__name__}.")
    if "validation_data" in (fit_kwargs or {}):
        raise ValueError("do not pass validation_data in fit_kwargs; the curve measures x_val itself.")
    return epochs, batch_size, seed, err, err_name, dict(fit_kwargs or {})


# --------------------------------------------------------------------------- curves
def learning_curve(build_model: Callable[[], Any], x_train, y_train, x_val, y_val,
                   train_sizes: Sequence[int] | Sequence[float], *, epochs: int = 5, batch_size: int = 128,
                   seed: int = 0, error: str | Callable = "error_rate", from_logits: bool = True,
                   shuffle_seed: int | None = None, fit_kwargs: dict | None = None,
                   verbose: bool = False) -> LearningCurve:
    """Train a fresh seeded model per training-set size; record training and validation error.

    Args:
        build_model: ``() -> compiled keras.Model`` (called once per size, after
            ``keras.backend.clear_session()`` and ``keras.utils.set_random_seed(seed)``).
        x_train, y_train: the pool of training data (N, ...), (N,) or (N, k).
        x_val, y_val: the fixed validation set.
        train_sizes: increasing sizes; integers (counts, 1..N) or floats in (0, 1]
            (fractions of N). The subsets are nested: each is the first n of one seeded
            permutation, so a bigger set contains the smaller ones.
        epochs, batch_size: passed to ``model.fit`` (same for every size).
        error: ``"error_rate"`` (default), ``"cross_entropy"`` or ``f(y, outputs) -> float``.
        from_logits: whether the model outputs logits (the labkit convention).
        shuffle_seed: seed of the subset permutation (default ``seed``).
        fit_kwargs: extra ``model.fit`` arguments (not ``validation_data``: the curve
            needs no per-epoch validation, which would only cost time).

    Returns:
        a :class:`LearningCurve` (errors are of the final weights, in inference mode).
    """
    _validate_data(x_train, y_train, x_val, y_val)
    epochs, batch_size, seed, err, err_name, fit_kwargs = _validate_fit(
        build_model, epochs, batch_size, seed, error, from_logits, fit_kwargs, verbose,
        "a function () -> compiled keras.Model")
    if shuffle_seed is not None:
        shuffle_seed = check_int(shuffle_seed, "shuffle_seed", min_val=0)
    n_pool = len(x_train)
    sizes_in = check_array(train_sizes, "train_sizes", min_len=0)
    if sizes_in.ndim != 1 or sizes_in.size == 0 or sizes_in.dtype.kind not in "iuf":
        raise ValueError(f"train_sizes must be a non-empty 1-D list of numbers, got {train_sizes!r}.")
    if sizes_in.dtype.kind == "f" and np.all(sizes_in <= 1.0):
        if np.any(sizes_in <= 0):
            raise ValueError(f"fractional train_sizes must be in (0, 1], got {sizes_in.tolist()}.")
        sizes = np.maximum(1, np.round(sizes_in * n_pool)).astype(np.int64)
    else:
        if np.any(sizes_in != np.round(sizes_in)):
            raise ValueError(f"train_sizes must be whole numbers or fractions in (0, 1], got {sizes_in.tolist()}.")
        sizes = sizes_in.astype(np.int64)
    if np.any(sizes < 1):
        raise ValueError(f"train_sizes must be positive, got {sizes.tolist()}.")
    if np.any(sizes > n_pool):
        raise ValueError(f"train_sizes go up to {int(sizes.max())} but there are only {n_pool} training examples.")
    if np.any(np.diff(sizes) <= 0):
        raise ValueError(f"train_sizes must be strictly increasing, got {sizes.tolist()}.")
    perm = np.random.default_rng(seed if shuffle_seed is None else shuffle_seed).permutation(n_pool)
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    tr, va, secs, hists = [], [], [], []
    for n in sizes:
        idx = np.sort(perm[:n])
        t, v, s, h = _train_one(build_model, x_train[idx], y_train[idx], x_val, y_val, epochs=epochs,
                                batch_size=batch_size, seed=seed, err=err, from_logits=from_logits,
                                fit_kwargs=dict(fit_kwargs))
        tr.append(t)
        va.append(v)
        secs.append(s)
        hists.append(h)
        if verbose:
            print(f"n_train {int(n):>6d}: train {err_name} {t:.4f}, val {v:.4f} ({s:.0f} s)", flush=True)
    return LearningCurve(sizes, np.array(tr), np.array(va), np.array(secs), err_name, hists)


def validation_curve(build_model: Callable[[Any], Any], param_values: Sequence[Any], x_train, y_train,
                     x_val, y_val, *, param_name: str = "parameter", epochs: int = 5, batch_size: int = 128,
                     seed: int = 0, error: str | Callable = "error_rate", from_logits: bool = True,
                     fit_kwargs: dict | None = None, verbose: bool = False) -> ValidationCurve:
    """Train one fresh seeded model per hyper-parameter value; record training and validation error.

    Args:
        build_model: ``(value) -> compiled keras.Model``, e.g. ``lambda lam: make_mlp(l2=lam)``.
        param_values: the values to try (e.g. ``[0, 1e-4, 1e-3, 1e-2, 1e-1]``), at least one.
        param_name: the name shown in tables and plots (e.g. ``"L2 λ"``).
        the rest: as :func:`learning_curve`; every fit uses the whole ``x_train``.

    Returns:
        a :class:`ValidationCurve`; ``best_value`` has the lowest validation error.
    """
    _validate_data(x_train, y_train, x_val, y_val)
    epochs, batch_size, seed, err, err_name, fit_kwargs = _validate_fit(
        build_model, epochs, batch_size, seed, error, from_logits, fit_kwargs, verbose,
        "a function (value) -> compiled keras.Model")
    param_name = check_str(param_name, "param_name")
    if isinstance(param_values, (str, bytes)) or not hasattr(param_values, "__iter__"):
        raise TypeError(f"param_values must be a list of values to try, got {type(param_values).__name__}.")
    values = list(param_values)
    if not values:
        raise ValueError("param_values is empty; pass at least one value to try.")
    tr, va, secs, hists = [], [], [], []
    for value in values:
        t, v, s, h = _train_one(functools.partial(build_model, value), x_train, y_train, x_val, y_val,
                                epochs=epochs, batch_size=batch_size, seed=seed, err=err,
                                from_logits=from_logits, fit_kwargs=dict(fit_kwargs))
        tr.append(t)
        va.append(v)
        secs.append(s)
        hists.append(h)
        if verbose:
            print(f"{param_name} = {value:g}: train {err_name} {t:.4f}, val {v:.4f} ({s:.0f} s)", flush=True)
    return ValidationCurve(param_name, np.asarray(values), np.array(tr), np.array(va), np.array(secs),
                           err_name, hists)
