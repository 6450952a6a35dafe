"""Probe a model's loss landscape: straight lines between solutions, 2-D slices along
filter-normalised random directions (Li et al., 2018), and sharpness.

All functions take a compiled-or-not Keras model, a list of weight arrays (as from
``model.get_weights()``), data ``x, y`` and a Keras loss; they restore the model's
weights before returning.

Why labkit keeps its own: the method's reference code (Li et al.'s ``loss-landscape``) is
PyTorch, and neither Keras nor TensorFlow has filter-normalised directions or slices.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Sequence

import numpy as np

from labkit.validation import check_array, check_bool, check_callable, check_int, check_number

__all__ = ["flatten", "weight_distance", "interpolate", "random_direction", "surface", "sharpness", "loss_at"]

Weights = Sequence[np.ndarray]


def _arrays(weights: Weights, name: str) -> list[np.ndarray]:
    """A non-empty list of numeric weight arrays (as ``model.get_weights()`` gives)."""
    if isinstance(weights, (str, bytes, np.ndarray)) or not isinstance(weights, Sequence):
        raise TypeError(f"{name} must be a list of weight arrays (as model.get_weights() gives), got "
                        f"{type(weights).__name__}.")
    if not weights:
        raise ValueError(f"{name} is empty; pass a list of weight arrays (model.get_weights()).")
    return [check_array(w, f"{name}[{i}]", min_len=0) for i, w in enumerate(weights)]


def _check_model(model) -> None:
    if not callable(getattr(model, "get_weights", None)) or not callable(getattr(model, "set_weights", None)):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}.")


def _check_weights(model, weights: Weights, name: str = "weights") -> list[np.ndarray]:
    _check_model(model)
    current = model.get_weights()
    weights = _arrays(weights, name)
    if len(weights) != len(current) or any(a.shape != b.shape for a, b in zip(weights, current)):
        raise ValueError(f"{name} do not fit the model: expected {len(current)} arrays with shapes "
                         f"{[w.shape for w in current]}, got {[w.shape for w in weights]}.")
    return weights


def _check_data(x, y, loss_fn, batch_size) -> None:
    for name, a in (("x", x), ("y", y)):
        if not hasattr(a, "__len__") or isinstance(a, str):
            raise TypeError(f"{name} must be an array of examples, got {type(a).__name__}.")
    if len(x) == 0:
        raise ValueError("x is empty; pass at least one example.")
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths ({len(x)} vs {len(y)}); pass one target per example.")
    check_callable(loss_fn, "loss_fn", what="a loss function loss_fn(y_true, y_pred), e.g. a keras.losses.Loss")
    check_int(batch_size, "batch_size", min_val=1)


@contextmanager
def _restoring(model):
    saved = model.get_weights()
    try:
        yield
    finally:
        model.set_weights(saved)


def flatten(weights: Weights) -> np.ndarray:
    """All weights as one float64 vector."""
    return _flatten(weights, "weights")


def _flatten(weights: Weights, name: str) -> np.ndarray:
    return np.concatenate([w.astype(np.float64).ravel() for w in _arrays(weights, name)])


def weight_distance(a: Weights, b: Weights) -> float:
    """Relative distance ``||a - b|| / ||a||`` between two weight lists."""
    fa, fb = _flatten(a, "a"), _flatten(b, "b")
    if fa.shape != fb.shape:
        raise ValueError(f"weight lists a and b differ in size: {fa.size} vs {fb.size} numbers.")
    return float(np.linalg.norm(fa - fb) / max(float(np.linalg.norm(fa)), 1e-12))


def loss_at(model, weights: Weights, x, y, loss_fn: Callable, batch_size: int = 1024) -> float:
    """Mean ``loss_fn(y, model(x))`` with the model's weights set to ``weights`` (inference mode)."""
    _check_data(x, y, loss_fn, batch_size)
    with _restoring(model):
        model.set_weights(_check_weights(model, weights))
        total, n = 0.0, 0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            out = model(xb, training=False)
            total += float(loss_fn(yb, out)) * len(xb)
            n += len(xb)
    return total / n


def interpolate(model, a: Weights, b: Weights, x, y, loss_fn: Callable,
                alphas: Sequence[float] = tuple(np.linspace(-0.25, 1.25, 25)), batch_size: int = 1024
                ) -> tuple[np.ndarray, np.ndarray]:
    """Loss along the straight line ``(1 - α)·a + α·b``. Returns ``(alphas, losses)``."""
    a, b = _check_weights(model, a, "a"), _check_weights(model, b, "b")
    _check_data(x, y, loss_fn, batch_size)
    grid = check_array(alphas, "alphas", ndim=1).astype(float)
    losses = np.array([loss_at(model, [(1 - t) * wa + t * wb for wa, wb in zip(a, b)], x, y, loss_fn, batch_size)
                       for t in grid])
    return grid, losses


def _norm(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.sqrt(np.sum(np.square(a), axis=axes, keepdims=True))


def random_direction(weights: Weights, seed: int = 0, filter_normalize: bool = True) -> list[np.ndarray]:
    """A Gaussian direction in weight space, shaped like ``weights``.

    With ``filter_normalize`` each filter (the slice of a kernel feeding one output unit:
    the last axis of Dense/Conv kernels) is scaled to the norm of the same filter in
    ``weights``, and 1-D parameters (biases, batch-norm) get a zero direction - the
    normalisation of Li et al. (2018) that makes slices of different networks comparable.
    """
    weights = _arrays(weights, "weights")
    if seed is not None:
        seed = check_int(seed, "seed", min_val=0)
    filter_normalize = check_bool(filter_normalize, "filter_normalize")
    rng = np.random.default_rng(seed)
    out = []
    for w in weights:
        w = w.astype(np.float64)
        d = rng.standard_normal(w.shape)
        if filter_normalize:
            if w.ndim <= 1:
                d = np.zeros_like(w)
            else:
                axes = tuple(range(w.ndim - 1))
                d *= _norm(w, axes) / (_norm(d, axes) + 1e-12)
        out.append(d.astype(np.float32))
    return out


def surface(model, center: Weights, d1: Weights, d2: Weights, x, y, loss_fn: Callable,
            span: float = 1.0, steps: int = 11, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss on the plane ``center + s·d1 + t·d2`` for s, t in [-span, span].

    Returns ``(s, t, losses)`` with ``losses[i, j]`` at ``(s[i], t[j])``.
    """
    steps = check_int(steps, "steps", min_val=2)
    span = check_number(span, "span", min_val=0, include_min=False)
    center = _check_weights(model, center, "center")
    d1, d2 = _check_weights(model, d1, "d1"), _check_weights(model, d2, "d2")
    _check_data(x, y, loss_fn, batch_size)
    grid = np.linspace(-span, span, steps)
    losses = np.empty((steps, steps))
    for i, s in enumerate(grid):
        for j, t in enumerate(grid):
            losses[i, j] = loss_at(model, [c + s * u + t * v for c, u, v in zip(center, d1, d2)], x, y, loss_fn,
                                   batch_size)
    return grid, grid.copy(), losses


def sharpness(model, weights: Weights, x, y, loss_fn: Callable, radius: float = 0.05, samples: int = 10,
              seed: int = 0, batch_size: int = 1024) -> float:
    """Mean loss increase when the weights are moved by ``radius`` along random
    filter-normalised directions (``samples`` of them). Flat minima give small values."""
    radius = check_number(radius, "radius", min_val=0, include_min=False)
    samples = check_int(samples, "samples", min_val=1)
    seed = check_int(seed, "seed", min_val=0)
    weights = _check_weights(model, weights)
    base = loss_at(model, weights, x, y, loss_fn, batch_size)
    rises = [loss_at(model, [w + radius * d for w, d in zip(weights, random_direction(weights, seed + k))],
                     x, y, loss_fn, batch_size) - base for k in range(samples)]
    return float(np.mean(rises))
