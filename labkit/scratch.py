"""NumPy reference code for the from-scratch track (notebooks 01-03).

The notebooks have the student write these pieces; this module holds tested reference
versions that the exercise checks compare against and that later cells may reuse.
Conventions follow Keras: a batch is a row per example, a dense kernel ``W`` has shape
``(n_in, n_out)`` and a layer computes ``g(A @ W + b)``.

Everything works in the dtype it is given (use float64 for gradient checks).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_prime", "relu", "softmax", "log_softmax", "logsumexp",
    "cross_entropy_from_logits", "entropy", "kl_divergence", "dense", "sequential",
    "numerical_gradient", "relative_error", "init_two_layer", "two_layer_forward",
    "two_layer_backward", "two_layer_loss", "soft_threshold",
]

Array = np.ndarray
Layer = tuple  # (W, b, g) with g a callable


def _float_array(x, name: str) -> Array:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}.")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


# --------------------------------------------------------------------------- activations
def sigmoid(z) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, without overflow for any ``z``."""
    z = _float_array(z, "z")
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_prime(z) -> Array:
    """Derivative of the sigmoid, ``s * (1 - s)``; at most 0.25 (at ``z = 0``)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def relu(z) -> Array:
    """``max(z, 0)`` element-wise."""
    z = _float_array(z, "z")
    return np.maximum(z, 0)


def logsumexp(z, axis: int = -1, keepdims: bool = False) -> Array:
    """``log(sum(exp(z)))`` along ``axis``, computed as ``m + log(sum(exp(z - m)))``."""
    z = _float_array(z, "z")
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z, axis: int = -1) -> Array:
    """``log(softmax(z))`` without overflow or ``log(0)``."""
    z = _float_array(z, "z")
    return z - logsumexp(z, axis=axis, keepdims=True)


def softmax(z, axis: int = -1) -> Array:
    """Softmax along ``axis`` (each row of a batch of logits sums to 1), overflow-free."""
    z = _float_array(z, "z")
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --------------------------------------------------------------------------- losses
def _check_labels(y, n: int, k: int) -> Array:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {y.shape}.")
    if y.dtype.kind not in "iu" or (n and (y.min() < 0 or y.max() >= k)):
        raise ValueError(f"labels must be integers in [0, {k}); got dtype {y.dtype}.")
    return y


def cross_entropy_from_logits(logits, y) -> float:
    """Mean categorical cross-entropy of integer labels ``y`` (n,) given logits (n, k).

    Uses log-softmax, so huge logits neither overflow nor give ``log(0)``; equals
    ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
    """
    logits = _float_array(logits, "logits")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n, k), got {logits.shape}.")
    y = _check_labels(y, *logits.shape)
    return float(-np.mean(log_softmax(logits)[np.arange(len(y)), y]))


def entropy(p, axis: int = -1) -> Array:
    """Shannon entropy ``-sum p log p`` (nats) of distributions along ``axis``; 0 log 0 = 0."""
    p = _float_array(p, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=axis)


def kl_divergence(p, q, axis: int = -1) -> Array:
    """``KL(p || q) = sum p log(p / q)`` (nats) along ``axis``; terms with p = 0 are 0."""
    p, q = _float_array(p, "p"), _float_array(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0), axis=axis)


# --------------------------------------------------------------------------- layers
def dense(A, W, b, g: Callable[[Array], Array]) -> Array:
    """A dense layer on a batch: ``g(A @ W + b)``; A (n, n_in), W (n_in, n_out), b (n_out,)."""
    A, W, b = _float_array(A, "A"), _float_array(W, "W"), _float_array(b, "b")
    if A.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(f"expected A (n, n_in), W (n_in, n_out), b (n_out,); got {A.shape}, {W.shape}, {b.shape}.")
    if A.shape[1] != W.shape[0] or W.shape[1] != b.shape[0]:
        raise ValueError(f"shapes do not chain: A {A.shape} @ W {W.shape} + b {b.shape}; "
                         "W must be (n_in, n_out) as in a Keras Dense kernel.")
    return g(A @ W + b)


def sequential(A, layers: Sequence[Layer]) -> Array:
    """Forward pass through ``layers``, a list of ``(W, b, g)``; returns the last output."""
    if len(layers) == 0:
        raise ValueError("layers is empty; give at least one (W, b, g).")
    for W, b, g in layers:
        A = dense(A, W, b, g)
    return A


# --------------------------------------------------------------------------- gradients
def numerical_gradient(f: Callable[[Array], float], x: Array, eps: float = 1e-5) -> Array:
    """Central finite differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every i.

    ``x`` is perturbed in place and restored; use float64 for an accurate check.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError("x must be a float NumPy array (it is perturbed in place).")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}.")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place.")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(x)
        flat[i] = old - eps
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a|| + ||b||, tiny)``: about 1e-9 for a correct float64 gradient."""
    a, b = _float_array(a, "a"), _float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}.")
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(b)), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(a - b) / denom)


# --------------------------------------------------------------------------- two-layer net
def init_two_layer(n_in: int, n_hidden: int, n_out: int, *, seed: int = 0,
                   dtype=np.float64) -> dict[str, Array]:
    """He-initialised weights of ``x -> relu(x W1 + b1) W2 + b2`` (logits)."""
    for name, v in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}.")
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((n_in, n_hidden)) * np.sqrt(2.0 / n_in)).astype(dtype),
        "b1": np.zeros(n_hidden, dtype),
        "W2": (rng.standard_normal((n_hidden, n_out)) * np.sqrt(2.0 / n_hidden)).astype(dtype),
        "b2": np.zeros(n_out, dtype),
    }


def two_layer_forward(params: dict[str, Array], X) -> tuple[Array, tuple[Array, Array, Array]]:
    """Logits (n, n_out) and the cache ``(X, Z1, H)`` the backward pass needs."""
    X = _float_array(X, "X")
    Z1 = X @ params["W1"] + params["b1"]
    H = np.maximum(Z1, 0)
    return H @ params["W2"] + params["b2"], (X, Z1, H)


def two_layer_loss(params: dict[str, Array], X, y) -> float:
    """Mean softmax cross-entropy of the two-layer network."""
    return cross_entropy_from_logits(two_layer_forward(params, X)[0], y)


def two_layer_backward(params: dict[str, Array], cache: tuple[Array, Array, Array],
                       logits: Array, y) -> dict[str, Array]:
    """Gradients of the mean cross-entropy w.r.t. W1, b1, W2, b2 (same shapes as params)."""
    X, Z1, H = cache
    n = logits.shape[0]
    y = _check_labels(y, n, logits.shape[1])
    dZ2 = softmax(logits)
    dZ2[np.arange(n), y] -= 1
    dZ2 /= n                                  # d loss / d logits, (n, n_out)
    dH = dZ2 @ params["W2"].T                 # (n, n_hidden)
    dZ1 = dH * (Z1 > 0)                       # the ReLU passes gradient only where z > 0
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": H.T @ dZ2, "b2": dZ2.sum(axis=0)}


# --------------------------------------------------------------------------- regularisation
def soft_threshold(w, t: float) -> Array:
    """Proximal step of the L1 penalty: ``sign(w) * max(|w| - t, 0)`` (exact zeros)."""
    w = _float_array(w, "w")
    if t < 0:
        raise ValueError(f"threshold t must be >= 0, got {t}.")
    return np.sign(w) * np.maximum(np.abs(w) - t, 0)
