"""Checks of the optimisation notebook: right answers pass, typical wrong ones get their hint."""
from __future__ import annotations

import math

import numpy as np
import pytest

import labkit  # noqa: F401
from labkit.callbacks import dead_fraction
from labkit.checks import ExerciseError
from labkit.checks import optimisation as check


def test_he_std():
    check.he_std(lambda fan_in: math.sqrt(2.0 / fan_in))
    check.he_std(lambda fan_in: np.sqrt(2.0 / fan_in))
    for fn, hint in [(None, "no answer"), (lambda f: 2.0 / f, "variance"), (lambda f: math.sqrt(1.0 / f), "LeCun"),
                     (lambda f: 0.05, "expected"), (lambda f: "x", "expected a number"),
                     (lambda: 1.0, "raised TypeError")]:
        with pytest.raises(ExerciseError, match=hint):
            check.he_std(fn)


def test_he_std_reference_matches_keras_he_normal():
    """Oracle for the check's formula: Keras' he_normal samples have std sqrt(2 / fan_in)."""
    import keras

    w = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=0)((3072, 256)))
    assert np.std(w) == pytest.approx(math.sqrt(2 / 3072), rel=0.02)


def _cosine(step, total, base):
    t = min(step, total) / total
    return 0.5 * base * (1 + math.cos(math.pi * t))


def test_cosine_lr_and_its_reference_against_keras():
    import keras

    for total, base in ((100, 0.1), (40, 3e-3)):
        sched = keras.optimizers.schedules.CosineDecay(base, total)
        for step in (0, 7, 25, 39, total, total + 30):
            assert float(sched(step)) == pytest.approx(_cosine(step, total, base), rel=1e-5, abs=1e-9)
    check.cosine_lr(_cosine)

    def placeholder(step, total, base):
        raise NotImplementedError

    for fn, hint in [(placeholder, "not written yet"), (None, "no answer"),
                     (lambda s, t, b: 0.5 * b * (1 + math.cos(s / t)), "step 0|pi"),
                     (lambda s, t, b: 0.5 * b * (1 + math.cos(math.pi * s / t)), "stay at 0"),
                     (lambda s, t, b: b * (1 - s / t), "expected"),
                     (lambda s, t, b: 0.5 * (1 + math.cos(math.pi * min(s, t) / t)), "step 0")]:
        with pytest.raises(ExerciseError, match=hint):
            check.cosine_lr(fn)


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
