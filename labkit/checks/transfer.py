"""Checks for notebook 09 (transfer learning)."""
from __future__ import annotations

import keras
import numpy as np
from keras import layers

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer, require_number

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
    # 12810, np.int64(12810), 12810.0, np.array([12810]); not "12810", True, 12810.5, nan or inf
    n = require_number(ex, n_params, "`n_params`", _HEAD_HINT, integer=True)
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


_WORDS = ("stem", "block", "expand", "project", "squeeze", "head", "stage", "mix", "cell", "unit")


def _fresh_model(rng):
    """A frozen backbone-like model with fresh layer names and depth: 2 to 4 conv blocks (conv, batch norm,
    sometimes a weightless ReLU), pooling and a dense head. Returns it with the names to unfreeze from."""
    inputs = keras.Input((8, 8, 3))
    x, tag = inputs, int(rng.integers(100, 1000))
    for b in range(int(rng.integers(2, 5))):
        word = _WORDS[int(rng.integers(len(_WORDS)))]
        x = layers.Conv2D(int(rng.integers(2, 5)), 1, name=f"{word}{b}_{tag}_conv")(x)
        x = layers.BatchNormalization(name=f"{word}{b}_{tag}_bn")(x)
        if rng.random() < 0.5:
            x = layers.ReLU(name=f"{word}{b}_{tag}_relu")(x)
    x = layers.GlobalAveragePooling2D(name=f"gap_{tag}")(x)
    outputs = layers.Dense(int(rng.integers(2, 5)), name=f"logits_{tag}")(x)
    model = keras.Model(inputs, outputs, name=f"backbone_{tag}")
    model.trainable = False
    with_weights = [layer.name for layer in model.layers if layer.weights]
    names = [str(n) for n in rng.choice(with_weights[1:], 2, replace=False)]
    names.append(str(rng.choice([layer.name for layer in model.layers[1:] if not layer.weights])))
    return model, names


def _unfreeze_problem(model, name: str) -> str | None:
    """What is wrong after ``fn(model, name)``, or None when only ``name`` and the later layers train."""
    names = [layer.name for layer in model.layers]
    first = names.index(name)
    expect = {layer.name: i >= first for i, layer in enumerate(model.layers) if layer.weights}
    got = {layer.name: bool(layer.trainable) for layer in model.layers if layer.weights}
    if got != expect:
        wrong = sorted(k for k in expect if expect[k] != got[k])
        return f"unfreeze_from(model, {name!r}) left the wrong layers trainable: {', '.join(wrong)}"
    trained = {w.path.split("/")[0] for w in model.trainable_weights}
    want = {k for k, v in expect.items() if v}
    if trained != want:
        return (f"after unfreeze_from(model, {name!r}) the model trains the weights of "
                f"{sorted(trained) or 'no layer'}, expected {sorted(want)}")
    return None


def unfreeze_from(fn, *, seed: int | None = None) -> None:
    """Exercise 3: ``fn(model, layer_name)`` unfreezes ``layer_name`` and every later layer.

    The toy model (conv_a, bn_a, conv_b, bn_b, pool, dense), then fresh models with other layer
    names and depths (``seed=None``: a new seed each call, named in any failure), so that an
    answer written for the toy model's names or positions fails.
    """
    ex = "unfreeze the top of a backbone"
    require_answer(ex, fn, "unfreeze_from", _UNFREEZE_HINT)
    for name in ("conv_b", "bn_b", "dense"):
        model = _toy_model()
        call_answer(ex, fn, "unfreeze_from", (model, name), _UNFREEZE_HINT)
        problem = _unfreeze_problem(model, name)
        if problem:
            raise ExerciseError(ex, problem + ".", _UNFREEZE_HINT)
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    hard_coded = ("It works on the toy model but not on this one (other layer names, another depth, layers "
                  "without weights such as ReLU): look the layer up by name in model.layers "
                  "(names = [layer.name for layer in model.layers]; first = names.index(layer_name)) instead of "
                  "writing the toy model's layer names or positions into the function. " + _UNFREEZE_HINT)
    for _ in range(2):
        model, names = _fresh_model(rng)
        for name in names:
            model.trainable = False   # frozen again, as pretrained_backbone gives it (every layer frozen)
            where = (f"for a fresh model {model.name!r} with layers {[layer.name for layer in model.layers][1:]} "
                     f"(seed={seed})")
            try:
                fn(model, name)
            except NotImplementedError:
                raise ExerciseError(ex, "`unfreeze_from` is not written yet (it raises NotImplementedError).",
                                    _UNFREEZE_HINT) from None
            except Exception as err:  # noqa: BLE001 - the toy model worked: say so
                raise ExerciseError(ex, f"unfreeze_from(model, {name!r}) raised {type(err).__name__}: {err} "
                                        f"{where}.", hard_coded) from None
            problem = _unfreeze_problem(model, name)
            if problem:
                raise ExerciseError(ex, f"{problem} {where}.", hard_coded)
    passed(ex, "only the top layers will be fine-tuned, on the toy model and on fresh ones")
