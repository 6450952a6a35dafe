"""Checks for notebook 04 (MNIST).

Exercises:

1. :func:`initial_loss_prediction` then, after the run, :func:`initial_loss_verdict`:
   the learner predicts the loss of an untrained 10-class classifier before seeing it.
2. :func:`spec_cnn`: the learner builds and compiles a CNN from a spec in words; the
   check reads the layers and the compile settings, then trains a copy for a few
   seconds on a fixed batch of real digits.
3. :func:`confident_mistakes`: the learner's ``fn(probs, y_true, k)`` is called on fresh
   random cases of several shapes (ties, no mistakes, k larger than the number of
   mistakes, ...) and each answer is checked against the properties a right answer has.

:func:`reference_confident_mistakes` is labkit's own answer to exercise 3, for the cells
that must run whether or not the learner solved it.
"""
from __future__ import annotations

import math
import numbers
import secrets
from typing import Any

import keras
import numpy as np
from keras import layers

from labkit.checks import ExerciseError, call_answer, passed, require_answer

__all__ = ["initial_loss_prediction", "initial_loss_verdict", "spec_cnn", "SPEC_CNN_STEPS", "SPEC_CNN_MAX_LOSS",
           "confident_mistakes", "reference_confident_mistakes"]

LN10 = math.log(10)

# --------------------------------------------------------------------------- exercise 1
_LOSS_EX = "initial loss of an untrained classifier"
_LOSS_HINT = ("Before training, the network has no reason to prefer any digit, so it gives each of the 10 "
              "classes about the same probability. The loss of one example is -ln(probability of its true "
              "class). Write the number (a float), e.g. predicted_initial_loss = 1.23.")
_LOSS_EXPLANATION = ("an untrained network gives every class about 1/10, so the loss is -ln(1/10) = ln 10 = "
                     f"{LN10:.3f}; the random initial logits are not exactly equal, which puts the measured "
                     "value a little above it")
# Wrong predictions that come from one specific slip, with what the slip is.
_LOSS_SLIPS = (
    (0.1, "0.1 is the probability of the true class, not the loss: the loss is -ln(0.1)."),
    (0.9, "0.9 is the error rate of a guess; the loss is -ln(probability of the true class)."),
    (1.0, "1 is log10(10): cross-entropy uses the natural logarithm, ln."),
    (math.log2(10), f"{math.log2(10):.2f} is log2(10), the loss in bits: Keras uses the natural logarithm."),
    (10.0, "10 is the number of classes; the loss is -ln(1/10)."),
    (0.0, "a loss of 0 means a perfect, fully confident prediction: that is the end of training, not its start."),
)
# Accepted: within this distance of ln 10 or of the measured loss.
_LOSS_TOLERANCE = 0.25


def _a_number(exercise: str, value, name: str, hint: str) -> float:
    require_answer(exercise, value, name, hint)
    if isinstance(value, bool) or isinstance(value, str) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
            value = value.item()
        else:
            raise ExerciseError(exercise, f"`{name}` should be one number, got {type(value).__name__} {value!r}.",
                                hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"`{name}` is {value}; a loss of a softmax classifier is a finite number.",
                            hint)
    return value


def initial_loss_prediction(predicted_initial_loss) -> None:
    """Exercise 1, before the run: accept any committed prediction that is a loss value.

    Whether it is right is said by :func:`initial_loss_verdict` after the measurement.
    """
    p = _a_number(_LOSS_EX, predicted_initial_loss, "predicted_initial_loss", _LOSS_HINT)
    if p < 0:
        raise ExerciseError(_LOSS_EX, f"a cross-entropy loss is never negative (you wrote {p}).", _LOSS_HINT)
    print(f"✔ {_LOSS_EX}: prediction {p:.3f} committed - run the next cell to measure it")


def initial_loss_verdict(predicted_initial_loss, measured_loss) -> None:
    """Exercise 1, after the run: compare the prediction with ln 10 and the measured loss."""
    p = _a_number(_LOSS_EX, predicted_initial_loss, "predicted_initial_loss", _LOSS_HINT)
    m = _a_number(_LOSS_EX, measured_loss, "measured_loss",
                  "measured_loss is the untrained model's loss from the cell above; run that cell first.")
    if min(abs(p - LN10), abs(p - m)) <= _LOSS_TOLERANCE:
        return passed(_LOSS_EX, f"you predicted {p:.3f}, measured {m:.3f}: {_LOSS_EXPLANATION}")
    slip = next((why for value, why in _LOSS_SLIPS if abs(p - value) <= 0.02), None)
    problem = f"you predicted {p:.3f}, the untrained network measured {m:.3f}. " + (slip or "")
    raise ExerciseError(_LOSS_EX, problem.strip(), f"Why: {_LOSS_EXPLANATION}.")


# --------------------------------------------------------------------------- exercise 2
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


# --------------------------------------------------------------------------- exercise 3
_MISTAKES_EX = "most confident mistakes"
_MISTAKES_HINT = ("pred = probs.argmax(axis=1); keep the rows where pred != y_true (np.flatnonzero); sort them by "
                  "the probability of the *predicted* class, highest first (np.argsort of minus it); return the "
                  "first k row indices, as integers, into the full array.")


def reference_confident_mistakes(probs, y_true, k: int) -> np.ndarray:
    """labkit's answer to exercise 3: indices of the k most confident mistakes, most confident first."""
    probs, y_true = np.asarray(probs), np.asarray(y_true)
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")][:k]


def _softmax_rows(rng, n: int, c: int, scale: float) -> np.ndarray:
    z = rng.normal(size=(n, c)) * scale
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _mistake_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(description, probs, y_true, k): fresh random cases of several shapes and the edge cases."""
    cases = []
    for n, c, k in ((200, 10, 5), (37, 3, 4), (60, 2, 7), (12, 10, 1)):
        probs = _softmax_rows(rng, n, c, 3.0)
        cases.append((f"{n} examples, {c} classes, k={k}", probs, rng.integers(0, c, n), k))
    # ties: duplicated rows with the same wrong label have exactly the same confidence
    base = _softmax_rows(rng, 15, 10, 2.0)
    probs = np.concatenate([base, base, base])
    y = np.concatenate([rng.integers(0, 10, 15)] * 3)
    order = rng.permutation(len(y))
    cases.append(("45 examples in tied triples (equal confidences), k=6", probs[order], y[order], 6))
    # k larger than the number of mistakes: all of them, most confident first
    probs = _softmax_rows(rng, 30, 10, 3.0)
    y = probs.argmax(axis=1)
    wrong = rng.choice(30, 3, replace=False)
    y[wrong] = (y[wrong] + rng.integers(1, 10, 3)) % 10
    cases.append(("30 examples with 3 mistakes, k=10", probs, y, 10))
    # no mistakes at all; k = 0
    probs = _softmax_rows(rng, 20, 10, 3.0)
    cases.append(("20 examples, every one right, k=5", probs, probs.argmax(axis=1), 5))
    probs = _softmax_rows(rng, 20, 10, 3.0)
    cases.append(("20 examples, k=0", probs, rng.integers(0, 10, 20), 0))
    # one example, wrong; float32 probabilities and int32 labels (as models and loaders give them)
    probs = _softmax_rows(rng, 1, 10, 3.0)
    cases.append(("1 example, wrong, k=1", probs, np.array([(probs.argmax() + 1) % 10]), 1))
    probs = _softmax_rows(rng, 300, 10, 4.0).astype(np.float32)
    cases.append(("300 examples as float32 / int32, k=20", probs, rng.integers(0, 10, 300).astype(np.int32), 20))
    return cases


def _as_indices(got, n: int, case: str) -> np.ndarray:
    where = f"for {case}"
    if got is None:
        raise ExerciseError(_MISTAKES_EX, f"the function returned None {where}: did you forget `return`?",
                            _MISTAKES_HINT)
    if isinstance(got, (str, bytes)):
        raise ExerciseError(_MISTAKES_EX, f"the function returned the string {got!r} {where}, not indices.",
                            _MISTAKES_HINT)
    if isinstance(got, (set, frozenset, dict)):
        raise ExerciseError(_MISTAKES_EX, f"the function returned a {type(got).__name__} {where}: it has no order; "
                                          "return a list or an array, most confident first.", _MISTAKES_HINT)
    try:
        arr = np.asarray(got)
    except Exception as err:  # noqa: BLE001 - anything unconvertible is a wrong answer
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is not a list of indices ({err}).",
                            _MISTAKES_HINT) from None
    if arr.ndim == 0 and arr.dtype.kind in "iu":
        arr = arr.reshape(1)
    elif arr.ndim == 0:
        raise ExerciseError(_MISTAKES_EX, f"the function returned one {type(got).__name__} {where}, not a list of "
                                          "indices.", _MISTAKES_HINT)
    if arr.ndim != 1:
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has shape {arr.shape}; return a flat list of row "
                                          "indices.", _MISTAKES_HINT)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "b":
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is a boolean mask; return the row indices "
                                          "(np.flatnonzero turns a mask into indices).", _MISTAKES_HINT)
    if arr.dtype.kind == "f":
        hint = ("these look like probabilities, not row numbers." if np.all((arr >= 0) & (arr <= 1))
                and not np.all(arr == np.round(arr)) else "indices must be integers, not floats.")
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has float values ({arr[:3].tolist()}...): {hint}",
                            _MISTAKES_HINT)
    if arr.dtype.kind == "O":
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr):
            kinds = sorted({type(v).__name__ for v in arr})
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} holds {', '.join(kinds)}, not integer indices.",
                                _MISTAKES_HINT)
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has dtype {arr.dtype}, not integer indices.",
                            _MISTAKES_HINT)
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= n:
        bad = int(arr.min() if arr.min() < 0 else arr.max())
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has index {bad}, outside 0..{n - 1}: indices count "
                                          "rows of the full array (no negative indices).", _MISTAKES_HINT)
    return arr


def _judge(got: np.ndarray, probs: np.ndarray, y_true: np.ndarray, k: int, case: str) -> None:
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probs[np.arange(len(probs)), pred]
    want = min(k, len(wrong))
    where = f"for {case}"
    if len(np.unique(got)) != len(got):
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} repeats an index.", _MISTAKES_HINT)
    right = got[pred[got] == y_true[got]]
    if right.size:
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} includes row {int(right[0])}, which the model got "
                                          "right: keep only the mistakes (argmax != y_true).", _MISTAKES_HINT)
    if len(got) != want:
        detail = (f"there are only {len(wrong)} mistakes, so all of them" if len(wrong) < k else f"k={k}")
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} has {len(got)} indices; expected {want} ({detail}).",
                            "Return at most k indices: slice the sorted mistakes with [:k].")
    if want == 0:
        return
    c = conf[got]
    if np.any(np.diff(c) > 0):
        if np.all(np.diff(c) >= 0):
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} is sorted least confident first.",
                                "Most confident first: sort by minus the confidence (or reverse the order).")
        by_true = wrong[np.argsort(probs[wrong, y_true[wrong]], kind="stable")][:k]
        if np.array_equal(np.sort(got), np.sort(by_true)):
            raise ExerciseError(_MISTAKES_EX, f"the answer {where} is sorted by the probability of the true class; "
                                              "confidence is the probability of the *predicted* class.",
                                _MISTAKES_HINT)
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} is not sorted by confidence, highest first.",
                            _MISTAKES_HINT)
    left_out = np.setdiff1d(wrong, got)
    if left_out.size and conf[left_out].max() > c.min():
        i = int(left_out[np.argmax(conf[left_out])])
        raise ExerciseError(_MISTAKES_EX, f"the answer {where} leaves out row {i}, a mistake made with confidence "
                                          f"{conf[i]:.3f}, more than {c.min():.3f} in your answer: these are "
                                          "mistakes, but not the most confident ones.", _MISTAKES_HINT)


def confident_mistakes(fn, *, seed: int | None = None) -> None:
    """Exercise 3: ``fn(probs, y_true, k)`` -> indices of the k most confident mistakes.

    Each call draws fresh random cases (``seed=None``: a new seed, named in any failure so
    the case can be replayed with ``seed=``): several sizes and numbers of classes, tied
    confidences, fewer mistakes than k, no mistakes, k=0, float32/int32 inputs. An answer
    is right when it has the properties of the right answer (only mistakes, no repeats,
    min(k, #mistakes) of them, confidence non-increasing, none left out that is more
    confident), so any tie-breaking and any integer type (list, tuple, array) passes.
    """
    require_answer(_MISTAKES_EX, fn, "confident_mistakes", _MISTAKES_HINT)
    if seed is None:
        seed = secrets.randbits(32)  # fresh OS entropy, as np.random.SeedSequence()'s, cut to 32 bits
    rng = np.random.default_rng(seed)
    for case, probs, y_true, k in _mistake_cases(rng):
        label = f"{case} (seed={seed})"
        p_in, y_in = probs.copy(), y_true.copy()
        got = call_answer(_MISTAKES_EX, fn, "confident_mistakes", (p_in, y_in, k),
                          _MISTAKES_HINT + f" [It failed on {label}.]")
        if not (np.array_equal(p_in, probs) and np.array_equal(y_in, y_true)):
            raise ExerciseError(_MISTAKES_EX, f"the function changed its inputs for {label}.",
                                "Do not sort or modify probs or y_true in place: work on the results of argmax, "
                                "flatnonzero and argsort.")
        _judge(_as_indices(got, len(probs), label), probs, y_true, k, label)
    passed(_MISTAKES_EX, "right on fresh cases with ties, no mistakes, k=0 and k above the number of mistakes")
