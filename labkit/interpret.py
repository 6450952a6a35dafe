"""Look inside a convolutional network: first-layer filters, activation maps, Grad-CAM.

* :func:`conv_layers` / :func:`last_conv_layer` - the convolution layers of a model;
* :func:`first_layer_filters` - the first conv layer's kernels, (K, kh, kw, C), scaled to [0, 1];
* :func:`activation_maps` - what any layer outputs for some images, (N, h, w, K);
* :func:`grad_cam` - Grad-CAM heat maps (Selvaraju et al., 2017) for any functional (or
  Sequential) Keras CNN: name the target layer or let it find the last conv layer;
* :func:`plot_filters`, :func:`plot_activation_maps`, :func:`plot_grad_cam` - figures
  (they return the Figure and never call ``plt.show()``).

Grad-CAM for class c at layer output A (h x w x K): the weights are the spatially averaged
gradients ``alpha_k = mean_ij d y_c / d A_ijk`` of the class logit ``y_c``, and the map is
``relu(sum_k alpha_k A_k)``, upsampled to the image and scaled to [0, 1] per image.

Why labkit keeps its own Grad-CAM: no maintained library computes it for Keras 3
(tf-keras-vis targets Keras 2), and with ``tf.GradientTape`` it is a page to read.
"""
from __future__ import annotations

from typing import Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import layers
from matplotlib import colormaps

from labkit.validation import check_array, check_bool, check_int, check_names, check_number, check_str

__all__ = ["conv_layers", "last_conv_layer", "first_layer_filters", "activation_maps", "grad_cam",
           "overlay", "plot_filters", "plot_activation_maps", "plot_grad_cam"]


def _conv_types():
    return (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Conv2DTranspose)


def _require_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}.")
    try:
        model.inputs  # noqa: B018 - a subclassed model has no symbolic inputs
    except (AttributeError, ValueError):
        model_inputs = None
    else:
        model_inputs = model.inputs
    if not model_inputs:
        raise ValueError(f"model {model.name!r} has no symbolic inputs: build it with keras.Input(...) "
                         "(a functional or Sequential model), not as a subclassed model.")


def conv_layers(model) -> list[str]:
    """Names of the model's 2-D convolution layers, in order (top level only)."""
    _require_model(model)
    return [layer.name for layer in model.layers if isinstance(layer, _conv_types())]


def last_conv_layer(model) -> str:
    """Name of the last 2-D convolution layer; ``ValueError`` when there is none."""
    names = conv_layers(model)
    if not names:
        nested = [layer.name for layer in model.layers if hasattr(layer, "layers")]
        extra = (f" It contains nested model(s) {nested}: pass layer_name=... of a layer at the top level, "
                 "or rebuild the model without nesting.") if nested else ""
        raise ValueError(f"model {model.name!r} has no Conv2D-type layer at its top level.{extra}")
    return names[-1]


def _images(images, model) -> np.ndarray:
    x = check_array(images, "images", min_len=0)
    shape = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(shape):
        x = x[None]
    if x.ndim != len(shape) + 1 or any(s is not None and s != d for s, d in zip(shape, x.shape[1:])):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, shape))}) or one image "
                         f"{shape}, got {np.asarray(images).shape}.")
    if x.dtype == np.uint8:
        raise ValueError("images are uint8: scale them the way the model was trained (e.g. x / 255).")
    if len(x) == 0:
        raise ValueError("images is empty; pass at least one image.")
    return x.astype("float32")


def _layer(model, layer_name):
    """The layer ``layer_name`` of ``model``; ValueError naming the conv layers when there is none."""
    layer_name = check_str(layer_name, "layer_name")
    try:
        return model.get_layer(layer_name)
    except ValueError:
        raise ValueError(f"layer_name {layer_name!r} does not exist: model {model.name!r} has no layer "
                         f"{layer_name!r}; its conv layers are {conv_layers(model)}.") from None


def _sub_model(model, layer_name: str):
    layer = _layer(model, layer_name)
    if len(layer.output.shape) != 4:
        raise ValueError(f"layer_name {layer_name!r} outputs shape {tuple(layer.output.shape)}; Grad-CAM and "
                         "activation maps need a 4-D (N, h, w, channels) output, e.g. a conv layer.")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, [layer.output, model.outputs[0]])


def first_layer_filters(model, layer_name: str | None = None) -> np.ndarray:
    """The kernels of the first conv layer (or ``layer_name``) as (K, kh, kw, C) in [0, 1].

    Each filter is scaled on its own (min-max), so its pattern is visible whatever its size.
    """
    names = conv_layers(model)
    name = layer_name if layer_name is not None else (names[0] if names else None)
    if name is None:
        raise ValueError(f"model {model.name!r} has no conv layer; pass layer_name=.")
    weights = _layer(model, name).get_weights()
    kernel = np.asarray(weights[0], dtype="float32") if weights else np.zeros(0)  # (kh, kw, C, K)
    if kernel.ndim != 4:
        raise ValueError(f"layer_name {name!r} names a layer with a kernel of shape {kernel.shape}, not a conv "
                         "kernel (kh, kw, C, K).")
    f = np.transpose(kernel, (3, 0, 1, 2))
    lo = f.min(axis=(1, 2, 3), keepdims=True)
    hi = f.max(axis=(1, 2, 3), keepdims=True)
    return (f - lo) / np.where(hi > lo, hi - lo, 1.0)


def activation_maps(model, images, layer_name: str | None = None) -> np.ndarray:
    """The output of ``layer_name`` (default: the first conv layer) for ``images``: (N, h, w, K)."""
    _require_model(model)
    name = layer_name
    if name is None:
        names = conv_layers(model)
        if not names:
            raise ValueError(f"model {model.name!r} has no conv layer; pass layer_name=.")
        name = names[0]
    x = _images(images, model)
    sub = _sub_model(model, name)
    inputs = sub.inputs[0] if len(sub.inputs) == 1 else sub.inputs
    feats = keras.Model(inputs, sub.outputs[0])(x, training=False)
    return np.asarray(keras.ops.convert_to_numpy(feats), dtype="float32")


def grad_cam(model, images, class_index: int | Sequence[int] | None = None, layer_name: str | None = None,
             *, upsample: bool = True, normalize: bool = True) -> np.ndarray:
    """Grad-CAM heat maps of ``model`` for ``images``.

    images: (N, H, W, C) or one (H, W, C) image, scaled as the model expects.
    class_index: the class to explain - ``None`` (each image's predicted class), one int for
    all images, or N ints. layer_name: the target layer (default: the last conv layer).
    The model must output logits (or any per-class score), shape (N, num_classes).

    Returns (N, H, W) float32 maps in [0, 1] (``upsample=False``: at the layer's h x w;
    ``normalize=False``: the raw ``relu(sum_k alpha_k A_k)`` values).
    """
    _require_model(model)
    upsample, normalize = check_bool(upsample, "upsample"), check_bool(normalize, "normalize")
    name = layer_name if layer_name is not None else last_conv_layer(model)
    x = _images(images, model)
    if class_index is not None:
        requested = check_array(class_index, "class_index", min_len=0, kind="any")
        if requested.dtype.kind not in "iu":
            raise TypeError(f"class_index must be None, an int or {len(x)} ints, got {class_index!r}.")
    sub = _sub_model(model, name)
    xt = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        feats, scores = sub(xt, training=False)
        feats = tf.cast(feats, tf.float32)
        scores = tf.cast(scores, tf.float32)
        if len(scores.shape) != 2:
            raise ValueError(f"the model must output (N, num_classes) scores, got shape {tuple(scores.shape)}.")
        n, k = x.shape[0], int(scores.shape[1])
        if class_index is None:
            idx = np.argmax(keras.ops.convert_to_numpy(scores), axis=1)
        else:
            idx = np.broadcast_to(np.asarray(class_index), (n,)) if np.ndim(class_index) == 0 \
                else np.asarray(class_index)
            if idx.shape != (n,) or idx.dtype.kind not in "iu":
                raise ValueError(f"class_index must be None, an int or {n} ints, got {class_index!r}.")
            if idx.min() < 0 or idx.max() >= k:
                raise ValueError(f"class_index must be in [0, {k}), got {class_index!r}.")
        target = tf.gather(scores, tf.constant(idx, dtype=tf.int32), axis=1, batch_dims=1)
    grads = tape.gradient(target, feats)
    if grads is None:
        raise ValueError(f"the model's scores do not depend on layer {name!r}; pick a layer on the path "
                         "from the input to the output.")
    alpha = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # (N, 1, 1, K)
    cam = tf.nn.relu(tf.reduce_sum(alpha * feats, axis=-1))  # (N, h, w)
    if upsample:
        cam = tf.image.resize(cam[..., None], x.shape[1:3], method="bilinear")[..., 0]
    cam = cam.numpy().astype("float32")
    if normalize:
        peak = cam.max(axis=(1, 2), keepdims=True)
        cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1.0), 0.0).astype("float32")
    return cam


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] heat map (H, W) over an RGB image (H, W, 3) in [0, 1] with the 'jet' colours."""
    image = check_array(image, "image").astype("float32")
    cam = check_array(cam, "cam").astype("float32")
    alpha = check_number(alpha, "alpha", min_val=0, max_val=1)
    if image.shape[:2] != cam.shape or image.ndim != 3:
        raise ValueError(f"image (H, W, 3) and cam (H, W) must match, got {image.shape} and {cam.shape}.")
    heat = colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
    return np.clip((1 - alpha) * image + alpha * heat, 0, 1)


# --------------------------------------------------------------------------- plots
def plot_filters(filters: np.ndarray, ncols: int = 8, title: str = "first-layer filters"):
    """Show (K, kh, kw, 3) filters in [0, 1] as small RGB tiles. Returns the Figure."""
    filters = check_array(filters, "filters", min_len=0)
    if filters.ndim != 4:
        raise ValueError(f"filters must be (K, kh, kw, C), got {filters.shape}.")
    if len(filters) == 0:
        raise ValueError("filters is empty; pass at least one (kh, kw, C) filter.")
    ncols = check_int(ncols, "ncols", min_val=1)
    title = check_str(title, "title", allow_empty=True)
    k = len(filters)
    nrows = int(np.ceil(k / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 0.9), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            f = filters[i]
            ax.imshow(f if f.shape[-1] == 3 else f.mean(-1), cmap=None if f.shape[-1] == 3 else "gray",
                      interpolation="nearest")
    fig.suptitle(title)
    return fig


def plot_activation_maps(image: np.ndarray, maps: np.ndarray, n: int = 16, ncols: int = 8,
                         title: str = "activation maps"):
    """One image (H, W, 3) and the first ``n`` channels of its maps (h, w, K). Returns the Figure."""
    image = check_array(image, "image")
    maps = check_array(maps, "maps")
    if maps.ndim != 3:
        raise ValueError(f"maps must be (h, w, K) for one image, got {maps.shape}.")
    n = min(check_int(n, "n", min_val=1), maps.shape[-1])
    ncols = check_int(ncols, "ncols", min_val=1)
    title = check_str(title, "title", allow_empty=True)
    nrows = 1 + int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.0, nrows * 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(np.clip(image, 0, 1))
    axes[0, 0].set_title("input", fontsize=8)
    for i in range(n):
        ax = axes[1 + i // ncols, i % ncols]
        ax.imshow(maps[..., i], cmap="viridis")
        ax.set_title(f"ch {i}", fontsize=7)
    fig.suptitle(title)
    return fig


def plot_grad_cam(images: np.ndarray, cams: np.ndarray, titles: Sequence[str] | None = None,
                  ncols: int = 6, title: str = "Grad-CAM"):
    """Images (N, H, W, 3) in [0, 1] with their heat maps (N, H, W) overlaid. Returns the Figure."""
    images, cams = check_array(images, "images"), check_array(cams, "cams")
    if len(images) != len(cams):
        raise ValueError(f"got {len(images)} images but cams has {len(cams)} heat maps; pass one per image.")
    n = len(images)
    if titles is not None:
        titles = check_names(titles, "titles")
        if len(titles) != n:
            raise ValueError(f"titles has {len(titles)} title(s) for {n} images; pass one per image (or None).")
    ncols = check_int(ncols, "ncols", min_val=1)
    title = check_str(title, "title", allow_empty=True)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.6, nrows * 1.8), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(overlay(images[i], cams[i]))
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
