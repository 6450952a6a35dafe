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

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.metrics import _check_lengths, sigmoid, softmax

__all__ = ["LearningCurve", "ValidationCurve", "learning_curve", "validation_curve", "error_rate",
           "cross_entropy"]


# --------------------------------------------------------------------------- error functions
def _binary_probs(out: np.ndarray, from_logits: bool) -> np.ndarray:
    return sigmoid(out[:, 0]) if from_logits else out[:, 0]


def error_rate(y_true: np.ndarray, outputs: np.ndarray, from_logits: bool = True) -> float:
    """Fraction misclassified. ``outputs``: (n, k) scores (arg-max) or (n, 1) binary scores
    (positive at logit >= 0, i.e. probability >= 0.5)."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    out = np.asarray(outputs).reshape(len(y), -1)
    pred = out.argmax(axis=1) if out.shape[1] > 1 else (_binary_probs(out, from_logits) >= 0.5).astype(int)
    return float(np.mean(pred != y))


def cross_entropy(y_true: np.ndarray, outputs: np.ndarray, from_logits: bool = True) -> float:
    """Mean cross-entropy (natural log) of integer labels under the model's outputs."""
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1).astype(np.int64)
    out = np.asarray(outputs, dtype=np.float64).reshape(len(y), -1)
    eps = 1e-12
    if out.shape[1] == 1:
        p = np.clip(_binary_probs(out, from_logits), eps, 1 - eps)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    probs = softmax(out) if from_logits else out
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0))))


_ERRORS: dict[str, Callable[..., float]] = {"error_rate": error_rate, "cross_entropy": cross_entropy}


def _error_fn(error: str | Callable) -> tuple[Callable, str]:
    if callable(error):
        return error, getattr(error, "__name__", "error")
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
def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _train_one(build: Callable[[], Any], x_fit, y_fit, x_val, y_val, *, epochs: int, batch_size: int,
               seed: int, err: Callable, from_logits: bool, fit_kwargs: dict) -> tuple[float, float, float, dict]:
    """Clear the session, seed, build, fit, predict train + val once each; returns errors."""
    import keras

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
        if a is None or len(a) == 0:
            raise ValueError(f"{name} is empty; pass at least one example.")
    _check_lengths(x_train=np.empty(len(x_train)), y_train=np.empty(len(y_train)))
    _check_lengths(x_val=np.empty(len(x_val)), y_val=np.empty(len(y_val)))


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
    epochs, batch_size = _check_int("epochs", epochs), _check_int("batch_size", batch_size)
    seed = _check_int("seed", seed, minimum=0)
    err, err_name = _error_fn(error)
    n_pool = len(x_train)
    sizes_in = np.asarray(train_sizes)
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
    if "validation_data" in (fit_kwargs or {}):
        raise ValueError("do not pass validation_data in fit_kwargs; the curve measures x_val itself.")
    perm = np.random.default_rng(seed if shuffle_seed is None else shuffle_seed).permutation(n_pool)
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    tr, va, secs, hists = [], [], [], []
    for n in sizes:
        idx = np.sort(perm[:n])
        t, v, s, h = _train_one(build_model, x_train[idx], y_train[idx], x_val, y_val, epochs=epochs,
                                batch_size=batch_size, seed=seed, err=err, from_logits=from_logits,
                                fit_kwargs=dict(fit_kwargs or {}))
        tr.append(t), va.append(v), secs.append(s), hists.append(h)
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
    epochs, batch_size = _check_int("epochs", epochs), _check_int("batch_size", batch_size)
    seed = _check_int("seed", seed, minimum=0)
    err, err_name = _error_fn(error)
    values = list(param_values)
    if not values:
        raise ValueError("param_values is empty; pass at least one value to try.")
    if "validation_data" in (fit_kwargs or {}):
        raise ValueError("do not pass validation_data in fit_kwargs; the curve measures x_val itself.")
    tr, va, secs, hists = [], [], [], []
    for value in values:
        t, v, s, h = _train_one(lambda: build_model(value), x_train, y_train, x_val, y_val, epochs=epochs,
                                batch_size=batch_size, seed=seed, err=err, from_logits=from_logits,
                                fit_kwargs=dict(fit_kwargs or {}))
        tr.append(t), va.append(v), secs.append(s), hists.append(h)
        if verbose:
            print(f"{param_name} = {value:g}: train {err_name} {t:.4f}, val {v:.4f} ({s:.0f} s)", flush=True)
    return ValidationCurve(param_name, np.asarray(values), np.array(tr), np.array(va), np.array(secs),
                           err_name, hists)
