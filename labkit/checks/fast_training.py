"""Checks for notebook 07 (training fast: the CIFAR-10 recipe, ingredient by ingredient)."""
from __future__ import annotations

import keras
import numpy as np

from labkit.checks import ExerciseError, call_answer, close, fresh_seed, passed, require_output

_TTA_HINT = ("Mirror left-right by reversing the width axis, axis 2 of (N, H, W, C): x[:, :, ::-1]. "
             "Then return 0.5 * (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)): "
             "the mean of the two logits, one row per image. Do not change x itself.")


def _probe_model(h: int, w: int, seed: int) -> keras.Model:
    """A small random convnet on (h, w, 3) images whose logits change when an image is mirrored."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((h, w, 3)), keras.layers.Conv2D(4, 3, activation="tanh"),
                             keras.layers.Flatten(), keras.layers.Dense(5)], name="probe")


def _logits(model, x):
    return np.asarray(model(np.ascontiguousarray(x), training=False), dtype=np.float64)


def flip_tta(fn, seed: int | None = None) -> None:
    """Exercise: ``fn(model, x)`` -> (N, classes) mean of the logits on ``x`` and on its mirror.

    Each call draws a fresh random model and fresh images of a random size (``seed`` fixes them),
    so only a function that really mirrors and averages passes; the typical slips (the wrong
    axis, probabilities instead of logits, a sum, one view only, ``x`` mirrored in place) each
    get their own hint."""
    ex = "test-time augmentation"
    rng = np.random.default_rng(fresh_seed(seed))
    n, h, w = int(rng.integers(3, 7)), int(rng.integers(6, 11)), int(rng.integers(6, 11))
    model = _probe_model(h, w, int(rng.integers(2**31)))
    x = rng.random((n, h, w, 3)).astype("float32")
    x_before = x.copy()
    out = call_answer(ex, fn, "predict_flip_tta", (model, x), _TTA_HINT)
    if not np.array_equal(x, x_before):
        raise ExerciseError(ex, "`predict_flip_tta` changed the images it was given (it mirrored `x` in place).",
                            "Mirror a view or a copy: x[:, :, ::-1] is a new view and leaves x as it was; "
                            "assigning into x (x[...] = ...) changes the caller's images.")
    plain, mirror = _logits(model, x), _logits(model, x[:, :, ::-1])
    want = 0.5 * (plain + mirror)
    if np.ndim(out) == 1 and np.shape(out)[0] == n:
        raise ExerciseError(ex, f"`predict_flip_tta` returned {n} numbers, one per image: class labels?",
                            "Return the averaged logits, (N, classes); the caller takes argmax(axis=1) itself.")
    got = require_output(ex, out, "predict_flip_tta", want.shape, _TTA_HINT)
    if close(got, want, rtol=1e-4, atol=1e-5):
        passed(ex, "the mean of the logits on each image and its mirror")
        return
    slips = [
        (0.5 * (plain + _logits(model, x[:, ::-1])), "it mirrors the images upside down (axis 1, the height)",
         "Left-right is the width axis, axis 2 of (N, H, W, C): x[:, :, ::-1]."),
        (0.5 * (plain + _logits(model, x[..., ::-1])), "it reverses the colour channels (axis 3), not the width",
         "Left-right is the width axis, axis 2 of (N, H, W, C): x[:, :, ::-1]."),
        (plain + mirror, "it is the sum of the two logits, twice their mean", "Divide by 2: 0.5 * (a + b)."),
        (plain, "it is the logits of the images as they are: the mirror is missing",
         "Average with the logits of x[:, :, ::-1]."),
        (mirror, "it is the logits of the mirrors only", "Average them with the logits of x itself."),
        (0.5 * (_softmax(plain) + _softmax(mirror)), "it averages probabilities (softmax), not logits",
         "The recipe averages logits (the model's raw outputs): leave out the softmax."),
    ]
    for value, what, hint in slips:
        if close(got, value, rtol=1e-4, atol=1e-5):
            raise ExerciseError(ex, f"`predict_flip_tta` is wrong: {what}.", hint)
    raise ExerciseError(ex, f"`predict_flip_tta` returned logits that differ from the mean of the two views by up to "
                        f"{np.abs(got - want).max():.3g}.", _TTA_HINT)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
