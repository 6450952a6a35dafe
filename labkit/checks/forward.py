"""Checks of notebook 01 (profile ``forward``): neurons and forward propagation.

A dense layer written with loops and as one matrix product, a stack of layers, the
parameter count of a small network, and predictions from logits. Each check builds its
own test inputs, calls the student's answer, compares it with the reference in
:mod:`labkit.scratch` and, when it is wrong, recognises the usual mistakes (forgot the
bias, transposed W, activation after the bias, ...) to give a specific hint.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labkit import scratch as ref
from labkit.checks import (
    ExerciseError,
    call_answer,
    close,
    fresh_cases,
    fresh_seed,
    passed,
    require_answer,
    require_array,
    require_number,
    require_output,
)

__all__ = ["dense_loop", "dense", "sequential", "param_count", "output_predictions"]


def _identity(z):
    return z


_DENSE_HINT = ("A dense layer computes g(z) with z = a @ W + b: W has shape (n_in, n_out) as in a Keras "
               "kernel, so output unit j is g(sum_i a[i] * W[i, j] + b[j]).")


_ACTIVATIONS = (ref.relu, np.tanh, ref.sigmoid, _identity)


def _dense_args(rng: np.random.Generator, batch: bool) -> tuple:
    """Random (a or A, W, b, g) of random sizes: 1-6 inputs, 1-6 units, a batch of 1-8."""
    n_in, n_out = rng.integers(1, 7, size=2)
    a = rng.normal(size=(int(rng.integers(1, 9)), n_in) if batch else (n_in,))
    return a, rng.normal(size=(n_in, n_out)), rng.normal(size=n_out), _ACTIVATIONS[rng.integers(len(_ACTIVATIONS))]


def _dense_ref(a, W, b, g):
    return g(a @ W + b)


def _dense_mistakes(ex: str, got: np.ndarray, a: np.ndarray, W: np.ndarray, b: np.ndarray, g) -> None:
    """Raise with a specific hint when ``got`` matches a known wrong formula."""
    wrong = [
        (g(a @ W), "the bias b is missing.", "Add b[j] to every unit's weighted sum before the activation."),
        (a @ W + b, "the activation g was not applied.", "Return g(z), not z."),
        (g(a @ W.T + b), "you used W transposed.",
         "Index the kernel as W[i, j] (input i, output unit j); with W of shape (n_in, n_out) that is a @ W."),
        (g(a @ W) + b, "the bias was added after the activation.", "Compute g(a @ W + b): the bias goes inside g."),
        (a @ W, "both the bias and the activation are missing.", "Return g(a @ W + b)."),
    ]
    for value, problem, hint in wrong:
        if got.shape == value.shape and close(got, value):
            raise ExerciseError(ex, problem, hint)


def dense_loop(fn: Callable, *, seed: int | None = None) -> None:
    """``dense_loop(a, W, b, g)``: one example a (n_in,), written with explicit loops.

    A fixed case whose mistakes get specific hints, a non-square tanh layer, then fresh random
    sizes, weights and activations (``seed`` replays them).
    """
    ex = "dense_loop"
    rng = np.random.default_rng(0)  # a seed where every wrong formula below gives different numbers
    a, W, b = rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)
    g = ref.relu
    got = require_output(ex, call_answer(ex, fn, "dense_loop", (a.copy(), W.copy(), b.copy(), g), _DENSE_HINT),
                         "dense_loop", (4,), _DENSE_HINT)
    want = g(a @ W + b)
    if not close(got, want):
        _dense_mistakes(ex, got, a, W, b, g)
        raise ExerciseError(ex, f"wrong values: got {np.round(got, 3)}, expected {np.round(want, 3)}.", _DENSE_HINT)
    a2, W2, b2 = rng.normal(size=3), rng.normal(size=(3, 5)), rng.normal(size=5)
    got2 = require_output(ex, call_answer(ex, fn, "dense_loop", (a2, W2, b2, np.tanh), _DENSE_HINT),
                          "dense_loop", (5,), "Loop over the n_out = W.shape[1] output units and the n_in = W.shape[0] "
                          "inputs; do not hard-code sizes.")
    if not close(got2, np.tanh(a2 @ W2 + b2)):
        raise ExerciseError(ex, "wrong values for a 3-input, 5-unit layer with tanh.",
                            "Use the activation g you are given and the sizes of W; do not hard-code relu or sizes.")
    fresh_cases(ex, fn, "dense_loop", lambda r: _dense_args(r, batch=False), _dense_ref,
                "Use the sizes of W and the activation g you are given.", seed=seed, n=4)
    passed(ex, "one unit per output column, bias inside the activation")


def dense(fn: Callable, *, seed: int | None = None) -> None:
    """``dense(A, W, b, g)``: a batch A (n, n_in) -> (n, n_out) with one matrix product.

    Fixed cases with hints, then fresh random batches and sizes (``seed`` replays them).
    """
    ex = "dense"
    rng = np.random.default_rng(11)
    A, W, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)
    got = require_output(ex, call_answer(ex, fn, "dense", (A.copy(), W.copy(), b.copy(), ref.sigmoid), _DENSE_HINT),
                         "dense", (6, 5), _DENSE_HINT)
    want = ref.sigmoid(A @ W + b)
    if not close(got, want):
        _dense_mistakes(ex, got, A, W, b, ref.sigmoid)
        raise ExerciseError(ex, "wrong values for a batch of 6 examples.", _DENSE_HINT)
    A2, W2, b2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    got2 = require_output(ex, call_answer(ex, fn, "dense", (A2, W2, b2, _identity), _DENSE_HINT), "dense", (3, 2),
                          "For A of shape (n, n_in) and W of shape (n_in, n_out) the result has shape (n, n_out).")
    if not close(got2, A2 @ W2 + b2):
        raise ExerciseError(ex, "wrong values for a non-square W (4 inputs, 2 units).",
                            "Use A @ W + b, not W @ A or A @ W.T.")
    fresh_cases(ex, fn, "dense", lambda r: _dense_args(r, batch=True), _dense_ref,
                "Use A @ W + b with the sizes you are given (a batch may hold one example) and the activation g.",
                seed=seed, n=4)
    passed(ex, "g(A @ W + b) for a whole batch")


def _random_stack(rng: np.random.Generator) -> tuple:
    """A random batch and 1-4 layers of random widths and activations."""
    widths = rng.integers(1, 7, size=int(rng.integers(2, 6)))
    A = rng.normal(size=(int(rng.integers(1, 7)), widths[0]))
    layers = [(rng.normal(size=(m, n)), rng.normal(size=n), _ACTIVATIONS[rng.integers(len(_ACTIVATIONS))])
              for m, n in zip(widths[:-1], widths[1:])]
    return A, layers


def _seq_case(rng):
    A = rng.normal(size=(5, 3))
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4), ref.relu),
              (rng.normal(size=(4, 4)), rng.normal(size=4), np.tanh),
              (rng.normal(size=(4, 2)), rng.normal(size=2), _identity)]
    return A, layers


def sequential(fn: Callable, *, seed: int | None = None) -> None:
    """``sequential(A, layers)``: apply each ``(W, b, g)`` of ``layers`` in turn.

    A fixed 3-layer case with hints, then fresh random stacks of 1-4 layers (``seed`` replays them).
    """
    ex = "sequential"
    hint = ("Start with the input A and, for each (W, b, g) in layers, replace it by dense(A, W, b, g); "
            "return the output of the last layer.")
    A, layers = _seq_case(np.random.default_rng(3))
    out = call_answer(ex, fn, "sequential", (A.copy(), list(layers)), hint)
    want = ref.sequential(A, layers)
    if out is None:
        raise ExerciseError(ex, "`sequential` returned None.", "Did you forget the `return` statement?")
    got = require_array(ex, out, "the output of sequential", None, hint).astype(np.float64)
    if got.shape == (5, 4) and (close(got, ref.sequential(A, layers[:1])) or close(got, ref.sequential(A, layers[:2]))):
        raise ExerciseError(ex, "you returned a hidden layer's output, not the last layer's.", hint)
    if got.shape != want.shape:
        raise ExerciseError(ex, f"output shape {got.shape}, expected {want.shape}.", hint)
    if not close(got, want):
        no_act = ref.sequential(A, [(W, b, _identity) for W, b, _ in layers])
        if close(got, no_act):
            raise ExerciseError(ex, "the activations were not applied.", "Use each layer's own g.")
        if close(got, ref.sequential(A, [(W, b, ref.relu) for W, b, _ in layers])):
            raise ExerciseError(ex, "every layer used relu.", "Use each layer's own g, including the last (identity).")
        raise ExerciseError(ex, "wrong values for a 3-layer network.", hint)
    fresh_cases(ex, fn, "sequential", _random_stack, ref.sequential,
                "Loop over however many layers `layers` holds (one layer is a stack too).", seed=seed, n=4)
    passed(ex, "a 3-layer forward pass and random stacks of 1-4 layers")


def param_count(n_params: Any) -> None:
    """Trainable parameters of the 2-16-8-1 network of notebook 01."""
    ex = "param_count"
    hint = "Each Dense layer has n_in * n_out weights plus n_out biases; add the three layers."
    require_answer(ex, n_params, "n_params", hint)
    # 193, np.int64(193), 193.0 and np.array([193]) are all the right count; "193", True and 193.5 are not
    n_params = require_number(ex, n_params, "`n_params`", hint, integer=True)
    want = 2 * 16 + 16 + 16 * 8 + 8 + 8 * 1 + 1
    if n_params == 2 * 16 + 16 * 8 + 8 * 1:
        raise ExerciseError(ex, f"{n_params} counts only the weights.", "Add one bias per unit of every layer.")
    if n_params != want:
        raise ExerciseError(ex, f"{n_params} is not the number of parameters.", hint)
    passed(ex, f"{want} parameters")


_HINT_C = ("Multi-class: the answer is the one class with the largest logit (softmax is monotonic): "
           "np.argmax(logits, axis=1), computed from the `logits` argument.")
_HINT_L = ("Multi-label: each label is its own yes/no question: sigmoid(logit) > 0.5, which is the same as "
           "logit > 0. Do not use softmax (it makes the labels compete).")
_FIXED_LOGITS = np.array([[2.0, 1.5, -3.0], [-1.0, -0.5, -2.0], [0.3, 4.0, 0.2], [-0.1, 0.1, 5.0]])


def _logit_cases(rng) -> list[np.ndarray]:
    """Fresh batches of logits of several shapes, none within 1e-3 of 0 (where sigmoid(z) > 0.5 and z > 0
    could disagree by round-off) and with some in (0, 0.5) (where z > 0.5 and z > 0 differ)."""
    cases = []
    for n, k in ((1, 2), (7, 3), (25, 10), (12, 5), (40, 4)):
        z = rng.normal(size=(n, k)) * rng.choice([0.4, 3.0])
        z = np.where(np.abs(z) < 1e-3, 1e-3, z)
        z.flat[rng.integers(z.size)] = rng.uniform(0.05, 0.45)
        cases.append(z)
    big = rng.normal(size=(6, 3)) * 400.0  # logits in the hundreds: a sigmoid that overflows still ranks right
    cases.append(np.where(np.abs(big) < 1e-3, 1e-3, big))
    return cases


def _multiclass_answer(ex: str, fn: Callable, logits: np.ndarray, fixed_answer: np.ndarray | None,
                       where: str) -> np.ndarray:
    got = require_array(ex, call_answer(ex, fn, "predict_multiclass", (logits.copy(),), _HINT_C),
                        "the output of predict_multiclass", None, _HINT_C)
    want = np.argmax(logits, axis=1)
    hard = fixed_answer is not None and got.shape == fixed_answer.shape and np.array_equal(got, fixed_answer)
    if hard and not np.array_equal(got, want):
        raise ExerciseError(ex, f"predict_multiclass returned {got.tolist()} again {where}: the answer for the "
                                "check's first example, whatever the logits - it is hard-coded.",
                            "Compute the answer from the `logits` argument: np.argmax(logits, axis=1).")
    if got.shape != want.shape:
        raise ExerciseError(ex, f"predict_multiclass returned shape {got.shape}, expected {want.shape} {where}.",
                            "Take the argmax over the class axis (axis=1), one index per example.")
    if not np.array_equal(got, want):
        if want.size <= 8:
            problem = f"predict_multiclass gave {got.tolist()}, expected {want.tolist()} {where}."
        else:
            bad = int(np.flatnonzero(got != want)[0])
            problem = (f"predict_multiclass is wrong {where}: row {bad} has logits {np.round(logits[bad], 3).tolist()}"
                       f" and your answer is {got[bad].item()!r}, not {int(want[bad])}.")
        raise ExerciseError(ex, problem, _HINT_C)
    return got


def _multilabel_answer(ex: str, fn: Callable, logits: np.ndarray, fixed_answer: np.ndarray | None,
                       where: str) -> np.ndarray:
    got = require_array(ex, call_answer(ex, fn, "predict_multilabel", (logits.copy(),), _HINT_L),
                        "the output of predict_multilabel", None, _HINT_L, dtype_kind="biuf")
    want = logits > 0
    hard = fixed_answer is not None and got.shape == fixed_answer.shape and np.array_equal(got, fixed_answer)
    if hard and not np.array_equal(got.astype(bool), want):
        raise ExerciseError(ex, f"predict_multilabel returned the same labels {where} as for the check's first "
                                "example, whatever the logits - it is hard-coded.",
                            "Compute the answer from the `logits` argument: logits > 0 (or sigmoid(logits) > 0.5).")
    if got.shape != want.shape:
        raise ExerciseError(ex, f"predict_multilabel returned shape {got.shape}, expected {want.shape} {where}.",
                            "Return one True/False per example and label.")
    on = got.astype(bool)
    sm = ref.softmax(logits) > 0.5
    if np.array_equal(on, sm) and not np.array_equal(sm, want):
        raise ExerciseError(ex, f"predict_multilabel used softmax {where}.", _HINT_L)
    if np.array_equal(on, logits > 0.5) and not np.array_equal(want, logits > 0.5):
        raise ExerciseError(ex, f"predict_multilabel compared the logits with 0.5 {where}.",
                            "Apply the sigmoid first (or compare logits with 0): sigmoid(0) = 0.5.")
    if not np.array_equal(on, want):
        raise ExerciseError(ex, f"predict_multilabel gave wrong labels {where}.", _HINT_L)
    return got


def output_predictions(predict_multiclass: Callable, predict_multilabel: Callable, *,
                       seed: int | None = None) -> None:
    """argmax for one-of-n; an independent sigmoid > 0.5 (logit > 0) per label for any-of-n.

    First a small fixed batch (whose mistakes get specific hints), then fresh random batches of
    several shapes (``seed=None``: a new seed each call, named in any failure so that ``seed=``
    replays it), so that an answer hard-coded to the first batch fails.
    """
    ex = "output_predictions"
    fixed_c = _multiclass_answer(ex, predict_multiclass, _FIXED_LOGITS, None, "for the first example (4 x 3)")
    fixed_l = _multilabel_answer(ex, predict_multilabel, _FIXED_LOGITS, None, "for the first example (4 x 3)")
    seed = fresh_seed(seed)
    for logits in _logit_cases(np.random.default_rng(seed)):
        where = f"for a fresh batch of {logits.shape[0]} x {logits.shape[1]} logits (seed={seed})"
        _multiclass_answer(ex, predict_multiclass, logits, fixed_c, where)
        _multilabel_answer(ex, predict_multilabel, logits, fixed_l, where)
    passed(ex, "argmax for multi-class, per-label sigmoid > 0.5 for multi-label, on fresh batches")
