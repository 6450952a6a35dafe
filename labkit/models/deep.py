"""Deep plain (fully connected) networks for studying initialisation and gradient flow."""
from __future__ import annotations

from typing import Any

import keras
from keras import layers

from labkit.validation import check_bool, check_int, check_number, check_str

__all__ = ["deep_mlp", "scaled_init"]


def scaled_init(gain: float, seed: int | None = None):
    """He-normal initialisation with every weight multiplied by ``gain``
    (std = gain * sqrt(2 / fan_in)); gain > 1 makes a deep ReLU network explode."""

    gain = check_number(gain, "gain", min_val=0, include_min=False)
    if seed is not None:
        seed = check_int(seed, "seed", min_val=0)
    return keras.initializers.VarianceScaling(scale=2.0 * gain ** 2, mode="fan_in",
                                              distribution="untruncated_normal", seed=seed)


def deep_mlp(input_dim: int, *, depth: int = 10, width: int = 128, activation: str = "relu",
             kernel_initializer: Any = "glorot_uniform", batch_norm: bool = False, num_classes: int = 10,
             name: str = "deep_mlp"):
    """``depth`` hidden Dense layers of ``width`` units, then a Dense logits layer.

    Input (batch, input_dim) -> logits (batch, num_classes). Hidden layers are named
    ``dense_1`` .. ``dense_<depth>`` and the last ``logits``. Without batch norm the
    activation is built into each Dense layer (so a layer's output is its activation);
    with ``batch_norm=True`` each block is Dense (no bias) -> BatchNormalization ->
    Activation, the arrangement used in practice.
    """
    input_dim, depth, width, num_classes = (check_int(val, arg, min_val=1) for arg, val in (
        ("input_dim", input_dim), ("depth", depth), ("width", width), ("num_classes", num_classes)))
    batch_norm, name = check_bool(batch_norm, "batch_norm"), check_str(name, "name")
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(f"activation must be a Keras activation name such as 'relu' or 'sigmoid' (or a "
                         f"function), got {activation!r}.") from None
    inputs = keras.Input((input_dim,))
    h = inputs
    for i in range(1, depth + 1):
        if batch_norm:
            h = layers.Dense(width, use_bias=False, kernel_initializer=kernel_initializer, name=f"dense_{i}")(h)
            h = layers.BatchNormalization(name=f"bn_{i}")(h)
            h = layers.Activation(activation, name=f"act_{i}")(h)
        else:
            h = layers.Dense(width, activation=activation, kernel_initializer=kernel_initializer,
                             name=f"dense_{i}")(h)
    outputs = layers.Dense(num_classes, kernel_initializer=kernel_initializer, name="logits")(h)
    return keras.Model(inputs, outputs, name=name)
