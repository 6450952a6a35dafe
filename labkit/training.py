"""Training helpers: ``fit`` with a live progress line (:mod:`labkit.progress`), timing, tf.data input pipelines."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import tensorflow as tf

from labkit.progress import EpochLogger, ProgressLine
from labkit.validation import check_array, check_bool, check_callable, check_int

__all__ = ["EpochLogger", "ProgressLine", "make_logger", "fit", "FitResult", "timer", "as_dataset", "images_to_float"]


def make_logger(every: int = 1, prefix: str = "") -> ProgressLine:
    """The progress display :func:`fit` uses: a :class:`~labkit.progress.ProgressLine`.

    In a notebook: one live line (epoch, batch, loss, elapsed, time left) that ends as a summary
    line. Elsewhere: one line every ``every`` epochs (and the last), as :class:`EpochLogger` prints.
    """
    return ProgressLine(every, prefix)


@dataclass
class FitResult:
    """What :func:`fit` returns: the Keras history dict and the wall time in seconds."""

    history: dict[str, list[float]]
    seconds: float
    epochs: int

    def last(self, key: str) -> float:
        return float(self.history[key][-1])

    def best(self, key: str, mode: str = "min") -> float:
        vals = self.history[key]
        return float(min(vals) if mode == "min" else max(vals))


def fit(model, x, y=None, *, epochs: int, batch_size: int | None = 128, validation_data=None,
        callbacks: list | None = None, log_every: int = 1, quiet: bool = False, **kwargs: Any) -> FitResult:
    """``model.fit`` with a progress display (or none) and the wall time measured.

    The display is :func:`make_logger`'s: a live line with a time estimate in a notebook, one
    line every ``log_every`` epochs elsewhere; ``quiet=True`` shows nothing.

    Accepts arrays or a ``tf.data.Dataset`` exactly as ``model.fit`` does.
    """
    if not callable(getattr(model, "fit", None)):
        raise TypeError(f"model must be a Keras model (with a fit method), got {type(model).__name__}.")
    epochs = check_int(epochs, "epochs", min_val=1)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", min_val=1)
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Keras callbacks, got {type(callbacks).__name__}.")
    log_every, quiet = check_int(log_every, "log_every", min_val=1), check_bool(quiet, "quiet")
    cbs = list(callbacks or [])
    if not quiet:
        cbs.append(make_logger(log_every))
    if y is None:  # a dataset carries its own batching
        batch_size = None
    start = time.perf_counter()
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                     callbacks=cbs, verbose=0, **kwargs)
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return FitResult(history, seconds, len(next(iter(history.values()), [])))


@contextmanager
def timer() -> Iterator[dict]:
    """``with timer() as t: ...`` then ``t["seconds"]``."""
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def images_to_float(x: np.ndarray, channels_last: bool = True) -> np.ndarray:
    """uint8 images (N,H,W) or (N,H,W,C) -> float32 in [0,1], with a channel axis."""
    x = check_array(x, "x", kind="any", min_len=0)
    if x.dtype != np.uint8:
        raise TypeError(f"x must hold uint8 images, got dtype {x.dtype}; scale floats yourself.")
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be images (N, H, W) or (N, H, W, C), got shape {x.shape}.")
    channels_last = check_bool(channels_last, "channels_last")
    x = x.astype("float32") / 255.0
    if channels_last and x.ndim == 3:
        x = x[..., None]
    return x


def as_dataset(x, y=None, *, batch_size: int = 128, shuffle: bool = False, seed: int = 0,
               cache: bool = True, map_fn=None):
    """A ``tf.data`` pipeline: (cache) -> (shuffle, seeded) -> batch -> (map) -> prefetch."""
    batch_size = check_int(batch_size, "batch_size", min_val=1)
    shuffle, cache = check_bool(shuffle, "shuffle"), check_bool(cache, "cache")
    seed = check_int(seed, "seed", min_val=0)
    if map_fn is not None:
        check_callable(map_fn, "map_fn", what="a function applied to each batch")
    n = len(x[0]) if isinstance(x, tuple) else len(x)
    if y is not None and len(y) != n:
        raise ValueError(f"x and y have different lengths ({n} vs {len(y)}); pass one target per example.")
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
