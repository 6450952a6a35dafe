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

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["cifar_dense", "cifar_small_cnn", "cifar_large_cnn", "cifar_tiny_cnn",
           "recipe_net", "train_recipe", "RecipeResult", "predict_tta", "whitening_kernel",
           "recipe_precision", "cpu_supports_bf16", "newton_schulz", "CIFAR_MEAN", "CIFAR_STD", "RECIPE_DEFAULTS",
           "MUON_PRESET"]

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

    hidden = _check_widths(hidden, None, "hidden")
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

    widths = _check_widths(widths, None, "widths")
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

    if not 0 <= translate < 0.5:
        raise ValueError(f"translate is a fraction of the image size in [0, 0.5), got {translate!r}.")
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

    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}.")
    if l2 < 0 or not 0 <= dropout < 1:
        raise ValueError(f"need l2 >= 0 and 0 <= dropout < 1, got l2={l2!r}, dropout={dropout!r}.")
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

    if not isinstance(filters, (int, np.integer)) or filters < 1:
        raise ValueError(f"filters must be a positive integer, got {filters!r}.")
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


@dataclass
class RecipeResult:
    """What :func:`train_recipe` returns. ``epoch_log``: one dict per epoch with the cumulative
    training seconds (evaluation excluded), train loss and, when evaluated, test accuracy."""

    model: Any
    test_accuracy: float | None
    train_seconds: float
    epochs: int
    samples_seen: int
    precision: str
    epoch_log: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)

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
                 eval_every: int = 0, backup_dir: str | os.PathLike | None = None, seed: int = 0,
                 log: Callable[[str], None] | None = print, callbacks: list | None = None,
                 **overrides: Any) -> RecipeResult:
    """Train the recipe network on CIFAR-style data and (optionally) evaluate it with TTA.

    x_train: (N, 32, 32, 3) uint8 or float in [0, 1]; y_train: (N,) integer labels.
    ``epochs``: passes over the training set (the schedule spans them all). ``eval_every``:
    evaluate on the test set every k epochs (0: only at the end); its time is excluded from
    ``train_seconds``. ``backup_dir``: when given, Keras ``BackupAndRestore`` checkpoints there
    every epoch, so an interrupted run called again with the same arguments resumes after its
    last completed epoch. ``overrides``: any key of :data:`RECIPE_DEFAULTS`.
    """
    import keras

    unknown = set(overrides) - set(RECIPE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; known: {sorted(RECIPE_DEFAULTS)}.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    optimizer = overrides.get("optimizer", RECIPE_DEFAULTS["optimizer"])
    if optimizer not in ("sgd", "muon"):
        raise ValueError(f"optimizer must be 'sgd' or 'muon', got {optimizer!r}.")
    muon = optimizer == "muon"
    cfg = {**RECIPE_DEFAULTS, **(MUON_PRESET if muon else {}), **overrides}
    xtr = _to_float(x_train)
    ytr = np.asarray(y_train).astype("int64").reshape(-1)
    if len(ytr) != len(xtr):
        raise ValueError(f"x_train has {len(xtr)} images but y_train has {len(ytr)} labels.")
    num_classes = 10
    if ytr.min() < 0 or ytr.max() >= num_classes:
        raise ValueError(f"labels must be integers in [0, {num_classes}), got range [{ytr.min()}, {ytr.max()}].")
    bs = int(min(cfg["batch_size"], len(xtr)))
    steps_per_epoch = len(xtr) // bs  # drop the last partial batch (batch norm dislikes tiny batches)
    policy = recipe_precision(precision)
    say = log or (lambda s: None)

    keras.utils.set_random_seed(seed)
    norm = (xtr[: min(len(xtr), 5000)] - np.array(CIFAR_MEAN, "float32")) / np.array(CIFAR_STD, "float32")
    widths = _check_widths(cfg["widths"], 3, "widths")
    model = recipe_net(widths, whiten=whitening_kernel(norm), num_classes=num_classes,
                       activation=cfg["activation"], precision=policy, bias_scale=1.0 if muon else 64.0,
                       logit_scale=1 / widths[-1] if muon else 1 / 9, head_std=1.0 if muon else None)
    whiten_bias = model.get_layer("whiten_bias")
    total_steps = steps_per_epoch * int(epochs)
    if muon:
        opt, extra = _recipe_muon(model, cfg, bs, total_steps, steps_per_epoch * int(cfg["whiten_bias_epochs"]))
    else:
        opt, extra = _recipe_sgd(model, cfg, bs, total_steps)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg["label_smoothing"])
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    ds, flip_all = _input_pipeline(xtr, ytr, num_classes, bs, cfg, seed)
    cfg = dict(cfg, **extra)

    log_rows: list[dict] = []
    eval_seconds = [0.0]
    start = [0.0]
    evaluate = x_test is not None and y_test is not None

    def test_acc() -> float:
        logits = predict_tta(model, x_test, tta=cfg["tta"])
        return float(np.mean(np.argmax(logits, 1) == np.asarray(y_test).reshape(-1)))

    class _Log(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            start[0] = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            if flip_all is not None:  # read by the input pipeline, whose iterator starts after this
                flip_all.assign(epoch % 2 == 1)
            if epoch >= cfg["whiten_bias_epochs"] and float(whiten_bias.gate.numpy()) > 0:
                whiten_bias.freeze()

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "seconds": time.perf_counter() - start[0] - eval_seconds[0],
                   "loss": float(logs["loss"]), "train_accuracy": float(logs["accuracy"]), "test_accuracy": None}
            if evaluate and eval_every and ((epoch + 1) % eval_every == 0) and epoch + 1 < epochs:
                t = time.perf_counter()
                row["test_accuracy"] = test_acc()
                eval_seconds[0] += time.perf_counter() - t
            log_rows.append(row)
            acc = "" if row["test_accuracy"] is None else f" - test acc {row['test_accuracy']:.4f}"
            say(f"epoch {epoch + 1}/{epochs} - loss {row['loss']:.4f} - train acc {row['train_accuracy']:.4f}"
                f"{acc} - {row['seconds']:.0f} s")

    # the Lookahead sets the averaged weights at the end of an epoch: before evaluation and backup
    cbs = [_lookahead_callback(int(0.3 * total_steps), total_steps)] if cfg["lookahead"] else []
    cbs.append(_Log())
    if backup_dir is not None:  # before the caller's callbacks, so a finished epoch is saved first
        cbs.append(keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=True))
    cbs += list(callbacks or [])
    model.fit(ds, epochs=int(epochs), verbose=0, callbacks=cbs, shuffle=False)
    train_seconds = log_rows[-1]["seconds"] if log_rows else 0.0
    acc = test_acc() if evaluate else None
    if log_rows and evaluate:
        log_rows[-1]["test_accuracy"] = acc
    done = len(log_rows)
    return RecipeResult(model, acc, train_seconds, done, done * steps_per_epoch * bs, policy, log_rows,
                        dict(cfg, epochs=int(epochs), batch_size=bs, steps_per_epoch=steps_per_epoch))


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
