"""Checks for notebook 09 (transfer learning)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from labkit.checks import ExerciseError, call_answer, fresh_cases, fresh_seed, passed, require_answer
from labkit.checks.predictions import ChoicePrediction
from labkit.validation import check_number

_PRE_HINT = ("MobileNetV2's weights were trained on pixels scaled from [0, 255] to [-1, 1]: "
             "x / 127.5 - 1, as float32. Return a new array; do not change the input.")
_UNFREEZE_HINT = ("Set model.trainable = True first (in Keras a frozen model reports no trainable "
                  "weights, whatever its layers say), then give every layer before the named one "
                  "trainable = False and that layer and every later one trainable = True - except "
                  "BatchNormalization layers, which keep trainable = False (in Keras 3 that keeps them "
                  "in inference mode, with their stored statistics).")
_MODEL_HINT = ("Freeze the base (base.trainable = False); inputs = keras.Input(base.input_shape[1:]); "
               "x = base(inputs); then GlobalAveragePooling2D(), Dropout(dropout) and Dense(n_classes) with "
               "no activation (logits); return keras.Model(inputs, outputs). (To keep BatchNormalization in "
               "inference mode when you fine-tune later, freeze those layers: in Keras 3.15 fit's training=True "
               "can override a training=False written in the call.)")


def _toy_base(rng) -> keras.Model:
    """A small pretrained-looking base: conv + BatchNormalization (with non-trivial moving statistics)."""
    size, channels = int(rng.integers(8, 17)), int(rng.integers(3, 9))
    inputs = keras.Input((size, size, 3))
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name="base_conv")(inputs)
    x = layers.BatchNormalization(name="base_bn")(x)
    base = keras.Model(inputs, layers.ReLU()(x), name="toy_base")
    bn = base.get_layer("base_bn")
    bn.moving_mean.assign(rng.normal(size=channels).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, channels).astype("float32"))
    return base


def transfer_model(fn, *, seed: int | None = None) -> None:
    """Exercise 1: ``fn(base, n_classes, dropout)`` -> the Keras transfer model: the frozen ``base``,
    global average pooling, dropout and a ``Dense(n_classes)`` logit layer.

    Checked on a fresh small base (a conv and a BatchNormalization with stored statistics), class count and
    dropout rate on every call (``seed`` replays one): only the head is trainable; outputs are logits of shape
    (batch, n_classes); dropout acts in training only; one SGD step changes the head and not the base.
    """
    ex = "transfer_model"
    seed = fresh_seed(seed)
    tag = f" (replay with seed={seed})"
    require_answer(ex, fn, "transfer_model", _MODEL_HINT)
    rng = np.random.default_rng(seed)
    base = _toy_base(rng)
    # never 10: CIFAR-10's count is the value a learner hard-codes, and a fresh draw of it would let that pass
    n_classes = int(rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 11, 12]))
    dropout = float(rng.choice([0.2, 0.3, 0.5]))
    call = f" for transfer_model(base, n_classes={n_classes}, dropout={dropout})"
    model = call_answer(ex, fn, "transfer_model", (base, n_classes, dropout), _MODEL_HINT)
    if not isinstance(model, keras.Model):
        raise ExerciseError(ex, f"transfer_model returned {type(model).__name__}, expected a keras.Model." + tag,
                            _MODEL_HINT)
    if not any(layer is base for layer in model.layers):
        raise ExerciseError(ex, "the model does not contain `base`: call base(inputs) inside it, "
                                "do not build a new network." + call + tag, _MODEL_HINT)
    if base.trainable:
        raise ExerciseError(ex, "the base is still trainable: set base.trainable = False before training the "
                                "new head." + call + tag, _MODEL_HINT)
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    if len(dense) != 1 or dense[0].units != n_classes:
        raise ExerciseError(ex, f"the head should be one Dense({n_classes}) layer, got "
                                f"{[d.units for d in dense]}." + call + tag, _MODEL_HINT)
    if dense[0].activation is not keras.activations.linear:
        raise ExerciseError(ex, f"the Dense layer applies {dense[0].activation.__name__}; output logits (no "
                                "activation) and train with from_logits=True." + call + tag, _MODEL_HINT)
    if not any(isinstance(layer, layers.GlobalAveragePooling2D) for layer in model.layers):
        raise ExerciseError(ex, "pool the base's feature maps with GlobalAveragePooling2D before the head." + call
                            + tag, _MODEL_HINT)
    drops = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    if len(drops) != 1 or not np.isclose(drops[0].rate, dropout):
        raise ExerciseError(ex, f"the head should have one Dropout({dropout}), got rates "
                                f"{[d.rate for d in drops]}." + call + tag, _MODEL_HINT)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    channels = base.output.shape[-1]
    if trainable != (channels + 1) * n_classes:
        raise ExerciseError(ex, f"the model trains {trainable} parameters; only the head's "
                                f"{(channels + 1) * n_classes} should be trainable." + call + tag, _MODEL_HINT)
    x = rng.uniform(0, 1, (6, *base.input_shape[1:])).astype("float32")
    y = rng.integers(0, n_classes, 6)
    out = np.asarray(model(x, training=False))
    if out.shape != (6, n_classes):
        raise ExerciseError(ex, f"on a batch of 6 images the model returns shape {out.shape}, expected "
                                f"(6, {n_classes})." + call + tag, _MODEL_HINT)
    if not np.allclose(out, np.asarray(model(x, training=False))):
        raise ExerciseError(ex, "two inference calls on the same images disagree." + call + tag, _MODEL_HINT)
    if np.allclose(np.asarray(model(x, training=True)), out):
        raise ExerciseError(ex, "training-mode outputs equal inference outputs: is the Dropout in the path?" + call
                            + tag, _MODEL_HINT)
    base_before = [w.copy() for w in base.get_weights()]
    head_before = [np.asarray(w).copy() for w in dense[0].get_weights()]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
    if not all(np.array_equal(a, b) for a, b in zip(base_before, base.get_weights())):
        raise ExerciseError(ex, "a training step changed the frozen base." + call + tag, _MODEL_HINT)
    if all(np.array_equal(a, np.asarray(b)) for a, b in zip(head_before, dense[0].get_weights())):
        raise ExerciseError(ex, "a training step did not change the head." + call + tag, _MODEL_HINT)
    passed(ex, "a frozen base, pooled, dropout and a logit head; only the head trains")


def _pixel_args(rng: np.random.Generator) -> tuple:
    shape = (int(rng.integers(1, 5)), *(int(v) for v in rng.integers(1, 12, size=2)), 3)
    return (rng.integers(0, 256, size=shape, dtype=np.uint8),)


def mobilenet_preprocess(fn, *, seed: int | None = None) -> None:
    """Exercise 2: ``fn(images_uint8)`` -> float32 pixels in [-1, 1], input untouched.

    A fixed batch with hints for [0, 1] and unscaled pixels, then fresh batches of random sizes,
    compared with Keras' own ``mobilenet_v2.preprocess_input`` (``seed`` replays them).
    """
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
        fresh_cases(ex, fn, "preprocess_pixels", _pixel_args,
                    lambda x: keras.applications.mobilenet_v2.preprocess_input(x.astype("float32")),
                    "Scale whatever batch you are given; do not rely on its size.", seed=seed, n=3, atol=1e-5)
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
    batch_norm = {layer.name for layer in model.layers if isinstance(layer, layers.BatchNormalization)}
    expect = {layer.name: i >= first and layer.name not in batch_norm
              for i, layer in enumerate(model.layers) if layer.weights}
    got = {layer.name: bool(layer.trainable) for layer in model.layers if layer.weights}
    if got != expect:
        wrong = sorted(k for k in expect if expect[k] != got[k])
        if all(k in batch_norm and got[k] for k in wrong):
            return (f"unfreeze_from(model, {name!r}) made the BatchNormalization layers {', '.join(wrong)} "
                    "trainable: they would overwrite their stored statistics with those of your small batches; "
                    "keep them frozen")
        return f"unfreeze_from(model, {name!r}) left the wrong layers trainable: {', '.join(wrong)}"
    trained = {w.path.split("/")[0] for w in model.trainable_weights}
    want = {k for k, v in expect.items() if v}
    if trained != want:
        return (f"after unfreeze_from(model, {name!r}) the model trains the weights of "
                f"{sorted(trained) or 'no layer'}, expected {sorted(want)}")
    return None


def unfreeze_from(fn, *, seed: int | None = None) -> None:
    """Exercise 2: ``fn(model, layer_name)`` unfreezes ``layer_name`` and every later layer but the
    BatchNormalization layers.

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


_GAIN = ChoicePrediction(
    "prediction: transfer's gain as labels grow", "predicted_gain",
    {"shrinks": "",
     "grows": "More labels help both models, but the one trained from scratch has more to gain: it learns its "
              "own features from them, while the borrowed features are fixed.",
     "about the same": "The scratch model's accuracy depends on how many labels it has far more than the "
                       "pretrained features' does."},
    "With more labels, which model has more room to improve: the one that must learn its features from those "
    "labels, or the one that borrows them?")


def gain_prediction(predicted_gain) -> None:
    """Before the runs: commit to 'grows', 'shrinks' or 'about the same'."""
    _GAIN.commit(predicted_gain)


def gain_verdict(predicted_gain, gain_fewest, gain_most, tolerance: float = 0.01) -> None:
    """Section 4: the gain (features minus scratch test accuracy) at the fewest and the most labels."""
    few = check_number(gain_fewest, "gain_fewest", min_val=-1, max_val=1)
    most = check_number(gain_most, "gain_most", min_val=-1, max_val=1)
    tolerance = check_number(tolerance, "tolerance", min_val=0)
    outcome = "shrinks" if few - most > tolerance else "grows" if most - few > tolerance else "about the same"
    _GAIN.verdict(predicted_gain, outcome, f"gain {few:+.3f} with the fewest labels, {most:+.3f} with the most",
                  "borrowed features are worth most when there is too little data to learn features; the "
                  "network trained from scratch catches up as its own labels grow (Yosinski et al. 2014; "
                  "Kornblith et al. 2019).")
