"""CIFAR-10 teaching builders: 32x32x3 float images in [0, 1] in, logits out.

* :func:`cifar_dense` - a multi-layer perceptron on the flattened pixels;
* :func:`cifar_small_cnn` - a small convolutional network with few parameters;
* :func:`cifar_large_cnn` - a wide VGG-style network with a big dense head that
  over-fits a small training set; every remedy of the notebook is a keyword
  (``l2``, ``dropout``, ``batch_norm``, ``augment``);
* :func:`cifar_tiny_cnn` - a deliberately too-small model that under-fits;
* :func:`augmentation_layers` - Keras' random flip and translation layers.

The fast training recipe lives in :mod:`labkit.recipe`; its public names (``train_recipe``,
``recipe_net``, ``RecipeResult``...) are re-exported here so that ``labkit.models.train_recipe``
and code written against ``labkit.models.cifar`` keep working.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import layers, regularizers

# the recipe, re-exported (see the module docstring)
from labkit.recipe import (  # noqa: F401
    CIFAR_MEAN,
    CIFAR_STD,
    MUON_PRESET,
    RECIPE_DEFAULTS,
    RecipeResult,
    cpu_supports_bf16,
    newton_schulz,
    predict_tta,
    recipe_backup_root,
    recipe_net,
    recipe_precision,
    train_recipe,
    whitening_kernel,
)
from labkit.validation import check_bool, check_int, check_ints, check_number, check_str

__all__ = ["cifar_dense", "cifar_small_cnn", "cifar_large_cnn", "cifar_tiny_cnn", "augmentation_layers",
           "recipe_net", "train_recipe", "RecipeResult", "predict_tta", "whitening_kernel",
           "recipe_precision", "cpu_supports_bf16", "newton_schulz", "CIFAR_MEAN", "CIFAR_STD", "RECIPE_DEFAULTS",
           "MUON_PRESET", "recipe_backup_root"]

_INPUT = (32, 32, 3)


# --------------------------------------------------------------------------- teaching models
def cifar_dense(hidden: Sequence[int] = (512, 256), num_classes: int = 10, dropout: float = 0.0,
                name: str = "dense"):
    """Flatten (3,072 pixels) -> Dense(h, relu) for h in ``hidden`` -> Dense(num_classes) logits."""
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
    filters = check_int(filters, "filters", min_val=1)
    num_classes, name = check_int(num_classes, "num_classes", min_val=1), check_str(name, "name")
    x = inputs = keras.Input(_INPUT)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(4)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)
