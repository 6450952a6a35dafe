"""Training the recipe: :func:`train_recipe` and what it returns, :class:`RecipeResult`.

:func:`train_recipe` puts the recipe's pieces together: the network (:mod:`labkit.recipe.network`),
the optimiser and schedule (:mod:`~labkit.recipe.optimizers`, :mod:`~labkit.recipe.schedules`),
the input pipeline and test-time augmentation (:mod:`~labkit.recipe.augment`), the per-epoch log
(:class:`RecipeLog`) and the resumable backups (:mod:`~labkit.recipe.backup`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np

from labkit.recipe.augment import input_pipeline, predict_tta, to_float
from labkit.recipe.backup import BACKUP_FORMAT, RecipeBackup, backup_root, recipe_fingerprint
from labkit.recipe.network import CIFAR_MEAN, CIFAR_STD, INPUT_SHAPE, check_widths, recipe_net, whitening_kernel
from labkit.recipe.optimizers import AirbenchMuon, Lookahead
from labkit.recipe.precision import recipe_precision
from labkit.recipe.schedules import Triangle
from labkit.validation import check_array, check_int, check_labels, check_option, check_same_length

__all__ = ["train_recipe", "RecipeResult", "RecipeLog", "RECIPE_DEFAULTS", "MUON_PRESET"]

# --------------------------------------------------------------------------- settings
RECIPE_DEFAULTS: dict[str, Any] = dict(
    widths=(64, 128, 256), activation="relu", batch_size=512, optimizer="sgd", lr=10.0, momentum=0.85,
    weight_decay=0.015, label_smoothing=0.2, warmup=0.23, start_factor=0.2, end_factor=0.07, translate=2,
    flip=True, alternate_flip=True, lookahead=True, tta=2, whiten_bias_epochs=3, whiten=True, lr_decay=True,
    muon_lr=0.24, muon_momentum=0.6, muon_bias_lr=0.053, muon_head_lr=0.67, muon_decay=2e-6,
)
"""The recipe's settings (:func:`train_recipe` keywords). optimizer "sgd": airbench94's Nesterov SGD
(``lr``, ``momentum``, ``weight_decay`` in airbench94's units, triangular schedule, Lookahead);
"muon": airbench94_muon's (``muon_*``; see :data:`MUON_PRESET`). Two switches exist for ablations
(``benchmarks/bench_recipe_ablation.py``): ``whiten=False`` learns the 2x2 first layer from Keras'
default initialisation instead of freezing it at the patch-whitening filters, and ``lr_decay=False``
keeps every rate (but the whitening bias's) at its peak instead of decaying it."""

MUON_PRESET: dict[str, Any] = dict(batch_size=2000, activation="gelu", lookahead=False)
"""What ``optimizer="muon"`` changes besides the optimiser, as in airbench94_muon (reported to reach
airbench94's accuracy in 8 epochs instead of 9.9): batch 2000, GELU, no Lookahead. The conv kernels
step with Muon (``muon_lr`` per step, momentum ``muon_momentum``, no decay); biases and the head with
Nesterov SGD (momentum ``momentum``; ``muon_bias_lr``, ``muon_head_lr`` and ``muon_decay`` per
example); all rates decay linearly to 0, the whitening bias's within ``whiten_bias_epochs``. The net's
head is initialised with unit standard deviation and its logits scaled by 1/widths[-1]."""


# --------------------------------------------------------------------------- inputs, result, log
def _check_images(x: Any, name: str) -> np.ndarray:
    """Images for the recipe: (N, 32, 32, 3), uint8 pixels 0..255 or floats in [0, 1]."""
    arr = check_array(x, name, ndim=4, kind="numeric")
    if arr.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"{name} must be (N, 32, 32, 3) images, got an array of shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be uint8 pixels (0 .. 255) or floats in [0, 1], got dtype {arr.dtype}; "
                        f"convert pixels 0 .. 255 with {name}.astype(np.uint8).")
    lo, hi = float(arr.min()), float(arr.max())
    tol = 1e-5
    if lo >= -tol and 1 + tol < hi <= 255 + tol:
        raise ValueError(f"{name} holds floats up to {hi:g}, pixels in [0, 255], but the recipe expects floats "
                         f"in [0, 1] (it normalises them with the CIFAR-10 mean and std itself); pass uint8 pixels "
                         f"or scale them: {name} / 255.")
    if lo < -tol or hi > 1 + tol:
        raise ValueError(f"{name} holds values in [{lo:g}, {hi:g}]; the recipe expects uint8 pixels or floats in "
                         "[0, 1], before any normalisation (it normalises them itself).")
    return arr


def _check_recipe_labels(y: Any, name: str) -> np.ndarray:
    if getattr(y, "ndim", None) == 2 and y.shape[1] == 1:  # keras.datasets' (N, 1) labels
        y = np.asarray(y).reshape(-1)
    return check_labels(y, name, n_classes=10)


@dataclass
class RecipeResult:
    """What :func:`train_recipe` returns, for the whole run - over every session of a resumed one.

    ``train_seconds``: training time of all sessions (evaluation excluded); ``epochs`` and
    ``samples_seen``: all epochs trained; ``epoch_log``: one dict per epoch with the cumulative
    training seconds, train loss and, when evaluated, test accuracy; ``resumed_epochs``: how many of
    the epochs came from a backup (0: trained in this call)."""

    model: Any
    test_accuracy: float | None
    train_seconds: float
    epochs: int
    samples_seen: int
    precision: str
    epoch_log: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    resumed_epochs: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds else float("nan")

    def time_to_accuracy(self, target: float) -> float | None:
        """Training seconds until the first evaluated epoch with test accuracy >= target."""
        for e in self.epoch_log:
            if e.get("test_accuracy") is not None and e["test_accuracy"] >= target:
                return e["seconds"]
        return None


class RecipeLog(keras.callbacks.Callback):
    """:func:`train_recipe`'s per-epoch bookkeeping. At the start of an epoch: sets the alternating
    flip (``flip_all``, read by the input pipeline, whose iterator starts after this) and freezes the
    whitening bias from epoch ``whiten_bias_epochs`` on. At its end: appends a row to ``rows`` - the
    epoch (from 1), the cumulative training seconds of the whole run (evaluation excluded), loss,
    train accuracy and, every ``eval_every`` epochs, ``test_accuracy()`` - and reports it with ``say``.

    ``rows`` and ``prior_seconds`` (training seconds of earlier sessions) are reset in
    ``on_train_begin``; a :class:`RecipeBackup` listed after this callback refills them
    (:meth:`restore`) when it resumes a run."""

    def __init__(self, epochs: int, *, flip_all=None, whiten_bias_epochs: int = 3,
                 test_accuracy: Callable[[], float] | None = None, eval_every: int = 0,
                 say: Callable[[str], None] | None = None):
        super().__init__()
        self.epochs = int(epochs)
        self.flip_all = flip_all
        self.whiten_bias_epochs = int(whiten_bias_epochs)
        self.test_accuracy = test_accuracy
        self.eval_every = int(eval_every)
        self.say = say or (lambda s: None)
        self.rows: list[dict] = []
        self.prior_seconds = 0.0
        self.start, self.eval_seconds = None, 0.0

    def on_train_begin(self, logs=None):
        self.rows, self.prior_seconds = [], 0.0
        self.start, self.eval_seconds = None, 0.0

    def restore(self, rows: list[dict], seconds: float) -> None:
        self.rows, self.prior_seconds = [dict(r) for r in rows], float(seconds)

    def on_epoch_begin(self, epoch, logs=None):
        if self.start is None:  # after on_train_begin, so restoring a backup is not counted
            self.start = time.perf_counter()
        if self.flip_all is not None:
            self.flip_all.assign(epoch % 2 == 1)
        whiten_bias = self.model.get_layer("whiten_bias")
        if epoch >= self.whiten_bias_epochs and float(whiten_bias.gate.numpy()) > 0:
            whiten_bias.freeze()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.prior_seconds + time.perf_counter() - self.start - self.eval_seconds
        row = {"epoch": epoch + 1, "seconds": seconds, "loss": float(logs["loss"]),
               "train_accuracy": float(logs["accuracy"]), "test_accuracy": None}
        if self.test_accuracy and self.eval_every and (epoch + 1) % self.eval_every == 0 and epoch + 1 < self.epochs:
            t = time.perf_counter()
            row["test_accuracy"] = self.test_accuracy()
            self.eval_seconds += time.perf_counter() - t
        self.rows.append(row)
        acc = "" if row["test_accuracy"] is None else f" - test acc {row['test_accuracy']:.4f}"
        self.say(f"epoch {epoch + 1}/{self.epochs} - loss {row['loss']:.4f} - train acc {row['train_accuracy']:.4f}"
                 f"{acc} - {row['seconds']:.0f} s")


def train_recipe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, *, epochs: int = 8, precision: str = "auto",
                 eval_every: int = 0, backup_dir: str | os.PathLike | bool | None = None, seed: int = 0,
                 log: Callable[[str], None] | None = print, callbacks: list | None = None,
                 **overrides: Any) -> RecipeResult:
    """Train the recipe network on CIFAR-style data and (optionally) evaluate it with TTA.

    Args:
        x_train: (N, 32, 32, 3) images, uint8 pixels 0..255 or floats in [0, 1] (the recipe
            normalises them itself; floats in [0, 255] are refused).
        y_train: (N,) (or (N, 1)) whole-number labels 0..9.
        x_test, y_test: both or neither; evaluated with test-time augmentation at the end.
        epochs: passes over the training set (the schedule spans them all).
        eval_every: evaluate on the test set every k epochs (0: only at the end); its time is
            excluded from ``train_seconds``.
        backup_dir: back the run up after every epoch, so that a run interrupted and called again
            with the same data and settings resumes after its last completed epoch. None (default):
            no backup; True: the per-user folder :func:`recipe_backup_root`
            (``~/.cache/labkit/backups``); or a folder of your own. It must be yours and not
            writable by others (created with mode 0o700 if missing); otherwise a warning says so and
            the run trains without a backup. Each run backs up into its own sub-folder
            ``recipe-<fingerprint>``, keyed by a SHA-256 of the training data and of every setting
            that shapes the run (epochs, seed, precision, batch size and every recipe setting), so
            other data or settings never resume it. Keras' ``BackupAndRestore`` saves and restores
            the state; labkit adds a record with the fingerprint, the weights' SHA-256 and the run's
            totals, checks it before loading, and sets a backup that fails a check or that Keras
            cannot load aside (a ``RuntimeWarning`` names it and why) and trains from scratch. The
            folder is deleted when the run finishes. A resumed run restores the weights, the
            optimiser and the schedule, not the data order, and restarts the Lookahead average.
        seed: the seed of the weights, the data order and the augmentation.
        log: called with one line per epoch (None: silent).
        callbacks: more Keras callbacks, run after the recipe's own (after the backup).
        **overrides: any key of :data:`RECIPE_DEFAULTS`.

    Returns:
        A :class:`RecipeResult` for the whole run (all sessions of a resumed one).

    Raises:
        TypeError: an argument of the wrong type (float epochs, int64 or string images...).
        ValueError: a wrong value (unknown setting, labels outside 0..9 or fractional, images of
            the wrong shape or range, different numbers of images and labels...).
    """
    unknown = set(overrides) - set(RECIPE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown recipe setting(s) {sorted(unknown)}; known: {sorted(RECIPE_DEFAULTS)}.")
    epochs = check_int(epochs, "epochs", min_val=1)
    eval_every = check_int(eval_every, "eval_every", min_val=0)
    seed = check_int(seed, "seed", min_val=0)
    if log is not None and not callable(log):
        raise TypeError(f"log must be a function of one string (such as print) or None, got {log!r}.")
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of Keras callbacks or None, got {type(callbacks).__name__}.")
    if backup_dir is False:
        backup_dir = None
    if backup_dir is not None and backup_dir is not True and not isinstance(backup_dir, (str, os.PathLike)):
        raise TypeError(f"backup_dir must be a folder (str or path), True (the per-user folder) or None, got "
                        f"{backup_dir!r} of type {type(backup_dir).__name__}.")
    optimizer = check_option(overrides.get("optimizer", RECIPE_DEFAULTS["optimizer"]), "optimizer", ("sgd", "muon"))
    muon = optimizer == "muon"
    cfg = {**RECIPE_DEFAULTS, **(MUON_PRESET if muon else {}), **overrides}
    widths = check_widths(cfg["widths"], 3, "widths")
    batch_size = check_int(cfg["batch_size"], "batch_size", min_val=1)
    x_raw = _check_images(x_train, "x_train")
    ytr = _check_recipe_labels(y_train, "y_train")
    check_same_length(x_train=x_raw, y_train=ytr)
    if (x_test is None) != (y_test is None):
        raise ValueError("pass both x_test and y_test (to evaluate), or neither.")
    evaluate = x_test is not None
    if evaluate:
        x_test = _check_images(x_test, "x_test")
        y_test = _check_recipe_labels(y_test, "y_test")
        check_same_length(x_test=x_test, y_test=y_test)
    num_classes = 10
    policy = recipe_precision(precision)
    xtr = to_float(x_raw)
    bs = min(batch_size, len(xtr))
    steps_per_epoch = len(xtr) // bs  # drop the last partial batch (batch norm dislikes tiny batches)
    say = log or (lambda s: None)
    # every setting that shapes the run: the key of its backup
    settings = {**cfg, "widths": list(widths), "batch_size": bs, "epochs": epochs, "seed": seed,
                "precision": policy, "num_classes": num_classes, "format": BACKUP_FORMAT}

    keras.utils.set_random_seed(seed)
    norm = (xtr[: min(len(xtr), 5000)] - np.array(CIFAR_MEAN, "float32")) / np.array(CIFAR_STD, "float32")
    model = recipe_net(widths, whiten=whitening_kernel(norm) if cfg["whiten"] else None,
                       train_stem=not cfg["whiten"], num_classes=num_classes,
                       activation=cfg["activation"], precision=policy, bias_scale=1.0 if muon else 64.0,
                       logit_scale=1 / widths[-1] if muon else 1 / 9, head_std=1.0 if muon else None)
    total_steps = steps_per_epoch * epochs
    if muon:
        opt, extra = _recipe_muon(model, cfg, bs, total_steps, steps_per_epoch * int(cfg["whiten_bias_epochs"]))
    else:
        opt, extra = _recipe_sgd(model, cfg, bs, total_steps)
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg["label_smoothing"])
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    ds, flip_all = input_pipeline(xtr, ytr, num_classes, bs, cfg, seed)
    cfg = dict(cfg, **extra)

    def test_acc() -> float:
        assert x_test is not None  # RecipeLog gets test_acc only when evaluate (x_test given)
        logits = predict_tta(model, x_test, tta=cfg["tta"])
        return float(np.mean(np.argmax(logits, 1) == y_test))

    progress = RecipeLog(epochs, flip_all=flip_all, whiten_bias_epochs=int(cfg["whiten_bias_epochs"]),
                         test_accuracy=test_acc if evaluate else None, eval_every=eval_every, say=say)
    # the Lookahead sets the averaged weights at the end of an epoch: before evaluation and backup
    cbs = [Lookahead(int(0.3 * total_steps), total_steps)] if cfg["lookahead"] else []
    cbs.append(progress)
    backup = fingerprint = None
    if backup_dir is not None:
        root = backup_root(backup_dir)
        if root is not None:  # after the log (it saves its rows), before the caller's callbacks
            fingerprint = recipe_fingerprint(x_raw, ytr, settings)
            backup = RecipeBackup(root / f"recipe-{fingerprint[:16]}", fingerprint, settings, progress,
                                  steps_per_epoch * bs)
            cbs.append(backup)
    cbs += list(callbacks or [])
    model.fit(ds, epochs=epochs, verbose=0, callbacks=cbs, shuffle=False)
    log_rows = progress.rows
    train_seconds = log_rows[-1]["seconds"] if log_rows else 0.0
    acc = test_acc() if evaluate else None
    if log_rows and evaluate:
        log_rows[-1]["test_accuracy"] = acc
    done = len(log_rows)
    return RecipeResult(model, acc, train_seconds, done, done * steps_per_epoch * bs, policy, log_rows,
                        dict(cfg, epochs=epochs, batch_size=bs, steps_per_epoch=steps_per_epoch,
                             fingerprint=fingerprint, backup_path=None if backup is None else str(backup.path)),
                        resumed_epochs=backup.resumed_epochs if backup is not None else 0)


def _recipe_sgd(model, cfg: dict, bs: int, total_steps: int):
    """airbench94's optimiser: Nesterov SGD, triangular schedule, 64x rate for biases (ScaledBias)."""
    # airbench's "decoupled" hyper-parameters -> Keras SGD on a mean loss:
    # lr per 1024 examples divided by the Nesterov step amplification 1 + 1/(1 - momentum).
    momentum = float(cfg["momentum"])
    amplification = 1 + 1 / (1 - momentum)
    lr = cfg["lr"] / amplification * bs / 1024
    # Keras decays decoupled (w -= lr * wd * w, outside the momentum buffer); airbench's coupled
    # decay is amplified by the momentum like the gradient, so per step it shrinks w by
    # weight_decay * batch / 1024 (times the schedule): wd_keras = that / lr.
    wd = cfg["weight_decay"] * bs / 1024 / lr
    schedule = (Triangle(lr, total_steps, cfg["warmup"], cfg["start_factor"], cfg["end_factor"])
                if cfg["lr_decay"] else lr)
    opt = keras.optimizers.SGD(schedule, momentum=momentum, nesterov=True, weight_decay=wd)
    # airbench trains the whitening bias (at the 64x bias rate) for the first few epochs only; a
    # frozen bias must not decay either, so it is kept out of the weight decay throughout
    whiten_bias = model.get_layer("whiten_bias")
    opt.exclude_from_weight_decay(var_list=[whiten_bias.bias])
    return opt, dict(lr_keras=lr, weight_decay_keras=wd)


def _recipe_muon(model, cfg: dict, bs: int, total_steps: int, whiten_steps: int):
    """airbench94_muon's optimiser (:class:`~labkit.recipe.optimizers.AirbenchMuon`). Its SGD rates and
    decay are per example (PyTorch on a summed loss); on Keras' mean loss the rate is ``lr * batch``
    and the coupled decay ``decay / lr``, so a step shrinks a weight by ``decay * batch`` as there."""
    whiten_bias = model.get_layer("whiten_bias").bias
    decay = float(cfg["muon_decay"])
    main = "main" if cfg["lr_decay"] else "constant"
    groups = {}
    for v in model.trainable_weights:
        if v.path == whiten_bias.path:
            groups[v.path] = ("sgd", cfg["muon_bias_lr"] * bs, decay / cfg["muon_bias_lr"], "whiten")
        elif len(v.shape) == 4:
            groups[v.path] = ("muon", float(cfg["muon_lr"]), 0.0, main)
        elif v.path.startswith("head/"):
            groups[v.path] = ("sgd", cfg["muon_head_lr"] * bs, decay / cfg["muon_head_lr"], main)
        else:  # batch norm biases
            groups[v.path] = ("sgd", cfg["muon_bias_lr"] * bs, decay / cfg["muon_bias_lr"], main)
    opt = AirbenchMuon(groups, total_steps, whiten_steps, muon_momentum=float(cfg["muon_momentum"]),
                       sgd_momentum=float(cfg["momentum"]))
    return opt, dict(muon_groups={k: v[0] for k, v in groups.items()})
