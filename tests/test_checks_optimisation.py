"""Checks of the optimisation notebook: right answers pass, typical wrong ones get their hint."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import labkit  # noqa: F401
from labkit.callbacks import dead_fraction
from labkit.checks import ExerciseError
from labkit.checks import optimisation as check


def _adam(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _keras_style_adam(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """Keras' own arrangement: the bias corrections folded into the learning rate (eps-hat form)."""
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def test_adam_step_accepts_the_paper_and_the_keras_form(capsys):
    check.adam_step(_adam, seed=0)
    check.adam_step(_keras_style_adam, seed=1)
    check.adam_step(lambda *a: tuple(np.float32(1.0) * x for x in _adam(*a)), seed=2)   # float32-ish arithmetic
    assert capsys.readouterr().out.count("correct") == 3


def test_adam_step_references_are_keras_adam():
    """The oracle: keras.optimizers.Adam applied to a variable equals the check's Keras-form step exactly,
    and the check accepts both it and the paper's form, also for tiny gradients (where eps matters)."""
    import keras

    rng = np.random.default_rng(0)
    for scale in (1.0, 1e-3):
        w0 = rng.normal(size=(4,))
        var = keras.Variable(w0.copy(), dtype="float64")
        opt = keras.optimizers.Adam(learning_rate=1e-2, epsilon=1e-7)
        m, v = np.zeros(4), np.zeros(4)
        for t in range(1, 6):
            g = rng.normal(size=(4,)) * scale
            before = var.numpy().copy()
            opt.apply_gradients([(keras.ops.convert_to_tensor(g, dtype="float64"), var)])
            keras_form = check._keras_form_step(before, g, m, v, t, 1e-2, 0.9, 0.999, 1e-7)
            np.testing.assert_allclose(var.numpy(), keras_form[0], rtol=1e-6)
            paper = _adam(before, g, m, v, t, 1e-2)
            state = (before, g, m, v, t, 1e-2, 0.9, 0.999, 1e-7)
            assert check._step_ok(paper[0], state) and check._step_ok(var.numpy(), state)
            _, m, v = paper


def _no_correction(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _eps_inside(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    return w - lr * (m / (1 - beta_1**t)) / np.sqrt(v / (1 - beta_2**t) + eps), m, v


def _in_place(w, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
    new_w, new_m, new_v = _adam(w, g, m, v, t, lr, beta_1, beta_2, eps)
    m[...] = new_m
    return new_w, new_m, new_v


@pytest.mark.parametrize("fn, match", [
    (None, "no answer"),
    (_no_correction, "no bias correction"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: _adam(w, g, m, v, t + 1, lr, b1, b2, e), "t \\+ 1"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: _adam(w, g, m, v, t - 1, lr, b1, b2, e)
     if t > 1 else _adam(w, g, m, v, t, lr, b1, b2, e), "t - 1"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: _adam(w, g, m, v, t, lr, b2, b1, e), "swapped"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: (2 * w - _adam(w, g, m, v, t, lr, b1, b2, e)[0],
                                                        *_adam(w, g, m, v, t, lr, b1, b2, e)[1:]), "wrong sign"),
    (_eps_inside, "outside the square root"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: (_adam(w, g, m, v, t, lr, b1, b2, e)[0], m, v),
     "unchanged"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: _adam(w, g, m, v, t, lr, b1, b2, e)[0], "tuple"),
    (_in_place, "in place"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: (w[:1], m, v), "shape"),
    (lambda w, g, m, v, t, lr, b1=0.9, b2=0.999, e=1e-7: (w - lr * g, m, v), "unchanged"),
])
def test_adam_step_rejects_typical_slips_with_their_hint(fn, match):
    with pytest.raises(ExerciseError, match=match):
        check.adam_step(fn, seed=3)


def test_adam_step_cannot_be_fooled_by_replaying_one_run():
    """An answer that memorised one seeded run fails on the next call's fresh inputs."""
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(5,))
    memorised = _adam(w0, rng.normal(size=5), np.zeros(5), np.zeros(5), 1, 1e-2)
    with pytest.raises(ExerciseError):
        check.adam_step(lambda *a: memorised)


Schedule = keras.optimizers.schedules.LearningRateSchedule


class WarmupCosine(Schedule):
    def __init__(self, peak, warmup_steps, total_steps):
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, total_steps

    def _parts(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak * step / self.warmup_steps
        t = keras.ops.clip((step - self.warmup_steps) / (self.total_steps - self.warmup_steps), 0.0, 1.0)
        return step, warm, 0.5 * self.peak * (1.0 + keras.ops.cos(math.pi * t))

    def __call__(self, step):
        step, warm, cosine = self._parts(step)
        return keras.ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


class ViaKeras(WarmupCosine):
    """Delegating to Keras' own CosineDecay is a right answer too."""

    def __call__(self, step):
        return keras.optimizers.schedules.CosineDecay(0.0, self.total_steps - self.warmup_steps,
                                                      warmup_target=self.peak, warmup_steps=self.warmup_steps)(step)


class NoWarmup(WarmupCosine):
    def __call__(self, step):
        return self._parts(step)[2]


class CosineFromZero(WarmupCosine):
    def __call__(self, step):
        step, warm, _ = self._parts(step)
        cosine = 0.5 * self.peak * (1 + keras.ops.cos(math.pi * keras.ops.minimum(step, self.total_steps)
                                                      / self.total_steps))
        return keras.ops.where(step < self.warmup_steps, warm, cosine)


class Unclipped(WarmupCosine):
    def __call__(self, step):
        step, warm, _ = self._parts(step)
        t = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return keras.ops.where(step < self.warmup_steps, warm, 0.5 * self.peak * (1 + keras.ops.cos(math.pi * t)))


class PythonIf(WarmupCosine):
    def __call__(self, step):
        s = float(step)            # fine eagerly, impossible on a symbolic tensor in a graph
        if s < self.warmup_steps:
            return self.peak * s / self.warmup_steps
        t = min(s - self.warmup_steps, self.total_steps - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return 0.5 * self.peak * (1 + math.cos(math.pi * t))


class NoConfig(WarmupCosine):
    get_config = Schedule.get_config


class PartialConfig(WarmupCosine):
    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": 10_000}


class TensorConfig(WarmupCosine):
    def get_config(self):
        return {"peak": keras.ops.convert_to_tensor(self.peak), "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


class NotWritten(WarmupCosine):
    def __call__(self, step):
        raise NotImplementedError


class Plain:
    def __init__(self, peak, warmup_steps, total_steps):
        pass


def test_warmup_cosine_accepts_its_own_maths_and_keras_cosine_decay(capsys):
    for seed, cls in enumerate([WarmupCosine, ViaKeras]):
        check.warmup_cosine(cls, seed=seed)
    check.warmup_cosine(WarmupCosine)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, match", [
    (None, "no answer"),
    (Plain, "LearningRateSchedule"),
    (lambda peak, w, t: None, "LearningRateSchedule"),
    (NotWritten, "not written yet"),
    (NoWarmup, "no warm-up"),
    (CosineFromZero, "from step 0"),
    (Unclipped, "rises again"),
    (PythonIf, "tf.function"),
    (NoConfig, "get_config is missing"),
    (PartialConfig, "from_config"),
    (TensorConfig, "JSON|rebuilt"),
])
def test_warmup_cosine_rejects_typical_slips_with_their_hint(answer, match):
    with pytest.raises(ExerciseError, match=match):
        check.warmup_cosine(answer, seed=11)


def _dead(acts):
    acts = np.asarray(acts)
    return float(1 - np.any(acts.reshape(-1, acts.shape[-1]) > 0, axis=0).mean())


def test_dead_units():
    check.dead_units(_dead)
    check.dead_units(dead_fraction)  # labkit's own implementation is a right answer
    for fn, hint in [(lambda a: float(np.mean(a == 0)), "zero \\*entries\\*"),
                     (lambda a: float(np.mean(~np.any(a > 0, axis=0))), "position, channel"),
                     (lambda a: float(np.mean(np.all(a.reshape(len(a), -1) == 0, axis=1))), "expected"),
                     (None, "no answer"), (lambda a: [0.3], "expected a number")]:
        with pytest.raises(ExerciseError, match=hint):
            check.dead_units(fn)


def _clip(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * min(1.0, max_norm / norm) for g in grads]


def test_clip_global_norm_and_its_reference_against_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(5, 2)) * 4, rng.normal(size=(2,))]
    want, _ = tf.clip_by_global_norm([tf.constant(g) for g in grads], 1.5)
    for a, b in zip(_clip(grads, 1.5), want):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)
    check.clip_global_norm(_clip)

    def per_array(grads, m):
        return [g * min(1.0, m / np.linalg.norm(g)) for g in grads]

    def always_scale(grads, m):
        norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
        return [g * m / norm for g in grads]

    for fn, hint in [(per_array, "its own norm"), (always_scale, "unchanged"), (None, "no answer"),
                     (lambda g, m: g[0], "list of 3"), (lambda g, m: [x.ravel() for x in g], "shape"),
                     (lambda g, m: [x * 0 for x in g], "global norm should become")]:
        with pytest.raises(ExerciseError, match=hint):
            check.clip_global_norm(fn)
