"""Checks for the exercises of the optimisation notebook (08_optimisation)."""
from __future__ import annotations

import math

import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer, require_output
from labkit.checks.predictions import ChoicePrediction
from labkit.validation import check_number

__all__ = ["adam_step", "cosine_lr", "dead_units", "clip_global_norm", "gradient_prediction", "gradient_verdict"]


def _number(exercise: str, value, what: str, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            and not (isinstance(value, np.ndarray) and value.shape == ()):
        raise ExerciseError(exercise, f"{what} returned {type(value).__name__}, expected a number.", hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"{what} returned {value}, expected a finite number.", hint)
    return value


def _adam_reference(w, g, m, v, t, lr, beta_1, beta_2, eps, *, correct_m=True, correct_v=True,
                    square=True, eps_inside=False, sign=1.0, t_shift=0):
    """One Adam step (Kingma & Ba 2015, Algorithm 1), with switches that reproduce typical slips."""
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * (g * g if square else g)
    t = t + t_shift
    with np.errstate(invalid="ignore", divide="ignore"):   # t - 1 = 0 at the first step: inf, not a warning
        m_hat = m / (1 - beta_1 ** t) if correct_m else m
        v_hat = v / (1 - beta_2 ** t) if correct_v else v
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return w - sign * lr * m_hat / denom, m, v


# Each slip: the switches that reproduce it, and what to tell the learner.
_ADAM_SLIPS = (
    (dict(correct_m=False, correct_v=False),
     "no bias correction: m and v start at 0, so early on they are too small by factors (1 - beta**t); "
     "divide them by those factors before the step."),
    (dict(correct_v=False), "only m is bias-corrected: divide v by (1 - beta_2**t) too."),
    (dict(correct_m=False), "only v is bias-corrected: divide m by (1 - beta_1**t) too."),
    (dict(square=False), "v must average the *squared* gradient g**2, not g."),
    (dict(eps_inside=True), "eps goes outside the square root: sqrt(v_hat) + eps (as Keras does)."),
    (dict(sign=-1.0), "the step has the wrong sign: subtract lr * m_hat / (sqrt(v_hat) + eps) from w."),
    (dict(t_shift=1), "the bias correction uses t + 1: `t` is already the number of this step (1 for the first)."),
    (dict(t_shift=-1), "the bias correction uses t - 1: `t` is already the number of this step (1 for the first)."),
)


def _keras_form_step(w, g, m, v, t, lr, beta_1, beta_2, eps):
    """Keras' arrangement of the same step: the bias corrections folded into the learning rate, eps added
    to the uncorrected sqrt(v) (tests/test_checks_optimisation.py checks it against keras.optimizers.Adam)."""
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    alpha = lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def _step_ok(got_w, state) -> bool:
    """Whether got_w is Adam's step from ``state``: within the band between the paper's and Keras' forms
    (they differ where sqrt(v) is comparable to eps), plus 0.2 % of the step."""
    w = state[0]
    paper, keras_form = _adam_reference(*state)[0] - w, _keras_form_step(*state)[0] - w
    slack = np.abs(keras_form - paper) + 2e-3 * np.abs(paper) + 1e-12
    return bool(np.all(np.abs((np.asarray(got_w) - w) - paper) <= slack))


def adam_step(fn, *, seed: int | None = None) -> None:
    """``fn(w, g, m, v, t, lr, beta_1, beta_2, eps)`` -> ``(w, m, v)`` after Adam's step number ``t`` (from 1).

    Checked over several steps, on fresh random weights and gradients of a few shapes (one with tiny
    gradients, where the place of ``eps`` shows): the moments against the paper's update (Kingma & Ba
    2015), each step against the paper's and against Keras' arrangement of it (either is right, and
    anything between them). Inputs must not be changed in place.
    """
    ex = "adam_step"
    hint = ("m = beta_1*m + (1-beta_1)*g;  v = beta_2*v + (1-beta_2)*g**2;  m_hat = m/(1-beta_1**t);  "
            "v_hat = v/(1-beta_2**t);  w = w - lr*m_hat/(sqrt(v_hat)+eps).  Return (w, m, v).")
    require_answer(ex, fn, "adam_step", hint)
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    replay = f"(replay with checks.optimisation.adam_step(adam_step, seed={seed}))"
    cases = [((5,), 1.0, 1e-2, 0.9, 0.999), ((3, 4), 1.0, 1e-3, 0.8, 0.99), ((6,), 1e-3, 1e-2, 0.9, 0.999)]
    eps, n_steps = 1e-7, 4
    for shape, scale, lr, beta_1, beta_2 in cases:
        w0 = rng.normal(size=shape)
        # magnitudes kept away from 0, so that the tiny case's entries all show where eps is
        grads = [rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape) * scale
                 for _ in range(n_steps)]
        w, m, v = w0.copy(), np.zeros(shape), np.zeros(shape)
        ref = (w0.copy(), np.zeros(shape), np.zeros(shape))
        for t, g in enumerate(grads, start=1):
            args = (w.copy(), g.copy(), m.copy(), v.copy(), t, lr, beta_1, beta_2, eps)
            given = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            out = call_answer(ex, fn, "adam_step", args, hint)
            if not isinstance(out, (tuple, list)) or len(out) != 3:
                raise ExerciseError(ex, f"adam_step returned {type(out).__name__}; return a tuple (w, m, v).", hint)
            got = [require_output(ex, o, f"adam_step (its {name})", shape, hint)
                   for o, name in zip(out, ("w", "m", "v"))]
            if any(not np.array_equal(a, b) for a, b in zip(args[:4], given[:4])):
                raise ExerciseError(ex, "adam_step changed an input array in place; compute new arrays and "
                                    "return them (w, m, v).", hint)
            ref = _adam_reference(ref[0], g, ref[1], ref[2], t, lr, beta_1, beta_2, eps)
            where = f"step t={t} of a {shape} case with lr={lr}, beta_1={beta_1}, beta_2={beta_2} {replay}"
            if not (np.allclose(got[1], ref[1], rtol=1e-6, atol=1e-12)
                    and np.allclose(got[2], ref[2], rtol=1e-6, atol=1e-15)):
                if np.allclose(got[1], m) and np.allclose(got[2], v):
                    raise ExerciseError(ex, f"the moments came back unchanged at {where}.",
                                        "Return the *updated* m and v: the next step needs them.")
                swapped = (beta_2 * m + (1 - beta_2) * g, beta_1 * v + (1 - beta_1) * g * g)
                if np.allclose(got[1], swapped[0]) and np.allclose(got[2], swapped[1]):
                    raise ExerciseError(ex, f"beta_1 and beta_2 are swapped at {where}.",
                                        "beta_1 (0.9) averages the gradient into m; beta_2 (0.999) averages "
                                        "its square into v.")
            state = (w, g, m, v, t, lr, beta_1, beta_2, eps)
            want_w = _adam_reference(*state)[0]
            if _step_ok(got[0], state) \
                    and np.allclose(got[1], ref[1], rtol=1e-6, atol=1e-12) \
                    and np.allclose(got[2], ref[2], rtol=1e-6, atol=1e-15):
                w, m, v = got
                continue
            for switches, why in _ADAM_SLIPS:
                slip = _adam_reference(*state, **switches)
                if np.allclose(got[0], slip[0], rtol=1e-6, atol=1e-12, equal_nan=True):
                    raise ExerciseError(ex, f"{why} (found at {where})", hint)
            raise ExerciseError(ex, f"wrong weights at {where}: expected {np.round(want_w, 6).ravel()[:4]}, "
                                f"got {np.round(got[0], 6).ravel()[:4]} (first entries).", hint)
    passed(ex, f"{n_steps} steps on {len(cases)} fresh cases match Adam's update (as Keras computes it)")


def _cosine(step: float, total: int, base: float) -> float:
    return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / total))


def cosine_lr(fn) -> None:
    """``fn(step, total_steps, base_lr)`` -> cosine-decayed learning rate (to 0, then flat)."""
    ex = "cosine_lr"
    hint = ("lr = 0.5 * base_lr * (1 + cos(pi * t)) with t = min(step, total_steps) / total_steps: "
            "base_lr at step 0, base_lr/2 half-way, 0 at the end and after it.")
    require_answer(ex, fn, "cosine_lr", hint)
    cases = [(0, 100, 0.1), (50, 100, 0.1), (25, 100, 0.1), (100, 100, 0.1), (150, 100, 0.1),
             (7, 40, 3e-3), (39, 40, 3e-3)]
    for step, total, base in cases:
        got = _number(ex, call_answer(ex, fn, "cosine_lr", (step, total, base), hint),
                      f"cosine_lr({step}, {total}, {base})", hint)
        want = _cosine(step, total, base)
        if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12):
            continue
        if step == 0:
            raise ExerciseError(ex, f"at step 0 the rate should be base_lr={base}, got {got:.4g}.", hint)
        if step > total:
            raise ExerciseError(ex, f"after total_steps the rate should stay at 0, got {got:.4g} at step {step} "
                                f"of {total}: clip the step with min(step, total_steps).", hint)
        if math.isclose(got, 0.5 * base * (1 + math.cos(step / total)), rel_tol=1e-6):
            raise ExerciseError(ex, "the cosine is missing its factor pi: the rate must reach 0 at the end.", hint)
        raise ExerciseError(ex, f"cosine_lr({step}, {total}, {base}) = {got:.4g}, expected {want:.4g}.", hint)
    passed(ex, "matches keras.optimizers.schedules.CosineDecay")


def _dead(acts: np.ndarray) -> float:
    return float(1.0 - np.any(acts.reshape(-1, acts.shape[-1]) > 0, axis=0).mean())


def dead_units(fn) -> None:
    """``fn(acts)`` -> fraction of units (last axis) that are zero for every example/position."""
    ex = "dead_units"
    hint = ("A unit is dead when it is zero for *every* example (and, in a conv layer, at every position): "
            "reduce with np.any(acts > 0) over every axis except the last, then 1 - mean.")
    require_answer(ex, fn, "dead_units", hint)
    rng = np.random.default_rng(0)
    dense = np.maximum(rng.normal(size=(64, 10)), 0.0)
    dense[:, [1, 4, 7]] = 0.0                     # 3 of 10 dead
    dense[:, 2] = 0.0
    dense[5, 2] = 1.0                             # alive on one example only: not dead
    conv = np.maximum(rng.normal(size=(8, 5, 5, 4)), 0.0)
    conv[..., 0] = 0.0                            # 1 of 4 channels dead
    conv[:, :, :, 3] = 0.0
    conv[2, 1, 1, 3] = 0.5                        # alive at a single position
    for acts, name in ((dense, "a Dense layer's (64, 10) activations"),
                       (conv, "a conv layer's (8, 5, 5, 4) activations")):
        got = _number(ex, call_answer(ex, fn, "dead_units", (acts.copy(),), hint), f"dead_units on {name}", hint)
        want = _dead(acts)
        if math.isclose(got, want, abs_tol=1e-9):
            continue
        if math.isclose(got, float(np.mean(acts == 0)), abs_tol=1e-9):
            raise ExerciseError(ex, f"on {name} you returned the fraction of zero *entries* ({got:.3f}); "
                                f"count units instead ({want:.3f}).", hint)
        if acts.ndim == 4 and math.isclose(got, float(np.mean(~np.any(acts > 0, axis=0))), abs_tol=1e-9):
            raise ExerciseError(ex, f"on {name} you treated every (position, channel) as a unit; a conv unit is "
                                "a channel, dead only if zero at every position.", hint)
        raise ExerciseError(ex, f"on {name} you returned {got:.3f}, expected {want:.3f}.", hint)
    passed(ex, "units dead on every example and position")


def _clip(grads, max_norm):
    norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * scale for g in grads]


def clip_global_norm(fn) -> None:
    """``fn(grads, max_norm)`` -> the gradient list rescaled so its global L2 norm <= max_norm."""
    ex = "clip_global_norm"
    hint = ("Global norm = sqrt(sum of squares of every entry of every array). If it exceeds max_norm, "
            "multiply *every* array by max_norm / global_norm (one common factor keeps the direction); "
            "otherwise return them unchanged.")
    require_answer(ex, fn, "clip_global_norm", hint)
    rng = np.random.default_rng(1)
    big = [rng.normal(size=(4, 3)) * 10, rng.normal(size=(3,)) * 0.1, rng.normal(size=(3, 2)) * 5]
    small = [g * 1e-3 for g in big]
    for grads, max_norm, label in ((big, 1.0, "large gradients"), (small, 1.0, "small gradients")):
        out = call_answer(ex, fn, "clip_global_norm", ([g.copy() for g in grads], max_norm), hint)
        if not isinstance(out, (list, tuple)) or len(out) != len(grads):
            raise ExerciseError(ex, f"return a list of {len(grads)} arrays, one per gradient; got "
                                f"{type(out).__name__}.", hint)
        try:
            out = [np.asarray(o, dtype="float64") for o in out]
        except (TypeError, ValueError):
            raise ExerciseError(ex, "the returned list must hold numeric arrays.", hint) from None
        if any(o.shape != g.shape for o, g in zip(out, grads)):
            raise ExerciseError(ex, "each returned array must keep the shape of its gradient.", hint)
        want = _clip(grads, max_norm)
        if all(np.allclose(o, w, rtol=1e-6, atol=1e-12) for o, w in zip(out, want)):
            continue
        per_array = [g * min(1.0, max_norm / float(np.linalg.norm(g))) for g in grads]
        if all(np.allclose(o, w, rtol=1e-6) for o, w in zip(out, per_array)):
            raise ExerciseError(ex, "you clipped each array by its own norm (Keras' clipnorm); clip by the norm of "
                                "all of them together (global_clipnorm).", hint)
        if label == "small gradients":
            raise ExerciseError(ex, "gradients whose global norm is already below max_norm must be returned "
                                "unchanged (you rescaled them).", hint)
        raise ExerciseError(ex, f"wrong result on {label}: the global norm should become {max_norm}.", hint)
    passed(ex, "same as tf.clip_by_global_norm")


_GRADIENT = ChoicePrediction(
    "prediction: the first layer's gradient in a deep sigmoid net", "predicted_gradient",
    {"shrinks": "",
     "grows": "Growth is the exploding case (large weights, or ReLU with a too-large initialisation); the "
              "sigmoid's slope is at most 0.25, so each layer it passes through can only shrink it further "
              "unless the weights are large.",
     "about the same": "Each layer multiplies the backward signal by the activation's slope times the "
                       "weights; with the sigmoid's slope at most 0.25 those factors do not cancel."},
    "The backward pass multiplies the gradient by each layer's activation slope (and its weights). What is "
    "the largest slope of the sigmoid?")


def gradient_prediction(predicted_gradient) -> None:
    """Section 8, before the measurement: commit to 'shrinks', 'grows' or 'about the same'."""
    _GRADIENT.commit(predicted_gradient)


def gradient_verdict(predicted_gradient, first_last_ratio, factor: float = 10.0) -> None:
    """Section 8, after the measurement: ``first_last_ratio`` is the first layer's gradient norm over the last's.

    A ratio within ``factor`` of 1 either way counts as "about the same".
    """
    ratio = check_number(first_last_ratio, "first_last_ratio", min_val=0)
    factor = check_number(factor, "factor", min_val=1)
    outcome = "shrinks" if ratio < 1 / factor else "grows" if ratio > factor else "about the same"
    _GRADIENT.verdict(predicted_gradient, outcome, f"first-layer / last-layer gradient norm = {ratio:.1e}",
                      "on the way back each sigmoid layer multiplies the gradient by its slope, at most 0.25, "
                      "times Glorot-scaled weights that do not make up for it: the product over the layers "
                      "vanishes geometrically, so the first layers barely learn.")
