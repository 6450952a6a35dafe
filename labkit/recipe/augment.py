"""The recipe's data side: training augmentation (flip, translate, alternating flip) in a tf.data
pipeline, and test-time augmentation (:func:`predict_tta`)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from labkit.recipe.network import INPUT_SHAPE

__all__ = ["predict_tta", "augment_fn", "input_pipeline", "to_float"]


def augment_fn(translate: int, flip: bool, flip_all=None):
    """A batched tf.data map: flip left-right, then reflect-pad by ``translate`` and crop back at a
    random offset per image (integer translations). Randomness comes from a seeded, per-epoch
    re-randomised ``tf.data.Dataset.random`` stream.

    Flipping: with ``flip_all`` (a boolean ``tf.Variable``) the images - already mirrored at random
    once - are all mirrored together on the epochs where ``flip_all`` is True (airbench's
    "alternating flip": every image is seen both ways in two consecutive epochs); without it each
    image is mirrored with probability 1/2."""

    def aug(x, y, seed):
        seeds = tf.random.experimental.stateless_split(tf.stack([seed, seed // 7 + 1]), 3)
        b = tf.shape(x)[0]
        if flip and flip_all is not None:
            x = tf.where(flip_all, tf.reverse(x, axis=[2]), x)
        elif flip:
            mask = tf.random.stateless_uniform([b, 1, 1, 1], seeds[0]) < 0.5
            x = tf.where(mask, tf.reverse(x, axis=[2]), x)
        if translate:
            r = translate
            padded = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
            oy = tf.random.stateless_uniform([b], seeds[1], 0, 2 * r + 1, dtype=tf.int32)
            ox = tf.random.stateless_uniform([b], seeds[2], 0, 2 * r + 1, dtype=tf.int32)
            rows = oy[:, None] + tf.range(32)[None, :]
            cols = ox[:, None] + tf.range(32)[None, :]
            x = tf.gather(padded, rows, axis=1, batch_dims=1)
            x = tf.gather(x, cols, axis=2, batch_dims=1)
        return x, y

    return aug


def input_pipeline(xtr: np.ndarray, ytr: np.ndarray, num_classes: int, bs: int, cfg: dict, seed: int):
    """The recipe's tf.data training input: cached, reshuffled every epoch, batched (last partial
    batch dropped), augmented per batch, prefetched. Returns (dataset, flip_all) where flip_all is
    the ``tf.Variable`` of the alternating flip (None without it); ``xtr`` may be mirrored in place.
    ``cfg``: the recipe settings ``translate``, ``flip`` and ``alternate_flip``."""
    flip_all = None
    if cfg["flip"] and cfg["alternate_flip"]:
        # mirror a random half once; then mirror everything on odd epochs (see augment_fn)
        mirror = np.random.default_rng(seed).random(len(xtr)) < 0.5
        xtr[mirror] = xtr[mirror, :, ::-1]
        flip_all = tf.Variable(False, trainable=False)
    ds = tf.data.Dataset.from_tensor_slices((xtr, tf.one_hot(ytr, num_classes)))
    ds = ds.cache().shuffle(len(xtr), seed=seed, reshuffle_each_iteration=True).batch(bs, drop_remainder=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds)).map(lambda xy, s: (*xy, s))
    ds = ds.map(augment_fn(int(cfg["translate"]), bool(cfg["flip"]), flip_all),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    return ds, flip_all


def to_float(x: np.ndarray) -> np.ndarray:
    """Images (N, 32, 32, 3) as float32: uint8 pixels divided by 255, floats as they are."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"images must be (N, 32, 32, 3), got {x.shape}.")
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0
    return x.astype("float32")


def predict_tta(model, x: np.ndarray, *, tta: int | bool = 1, batch_size: int = 1000) -> np.ndarray:
    """Logits of ``model`` on images x (N, 32, 32, 3) with test-time augmentation (TTA).

    ``tta``: 0 (or False) - the images as they are; 1 (or True) - the mean over each image and its
    left-right mirror; 2 - airbench's level 2: half the level-1 logits plus a quarter each of the
    level-1 logits of the image shifted by one pixel up-left and down-right (reflect padding),
    six views in all. Returns (N, num_classes) float32.
    """
    level = int(tta)
    if level not in (0, 1, 2):
        raise ValueError(f"tta must be 0, 1 or 2 (or a bool), got {tta!r}.")
    x = to_float(x)

    def views(v):
        out = model.predict(v, batch_size=batch_size, verbose=0)
        if level >= 1:
            out = 0.5 * (out + model.predict(v[:, :, ::-1, :], batch_size=batch_size, verbose=0))
        return out

    logits = views(x)
    if level == 2:
        padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
        shifted = 0.5 * (views(np.ascontiguousarray(padded[:, :32, :32])) +
                         views(np.ascontiguousarray(padded[:, 2:, 2:])))
        logits = 0.5 * (logits + shifted)
    return np.asarray(logits, dtype="float32")
