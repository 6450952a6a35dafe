"""NumPy reference code for the from-scratch track (notebooks 01-03).

The notebooks have the student write these pieces; this module holds tested reference
versions that the exercise checks compare against and that later cells may reuse.
Conventions follow Keras: a batch is a row per example, a dense kernel ``W`` has shape
``(n_in, n_out)`` and a layer computes ``g(A @ W + b)``.

Everything works in the dtype it is given (use float64 for gradient checks).
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from labkit.validation import (
    check_array,
    check_axis,
    check_bool,
    check_callable,
    check_int,
    check_labels,
    check_number,
    check_values,
)

__all__ = [
    "sigmoid", "sigmoid_prime", "relu", "softmax", "log_softmax", "logsumexp",
    "cross_entropy_from_logits", "entropy", "kl_divergence", "dense", "sequential",
    "numerical_gradient", "relative_error", "init_two_layer", "two_layer_forward",
    "two_layer_backward", "two_layer_loss", "soft_threshold",
]

Array = np.ndarray
Layer = tuple  # (W, b, g) with g a callable


def _floats(x, name: str, *, finite: bool = False) -> Array:
    """``x`` as a numeric array in its own float dtype (integers and booleans as float64)."""
    arr = check_array(x, name, min_len=0, finite=finite)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _along(z: Array, axis, name: str = "z") -> int:
    """``axis`` of ``z`` (at least 1-D, not empty along it) as a non-negative index."""
    if z.ndim == 0:
        raise ValueError(f"{name} must be at least 1-D (a vector or a batch of them), got a scalar.")
    axis = check_axis(axis, z.ndim)
    if z.shape[axis] == 0:
        raise ValueError(f"{name} has no entries along axis {axis} (shape {z.shape}).")
    return axis


# --------------------------------------------------------------------------- activations
def sigmoid(z) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, without overflow for any ``z``."""
    z = _floats(z, "z")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_prime(z) -> Array:
    """Derivative of the sigmoid, ``s * (1 - s)``; at most 0.25 (at ``z = 0``)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def relu(z) -> Array:
    """``max(z, 0)`` element-wise."""
    z = _floats(z, "z")
    return np.maximum(z, 0)


def logsumexp(z, axis: int = -1, keepdims: bool = False) -> Array:
    """``log(sum(exp(z)))`` along ``axis``, computed as ``m + log(sum(exp(z - m)))``."""
    z = _floats(z, "z")
    axis = _along(z, axis)
    keepdims = check_bool(keepdims, "keepdims")
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z, axis: int = -1) -> Array:
    """``log(softmax(z))`` without overflow or ``log(0)``."""
    z = _floats(z, "z")
    return z - logsumexp(z, axis=_along(z, axis), keepdims=True)


def softmax(z, axis: int = -1) -> Array:
    """Softmax along ``axis`` (each row of a batch of logits sums to 1), overflow-free."""
    z = _floats(z, "z")
    axis = _along(z, axis)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --------------------------------------------------------------------------- losses
def _labels_for(y, n: int, k: int) -> Array:
    """Integer labels ``y`` of shape (n,), each in ``0 .. k-1``."""
    arr = check_array(y, "y", min_len=0)
    if arr.shape != (n,):
        raise ValueError(f"y must have shape ({n},) (one label per row of logits), got {arr.shape}.")
    return check_labels(arr, "y", n_classes=k) if n else arr.astype(np.int64)


def cross_entropy_from_logits(logits, y) -> float:
    """Mean categorical cross-entropy of integer labels ``y`` (n,) given logits (n, k).

    Uses log-softmax, so huge logits neither overflow nor give ``log(0)``; equals
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
    """
    logits = _floats(logits, "logits", finite=True)
    if logits.ndim != 2 or 0 in logits.shape:
        raise ValueError(f"logits must have shape (n, k) with n, k >= 1, got {logits.shape}.")
    y = _labels_for(y, *logits.shape)
    return float(-np.mean(log_softmax(logits)[np.arange(len(y)), y]))


def entropy(p, axis: int = -1) -> Array:
    """Shannon entropy ``-sum p log p`` (nats) of distributions along ``axis``; 0 log 0 = 0.

    ``p`` holds probabilities: values in [0, 1] (ValueError otherwise, NaN included).
    """
    p = _probabilities(p, "p")
    axis = _along(p, axis, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=axis)


def kl_divergence(p, q, axis: int = -1) -> Array:
    """``KL(p || q) = sum p log(p / q)`` (nats) along ``axis``; terms with p = 0 are 0.

    ``p`` and ``q`` hold probabilities (values in [0, 1]); where q = 0 < p the result is inf.
    """
    p, q = _probabilities(p, "p"), _probabilities(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}.")
    axis = _along(p, axis, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0), axis=axis)


def _probabilities(p, name: str) -> Array:
    arr = _floats(p, name, finite=True)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one probability.")
    return check_values(arr, name, min_val=0, max_val=1)


# --------------------------------------------------------------------------- layers
def dense(A, W, b, g: Callable[[Array], Array]) -> Array:
    """A dense layer on a batch: ``g(A @ W + b)``; A (n, n_in), W (n_in, n_out), b (n_out,)."""
    A, W, b = _floats(A, "A"), _floats(W, "W"), _floats(b, "b")
    check_callable(g, "g", what="an activation function g(Z) -> array, e.g. scratch.relu")
    if A.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(f"expected A (n, n_in), W (n_in, n_out), b (n_out,); got {A.shape}, {W.shape}, {b.shape}.")
    if A.shape[1] != W.shape[0] or W.shape[1] != b.shape[0]:
        raise ValueError(f"shapes do not chain: A {A.shape} @ W {W.shape} + b {b.shape}; "
                         "W must be (n_in, n_out) as in a Keras Dense kernel.")
    return g(A @ W + b)


def sequential(A, layers: Sequence[Layer]) -> Array:
    """Forward pass through ``layers``, a list of ``(W, b, g)``; returns the last output."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of (W, b, g) triples, got {type(layers).__name__}.")
    if len(layers) == 0:
        raise ValueError("layers is empty; give at least one (W, b, g).")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 3:
            raise ValueError(f"layers[{i}] must be a (W, b, g) triple, got "
                             f"{type(layer).__name__}{f' of {len(layer)} items' if hasattr(layer, '__len__') else ''}.")
    for W, b, g in layers:
        A = dense(A, W, b, g)
    return A


# --------------------------------------------------------------------------- gradients
def numerical_gradient(f: Callable[[Array], float], x: Array, eps: float = 1e-5) -> Array:
    """Central finite differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every i.

    ``x`` is perturbed in place and restored; use float64 for an accurate check.
    """
    check_callable(f, "f", what="a function f(x) -> float")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"x must be a float NumPy array (it is perturbed in place), got "
                        f"{type(x).__name__}{f' of dtype {x.dtype}' if isinstance(x, np.ndarray) else ''}.")
    eps = check_number(eps, "eps", min_val=0, include_min=False)

    def value(v) -> float:
        out = np.asarray(f(v))
        if out.ndim != 0 or out.dtype.kind not in "biuf":
            raise TypeError(f"f must return one number (the loss), got an array of shape {out.shape} and dtype "
                            f"{out.dtype}.")
        return float(out)

    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place.")
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + eps
            up = value(x)
            flat[i] = old - eps
            down = value(x)
        finally:
            flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a|| + ||b||, tiny)``: about 1e-9 for a correct float64 gradient."""
    a, b = _floats(a, "a", finite=True), _floats(b, "b", finite=True)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}.")
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(b)), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(a - b) / denom)


# --------------------------------------------------------------------------- two-layer net
def init_two_layer(n_in: int, n_hidden: int, n_out: int, *, seed: int = 0,
                   dtype=np.float64) -> dict[str, Array]:
    """He-initialised weights of ``x -> relu(x W1 + b1) W2 + b2`` (logits)."""
    n_in, n_hidden, n_out = (check_int(v, name, min_val=1) for name, v in
                             (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)))
    if seed is not None:
        seed = check_int(seed, "seed", min_val=0)
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        raise TypeError(f"dtype must be a NumPy float dtype such as np.float64, got {dtype!r}.") from None
    if kind != "f":
        raise ValueError(f"dtype must be a floating-point dtype (np.float32 or np.float64), got {np.dtype(dtype)}.")
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in)).astype(dtype),
        "b1": np.zeros(n_hidden, dtype),
        "W2": (rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden)).astype(dtype),
        "b2": np.zeros(n_out, dtype),
    }


def two_layer_forward(params: Mapping[str, Array], X) -> tuple[Array, tuple[Array, Array, Array]]:
    """Logits (n, n_out) and the cache ``(X, Z1, H)`` the backward pass needs."""
    params = _check_params(params)
    X = _floats(X, "X")
    n_in = params["W1"].shape[0]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (n, {n_in}) to match params['W1'] {params['W1'].shape}, got {X.shape}.")
    Z1 = X @ params["W1"] + params["b1"]
    H = np.maximum(Z1, 0)
    return H @ params["W2"] + params["b2"], (X, Z1, H)


def two_layer_loss(params: Mapping[str, Array], X, y) -> float:
    """Mean softmax cross-entropy of the two-layer network."""
    return cross_entropy_from_logits(two_layer_forward(params, X)[0], y)


def two_layer_backward(params: Mapping[str, Array], cache: tuple[Array, Array, Array],
                       logits: Array, y) -> dict[str, Array]:
    """Gradients of the mean cross-entropy w.r.t. W1, b1, W2, b2 (same shapes as params)."""
    params = _check_params(params)
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        raise TypeError(f"cache must be the (X, Z1, H) tuple from two_layer_forward, got {type(cache).__name__}.")
    X, Z1, H = cache
    logits = _floats(logits, "logits", finite=True)
    if logits.ndim != 2 or logits.shape != (len(X), params["W2"].shape[1]):
        raise ValueError(f"logits must have shape ({len(X)}, {params['W2'].shape[1]}) (from two_layer_forward), "
                         f"got {logits.shape}.")
    n = logits.shape[0]
    y = _labels_for(y, n, logits.shape[1])
    dZ2 = softmax(logits)
    dZ2[np.arange(n), y] -= 1
    dZ2 /= n                                  # d loss / d logits, (n, n_out)
    dH = dZ2 @ params["W2"].T                 # (n, n_hidden)
    dZ1 = dH * (Z1 > 0)                       # the ReLU passes gradient only where z > 0
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": H.T @ dZ2, "b2": dZ2.sum(axis=0)}


_PARAMS = ("W1", "b1", "W2", "b2")


def _check_params(params) -> Mapping[str, Array]:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be the dict from init_two_layer, got {type(params).__name__}.")
    missing = [k for k in _PARAMS if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; use the dict from init_two_layer (keys {list(_PARAMS)}).")
    return params


# --------------------------------------------------------------------------- regularisation
def soft_threshold(w, t: float) -> Array:
    """Proximal step of the L1 penalty: ``sign(w) * max(|w| - t, 0)`` (exact zeros)."""
    w = _floats(w, "w")
    t = check_number(t, "t", min_val=0)
    return np.sign(w) * np.maximum(np.abs(w) - t, 0)
