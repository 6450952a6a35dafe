"""Count the floating-point operations of a Keras model and measure the machine's peak.

* :func:`model_flops` - forward-pass FLOPs per example of the conv and dense layers
  (a multiply-add counts as 2 FLOPs; element-wise layers such as activations, batch norm
  and pooling are ignored: they are a few per cent of a CNN's arithmetic).
* :func:`training_flops` - ~3x the forward pass per example (forward, plus the gradients
  with respect to the inputs and to the weights), times the examples seen.
* :func:`matmul_peak` - the measured matrix-multiply rate of this machine in FLOP/s,
  the anchor against which a training run's achieved FLOP/s is judged.

Why labkit keeps its own: Keras has no FLOP count, and TensorFlow's (the TF1 profiler on
a frozen graph) counts every graph op; the lesson needs the multiply-adds of the conv
and dense layers, read off their shapes.
"""
from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from labkit.validation import check_int, check_number, check_option

__all__ = ["layer_flops", "model_flops", "training_flops", "matmul_peak"]


def _spatial(shape) -> int:
    return int(np.prod([d for d in shape[1:-1]]))


def layer_flops(layer) -> int:
    """Forward FLOPs per example of one built Keras layer (0 for layers not counted)."""
    if not isinstance(layer, layers.Layer):
        raise TypeError(f"layer must be a Keras layer, got {type(layer).__name__}.")

    if isinstance(layer, layers.SeparableConv2D):
        out = layer.output.shape
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        dm = layer.depth_multiplier
        return 2 * _spatial(out) * (kh * kw * cin * dm + cin * dm * out[-1])
    if isinstance(layer, layers.DepthwiseConv2D):
        out = layer.output.shape
        kh, kw = layer.kernel_size
        return 2 * _spatial(out) * kh * kw * out[-1]
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)) and not isinstance(
            layer, (layers.Conv2DTranspose,)):
        out = layer.output.shape
        k = int(np.prod(layer.kernel.shape[:-1]))  # kh * kw * c_in / groups
        return 2 * _spatial(out) * k * out[-1]
    if isinstance(layer, layers.Conv2DTranspose):
        inp = layer.input.shape
        return 2 * _spatial(inp) * int(np.prod(layer.kernel.shape))
    if isinstance(layer, layers.Dense):
        inp = layer.input.shape
        rows = int(np.prod(inp[1:-1])) if len(inp) > 2 else 1
        return 2 * rows * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    if hasattr(layer, "layers"):  # a nested model
        return sum(layer_flops(sub) for sub in layer.layers)
    return 0


def model_flops(model) -> int:
    """Forward-pass FLOPs per example of a built functional/Sequential Keras model."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}.")
    if not model.built:
        raise ValueError("the model is not built: create it with keras.Input(...) or call it once.")
    return int(sum(layer_flops(layer) for layer in model.layers))


def training_flops(model, examples: int, backward_factor: float = 2.0) -> float:
    """Training FLOPs for ``examples`` examples: (1 + backward_factor) x the forward pass."""
    examples = check_int(examples, "examples", min_val=0)
    backward_factor = check_number(backward_factor, "backward_factor", min_val=0)
    return float(model_flops(model)) * (1.0 + backward_factor) * examples


def matmul_peak(dtype: str = "float32", n: int = 2048, repeats: int = 5, rounds: int = 3) -> float:
    """The best measured FLOP/s of an n x n by n x n matrix product in TensorFlow.

    ``dtype``: ``"float32"`` or ``"bfloat16"``. Takes the best of ``rounds`` timings of
    ``repeats`` products each (2 n^3 FLOPs per product), after one warm-up product.
    """
    dtype = check_option(dtype, "dtype", ("float32", "bfloat16", "float16"))
    n = check_int(n, "n", min_val=16)
    repeats, rounds = check_int(repeats, "repeats", min_val=1), check_int(rounds, "rounds", min_val=1)
    gen = tf.random.Generator.from_seed(0)
    a = tf.cast(gen.normal((n, n)), dtype)
    b = tf.cast(gen.normal((n, n)), dtype)
    tf.linalg.matmul(a, b).numpy()
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        acc = []
        for _ in range(repeats):
            acc.append(tf.linalg.matmul(a, b))
        for c in acc:
            c.numpy()
        best = max(best, 2.0 * n ** 3 * repeats / (time.perf_counter() - start))
    return best
