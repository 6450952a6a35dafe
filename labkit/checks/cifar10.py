"""Checks for notebook 06 (CIFAR-10: convolutional networks, overfitting and regularisation)."""
from __future__ import annotations

import inspect
import math
from typing import Any

import keras
import numpy as np

from labkit.checks import (
    ExerciseError,
    call_answer,
    fresh_cases,
    fresh_seed,
    one_number,
    passed,
    require_answer,
    require_number,
)
from labkit.checks.predictions import ChoicePrediction
from labkit.models import cifar_large_cnn, count_params
from labkit.validation import check_number

_FLOPS_HINT = ("A 'same' conv layer computes, at each of the h*w output positions and for each of the "
               "c_out filters, a k*k*c_in dot product: k*k*c_in multiply-adds, and a multiply-add is "
               "2 FLOPs. So 2*h*w*k*k*c_in*c_out (ignore the bias).")
_STOP_HINT = ("Keras' EarlyStopping(patience=p) remembers the epoch with the lowest val_loss so far; when "
              "p epochs in a row bring no new lowest value, it stops after that p-th epoch. With "
              "restore_best_weights=True the model goes back to the best epoch. Epochs count from 1; "
              "if it never triggers, training runs all len(val_losses) epochs.")
_CAM_HINT = ("alpha_k is the mean of the gradients over the spatial axes (axes 1 and 2, keep the channel "
             "axis); the map is the ReLU of sum_k alpha_k * A_k over the channel axis: "
             "np.maximum((grads.mean(axis=(1, 2), keepdims=True) * feats).sum(axis=-1), 0).")


def _flops_args(rng: np.random.Generator) -> tuple:
    h, w = (int(v) for v in rng.integers(1, 65, size=2))
    return h, w, int(rng.integers(1, 8)), int(rng.integers(1, 129)), int(rng.integers(1, 257))


def _flops_ref(h, w, k, cin, cout):
    return float(2 * h * w * k * k * cin * cout)


def conv_flops(fn, *, seed: int | None = None) -> None:
    """Exercise 1: ``fn(h, w, k, c_in, c_out)`` -> forward FLOPs of a k x k 'same' conv layer.

    Fixed layers whose mistakes get hints, then fresh random sizes (``seed`` replays them).
    """
    ex = "FLOPs of a convolution"
    cases = [(32, 32, 3, 3, 32), (16, 16, 3, 32, 64), (8, 8, 1, 64, 10), (31, 31, 2, 3, 24)]
    for h, w, k, cin, cout in cases:
        out = call_answer(ex, fn, "conv_flops", (h, w, k, cin, cout), _FLOPS_HINT)
        # np.int64, 1.8e6 as a float and np.array([n]) are the same count; "1769472" and True are not
        got = require_number(ex, out, f"conv_flops{(h, w, k, cin, cout)}", _FLOPS_HINT)
        want = 2 * h * w * k * k * cin * cout
        if got == want:
            continue
        if got == want // 2:
            raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got:,} counts multiply-adds; "
                                "a multiply-add is 2 FLOPs.", _FLOPS_HINT)
        if got == 2 * k * k * cin * cout:
            raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got:,} is one position; the filter "
                                "slides over all h*w positions.", _FLOPS_HINT)
        raise ExerciseError(ex, f"conv_flops{(h, w, k, cin, cout)} = {got!r}, expected {want:,}.", _FLOPS_HINT)
    fresh_cases(ex, one_number(fn), "conv_flops", _flops_args, _flops_ref,
                "Compute the count from the five arguments; no size may be fixed.", seed=seed, n=5, rtol=1e-12, atol=0)
    passed(ex, f"a 3x3 conv with 32 filters on a 32x32x3 image costs {2 * 32 * 32 * 9 * 3 * 32 / 1e6:.1f} "
               "MFLOPs per image")


def _reference_stop(val_losses: np.ndarray, patience: int, *, ties_improve: bool = False) -> tuple[int, int]:
    """What Keras' EarlyStopping(patience) does with min_delta=0: only a strictly lower val_loss is an
    improvement. ``ties_improve`` is the typical slip (``<=``), for its hint."""
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, v in enumerate(val_losses, start=1):
        if v < best or (ties_improve and v == best):
            best, best_epoch, wait = v, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


_STOP_CASES = [([1.0, 0.8, 0.7, 0.75, 0.72, 0.9, 1.0], 2),
               ([1.0, 0.8, 0.7, 0.75, 0.72, 0.69, 1.0, 1.1, 1.2], 3),
               ([2.0, 1.5, 1.2, 1.1], 2),
               ([0.5, 0.6, 0.7, 0.8], 1),
               ([1.0, 0.8, 0.8, 0.8, 0.7, 0.9], 2),        # a tie with the best is no improvement
               ([0.9, 0.6, 0.6, 0.5, 0.6, 0.6, 0.4], 3)]


def _stop_cases(rng) -> list[tuple[list[float], int]]:
    """Fresh validation curves (a noisy U, rounded to 2 decimals so that ties happen) and patiences 1 to 4."""
    cases = []
    for _ in range(8):
        n = int(rng.integers(4, 16))
        t = np.arange(n)
        low = rng.uniform(0.2, 0.8) * n
        curve = 0.5 + 0.004 * (t - low) ** 2 + rng.normal(scale=0.02, size=n)
        curve = np.round(curve, 2)
        if n > 5:  # an exact tie with the best so far, somewhere after the first epoch
            i = int(rng.integers(2, n))
            curve[i] = curve[:i].min()
        cases.append(([float(v) for v in curve], int(rng.integers(1, 5))))
    return cases


def _stop_pair(ex: str, got, where: str) -> tuple[int, int]:
    """The student's answer as two whole numbers, or a hint on what it is instead."""
    pair_hint = "Return a pair of integers: `return best_epoch, epoch` (a tuple), both counted from 1. " + _STOP_HINT
    if isinstance(got, (str, bytes)):
        raise ExerciseError(ex, f"early_stop_epoch returned the string {got!r} {where}; return a pair "
                                "(best_epoch, stop_epoch) of integers, not their digits as text.", pair_hint)
    if isinstance(got, np.ndarray):
        got = got.tolist() if got.ndim == 1 else got
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseError(ex, f"early_stop_epoch returned {got!r} {where}; return a pair (best_epoch, stop_epoch).",
                            pair_hint)
    best, stop = (require_number(ex, v, f"{name} {where}", pair_hint, integer=True)
                  for name, v in zip(("best_epoch", "stop_epoch"), got))
    return best, stop


def early_stop_epoch(fn, *, seed: int | None = None) -> None:
    """Exercise 2: ``fn(val_losses, patience)`` -> (best_epoch, stop_epoch), both counted from 1.

    Fixed curves (ties with the best included), then fresh random ones with ties (``seed=None``:
    a new seed each call, named in any failure). The answer is a pair of whole numbers: ints,
    NumPy integers or whole floats; strings and bools are refused.
    """
    ex = "early stopping"
    seed = fresh_seed(seed)
    cases = _STOP_CASES + _stop_cases(np.random.default_rng(seed))
    for i, (losses, patience) in enumerate(cases):
        fresh = f" (a fresh case, seed={seed})" if i >= len(_STOP_CASES) else ""
        where = f"for val_losses={losses}, patience={patience}{fresh}"
        got = call_answer(ex, fn, "early_stop_epoch", (list(losses), patience), _STOP_HINT)
        best, stop = _stop_pair(ex, got, where)
        want = _reference_stop(np.asarray(losses), patience)
        if (best, stop) == want:
            continue
        if (best + 1, stop + 1) == want:
            raise ExerciseError(ex, f"for {losses} and patience {patience} you returned {(best, stop)}: "
                                f"epochs count from 1, not 0{fresh}.", _STOP_HINT)
        if (best, stop) == _reference_stop(np.asarray(losses), patience, ties_improve=True):
            raise ExerciseError(ex, f"{where} you returned {(best, stop)}, expected {want}: you counted a val_loss "
                                "equal to the best so far as an improvement.",
                                "With min_delta=0 only a strictly lower val_loss is an improvement (v < best, not "
                                "v <= best): a tie neither becomes the best epoch nor resets the patience count.")
        raise ExerciseError(ex, f"{where} you returned {(best, stop)}, expected {want}.", _STOP_HINT)
    passed(ex, f"{len(cases)} curves, ties with the best included")


def _cam_args(rng: np.random.Generator) -> tuple:
    shape = tuple(int(v) for v in rng.integers(1, 7, size=4))
    return rng.random(shape).astype("float32"), rng.normal(size=shape).astype("float32")


def _cam_ref(feats, grads):
    return np.maximum((grads.mean(axis=(1, 2), keepdims=True) * feats).sum(axis=-1), 0)


def cam_from_gradients(fn, *, seed: int | None = None) -> None:
    """Exercise 3: ``fn(feats, grads)`` -> Grad-CAM maps relu(sum_k mean_ij(grads_k) * A_k), (N, h, w).

    A fixed batch with hints for the usual mistakes, then fresh batches of random N, h, w and
    channels (``seed`` replays them).
    """
    ex = "Grad-CAM from gradients"
    rng = np.random.default_rng(11)
    feats = rng.random((2, 4, 5, 3)).astype("float32")
    grads = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    got = call_answer(ex, fn, "cam_from_gradients", (feats.copy(), grads.copy()), _CAM_HINT)
    try:
        got = np.asarray(got, dtype="float64")
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"cam_from_gradients returned {type(got).__name__}, expected an array.",
                            _CAM_HINT) from None
    if got.shape != (2, 4, 5):
        raise ExerciseError(ex, f"the maps have shape {got.shape}, expected (2, 4, 5) = (N, h, w).", _CAM_HINT)
    alpha = grads.mean(axis=(1, 2), keepdims=True)
    raw = (alpha * feats).sum(axis=-1)
    want = np.maximum(raw, 0)
    if np.allclose(got, want, atol=1e-5):
        fresh_cases(ex, fn, "cam_from_gradients", _cam_args, _cam_ref,
                    "Take N, h, w and the channel count from the arrays; average over axes 1 and 2.",
                    seed=seed, n=4, atol=1e-5)
        return passed(ex, "the fixed batch and random shapes")
    if np.allclose(got, raw, atol=1e-5):
        raise ExerciseError(ex, "the maps have negative values: apply the ReLU.", _CAM_HINT)
    if np.allclose(got, np.maximum((grads * feats).sum(axis=-1), 0), atol=1e-5):
        raise ExerciseError(ex, "you weighted each position by its own gradient; Grad-CAM averages the "
                            "gradients over the positions first (one weight per channel).", _CAM_HINT)
    raise ExerciseError(ex, "the maps differ from relu(sum_k alpha_k A_k).", _CAM_HINT)


# --------------------------------------------------------------------------- exercise: the remedies as layers
_CNN_HINT = ("Three blocks; block i (i = 0, 1, 2) is two Conv2D(width * 2**i, 3, padding='same') each followed "
             "by a ReLU, then MaxPooling2D(). Then Flatten(), Dense(dense_units, activation='relu') and "
             "Dense(10) for the logits (no softmax). Each remedy is one argument or layer: "
             "kernel_regularizer=keras.regularizers.L2(l2) on every Conv2D and Dense; Dropout(dropout) after "
             "each block's pooling and after the hidden Dense layer; BatchNormalization() between each Conv2D "
             "(then use_bias=False) and its ReLU; RandomFlip('horizontal') and RandomTranslation(0.125, 0.125) "
             "first, right after the input.")


def _kind(layer) -> str:
    return type(layer).__name__


def _build(ex: str, fn, args: tuple, kwargs: dict, what: str):
    """Call the learner's builder, and insist on a Keras model with CIFAR-10's input and 10 logits."""
    call = f"large_cnn({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"
    model = call_answer(ex, lambda *a: fn(*a, **kwargs), "large_cnn", args, _CNN_HINT)
    if model is None:
        raise ExerciseError(ex, f"{call} returned None.", "Did you forget `return keras.Model(inputs, outputs)`?")
    if not isinstance(model, keras.Model):
        raise ExerciseError(ex, f"{call} returned a {type(model).__name__}, expected a keras.Model.", _CNN_HINT)
    shape_in = tuple(model.inputs[0].shape) if model.inputs else None
    if shape_in != (None, 32, 32, 3):
        raise ExerciseError(ex, f"{call}: the input shape is {shape_in}, expected (None, 32, 32, 3).",
                            "Start from keras.Input((32, 32, 3)): CIFAR-10's 32x32 colour images.")
    if tuple(model.outputs[0].shape) != (None, 10):
        raise ExerciseError(ex, f"{call}: the output shape is {tuple(model.outputs[0].shape)}, expected (None, 10).",
                            "End with Dense(10): one logit per class.")
    last = [layer for layer in model.layers if _kind(layer) != "InputLayer"][-1]
    if _kind(last) != "Dense" or getattr(last.activation, "__name__", "") != "linear":
        raise ExerciseError(ex, f"{call} ends in {_kind(last)} with activation "
                            f"{getattr(getattr(last, 'activation', None), '__name__', 'none')}{what}.",
                            "The model outputs logits: the last layer is Dense(10) with no activation; the loss "
                            "(from_logits=True) applies the softmax itself, stably.")
    return model


def _architecture(ex: str, model, width: int, dense_units: int, call: str, *, batch_norm: bool) -> None:
    convs = [layer for layer in model.layers if _kind(layer) == "Conv2D"]
    want = [width * 2 ** i for i in range(3) for _ in range(2)]
    if [c.filters for c in convs] != want:
        raise ExerciseError(ex, f"{call} has conv layers with {[c.filters for c in convs]} filters, expected {want}.",
                            _CNN_HINT)
    for c in convs:
        if tuple(c.kernel_size) != (3, 3) or c.padding != "same" or tuple(c.strides) != (1, 1):
            raise ExerciseError(ex, f"{call}: a conv layer has kernel {tuple(c.kernel_size)}, padding {c.padding!r}, "
                                f"strides {tuple(c.strides)}; expected 3x3, 'same', 1.", _CNN_HINT)
        if c.use_bias == batch_norm:
            raise ExerciseError(ex, f"{call}: the conv layers have use_bias={c.use_bias}.",
                                "Batch norm subtracts the mean, so a conv bias before it does nothing; its own beta "
                                "is the bias. use_bias=False with batch_norm=True, True (the default) without."
                                if batch_norm else "Without batch norm the conv layers keep their bias (the default).")
    kinds = [_kind(layer) for layer in model.layers]
    for i, layer in enumerate(model.layers):
        if kinds[i] != "Conv2D":
            continue
        if getattr(layer.activation, "__name__", "") == "relu":
            if batch_norm:
                raise ExerciseError(ex, f"{call}: conv layer {layer.name!r} applies its ReLU before batch norm.",
                                    "Conv2D(..., use_bias=False) with no activation -> BatchNormalization() -> "
                                    "ReLU: normalise the conv's output, then apply the non-linearity.")
            continue
        j = i + 1 + (kinds[i + 1:i + 2] == ["BatchNormalization"])
        act = getattr(model.layers[j], "activation", None) if j < len(kinds) else None
        if not (kinds[j:j + 1] == ["ReLU"] or (kinds[j:j + 1] == ["Activation"]
                                                and getattr(act, "__name__", "") == "relu")):
            raise ExerciseError(ex, f"{call}: conv layer {layer.name!r} is followed by {kinds[j:j + 1] or 'nothing'}, "
                                "not a ReLU: without a non-linearity stacked convolutions collapse into one "
                                "linear map.", _CNN_HINT)
    if sum(_kind(layer) == "MaxPooling2D" for layer in model.layers) != 3:
        raise ExerciseError(ex, f"{call} should pool 3 times (once per block).", _CNN_HINT)
    dense = [layer for layer in model.layers if _kind(layer) == "Dense"]
    if [d.units for d in dense] != [dense_units, 10] or getattr(dense[0].activation, "__name__", "") != "relu":
        raise ExerciseError(ex, f"{call} has Dense layers {[d.units for d in dense]}, expected [{dense_units}, 10] "
                            "with a ReLU on the first.", _CNN_HINT)
    if _kind(model.layers[[_kind(x) for x in model.layers].index("Dense") - 1]) not in ("Flatten", "Dropout"):
        raise ExerciseError(ex, f"{call}: flatten the last block's maps before the Dense head.", _CNN_HINT)


def _kernels(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(layer.kernel) for layer in model.layers if _kind(layer) in ("Conv2D", "Dense")]


def _penalty(model) -> float:
    return float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))


def _copy_trainable(src, dst) -> None:
    for a, b in zip(src.trainable_weights, dst.trainable_weights):
        b.assign(a)


def large_cnn(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(width, dense_units, l2=0.0, dropout=0.0, batch_norm=False, augment=False)`` builds the
    lab's large CNN, each remedy as the Keras layer or argument it is.

    Fresh widths, dense sizes, penalties and rates each call (``seed=None``: a new seed, named in
    any failure). Structure: the architecture, parameter counts equal to
    :func:`labkit.models.cifar_large_cnn`'s, where each remedy sits. Behaviour: the L2 penalty
    Keras adds equals l2 * sum(w**2) over every kernel; with dropout or augmentation the model
    gives the baseline's outputs at inference (same weights) and different ones in training.
    """
    ex = "the remedies as Keras layers"
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    require_answer(ex, fn, "large_cnn", _CNN_HINT)
    try:
        source = inspect.getsource(fn)
    except (TypeError, OSError):
        source = ""
    if "cifar_large_cnn" in source:
        raise ExerciseError(ex, "large_cnn calls labkit's cifar_large_cnn: that is the answer key the check "
                            "compares with.", "Write the layers yourself with keras.layers: " + _CNN_HINT)
    width, dense_units = int(rng.integers(2, 5)), int(rng.integers(8, 25))
    lam, rate = float(10 ** rng.uniform(-4, -2)), float(rng.choice([0.15, 0.25, 0.35, 0.45]))
    tag = f" (width={width}, dense_units={dense_units}, seed={seed})"
    x = rng.random((4, 32, 32, 3)).astype("float32")

    # 1. the baseline: no remedy at all
    call = f"large_cnn({width}, {dense_units})"
    plain = _build(ex, fn, (width, dense_units), {}, "")
    _architecture(ex, plain, width, dense_units, call + tag, batch_norm=False)
    extra = sorted({_kind(layer) for layer in plain.layers} & {"Dropout", "BatchNormalization", "RandomFlip",
                                                                "RandomTranslation"})
    if extra or plain.losses:
        raise ExerciseError(ex, f"{call}{tag} already has {', '.join(extra) or 'a weight penalty'}: with the "
                            "default arguments it is the baseline, with no remedy.",
                            "Add each remedy only when its argument asks for it (if l2: ..., if dropout: ...).")
    want = count_params(cifar_large_cnn(width, dense_units))
    if count_params(plain) != want:
        raise ExerciseError(ex, f"{call}{tag} has {count_params(plain):,} trainable parameters, expected {want:,}.",
                            _CNN_HINT)

    # 2. L2: kernel_regularizer on every kernel, the penalty Keras adds is lam * sum(w**2)
    call = f"large_cnn({width}, {dense_units}, l2={lam:.3g})"
    reg = _build(ex, fn, (width, dense_units), {"l2": lam}, "")
    _architecture(ex, reg, width, dense_units, call + tag, batch_norm=False)
    got, kernels = _penalty(reg), _kernels(reg)
    want_pen = lam * sum(float(np.sum(k.astype("float64") ** 2)) for k in kernels)
    if not math.isclose(got, want_pen, rel_tol=1e-3):
        convs_only = lam * sum(float(np.sum(k.astype("float64") ** 2)) for k in kernels if k.ndim == 4)
        l1 = lam * sum(float(np.sum(np.abs(k))) for k in kernels)
        hint = ("kernel_regularizer=keras.regularizers.L2(l2) on each Conv2D and each Dense layer (the kernels, "
                "not the biases): Keras then adds l2 * sum(w**2) of each kernel to the loss.")
        if got == 0:
            problem = "adds no penalty to the loss (model.losses is empty)"
        elif math.isclose(got, convs_only, rel_tol=1e-3):
            problem = "penalises the conv kernels only; the Dense kernels need it too (most weights are there)"
        elif math.isclose(got, want_pen / 2, rel_tol=1e-3):
            problem = "adds half the penalty: Keras' L2(l2) is l2 * sum(w**2), pass l2 itself"
        elif math.isclose(got, l1, rel_tol=1e-3):
            problem = "adds an L1 penalty (sum |w|), not L2"
        elif got > want_pen:
            problem = "penalises more than the kernels (biases too, or the penalty twice)"
        else:
            problem = "misses some kernels"
        raise ExerciseError(ex, f"{call}{tag} {problem}: penalty {got:.6g}, expected {want_pen:.6g}.", hint)
    biased = [layer.name for layer in reg.layers if getattr(layer, "bias_regularizer", None) is not None]
    if biased:
        raise ExerciseError(ex, f"{call}{tag} penalises the biases of {biased}: weight decay is for the kernels.",
                            "A bias only shifts a unit's output; penalising it does not make the function smoother "
                            "and can cost fit. Pass kernel_regularizer only.")
    if count_params(reg) != count_params(plain):
        raise ExerciseError(ex, f"{call}{tag}: L2 changes the loss, not the architecture, but the parameter count "
                            f"changed ({count_params(reg):,} vs {count_params(plain):,}).", _CNN_HINT)

    # 3. dropout: 4 layers of rate p; inference = the baseline with the same weights, training differs
    call = f"large_cnn({width}, {dense_units}, dropout={rate})"
    drop = _build(ex, fn, (width, dense_units), {"dropout": rate}, " (dropout after the logits?)")
    _architecture(ex, drop, width, dense_units, call + tag, batch_norm=False)
    rates = [float(layer.rate) for layer in drop.layers if _kind(layer) == "Dropout"]
    drop_hint = ("Dropout(dropout) after each block's MaxPooling2D and after the hidden Dense layer: 4 layers. "
                 "Its argument is the fraction of units *dropped*.")
    if rates and all(math.isclose(r, 1 - rate) for r in rates):
        raise ExerciseError(ex, f"{call}{tag}: your Dropout layers drop {1 - rate:.2f} of the units; the "
                            f"argument is the fraction to drop, {rate}, not the fraction to keep.", drop_hint)
    if len(rates) != 4 or not all(math.isclose(r, rate) for r in rates):
        raise ExerciseError(ex, f"{call}{tag} has Dropout rates {rates}, expected 4 layers of {rate}.", drop_hint)
    _copy_trainable(drop, plain)
    at_test = keras.ops.convert_to_numpy(drop(x, training=False))
    if not np.allclose(at_test, keras.ops.convert_to_numpy(plain(x, training=False)), atol=1e-5):
        raise ExerciseError(ex, f"{call}{tag}: at inference (training=False) the model should be the baseline with "
                            "the same weights, but its outputs differ.",
                            "Keras' Dropout is active only in training and scales the kept units by 1/(1-p) "
                            "there, so nothing changes at test time; do not pass training=True to it.")
    if np.allclose(keras.ops.convert_to_numpy(drop(x, training=True)), at_test, atol=1e-6):
        raise ExerciseError(ex, f"{call}{tag}: in training the outputs equal the inference outputs: nothing is "
                            "dropped.", drop_hint)

    # 4. batch norm: after every conv, before its ReLU; conv biases dropped
    call = f"large_cnn({width}, {dense_units}, batch_norm=True)"
    bn = _build(ex, fn, (width, dense_units), {"batch_norm": True}, "")
    _architecture(ex, bn, width, dense_units, call + tag, batch_norm=True)
    kinds = [_kind(layer) for layer in bn.layers]
    after = [kinds[i - 1] for i, k in enumerate(kinds) if k == "BatchNormalization"]
    if after != ["Conv2D"] * 6:
        raise ExerciseError(ex, f"{call}{tag}: batch norm layers follow {after}; expected one right after each of "
                            "the 6 conv layers.", "Conv2D(..., use_bias=False) -> BatchNormalization() -> ReLU, "
                            "as in Ioffe & Szegedy: normalise the conv's output before the non-linearity.")
    want = count_params(cifar_large_cnn(width, dense_units, batch_norm=True))
    if count_params(bn) != want:
        raise ExerciseError(ex, f"{call}{tag} has {count_params(bn):,} trainable parameters, expected {want:,}.",
                            _CNN_HINT)

    # 5. augmentation: horizontal flips and translations first; identity at inference, random in training
    call = f"large_cnn({width}, {dense_units}, augment=True)"
    aug = _build(ex, fn, (width, dense_units), {"augment": True}, "")
    _architecture(ex, aug, width, dense_units, call + tag, batch_norm=False)
    kinds = [_kind(layer) for layer in aug.layers if _kind(layer) != "InputLayer"]
    aug_hint = ("keras.layers.RandomFlip('horizontal') and RandomTranslation(0.125, 0.125) as the first layers, "
                "right after keras.Input: the model then augments its own input in fit and passes images "
                "unchanged in predict/evaluate.")
    if sorted(kinds[:2]) != ["RandomFlip", "RandomTranslation"]:
        raise ExerciseError(ex, f"{call}{tag} starts with {kinds[:2]}, expected RandomFlip and RandomTranslation.",
                            aug_hint)
    flip = next(layer for layer in aug.layers if _kind(layer) == "RandomFlip")
    if flip.mode != "horizontal":
        raise ExerciseError(ex, f"{call}{tag}: RandomFlip mode {flip.mode!r}.",
                            "Mirror left-right only ('horizontal'): a ship upside down is not a CIFAR-10 photo, "
                            "so vertical flips teach the network images it will never see.")
    _copy_trainable(aug, plain)
    at_test = keras.ops.convert_to_numpy(aug(x, training=False))
    if not np.allclose(at_test, keras.ops.convert_to_numpy(plain(x, training=False)), atol=1e-5):
        raise ExerciseError(ex, f"{call}{tag}: at inference the augmented model should be the baseline with the same "
                            "weights, but its outputs differ.", aug_hint)
    if all(np.allclose(keras.ops.convert_to_numpy(aug(x, training=True)), at_test, atol=1e-6) for _ in range(3)):
        raise ExerciseError(ex, f"{call}{tag}: in training the images are never changed.", aug_hint)

    # 6. everything at once
    every: dict[str, Any] = dict(l2=lam, dropout=rate, batch_norm=True, augment=True)
    both = _build(ex, fn, (width, dense_units), every, "")
    want = count_params(cifar_large_cnn(width, dense_units, l2=lam, dropout=rate, batch_norm=True, augment=True))
    if count_params(both) != want or not both.losses:
        raise ExerciseError(ex, f"large_cnn({width}, {dense_units}, l2=..., dropout=..., batch_norm=True, "
                            f"augment=True){tag}: the remedies together should give {want:,} trainable parameters "
                            f"and a penalty; got {count_params(both):,}.", _CNN_HINT)
    passed(ex, f"architecture, L2 penalty, dropout, batch norm and augmentation (fresh sizes, seed={seed})")


_BN = ChoicePrediction(
    "prediction: what batch norm does to training accuracy", "predicted_batch_norm",
    {"faster": "",
     "slower": "That is what a regulariser does (dropout, L2, augmentation all make the training set harder "
               "to fit); batch norm's batch noise is a weak regulariser beside its effect on optimisation.",
     "about the same": "Normalising every layer's input changes how easily the optimiser moves, so it is "
                       "rarely neutral."},
    "A regulariser makes the training set harder to fit; something that eases optimisation makes it easier. "
    "Which is batch norm mainly?")


def batch_norm_prediction(predicted_batch_norm) -> None:
    """Section 4, before the remedies run: commit to 'faster', 'slower' or 'about the same'."""
    _BN.commit(predicted_batch_norm)


def batch_norm_verdict(predicted_batch_norm, bn_train_accuracy, base_train_accuracy,
                       tolerance: float = 0.02) -> None:
    """Section 4, after the run: compare with the two models' training accuracy at the baseline's best epoch."""
    bn = check_number(bn_train_accuracy, "bn_train_accuracy", min_val=0, max_val=1)
    base = check_number(base_train_accuracy, "base_train_accuracy", min_val=0, max_val=1)
    tolerance = check_number(tolerance, "tolerance", min_val=0)
    outcome = "faster" if bn - base > tolerance else "slower" if bn - base < -tolerance else "about the same"
    _BN.verdict(predicted_batch_norm, outcome,
                f"training accuracy {bn:.3f} with batch norm, {base:.3f} without, at the same epoch",
                "batch norm keeps every layer's input centred and scaled while the weights below it change, "
                "so larger steps stay stable and the training set is fitted sooner; its regularising noise "
                "is small beside that (Ioffe & Szegedy 2015; Santurkar et al. 2018).")
