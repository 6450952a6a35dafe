"""Checks for notebook 08 (transfer learning)."""
from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import layers

from labkit.checks import ExerciseError, call_answer, passed, require_answer

_HEAD_HINT = ("The new head is one Dense layer from the 1,280 pooled features to 10 logits: "
              "n_in * n_out weights plus one bias per output (dropout has no parameters).")
_PRE_HINT = ("MobileNetV2's weights were trained on pixels scaled from [0, 255] to [-1, 1]: "
             "x / 127.5 - 1, as float32. Return a new array; do not change the input.")
_UNFREEZE_HINT = ("Set model.trainable = True first (in Keras a frozen model reports no trainable "
                  "weights, whatever its layers say), then give every layer before the named one "
                  "trainable = False and that layer and every later one trainable = True.")


def head_param_count(n_params) -> None:
    """Exercise 1: parameters of Dense(10) on 1,280 features."""
    ex = "new head parameter count"
    require_answer(ex, n_params, "n_params", _HEAD_HINT)
    # NaN and infinity are not whole numbers (int() of them raised ValueError/OverflowError here)
    if (isinstance(n_params, bool) or not isinstance(n_params, numbers.Real) or not math.isfinite(n_params)
            or float(n_params) != int(math.trunc(n_params))):
        raise ExerciseError(ex, f"`n_params` should be a whole number, got {n_params!r}.", _HEAD_HINT)
    n = int(math.trunc(n_params))  # int(x) of a Real, spelled the way typeshed's numbers.Real allows
    if n == 1280 * 10 + 10:
        return passed(ex, f"{n:,} trainable parameters, against 2,257,984 frozen ones in the backbone")
    if n == 1280 * 10:
        raise ExerciseError(ex, f"{n:,} counts the weights but not the 10 biases.", _HEAD_HINT)
    if n in (2_257_984, 2_257_984 + 12_810):
        raise ExerciseError(ex, f"{n:,} counts the frozen backbone; count only what the head trains.", _HEAD_HINT)
    raise ExerciseError(ex, f"{n:,} is not the parameter count of Dense(10) on 1,280 features.", _HEAD_HINT)


def mobilenet_preprocess(fn) -> None:
    """Exercise 2: ``fn(images_uint8)`` -> float32 pixels in [-1, 1], input untouched."""
    ex = "MobileNetV2 preprocessing"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)
    x[0, 0, 0] = (0, 127, 255)
    original = x.copy()
    got = call_answer(ex, fn, "preprocess_pixels", (x,), _PRE_HINT)
    try:
        arr = np.asarray(got, dtype="float64")
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"`preprocess_pixels` returned {type(got).__name__}, not an array.",
                            _PRE_HINT) from None
    if not np.array_equal(x, original):
        raise ExerciseError(ex, "`preprocess_pixels` changed its input array in place.", _PRE_HINT)
    if arr.shape != x.shape:
        raise ExerciseError(ex, f"the output has shape {arr.shape}; it should keep the input's {x.shape}.", _PRE_HINT)
    want = original.astype("float64") / 127.5 - 1.0
    if np.allclose(arr, want, atol=1e-5):
        return passed(ex, "pixels in [-1, 1], as the pretrained weights expect")
    if np.allclose(arr, original / 255.0, atol=1e-5):
        raise ExerciseError(ex, "the output is in [0, 1]: right for our own CNNs, wrong for these weights.",
                            _PRE_HINT)
    if np.allclose(arr, original, atol=1e-5):
        raise ExerciseError(ex, "the output is still in [0, 255]: nothing was scaled.", _PRE_HINT)
    raise ExerciseError(ex, f"the output ranges over [{arr.min():.3g}, {arr.max():.3g}], not x / 127.5 - 1.",
                        _PRE_HINT)


def _toy_model():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = layers.BatchNormalization(name="bn_a")(x)
    x = layers.Conv2D(4, 3, name="conv_b")(x)
    x = layers.BatchNormalization(name="bn_b")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(2, name="dense")(x)
    model = keras.Model(inputs, outputs, name="toy")
    model.trainable = False  # as a backbone arrives from pretrained_backbone
    return model


def unfreeze_from(fn) -> None:
    """Exercise 3: ``fn(model, layer_name)`` unfreezes ``layer_name`` and every later layer."""
    ex = "unfreeze the top of a backbone"
    require_answer(ex, fn, "unfreeze_from", _UNFREEZE_HINT)
    for name in ("conv_b", "bn_b", "dense"):
        model = _toy_model()
        call_answer(ex, fn, "unfreeze_from", (model, name), _UNFREEZE_HINT)
        names = [layer.name for layer in model.layers]
        first = names.index(name)
        expect = {layer.name: i >= first for i, layer in enumerate(model.layers) if layer.weights}
        got = {layer.name: bool(layer.trainable) for layer in model.layers if layer.weights}
        if got != expect:
            wrong = sorted(k for k in expect if expect[k] != got[k])
            raise ExerciseError(ex, f"unfreeze_from(model, {name!r}) left the wrong layers trainable: "
                                    f"{', '.join(wrong)}.", _UNFREEZE_HINT)
        trained = {w.path.split("/")[0] for w in model.trainable_weights}
        want = {k for k, v in expect.items() if v}
        if trained != want:
            raise ExerciseError(ex, f"after unfreeze_from(model, {name!r}) the model trains the weights of "
                                    f"{sorted(trained) or 'no layer'}, expected {sorted(want)}.", _UNFREEZE_HINT)
    passed(ex, "only the top layers will be fine-tuned")
