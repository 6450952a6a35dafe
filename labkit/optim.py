"""Compare optimisers and learning rates by the number of steps they need.

::

    curve = loss_curve(build_model, keras.optimizers.SGD(0.1), x, y, steps=600, chunk=20)
    curve.losses                  # (steps // chunk,) mean training loss of each chunk of steps
    curve.steps_to(0.6)           # first step count whose chunk mean is <= 0.6, or None

    rt = lr_range_test(build_model, x, y, min_lr=1e-4, max_lr=10.0, steps=200)
    rt.suggestion                 # a learning rate a decade below where the loss was lowest
    plot_lr_range_test(rt)

A *step* is one optimiser update on one mini-batch. Every function here builds a fresh
model from ``build_model()`` and draws its mini-batches from a seeded shuffle, so two
calls with the same arguments give the same numbers (at a fixed thread count).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from labkit.validation import check_array, check_bool, check_callable, check_int, check_number, check_option, check_str

__all__ = ["LossCurve", "loss_curve", "steps_to_target", "LRRangeTest", "lr_range_test",
           "plot_lr_range_test", "plot_loss_curves", "DivergenceStop"]


def _check_training(build_model, x, y, batch_size, seed, loss) -> tuple[int, int]:
    """The arguments loss_curve and lr_range_test share; returns (batch_size, seed)."""
    check_callable(build_model, "build_model", what="a function () -> keras.Model")
    for name, a in (("x", x), ("y", y)):
        if not hasattr(a, "__len__") or isinstance(a, str):
            raise TypeError(f"{name} must be an array of examples, got {type(a).__name__}.")
    if len(x) == 0:
        raise ValueError("x is empty.")
    if len(x) != len(y):
        raise ValueError(f"x and y have different lengths ({len(x)} vs {len(y)}).")
    batch_size = check_int(batch_size, "batch_size", min_val=1)
    if batch_size > len(x):
        raise ValueError(f"batch_size={batch_size} is larger than the {len(x)} examples; use a smaller batch.")
    if loss is not None:
        check_callable(loss, "loss", what="a callable loss(y_true, y_pred) such as a keras.losses.Loss")
    return batch_size, check_int(seed, "seed", min_val=0)


def _batches(x, y, batch_size: int, seed: int):
    """An endless, seeded, shuffled stream of equal-size mini-batches."""
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def steps_to_target(losses, target: float, chunk: int) -> int | None:
    """Steps until the chunk-mean loss first reaches ``target`` (``chunk * (i + 1)``), or None.

    losses: (n_chunks,) mean training loss of consecutive chunks of ``chunk`` steps.
    A non-finite loss (divergence) never counts as reaching the target.
    """
    chunk = check_int(chunk, "chunk", min_val=1)
    target = check_number(target, "target", finite=False)
    arr = check_array(losses, "losses", finite=False, min_len=0).astype("float64")
    if arr.ndim != 1:
        raise ValueError(f"losses must be 1-D (one value per chunk), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError("losses is empty; pass the mean loss of each chunk (at least one).")
    hit = np.flatnonzero(np.isfinite(arr) & (arr <= target))
    return None if hit.size == 0 else int(chunk * (hit[0] + 1))


@dataclass
class LossCurve:
    """Mean training loss of each chunk of ``chunk`` steps; ``steps`` (n,) is the step count
    at the end of each chunk; ``initial_loss`` the fresh model's loss on the first batch;
    ``chunk_seconds`` (n,) the wall time of each chunk. ``diverged`` is True when the loss
    became non-finite or a chunk's loss exceeded ``diverge_factor`` x ``initial_loss``
    (training was stopped there)."""

    label: str
    losses: np.ndarray
    steps: np.ndarray
    chunk: int
    seconds: float
    diverged: bool
    initial_loss: float
    chunk_seconds: np.ndarray

    def samples_per_second(self, batch_size: int) -> float:
        """Training throughput, from the median chunk time after the first chunk
        (which also pays for tracing the training step)."""
        batch_size = check_int(batch_size, "batch_size", min_val=1)
        times = self.chunk_seconds[1:] if len(self.chunk_seconds) > 1 else self.chunk_seconds
        return float(self.chunk * batch_size / np.median(times))

    def steps_to(self, target: float) -> int | None:
        return steps_to_target(self.losses, target, self.chunk)

    @property
    def final(self) -> float:
        return float(self.losses[-1])


@keras.saving.register_keras_serializable(package="labkit")
class DivergenceStop(keras.callbacks.Callback):
    """Keras callback: stop training once the epoch's loss is not finite or exceeds
    ``factor * initial_loss``; times every epoch.

    After ``fit``: ``diverged`` (bool) and ``times`` (the wall seconds of each epoch). Both are
    reset in ``on_train_begin``, so one instance can serve several ``fit`` calls.
    :func:`loss_curve` uses it with "epochs" of ``chunk`` steps.

    Args:
        initial_loss: the loss of the untrained model (the reference).
        factor: how many times the reference loss counts as diverged (default 2.0, > 1).
    """

    def __init__(self, initial_loss: float, factor: float = 2.0):
        super().__init__()
        self.initial_loss = float(initial_loss)
        self.factor = check_number(factor, "factor", min_val=1, include_min=False)
        self.diverged = False
        self.times: list[float] = []
        self._t = 0.0

    def on_train_begin(self, logs=None):
        self.diverged, self.times = False, []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)
        val = float((logs or {}).get("loss", float("nan")))
        if not math.isfinite(val) or val > self.factor * self.initial_loss:
            self.diverged = True
            self.model.stop_training = True

    @classmethod
    def from_config(cls, config):  # keras.callbacks.Callback has no from_config
        return cls(**config)

    def get_config(self):
        return {"initial_loss": self.initial_loss, "factor": self.factor}


def loss_curve(build_model: Callable[[], Any], optimizer, x, y, *, steps: int, chunk: int = 20,
               batch_size: int = 64, seed: int = 0, label: str = "", loss=None,
               diverge_factor: float = 2.0) -> LossCurve:
    """Train a fresh ``build_model()`` for ``steps`` steps and return its loss curve.

    x: (N, ...) inputs; y: (N,) integer labels (the default loss is sparse categorical
    cross-entropy on logits). ``optimizer`` is a Keras optimizer instance (its learning
    rate may be a schedule, which sees the global step). Stops early when the loss
    diverges (see :class:`LossCurve`).
    """
    batch_size, seed = _check_training(build_model, x, y, batch_size, seed, loss)
    steps, chunk = check_int(steps, "steps", min_val=1), check_int(chunk, "chunk", min_val=1)
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of chunk ({chunk}).")
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a keras.optimizers.Optimizer instance, got {type(optimizer).__name__}.")
    label = check_str(label, "label", allow_empty=True)
    diverge_factor = check_number(diverge_factor, "diverge_factor", min_val=1, include_min=False)
    keras.utils.set_random_seed(seed)
    model = build_model()
    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)
    ds = _batches(x, y, batch_size, seed)
    xb, yb = next(iter(ds.take(1)))
    initial = float(loss(yb, model(xb, training=False)))

    watch = DivergenceStop(initial, diverge_factor)
    start = time.perf_counter()
    hist = model.fit(ds, epochs=steps // chunk, steps_per_epoch=chunk, callbacks=[watch], verbose=0,
                     shuffle=False)
    seconds = time.perf_counter() - start
    losses = np.array(hist.history["loss"], dtype="float64")
    return LossCurve(label or type(optimizer).__name__, losses, chunk * np.arange(1, len(losses) + 1),
                     chunk, seconds, watch.diverged, initial, np.array(watch.times))


@dataclass
class LRRangeTest:
    """Result of :func:`lr_range_test`: the learning rate of each step, the loss of the
    batch it was applied to (raw and exponentially smoothed), and a suggestion."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    best_lr: float

    def __repr__(self) -> str:
        return (f"LRRangeTest({len(self.lrs)} steps, lr {self.lrs[0]:.1e}..{self.lrs[-1]:.1e}, "
                f"lowest smoothed loss at lr={self.best_lr:.2g}, suggestion={self.suggestion:.2g})")


def lr_range_test(build_model: Callable[[], Any], x, y, *, min_lr: float = 1e-4, max_lr: float = 10.0,
                  steps: int = 200, batch_size: int = 64, optimizer: str = "sgd", momentum: float = 0.0,
                  seed: int = 0, smoothing: float = 0.9, stop_factor: float = 4.0, loss=None) -> LRRangeTest:
    """The learning-rate range test (L. Smith, 2015/2017; the "LR finder" of fast.ai).

    Train a fresh model for ``steps`` steps while the learning rate grows geometrically
    from ``min_lr`` to ``max_lr``, recording each batch's loss just before its update.
    The loss first stays flat (rate too low), then falls (useful rates), then blows up
    (too high). Stops once the smoothed loss exceeds ``stop_factor`` x its minimum.
    ``suggestion`` is a tenth of the rate at the smoothed minimum (a common, cautious rule).
    ``optimizer``: ``"sgd"`` (with ``momentum``) or ``"adam"``.
    """
    batch_size, seed = _check_training(build_model, x, y, batch_size, seed, loss)
    steps = check_int(steps, "steps", min_val=1)
    min_lr, max_lr = check_number(min_lr, "min_lr"), check_number(max_lr, "max_lr")
    if not (0 < min_lr < max_lr):
        raise ValueError(f"need 0 < min_lr < max_lr, got min_lr={min_lr}, max_lr={max_lr}.")
    if not 0 <= check_number(smoothing, "smoothing") < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}.")
    optimizer = check_option(optimizer, "optimizer", ("sgd", "adam"))
    momentum = check_number(momentum, "momentum", min_val=0, max_val=1)
    stop_factor = check_number(stop_factor, "stop_factor", min_val=1, include_min=False)
    keras.utils.set_random_seed(seed)
    model = build_model()
    opt = (keras.optimizers.SGD(min_lr, momentum=momentum) if optimizer == "sgd"
           else keras.optimizers.Adam(min_lr))
    loss_fn = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt.build(model.trainable_variables)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            value = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(value, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return value

    lrs = min_lr * (max_lr / min_lr) ** (np.arange(steps) / max(steps - 1, 1))
    losses, smoothed = [], []
    avg, best = 0.0, math.inf
    for i, (xb, yb) in enumerate(_batches(x, y, batch_size, seed).take(steps)):
        opt.learning_rate.assign(lrs[i])
        value = float(step(xb, yb))
        losses.append(value)
        avg = smoothing * avg + (1 - smoothing) * value
        sm = avg / (1 - smoothing ** (i + 1))  # bias-corrected, as in Adam
        smoothed.append(sm)
        if not math.isfinite(sm):
            break
        best = min(best, sm)
        if sm > stop_factor * best:
            break
    n = len(losses)
    smooth = np.array(smoothed)
    finite = np.where(np.isfinite(smooth), smooth, np.inf)
    best_lr = float(lrs[int(np.argmin(finite))])
    return LRRangeTest(lrs[:n], np.array(losses), smooth, best_lr / 10.0, best_lr)


def plot_lr_range_test(result: LRRangeTest, ax=None):
    """Loss against learning rate (log x), raw and smoothed, with the suggestion marked."""
    if not isinstance(result, LRRangeTest):
        raise TypeError(f"result must be an LRRangeTest (from lr_range_test), got {type(result).__name__}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    ok = np.isfinite(result.losses)
    ax.plot(result.lrs[ok], result.losses[ok], color="0.75", lw=1, label="batch loss")
    ax.plot(result.lrs, result.smoothed, lw=2, label="smoothed")
    ax.axvline(result.suggestion, color="C2", ls="--", label=f"suggestion {result.suggestion:.2g}")
    ax.axvline(result.best_lr, color="C3", ls=":", label=f"lowest loss {result.best_lr:.2g}")
    ax.set_xscale("log")
    top = np.nanmin(result.smoothed[np.isfinite(result.smoothed)]) * 3 if np.isfinite(result.smoothed).any() else None
    if top is not None:
        ax.set_ylim(0, max(top, float(result.smoothed[0]) * 1.2))
    ax.set(xlabel="learning rate", ylabel="training loss", title="learning-rate range test")
    ax.legend(fontsize=8)
    return ax.figure


def plot_loss_curves(curves, *, target: float | None = None, ax=None, log_y: bool = False):
    """Plot several :class:`LossCurve` against steps; mark the loss target if given."""
    if isinstance(curves, (str, bytes)) or not hasattr(curves, "__iter__"):
        raise TypeError(f"curves must be a list of LossCurve, got {type(curves).__name__}.")
    curves = list(curves)
    if not curves:
        raise ValueError("no curves to plot.")
    wrong = sorted({type(c).__name__ for c in curves if not isinstance(c, LossCurve)})
    if wrong:
        raise TypeError(f"curves must be LossCurve results (from loss_curve), got {', '.join(wrong)}.")
    if target is not None:
        target = check_number(target, "target")
    log_y = check_bool(log_y, "log_y")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    for c in curves:
        ax.plot(c.steps, c.losses, label=c.label + (" (diverged)" if c.diverged else ""))
    if target is not None:
        ax.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    if log_y:
        ax.set_yscale("log")
    ax.set(xlabel="training step", ylabel="training loss (mean over chunk)")
    ax.legend(fontsize=8)
    return ax.figure
