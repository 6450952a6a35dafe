"""Notebook 04, exercise 2: a CNN built and compiled from a spec in words, checked by its layers, its
compile settings and a few seconds of training on real digits."""
from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers

from labkit.checks import ExerciseError, passed, require_answer

__all__ = ["spec_cnn", "SPEC_CNN_PARAMS", "SPEC_CNN_STEPS", "SPEC_CNN_MAX_LOSS"]

_SPEC_EX = "a CNN from its spec"
_SPEC_HINT = ("Write it like `dense` in section 2: keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(...), "
              "layers.MaxPooling2D(2), ..., layers.Flatten(), layers.Dense(10)]), the layers in the spec's order; then "
              "my_cnn.compile(optimizer=..., loss=..., metrics=[...]) with the spec's settings.")
_LOGITS_HINT = ("The last layer outputs logits: Dense(10) with no activation (and no Softmax layer after it). "
                "The loss applies the softmax itself when you pass from_logits=True.")
# The spec, as (layer type, settings) after relu layers are folded into the layer before.
_SPEC: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Conv2D", dict(filters=16, kernel_size=(3, 3), strides=(1, 1), padding="valid", activation="relu")),
    ("MaxPooling2D", dict(pool_size=(2, 2))),
    ("Conv2D", dict(filters=32, kernel_size=(3, 3), strides=(1, 1), padding="valid", activation="relu")),
    ("MaxPooling2D", dict(pool_size=(2, 2))),
    ("Flatten", {}),
    ("Dense", dict(units=10, activation="linear")),
)
SPEC_CNN_PARAMS = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (5 * 5 * 32 * 10 + 10)
# Behaviour: a fresh copy trained for SPEC_CNN_STEPS steps (batch 64) on the first 512 training
# digits must bring its loss on them below SPEC_CNN_MAX_LOSS. Measured with the spec's model
# (seeds 0-3, 2 threads): 0.31-0.40 from 2.28-2.32 in 2-5 s; all-zero kernels stay at 2.30.
SPEC_CNN_STEPS = 80
SPEC_CNN_MAX_LOSS = 0.8
_SPEC_N = 512


def _spec_batch():
    from labkit import data
    from labkit.training import images_to_float

    ds = data.load("mnist")
    return images_to_float(ds.x_train[:_SPEC_N]), ds.y_train[:_SPEC_N]


def _layers_of(model) -> list:
    out = []
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            raise ExerciseError(_SPEC_EX, f"layer {layer.name!r} is a model inside the model; write the layers "
                                          "one by one in one keras.Sequential([...]).", _SPEC_HINT)
        out.append(layer)
    return out


def _activation_name(layer) -> str:
    act = layer.get_config().get("activation", "linear")
    if isinstance(act, dict):  # a serialised function or layer
        act = act.get("config", {}).get("name", act.get("class_name", "?"))
    return str(act)


def _folded(model) -> list[tuple[str, dict, str]]:
    """(type, settings, layer name) per layer, a ReLU/Activation layer merged into the one before."""
    folded: list[tuple[str, dict, str]] = []
    for layer in _layers_of(model):
        kind = type(layer).__name__
        is_relu = isinstance(layer, layers.ReLU) or (isinstance(layer, layers.Activation)
                                                     and _activation_name(layer) == "relu")
        if is_relu and folded and folded[-1][1].get("activation") == "linear":
            folded[-1][1]["activation"] = "relu"
            continue
        if isinstance(layer, (layers.Softmax,)) or (isinstance(layer, layers.Activation)
                                                    and _activation_name(layer) == "softmax"):
            raise ExerciseError(_SPEC_EX, f"layer {layer.name!r} applies a softmax: the model must output logits.",
                                _LOGITS_HINT)
        cfg = layer.get_config()
        settings: dict = {}
        if kind == "Conv2D":
            settings = dict(filters=cfg["filters"], kernel_size=tuple(cfg["kernel_size"]),
                            strides=tuple(cfg["strides"]), padding=cfg["padding"], activation=_activation_name(layer))
        elif kind == "MaxPooling2D":
            settings = dict(pool_size=tuple(cfg["pool_size"]))
        elif kind == "Dense":
            settings = dict(units=cfg["units"], activation=_activation_name(layer))
        folded.append((kind, settings, layer.name))
    return folded


def _check_structure(model) -> None:
    if not isinstance(model, keras.Model):
        raise ExerciseError(_SPEC_EX, f"`my_cnn` should be a Keras model, got {type(model).__name__}.", _SPEC_HINT)
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        shape = None
    if shape != (None, 28, 28, 1):
        raise ExerciseError(_SPEC_EX, f"the model's input shape is {shape}, expected (None, 28, 28, 1).",
                            "Start the Sequential list with keras.Input((28, 28, 1)).")
    got = _folded(model)
    names = [kind for kind, _, _ in got]
    want = [kind for kind, _ in _SPEC]
    for i, ((kind, settings, name), (want_kind, want_settings)) in enumerate(zip(got, _SPEC), 1):
        if kind != want_kind:
            raise ExerciseError(_SPEC_EX, f"layer {i} ({name!r}) is a {kind}; the spec has a {want_kind} there "
                                          f"(spec: {' -> '.join(want)}; yours: {' -> '.join(names)}).", _SPEC_HINT)
        for key, value in want_settings.items():
            if settings.get(key) != value:
                hint = _LOGITS_HINT if (kind == "Dense" and key == "activation") else _SPEC_HINT
                if kind == "Conv2D" and key == "padding":
                    hint = "The spec's convolutions have no padding: padding=\"valid\", Keras' default."
                raise ExerciseError(_SPEC_EX, f"layer {i} ({kind} {name!r}) has {key}={settings.get(key)!r}, the "
                                              f"spec says {value!r}.", hint)
    if len(got) != len(_SPEC):
        extra = "more" if len(got) > len(_SPEC) else "fewer"
        raise ExerciseError(_SPEC_EX, f"the model has {extra} layers than the spec (spec: {' -> '.join(want)}; "
                                      f"yours: {' -> '.join(names)}).", _SPEC_HINT)
    if model.count_params() != SPEC_CNN_PARAMS or len(model.trainable_weights) != 6:
        raise ExerciseError(_SPEC_EX, f"the layers match, but the model has {model.count_params():,} parameters "
                                      f"({len(model.trainable_weights)} trainable weight tensors); the spec's has "
                                      f"{SPEC_CNN_PARAMS:,} (6): are some layers frozen or without a bias?",
                            _SPEC_HINT)


def _metric_names(metrics) -> list[str]:
    """Lower-case names of compiled metrics as ``get_compile_config`` lists them (strings or configs)."""
    if isinstance(metrics, str):
        return [metrics.lower()]
    if isinstance(metrics, dict):
        if "class_name" in metrics:
            name = (metrics.get("config") or {}).get("name") or metrics["class_name"]
            return [str(name).lower()]
        return [n for v in metrics.values() for n in _metric_names(v)]
    if isinstance(metrics, (list, tuple)):
        return [n for v in metrics for n in _metric_names(v)]
    return [str(getattr(metrics, "name", metrics)).lower()]


def _check_compile(model):
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ExerciseError(_SPEC_EX, "the model is not compiled.", "Call my_cnn.compile(optimizer=..., loss=..., "
                                                                    "metrics=[\"accuracy\"]) after building it.")
    opt = model.optimizer
    if type(opt).__name__ != "Adam":
        raise ExerciseError(_SPEC_EX, f"the optimiser is {type(opt).__name__}; the spec says Adam.",
                            "optimizer=keras.optimizers.Adam(1e-3)")
    if isinstance(opt.get_config().get("learning_rate"), dict):  # a serialised schedule
        raise ExerciseError(_SPEC_EX, "the learning rate is a schedule; the spec says a constant 1e-3.",
                            "optimizer=keras.optimizers.Adam(1e-3)")
    lr = float(opt.learning_rate)
    if not math.isclose(lr, 1e-3, rel_tol=1e-4):
        raise ExerciseError(_SPEC_EX, f"the learning rate is {lr:g}; the spec says 1e-3.",
                            "optimizer=keras.optimizers.Adam(1e-3)")
    loss = model.loss
    loss_hint = "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    if isinstance(loss, str) or not isinstance(loss, keras.losses.Loss):
        raise ExerciseError(_SPEC_EX, f"the loss is {loss!r}: as a string or a plain function it cannot say "
                                      "from_logits=True, so Keras would treat the logits as probabilities.", loss_hint)
    kind = type(loss).__name__
    if kind == "CategoricalCrossentropy":
        raise ExerciseError(_SPEC_EX, "CategoricalCrossentropy expects one-hot labels; MNIST's labels are "
                                      "integers 0-9.", loss_hint)
    if kind != "SparseCategoricalCrossentropy":
        raise ExerciseError(_SPEC_EX, f"the loss is {kind}; the spec says sparse categorical cross-entropy.",
                            loss_hint)
    if not loss.get_config().get("from_logits", False):
        raise ExerciseError(_SPEC_EX, "the loss has from_logits=False, but the model outputs logits.", loss_hint)
    metrics = (model.get_compile_config() or {}).get("metrics") or []
    if not any(name in ("accuracy", "acc", "sparse_categorical_accuracy") for name in _metric_names(metrics)):
        raise ExerciseError(_SPEC_EX, f"the compiled metrics are {metrics!r}; the spec asks for accuracy.",
                            "metrics=[\"accuracy\"]")
    return opt


def _check_behaviour(model, opt) -> tuple[float, float]:
    x, y = _spec_batch()
    copy = keras.models.clone_model(model)  # fresh weights; the learner's model is left as it is
    copy.compile(optimizer=type(opt).from_config(opt.get_config()), loss=model.loss)
    before = float(np.ravel(copy.evaluate(x, y, batch_size=_SPEC_N, verbose=0))[0])
    epochs = SPEC_CNN_STEPS * 64 // _SPEC_N
    copy.fit(x, y, batch_size=64, epochs=epochs, shuffle=False, verbose=0)
    after = float(np.ravel(copy.evaluate(x, y, batch_size=_SPEC_N, verbose=0))[0])
    if not (math.isfinite(after) and after < SPEC_CNN_MAX_LOSS):
        raise ExerciseError(_SPEC_EX, f"the layers and settings look right, but a fresh copy trained for "
                                      f"{SPEC_CNN_STEPS} steps on {_SPEC_N} digits went from loss {before:.2f} to "
                                      f"{after:.2f} (the spec's model gets below {SPEC_CNN_MAX_LOSS}).",
                            "Look for what stops learning: a kernel_initializer of zeros, a custom layer, "
                            "frozen layers (trainable=False).")
    return before, after


def spec_cnn(my_cnn) -> None:
    """Exercise 2: ``my_cnn`` is the compiled CNN of the spec (see the notebook).

    Checked structurally (layer types in order, filters, kernel sizes, padding,
    activations, logits out, parameter count; Adam 1e-3, sparse cross-entropy with
    ``from_logits=True``, accuracy) and by behaviour (a fresh copy, trained for
    ``SPEC_CNN_STEPS`` steps on 512 fixed digits, brings its loss below
    ``SPEC_CNN_MAX_LOSS``).
    """
    require_answer(_SPEC_EX, my_cnn, "my_cnn", _SPEC_HINT)
    _check_structure(my_cnn)
    opt = _check_compile(my_cnn)
    before, after = _check_behaviour(my_cnn, opt)
    passed(_SPEC_EX, f"{SPEC_CNN_PARAMS:,} parameters; a fresh copy learns 512 digits: loss {before:.2f} -> "
                     f"{after:.2f} in {SPEC_CNN_STEPS} steps")
