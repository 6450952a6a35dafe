"""The recipe's airbench-style network (:func:`recipe_net`), its frozen patch-whitening first layer
(:func:`whitening_kernel`) and its one custom layer, :class:`ScaledBias`."""
from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

__all__ = ["recipe_net", "whitening_kernel", "ScaledBias", "CIFAR_MEAN", "CIFAR_STD", "INPUT_SHAPE"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
INPUT_SHAPE = (32, 32, 3)


def check_widths(widths: Sequence[int], n: int | None, what: str) -> tuple[int, ...]:
    """``widths`` as a tuple of ``n`` (any number when None) positive ints, else a ValueError naming ``what``."""
    widths = tuple(widths)
    if (n is not None and len(widths) != n) or not widths or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1 for w in widths):
        want = f"{n} positive integers" if n else "positive integers"
        raise ValueError(f"{what} must be {want}, got {widths!r}.")
    return tuple(int(w) for w in widths)


def whitening_kernel(images: np.ndarray, eps: float = 5e-4, patch: int = 2) -> np.ndarray:
    """The frozen first-layer kernel of the recipe: patch-whitening filters.

    images: (N, H, W, 3) float, already normalised. Takes every ``patch x patch`` patch,
    computes the covariance C (d x d, d = 3 * patch**2) and its eigen-decomposition
    C = V diag(l) V^T; the filters are V / sqrt(l + eps) and their negatives, so the
    layer outputs decorrelated, unit-variance features. Returns (patch, patch, 3, 2d).
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < patch:
        raise ValueError(f"images must be (N, H, W, 3) with H, W >= {patch}, got {x.shape}.")
    n, h, w, c = x.shape
    cols = [x[:, i:h - patch + 1 + i, j:w - patch + 1 + j, :] for i in range(patch) for j in range(patch)]
    p = np.stack(cols, axis=3).reshape(-1, patch * patch * c)  # order (i, j, channel)
    p = p - p.mean(axis=0)
    cov = p.T @ p / len(p)
    evals, evecs = np.linalg.eigh(cov)
    filters = evecs / np.sqrt(evals + eps)  # columns are filters
    filters = filters.T.reshape(-1, patch, patch, c)  # (d, i, j, channel)
    kernel = np.transpose(filters, (1, 2, 3, 0))  # (patch, patch, 3, d)
    return np.concatenate([kernel, -kernel], axis=-1).astype("float32")


@keras.saving.register_keras_serializable(package="labkit")
class ScaledBias(keras.layers.Layer):
    """Adds a per-channel bias whose gradient is multiplied by ``scale``.

    For SGD that is a per-parameter learning-rate multiplier: airbench's 64x rate for the
    batch-norm biases. :meth:`freeze` fixes the bias at its current value (stored in the
    non-trainable ``frozen``; the non-trainable ``gate`` drops to 0 and so does the gradient), so
    the optimiser's momentum cannot move it either. The gate and the frozen value are weights:
    they are saved with the model and a reloaded model is frozen as the saved one was.

    Args:
        scale: the gradient multiplier (default 64.0; 1.0: a plain bias).
        **kwargs: Keras layer arguments (``name``, ``dtype``...).
    """

    def __init__(self, scale: float = 64.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")
        self.gate = self.add_weight(shape=(), initializer="ones", trainable=False, name="gate")
        self.frozen = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                      name="frozen")

    def freeze(self):
        self.frozen.assign(self.bias)
        self.gate.assign(0.0)

    def call(self, x):
        s = self.scale * self.gate
        live = s * self.bias - tf.stop_gradient((s - 1.0) * self.bias)  # value: bias; gradient: s
        b = self.gate * live + (1.0 - self.gate) * self.frozen
        return x + keras.ops.cast(b, x.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _dirac_(conv) -> None:
    """Identity-initialise the first ``c_in`` output channels of a 3x3 conv (airbench)."""
    k = conv.kernel.numpy()
    kh, kw, cin, cout = k.shape
    n = min(cin, cout)
    k[:, :, :, :n] = 0.0
    k[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1.0
    conv.kernel.assign(k)


def recipe_net(widths: Sequence[int] = (64, 128, 256), *, whiten: np.ndarray | None = None,
               num_classes: int = 10, bn_momentum: float = 0.6, bias_scale: float = 64.0,
               logit_scale: float = 1 / 9, activation: str = "relu", precision: str = "float32",
               head_std: float | None = None, train_stem: bool = False, name: str = "recipe_net"):
    """The recipe's airbench-style network. Input: float images in [0, 1], (N, 32, 32, 3).

    normalise -> conv2x2 'valid' (frozen whitening kernel) + bias ("whiten_bias", 64x rate) - act ->
    3 x [conv3x3 - maxpool2 - BN - act - conv3x3 - BN - act] -> global max -> Dense (no bias)
    -> x ``logit_scale`` (float32 logits). ``activation``: any Keras activation name; airbench
    uses "gelu"; the default "relu" trains 1.08-1.28x faster on a CPU in bfloat16 (measured).
    ``whiten``: the (2, 2, 3, 24) kernel from :func:`whitening_kernel` (random and frozen when None,
    e.g. for shape tests). ``head_std``: initialise the head's weights uniformly with this standard
    deviation (airbench94_muon: 1, with ``logit_scale`` 1/widths[-1]); None: Keras' default.
    ``train_stem``: let the 2x2 first layer learn (an ablation; give ``whiten=None``, and it starts
    from Keras' default initialisation) instead of freezing it.

    The model holds only Keras layers and :class:`ScaledBias` (registered), so it saves and reloads
    as ``.keras`` (``model.save("net.keras")``, ``keras.saving.load_model("net.keras")``).
    """
    widths = check_widths(widths, 3, "widths")
    policy = keras.DTypePolicy(precision)

    def bn(x, tag):
        x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1e-5, center=False, scale=False,
                                      dtype=policy, name=f"{tag}_bn")(x)
        return ScaledBias(bias_scale, dtype=policy, name=f"{tag}_bias")(x)

    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Normalization(mean=CIFAR_MEAN, variance=np.square(CIFAR_STD), name="normalise")(inputs)
    stem = layers.Conv2D(24, 2, padding="valid", use_bias=False, dtype=policy, name="whiten")
    x = ScaledBias(bias_scale, dtype=policy, name="whiten_bias")(stem(x))
    x = layers.Activation(activation, dtype=policy)(x)
    convs = []
    for i, w in enumerate(widths, start=1):
        c1 = layers.Conv2D(w, 3, padding="same", use_bias=False, dtype=policy, name=f"block{i}_conv1")
        c2 = layers.Conv2D(w, 3, padding="same", use_bias=False, dtype=policy, name=f"block{i}_conv2")
        convs += [c1, c2]
        x = layers.MaxPooling2D(dtype=policy)(c1(x))
        x = layers.Activation(activation, dtype=policy)(bn(x, f"block{i}_1"))
        x = layers.Activation(activation, dtype=policy)(bn(c2(x), f"block{i}_2"))
    x = layers.GlobalMaxPooling2D(dtype=policy)(x)
    init = "glorot_uniform" if head_std is None else keras.initializers.RandomUniform(
        -math.sqrt(3) * head_std, math.sqrt(3) * head_std)
    x = layers.Dense(num_classes, use_bias=False, kernel_initializer=init, dtype=policy, name="head")(x)
    outputs = layers.Rescaling(logit_scale, dtype="float32", name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    if whiten is not None:
        whiten = np.asarray(whiten, dtype="float32")
        if whiten.shape != (2, 2, 3, 24):
            raise ValueError(f"whiten must be a (2, 2, 3, 24) kernel from whitening_kernel(), got {whiten.shape}.")
        stem.kernel.assign(whiten)
    if train_stem and whiten is not None:
        raise ValueError("train_stem=True learns the first layer from scratch; pass whiten=None with it.")
    stem.trainable = bool(train_stem)
    for c in convs:
        _dirac_(c)
    return model
