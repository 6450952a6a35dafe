"""CIFAR-10 builders (32x32x3 inputs, logits out) and a fast CPU training recipe.

Teaching models (inputs: float32 images in [0, 1], shape ``(N, 32, 32, 3)``):

* :func:`cifar_dense` - a multi-layer perceptron on the flattened pixels;
* :func:`cifar_small_cnn` - a small convolutional network with few parameters;
* :func:`cifar_large_cnn` - a wide VGG-style network with a big dense head that
  over-fits a small training set; every remedy of the notebook is a keyword
  (``l2``, ``dropout``, ``batch_norm``, ``augment``);
* :func:`cifar_tiny_cnn` - a deliberately too-small model that under-fits.

The recipe (:func:`recipe_net`, :func:`train_recipe`) follows the airbench family of
fast CIFAR-10 trainers (Jordan, 2024; after Page, 2018 and hlb-CIFAR10): a frozen
2x2 patch-whitening first layer (only its bias learns, for 3 epochs), three conv groups
(conv - max-pool - batch norm without scale - activation - conv - batch norm - activation)
with identity ("dirac") initialisation, a 64x learning rate for biases, logits scaled by
1/9, label smoothing 0.2, Nesterov SGD with a triangular schedule, translate + alternating
flip augmentation, Lookahead weight averaging and test-time augmentation (flips and
one-pixel shifts). One departure from airbench94 buys CPU speed: ReLU instead of GELU
(a training step 1.08-1.28x faster in bfloat16 on the workbook's 2-core CPU). Default widths are
airbench94's (64, 256, 256) halved in the middle, (64, 128, 256); the profiles pick their own.

``optimizer="muon"`` switches to airbench94_muon's training (Jordan, 2024): the conv kernels step
with Muon (momentum orthogonalised by a Newton-Schulz iteration, :func:`newton_schulz`, on
weight-normalised kernels), the rest with Nesterov SGD, batch 2000, linear decay, no Lookahead
(:data:`MUON_PRESET`). airbench reports it reaching airbench94's 94 % on the original CIFAR-10 in
8 epochs instead of 9.9; the workbook's profiles use it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import stat
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import keras
import numpy as np

from labkit.validation import check_array, check_int, check_labels, check_option, check_same_length
from labkit.validation import check_bool, check_ints, check_number, check_str

__all__ = ["cifar_dense", "cifar_small_cnn", "cifar_large_cnn", "cifar_tiny_cnn",
           "recipe_net", "train_recipe", "RecipeResult", "predict_tta", "whitening_kernel",
           "recipe_precision", "cpu_supports_bf16", "newton_schulz", "CIFAR_MEAN", "CIFAR_STD", "RECIPE_DEFAULTS",
           "MUON_PRESET", "recipe_backup_root"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
_INPUT = (32, 32, 3)


def _check_widths(widths: Sequence[int], n: int | None, what: str) -> tuple[int, ...]:
    widths = tuple(widths)
    if (n is not None and len(widths) != n) or not widths or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1 for w in widths):
        want = f"{n} positive integers" if n else "positive integers"
        raise ValueError(f"{what} must be {want}, got {widths!r}.")
    return tuple(int(w) for w in widths)


# --------------------------------------------------------------------------- teaching models
def cifar_dense(hidden: Sequence[int] = (512, 256), num_classes: int = 10, dropout: float = 0.0,
                name: str = "dense"):
    """Flatten (3,072 pixels) -> Dense(h, relu) for h in ``hidden`` -> Dense(num_classes) logits."""
    import keras
    from keras import layers

    hidden = check_ints(hidden, "hidden", min_val=1)
    num_classes, name = check_int(num_classes, "num_classes", min_val=1), check_str(name, "name")
    dropout = check_number(dropout, "dropout", min_val=0, max_val=1, include_max=False)
    x = inputs = keras.Input(_INPUT)
    x = layers.Flatten()(x)
    for h in hidden:
        x = layers.Dense(h, activation="relu")(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


def cifar_small_cnn(widths: Sequence[int] = (32, 64), num_classes: int = 10, *, batch_norm: bool = True,
                    name: str = "small_cnn"):
    """[conv3x3 - (BN) - relu - conv3x3 - (BN) - relu - maxpool] per width -> global average -> logits.

    Weight sharing keeps it to ~65k parameters with the default widths; every
    3x3 filter is applied at every position of the image.
    """
    import keras
    from keras import layers

    widths = check_ints(widths, "widths", min_val=1)
    num_classes, name = check_int(num_classes, "num_classes", min_val=1), check_str(name, "name")
    batch_norm = check_bool(batch_norm, "batch_norm")
    x = inputs = keras.Input(_INPUT)
    for i, w in enumerate(widths):
        for j in range(2):
            x = layers.Conv2D(w, 3, padding="same", use_bias=not batch_norm, name=f"conv{i + 1}_{j + 1}")(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)  # quick statistics for short runs
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


def augmentation_layers(translate: float = 0.125, flip: bool = True, seed: int | None = 0) -> list:
    """Keras preprocessing layers for CIFAR: random horizontal flip and random translation
    (``translate`` as a fraction of the image size, reflect padding). They are active only
    in training (``model.fit``); ``predict``/``evaluate`` see the images unchanged."""
    from keras import layers

    if not 0 <= check_number(translate, "translate") < 0.5:
        raise ValueError(f"translate is a fraction of the image size in [0, 0.5), got {translate!r}.")
    flip = check_bool(flip, "flip")
    if seed is not None:
        seed = check_int(seed, "seed", min_val=0)
    out = []
    if flip:
        out.append(layers.RandomFlip("horizontal", seed=seed))
    if translate:
        out.append(layers.RandomTranslation(translate, translate, fill_mode="reflect",
                                            interpolation="nearest", seed=None if seed is None else seed + 1))
    return out


def cifar_large_cnn(width: int = 64, dense_units: int = 512, num_classes: int = 10, *, l2: float = 0.0,
                    dropout: float = 0.0, batch_norm: bool = False, augment: bool = False,
                    seed: int = 0, name: str = "large_cnn"):
    """A wide VGG-style CNN that over-fits a small training set; each remedy is a keyword.

    Architecture: 3 blocks of [conv3x3 (width * 2**i) x2 - maxpool] -> Flatten -> Dense(dense_units)
    -> logits. ``l2`` adds an L2 penalty ``l2 * sum(w**2)`` on every kernel; ``dropout`` adds dropout
    after each block and before the logits; ``batch_norm`` puts batch norm after every conv;
    ``augment`` prepends :func:`augmentation_layers`.
    """
    import keras
    from keras import layers, regularizers

    width, dense_units = check_int(width, "width", min_val=1), check_int(dense_units, "dense_units", min_val=1)
    num_classes, name = check_int(num_classes, "num_classes", min_val=1), check_str(name, "name")
    l2 = check_number(l2, "l2", min_val=0)
    dropout = check_number(dropout, "dropout", min_val=0, max_val=1, include_max=False)
    batch_norm, augment = check_bool(batch_norm, "batch_norm"), check_bool(augment, "augment")
    seed = check_int(seed, "seed", min_val=0)
    reg = regularizers.L2(l2) if l2 else None
    x = inputs = keras.Input(_INPUT)
    if augment:
        for layer in augmentation_layers(seed=seed):
            x = layer(x)
    for i in range(3):
        for j in range(2):
            x = layers.Conv2D(width * 2 ** i, 3, padding="same", use_bias=not batch_norm,
                              kernel_regularizer=reg, name=f"conv{i + 1}_{j + 1}")(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        if dropout:
            x = layers.Dropout(dropout, seed=seed + i)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, activation="relu", kernel_regularizer=reg)(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed + 9)(x)
    outputs = layers.Dense(num_classes, kernel_regularizer=reg)(x)
    return keras.Model(inputs, outputs, name=name)


def cifar_tiny_cnn(filters: int = 4, num_classes: int = 10, name: str = "tiny_cnn"):
    """A model too small for CIFAR-10: conv3x3(filters) - relu - maxpool(4) - global average -> logits.

    It has a few hundred parameters and under-fits: training accuracy stays low.
    """
    import keras
    from keras import layers

    filters = check_int(filters, "filters", min_val=1)
    num_classes, name = check_int(num_classes, "num_classes", min_val=1), check_str(name, "name")
    x = inputs = keras.Input(_INPUT)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(4)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- precision
def cpu_supports_bf16() -> bool:
    """True when this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16) that
    oneDNN uses for ``mixed_bfloat16``. Reads ``/proc/cpuinfo`` (Linux); False elsewhere."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return any(f in flags.split() for f in ("amx_bf16", "avx512_bf16"))


def recipe_precision(requested: str = "auto") -> str:
    """The Keras dtype policy for the recipe: ``"auto"`` picks ``mixed_float16`` on a GPU,
    ``mixed_bfloat16`` on a CPU with BF16 instructions, else ``float32``."""
    allowed = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
    if requested not in allowed:
        raise ValueError(f"precision must be one of {allowed}, got {requested!r}.")
    if requested != "auto":
        return requested
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bf16() else "float32"


# --------------------------------------------------------------------------- recipe network
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


def _scaled_bias_layer():
    import keras

    class ScaledBias(keras.layers.Layer):
        """Adds a per-channel bias whose gradient is multiplied by ``scale`` (a per-parameter
        learning-rate multiplier for SGD: airbench's 64x rate for batch-norm biases).
        :meth:`freeze` fixes the bias at its current value (stored in ``frozen``; the non-trainable
        ``gate`` drops to 0 and so does the gradient); the momentum then cannot move it either."""

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
            import tensorflow as tf

            s = self.scale * self.gate
            live = s * self.bias - tf.stop_gradient((s - 1.0) * self.bias)  # value: bias; gradient: s
            b = self.gate * live + (1.0 - self.gate) * self.frozen
            return x + keras.ops.cast(b, x.dtype)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    return ScaledBias


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
               head_std: float | None = None, name: str = "recipe_net"):
    """The recipe's airbench-style network. Input: float images in [0, 1], (N, 32, 32, 3).

    normalise -> conv2x2 'valid' (frozen whitening kernel) + bias ("whiten_bias", 64x rate) - act ->
    3 x [conv3x3 - maxpool2 - BN - act - conv3x3 - BN - act] -> global max -> Dense (no bias)
    -> x ``logit_scale`` (float32 logits). ``activation``: any Keras activation name; airbench
    uses "gelu"; the default "relu" trains 1.08-1.28x faster on a CPU in bfloat16 (measured).
    ``whiten``: the (2, 2, 3, 24) kernel from :func:`whitening_kernel` (random and frozen when None,
    e.g. for shape tests). ``head_std``: initialise the head's weights uniformly with this standard
    deviation (airbench94_muon: 1, with ``logit_scale`` 1/widths[-1]); None: Keras' default.
    """
    import keras
    from keras import layers

    widths = _check_widths(widths, 3, "widths")
    ScaledBias = _scaled_bias_layer()
    policy = keras.DTypePolicy(precision)

    def bn(x, tag):
        x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1e-5, center=False, scale=False,
                                      dtype=policy, name=f"{tag}_bn")(x)
        return ScaledBias(bias_scale, dtype=policy, name=f"{tag}_bias")(x)

    inputs = keras.Input(_INPUT)
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
    stem.trainable = False
    for c in convs:
        _dirac_(c)
    return model


# --------------------------------------------------------------------------- Muon optimiser
def newton_schulz(g, steps: int = 3, eps: float = 1e-7):
    """Approximately orthogonalise a matrix g (m, n): the quintic Newton-Schulz iteration of Muon
    (Jordan et al., 2024) with coefficients (3.4445, -4.7750, 2.0315). It maps g = U S V^T to about
    U S' V^T with every singular value S' in roughly [0.5, 1.5] - the "direction" of g without its
    scale. Works on the smaller Gram matrix (min(m, n) squared). Returns a float32 (m, n) tensor."""
    from keras import ops

    a, b, c = 3.4445, -4.7750, 2.0315
    x = ops.cast(g, "float32")
    if len(x.shape) != 2:
        raise ValueError(f"newton_schulz needs a matrix, got shape {tuple(x.shape)}.")
    x = x / (ops.sqrt(ops.sum(ops.square(x))) + eps)  # spectral norm <= Frobenius norm <= 1
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = ops.transpose(x)
    for _ in range(int(steps)):
        gram = ops.matmul(x, ops.transpose(x))
        x = a * x + ops.matmul(b * gram + c * ops.matmul(gram, gram), x)
    return ops.transpose(x) if tall else x


def _muon_optimizer(groups: dict, total_steps: int, whiten_steps: int, *, muon_momentum: float = 0.6,
                    sgd_momentum: float = 0.85, ns_steps: int = 3):
    """airbench94_muon's optimisers as one Keras optimiser.

    ``groups`` maps a variable's ``path`` to ``(rule, lr, decay, schedule)``: rule "muon" (conv
    kernels: Nesterov momentum ``muon_momentum``, the kernel renormalised to Frobenius norm
    sqrt(out_channels), then a step of ``lr`` along the Newton-Schulz-orthogonalised momentum, the
    kernel seen as a (kh*kw*in, out) matrix) or "sgd" (Nesterov SGD, momentum ``sgd_momentum``, with
    coupled weight decay ``decay``: the gradient gets ``decay * w`` before the momentum, as in
    PyTorch). ``schedule`` "main" decays the rate linearly from ``lr`` to 0 over ``total_steps``;
    "whiten" over ``whiten_steps``. Variables not in ``groups`` are left alone."""
    import keras
    from keras import ops

    class AirbenchMuon(keras.optimizers.Optimizer):
        def __init__(self, name="airbench_muon", **kwargs):
            super().__init__(learning_rate=1.0, name=name, **kwargs)

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self._rules = [groups.get(v.path) for v in var_list]
            self.momentums = [self.add_variable_from_reference(v, "momentum") for v in var_list]

        def update_step(self, gradient, variable, learning_rate):
            i = self._get_variable_index(variable)
            rule = self._rules[i]
            if rule is None:
                return
            kind, lr, decay, schedule = rule
            span = float(max(total_steps if schedule == "main" else whiten_steps, 1))
            step = ops.cast(self.iterations, "float32")
            rate = lr * ops.maximum(1.0 - step / span, 0.0)
            g = ops.cast(gradient, variable.dtype)
            m = self.momentums[i]
            if kind == "muon":
                self.assign(m, muon_momentum * m + g)
                g = g + muon_momentum * m
                out = variable.shape[-1]
                norm = ops.sqrt(ops.sum(ops.square(variable)))
                self.assign(variable, variable * (math.sqrt(out) / norm))
                update = newton_schulz(ops.reshape(g, (-1, out)), ns_steps)
                self.assign_sub(variable, rate * ops.reshape(update, variable.shape))
            else:
                g = g + decay * variable
                self.assign(m, sgd_momentum * m + g)
                self.assign_sub(variable, rate * (g + sgd_momentum * m))

    return AirbenchMuon()


# --------------------------------------------------------------------------- recipe training
RECIPE_DEFAULTS: dict[str, Any] = dict(
    widths=(64, 128, 256), activation="relu", batch_size=512, optimizer="sgd", lr=10.0, momentum=0.85,
    weight_decay=0.015, label_smoothing=0.2, warmup=0.23, start_factor=0.2, end_factor=0.07, translate=2,
    flip=True, alternate_flip=True, lookahead=True, tta=2, whiten_bias_epochs=3,
    muon_lr=0.24, muon_momentum=0.6, muon_bias_lr=0.053, muon_head_lr=0.67, muon_decay=2e-6,
)
"""The recipe's settings (:func:`train_recipe` keywords). optimizer "sgd": airbench94's Nesterov SGD
(``lr``, ``momentum``, ``weight_decay`` in airbench94's units, triangular schedule, Lookahead);
"muon": airbench94_muon's (``muon_*``; see :data:`MUON_PRESET`)."""

MUON_PRESET: dict[str, Any] = dict(batch_size=2000, activation="gelu", lookahead=False)
"""What ``optimizer="muon"`` changes besides the optimiser, as in airbench94_muon (reported to reach
airbench94's accuracy in 8 epochs instead of 9.9): batch 2000, GELU, no Lookahead. The conv kernels
step with Muon (``muon_lr`` per step, momentum ``muon_momentum``, no decay); biases and the head with
Nesterov SGD (momentum ``momentum``; ``muon_bias_lr``, ``muon_head_lr`` and ``muon_decay`` per
example); all rates decay linearly to 0, the whitening bias's within ``whiten_bias_epochs``. The net's
head is initialised with unit standard deviation and its logits scaled by 1/widths[-1]."""


def _triangle_schedule(peak: float, total_steps: int, warmup: float, start_factor: float,
                       end_factor: float = 0.0):
    import keras

    class Triangle(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warm-up from ``start_factor*peak`` to ``peak`` over ``warmup`` of the steps,
        then linear decay to ``end_factor*peak`` at ``total_steps``."""

        def __init__(self):
            self.peak, self.total = float(peak), max(int(total_steps), 1)
            self.warm = max(int(warmup * self.total), 1)

        def __call__(self, step):
            s = keras.ops.cast(step, "float32")
            up = start_factor + (1 - start_factor) * s / self.warm
            down = end_factor + (1 - end_factor) * (self.total - s) / max(self.total - self.warm, 1)
            return self.peak * keras.ops.clip(keras.ops.minimum(up, down), 0.0, 1.0)

        def get_config(self):
            return dict(peak=self.peak, total_steps=self.total, warmup=warmup, start_factor=start_factor,
                        end_factor=end_factor)

    return Triangle()


def _augment_fn(translate: int, flip: bool, flip_all=None):
    """A batched tf.data map: flip left-right, then reflect-pad by ``translate`` and crop back at a
    random offset per image (integer translations). Randomness comes from a seeded, per-epoch
    re-randomised ``tf.data.Dataset.random`` stream.

    Flipping: with ``flip_all`` (a boolean ``tf.Variable``) the images - already mirrored at random
    once - are all mirrored together on the epochs where ``flip_all`` is True (airbench's
    "alternating flip": every image is seen both ways in two consecutive epochs); without it each
    image is mirrored with probability 1/2."""
    import tensorflow as tf

    def aug(x, y, seed):
        seeds = tf.random.experimental.stateless_split(tf.stack([seed, seed // 7 + 1]), 3)
        b = tf.shape(x)[0]
        if flip and flip_all is not None:
            x = tf.where(flip_all, tf.reverse(x, axis=[2]), x)
        elif flip:
            mask = tf.random.stateless_uniform([b, 1, 1, 1], seeds[0]) < 0.5
            x = tf.where(mask, tf.reverse(x, axis=[2]), x)
        if translate:
            r = translate
            padded = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
            oy = tf.random.stateless_uniform([b], seeds[1], 0, 2 * r + 1, dtype=tf.int32)
            ox = tf.random.stateless_uniform([b], seeds[2], 0, 2 * r + 1, dtype=tf.int32)
            rows = oy[:, None] + tf.range(32)[None, :]
            cols = ox[:, None] + tf.range(32)[None, :]
            x = tf.gather(padded, rows, axis=1, batch_dims=1)
            x = tf.gather(x, cols, axis=2, batch_dims=1)
        return x, y

    return aug


def _lookahead_callback(start_step: int, total_steps: int, every: int = 5, decay_base: float = 0.95,
                        decay_pow: float = 3.0):
    """airbench's Lookahead: from ``start_step`` on, every ``every`` steps move an exponential moving
    average of the weights towards the current weights, ``ema += (1 - rho) * (w - ema)``, and copy it
    back into the network. ``rho = decay_base**every * (step / total_steps)**decay_pow`` grows over
    training (move fast early, average strongly at the end). At the end of every epoch the network
    is set to the average, so checkpoints and evaluations see the averaged weights; a run resumed
    from such a checkpoint restarts the average from them."""
    import keras

    class Lookahead(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            # the trained weights and batch norm's running statistics (airbench: the state dict)
            self.ema = None
            self.vars = list(self.model.trainable_weights) + [
                v for layer in self.model.layers if isinstance(layer, keras.layers.BatchNormalization)
                for v in layer.non_trainable_weights]

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step < start_step or step % every:
                return
            if self.ema is None:
                self.ema = [np.array(v.numpy()) for v in self.vars]
                return
            rho = decay_base ** every * min(step / total_steps, 1.0) ** decay_pow
            for e, v in zip(self.ema, self.vars):
                e += (1 - rho) * (v.numpy() - e)
                v.assign(e)

        def on_epoch_end(self, epoch, logs=None):
            if self.ema is not None:
                for e, v in zip(self.ema, self.vars):
                    v.assign(e)

    return Lookahead()


def _input_pipeline(xtr: np.ndarray, ytr: np.ndarray, num_classes: int, bs: int, cfg: dict, seed: int):
    """The recipe's tf.data training input: cached, reshuffled every epoch, batched (last partial
    batch dropped), augmented per batch, prefetched. Returns (dataset, flip_all) where flip_all is
    the ``tf.Variable`` of the alternating flip (None without it); ``xtr`` may be mirrored in place."""
    import tensorflow as tf

    flip_all = None
    if cfg["flip"] and cfg["alternate_flip"]:
        # mirror a random half once; then mirror everything on odd epochs (see _augment_fn)
        mirror = np.random.default_rng(seed).random(len(xtr)) < 0.5
        xtr[mirror] = xtr[mirror, :, ::-1]
        flip_all = tf.Variable(False, trainable=False)
    ds = tf.data.Dataset.from_tensor_slices((xtr, tf.one_hot(ytr, num_classes)))
    ds = ds.cache().shuffle(len(xtr), seed=seed, reshuffle_each_iteration=True).batch(bs, drop_remainder=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: (*xy, s))
    ds = ds.map(_augment_fn(int(cfg["translate"]), bool(cfg["flip"]), flip_all),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    return ds, flip_all


def _to_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != _INPUT:
        raise ValueError(f"images must be (N, 32, 32, 3), got {x.shape}.")
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0
    return x.astype("float32")


def predict_tta(model, x: np.ndarray, *, tta: int | bool = 1, batch_size: int = 1000) -> np.ndarray:
    """Logits of ``model`` on images x (N, 32, 32, 3) with test-time augmentation (TTA).

    ``tta``: 0 (or False) - the images as they are; 1 (or True) - the mean over each image and its
    left-right mirror; 2 - airbench's level 2: half the level-1 logits plus a quarter each of the
    level-1 logits of the image shifted by one pixel up-left and down-right (reflect padding),
    six views in all. Returns (N, num_classes) float32.
    """
    level = int(tta)
    if level not in (0, 1, 2):
        raise ValueError(f"tta must be 0, 1 or 2 (or a bool), got {tta!r}.")
    x = _to_float(x)

    def views(v):
        out = model.predict(v, batch_size=batch_size, verbose=0)
        if level >= 1:
            out = 0.5 * (out + model.predict(v[:, :, ::-1, :], batch_size=batch_size, verbose=0))
        return out

    logits = views(x)
    if level == 2:
        padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
        shifted = 0.5 * (views(np.ascontiguousarray(padded[:, :32, :32])) +
                         views(np.ascontiguousarray(padded[:, 2:, 2:])))
        logits = 0.5 * (logits + shifted)
    return np.asarray(logits, dtype="float32")


# --------------------------------------------------------------------------- recipe backups
_BACKUP_FORMAT = 1
_RECORD = "labkit_run.json"  # labkit's record, next to Keras BackupAndRestore's two files:
_WEIGHTS = "latest.weights.h5"
_METADATA = "training_metadata.json"


def recipe_backup_root() -> Path:
    """The per-user folder of :func:`train_recipe`'s backups (``backup_dir=True``): ``backups`` in
    labkit's cache, i.e. ``~/.cache/labkit/backups`` unless ``LABKIT_CACHE_DIR`` moves the cache.
    Created private (mode 0o700) on first use."""
    from labkit.data import cache_dir

    return cache_dir() / "backups"


def _unsafe_folder(path: Path) -> str | None:
    """Why the existing folder ``path`` must not be trusted with backups, or None: it is not a
    folder, it (or the link to it) belongs to another user, or other users can write to it, so
    they could have planted weights there. POSIX permissions only (None elsewhere)."""
    try:
        st, lst = os.stat(path), os.lstat(path)
    except OSError as err:
        return f"it cannot be read ({err.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if not hasattr(os, "geteuid"):
        return None
    uid = os.geteuid()
    for s in (lst, st):
        if s.st_uid != uid:
            return f"it belongs to user id {s.st_uid}, not to you (user id {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _backup_root(backup_dir: str | os.PathLike | bool) -> Path | None:
    """The folder that holds the run folders: created private if missing; None (with a warning that
    names it and why) when it cannot be created or is not safe to use."""
    root = recipe_backup_root() if backup_dir is True else Path(backup_dir).expanduser()
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        reason = _unsafe_folder(root)
    except OSError as err:
        reason = f"it cannot be created ({err.strerror or err})"
    if reason is None:
        return root
    warnings.warn(f"labkit: not using the backup folder {root}: {reason}. Training without a backup; pass "
                  f"backup_dir= a folder of your own, or True for {recipe_backup_root()}.", RuntimeWarning,
                  stacklevel=3)
    return None


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _recipe_fingerprint(x: np.ndarray, y: np.ndarray, settings: dict) -> str:
    """SHA-256 (hex) of the training data - every byte of ``x`` and ``y`` with their dtypes and
    shapes (50,000 CIFAR images hash in about 0.1 s) - and of ``settings`` (JSON, keys sorted)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=_json_default).encode())
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _set_aside(path: Path, reason: str) -> None:
    """Move a backup that must not be used to ``<path>.set-aside`` (replacing an older one; deleted
    when it cannot be moved) and warn, naming it and why."""
    aside = path.with_name(path.name + ".set-aside")
    try:
        if aside.is_symlink() or aside.is_file():
            aside.unlink()
        elif aside.exists():
            shutil.rmtree(aside)
        os.replace(path, aside)
        done = f"Moved it to {aside}"
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        done = "Deleted it"
    warnings.warn(f"labkit: not resuming from the backup {path}: {reason}. {done}; training starts from "
                  "scratch.", RuntimeWarning, stacklevel=3)


class _RecipeLog(keras.callbacks.Callback):
    """:func:`train_recipe`'s per-epoch bookkeeping. At the start of an epoch: sets the alternating
    flip (``flip_all``, read by the input pipeline, whose iterator starts after this) and freezes the
    whitening bias from epoch ``whiten_bias_epochs`` on. At its end: appends a row to ``rows`` - the
    epoch (from 1), the cumulative training seconds of the whole run (evaluation excluded), loss,
    train accuracy and, every ``eval_every`` epochs, ``test_accuracy()`` - and reports it with ``say``.

    ``rows`` and ``prior_seconds`` (training seconds of earlier sessions) are reset in
    ``on_train_begin``; a :class:`_RecipeBackup` listed after this callback refills them
    (:meth:`restore`) when it resumes a run."""

    def __init__(self, epochs: int, *, flip_all=None, whiten_bias_epochs: int = 3,
                 test_accuracy: Callable[[], float] | None = None, eval_every: int = 0,
                 say: Callable[[str], None] | None = None):
        super().__init__()
        self.epochs = int(epochs)
        self.flip_all = flip_all
        self.whiten_bias_epochs = int(whiten_bias_epochs)
        self.test_accuracy = test_accuracy
        self.eval_every = int(eval_every)
        self.say = say or (lambda s: None)
        self.rows: list[dict] = []
        self.prior_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.rows, self.prior_seconds = [], 0.0
        self.start, self.eval_seconds = None, 0.0

    def restore(self, rows: list[dict], seconds: float) -> None:
        self.rows, self.prior_seconds = [dict(r) for r in rows], float(seconds)

    def on_epoch_begin(self, epoch, logs=None):
        if self.start is None:  # after on_train_begin, so restoring a backup is not counted
            self.start = time.perf_counter()
        if self.flip_all is not None:
            self.flip_all.assign(epoch % 2 == 1)
        whiten_bias = self.model.get_layer("whiten_bias")
        if epoch >= self.whiten_bias_epochs and float(whiten_bias.gate.numpy()) > 0:
            whiten_bias.freeze()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.prior_seconds + time.perf_counter() - self.start - self.eval_seconds
        row = {"epoch": epoch + 1, "seconds": seconds, "loss": float(logs["loss"]),
               "train_accuracy": float(logs["accuracy"]), "test_accuracy": None}
        if self.test_accuracy and self.eval_every and (epoch + 1) % self.eval_every == 0 and epoch + 1 < self.epochs:
            t = time.perf_counter()
            row["test_accuracy"] = self.test_accuracy()
            self.eval_seconds += time.perf_counter() - t
        self.rows.append(row)
        acc = "" if row["test_accuracy"] is None else f" - test acc {row['test_accuracy']:.4f}"
        self.say(f"epoch {epoch + 1}/{self.epochs} - loss {row['loss']:.4f} - train acc {row['train_accuracy']:.4f}"
                 f"{acc} - {row['seconds']:.0f} s")


class _RecipeBackup(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` (the weights, the optimiser's state and the epoch, saved after
    every epoch to ``backup_dir`` and deleted when the run finishes) with what labkit adds:

    * a record, ``labkit_run.json``, written after Keras' files at the end of every epoch: the run's
      ``fingerprint`` (:func:`_recipe_fingerprint` of the data and ``settings``) and settings, the
      SHA-256 of the weights file, and the running totals of the run - epochs, samples seen,
      training seconds and the epoch log (the rows of ``log``, a :class:`_RecipeLog`);
    * checks before anything is loaded: the folder is the user's and not writable by others, the
      record is readable, its fingerprint is this run's, the weights file is the one it recorded
      (not truncated or replaced) and agrees with Keras' epoch; then Keras loads it (the model's
      and optimiser's variables are put back if it refuses);
    * a fallback: a backup that fails any of these is reported (a ``RuntimeWarning`` naming the
      folder and why), moved aside to ``<backup_dir>.set-aside`` so it cannot break a later run,
      and training starts from scratch.

    ``resumed_epochs``: how many epochs came from the backup (0: a fresh start)."""

    def __init__(self, backup_dir: str | os.PathLike, fingerprint: str, settings: dict, log: _RecipeLog,
                 samples_per_epoch: int):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.path = Path(backup_dir)
        self.fingerprint = fingerprint
        self.settings = dict(settings)
        self.log = log
        self.samples_per_epoch = int(samples_per_epoch)
        self.resumed_epochs = 0

    def on_train_begin(self, logs=None):
        self.resumed_epochs = 0
        if not (self.path.exists() or self.path.is_symlink()):
            return
        reason = _unsafe_folder(self.path)
        record = None
        if reason is None:
            record, reason = self._read_record()
            if record is None and reason is None:
                return  # an empty folder: nothing to resume
        if reason is None:
            reason = self._load()
        if reason is not None:
            _set_aside(self.path, reason)
            return
        self.resumed_epochs = int(record["epochs"])
        self.log.restore(record["epoch_log"], record["train_seconds"])
        self.log.say(f"resuming from {self.path} after epoch {self.resumed_epochs} of {self.settings['epochs']}"
                     f" ({record['train_seconds']:.0f} s of training so far)")

    def _read_record(self) -> tuple[dict | None, str | None]:
        """(record, None) when the backup passes the checks, (None, why) when it fails one,
        (None, None) when the folder holds no backup."""
        files = {name: self.path / name for name in (_RECORD, _WEIGHTS, _METADATA)}
        present = {name for name, p in files.items() if p.exists()}
        if not present:
            return None, None
        if _RECORD not in present:
            return None, (f"it has no labkit record ({_RECORD}), so nothing says which data and settings it was "
                          "made for")
        try:
            record = json.loads(files[_RECORD].read_text())
        except (OSError, ValueError) as err:
            return None, f"its record {_RECORD} is unreadable ({err})"
        if not isinstance(record, dict) or record.get("format") != _BACKUP_FORMAT:
            return None, f"its record is not in labkit's backup format {_BACKUP_FORMAT}"
        if record.get("fingerprint") != self.fingerprint:
            return None, (f"it was made for other data or settings (fingerprint {str(record.get('fingerprint'))[:12]}..., "
                          f"this run's {self.fingerprint[:12]}...)")
        missing = sorted(set(files) - present)
        if missing:
            return None, f"it is incomplete (no {', '.join(missing)})"
        try:
            intact = _file_sha256(files[_WEIGHTS]) == record.get("weights_sha256")
            keras_epoch = json.loads(files[_METADATA].read_text())["epoch"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return None, f"it cannot be read ({type(err).__name__}: {err})"
        if not intact:
            return None, (f"its weights file {_WEIGHTS} is not the one its record describes (truncated, or "
                          "changed after it was written)")
        epochs, rows, seconds = record.get("epochs"), record.get("epoch_log"), record.get("train_seconds")
        if not (isinstance(epochs, int) and 1 <= epochs <= self.settings["epochs"] and keras_epoch == epochs
                and isinstance(rows, list) and len(rows) == epochs
                and record.get("samples_seen") == epochs * self.samples_per_epoch
                and isinstance(seconds, (int, float)) and seconds > 0):
            return None, (f"its record (epoch {epochs!r}) does not agree with Keras' checkpoint (epoch "
                          f"{keras_epoch!r}): an interrupted save")
        return record, None

    def _load(self) -> str | None:
        """Let Keras load the backup; None on success, else why (the variables are put back)."""
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        state = list(model.variables) + (list(model.optimizer.variables) if model.optimizer is not None else [])
        saved = [v.numpy() for v in state]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                super().on_train_begin()
            skipped = [str(w.message) for w in caught if "retain" in str(w.message)]
            if skipped:  # Keras loaded only part of the file ("... will retain their freshly-initialized weights")
                raise ValueError(skipped[0])
        except Exception as err:  # noqa: BLE001 - whatever Keras raises, the backup is not used
            for v, value in zip(state, saved):
                v.assign(value)
            model._initial_epoch = None  # set by Keras only once everything loaded; make sure
            text = " ".join(str(err).split())
            return f"Keras could not load its weights ({type(err).__name__}: {text[:240]})"
        return None

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)  # Keras writes the weights and its epoch
        rows = self.log.rows
        record = {"format": _BACKUP_FORMAT, "fingerprint": self.fingerprint, "settings": self.settings,
                  "epochs": epoch + 1, "samples_seen": (epoch + 1) * self.samples_per_epoch,
                  "train_seconds": rows[-1]["seconds"] if rows else 0.0, "epoch_log": rows,
                  "weights_sha256": _file_sha256(self.path / _WEIGHTS), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp = self.path / f".{_RECORD}.tmp"
        tmp.write_text(json.dumps(record, indent=1, default=_json_default))
        os.replace(tmp, self.path / _RECORD)  # never half-written


# --------------------------------------------------------------------------- recipe inputs, result, training
def _check_images(x: Any, name: str) -> np.ndarray:
    """Images for the recipe: (N, 32, 32, 3), uint8 pixels 0..255 or floats in [0, 1]."""
    arr = check_array(x, name, ndim=4, kind="numeric")
    if arr.shape[1:] != _INPUT:
        raise ValueError(f"{name} must be (N, 32, 32, 3) images, got an array of shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be uint8 pixels (0 .. 255) or floats in [0, 1], got dtype {arr.dtype}; "
                        f"convert pixels 0 .. 255 with {name}.astype(np.uint8).")
    lo, hi = float(arr.min()), float(arr.max())
    tol = 1e-5
    if lo >= -tol and 1 + tol < hi <= 255 + tol:
        raise ValueError(f"{name} holds floats up to {hi:g}, pixels in [0, 255], but the recipe expects floats "
                         f"in [0, 1] (it normalises them with the CIFAR-10 mean and std itself); pass uint8 pixels "
                         f"or scale them: {name} / 255.")
    if lo < -tol or hi > 1 + tol:
        raise ValueError(f"{name} holds values in [{lo:g}, {hi:g}]; the recipe expects uint8 pixels or floats in "
                         "[0, 1], before any normalisation (it normalises them itself).")
    return arr


def _check_recipe_labels(y: Any, name: str) -> np.ndarray:
    if getattr(y, "ndim", None) == 2 and y.shape[1] == 1:  # keras.datasets' (N, 1) labels
        y = np.asarray(y).reshape(-1)
    return check_labels(y, name, n_classes=10)


@dataclass
class RecipeResult:
    """What :func:`train_recipe` returns, for the whole run - over every session of a resumed one.

    ``train_seconds``: training time of all sessions (evaluation excluded); ``epochs`` and
    ``samples_seen``: all epochs trained; ``epoch_log``: one dict per epoch with the cumulative
    training seconds, train loss and, when evaluated, test accuracy; ``resumed_epochs``: how many of
    the epochs came from a backup (0: trained in this call)."""

    model: Any
    test_accuracy: float | None
    train_seconds: float
    epochs: int
    samples_seen: int
    precision: str
    epoch_log: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    resumed_epochs: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds else float("nan")

    def time_to_accuracy(self, target: float) -> float | None:
        """Training seconds until the first evaluated epoch with test accuracy >= target."""
        for e in self.epoch_log:
            if e.get("test_accuracy") is not None and e["test_accuracy"] >= target:
                return e["seconds"]
        return None


def train_recipe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, *, epochs: int = 8, precision: str = "auto",
                 eval_every: int = 0, backup_dir: str | os.PathLike | bool | None = None, seed: int = 0,
                 log: Callable[[str], None] | None = print, callbacks: list | None = None,
                 **overrides: Any) -> RecipeResult:
    """Train the recipe network on CIFAR-style data and (optionally) evaluate it with TTA.

    Args:
        x_train: (N, 32, 32, 3) images, uint8 pixels 0..255 or floats in [0, 1] (the recipe
            normalises them itself; floats in [0, 255] are refused).
        y_train: (N,) (or (N, 1)) whole-number labels 0..9.
        x_test, y_test: both or neither; evaluated with test-time augmentation at the end.
        epochs: passes over the training set (the schedule spans them all).
        eval_every: evaluate on the test set every k epochs (0: only at the end); its time is
            excluded from ``train_seconds``.
        backup_dir: back the run up after every epoch, so that a run interrupted and called again
            with the same data and settings resumes after its last completed epoch. None (default):
            no backup; True: the per-user folder :func:`recipe_backup_root`
            (``~/.cache/labkit/backups``); or a folder of your own. It must be yours and not
            writable by others (created with mode 0o700 if missing); otherwise a warning says so and
            the run trains without a backup. Each run backs up into its own sub-folder
            ``recipe-<fingerprint>``, keyed by a SHA-256 of the training data and of every setting
            that shapes the run (epochs, seed, precision, batch size and every recipe setting), so
            other data or settings never resume it. Keras' ``BackupAndRestore`` saves and restores
            the state; labkit adds a record with the fingerprint, the weights' SHA-256 and the run's
            totals, checks it before loading, and sets a backup that fails a check or that Keras
            cannot load aside (a ``RuntimeWarning`` names it and why) and trains from scratch. The
            folder is deleted when the run finishes. A resumed run restores the weights, the
            optimiser and the schedule, not the data order, and restarts the Lookahead average.
        seed: the seed of the weights, the data order and the augmentation.
        log: called with one line per epoch (None: silent).
        callbacks: more Keras callbacks, run after the recipe's own (after the backup).
        **overrides: any key of :data:`RECIPE_DEFAULTS`.

    Returns:
        A :class:`RecipeResult` for the whole run (all sessions of a resumed one).

    Raises:
        TypeError: an argument of the wrong type (float epochs, int64 or string images...).
        ValueError: a wrong value (unknown setting, labels outside 0..9 or fractional, images of
            the wrong shape or range, different numbers of images and labels...).
    """
    unknown = set(overrides) - set(RECIPE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; known: {sorted(RECIPE_DEFAULTS)}.")
    epochs = check_int(epochs, "epochs", min_val=1)
    eval_every = check_int(eval_every, "eval_every", min_val=0)
    seed = check_int(seed, "seed", min_val=0)
    if log is not None and not callable(log):
        raise TypeError(f"log must be a function of one string (such as print) or None, got {log!r}.")
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Keras callbacks or None, got {type(callbacks).__name__}.")
    if backup_dir is False:
        backup_dir = None
    if backup_dir is not None and backup_dir is not True and not isinstance(backup_dir, (str, os.PathLike)):
        raise TypeError(f"backup_dir must be a folder (str or path), True (the per-user folder) or None, got "
                        f"{backup_dir!r} of type {type(backup_dir).__name__}.")
    optimizer = check_option(overrides.get("optimizer", RECIPE_DEFAULTS["optimizer"]), "optimizer", ("sgd", "muon"))
    muon = optimizer == "muon"
    cfg = {**RECIPE_DEFAULTS, **(MUON_PRESET if muon else {}), **overrides}
    widths = _check_widths(cfg["widths"], 3, "widths")
    batch_size = check_int(cfg["batch_size"], "batch_size", min_val=1)
    x_raw = _check_images(x_train, "x_train")
    ytr = _check_recipe_labels(y_train, "y_train")
    check_same_length(x_train=x_raw, y_train=ytr)
    if (x_test is None) != (y_test is None):
        raise ValueError("pass both x_test and y_test (to evaluate), or neither.")
    evaluate = x_test is not None
    if evaluate:
        x_test = _check_images(x_test, "x_test")
        y_test = _check_recipe_labels(y_test, "y_test")
        check_same_length(x_test=x_test, y_test=y_test)
    num_classes = 10
    policy = recipe_precision(precision)
    xtr = _to_float(x_raw)
    bs = min(batch_size, len(xtr))
    steps_per_epoch = len(xtr) // bs  # drop the last partial batch (batch norm dislikes tiny batches)
    say = log or (lambda s: None)
    # every setting that shapes the run: the key of its backup
    settings = {**cfg, "widths": list(widths), "batch_size": bs, "epochs": epochs, "seed": seed,
                "precision": policy, "num_classes": num_classes, "format": _BACKUP_FORMAT}

    keras.utils.set_random_seed(seed)
    norm = (xtr[: min(len(xtr), 5000)] - np.array(CIFAR_MEAN, "float32")) / np.array(CIFAR_STD, "float32")
    model = recipe_net(widths, whiten=whitening_kernel(norm), num_classes=num_classes,
                       activation=cfg["activation"], precision=policy, bias_scale=1.0 if muon else 64.0,
                       logit_scale=1 / widths[-1] if muon else 1 / 9, head_std=1.0 if muon else None)
    total_steps = steps_per_epoch * epochs
    if muon:
        opt, extra = _recipe_muon(model, cfg, bs, total_steps, steps_per_epoch * int(cfg["whiten_bias_epochs"]))
    else:
        opt, extra = _recipe_sgd(model, cfg, bs, total_steps)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg["label_smoothing"])
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    ds, flip_all = _input_pipeline(xtr, ytr, num_classes, bs, cfg, seed)
    cfg = dict(cfg, **extra)

    def test_acc() -> float:
        logits = predict_tta(model, x_test, tta=cfg["tta"])
        return float(np.mean(np.argmax(logits, 1) == y_test))

    progress = _RecipeLog(epochs, flip_all=flip_all, whiten_bias_epochs=int(cfg["whiten_bias_epochs"]),
                          test_accuracy=test_acc if evaluate else None, eval_every=eval_every, say=say)
    # the Lookahead sets the averaged weights at the end of an epoch: before evaluation and backup
    cbs = [_lookahead_callback(int(0.3 * total_steps), total_steps)] if cfg["lookahead"] else []
    cbs.append(progress)
    backup = fingerprint = None
    if backup_dir is not None:
        root = _backup_root(backup_dir)
        if root is not None:  # after the log (it saves its rows), before the caller's callbacks
            fingerprint = _recipe_fingerprint(x_raw, ytr, settings)
            backup = _RecipeBackup(root / f"recipe-{fingerprint[:16]}", fingerprint, settings, progress,
                                   steps_per_epoch * bs)
            cbs.append(backup)
    cbs += list(callbacks or [])
    model.fit(ds, epochs=epochs, verbose=0, callbacks=cbs, shuffle=False)
    log_rows = progress.rows
    train_seconds = log_rows[-1]["seconds"] if log_rows else 0.0
    acc = test_acc() if evaluate else None
    if log_rows and evaluate:
        log_rows[-1]["test_accuracy"] = acc
    done = len(log_rows)
    return RecipeResult(model, acc, train_seconds, done, done * steps_per_epoch * bs, policy, log_rows,
                        dict(cfg, epochs=epochs, batch_size=bs, steps_per_epoch=steps_per_epoch,
                             fingerprint=fingerprint, backup_path=None if backup is None else str(backup.path)),
                        resumed_epochs=backup.resumed_epochs if backup is not None else 0)


def _recipe_sgd(model, cfg: dict, bs: int, total_steps: int):
    """airbench94's optimiser: Nesterov SGD, triangular schedule, 64x rate for biases (ScaledBias)."""
    import keras

    # airbench's "decoupled" hyper-parameters -> Keras SGD on a mean loss (see module docstring):
    # lr per 1024 examples divided by the Nesterov step amplification 1 + 1/(1 - momentum).
    momentum = float(cfg["momentum"])
    amplification = 1 + 1 / (1 - momentum)
    lr = cfg["lr"] / amplification * bs / 1024
    # Keras decays decoupled (w -= lr * wd * w, outside the momentum buffer); airbench's coupled
    # decay is amplified by the momentum like the gradient, so per step it shrinks w by
    # weight_decay * batch / 1024 (times the schedule): wd_keras = that / lr.
    wd = cfg["weight_decay"] * bs / 1024 / lr
    schedule = _triangle_schedule(lr, total_steps, cfg["warmup"], cfg["start_factor"], cfg["end_factor"])
    opt = keras.optimizers.SGD(schedule, momentum=momentum, nesterov=True, weight_decay=wd)
    # airbench trains the whitening bias (at the 64x bias rate) for the first few epochs only; a
    # frozen bias must not decay either, so it is kept out of the weight decay throughout
    whiten_bias = model.get_layer("whiten_bias")
    opt.exclude_from_weight_decay(var_list=[whiten_bias.bias])
    return opt, dict(lr_keras=lr, weight_decay_keras=wd)


def _recipe_muon(model, cfg: dict, bs: int, total_steps: int, whiten_steps: int):
    """airbench94_muon's optimiser (see :func:`_muon_optimizer`). Its SGD rates and decay are per
    example (PyTorch on a summed loss); on Keras' mean loss the rate is ``lr * batch`` and the
    coupled decay ``decay / lr``, so a step shrinks a weight by ``decay * batch`` as there."""
    whiten_bias = model.get_layer("whiten_bias").bias
    decay = float(cfg["muon_decay"])
    groups = {}
    for v in model.trainable_weights:
        if v.path == whiten_bias.path:
            groups[v.path] = ("sgd", cfg["muon_bias_lr"] * bs, decay / cfg["muon_bias_lr"], "whiten")
        elif len(v.shape) == 4:
            groups[v.path] = ("muon", float(cfg["muon_lr"]), 0.0, "main")
        elif v.path.startswith("head/"):
            groups[v.path] = ("sgd", cfg["muon_head_lr"] * bs, decay / cfg["muon_head_lr"], "main")
        else:  # batch norm biases
            groups[v.path] = ("sgd", cfg["muon_bias_lr"] * bs, decay / cfg["muon_bias_lr"], "main")
    opt = _muon_optimizer(groups, total_steps, whiten_steps, muon_momentum=float(cfg["muon_momentum"]),
                          sgd_momentum=float(cfg["momentum"]))
    return opt, dict(muon_groups={k: v[0] for k, v in groups.items()})
