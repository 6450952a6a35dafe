"""Checks for the exercises of the optimisation notebook (08_optimisation)."""
from __future__ import annotations

import math

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed, require_answer

__all__ = ["he_std", "cosine_lr", "dead_units", "clip_global_norm"]


def _number(exercise: str, value, what: str, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            and not (isinstance(value, np.ndarray) and value.shape == ()):
        raise ExerciseError(exercise, f"{what} returned {type(value).__name__}, expected a number.", hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"{what} returned {value}, expected a finite number.", hint)
    return value


def he_std(fn) -> None:
    """``fn(fan_in)`` -> the standard deviation of He (Kaiming) normal initialisation."""
    ex = "he_std"
    hint = ("He initialisation keeps the variance of ReLU activations constant from layer to layer: "
            "Var(w) = 2 / fan_in, so std = sqrt(2 / fan_in).")
    require_answer(ex, fn, "he_std", hint)
    for fan_in in (3, 128, 784, 3072):
        got = _number(ex, call_answer(ex, fn, "he_std", (fan_in,), hint), f"he_std({fan_in})", hint)
        want = math.sqrt(2.0 / fan_in)
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        if math.isclose(got, 2.0 / fan_in, rel_tol=1e-6):
            raise ExerciseError(ex, f"he_std({fan_in}) = {got:.4g} is the variance, not the standard deviation.", hint)
        if math.isclose(got, math.sqrt(1.0 / fan_in), rel_tol=1e-6):
            raise ExerciseError(ex, f"he_std({fan_in}) = {got:.4g} is LeCun's sqrt(1/fan_in); ReLU zeroes half "
                                "of its inputs, so He doubles the variance.", hint)
        raise ExerciseError(ex, f"he_std({fan_in}) = {got:.4g}, expected {want:.4g}.", hint)
    passed(ex, "std = sqrt(2 / fan_in)")


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
