"""Probe labkit's public functions with bad inputs and classify what each one does.

    .venv/bin/python tools/probe_inputs.py            # the counts and every non-clear case
    .venv/bin/python tools/probe_inputs.py -v         # also the clear ones, with their messages
    .venv/bin/python tools/probe_inputs.py -k monitor # only the cases whose id contains "monitor"

Every case in :data:`CASES` is a call with one bad argument and the outcome a user should
get: a ``TypeError`` (wrong type) or ``ValueError`` (wrong value, shape or range) whose
message names that argument. Each call is classified as

* ``clear``   - the expected exception, raised by labkit's own code, naming the argument;
* ``unclear`` - another exception, one raised deep inside NumPy/TensorFlow/Keras/...,
  the other one of TypeError/ValueError, or a message that does not name the argument;
* ``silent``  - accepted: it returned something (a plausible wrong result);
* ``crash``   - the process died (or hung past the time limit) running it;
* ``leak``    - it left something behind: a Python thread, an open file, a figure.

The cases run in a worker process; when a worker dies, the case it was running is a
``crash`` and a fresh worker goes on with the next case. ``tests/test_bad_inputs.py``
imports :data:`CASES` and :func:`classify` and asserts that every case is ``clear``.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OUTCOMES = ("clear", "unclear", "silent", "crash", "leak")
CASE_TIMEOUT_S = 120


@dataclass(frozen=True)
class Case:
    """One bad input: ``call()`` should raise ``expect`` with a message naming ``arg``."""

    id: str
    call: Callable[[], Any]
    arg: str
    expect: type[Exception]
    outcome: str = "clear"  # the expected outcome class (every case here expects "clear")


# --------------------------------------------------------------------------- fixtures (built lazily)
_RNG = np.random.default_rng(0)
X4 = _RNG.normal(size=(6, 4)).astype("float32")
Y3 = np.array([0, 1, 2, 0, 1, 2])
YBIN = np.array([0, 1, 0, 1, 1, 0])
SCORES = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3])
LOGITS2x3 = np.zeros((2, 3))
IMAGES = _RNG.uniform(size=(2, 8, 8, 3)).astype("float32")
REF = _RNG.normal(size=(200, 2))
GREY = _RNG.uniform(size=(2, 4, 4))


def _keras():
    import keras

    return keras


@functools.cache
def mlp():
    """Input (4,) -> Dense(3, relu) -> Dense(3) logits, compiled."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="hidden"),
                              keras.layers.Dense(3, name="logits")], name="probe_mlp")
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def build_mlp():
    """A fresh compiled tiny model (what the curve/optimiser functions take)."""
    keras = _keras()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@functools.cache
def cnn():
    """Input (8, 8, 3) -> Conv2D(2) relu -> global average -> Dense(3) logits."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, name="dense")(x)
    return keras.Model(inputs, outputs, name="probe_cnn")


@functools.cache
def sgd():
    return _keras().optimizers.SGD(0.01)


def xent():
    return _keras().losses.SparseCategoricalCrossentropy(from_logits=True)


@functools.cache
def layer_stats():
    from labkit import callbacks

    return callbacks.layer_stats(mlp(), X4, Y3)


def grad_monitor():
    from labkit import callbacks

    return callbacks.GradientStats(X4, Y3)


@functools.cache
def analysis():
    from labkit import errors

    return errors.error_analysis(np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2, 2, 1, 1, 0]))


@functools.cache
def learning_curve_result():
    from labkit import curves

    return curves.LearningCurve(np.array([2, 4]), np.array([0.1, 0.05]), np.array([0.3, 0.2]),
                                np.array([1.0, 1.0]))


@functools.cache
def loss_curve_result():
    from labkit import optim

    return optim.LossCurve("sgd", np.array([1.0, 0.5]), np.array([10, 20]), 10, 1.0, False, 1.2,
                           np.array([0.1, 0.1]))


@functools.cache
def drift_detector():
    from labkit import monitor

    return monitor.DriftDetector(REF)


@functools.cache
def trials():
    from labkit import tuning

    return [tuning.Trial("0", 0.5, 2.0, {"units": 8}), tuning.Trial("1", 0.6, 2.0, {"units": 16})]


@functools.cache
def two_layer():
    from labkit import scratch

    params = scratch.init_two_layer(4, 5, 3, seed=0)
    X = X4.astype(np.float64)
    logits, cache = scratch.two_layer_forward(params, X)
    return params, X, logits, cache


@functools.cache
def workdir() -> str:
    """A scratch folder for the tuner cases (removed when the process exits)."""
    path = tempfile.mkdtemp(prefix="labkit-probe-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@contextlib.contextmanager
def env(**values: str):
    """Set environment variables for one call."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def with_env(fn: Callable[[], Any], **values: str) -> Callable[[], Any]:
    def call():
        with env(**values):
            return fn()
    return call


def warm_up() -> None:
    """Import the heavy libraries and build the fixtures once, so that their threads,
    files and caches are not counted as a leak of the first case that needs them."""
    import ipywidgets  # noqa: F401
    import keras_tuner  # noqa: F401
    import matplotlib.pyplot as plt
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import tensorflow as tf

    import labkit.callbacks  # noqa: F401 - imports keras

    mlp().predict(X4, verbose=0)
    cnn().predict(IMAGES, verbose=0)
    layer_stats()
    tf.data.Dataset.from_tensor_slices(X4).batch(2)
    fig, ax = plt.subplots()  # loads (and keeps open) the fonts
    ax.plot([1, 2], label="warm-up")
    ax.set_title("warm-up")
    ax.legend()
    fig.canvas.draw()
    plt.close(fig)


# --------------------------------------------------------------------------- the cases
def _cases() -> list[Case]:  # noqa: PLR0915 - one long table
    from labkit import (
        callbacks,
        curves,
        diagnose,
        errors,
        filters,
        flops,
        imbalance,
        interpret,
        landscape,
        metrics,
        models,
        monitor,
        optim,
        plots,
        repro,
        results,
        scratch,
        synth,
        training,
        tuning,
    )
    from labkit.models import cifar, deep, mnist

    T, V = TypeError, ValueError
    out: list[Case] = []

    def c(id_: str, call: Callable[[], Any], arg: str, expect: type[Exception]) -> None:
        out.append(Case(id_, call, arg, expect))

    # ----------------------------------------------------------------- curves
    er, ce = curves.error_rate, curves.cross_entropy
    c("curves.error_rate: 2 labels, 3 output rows", lambda: er([0, 1], np.zeros((3, 2))), "outputs", V)
    c("curves.error_rate: string labels", lambda: er(["a", "b"], np.zeros((2, 2))), "y_true", T)
    c("curves.error_rate: string outputs", lambda: er([0, 1], [["a", "b"], ["c", "d"]]), "outputs", T)
    c("curves.error_rate: None labels", lambda: er(None, np.zeros((2, 2))), "y_true", T)
    c("curves.error_rate: no examples", lambda: er([], np.zeros((0, 2))), "y_true", V)
    c("curves.error_rate: fractional labels", lambda: er([0.5, 1.0], np.zeros((2, 2))), "y_true", V)
    c("curves.error_rate: label -1", lambda: er([-1, 0], LOGITS2x3), "y_true", V)
    c("curves.error_rate: label 5 of 3 classes", lambda: er([0, 5], LOGITS2x3), "y_true", V)
    c("curves.error_rate: NaN outputs", lambda: er([0, 1], [[np.nan, 0.0], [0.0, 1.0]]), "outputs", V)
    c("curves.error_rate: 3-D labels", lambda: er(np.zeros((2, 2, 2)), LOGITS2x3[:2]), "y_true", V)
    c("curves.error_rate: 3-D outputs", lambda: er([0, 1], np.zeros((2, 2, 2))), "outputs", V)
    c("curves.error_rate: from_logits='yes'", lambda: er([0, 1], np.zeros((2, 2)), from_logits="yes"),
      "from_logits", T)
    c("curves.cross_entropy: label -1", lambda: ce([-1, 0], LOGITS2x3), "y_true", V)
    c("curves.cross_entropy: fractional labels", lambda: ce([0.5, 1.0], LOGITS2x3), "y_true", V)
    c("curves.cross_entropy: label 3 of 3 classes", lambda: ce([0, 3], LOGITS2x3), "y_true", V)
    c("curves.cross_entropy: 2 labels, 3 output rows", lambda: ce([0, 1], np.zeros((3, 2))), "outputs", V)
    c("curves.cross_entropy: string labels", lambda: ce(["a", "b"], LOGITS2x3), "y_true", T)
    c("curves.cross_entropy: probabilities outside [0, 1]",
      lambda: ce([0, 1], [[0.5], [2.0]], from_logits=False), "outputs", V)
    c("curves.cross_entropy: probability rows not summing to 1",
      lambda: ce([0, 1], [[0.2, 0.3], [0.1, 0.1]], from_logits=False), "outputs", V)
    c("curves.cross_entropy: label 2 for one binary output", lambda: ce([0, 2], [[0.1], [0.3]]), "y_true", V)
    c("curves.cross_entropy: NaN outputs", lambda: ce([0, 1], [[np.nan, 0.0], [0.0, 1.0]]), "outputs", V)
    c("curves.cross_entropy: from_logits=1", lambda: ce([0, 1], np.zeros((2, 2)), from_logits=1),
      "from_logits", T)

    xt, yt, xv, yv = X4, Y3, X4[:3], Y3[:3]

    def lc(**kw):
        args = dict(build_model=build_mlp, x_train=xt, y_train=yt, x_val=xv, y_val=yv, train_sizes=[3, 6],
                    epochs=1, batch_size=4)
        args.update(kw)
        return lambda: curves.learning_curve(**args)

    def vc(**kw):
        args = dict(build_model=lambda v: build_mlp(), param_values=[0.0, 0.1], x_train=xt, y_train=yt,
                    x_val=xv, y_val=yv, epochs=1, batch_size=4)
        args.update(kw)
        return lambda: curves.validation_curve(**args)

    c("curves.learning_curve: decreasing train_sizes", lc(train_sizes=[6, 3]), "train_sizes", V)
    c("curves.learning_curve: string train_sizes", lc(train_sizes=["a", "b"]), "train_sizes", T)
    c("curves.learning_curve: train_sizes above the pool", lc(train_sizes=[3, 60]), "train_sizes", V)
    c("curves.learning_curve: epochs=0", lc(epochs=0), "epochs", V)
    c("curves.learning_curve: epochs=2.5", lc(epochs=2.5), "epochs", T)
    c("curves.learning_curve: batch_size='32'", lc(batch_size="32"), "batch_size", T)
    c("curves.learning_curve: seed=-1", lc(seed=-1), "seed", V)
    c("curves.learning_curve: y_train one short", lc(y_train=yt[:-1]), "y_train", V)
    c("curves.learning_curve: y_val one short", lc(y_val=yv[:-1]), "y_val", V)
    c("curves.learning_curve: empty x_val", lc(x_val=xv[:0], y_val=yv[:0]), "x_val", V)
    c("curves.learning_curve: error='mse'", lc(error="mse"), "error", V)
    c("curves.learning_curve: build_model not callable", lc(build_model="mlp"), "build_model", T)
    c("curves.learning_curve: fit_kwargs a string", lc(fit_kwargs="verbose"), "fit_kwargs", T)
    c("curves.learning_curve: verbose='yes'", lc(verbose="yes"), "verbose", T)
    c("curves.learning_curve: from_logits='no'", lc(from_logits="no"), "from_logits", T)
    c("curves.learning_curve: shuffle_seed=1.5", lc(shuffle_seed=1.5), "shuffle_seed", T)
    c("curves.validation_curve: no param_values", vc(param_values=[]), "param_values", V)
    c("curves.validation_curve: param_values=5", vc(param_values=5), "param_values", T)
    c("curves.validation_curve: seed=-1", vc(seed=-1), "seed", V)
    c("curves.validation_curve: fit_kwargs a string", vc(fit_kwargs="x"), "fit_kwargs", T)
    c("curves.validation_curve: build_model not callable", vc(build_model=None), "build_model", T)
    c("curves.validation_curve: param_name=3", vc(param_name=3), "param_name", T)
    c("curves.validation_curve: y_train one short", vc(y_train=yt[:-1]), "y_train", V)

    # ----------------------------------------------------------------- metrics
    br = metrics.binary_report
    c("metrics.binary_report: label 2", lambda: br([0, 1, 2], [0.1, 0.2, 0.3]), "y_true", V)
    c("metrics.binary_report: string labels", lambda: br(["a", "b"], [0.1, 0.2]), "y_true", T)
    c("metrics.binary_report: None labels", lambda: br(None, [0.1]), "y_true", T)
    c("metrics.binary_report: 2 labels, 3 scores", lambda: br([0, 1], [0.1, 0.2, 0.3]), "y_score", V)
    c("metrics.binary_report: threshold='0.5'", lambda: br([0, 1], [0.1, 0.2], threshold="0.5"), "threshold", T)
    c("metrics.binary_report: threshold=True", lambda: br([0, 1], [0.1, 0.2], threshold=True), "threshold", T)
    c("metrics.binary_report: threshold 1.5 for probabilities", lambda: br([0, 1], [0.1, 0.2], 1.5),
      "threshold", V)
    c("metrics.binary_report: threshold NaN", lambda: br([0, 1], [0.1, 0.2], np.nan), "threshold", V)
    c("metrics.binary_report: NaN score", lambda: br([0, 1], [0.1, np.nan]), "y_score", V)
    c("metrics.binary_report: kind='prob'", lambda: br([0, 1], [0.1, 0.2], kind="prob"), "kind", V)
    c("metrics.binary_report: kind=1", lambda: br([0, 1], [0.1, 0.2], kind=1), "kind", T)
    c("metrics.binary_report: warn='no'", lambda: br([0, 1], [0.1, 0.9], warn="no"), "warn", T)
    c("metrics.binary_report: no examples", lambda: br([], []), "y_true", V)
    c("metrics.binary_report: 2-column scores", lambda: br([0, 1], [[0.1, 0.2], [0.3, 0.4]]), "y_score", V)
    c("metrics.binary_report: probabilities declared, logits given",
      lambda: br([0, 1], [-2.0, 3.0], kind="probability"), "y_score", V)
    pr = metrics.pr_curve
    c("metrics.pr_curve: 2 labels, 1 score", lambda: pr([0, 1], [0.1]), "y_score", V)
    c("metrics.pr_curve: string scores", lambda: pr([0, 1], ["a", "b"]), "y_score", T)
    c("metrics.pr_curve: drop_intermediate='yes'", lambda: pr([0, 1], [0.1, 0.2], drop_intermediate="yes"),
      "drop_intermediate", T)
    c("metrics.pr_curve: label 3", lambda: pr([0, 3], [0.1, 0.2]), "y_true", V)
    bt = metrics.best_threshold
    c("metrics.best_threshold: objective='auc'", lambda: bt(YBIN, SCORES, "auc"), "objective", V)
    c("metrics.best_threshold: objective=None", lambda: bt(YBIN, SCORES, None), "objective", T)
    c("metrics.best_threshold: recall without min_precision", lambda: bt(YBIN, SCORES, "recall"),
      "min_precision", V)
    c("metrics.best_threshold: min_precision=1.5", lambda: bt(YBIN, SCORES, "recall", min_precision=1.5),
      "min_precision", V)
    c("metrics.best_threshold: min_precision='0.9'", lambda: bt(YBIN, SCORES, "recall", min_precision="0.9"),
      "min_precision", T)
    c("metrics.best_threshold: min_recall=True", lambda: bt(YBIN, SCORES, "precision", min_recall=True),
      "min_recall", T)
    c("metrics.best_threshold: no positive label", lambda: bt([0, 0, 0], [0.1, 0.2, 0.3]), "y_true", V)
    c("metrics.best_threshold: 6 labels, 5 scores", lambda: bt(YBIN, SCORES[:5]), "y_score", V)
    mr = metrics.multiclass_report
    c("metrics.multiclass_report: 3 labels, 2 predictions", lambda: mr([0, 1, 2], [0, 1]), "y_pred", V)
    c("metrics.multiclass_report: one class name", lambda: mr([0, 1], [0, 1], class_names=["a"]),
      "class_names", V)
    c("metrics.multiclass_report: label 5 with 2 class names", lambda: mr([0, 5], [0, 1], class_names=["a", "b"]),
      "y_true", V)
    c("metrics.multiclass_report: prediction 4 with 2 class names",
      lambda: mr([0, 1], [0, 4], class_names=["a", "b"]), "y_pred", V)
    c("metrics.multiclass_report: negative label", lambda: mr([0, -1], [0, 1]), "y_true", V)
    c("metrics.multiclass_report: fractional labels", lambda: mr([0.5, 1.0], [0, 1]), "y_true", V)
    c("metrics.multiclass_report: string labels", lambda: mr(["a", "b"], [0, 1]), "y_true", T)
    c("metrics.multiclass_report: class_names a string", lambda: mr([0, 1], [0, 1], class_names="ab"),
      "class_names", T)
    c("metrics.multiclass_report: class_names=5", lambda: mr([0, 1], [0, 1], class_names=5), "class_names", T)
    c("metrics.multiclass_report: 3 vs 4 columns", lambda: mr(np.eye(3)[[0, 1]], np.zeros((2, 4))), "y_pred", V)
    c("metrics.to_labels: strings", lambda: metrics.to_labels("abc"), "y", T)
    c("metrics.to_labels: one column", lambda: metrics.to_labels([[1.0], [0.0]]), "y", V)
    c("metrics.to_labels: label 5 of num_classes 3", lambda: metrics.to_labels([0, 5], num_classes=3), "y", V)
    c("metrics.to_labels: num_classes=0", lambda: metrics.to_labels([0, 1], num_classes=0), "num_classes", V)
    c("metrics.to_labels: name=3", lambda: metrics.to_labels([0, 1], name=3), "name", T)
    c("metrics.softmax: strings", lambda: metrics.softmax("abc"), "logits", T)
    c("metrics.softmax: axis 2 of a 2-D array", lambda: metrics.softmax(LOGITS2x3, axis=2), "axis", V)
    c("metrics.softmax: empty", lambda: metrics.softmax([]), "logits", V)
    c("metrics.softmax: axis=1.5", lambda: metrics.softmax(LOGITS2x3, axis=1.5), "axis", T)
    c("metrics.sigmoid: strings", lambda: metrics.sigmoid(["a"]), "x", T)
    ev = metrics.evaluate
    c("metrics.evaluate: y one short", lambda: ev(mlp(), X4, Y3[:-1]), "y", V)
    c("metrics.evaluate: batch_size=0", lambda: ev(mlp(), X4, Y3, batch_size=0), "batch_size", V)
    c("metrics.evaluate: batch_size=2.5", lambda: ev(mlp(), X4, Y3, batch_size=2.5), "batch_size", T)
    c("metrics.evaluate: output='bin'", lambda: ev(mlp(), X4, Y3, output="bin"), "output", V)
    c("metrics.evaluate: threshold='a'", lambda: ev(mlp(), X4, Y3, threshold="a"), "threshold", T)
    c("metrics.evaluate: from_logits='yes'", lambda: ev(mlp(), X4, Y3, from_logits="yes"), "from_logits", T)
    c("metrics.evaluate: model a string", lambda: ev("model", X4, Y3), "model", T)
    c("metrics.evaluate: no examples", lambda: ev(mlp(), X4[:0], Y3[:0]), "x", V)
    c("metrics.evaluate: output='binary' for 3 units", lambda: ev(mlp(), X4, Y3, output="binary"), "output", V)
    c("metrics.evaluate: label 7 for 3 output units", lambda: ev(mlp(), X4, np.array([0, 1, 2, 0, 1, 7])),
      "y", V)

    # ----------------------------------------------------------------- errors
    ea = errors.error_analysis
    yt6, yp6 = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2, 2, 1, 1, 0])
    c("errors.error_analysis: 3 labels, 2 predictions", lambda: ea([0, 1, 2], [0, 1]), "y_pred_or_scores", V)
    c("errors.error_analysis: n=0", lambda: ea(yt6, yp6, n=0), "n", V)
    c("errors.error_analysis: n=2.5", lambda: ea(yt6, yp6, n=2.5), "n", T)
    c("errors.error_analysis: seed=-1", lambda: ea(yt6, yp6, seed=-1), "seed", V)
    c("errors.error_analysis: seed='0'", lambda: ea(yt6, yp6, seed="0"), "seed", T)
    c("errors.error_analysis: x of 5 rows", lambda: ea(yt6, yp6, x=np.zeros((5, 2))), "x", V)
    c("errors.error_analysis: one class name for 3 classes", lambda: ea(yt6, yp6, class_names=["a"]),
      "class_names", V)
    c("errors.error_analysis: class_names a string", lambda: ea(yt6, yp6, class_names="abc"), "class_names", T)
    c("errors.error_analysis: string labels", lambda: ea(["a", "b"], [0, 1]), "y_true", T)
    c("errors.error_analysis: fractional labels", lambda: ea([0.5, 1.0], [0, 1]), "y_true", V)
    c("errors.ErrorAnalysis.tag: empty category", lambda: analysis().tag(1, ""), "category", V)
    c("errors.ErrorAnalysis.tag: category=5", lambda: analysis().tag(1, 5), "category", T)
    c("errors.ErrorAnalysis.tag: index=2.5", lambda: analysis().tag(2.5, "blurry"), "index", T)
    c("errors.ErrorAnalysis.tag: index not an error", lambda: analysis().tag(0, "blurry"), "index", V)
    c("errors.ErrorAnalysis.tag: index=True", lambda: analysis().tag(True, "blurry"), "index", T)
    c("errors.ErrorAnalysis.category_counts: normalize='yes'",
      lambda: analysis().category_counts(normalize="yes"), "normalize", T)
    pe = errors.plot_errors
    c("errors.plot_errors: x of 5 rows", lambda: pe(analysis(), np.zeros((5, 4, 4))), "x", V)
    c("errors.plot_errors: index 999", lambda: pe(analysis(), np.zeros((6, 4, 4)), indices=[999]), "indices", V)
    c("errors.plot_errors: max_images=0", lambda: pe(analysis(), np.zeros((6, 4, 4)), max_images=0),
      "max_images", V)
    c("errors.plot_errors: analysis a string", lambda: pe("ea", np.zeros((6, 4, 4))), "analysis", T)
    c("errors.plot_errors: ncols=0", lambda: pe(analysis(), np.zeros((6, 4, 4)), ncols=0), "ncols", V)

    # ----------------------------------------------------------------- callbacks
    df = callbacks.dead_fraction
    c("callbacks.dead_fraction: 0 rows", lambda: df(np.zeros((0, 4))), "activations", V)
    c("callbacks.dead_fraction: 0 units", lambda: df(np.zeros((4, 0))), "activations", V)
    c("callbacks.dead_fraction: 1-D", lambda: df([1.0, 2.0]), "activations", V)
    c("callbacks.dead_fraction: strings", lambda: df([["a", "b"]]), "activations", T)
    c("callbacks.dead_fraction: NaN", lambda: df([[np.nan, 1.0], [0.0, 1.0]]), "activations", V)
    ls = callbacks.layer_stats
    c("callbacks.layer_stats: y one short", lambda: ls(mlp(), X4, Y3[:-1]), "y", V)
    c("callbacks.layer_stats: empty batch", lambda: ls(mlp(), X4[:0], Y3[:0]), "x", V)
    c("callbacks.layer_stats: training='yes'", lambda: ls(mlp(), X4, Y3, training="yes"), "training", T)
    c("callbacks.layer_stats: loss='mse'", lambda: ls(mlp(), X4, Y3, loss="mse"), "loss", T)
    c("callbacks.layer_stats: model a string", lambda: ls("model", X4, Y3), "model", T)
    c("callbacks.layer_stats: label 7 for 3 logits", lambda: ls(mlp(), X4, np.array([0, 1, 2, 0, 1, 7])), "y", V)
    gs = callbacks.GradientStats
    c("callbacks.GradientStats: every=0", lambda: gs(X4, Y3, every=0), "every", V)
    c("callbacks.GradientStats: every=1.5", lambda: gs(X4, Y3, every=1.5), "every", T)
    c("callbacks.GradientStats: unit='step'", lambda: gs(X4, Y3, unit="step"), "unit", V)
    c("callbacks.GradientStats: empty probe", lambda: gs(X4[:0], Y3[:0]), "x_probe", V)
    c("callbacks.GradientStats: y_probe one short", lambda: gs(X4, Y3[:-1]), "y_probe", V)
    c("callbacks.GradientStats: training=1", lambda: gs(X4, Y3, training=1), "training", T)
    c("callbacks.GradientStats: loss='mse'", lambda: gs(X4, Y3, loss="mse"), "loss", T)
    c("callbacks.GradientStats.history: nothing recorded", lambda: grad_monitor().history, "monitor", V)
    c("callbacks.plot_gradient_stats: a string", lambda: callbacks.plot_gradient_stats("m"), "monitor", T)
    c("callbacks.plot_gradient_stats: nothing recorded",
      lambda: callbacks.plot_gradient_stats(grad_monitor()), "monitor", V)
    pls = callbacks.plot_layer_stats
    c("callbacks.plot_layer_stats: empty", lambda: pls({}), "stats", V)
    c("callbacks.plot_layer_stats: keys=['foo']", lambda: pls({"a": layer_stats()}, keys=["foo"]), "keys", V)
    c("callbacks.plot_layer_stats: a list", lambda: pls([layer_stats()]), "stats", T)
    c("callbacks.plot_layer_stats: values not LayerStats", lambda: pls({"a": "stats"}), "stats", T)
    c("callbacks.plot_layer_stats: log=['foo']", lambda: pls({"a": layer_stats()}, log=["foo"]), "log", V)
    c("callbacks.kernel_layers: a string", lambda: callbacks.kernel_layers("m"), "model", T)
    c("callbacks.relu_layers: an int", lambda: callbacks.relu_layers(5), "model", T)

    # ----------------------------------------------------------------- scratch
    s = scratch
    c("scratch.entropy: values outside [0, 1]", lambda: s.entropy([-0.5, 1.5]), "p", V)
    c("scratch.entropy: strings", lambda: s.entropy(["a"]), "p", T)
    c("scratch.entropy: axis 1 of a 1-D array", lambda: s.entropy([0.5, 0.5], axis=1), "axis", V)
    c("scratch.entropy: NaN", lambda: s.entropy([np.nan, 1.0]), "p", V)
    c("scratch.entropy: empty", lambda: s.entropy([]), "p", V)
    c("scratch.kl_divergence: shapes differ", lambda: s.kl_divergence([0.5, 0.5], [0.5, 0.3, 0.2]), "q", V)
    c("scratch.kl_divergence: p outside [0, 1]", lambda: s.kl_divergence([-0.1, 1.1], [0.5, 0.5]), "p", V)
    c("scratch.kl_divergence: q outside [0, 1]", lambda: s.kl_divergence([0.5, 0.5], [-0.5, 1.5]), "q", V)
    c("scratch.kl_divergence: string p", lambda: s.kl_divergence("ab", [1.0]), "p", T)
    c("scratch.kl_divergence: NaN q", lambda: s.kl_divergence([0.5, 0.5], [np.nan, 0.5]), "q", V)
    c("scratch.sigmoid: strings", lambda: s.sigmoid("a"), "z", T)
    c("scratch.sigmoid: None", lambda: s.sigmoid(None), "z", T)
    c("scratch.relu: None", lambda: s.relu(None), "z", T)
    c("scratch.sigmoid_prime: strings", lambda: s.sigmoid_prime(["x"]), "z", T)
    c("scratch.softmax: empty", lambda: s.softmax([]), "z", V)
    c("scratch.softmax: axis 3 of a 2-D array", lambda: s.softmax([[1.0, 2.0]], axis=3), "axis", V)
    c("scratch.log_softmax: strings", lambda: s.log_softmax("a"), "z", T)
    c("scratch.logsumexp: axis 2 of a 2-D array", lambda: s.logsumexp([[1.0]], axis=2), "axis", V)
    c("scratch.logsumexp: keepdims='yes'", lambda: s.logsumexp([[1.0]], keepdims="yes"), "keepdims", T)
    cefl = s.cross_entropy_from_logits
    c("scratch.cross_entropy_from_logits: label 3 of 3", lambda: cefl(LOGITS2x3, [0, 3]), "y", V)
    c("scratch.cross_entropy_from_logits: fractional labels", lambda: cefl(LOGITS2x3, [0.5, 1.0]), "y", V)
    c("scratch.cross_entropy_from_logits: label -1", lambda: cefl(LOGITS2x3, [-1, 0]), "y", V)
    c("scratch.cross_entropy_from_logits: 1 label, 2 rows", lambda: cefl(LOGITS2x3, [0]), "y", V)
    c("scratch.cross_entropy_from_logits: 1-D logits", lambda: cefl([1.0, 2.0, 3.0], [0]), "logits", V)
    c("scratch.cross_entropy_from_logits: string logits", lambda: cefl([["a"]], [0]), "logits", T)
    c("scratch.cross_entropy_from_logits: no examples", lambda: cefl(np.zeros((0, 3)), []), "logits", V)
    c("scratch.cross_entropy_from_logits: 2-D labels", lambda: cefl(LOGITS2x3, [[0], [1]]), "y", V)
    c("scratch.cross_entropy_from_logits: NaN logits", lambda: cefl([[np.nan, 0.0, 0.0]], [0]), "logits", V)
    A, W, b = np.ones((2, 3)), np.ones((3, 2)), np.zeros(2)
    c("scratch.dense: W does not chain", lambda: s.dense(A, np.ones((4, 2)), b, s.relu), "W", V)
    c("scratch.dense: g a string", lambda: s.dense(A, W, b, "relu"), "g", T)
    c("scratch.dense: string A", lambda: s.dense("A", W, b, s.relu), "A", T)
    c("scratch.dense: 2-D b", lambda: s.dense(A, W, np.zeros((1, 2)), s.relu), "b", V)
    c("scratch.sequential: no layers", lambda: s.sequential(A, []), "layers", V)
    c("scratch.sequential: a layer of 2 items", lambda: s.sequential(A, [(W, b)]), "layers", V)
    c("scratch.sequential: layers a string", lambda: s.sequential(A, "abc"), "layers", T)
    f0 = lambda v: float(np.sum(v ** 2))  # noqa: E731
    ng = s.numerical_gradient
    c("scratch.numerical_gradient: x a list", lambda: ng(f0, [1.0, 2.0]), "x", T)
    c("scratch.numerical_gradient: integer x", lambda: ng(f0, np.array([1, 2])), "x", T)
    c("scratch.numerical_gradient: eps=0", lambda: ng(f0, np.array([1.0, 2.0]), eps=0), "eps", V)
    c("scratch.numerical_gradient: eps='a'", lambda: ng(f0, np.array([1.0, 2.0]), eps="a"), "eps", T)
    c("scratch.numerical_gradient: f a string", lambda: ng("f", np.array([1.0, 2.0])), "f", T)
    c("scratch.numerical_gradient: f returns an array", lambda: ng(lambda v: v * 2, np.array([1.0, 2.0])), "f", T)
    c("scratch.relative_error: shapes differ", lambda: s.relative_error([1.0, 2.0], [1.0, 2.0, 3.0]), "b", V)
    c("scratch.relative_error: string a", lambda: s.relative_error("a", [1.0]), "a", T)
    c("scratch.relative_error: NaN b", lambda: s.relative_error([1.0, 2.0], [np.nan, 2.0]), "b", V)
    il = s.init_two_layer
    c("scratch.init_two_layer: n_in=0", lambda: il(0, 3, 2), "n_in", V)
    c("scratch.init_two_layer: n_in=2.5", lambda: il(2.5, 3, 2), "n_in", T)
    c("scratch.init_two_layer: n_hidden=True", lambda: il(2, True, 2), "n_hidden", T)
    c("scratch.init_two_layer: seed=-1", lambda: il(2, 3, 2, seed=-1), "seed", V)
    c("scratch.init_two_layer: seed='a'", lambda: il(2, 3, 2, seed="a"), "seed", T)
    c("scratch.init_two_layer: integer dtype", lambda: il(2, 3, 2, dtype=np.int32), "dtype", V)
    c("scratch.two_layer_forward: X of 3 features for 4 inputs",
      lambda: s.two_layer_forward(two_layer()[0], np.ones((2, 3))), "X", V)
    c("scratch.two_layer_forward: params missing W1", lambda: s.two_layer_forward({}, np.ones((2, 4))), "params", V)
    c("scratch.two_layer_forward: params a string", lambda: s.two_layer_forward("p", np.ones((2, 4))), "params", T)
    c("scratch.two_layer_forward: 1-D X", lambda: s.two_layer_forward(two_layer()[0], np.ones(4)), "X", V)
    c("scratch.two_layer_loss: label 5 of 3", lambda: s.two_layer_loss(two_layer()[0], two_layer()[1],
                                                                        np.array([0, 1, 2, 0, 1, 5])), "y", V)
    c("scratch.two_layer_backward: label -1", lambda: s.two_layer_backward(
        two_layer()[0], two_layer()[3], two_layer()[2], np.array([0, 1, 2, 0, 1, -1])), "y", V)
    c("scratch.two_layer_backward: cache a string", lambda: s.two_layer_backward(
        two_layer()[0], "cache", two_layer()[2], Y3), "cache", T)
    c("scratch.two_layer_backward: 5 labels for 6 rows", lambda: s.two_layer_backward(
        two_layer()[0], two_layer()[3], two_layer()[2], Y3[:5]), "y", V)
    c("scratch.soft_threshold: t=-1", lambda: s.soft_threshold([1.0, -2.0], -1), "t", V)
    c("scratch.soft_threshold: t='a'", lambda: s.soft_threshold([1.0, -2.0], "a"), "t", T)
    c("scratch.soft_threshold: t NaN", lambda: s.soft_threshold([1.0, -2.0], np.nan), "t", V)
    c("scratch.soft_threshold: string w", lambda: s.soft_threshold("w", 1.0), "w", T)

    # ----------------------------------------------------------------- monitor
    dd = monitor.DriftDetector
    c("monitor.DriftDetector: psi with bins=1", lambda: dd(REF, method="psi", bins=1), "bins", V)
    c("monitor.DriftDetector: psi with bins=0", lambda: dd(REF, method="psi", bins=0), "bins", V)
    c("monitor.DriftDetector: bins=2.5", lambda: dd(REF, method="psi", bins=2.5), "bins", T)
    c("monitor.DriftDetector: bins=True", lambda: dd(REF, method="psi", bins=True), "bins", T)
    c("monitor.DriftDetector: method='chi2'", lambda: dd(REF, method="chi2"), "method", V)
    c("monitor.DriftDetector: method=None", lambda: dd(REF, method=None), "method", T)
    c("monitor.DriftDetector: alpha=0", lambda: dd(REF, alpha=0), "alpha", V)
    c("monitor.DriftDetector: alpha=True", lambda: dd(REF, alpha=True), "alpha", T)
    c("monitor.DriftDetector: alpha='0.05'", lambda: dd(REF, alpha="0.05"), "alpha", T)
    c("monitor.DriftDetector: psi_threshold=-1", lambda: dd(REF, method="psi", psi_threshold=-1),
      "psi_threshold", V)
    c("monitor.DriftDetector: psi_threshold='0.2'", lambda: dd(REF, method="psi", psi_threshold="0.2"),
      "psi_threshold", T)
    c("monitor.DriftDetector: calibration window_size=0",
      lambda: dd(REF, method="psi", psi_threshold=None, window_size=0), "window_size", V)
    c("monitor.DriftDetector: psi_threshold above any reachable PSI",
      lambda: dd(REF, method="psi", bins=2, psi_threshold=5.0), "psi_threshold", V)
    c("monitor.DriftDetector: calibration_windows=0",
      lambda: dd(REF, method="psi", psi_threshold=None, calibration_windows=0), "calibration_windows", V)
    c("monitor.DriftDetector: calibration seed=-1", lambda: dd(REF, method="psi", psi_threshold=None, seed=-1),
      "seed", V)
    c("monitor.DriftDetector: one reference row", lambda: dd(REF[:1]), "reference", V)
    c("monitor.DriftDetector: NaN in reference", lambda: dd(np.array([[0.0], [np.nan], [1.0]])), "reference", V)
    c("monitor.DriftDetector: string reference", lambda: dd(["a", "b"]), "reference", T)
    c("monitor.DriftDetector: 3-D reference", lambda: dd(np.zeros((4, 2, 2))), "reference", V)
    c("monitor.DriftDetector.test: 3 features for 2", lambda: drift_detector().test(np.zeros((5, 3))), "window", V)
    c("monitor.DriftDetector.test: one row", lambda: drift_detector().test(np.zeros((1, 2))), "window", V)
    c("monitor.DriftDetector.scan: window_size=1", lambda: drift_detector().scan(REF, 1), "window_size", V)
    c("monitor.DriftDetector.scan: window_size=2.5", lambda: drift_detector().scan(REF, 2.5), "window_size", T)
    c("monitor.windows: size=1", lambda: monitor.windows(REF, 1), "size", V)
    c("monitor.windows: size=2.5", lambda: monitor.windows(REF, 2.5), "size", T)
    c("monitor.windows: drop_last='no'", lambda: monitor.windows(REF, 2, drop_last="no"), "drop_last", T)
    c("monitor.windows: x=5", lambda: monitor.windows(5, 2), "x", T)
    c("monitor.ks_statistic: 2 vs 3 features", lambda: monitor.ks_statistic(REF, np.zeros((5, 3))), "current", V)
    c("monitor.ks_statistic: string reference", lambda: monitor.ks_statistic(["a", "b"], REF), "reference", T)
    c("monitor.ks_test: one current row", lambda: monitor.ks_test(REF, REF[:1]), "current", V)
    c("monitor.psi: bins=1", lambda: monitor.psi(REF, REF, bins=1), "bins", V)
    c("monitor.psi: bins=2.5", lambda: monitor.psi(REF, REF, bins=2.5), "bins", T)
    c("monitor.psi: eps=0", lambda: monitor.psi(REF, REF + 9, eps=0), "eps", V)
    c("monitor.psi: eps='a'", lambda: monitor.psi(REF, REF, eps="a"), "eps", T)
    c("monitor.confidence: 1-D", lambda: monitor.confidence(np.zeros(3)), "logits", V)
    c("monitor.confidence: strings", lambda: monitor.confidence([["a", "b"]]), "logits", T)
    c("monitor.confidence: no rows", lambda: monitor.confidence(np.zeros((0, 3))), "logits", V)
    c("monitor.confidence: NaN", lambda: monitor.confidence([[np.nan, 0.0]]), "logits", V)

    # ----------------------------------------------------------------- imbalance
    xs, ys = np.arange(40, dtype=float).reshape(20, 2), np.arange(20) % 4
    mk = imbalance.make_rare
    c("imbalance.make_rare: positive class 99", lambda: mk(xs, ys, 99, 0.1), "positive", V)
    c("imbalance.make_rare: positive='a'", lambda: mk(xs, ys, "a", 0.1), "positive", T)
    c("imbalance.make_rare: prevalence=1.5", lambda: mk(xs, ys, 0, 1.5), "prevalence", V)
    c("imbalance.make_rare: prevalence='0.1'", lambda: mk(xs, ys, 0, "0.1"), "prevalence", T)
    c("imbalance.make_rare: n=1", lambda: mk(xs, ys, 0, 0.1, n=1), "n", V)
    c("imbalance.make_rare: n=2.5", lambda: mk(xs, ys, 0, 0.1, n=2.5), "n", T)
    c("imbalance.make_rare: seed='a'", lambda: mk(xs, ys, 0, 0.2, n=10, seed="a"), "seed", T)
    c("imbalance.make_rare: y one short", lambda: mk(xs, ys[:-1], 0, 0.1), "y", V)
    c("imbalance.make_rare: fractional labels", lambda: mk(xs, ys + 0.5, 0.5, 0.2, n=10), "y", V)
    c("imbalance.prior_log_odds: label 2", lambda: imbalance.prior_log_odds([0, 2]), "y", V)
    c("imbalance.prior_log_odds: strings", lambda: imbalance.prior_log_odds(["a"]), "y", T)
    c("imbalance.prior_log_odds: empty", lambda: imbalance.prior_log_odds([]), "y", V)
    c("imbalance.prior_log_odds: 2-D", lambda: imbalance.prior_log_odds([[0, 1], [1, 0]]), "y", V)
    c("imbalance.balanced_class_weight: one class", lambda: imbalance.balanced_class_weight([1, 1, 1]), "y", V)
    c("imbalance.balanced_class_weight: None", lambda: imbalance.balanced_class_weight(None), "y", T)
    xb, yb = np.arange(10.0)[:, None], np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 0])
    bd = imbalance.balanced_dataset
    c("imbalance.balanced_dataset: pos_fraction=1", lambda: bd(xb, yb, pos_fraction=1.0), "pos_fraction", V)
    c("imbalance.balanced_dataset: pos_fraction='0.5'", lambda: bd(xb, yb, pos_fraction="0.5"), "pos_fraction", T)
    c("imbalance.balanced_dataset: batch_size=0", lambda: bd(xb, yb, batch_size=0), "batch_size", V)
    c("imbalance.balanced_dataset: batch_size=2.5", lambda: bd(xb, yb, batch_size=2.5), "batch_size", T)
    c("imbalance.balanced_dataset: seed='a'", lambda: bd(xb, yb, seed="a"), "seed", T)
    te = imbalance.threshold_explorer
    c("imbalance.threshold_explorer: threshold=2", lambda: te(YBIN, SCORES, threshold=2), "threshold", V)
    c("imbalance.threshold_explorer: threshold='a'", lambda: te(YBIN, SCORES, threshold="a"), "threshold", T)
    c("imbalance.threshold_explorer: step=0", lambda: te(YBIN, SCORES, step=0), "step", V)
    c("imbalance.threshold_explorer: score 1.5", lambda: te(YBIN, np.r_[SCORES[:5], 1.5]), "y_score", V)
    c("imbalance.threshold_explorer: 5 scores for 6 labels", lambda: te(YBIN, SCORES[:5]), "y_score", V)
    c("imbalance.threshold_explorer: string scores", lambda: te(YBIN, ["a"] * 6), "y_score", T)
    c("imbalance.threshold_explorer: report_fn a string", lambda: te(YBIN, SCORES, report_fn="f1"), "report_fn", T)
    c("imbalance.threshold_explorer: description=5", lambda: te(YBIN, SCORES, description=5), "description", T)
    rep = {"tp": 1, "fp": 0, "fn": 0, "tn": 1, "precision": 1.0, "recall": 1.0, "f1": 1.0, "accuracy": 1.0}
    c("imbalance.format_report: report missing counts", lambda: imbalance.format_report({"tp": 1}, 0.5), "report", V)
    c("imbalance.format_report: threshold='a'", lambda: imbalance.format_report(rep, "a"), "threshold", T)
    c("imbalance.format_report: report a list", lambda: imbalance.format_report([1, 2], 0.5), "report", T)

    # ----------------------------------------------------------------- optim
    st = optim.steps_to_target
    c("optim.steps_to_target: chunk=0", lambda: st([1.0, 0.5], 0.6, 0), "chunk", V)
    c("optim.steps_to_target: chunk=2.5", lambda: st([1.0, 0.5], 0.6, 2.5), "chunk", T)
    c("optim.steps_to_target: 2-D losses", lambda: st([[1.0]], 0.6, 10), "losses", V)
    c("optim.steps_to_target: string losses", lambda: st(["a"], 0.6, 10), "losses", T)
    c("optim.steps_to_target: target='0.5'", lambda: st([1.0], "0.5", 10), "target", T)
    c("optim.steps_to_target: target NaN", lambda: st([1.0, 0.5], np.nan, 10), "target", V)
    c("optim.steps_to_target: no losses", lambda: st([], 0.5, 10), "losses", V)
    c("optim.LossCurve.samples_per_second: batch_size=0", lambda: loss_curve_result().samples_per_second(0),
      "batch_size", V)
    c("optim.LossCurve.samples_per_second: batch_size=2.5", lambda: loss_curve_result().samples_per_second(2.5),
      "batch_size", T)

    def lcv(**kw):
        args = dict(build_model=build_mlp, optimizer=None, x=X4, y=Y3, steps=2, chunk=1, batch_size=2)
        args.update(kw)

        def call():
            if args["optimizer"] is None:
                args["optimizer"] = _keras().optimizers.SGD(0.01)
            return optim.loss_curve(**args)
        return call

    c("optim.loss_curve: steps=0", lcv(steps=0), "steps", V)
    c("optim.loss_curve: steps=10.0", lcv(steps=10.0), "steps", T)
    c("optim.loss_curve: steps not a multiple of chunk", lcv(steps=3, chunk=2), "chunk", V)
    c("optim.loss_curve: optimizer a string", lcv(optimizer="sgd"), "optimizer", T)
    c("optim.loss_curve: y one short", lcv(y=Y3[:-1]), "y", V)
    c("optim.loss_curve: no examples", lcv(x=X4[:0], y=Y3[:0]), "x", V)
    c("optim.loss_curve: batch_size above the examples", lcv(batch_size=1000), "batch_size", V)
    c("optim.loss_curve: diverge_factor=0", lcv(diverge_factor=0), "diverge_factor", V)
    c("optim.loss_curve: seed='a'", lcv(seed="a"), "seed", T)
    c("optim.loss_curve: loss='mse'", lcv(loss="mse"), "loss", T)
    c("optim.loss_curve: build_model a string", lcv(build_model="mlp"), "build_model", T)
    c("optim.loss_curve: label=5", lcv(label=5), "label", T)

    def lrt(**kw):
        args = dict(build_model=build_mlp, x=X4, y=Y3, steps=3, batch_size=2)
        args.update(kw)
        return lambda: optim.lr_range_test(**args)

    c("optim.lr_range_test: min_lr > max_lr", lrt(min_lr=1.0, max_lr=0.1), "min_lr", V)
    c("optim.lr_range_test: min_lr='a'", lrt(min_lr="a"), "min_lr", T)
    c("optim.lr_range_test: smoothing=1", lrt(smoothing=1), "smoothing", V)
    c("optim.lr_range_test: optimizer='rmsprop'", lrt(optimizer="rmsprop"), "optimizer", V)
    c("optim.lr_range_test: momentum=-1", lrt(momentum=-1), "momentum", V)
    c("optim.lr_range_test: stop_factor=0.5", lrt(stop_factor=0.5), "stop_factor", V)
    c("optim.lr_range_test: steps=0", lrt(steps=0), "steps", V)
    c("optim.lr_range_test: y one short", lrt(y=Y3[:-1]), "y", V)
    c("optim.lr_range_test: seed=-1", lrt(seed=-1), "seed", V)
    c("optim.plot_lr_range_test: a string", lambda: optim.plot_lr_range_test("r"), "result", T)
    c("optim.plot_loss_curves: none", lambda: optim.plot_loss_curves([]), "curves", V)
    c("optim.plot_loss_curves: strings", lambda: optim.plot_loss_curves(["a"]), "curves", T)
    c("optim.plot_loss_curves: target='a'", lambda: optim.plot_loss_curves([loss_curve_result()], target="a"),
      "target", T)
    c("optim.plot_loss_curves: log_y='yes'", lambda: optim.plot_loss_curves([loss_curve_result()], log_y="yes"),
      "log_y", T)

    # ----------------------------------------------------------------- diagnose
    bv = diagnose.bias_variance
    c("diagnose.bias_variance: j_train='0.1'", lambda: bv("0.1", 0.2, 0.05), "j_train", T)
    c("diagnose.bias_variance: j_train=-0.1", lambda: bv(-0.1, 0.2, 0.05), "j_train", V)
    c("diagnose.bias_variance: j_cv NaN", lambda: bv(0.1, np.nan, 0.05), "j_cv", V)
    c("diagnose.bias_variance: tolerance=0", lambda: bv(0.1, 0.2, 0.05, tolerance=0), "tolerance", V)
    c("diagnose.bias_variance: j_train=True", lambda: bv(True, 0.2, 0.05), "j_train", T)
    c("diagnose.bias_variance: baseline None", lambda: bv(0.1, 0.2, None), "baseline", T)
    c("diagnose.from_curve: a string", lambda: diagnose.from_curve("c", 0.05), "curve", T)
    c("diagnose.from_curve: index 99", lambda: diagnose.from_curve(learning_curve_result(), 0.05, index=99),
      "index", V)
    c("diagnose.from_curve: index=1.5", lambda: diagnose.from_curve(learning_curve_result(), 0.05, index=1.5),
      "index", T)

    # ----------------------------------------------------------------- interpret
    ip = interpret
    c("interpret.conv_layers: a string", lambda: ip.conv_layers("m"), "model", T)
    c("interpret.last_conv_layer: no conv layer", lambda: ip.last_conv_layer(mlp()), "model", V)
    c("interpret.first_layer_filters: layer_name='nope'", lambda: ip.first_layer_filters(cnn(), "nope"),
      "layer_name", V)
    c("interpret.first_layer_filters: layer_name=5", lambda: ip.first_layer_filters(cnn(), 5), "layer_name", T)
    c("interpret.first_layer_filters: a dense layer", lambda: ip.first_layer_filters(cnn(), "dense"),
      "layer_name", V)
    c("interpret.activation_maps: wrong image shape", lambda: ip.activation_maps(cnn(), np.zeros((2, 5, 5, 3))),
      "images", V)
    c("interpret.activation_maps: uint8 images", lambda: ip.activation_maps(cnn(), (IMAGES * 255).astype("uint8")),
      "images", V)
    c("interpret.activation_maps: layer_name='nope'", lambda: ip.activation_maps(cnn(), IMAGES, "nope"),
      "layer_name", V)
    c("interpret.activation_maps: string images", lambda: ip.activation_maps(cnn(), [["a"]]), "images", T)
    gc_ = ip.grad_cam
    c("interpret.grad_cam: class_index 5 of 3", lambda: gc_(cnn(), IMAGES, class_index=5), "class_index", V)
    c("interpret.grad_cam: class_index -1", lambda: gc_(cnn(), IMAGES, class_index=-1), "class_index", V)
    c("interpret.grad_cam: class_index=1.5", lambda: gc_(cnn(), IMAGES, class_index=1.5), "class_index", T)
    c("interpret.grad_cam: 1 class_index for 2 images", lambda: gc_(cnn(), IMAGES, class_index=[0]),
      "class_index", V)
    c("interpret.grad_cam: layer_name of a dense layer", lambda: gc_(cnn(), IMAGES, layer_name="dense"),
      "layer_name", V)
    c("interpret.grad_cam: upsample='yes'", lambda: gc_(cnn(), IMAGES, upsample="yes"), "upsample", T)
    c("interpret.grad_cam: normalize=2", lambda: gc_(cnn(), IMAGES, normalize=2), "normalize", T)
    c("interpret.grad_cam: NaN images", lambda: gc_(cnn(), np.full((1, 8, 8, 3), np.nan, "float32")), "images", V)
    c("interpret.grad_cam: model a string", lambda: gc_("m", IMAGES), "model", T)
    img, cam = IMAGES[0], np.zeros((8, 8))
    c("interpret.overlay: shapes differ", lambda: ip.overlay(img, np.zeros((5, 5))), "cam", V)
    c("interpret.overlay: alpha=2", lambda: ip.overlay(img, cam, alpha=2), "alpha", V)
    c("interpret.overlay: alpha='a'", lambda: ip.overlay(img, cam, alpha="a"), "alpha", T)
    c("interpret.plot_filters: 3-D filters", lambda: ip.plot_filters(np.zeros((2, 3, 3))), "filters", V)
    c("interpret.plot_filters: ncols=0", lambda: ip.plot_filters(np.zeros((2, 3, 3, 3)), ncols=0), "ncols", V)
    c("interpret.plot_filters: no filters", lambda: ip.plot_filters(np.zeros((0, 3, 3, 3))), "filters", V)
    c("interpret.plot_activation_maps: 2-D maps", lambda: ip.plot_activation_maps(img, np.zeros((8, 8))), "maps", V)
    c("interpret.plot_activation_maps: n=0", lambda: ip.plot_activation_maps(img, np.zeros((8, 8, 2)), n=0), "n", V)
    c("interpret.plot_activation_maps: ncols=0", lambda: ip.plot_activation_maps(img, np.zeros((8, 8, 2)), ncols=0),
      "ncols", V)
    c("interpret.plot_grad_cam: 2 images, 3 maps", lambda: ip.plot_grad_cam(IMAGES, np.zeros((3, 8, 8))), "cams", V)
    c("interpret.plot_grad_cam: 1 title for 2 images",
      lambda: ip.plot_grad_cam(IMAGES, np.zeros((2, 8, 8)), titles=["a"]), "titles", V)
    c("interpret.plot_grad_cam: ncols=0", lambda: ip.plot_grad_cam(IMAGES, np.zeros((2, 8, 8)), ncols=0), "ncols", V)

    # ----------------------------------------------------------------- landscape
    la = landscape
    c("landscape.flatten: no weights", lambda: la.flatten([]), "weights", V)
    c("landscape.flatten: strings", lambda: la.flatten(["a"]), "weights", T)
    c("landscape.weight_distance: sizes differ", lambda: la.weight_distance([np.ones(2)], [np.ones(3)]), "b", V)
    c("landscape.weight_distance: b a string", lambda: la.weight_distance([np.ones(2)], "b"), "b", T)

    def w():
        return mlp().get_weights()

    c("landscape.loss_at: weights of another model", lambda: la.loss_at(mlp(), [np.ones(2)], X4, Y3, xent()),
      "weights", V)
    c("landscape.loss_at: y one short", lambda: la.loss_at(mlp(), w(), X4, Y3[:-1], xent()), "y", V)
    c("landscape.loss_at: loss_fn a string", lambda: la.loss_at(mlp(), w(), X4, Y3, "mse"), "loss_fn", T)
    c("landscape.loss_at: batch_size=0", lambda: la.loss_at(mlp(), w(), X4, Y3, xent(), batch_size=0),
      "batch_size", V)
    c("landscape.loss_at: no examples", lambda: la.loss_at(mlp(), w(), X4[:0], Y3[:0], xent()), "x", V)
    c("landscape.interpolate: b of another model", lambda: la.interpolate(mlp(), w(), [np.ones(2)], X4, Y3, xent()),
      "b", V)
    c("landscape.interpolate: no alphas", lambda: la.interpolate(mlp(), w(), w(), X4, Y3, xent(), alphas=[]),
      "alphas", V)
    c("landscape.interpolate: string alphas", lambda: la.interpolate(mlp(), w(), w(), X4, Y3, xent(), alphas=["a"]),
      "alphas", T)
    c("landscape.random_direction: seed=-1", lambda: la.random_direction(w(), seed=-1), "seed", V)
    c("landscape.random_direction: filter_normalize='no'", lambda: la.random_direction(w(), filter_normalize="no"),
      "filter_normalize", T)
    c("landscape.random_direction: no weights", lambda: la.random_direction([]), "weights", V)
    c("landscape.surface: steps=1", lambda: la.surface(mlp(), w(), w(), w(), X4, Y3, xent(), steps=1), "steps", V)
    c("landscape.surface: steps=2.5", lambda: la.surface(mlp(), w(), w(), w(), X4, Y3, xent(), steps=2.5),
      "steps", T)
    c("landscape.surface: span=0", lambda: la.surface(mlp(), w(), w(), w(), X4, Y3, xent(), span=0, steps=2),
      "span", V)
    c("landscape.surface: span='a'", lambda: la.surface(mlp(), w(), w(), w(), X4, Y3, xent(), span="a"), "span", T)
    c("landscape.surface: d2 of another model", lambda: la.surface(mlp(), w(), w(), [1.0], X4, Y3, xent()), "d2", V)
    c("landscape.sharpness: radius=0", lambda: la.sharpness(mlp(), w(), X4, Y3, xent(), radius=0), "radius", V)
    c("landscape.sharpness: samples=0", lambda: la.sharpness(mlp(), w(), X4, Y3, xent(), samples=0), "samples", V)
    c("landscape.sharpness: radius='a'", lambda: la.sharpness(mlp(), w(), X4, Y3, xent(), radius="a"), "radius", T)
    c("landscape.sharpness: samples=1.5", lambda: la.sharpness(mlp(), w(), X4, Y3, xent(), samples=1.5),
      "samples", T)

    # ----------------------------------------------------------------- filters
    fl = filters
    c("filters.gabor_kernel: size=0", lambda: fl.gabor_kernel(0, 1.0, 0.0, 2.0), "size", V)
    c("filters.gabor_kernel: size=2.5", lambda: fl.gabor_kernel(2.5, 1.0, 0.0, 2.0), "size", T)
    c("filters.gabor_kernel: size=True", lambda: fl.gabor_kernel(True, 1.0, 0.0, 2.0), "size", T)
    c("filters.gabor_kernel: sigma=0", lambda: fl.gabor_kernel(5, 0.0, 0.0, 2.0), "sigma", V)
    c("filters.gabor_kernel: wavelength=-1", lambda: fl.gabor_kernel(5, 1.0, 0.0, -1.0), "wavelength", V)
    c("filters.gabor_kernel: sigma='1'", lambda: fl.gabor_kernel(5, "1", 0.0, 2.0), "sigma", T)
    c("filters.gabor_kernel: theta NaN", lambda: fl.gabor_kernel(5, 1.0, np.nan, 2.0), "theta", V)
    c("filters.gabor_kernel: gamma='a'", lambda: fl.gabor_kernel(5, 1.0, 0.0, 2.0, gamma="a"), "gamma", T)
    c("filters.dog_kernel: ratio=1", lambda: fl.dog_kernel(5, 1.0, ratio=1.0), "ratio", V)
    c("filters.dog_kernel: size=0", lambda: fl.dog_kernel(0, 1.0), "size", V)
    c("filters.dog_kernel: size=2.5", lambda: fl.dog_kernel(2.5, 1.0), "size", T)
    c("filters.dog_kernel: sigma=-1", lambda: fl.dog_kernel(5, -1.0), "sigma", V)
    c("filters.gabor_bank: n_orientations=0", lambda: fl.gabor_bank(n_orientations=0), "n_orientations", V)
    c("filters.gabor_bank: in_channels=0", lambda: fl.gabor_bank(in_channels=0), "in_channels", V)
    c("filters.gabor_bank: no filters at all", lambda: fl.gabor_bank(wavelengths=(), dog_sigmas=()),
      "wavelengths", V)
    c("filters.gabor_bank: wavelengths=[-1]", lambda: fl.gabor_bank(wavelengths=[-1.0]), "wavelengths", V)
    c("filters.gabor_bank: size=0", lambda: fl.gabor_bank(size=0), "size", V)
    c("filters.gabor_bank: wavelengths=3", lambda: fl.gabor_bank(wavelengths=3.0), "wavelengths", T)
    c("filters.GaborInitializer: n_orientations=0", lambda: fl.GaborInitializer(n_orientations=0),
      "n_orientations", V)
    c("filters.GaborInitializer: n_orientations='4'", lambda: fl.GaborInitializer(n_orientations="4"),
      "n_orientations", T)
    c("filters.GaborInitializer: wavelengths=5", lambda: fl.GaborInitializer(wavelengths=5), "wavelengths", T)
    c("filters.GaborInitializer: 5 filters asked of 17", lambda: fl.GaborInitializer()((3, 3, 1, 5)), "shape", V)

    # ----------------------------------------------------------------- synth
    rd = synth.render_digits
    c("synth.render_digits: n=0", lambda: rd(0), "n", V)
    c("synth.render_digits: n=2.5", lambda: rd(2.5), "n", T)
    c("synth.render_digits: n=True", lambda: rd(True), "n", T)
    c("synth.render_digits: size=4", lambda: rd(2, size=4), "size", V)
    c("synth.render_digits: size=28.0", lambda: rd(2, size=28.0), "size", T)
    c("synth.render_digits: height above size", lambda: rd(2, height=(30, 40)), "height", V)
    c("synth.render_digits: height=15", lambda: rd(2, height=15), "height", T)
    c("synth.render_digits: rotation (10, -10)", lambda: rd(2, rotation=(10, -10)), "rotation", V)
    c("synth.render_digits: shift=-1", lambda: rd(2, shift=-1), "shift", V)
    c("synth.render_digits: shift='a'", lambda: rd(2, shift="a"), "shift", T)
    c("synth.render_digits: seed=-1", lambda: rd(2, seed=-1), "seed", V)
    c("synth.render_digits: seed='a'", lambda: rd(2, seed="a"), "seed", T)
    c("synth.render_digits: fractional thickness", lambda: rd(2, thickness=(0.5, 2)), "thickness", V)
    c("synth.render_digits: blur NaN", lambda: rd(2, blur=(0.0, np.nan)), "blur", V)
    c("synth.render_digits: unknown font", lambda: rd(2, fonts=["nope.ttf"]), "fonts", V)
    c("synth.font_paths: none", lambda: synth.font_paths([]), "names", V)
    c("synth.font_paths: an int name", lambda: synth.font_paths([5]), "names", T)

    # ----------------------------------------------------------------- flops
    c("flops.model_flops: a string", lambda: flops.model_flops("m"), "model", T)
    c("flops.model_flops: unbuilt model", lambda: flops.model_flops(_keras().Sequential([_keras().layers.Dense(2)])),
      "model", V)
    c("flops.training_flops: examples=-1", lambda: flops.training_flops(mlp(), -1), "examples", V)
    c("flops.training_flops: examples=2.5", lambda: flops.training_flops(mlp(), 2.5), "examples", T)
    c("flops.training_flops: backward_factor=-1", lambda: flops.training_flops(mlp(), 10, backward_factor=-1),
      "backward_factor", V)
    c("flops.training_flops: model a string", lambda: flops.training_flops("m", 10), "model", T)
    c("flops.layer_flops: a string", lambda: flops.layer_flops("dense"), "layer", T)
    c("flops.matmul_peak: dtype='int8'", lambda: flops.matmul_peak(dtype="int8"), "dtype", V)
    c("flops.matmul_peak: n=8", lambda: flops.matmul_peak(n=8), "n", V)
    c("flops.matmul_peak: n=16.5", lambda: flops.matmul_peak(n=16.5), "n", T)
    c("flops.matmul_peak: repeats=0", lambda: flops.matmul_peak(n=16, repeats=0), "repeats", V)

    # ----------------------------------------------------------------- plots
    pl = plots
    c("plots.plot_history: empty dict", lambda: pl.plot_history({}), "h", V)
    c("plots.plot_history: unknown metric", lambda: pl.plot_history({"loss": [1.0, 0.5]}, metrics=["acc"]),
      "metrics", V)
    c("plots.plot_history: an int", lambda: pl.plot_history(5), "h", T)
    c("plots.plot_history: string values", lambda: pl.plot_history({"loss": ["a", "b"]}), "h", T)
    c("plots.plot_history: metrics=5", lambda: pl.plot_history({"loss": [1.0]}, metrics=5), "metrics", T)
    c("plots.plot_learning_curve: nothing to plot", lambda: pl.plot_learning_curve(), "curve", V)
    c("plots.plot_learning_curve: lengths differ",
      lambda: pl.plot_learning_curve(train_sizes=[1, 2], train_error=[0.1], val_error=[0.1, 0.2]), "train_error", V)
    c("plots.plot_learning_curve: curve a string", lambda: pl.plot_learning_curve("c"), "curve", T)
    c("plots.plot_learning_curve: baseline='a'", lambda: pl.plot_learning_curve(learning_curve_result(), baseline="a"),
      "baseline", T)
    c("plots.plot_learning_curve: train size 0",
      lambda: pl.plot_learning_curve(train_sizes=[0, 10], train_error=[0.1, 0.1], val_error=[0.2, 0.2]),
      "train_sizes", V)
    c("plots.plot_learning_curve: NaN val_error",
      lambda: pl.plot_learning_curve(train_sizes=[1, 10], train_error=[0.1, 0.1], val_error=[0.2, np.nan]),
      "val_error", V)
    c("plots.plot_validation_curve: string param_values",
      lambda: pl.plot_validation_curve(param_values=["a", "b"], train_error=[0.1, 0.1], val_error=[0.2, 0.2]),
      "param_values", T)
    c("plots.plot_validation_curve: NaN train_error",
      lambda: pl.plot_validation_curve(param_values=[1, 2], train_error=[0.1, np.nan], val_error=[0.2, 0.2]),
      "train_error", V)
    c("plots.plot_validation_curve: log_x='yes'",
      lambda: pl.plot_validation_curve(param_values=[1, 2], train_error=[0.1, 0.1], val_error=[0.2, 0.2], log_x="yes"),
      "log_x", T)
    c("plots.plot_validation_curve: best='no'",
      lambda: pl.plot_validation_curve(param_values=[1, 2], train_error=[0.1, 0.1], val_error=[0.2, 0.2], best="no"),
      "best", T)
    c("plots.plot_pr_curve: lengths differ", lambda: pl.plot_pr_curve([1.0, 0.5], [0.0, 1.0, 1.0]), "recall", V)
    c("plots.plot_pr_curve: precision 2", lambda: pl.plot_pr_curve([1.0, 2.0], [0.0, 1.0]), "precision", V)
    c("plots.plot_pr_curve: operating_point without recall",
      lambda: pl.plot_pr_curve([1.0, 0.5], [0.0, 1.0], operating_point={"p": 1}), "operating_point", V)
    c("plots.plot_pr_curve: operating_point=5", lambda: pl.plot_pr_curve([1.0, 0.5], [0.0, 1.0], operating_point=5),
      "operating_point", T)
    c("plots.plot_confusion_matrix: not square", lambda: pl.plot_confusion_matrix(np.zeros((2, 3))), "cm", V)
    c("plots.plot_confusion_matrix: one class name", lambda: pl.plot_confusion_matrix(np.eye(2), class_names=["a"]),
      "class_names", V)
    c("plots.plot_confusion_matrix: negative count", lambda: pl.plot_confusion_matrix(np.array([[1, -1], [0, 2]])),
      "cm", V)
    c("plots.plot_confusion_matrix: strings", lambda: pl.plot_confusion_matrix([["a", "b"], ["c", "d"]]), "cm", T)
    c("plots.plot_confusion_matrix: normalize='yes'", lambda: pl.plot_confusion_matrix(np.eye(2), normalize="yes"),
      "normalize", T)
    c("plots.plot_confusion_matrix: NaN", lambda: pl.plot_confusion_matrix(np.array([[1.0, np.nan], [0.0, 2.0]])),
      "cm", V)
    c("plots.plot_image_grid: no images", lambda: pl.plot_image_grid(np.zeros((0, 4, 4))), "images", V)
    c("plots.plot_image_grid: 1 title for 2 images", lambda: pl.plot_image_grid(GREY, titles=["a"]), "titles", V)
    c("plots.plot_image_grid: ncols=0", lambda: pl.plot_image_grid(GREY, ncols=0), "ncols", V)
    c("plots.plot_image_grid: ncols=2.5", lambda: pl.plot_image_grid(GREY, ncols=2.5), "ncols", T)
    c("plots.plot_image_grid: 1 title colour for 2 images", lambda: pl.plot_image_grid(GREY, titles=["a", "b"],
                                                                              title_colors=["r"]), "title_colors", V)
    c("plots.plot_image_grid: strings", lambda: pl.plot_image_grid(["a", "b"]), "images", T)
    c("plots.plot_image_grid: 2 channels", lambda: pl.plot_image_grid(np.zeros((2, 4, 4, 2))), "images", V)

    # ----------------------------------------------------------------- training
    tr = training
    c("training.fit: epochs=0", lambda: tr.fit(mlp(), X4, Y3, epochs=0), "epochs", V)
    c("training.fit: epochs=2.5", lambda: tr.fit(mlp(), X4, Y3, epochs=2.5), "epochs", T)
    c("training.fit: epochs=True", lambda: tr.fit(mlp(), X4, Y3, epochs=True, quiet=True), "epochs", T)
    c("training.fit: log_every=0", lambda: tr.fit(mlp(), X4, Y3, epochs=1, log_every=0), "log_every", V)
    c("training.fit: quiet='yes'", lambda: tr.fit(mlp(), X4, Y3, epochs=1, quiet="yes"), "quiet", T)
    c("training.fit: batch_size=0", lambda: tr.fit(mlp(), X4, Y3, epochs=1, batch_size=0, quiet=True),
      "batch_size", V)
    c("training.fit: model a string", lambda: tr.fit("model", X4, Y3, epochs=1), "model", T)
    c("training.fit: callbacks a string", lambda: tr.fit(mlp(), X4, Y3, epochs=1, callbacks="cb", quiet=True),
      "callbacks", T)
    c("training.make_logger: every=0", lambda: tr.make_logger(every=0), "every", V)
    c("training.make_logger: every=1.5", lambda: tr.make_logger(every=1.5), "every", T)
    c("training.make_logger: prefix=5", lambda: tr.make_logger(prefix=5), "prefix", T)
    c("training.images_to_float: float images", lambda: tr.images_to_float(np.zeros((2, 4, 4))), "x", T)
    c("training.images_to_float: 1-D", lambda: tr.images_to_float(np.zeros(4, np.uint8)), "x", V)
    c("training.images_to_float: channels_last='yes'",
      lambda: tr.images_to_float(np.zeros((2, 4, 4), np.uint8), channels_last="yes"), "channels_last", T)
    c("training.as_dataset: y one short", lambda: tr.as_dataset(X4, Y3[:-1]), "y", V)
    c("training.as_dataset: batch_size=0", lambda: tr.as_dataset(X4, Y3, batch_size=0), "batch_size", V)
    c("training.as_dataset: shuffle='yes'", lambda: tr.as_dataset(X4, Y3, shuffle="yes"), "shuffle", T)
    c("training.as_dataset: map_fn a string", lambda: tr.as_dataset(X4, Y3, map_fn="f"), "map_fn", T)
    c("training.as_dataset: seed=-1", lambda: tr.as_dataset(X4, Y3, shuffle=True, seed=-1), "seed", V)

    # ----------------------------------------------------------------- tuning
    hm = lambda hp: build_mlp()  # noqa: E731

    def mt(kind="random", hypermodel=hm, **kw):
        def call():
            args = dict(directory=workdir(), project_name="probe")
            args.update(kw)
            return tuning.make_tuner(kind, hypermodel, **args)
        return call

    c("tuning.make_tuner: kind='sgd'", mt("sgd"), "kind", V)
    c("tuning.make_tuner: max_trials=0", mt(max_trials=0), "max_trials", V)
    c("tuning.make_tuner: max_trials=2.5", mt(max_trials=2.5), "max_trials", T)
    c("tuning.make_tuner: factor=1", mt("hyperband", factor=1), "factor", V)
    c("tuning.make_tuner: project_name=5", mt(project_name=5), "project_name", T)
    c("tuning.make_tuner: directory=5", mt(directory=5), "directory", T)
    c("tuning.make_tuner: objective=5", mt(objective=5), "objective", T)
    c("tuning.make_tuner: hypermodel a string", mt(hypermodel="hm"), "hypermodel", T)
    c("tuning.make_tuner: overwrite='yes'", mt(overwrite="yes"), "overwrite", T)
    c("tuning.make_tuner: seed='a'", mt(seed="a"), "seed", T)
    c("tuning.CountingHyperModel: build a string", lambda: tuning.CountingHyperModel("x"), "build", T)
    c("tuning.CountingHyperModel: patience=-1", lambda: tuning.CountingHyperModel(hm, patience=-1), "patience", V)
    c("tuning.CountingHyperModel: patience=1.5", lambda: tuning.CountingHyperModel(hm, patience=1.5), "patience", T)
    c("tuning.CountingHyperModel: objective=5", lambda: tuning.CountingHyperModel(hm, objective=5), "objective", T)
    c("tuning.CountingHyperModel: seed='a'", lambda: tuning.CountingHyperModel(hm, seed="a"), "seed", T)
    c("tuning.best_so_far: no trials", lambda: tuning.best_so_far([]), "trials", V)
    c("tuning.best_so_far: mode='avg'", lambda: tuning.best_so_far(trials(), mode="avg"), "mode", V)
    c("tuning.best_so_far: strings", lambda: tuning.best_so_far(["a"]), "trials", T)
    c("tuning.distinct_values: unknown name", lambda: tuning.distinct_values(trials(), "nope"), "name", V)
    c("tuning.distinct_values: name=5", lambda: tuning.distinct_values(trials(), 5), "name", T)
    c("tuning.trial_table: a string", lambda: tuning.trial_table("tuner"), "tuner", T)

    # ----------------------------------------------------------------- results
    c("results.record: malformed key", lambda: results.record("bad key!", 1), "key", V)
    c("results.record: key=5", lambda: results.record(5, 1), "key", T)
    c("results.record: a list value", lambda: results.record("probe.x", [1]), "value", T)
    c("results.record: NaN value", lambda: results.record("probe.x", float("nan")), "value", V)
    c("results.record: a dict value", lambda: results.record("probe.x", {"x": 1}), "value", T)
    c("results.record: an array value", lambda: results.record("probe.x", np.array([1.0])), "value", T)

    # ----------------------------------------------------------------- models
    c("models.count_params: a string", lambda: models.count_params("m"), "model", T)
    c("models.mnist_mlp: hidden=0", lambda: mnist.mnist_mlp(hidden=0), "hidden", V)
    c("models.mnist_mlp: hidden=2.5", lambda: mnist.mnist_mlp(hidden=2.5), "hidden", T)
    c("models.mnist_mlp: num_classes=0", lambda: mnist.mnist_mlp(num_classes=0), "num_classes", V)
    c("models.mnist_mlp: input_shape with 0", lambda: mnist.mnist_mlp(input_shape=(0, 28, 1)), "input_shape", V)
    c("models.mnist_mlp: input_shape='28'", lambda: mnist.mnist_mlp(input_shape="28"), "input_shape", T)
    c("models.mnist_mlp: name=5", lambda: mnist.mnist_mlp(name=5), "name", T)
    c("models.mnist_cnn: width=0", lambda: mnist.mnist_cnn(width=0), "width", V)
    c("models.mnist_cnn: width=1.5", lambda: mnist.mnist_cnn(width=1.5), "width", T)
    c("models.mnist_cnn: dropout=1", lambda: mnist.mnist_cnn(dropout=1.0), "dropout", V)
    c("models.mnist_cnn: dropout=-0.1", lambda: mnist.mnist_cnn(dropout=-0.1), "dropout", V)
    c("models.mnist_cnn: dropout='0.3'", lambda: mnist.mnist_cnn(dropout="0.3"), "dropout", T)
    c("models.mnist_cnn: num_classes=0", lambda: mnist.mnist_cnn(num_classes=0), "num_classes", V)
    c("models.deep_mlp: input_dim=0", lambda: deep.deep_mlp(0), "input_dim", V)
    c("models.deep_mlp: depth=2.5", lambda: deep.deep_mlp(10, depth=2.5), "depth", T)
    c("models.deep_mlp: depth=True", lambda: deep.deep_mlp(10, depth=True), "depth", T)
    c("models.deep_mlp: batch_norm='yes'", lambda: deep.deep_mlp(10, depth=1, batch_norm="yes"), "batch_norm", T)
    c("models.deep_mlp: activation='nope'", lambda: deep.deep_mlp(10, depth=1, activation="nope"), "activation", V)
    c("models.deep_mlp: name=5", lambda: deep.deep_mlp(10, depth=1, name=5), "name", T)
    c("models.scaled_init: gain=0", lambda: deep.scaled_init(0), "gain", V)
    c("models.scaled_init: gain='1'", lambda: deep.scaled_init("1"), "gain", T)
    c("models.scaled_init: gain NaN", lambda: deep.scaled_init(np.nan), "gain", V)
    c("models.scaled_init: seed='a'", lambda: deep.scaled_init(1.0, seed="a"), "seed", T)
    c("models.cifar_dense: hidden=[0]", lambda: cifar.cifar_dense(hidden=[0]), "hidden", V)
    c("models.cifar_dense: hidden=[2.5]", lambda: cifar.cifar_dense(hidden=[2.5]), "hidden", T)
    c("models.cifar_dense: hidden=512", lambda: cifar.cifar_dense(hidden=512), "hidden", T)
    c("models.cifar_dense: dropout=1.5", lambda: cifar.cifar_dense(hidden=[8], dropout=1.5), "dropout", V)
    c("models.cifar_dense: num_classes=0", lambda: cifar.cifar_dense(hidden=[8], num_classes=0), "num_classes", V)
    c("models.cifar_small_cnn: no widths", lambda: cifar.cifar_small_cnn(widths=[]), "widths", V)
    c("models.cifar_small_cnn: batch_norm='no'", lambda: cifar.cifar_small_cnn(widths=[2], batch_norm="no"),
      "batch_norm", T)
    c("models.cifar_small_cnn: num_classes=0", lambda: cifar.cifar_small_cnn(widths=[2], num_classes=0),
      "num_classes", V)
    c("models.cifar_large_cnn: width=0", lambda: cifar.cifar_large_cnn(width=0), "width", V)
    c("models.cifar_large_cnn: width=2.5", lambda: cifar.cifar_large_cnn(width=2.5), "width", T)
    c("models.cifar_large_cnn: l2=-1", lambda: cifar.cifar_large_cnn(width=2, l2=-1), "l2", V)
    c("models.cifar_large_cnn: l2='a'", lambda: cifar.cifar_large_cnn(width=2, l2="a"), "l2", T)
    c("models.cifar_large_cnn: dropout=1", lambda: cifar.cifar_large_cnn(width=2, dropout=1.0), "dropout", V)
    c("models.cifar_large_cnn: dense_units=0", lambda: cifar.cifar_large_cnn(width=2, dense_units=0),
      "dense_units", V)
    c("models.cifar_large_cnn: augment='yes'", lambda: cifar.cifar_large_cnn(width=2, augment="yes"), "augment", T)
    c("models.cifar_large_cnn: seed=-1", lambda: cifar.cifar_large_cnn(width=2, dropout=0.1, seed=-1), "seed", V)
    c("models.cifar_tiny_cnn: filters=0", lambda: cifar.cifar_tiny_cnn(filters=0), "filters", V)
    c("models.cifar_tiny_cnn: filters=True", lambda: cifar.cifar_tiny_cnn(filters=True), "filters", T)
    c("models.cifar_tiny_cnn: num_classes=0", lambda: cifar.cifar_tiny_cnn(num_classes=0), "num_classes", V)
    c("models.augmentation_layers: translate=0.5", lambda: cifar.augmentation_layers(translate=0.5), "translate", V)
    c("models.augmentation_layers: translate='a'", lambda: cifar.augmentation_layers(translate="a"), "translate", T)
    c("models.augmentation_layers: flip='no'", lambda: cifar.augmentation_layers(flip="no"), "flip", T)

    # ----------------------------------------------------------------- repro (last: a silent call seeds the process)
    c("repro.seed_everything: seed='0'", lambda: repro.seed_everything("0"), "seed", T)
    c("repro.seed_everything: seed=-1", lambda: repro.seed_everything(-1), "seed", V)
    c("repro.seed_everything: seed=2**32", lambda: repro.seed_everything(2 ** 32), "seed", V)
    c("repro.seed_everything: seed=1.5", lambda: repro.seed_everything(1.5), "seed", T)
    c("repro.seed_everything: seed=True", lambda: repro.seed_everything(True), "seed", T)
    c("repro.seed_everything: LABKIT_SEED='abc'", with_env(lambda: repro.seed_everything(), LABKIT_SEED="abc"),
      "LABKIT_SEED", V)
    c("repro.seed_everything: LABKIT_THREADS='x'", with_env(lambda: repro.seed_everything(0), LABKIT_THREADS="x"),
      "LABKIT_THREADS", V)
    c("repro.seed_everything: LABKIT_THREADS='0'", with_env(lambda: repro.seed_everything(0), LABKIT_THREADS="0"),
      "LABKIT_THREADS", V)
    c("repro.seed_everything: deterministic='yes'", lambda: repro.seed_everything(0, deterministic="yes"),
      "deterministic", T)

    ids = [k.id for k in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuntimeError(f"duplicate case ids: {sorted(dupes)}")
    return out


CASES: list[Case] = _cases()


# --------------------------------------------------------------------------- classification
_LABKIT = (REPO / "labkit").resolve()


def _names(message: str, arg: str) -> bool:
    """Whether ``message`` names ``arg`` as a word (``x`` in "x has 3 rows", not in "max")."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(arg)}(?![A-Za-z0-9_])", message) is not None


def _raised_in_labkit(err: BaseException) -> bool:
    tb = err.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    try:
        return Path(last.tb_frame.f_code.co_filename).resolve().is_relative_to(_LABKIT)
    except (OSError, ValueError):
        return False


def _snapshot() -> tuple[set, set, set]:
    threads = {t.ident for t in threading.enumerate() if t.is_alive()}
    try:
        fds = set(os.listdir("/proc/self/fd"))
    except OSError:
        fds = set()
    figs: set = set()
    if "matplotlib.pyplot" in sys.modules:
        figs = set(sys.modules["matplotlib.pyplot"].get_fignums())
    return threads, fds, figs


def _leaks(before: tuple[set, set, set], *, returned: bool) -> list[str]:
    """Threads, files and figures that appeared since ``before``; figures count only
    when the call raised (a plotting function that returns has made them to return)."""
    threads, fds, figs = _snapshot()
    if threads - before[0] or fds - before[1]:  # garbage not yet collected may still hold them
        gc.collect()
        threads, fds, figs = _snapshot()
    found = []
    new_threads = [t for t in threading.enumerate() if t.ident in threads - before[0] and t.is_alive()]
    if new_threads:
        found.append(f"{len(new_threads)} thread(s) left running: {[t.name for t in new_threads]}")
    new_fds = []
    for fd in fds - before[1]:
        try:
            new_fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # closed since the listing (the listing's own descriptor)
    if new_fds:
        found.append(f"{len(new_fds)} file(s) left open: {new_fds[:3]}")
    new_figs = figs - before[2]
    if new_figs:
        if not returned:
            found.append(f"{len(new_figs)} figure(s) left open")
        import matplotlib.pyplot as plt

        for n in new_figs:
            plt.close(n)
    return found


def classify(case: Case) -> tuple[str, str]:
    """Run ``case`` in this process; returns ``(outcome, detail)`` (never "crash")."""
    before = _snapshot()
    err: BaseException | None = None
    result: Any = None
    with warnings.catch_warnings(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        try:
            result = case.call()
        except Exception as e:  # noqa: BLE001 - classifying is the point
            err = e
    leaks = _leaks(before, returned=err is None)
    if err is None:
        shown = repr(result)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        outcome, detail = "silent", f"returned {shown}"
    else:
        msg = str(err).replace("\n", " ")
        got = f"{type(err).__name__}: {msg[:160]}{'...' if len(msg) > 160 else ''}"
        want = case.expect.__name__
        if not _raised_in_labkit(err):
            outcome, detail = "unclear", f"raised outside labkit - {got}"
        elif type(err).__name__ == "InvalidParameterError" or not isinstance(err, case.expect):
            outcome, detail = "unclear", f"expected {want} - {got}"
        elif not _names(str(err), case.arg):
            outcome, detail = "unclear", f"does not name {case.arg!r} - {got}"
        else:
            outcome, detail = "clear", got
    if leaks:
        return "leak", "; ".join(leaks) + f" ({outcome}: {detail})"
    return outcome, detail


# --------------------------------------------------------------------------- worker / runner
def _worker(start: int, stop: int, out_path: str, pattern: str) -> None:
    warm_up()
    with open(out_path, "a", encoding="utf-8") as out:
        for i in range(start, stop):
            case = CASES[i]
            if pattern and pattern not in case.id:
                continue
            out.write(json.dumps({"i": i, "event": "start"}) + "\n")
            out.flush()
            outcome, detail = classify(case)
            out.write(json.dumps({"i": i, "event": "done", "outcome": outcome, "detail": detail}) + "\n")
            out.flush()


def run_all(pattern: str = "") -> dict[int, tuple[str, str]]:
    """Every case (whose id contains ``pattern``) in worker processes; a dead or hung
    worker makes its current case a crash and the next worker carries on after it."""
    results: dict[int, tuple[str, str]] = {}
    start = 0
    with tempfile.TemporaryDirectory(prefix="labkit-probe-") as tmp:
        out_path = os.path.join(tmp, "results.jsonl")
        while start < len(CASES):
            open(out_path, "w").close()
            proc = subprocess.Popen([sys.executable, __file__, "--worker", str(start), str(len(CASES)), out_path,
                                     "--pattern", pattern], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, cwd=str(REPO))
            current, since, hung = None, time.monotonic(), False
            while proc.poll() is None:
                time.sleep(0.2)
                events = _read(out_path)
                started = [e["i"] for e in events if e["event"] == "start"]
                if started and started[-1] != current:
                    current, since = started[-1], time.monotonic()
                if current is not None and time.monotonic() - since > CASE_TIMEOUT_S:
                    proc.kill()
                    hung = True
            stderr = proc.stderr.read() if proc.stderr else ""
            events = _read(out_path)
            for e in events:
                if e["event"] == "done":
                    results[e["i"]] = (e["outcome"], e["detail"])
            started = [e["i"] for e in events if e["event"] == "start"]
            last = started[-1] if started else None
            if last is not None and last not in results:
                said = [ln for ln in stderr.splitlines()  # TF's start-up logging is not the reason
                        if ln.strip() and not re.match(r"[IWE]\d{4} |WARNING: All log", ln)]
                why = f"no result within {CASE_TIMEOUT_S} s" if hung else \
                    f"worker exited with status {proc.returncode}: {' | '.join(said)[-200:] or 'no message'}"
                results[last] = ("crash", why)
                start = last + 1
            elif proc.returncode != 0 and last is None:
                raise RuntimeError(f"the probe worker failed before the first case:\n{stderr[-2000:]}")
            else:
                break
    return results


def _read(path: str) -> list[dict]:
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line still being written
    return events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="also list the clear cases")
    parser.add_argument("-k", "--pattern", default="", help="only cases whose id contains this")
    parser.add_argument("--worker", nargs=3, metavar=("START", "STOP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(int(args.worker[0]), int(args.worker[1]), args.worker[2], args.pattern)
        return 0
    t0 = time.perf_counter()
    results = run_all(args.pattern)
    counts = {k: 0 for k in OUTCOMES}
    for outcome, _ in results.values():
        counts[outcome] += 1
    modules = {CASES[i].id.split(".")[0] for i in results}
    functions = {CASES[i].id.split(":")[0] for i in results}
    print(f"{len(results)} bad inputs on {len(functions)} public functions/classes/methods of {len(modules)} "
          f"modules ({time.perf_counter() - t0:.0f} s)")
    print("tried / clear / unclear / silent / crash / leak")
    print(f"{len(results)} / " + " / ".join(str(counts[k]) for k in OUTCOMES))
    shown = [i for i in sorted(results) if args.verbose or results[i][0] != "clear"]
    if shown:
        print()
    for i in shown:
        outcome, detail = results[i]
        case = CASES[i]
        print(f"[{outcome}] {case.id}  (expected {case.expect.__name__} naming {case.arg!r})\n    {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
