"""Training helpers: quiet one-line-per-epoch logs, timing, tf.data input pipelines."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

__all__ = ["make_logger", "fit", "FitResult", "timer", "as_dataset", "images_to_float"]


def _keras():
    import keras

    return keras


def make_logger(every: int = 1, prefix: str = ""):
    """A Keras callback printing one short line every ``every`` epochs (and the last)."""
    keras = _keras()

    class _EpochLogger(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._t0 = time.perf_counter()
            self._epochs = self.params.get("epochs", 0)

        def on_epoch_end(self, epoch, logs=None):
            n = epoch + 1
            if n % every and n != self._epochs:
                return
            items = " - ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items()
                               if isinstance(v, (int, float, np.floating)) and k != "learning_rate")
            print(f"{prefix}epoch {n}/{self._epochs} - {items} - {time.perf_counter() - self._t0:.0f} s",
                  flush=True)

    return _EpochLogger()


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
    """``model.fit`` with a compact log (or none) and the wall time measured.

    Accepts arrays or a ``tf.data.Dataset`` exactly as ``model.fit`` does.
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    cbs = list(callbacks or [])
    if not quiet:
        cbs.append(make_logger(log_every))
    if y is None:  # a dataset carries its own batching
        batch_size = None
    start = time.perf_counter()
    hist = model.fit(x, y, epochs=int(epochs), batch_size=batch_size, validation_data=validation_data,
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
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {x.dtype}; scale floats yourself.")
    x = x.astype("float32") / 255.0
    if channels_last and x.ndim == 3:
        x = x[..., None]
    return x


def as_dataset(x, y=None, *, batch_size: int = 128, shuffle: bool = False, seed: int = 0,
               cache: bool = True, map_fn=None):
    """A ``tf.data`` pipeline: (cache) -> (shuffle, seeded) -> batch -> (map) -> prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        n = len(x[0]) if isinstance(x, tuple) else len(x)
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
