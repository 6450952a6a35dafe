"""Checks for the exercises of the optimisation notebook (08_optimisation)."""
from __future__ import annotations

import json
import math

import keras
import numpy as np
import tensorflow as tf

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer, require_output
from labkit.checks.predictions import ChoicePrediction
from labkit.validation import check_number

__all__ = ["adam_step", "warmup_cosine", "dead_units", "clip_global_norm", "gradient_prediction", "gradient_verdict"]


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


_SCHEDULE_HINT = ("Subclass keras.optimizers.schedules.LearningRateSchedule. In __init__ keep peak, warmup_steps "
                  "and total_steps on self; in __call__(step) cast step to float with keras.ops.cast, compute "
                  "warm = peak * step / warmup_steps and, with t = clip((step - warmup_steps) / (total_steps - "
                  "warmup_steps), 0, 1), cosine = 0.5 * peak * (1 + cos(pi * t)); return "
                  "keras.ops.where(step < warmup_steps, warm, cosine). get_config returns the three arguments "
                  "as a dict.")
_GRAPH_HINT = ("The optimizer calls the schedule inside a compiled graph, with the step as a tensor: a Python "
               "`if`, min() or math.cos on it fails there. Use keras.ops (where, minimum, clip, cos) instead.")


def _schedule_case(rng: np.random.Generator) -> tuple[float, int, int]:
    """Fresh (peak, warmup_steps, total_steps): peak log-uniform in [1e-3, 0.5]."""
    warmup = int(rng.integers(2, 21))
    return float(10 ** rng.uniform(-3, math.log10(0.5))), warmup, warmup + int(rng.integers(10, 201))


def _keras_warmup_cosine(peak: float, warmup: int, total: int):
    """The oracle: Keras' CosineDecay from 0 with a linear warm-up to ``peak``, decaying to 0."""
    return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=0.0, warmup_target=peak,
                                                 warmup_steps=warmup)


def _schedule_value(ex: str, sched, step, where: str) -> float:
    try:
        value = sched(step)
    except NotImplementedError:
        raise ExerciseError(ex, "the schedule is not written yet (it raises NotImplementedError).",
                            _SCHEDULE_HINT) from None
    except Exception as err:  # noqa: BLE001 - the learner's error, with the hint
        raise ExerciseError(ex, f"calling the schedule {where} raised {type(err).__name__}: {err}",
                            _SCHEDULE_HINT) from None
    try:
        return float(np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise ExerciseError(ex, f"the schedule returned {type(value).__name__} {where}; expected one number "
                                "(a scalar tensor).", _SCHEDULE_HINT) from None


def _schedule_slip(got: list[float], steps: list[int], peak: float, warmup: int, total: int) -> str | None:
    """Name the typical slip that reproduces ``got``, or None."""
    def cos_over(span: int, start: int):
        return [0.5 * peak * (1 + math.cos(math.pi * min(max(s - start, 0), span) / span)) for s in steps]

    warm = [peak * s / warmup for s in steps]
    slips = [
        (cos_over(total - warmup, warmup), "there is no warm-up: the rate starts at the peak. Ramp it up "
                                           "linearly from 0 over warmup_steps first."),
        ([w if s < warmup else c for s, w, c in zip(steps, warm, cos_over(total, 0))],
         "the cosine spans all total_steps, from step 0; it should start after the warm-up and span "
         "total_steps - warmup_steps."),
        ([w if s < warmup else c for s, w, c in zip(steps, warm, cos_over(total, warmup))],
         "the cosine spans total_steps after the warm-up; it should end at total_steps, so it spans "
         "total_steps - warmup_steps."),
        ([w if s < warmup else 0.5 * peak * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))
          for s, w in zip(steps, warm)],
         "after total_steps the rate rises again: clip the cosine's progress at 1 so the rate stays at 0."),
    ]
    for values, why in slips:
        if np.allclose(got, values, rtol=1e-4, atol=1e-9 * peak):
            return why
    return None


def warmup_cosine(cls, *, seed: int | None = None) -> None:
    """Exercise 2: ``cls(peak, warmup_steps, total_steps)`` is a Keras ``LearningRateSchedule``: a linear
    warm-up from 0 to ``peak``, then half a cosine down to 0 at ``total_steps``, 0 after it.

    Checked on fresh random schedules each call (``seed`` replays them): the values at the warm-up's
    ends, the cosine's middle and end and past the end equal Keras' ``CosineDecay(0.0, total -
    warmup, warmup_target=peak, warmup_steps=warmup)``; it works with a tensor step inside
    ``tf.function`` and as an SGD optimizer's learning rate (the rate follows the step count);
    ``get_config``/``from_config`` rebuild the same schedule from a JSON-serialisable config.
    """
    ex = "a warm-up + cosine schedule"
    require_answer(ex, cls, "WarmupCosine", _SCHEDULE_HINT)
    base = keras.optimizers.schedules.LearningRateSchedule
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ExerciseError(ex, f"`WarmupCosine` should be a class derived from keras.optimizers.schedules."
                                f"LearningRateSchedule, got {cls!r}.", _SCHEDULE_HINT)
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        peak, warmup, total = _schedule_case(rng)
        where = f"for WarmupCosine({peak:.4g}, {warmup}, {total}) (seed={seed})"
        sched = call_answer(ex, cls, "WarmupCosine", (peak, warmup, total), _SCHEDULE_HINT)
        mid = warmup + (total - warmup) // 2
        steps = sorted({0, 1, warmup - 1, warmup, warmup + 1, mid, total - 1, total, total + 7,
                        *(int(v) for v in rng.integers(0, total + 20, size=4))})
        oracle = _keras_warmup_cosine(peak, warmup, total)
        want = [float(oracle(s)) for s in steps]
        got = [_schedule_value(ex, sched, tf.constant(s, dtype="int64"), f"at step {s}") for s in steps]
        if not np.allclose(got, want, rtol=1e-4, atol=1e-9 * peak):
            slip = _schedule_slip(got, steps, peak, warmup, total)
            k = int(np.argmax(np.abs(np.subtract(got, want))))
            raise ExerciseError(ex, f"{where}: " + (slip or f"at step {steps[k]} the rate is {got[k]:.6g}, "
                                                            f"expected {want[k]:.6g}."), _SCHEDULE_HINT)
        _in_graph(ex, sched, mid, float(oracle(mid)), where)
        _optimizer_follows(ex, sched, oracle, warmup, where)
        _config_round_trip(ex, cls, sched, steps, got, where)
    passed(ex, "matches Keras' CosineDecay with warm-up on 3 fresh schedules; runs in a graph and an optimizer; "
               "rebuilds from its config")


def _in_graph(ex: str, sched, step: int, want: float, where: str) -> None:
    """The schedule called inside ``tf.function`` (as an optimizer in ``fit`` calls it) gives ``want``."""
    graph = tf.function(lambda s: sched(s))
    try:
        value = graph(tf.constant(step, dtype="int64"))
    except Exception as err:  # noqa: BLE001 - a graph-mode failure is the typical slip
        raise ExerciseError(ex, f"the schedule fails inside tf.function {where} ({type(err).__name__}: "
                                f"{str(err).splitlines()[0][:160]}).", _GRAPH_HINT) from None
    got = _schedule_value(ex, lambda s: value, step, f"inside tf.function {where}")
    if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-12):
        raise ExerciseError(ex, f"inside tf.function, at step {step}, the rate is {got:.6g}, expected {want:.6g} "
                                f"{where}.", _GRAPH_HINT)


def _optimizer_follows(ex: str, sched, oracle, warmup: int, where: str) -> None:
    """Take ``warmup + 2`` SGD steps with the schedule; the optimizer's rate must follow the step count."""
    w = keras.Variable(np.zeros(3, dtype="float32"))
    opt = keras.optimizers.SGD(learning_rate=sched)
    for _ in range(warmup + 2):
        opt.apply_gradients([(keras.ops.ones((3,)), w)])
    got = float(keras.ops.convert_to_numpy(opt.learning_rate))
    want = float(oracle(warmup + 2))
    if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-12):
        raise ExerciseError(ex, f"as an SGD optimizer's learning_rate, after {warmup + 2} steps the rate is "
                                f"{got:.6g}, expected {want:.6g} {where}.", _SCHEDULE_HINT)


def _config_round_trip(ex: str, cls, sched, steps: list[int], values: list[float], where: str) -> None:
    try:
        config = sched.get_config()
    except NotImplementedError:
        raise ExerciseError(ex, "get_config is missing: Keras saves a schedule (with the optimizer in a .keras "
                                "file) from its config.",
                            "Define get_config returning {'peak': ..., 'warmup_steps': ..., 'total_steps': ...}.") \
            from None
    try:
        json.dumps(config)
        clone = cls.from_config(config)
    except Exception as err:  # noqa: BLE001 - any failure to rebuild is the learner's
        raise ExerciseError(ex, f"the schedule cannot be rebuilt from get_config() = {config!r} "
                                f"({type(err).__name__}: {err}).",
                            "get_config must return a JSON-serialisable dict of exactly the __init__ arguments "
                            "(plain Python numbers), so that WarmupCosine(**config) works.") from None
    again = [_schedule_value(ex, clone, tf.constant(s, dtype="int64"), f"at step {s} after from_config")
             for s in steps]
    if not np.allclose(again, values, rtol=1e-6, atol=0):
        raise ExerciseError(ex, f"WarmupCosine.from_config(get_config()) gives other rates {where}: the config "
                                "misses or changes an argument.", _SCHEDULE_HINT)


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
