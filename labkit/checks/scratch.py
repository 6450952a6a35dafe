"""Checks of the from-scratch exercises (notebooks 01-03: forward, activations, backprop).

Each check builds its own test inputs, calls the student's answer, compares it with the
reference in :mod:`labkit.scratch` and, when it is wrong, recognises the usual mistakes
(forgot the bias, transposed W, unstable for large inputs, ...) to give a specific hint.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labkit import scratch as ref
from labkit.checks import ExerciseError, call_answer, close, passed, require_answer, require_array

__all__ = [
    # 01 forward
    "dense_loop", "dense", "sequential", "param_count", "output_predictions",
    # 02 activations
    "sigmoid_prime", "leaky_relu", "collapse_linear", "softmax", "dead_fraction", "output_activations",
    # 03 backprop
    "cross_entropy", "kl_divergence", "graph_derivatives", "backward", "numerical_gradient",
    "soft_threshold",
]


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def _identity(z):
    return z


def _as_out(ex: str, out: Any, name: str, shape: tuple, hint: str) -> np.ndarray:
    """The answer's output as a float array of ``shape`` (hint on None/shape/type)."""
    if out is None:
        raise ExerciseError(ex, f"`{name}` returned None.", "Did you forget the `return` statement?")
    arr = require_array(ex, out, f"the output of {name}", None, hint)
    if arr.shape != tuple(shape):
        if arr.size == int(np.prod(shape)) and arr.ndim != len(shape):
            raise ExerciseError(ex, f"`{name}` returned shape {arr.shape}, expected {tuple(shape)}.",
                                "The numbers may be right but the shape is not: keep one row per example "
                                "and one column per unit (no flatten/squeeze/extra axis).")
        raise ExerciseError(ex, f"`{name}` returned shape {arr.shape}, expected {tuple(shape)}.", hint)
    return arr.astype(np.float64)


# =========================================================================== 01 forward
_DENSE_HINT = ("A dense layer computes g(z) with z = a @ W + b: W has shape (n_in, n_out) as in a Keras "
               "kernel, so output unit j is g(sum_i a[i] * W[i, j] + b[j]).")


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


def dense_loop(fn: Callable) -> None:
    """``dense_loop(a, W, b, g)``: one example a (n_in,), written with explicit loops."""
    ex = "dense_loop"
    rng = _rng(0)  # a seed where every wrong formula below gives different numbers
    a, W, b = rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)
    g = ref.relu
    got = _as_out(ex, call_answer(ex, fn, "dense_loop", (a.copy(), W.copy(), b.copy(), g), _DENSE_HINT),
                  "dense_loop", (4,), _DENSE_HINT)
    want = g(a @ W + b)
    if not close(got, want):
        _dense_mistakes(ex, got, a, W, b, g)
        raise ExerciseError(ex, f"wrong values: got {np.round(got, 3)}, expected {np.round(want, 3)}.", _DENSE_HINT)
    a2, W2, b2 = rng.normal(size=3), rng.normal(size=(3, 5)), rng.normal(size=5)
    got2 = _as_out(ex, call_answer(ex, fn, "dense_loop", (a2, W2, b2, np.tanh), _DENSE_HINT),
                   "dense_loop", (5,), "Loop over the n_out = W.shape[1] output units and the n_in = W.shape[0] "
                   "inputs; do not hard-code sizes.")
    if not close(got2, np.tanh(a2 @ W2 + b2)):
        raise ExerciseError(ex, "wrong values for a 3-input, 5-unit layer with tanh.",
                            "Use the activation g you are given and the sizes of W; do not hard-code relu or sizes.")
    passed(ex, "one unit per output column, bias inside the activation")


def dense(fn: Callable) -> None:
    """``dense(A, W, b, g)``: a batch A (n, n_in) -> (n, n_out) with one matrix product."""
    ex = "dense"
    rng = _rng(11)
    A, W, b = rng.normal(size=(6, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)
    got = _as_out(ex, call_answer(ex, fn, "dense", (A.copy(), W.copy(), b.copy(), ref.sigmoid), _DENSE_HINT),
                  "dense", (6, 5), _DENSE_HINT)
    want = ref.sigmoid(A @ W + b)
    if not close(got, want):
        _dense_mistakes(ex, got, A, W, b, ref.sigmoid)
        raise ExerciseError(ex, "wrong values for a batch of 6 examples.", _DENSE_HINT)
    A2, W2, b2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    got2 = _as_out(ex, call_answer(ex, fn, "dense", (A2, W2, b2, _identity), _DENSE_HINT), "dense", (3, 2),
                   "For A of shape (n, n_in) and W of shape (n_in, n_out) the result has shape (n, n_out).")
    if not close(got2, A2 @ W2 + b2):
        raise ExerciseError(ex, "wrong values for a non-square W (4 inputs, 2 units).",
                            "Use A @ W + b, not W @ A or A @ W.T.")
    passed(ex, "g(A @ W + b) for a whole batch")


def _seq_case(rng):
    A = rng.normal(size=(5, 3))
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4), ref.relu),
              (rng.normal(size=(4, 4)), rng.normal(size=4), np.tanh),
              (rng.normal(size=(4, 2)), rng.normal(size=2), _identity)]
    return A, layers


def sequential(fn: Callable) -> None:
    """``sequential(A, layers)``: apply each ``(W, b, g)`` of ``layers`` in turn."""
    ex = "sequential"
    hint = ("Start with the input A and, for each (W, b, g) in layers, replace it by dense(A, W, b, g); "
            "return the output of the last layer.")
    A, layers = _seq_case(_rng(3))
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
    passed(ex, "a 3-layer forward pass")


def param_count(n_params: Any) -> None:
    """Trainable parameters of the 2-16-8-1 network of notebook 01."""
    ex = "param_count"
    hint = "Each Dense layer has n_in * n_out weights plus n_out biases; add the three layers."
    require_answer(ex, n_params, "n_params", hint)
    if isinstance(n_params, bool) or not isinstance(n_params, (int, np.integer)):
        raise ExerciseError(ex, f"`n_params` should be an integer, got {type(n_params).__name__}.", hint)
    want = 2 * 16 + 16 + 16 * 8 + 8 + 8 * 1 + 1
    if n_params == 2 * 16 + 16 * 8 + 8 * 1:
        raise ExerciseError(ex, f"{n_params} counts only the weights.", "Add one bias per unit of every layer.")
    if n_params != want:
        raise ExerciseError(ex, f"{n_params} is not the number of parameters.", hint)
    passed(ex, f"{want} parameters")


def output_predictions(predict_multiclass: Callable, predict_multilabel: Callable) -> None:
    """argmax for one-of-n; an independent sigmoid > 0.5 (logit > 0) per label for any-of-n."""
    ex = "output_predictions"
    logits = np.array([[2.0, 1.5, -3.0], [-1.0, -0.5, -2.0], [0.3, 4.0, 0.2], [-0.1, 0.1, 5.0]])
    hint_c = "Multi-class: the answer is the one class with the largest logit (softmax is monotonic): np.argmax(..., axis=1)."
    hint_l = ("Multi-label: each label is its own yes/no question: sigmoid(logit) > 0.5, which is the same as "
              "logit > 0. Do not use softmax (it makes the labels compete).")
    got = require_array(ex, call_answer(ex, predict_multiclass, "predict_multiclass", (logits.copy(),), hint_c),
                        "the output of predict_multiclass", None, hint_c)
    if got.shape != (4,):
        raise ExerciseError(ex, f"predict_multiclass returned shape {got.shape}, expected (4,).",
                            "Take the argmax over the class axis (axis=1), one index per example.")
    if not np.array_equal(got, [0, 1, 1, 2]):
        raise ExerciseError(ex, f"predict_multiclass gave {got.tolist()}, expected [0, 1, 1, 2].", hint_c)
    got = require_array(ex, call_answer(ex, predict_multilabel, "predict_multilabel", (logits.copy(),), hint_l),
                        "the output of predict_multilabel", None, hint_l, dtype_kind="biuf")
    want = logits > 0
    if got.shape != want.shape:
        raise ExerciseError(ex, f"predict_multilabel returned shape {got.shape}, expected {want.shape}.",
                            "Return one True/False per example and label.")
    sm = ref.softmax(logits) > 0.5
    if np.array_equal(got.astype(bool), sm) and not np.array_equal(sm, want):
        raise ExerciseError(ex, "predict_multilabel used softmax.", hint_l)
    if np.array_equal(got.astype(bool), logits > 0.5):
        raise ExerciseError(ex, "predict_multilabel compared the logits with 0.5.",
                            "Apply the sigmoid first (or compare logits with 0): sigmoid(0) = 0.5.")
    if not np.array_equal(got.astype(bool), want):
        raise ExerciseError(ex, "predict_multilabel gave wrong labels.", hint_l)
    passed(ex, "argmax for multi-class, per-label sigmoid > 0.5 for multi-label")


# =========================================================================== 02 activations
_BIG = np.array([-1000.0, -40.0, -1.0, 0.0, 0.5, 3.0, 40.0, 1000.0])


def _finite_or_hint(ex: str, got: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(got)):
        raise ExerciseError(ex, f"{what} gives nan or inf for large inputs (|z| = 1000).",
                            "It is unstable for large inputs: np.exp(1000) overflows. Rewrite it so that only "
                            "exp of non-positive numbers is taken (e.g. subtract the maximum first, or use "
                            "exp(-|z|)).")


def sigmoid_prime(fn: Callable) -> None:
    """``sigmoid_prime(z)`` = s(z) (1 - s(z)), finite for |z| = 1000."""
    ex = "sigmoid_prime"
    hint = "If s = sigmoid(z) then d s / d z = s * (1 - s)."
    z = np.linspace(-6, 6, 25)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _as_out(ex, call_answer(ex, fn, "sigmoid_prime", (z.copy(),), hint), "sigmoid_prime", z.shape, hint)
        want = ref.sigmoid_prime(z)
        if not close(got, want):
            s = ref.sigmoid(z)
            if close(got, s):
                raise ExerciseError(ex, "you returned the sigmoid itself, not its derivative.", hint)
            if close(got, z * (1 - z)):
                raise ExerciseError(ex, "you computed z * (1 - z).", "Apply the formula to s = sigmoid(z), not to z.")
            if close(got, s * (1 + s)) or close(got, -s * (1 - s)):
                raise ExerciseError(ex, "a sign is wrong.", hint)
            raise ExerciseError(ex, "wrong values.", hint)
        big = _as_out(ex, call_answer(ex, fn, "sigmoid_prime", (_BIG.copy(),), hint), "sigmoid_prime",
                      _BIG.shape, hint)
    _finite_or_hint(ex, big, "sigmoid_prime")
    if not close(big, ref.sigmoid_prime(_BIG), atol=1e-12):
        raise ExerciseError(ex, "wrong values for large |z| (the derivative should be ~0 there).", hint)
    passed(ex, f"max {float(got.max()):.2f} at z = 0")


def leaky_relu(fn: Callable) -> None:
    """``leaky_relu(z, alpha)``: z for z > 0, alpha * z otherwise."""
    ex = "leaky_relu"
    hint = "Leaky ReLU keeps positive z unchanged and multiplies negative z by the small slope alpha: np.where(z > 0, z, alpha * z)."
    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    got = _as_out(ex, call_answer(ex, fn, "leaky_relu", (z.copy(), 0.1), hint), "leaky_relu", z.shape, hint)
    want = np.where(z > 0, z, 0.1 * z)
    if not close(got, want):
        if close(got, np.maximum(z, 0)):
            raise ExerciseError(ex, "negative inputs give 0: that is the plain ReLU.",
                                "Multiply negative z by alpha instead of setting it to 0.")
        if close(got, np.where(z > 0, 0.1 * z, z)):
            raise ExerciseError(ex, "alpha was applied to the positive side.", hint)
        raise ExerciseError(ex, "wrong values.", hint)
    got2 = _as_out(ex, call_answer(ex, fn, "leaky_relu", (z.copy(), 0.25), hint), "leaky_relu", z.shape, hint)
    if not close(got2, np.where(z > 0, z, 0.25 * z)):
        raise ExerciseError(ex, "the slope does not follow alpha.", "Use the alpha argument; do not hard-code 0.01 or 0.1.")
    passed(ex)


def collapse_linear(fn: Callable) -> None:
    """``collapse(layers)``: the one (W, b) equal to a stack of linear layers [(W1, b1), ...]."""
    ex = "collapse_linear"
    hint = ("Write the stack out: ((x W1 + b1) W2 + b2) W3 + b3 = x (W1 W2 W3) + ((b1 W2 + b2) W3 + b3). "
            "Loop over the layers, updating W <- W @ Wk and b <- b @ Wk + bk.")
    rng = _rng(5)
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 5)), rng.normal(size=5)),
              (rng.normal(size=(5, 2)), rng.normal(size=2))]
    out = call_answer(ex, fn, "collapse", ([(W.copy(), b.copy()) for W, b in layers],), hint)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ExerciseError(ex, "`collapse` should return a pair (W, b).", hint)
    W1, W2, W3 = (W for W, _ in layers)
    b1, b2, b3 = (b for _, b in layers)
    W = _as_out(ex, out[0], "collapse(...)[0] (W)", (3, 2), "W of the stack has shape (n_in, n_out) = (3, 2): W1 @ W2 @ W3.")
    b = _as_out(ex, out[1], "collapse(...)[1] (b)", (2,), "b of the stack has shape (n_out,) = (2,).")
    if not close(W, W1 @ W2 @ W3):
        raise ExerciseError(ex, "W is wrong.", "Multiply the kernels in the order the data meets them: W1 @ W2 @ W3.")
    if not close(b, (b1 @ W2 + b2) @ W3 + b3):
        if close(b, b3) or close(b, b1 @ W2 @ W3 + b3) or close(b, b2 @ W3 + b3):
            raise ExerciseError(ex, "b is wrong: the earlier biases also pass through the later kernels.", hint)
        raise ExerciseError(ex, "b is wrong.", hint)
    passed(ex, "three linear layers are one linear layer")


def softmax(fn: Callable) -> None:
    """``softmax(Z)``: row-wise over a batch (n, k), stable for logits of +-1000."""
    ex = "softmax"
    hint = ("softmax(z)_i = exp(z_i) / sum_j exp(z_j) along the last axis (one distribution per row). "
            "Subtract each row's maximum first (keepdims=True): it does not change the result and keeps exp "
            "from overflowing.")
    Z = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _as_out(ex, call_answer(ex, fn, "softmax", (Z.copy(),), hint), "softmax", Z.shape, hint)
        want = ref.softmax(Z)
        if not close(got, want):
            if close(got, np.exp(Z) / np.exp(Z).sum(axis=0)):
                raise ExerciseError(ex, "the columns sum to 1, not the rows.", "Sum over axis=-1 with keepdims=True.")
            if close(got, np.exp(Z) / np.exp(Z).sum()):
                raise ExerciseError(ex, "the whole batch sums to 1, not each row.", "Sum over axis=-1 with keepdims=True.")
            raise ExerciseError(ex, "wrong values.", hint)
        one = np.array([[1000.0, 1001.0, 1002.0]])
        got_one = _as_out(ex, call_answer(ex, fn, "softmax", (one.copy(),), hint), "softmax", one.shape, hint)
        _finite_or_hint(ex, got_one, "softmax")
        big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
        got_big = _as_out(ex, call_answer(ex, fn, "softmax", (big.copy(),), hint), "softmax", big.shape, hint)
    if not close(got_big, ref.softmax(big)):
        raise ExerciseError(ex, "wrong values for rows of very different size (+1000 and -1000).",
                            "Subtract each row's own maximum (np.max(Z, axis=-1, keepdims=True)), not one global "
                            "maximum: with a global one the second row underflows to 0/0.")
    passed(ex, "rows sum to 1, no overflow at 1000")


def dead_fraction(fn: Callable) -> None:
    """``dead_fraction(H)``: share of units (columns) that are 0 for every example (row)."""
    ex = "dead_fraction"
    hint = ("A ReLU unit is dead on this data when its output is 0 for every example: look at each column "
            "of H (n_examples, n_units) and count the columns whose maximum is 0; divide by the number of units.")
    H = np.array([[0.0, 1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 3.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0]])
    out = call_answer(ex, fn, "dead_fraction", (H.copy(),), hint)
    got = require_array(ex, out, "the output of dead_fraction", None, hint)
    if got.size != 1:
        raise ExerciseError(ex, f"dead_fraction returned shape {got.shape}, expected one number.",
                            "Reduce to a single fraction between 0 and 1.")
    got = float(got)
    if np.isclose(got, np.mean(H == 0)):
        raise ExerciseError(ex, "you counted zero entries, not dead units.", hint)
    if np.isclose(got, np.mean((H == 0).any(axis=0))):
        raise ExerciseError(ex, "you counted units that are zero for *some* example.", hint)
    if np.isclose(got, np.mean((H == 0).all(axis=1))):
        raise ExerciseError(ex, "you looked at rows (examples) instead of columns (units).", hint)
    if np.isclose(got, 2.0):
        raise ExerciseError(ex, "you returned a count, not a fraction.", "Divide by the number of units, H.shape[1].")
    if not np.isclose(got, 0.4):
        raise ExerciseError(ex, f"got {got}, expected 0.4 (2 of 5 units dead).", hint)
    passed(ex)


OUTPUT_TASKS = {
    "house_price": "linear",
    "spam_or_not": "sigmoid",
    "digit_0_to_9": "softmax",
    "photo_tags": "sigmoid",
}
_TASK_WHY = {
    "house_price": "a price is any real number: regression needs an unbounded, linear output.",
    "spam_or_not": "one yes/no answer: a single sigmoid unit gives P(spam).",
    "digit_0_to_9": "exactly one of ten classes: softmax makes ten probabilities that sum to 1.",
    "photo_tags": "several tags can be true at once (multi-label): one independent sigmoid per tag.",
}


def output_activations(choices: Any) -> None:
    """``choices``: dict task -> "linear" | "sigmoid" | "softmax" for the four tasks."""
    ex = "output_activations"
    hint = "Fill in a dict with the keys " + ", ".join(OUTPUT_TASKS) + ' and values "linear", "sigmoid" or "softmax".'
    require_answer(ex, choices, "choices", hint)
    if not isinstance(choices, dict):
        raise ExerciseError(ex, f"`choices` should be a dict, got {type(choices).__name__}.", hint)
    missing = [k for k in OUTPUT_TASKS if k not in choices]
    if missing:
        raise ExerciseError(ex, f"missing keys: {missing}.", hint)
    for task, want in OUTPUT_TASKS.items():
        got = str(choices[task]).strip().lower()
        if got != want:
            raise ExerciseError(ex, f"{task}: {choices[task]!r} is not the right output activation.",
                                _TASK_WHY[task])
    passed(ex, "linear / sigmoid / softmax / per-label sigmoid")


# =========================================================================== 03 backprop
def cross_entropy(fn: Callable) -> None:
    """``cross_entropy(logits, y)``: mean CE of integer labels, stable for logits of 1000."""
    ex = "cross_entropy"
    hint = ("loss_i = -log softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i]; compute logsumexp stably as "
            "m + log(sum(exp(z - m))) with m the row maximum, then average over the batch.")
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [1.2, 0.2, 3.1], [0.0, 0.0, 0.0]])
    y = np.array([0, 1, 0, 2])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = call_answer(ex, fn, "cross_entropy", (logits.copy(), y.copy()), hint)
        got = require_array(ex, out, "the output of cross_entropy", None, hint)
        per = -ref.log_softmax(logits)[np.arange(4), y]
        if got.shape == (4,) and close(got, per):
            raise ExerciseError(ex, "you returned one loss per example.", "Average them: return the mean over the batch.")
        if got.size != 1:
            raise ExerciseError(ex, f"cross_entropy returned shape {got.shape}, expected one number.", hint)
        got = float(got)
        if np.isclose(got, per.sum()):
            raise ExerciseError(ex, "you returned the sum over the batch.", "Use the mean (divide by the batch size).")
        if np.isclose(got, -per.mean()):
            raise ExerciseError(ex, "the sign is wrong (a loss is >= 0).", "Cross-entropy is *minus* the log-probability.")
        if not np.isclose(got, per.mean()):
            raise ExerciseError(ex, f"got {got:.4f}, expected {per.mean():.4f}.", hint)
        big = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 990.0]])
        got_big = require_array(ex, call_answer(ex, fn, "cross_entropy", (big.copy(), np.array([2, 2])), hint),
                                "the output of cross_entropy", None, hint)
    if not np.all(np.isfinite(got_big)):
        raise ExerciseError(ex, "cross_entropy gives nan or inf for logits of 1000.",
                            "It is unstable for large inputs: never form softmax and then log it. Use "
                            "logsumexp(z) - z[y] with the row maximum subtracted inside the exp.")
    if not np.isclose(float(np.ravel(got_big)[0]), ref.cross_entropy_from_logits(big, np.array([2, 2]))):
        raise ExerciseError(ex, "wrong value for logits of +-1000 (expected (2000 + 10) / 2 = 1005: the "
                            "examples are 2000 and 10 logits short of their true class).", hint)
    passed(ex, "mean, stable at 1000")


def kl_divergence(fn: Callable) -> None:
    """``kl(p, q)`` = sum p log(p/q) along the last axis."""
    ex = "kl_divergence"
    hint = "KL(p || q) = sum_i p_i * log(p_i / q_i), summed over the last axis (natural log)."
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    q = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    got = require_array(ex, call_answer(ex, fn, "kl", (p.copy(), q.copy()), hint), "the output of kl", None, hint)
    want = ref.kl_divergence(p, q)
    if got.shape != (2,):
        if got.size == 1 and np.isclose(float(got), want.sum()) or got.size == 1 and np.isclose(float(got), want.mean()):
            raise ExerciseError(ex, "you reduced over the batch too.", "Sum over axis=-1 only: one KL per row.")
        raise ExerciseError(ex, f"kl returned shape {got.shape}, expected (2,).", "Sum over axis=-1: one KL per row.")
    if not close(got, want):
        if close(got, ref.kl_divergence(q, p)):
            raise ExerciseError(ex, "p and q are swapped: KL is not symmetric.", hint)
        if close(got, -want):
            raise ExerciseError(ex, "the sign is wrong (KL >= 0).", hint)
        if close(got, want / np.log(2)) or close(got, want / np.log(10)):
            raise ExerciseError(ex, "wrong logarithm base.", "Use np.log (nats), as Keras does.")
        raise ExerciseError(ex, "wrong values.", hint)
    passed(ex)


GRAPH = dict(x=2.0, w=0.5, b=-0.25, y=1.0)


def graph_derivatives(dL_dw: Any, dL_db: Any) -> None:
    """Hand derivatives of z = w x + b, a = sigmoid(z), L = -log a (y = 1) at :data:`GRAPH`."""
    ex = "graph_derivatives"
    hint = ("Chain rule backwards: dL/dz = a - y (sigmoid + cross-entropy), dz/dw = x, dz/db = 1, so "
            "dL/dw = (a - y) * x and dL/db = a - y, with a = sigmoid(w*x + b).")
    x, w, b, y = GRAPH["x"], GRAPH["w"], GRAPH["b"], GRAPH["y"]
    a = float(ref.sigmoid(w * x + b))
    vals = []
    for name, val in (("dL_dw", dL_dw), ("dL_db", dL_db)):
        require_answer(ex, val, name, hint)
        try:
            vals.append(float(val))
        except (TypeError, ValueError):
            raise ExerciseError(ex, f"`{name}` should be a number, got {type(val).__name__}.", hint) from None
    gw, gb = vals
    if np.isclose(gw, -(a - y) * x) and np.isclose(gb, -(a - y)):
        raise ExerciseError(ex, "both signs are wrong.", "dL/da = -1/a, so dL/dz = a - y (negative here: the loss falls as z grows).")
    if np.isclose(gw, (a - y)) and np.isclose(gb, (a - y) * x):
        raise ExerciseError(ex, "dL_dw and dL_db are swapped.", hint)
    if np.isclose(gw, (a - y)):
        raise ExerciseError(ex, "dL_dw is missing the factor dz/dw = x.", hint)
    if np.isclose(gw, a * (1 - a) * x) or np.isclose(gw, -(1 - a) * x * a):
        raise ExerciseError(ex, "dL_dw uses only the sigmoid's derivative.", "Multiply by dL/da = -1/a too: together they give a - y.")
    if not np.isclose(gw, (a - y) * x):
        raise ExerciseError(ex, f"dL_dw = {gw:.4f} is wrong.", hint)
    if not np.isclose(gb, a - y):
        raise ExerciseError(ex, f"dL_db = {gb:.4f} is wrong.", hint)
    passed(ex, f"dL/dw = {gw:.4f}, dL/db = {gb:.4f}")


def backward(fn: Callable) -> None:
    """``backward(params, cache, logits, y)`` -> dict of gradients, vs the reference backward."""
    ex = "backward"
    hint = ("Go back through the graph: dZ2 = (softmax(logits) - onehot(y)) / n; dW2 = H.T @ dZ2; "
            "db2 = dZ2.sum(axis=0); dH = dZ2 @ W2.T; dZ1 = dH * (Z1 > 0); dW1 = X.T @ dZ1; db1 = dZ1.sum(axis=0).")
    params = ref.init_two_layer(6, 5, 3, seed=2)
    rng = _rng(2)
    params["b1"] = rng.normal(size=5) * 0.5
    params["b2"] = rng.normal(size=3) * 0.5
    X, y = rng.normal(size=(8, 6)), rng.integers(0, 3, size=8)
    logits, cache = ref.two_layer_forward(params, X)
    want = ref.two_layer_backward(params, cache, logits, y)
    out = call_answer(ex, fn, "backward", ({k: v.copy() for k, v in params.items()},
                                           tuple(c.copy() for c in cache), logits.copy(), y.copy()), hint)
    if not isinstance(out, dict):
        raise ExerciseError(ex, f"`backward` should return a dict, got {type(out).__name__}.",
                            'Return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}.')
    for key in ("W2", "b2", "W1", "b1"):
        if key not in out:
            raise ExerciseError(ex, f"the gradient dict has no key {key!r}.", 'Use the keys "W1", "b1", "W2", "b2".')
        g = require_array(ex, out[key], f"grads[{key!r}]", None, hint)
        if g.shape != want[key].shape:
            t = " (transposed?)" if g.shape == want[key].shape[::-1] else ""
            raise ExerciseError(ex, f"grads[{key!r}] has shape {g.shape}, expected {want[key].shape}{t}.",
                                "Every gradient has the shape of its parameter: dW = (layer input).T @ dZ, "
                                "db = dZ.sum(axis=0) (sum over the batch).")
        if not close(g, want[key]):
            if close(g, want[key] * len(y)):
                raise ExerciseError(ex, f"grads[{key!r}] is {len(y)} times too large.",
                                    "The loss is a mean over the batch: divide dZ2 by n.")
            if key in ("W1", "b1"):
                X_, Z1, H = cache
                dZ2 = ref.softmax(logits)
                dZ2[np.arange(len(y)), y] -= 1
                dZ2 /= len(y)
                nomask = dZ2 @ params["W2"].T
                if close(g, (X_.T @ nomask) if key == "W1" else nomask.sum(0)):
                    raise ExerciseError(ex, f"grads[{key!r}] ignores the ReLU.",
                                        "Multiply dH by the ReLU's derivative, (Z1 > 0), before going further back.")
            if key in ("W2", "b2"):
                raise ExerciseError(ex, f"grads[{key!r}] is wrong.",
                                    "Start from dZ2 = softmax(logits) with 1 subtracted at each true class, divided by n.")
            raise ExerciseError(ex, f"grads[{key!r}] is wrong.", hint)
    passed(ex, "all four gradients match")


def numerical_gradient(fn: Callable) -> None:
    """``numerical_gradient(f, x, eps)``: central differences, x restored afterwards."""
    ex = "numerical_gradient"
    hint = ("For each index i: remember x[i], set x[i] = old + eps and evaluate f, set x[i] = old - eps and "
            "evaluate f, put x[i] = old back, and store (f_plus - f_minus) / (2 * eps). Use np.nditer or "
            "loop over x.reshape(-1) (a view) so that any shape works.")
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]])
    x0 = x.copy()

    def f(v):
        return float(np.sum(v ** 3) + np.sum(np.sin(v)))

    exact = 3 * x0 ** 2 + np.cos(x0)
    eps = 1e-3
    out = call_answer(ex, fn, "numerical_gradient", (f, x, eps), hint)
    if not np.array_equal(x, x0):
        raise ExerciseError(ex, "x was changed by the call.", "Restore each x[i] to its old value after perturbing it.")
    got = _as_out(ex, out, "numerical_gradient", x.shape, "Return an array with the shape of x (np.zeros_like(x)).")
    central = ref.numerical_gradient(f, x0.copy(), eps)
    if not close(got, central, rtol=1e-6, atol=1e-9):
        forward = np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            up = x0.copy()
            up[i] += eps
            forward[i] = (f(up) - f(x0)) / eps
        if close(got, forward, rtol=1e-6, atol=1e-9):
            raise ExerciseError(ex, "you used the forward difference (f(x+eps) - f(x)) / eps.",
                                f"Its error is of order eps (here {np.abs(forward - exact).max():.1e}); the central "
                                f"difference (f(x+eps) - f(x-eps)) / (2 eps) has error of order eps**2 "
                                f"({np.abs(central - exact).max():.1e}).")
        if close(got, 2 * central):
            raise ExerciseError(ex, "the result is twice too large.", "Divide by 2 * eps: the two points are 2 eps apart.")
        raise ExerciseError(ex, "wrong values.", hint)
    passed(ex, f"max error vs the exact gradient {np.abs(got - exact).max():.1e}")


def soft_threshold(fn: Callable) -> None:
    """``soft_threshold(w, t)`` = sign(w) max(|w| - t, 0): the L1 proximal step."""
    ex = "soft_threshold"
    hint = ("Shrink every weight towards 0 by t and stop at exactly 0: np.sign(w) * np.maximum(np.abs(w) - t, 0). "
            "Weights with |w| <= t become exactly 0.")
    w = np.array([-2.0, -0.3, -0.05, 0.0, 0.04, 0.25, 1.5])
    t = 0.1
    got = _as_out(ex, call_answer(ex, fn, "soft_threshold", (w.copy(), t), hint), "soft_threshold", w.shape, hint)
    want = ref.soft_threshold(w, t)
    if not close(got, want, atol=0):
        if close(got, w - t * np.sign(w)):
            raise ExerciseError(ex, "small weights crossed zero instead of stopping at exactly 0.",
                                "Clip |w| - t at 0 (np.maximum) before restoring the sign.")
        if close(got, np.where(np.abs(w) > t, w, 0.0)):
            raise ExerciseError(ex, "that is hard thresholding: large weights were not shrunk.", hint)
        if close(got, w / (1 + t)) or close(got, w * (1 - t)):
            raise ExerciseError(ex, "that is the L2 (weight decay) shrink, which never gives exact zeros.", hint)
        raise ExerciseError(ex, "wrong values.", hint)
    if np.count_nonzero(got == 0) != np.count_nonzero(want == 0):
        raise ExerciseError(ex, "weights below the threshold are small but not exactly 0.", hint)
    passed(ex, f"{int(np.sum(got == 0))} of {w.size} weights exactly 0")
