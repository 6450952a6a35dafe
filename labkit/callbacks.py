"""Look inside a network while it trains: per-layer gradient norms, activations, dead ReLUs.

Two entry points::

    stats = layer_stats(model, x_probe, y_probe)        # one measurement, no training
    stats.grad_norm            # (n_layers,) L2 norm of dLoss/dKernel, first layer first

    monitor = GradientStats(x_probe, y_probe, every=1, unit="epoch")
    model.fit(..., callbacks=[monitor])
    monitor.history["grad_norm"]       # (n_records, n_layers)
    plot_gradient_stats(monitor)

"Layers" are the layers that own a ``kernel`` (``Dense``, ``Conv*``), in the order the
model applies them. "ReLU layers" are layers whose output is a plain ReLU: ``Dense`` or
``Conv*`` with ``activation="relu"``, ``Activation("relu")`` and ``ReLU()`` with its
default arguments. A ReLU unit (a feature, or a channel of a convolution) is **dead on
the probe batch** when it outputs exactly zero for every example (and, for convolutions,
at every position): no gradient flows through it, so gradient descent cannot revive it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from labkit.validation import check_array, check_bool, check_callable, check_int, check_labels, check_option

__all__ = ["LayerStats", "layer_stats", "GradientStats", "plot_gradient_stats", "plot_layer_stats",
           "kernel_layers", "relu_layers", "dead_fraction"]


# --------------------------------------------------------------------------- layer discovery
def kernel_layers(model) -> list:
    """The layers of ``model`` that own a ``kernel`` weight, first to last (nested models flattened)."""
    out = []
    for layer in _flat_layers(model):
        if getattr(layer, "kernel", None) is not None and getattr(layer, "trainable", True):
            out.append(layer)
    return out


def _is_relu(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return (getattr(layer, "max_value", None) is None and float(getattr(layer, "negative_slope", 0.0)) == 0.0
                and float(getattr(layer, "threshold", 0.0)) == 0.0)
    act = getattr(layer, "activation", None)
    return act is keras.activations.relu


def relu_layers(model) -> list:
    """The layers of ``model`` whose output is a plain ReLU, first to last."""
    return [layer for layer in _flat_layers(model) if _is_relu(layer)]


def _flat_layers(model) -> list:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}.")
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(_flat_layers(layer))
        else:
            out.append(layer)
    return out


def dead_fraction(activations: np.ndarray) -> float:
    """Fraction of units (last axis) that are zero for every example and position.

    activations: (N, units) or (N, ..., channels) outputs of a ReLU layer.
    """
    a = check_array(activations, "activations", min_len=0)
    if a.ndim < 2:
        raise ValueError(f"activations must have a batch axis and a unit axis, got shape {a.shape}.")
    if a.shape[0] == 0 or a.shape[-1] == 0:
        raise ValueError(f"activations of shape {a.shape} have no {'example' if a.shape[0] == 0 else 'unit'}; "
                         "pass the outputs of a ReLU layer on at least one example.")
    return _dead_fraction(a)


def _dead_fraction(a: np.ndarray) -> float:
    """:func:`dead_fraction` without the checks (a probe of a diverged model may hold NaN)."""
    alive = np.any(a.reshape(-1, a.shape[-1]) > 0, axis=0)
    return float(1.0 - alive.mean())


# --------------------------------------------------------------------------- one measurement
@dataclass
class LayerStats:
    """One measurement of a model on a probe batch.

    layer_names: names of the kernel layers (length L); relu_names: of the ReLU layers (K).
    grad_norm: (L,) L2 norm of the loss gradient w.r.t. each kernel.
    weight_norm: (L,) L2 norm of each kernel.
    act_mean, act_std: (L,) mean and standard deviation of each kernel layer's output
    (after its built-in activation, if any).
    dead_fraction: (K,) fraction of dead units of each ReLU layer on the probe batch.
    loss: the loss on the probe batch.
    """

    layer_names: list[str]
    relu_names: list[str]
    grad_norm: np.ndarray
    weight_norm: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    dead_fraction: np.ndarray
    loss: float

    def ratio_first_last(self) -> float:
        """``grad_norm[0] / grad_norm[-1]``: far below 1 means the gradient vanishes on its
        way back to the first layer; far above 1 means it explodes."""
        return float(self.grad_norm[0] / self.grad_norm[-1])

    def table(self) -> str:
        """A small plain-text table, one row per kernel layer."""
        rows = [f"{'layer':<16}{'grad norm':>12}{'act mean':>10}{'act std':>10}"]
        for i, name in enumerate(self.layer_names):
            rows.append(f"{name[:15]:<16}{self.grad_norm[i]:>12.2e}{self.act_mean[i]:>10.3f}{self.act_std[i]:>10.3f}")
        return "\n".join(rows)


class _Probe:
    """A model's feature extractor and a gradient function, built once and reused."""

    def __init__(self, model, loss: Callable | None, training: bool):
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a Keras model, got {type(model).__name__}.")
        if not getattr(model, "built", False) or not model.inputs:
            raise ValueError("layer statistics need a built Sequential or functional model with "
                             "keras.Input(...); a subclassed model has no layer outputs to read.")
        if loss is None and getattr(model, "_compile_loss", None) is None:
            raise ValueError("pass loss=... (e.g. keras.losses.SparseCategoricalCrossentropy("
                             "from_logits=True)) or compile the model with a loss first.")
        self.model, self.loss, self.training = model, loss, training
        self.layers = kernel_layers(model)
        self.relus = relu_layers(model)
        if not self.layers:
            raise ValueError("the model has no layer with a kernel (Dense, Conv...) to measure.")
        outputs = [model.outputs[0]] + [layer.output for layer in self.layers] + [layer.output for layer in self.relus]
        self.features = keras.Model(model.inputs, outputs)

    def _sparse_classes(self) -> int | None:
        """The number of classes when the loss takes integer labels (sparse cross-entropy), else None."""
        loss = self.loss if self.loss is not None else getattr(self.model, "loss", None)
        sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy) or loss in (
            "sparse_categorical_crossentropy", keras.losses.sparse_categorical_crossentropy)
        shape = self.model.outputs[0].shape
        return int(shape[-1]) if sparse and len(shape) == 2 and shape[-1] is not None else None

    def __call__(self, x, y, y_name: str = "y") -> LayerStats:
        model = self.model
        k = self._sparse_classes()
        if k is not None:  # out-of-range labels: an error on a CPU, a silent NaN loss on a GPU
            check_labels(np.asarray(y).reshape(-1), y_name, n_classes=k)
        saved = [v.numpy() for v in model.non_trainable_variables] if self.training else None
        kernels = [layer.kernel for layer in self.layers]
        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            outs = self.features(x, training=self.training)
            y_pred = outs[0]
            try:
                if self.loss is not None:
                    loss = self.loss(y, y_pred)
                    if model.losses:
                        loss = loss + tf.add_n([tf.cast(extra, loss.dtype) for extra in model.losses])
                else:
                    loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=self.training)
            except tf.errors.InvalidArgumentError as err:
                raise ValueError(f"the loss could not be computed on {y_name} ({err.message.splitlines()[0]}); "
                                 f"pass the targets the loss expects.") from err
        grads = tape.gradient(loss, kernels)
        if saved is not None:  # a training-mode pass must not move BN statistics
            for v, val in zip(model.non_trainable_variables, saved):
                v.assign(val)
        n = len(self.layers)
        acts = [keras.ops.convert_to_numpy(a).astype("float64") for a in outs[1:1 + n]]
        relu_acts = [keras.ops.convert_to_numpy(a).astype("float32") for a in outs[1 + n:]]
        return LayerStats(
            layer_names=[layer.name for layer in self.layers],
            relu_names=[layer.name for layer in self.relus],
            grad_norm=np.array([0.0 if g is None else float(tf.norm(tf.cast(g, tf.float64))) for g in grads]),
            weight_norm=np.array([float(tf.norm(tf.cast(k, tf.float64))) for k in kernels]),
            act_mean=np.array([a.mean() for a in acts]),
            act_std=np.array([a.std() for a in acts]),
            dead_fraction=np.array([_dead_fraction(a) for a in relu_acts]),
            loss=float(loss),
        )


def layer_stats(model, x, y, *, loss: Callable | None = None, training: bool = True) -> LayerStats:
    """Measure ``model`` on one probe batch: per-layer gradient norms, activations, dead ReLUs.

    x: a batch of inputs (N, ...); y: its targets. ``loss(y, y_pred)`` defaults to the
    model's compiled loss. ``training=True`` (default) measures what a training step sees
    (batch norm uses batch statistics, dropout is active) and then restores the
    non-trainable state, so measuring never changes the model.
    """
    _check_batch(x, y)
    _check_probe_options(loss, training)
    return _Probe(model, loss, training)(x, y)


def _check_batch(x, y, x_name: str = "x", y_name: str = "y") -> None:
    for name, a in ((x_name, x), (y_name, y)):
        if not hasattr(a, "__len__") or isinstance(a, str):
            raise TypeError(f"{name} must be an array (a probe batch), got {type(a).__name__}.")
    nx, ny = len(x), len(y)
    if nx == 0:
        raise ValueError(f"{x_name} is empty (the probe batch); pass a few hundred examples.")
    if nx != ny:
        raise ValueError(f"{x_name} and {y_name} have different lengths ({nx} vs {ny}).")


def _check_probe_options(loss, training) -> None:
    if loss is not None:
        check_callable(loss, "loss", what="a loss function loss(y_true, y_pred), e.g. a keras.losses.Loss")
    check_bool(training, "training")


# --------------------------------------------------------------------------- callback
class GradientStats(keras.callbacks.Callback):
    """Keras callback: record :func:`layer_stats` on a fixed probe batch during training.

    x_probe, y_probe: a fixed batch (e.g. 256 training examples), the same every time, so
    records differ only because the weights changed. ``unit="epoch"`` records after every
    ``every``-th epoch, ``unit="batch"`` after every ``every``-th training step; both also
    record once before the first step (step 0).

    After training, ``history`` holds ``step`` (R,), ``epoch`` (R,), ``loss`` (R,),
    ``grad_norm``/``weight_norm``/``act_mean``/``act_std`` (R, L) and ``dead_fraction``
    (R, K); ``layer_names`` and ``relu_names`` name the columns. Each ``fit()`` starts a new
    record (``on_train_begin`` resets it, as Keras' own callbacks do), so one monitor can be
    reused; its steps and epochs count from 0 within that ``fit()``.

    Not registered for Keras serialisation: its configuration is a probe batch and a loss
    function, not plain values (and Keras never serialises callbacks).
    """

    def __init__(self, x_probe, y_probe, *, every: int = 1, unit: str = "epoch",
                 loss: Callable | None = None, training: bool = True):
        super().__init__()
        _check_batch(x_probe, y_probe, "x_probe", "y_probe")
        unit = check_option(unit, "unit", ("epoch", "batch"))
        every = check_int(every, "every", min_val=1)
        _check_probe_options(loss, training)
        self.x_probe, self.y_probe = x_probe, y_probe
        self.every, self.unit, self.loss, self.training = every, unit, loss, bool(training)
        self.records: list[tuple[int, int, LayerStats]] = []
        self._probe: _Probe | None = None
        self._step = 0
        self._epoch = 0

    # Keras hooks
    def on_train_begin(self, logs=None):
        self.records, self._step, self._epoch = [], 0, 0  # a new record for every fit()
        self._probe = _Probe(self.model, self.loss, self.training)
        self._record()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.unit == "batch" and self._step % self.every == 0:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch += 1
        if self.unit == "epoch" and self._epoch % self.every == 0:
            self._record()

    def _record(self) -> None:
        if self._probe is None:  # a hook called before on_train_begin: was "'NoneType' object is not callable"
            raise RuntimeError("this GradientStats monitor has not started: model.fit(..., callbacks=[monitor]) "
                               "calls its on_train_begin first; in a training loop of your own, call "
                               "monitor.set_model(model) and monitor.on_train_begin() before its other hooks.")
        self.records.append((self._step, self._epoch, self._probe(self.x_probe, self.y_probe, "y_probe")))

    # results
    @property
    def layer_names(self) -> list[str]:
        return self.records[0][2].layer_names if self.records else []

    @property
    def relu_names(self) -> list[str]:
        return self.records[0][2].relu_names if self.records else []

    @property
    def history(self) -> dict[str, np.ndarray]:
        if not self.records:
            raise ValueError("nothing recorded yet: this GradientStats monitor has seen no training; pass it to "
                             "model.fit(..., callbacks=[monitor]) first.")
        stats = [r[2] for r in self.records]
        return {
            "step": np.array([r[0] for r in self.records]),
            "epoch": np.array([r[1] for r in self.records]),
            "loss": np.array([s.loss for s in stats]),
            "grad_norm": np.stack([s.grad_norm for s in stats]),
            "weight_norm": np.stack([s.weight_norm for s in stats]),
            "act_mean": np.stack([s.act_mean for s in stats]),
            "act_std": np.stack([s.act_std for s in stats]),
            "dead_fraction": np.stack([s.dead_fraction for s in stats]) if stats[0].relu_names
            else np.zeros((len(stats), 0)),
        }


# --------------------------------------------------------------------------- plots
def plot_gradient_stats(monitor: GradientStats, *, title: str = "", axes=None):
    """Two panels: each layer's gradient norm over training (log scale) and each ReLU
    layer's dead fraction. Returns the Figure; never calls ``plt.show()``."""
    if not isinstance(monitor, GradientStats):
        raise TypeError(f"monitor must be a GradientStats callback, got {type(monitor).__name__}.")
    h = monitor.history
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    else:
        fig = axes[0].figure
    x = h["step"]
    cmap = plt.get_cmap("viridis")
    L = len(monitor.layer_names)
    for i, name in enumerate(monitor.layer_names):
        axes[0].plot(x, np.maximum(h["grad_norm"][:, i], 1e-30), color=cmap(i / max(L - 1, 1)),
                     label=name if i in (0, L - 1) else None)
    axes[0].set_yscale("log")
    axes[0].set(xlabel="training step", ylabel="gradient norm (kernel)", title="per-layer gradient norm")
    axes[0].legend(fontsize=8, title="dark = first layer", title_fontsize=8)
    K = len(monitor.relu_names)
    if K:
        for k, name in enumerate(monitor.relu_names):
            axes[1].plot(x, h["dead_fraction"][:, k], color=cmap(k / max(K - 1, 1)), label=name)
        axes[1].set_ylim(-0.02, 1.02)
        axes[1].legend(fontsize=7, ncol=2)
    else:
        axes[1].text(0.5, 0.5, "no ReLU layers", ha="center", va="center", transform=axes[1].transAxes)
    axes[1].set(xlabel="training step", ylabel="fraction of dead units", title="dead ReLUs (probe batch)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_layer_stats(stats: Mapping[str, LayerStats], *, keys: Sequence[str] = ("act_std", "grad_norm"),
                     log: Sequence[str] = ("grad_norm",), axes=None):
    """Compare networks layer by layer: one panel per statistic, one line per network.

    stats: {label: LayerStats}. Returns the Figure; never calls ``plt.show()``.
    """
    if not isinstance(stats, Mapping):
        raise TypeError(f"stats must be a dict {{label: LayerStats}}, got {type(stats).__name__}.")
    if not stats:
        raise ValueError("stats is empty; pass {label: layer_stats(...)}.")
    wrong = {label: type(v).__name__ for label, v in stats.items() if not isinstance(v, LayerStats)}
    if wrong:
        raise TypeError(f"stats must map labels to LayerStats (from layer_stats(...)), got {wrong}.")
    allowed = ("grad_norm", "weight_norm", "act_mean", "act_std")
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    log = (log,) if isinstance(log, str) else tuple(log)
    for name, chosen in (("keys", keys), ("log", log)):
        bad = [k for k in chosen if k not in allowed]
        if bad:
            raise ValueError(f"{name} has unknown statistics {bad}; use grad_norm, weight_norm, act_mean or act_std.")
    if not keys:
        raise ValueError("keys is empty; name at least one statistic to plot.")
    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 3.5), squeeze=False)
        axes = axes[0]
    else:
        fig = np.atleast_1d(axes)[0].figure
    titles = {"grad_norm": "gradient norm (kernel)", "act_std": "activation std",
              "act_mean": "activation mean", "weight_norm": "weight norm"}
    for ax, key in zip(axes, keys):
        for label, s in stats.items():
            vals = getattr(s, key)
            ax.plot(np.arange(1, len(vals) + 1), np.maximum(vals, 1e-30) if key in log else vals,
                    marker="o", ms=3, label=label)
        if key in log:
            ax.set_yscale("log")
        ax.set(xlabel="layer (1 = first)", title=titles[key])
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
