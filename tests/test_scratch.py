"""labkit.scratch against independent oracles: SciPy, Keras and tf.GradientTape."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from labkit import scratch


def test_sigmoid_matches_scipy_and_never_overflows():
    z = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = scratch.sigmoid(z)
    np.testing.assert_allclose(s, special.expit(z), rtol=1e-12)


def test_sigmoid_prime_bound_and_finite_differences():
    z = np.linspace(-8, 8, 401)
    d = scratch.sigmoid_prime(z)
    assert d.max() == pytest.approx(0.25) and z[d.argmax()] == pytest.approx(0.0)
    fd = (special.expit(z + 1e-6) - special.expit(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(d, fd, atol=1e-9)


def test_softmax_logsumexp_match_scipy_for_huge_logits():
    z = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0], [0.1, 0.2, -0.3]])
    with np.errstate(over="raise"):
        np.testing.assert_allclose(scratch.softmax(z), special.softmax(z, axis=-1), rtol=1e-12)
        np.testing.assert_allclose(scratch.logsumexp(z), special.logsumexp(z, axis=-1), rtol=1e-12)
        np.testing.assert_allclose(scratch.log_softmax(z), special.log_softmax(z, axis=-1), rtol=1e-12)


def test_cross_entropy_matches_keras_from_logits():
    import keras

    rng = np.random.default_rng(0)
    logits, y = rng.normal(size=(16, 5)) * 20, rng.integers(0, 5, size=16)
    want = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits.astype("float32"))
    assert scratch.cross_entropy_from_logits(logits, y) == pytest.approx(float(want), rel=1e-5)


def test_cross_entropy_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        scratch.cross_entropy_from_logits(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        scratch.cross_entropy_from_logits(np.zeros((2, 3)), np.array([0]))


def test_kl_is_cross_entropy_minus_entropy_and_matches_scipy():
    rng = np.random.default_rng(1)
    p, q = special.softmax(rng.normal(size=(4, 6)), axis=1), special.softmax(rng.normal(size=(4, 6)), axis=1)
    kl = scratch.kl_divergence(p, q)
    np.testing.assert_allclose(kl, special.rel_entr(p, q).sum(axis=1), rtol=1e-12)
    ce = -(p * np.log(q)).sum(axis=1)
    np.testing.assert_allclose(kl, ce - scratch.entropy(p), rtol=1e-10)
    assert np.all(kl > 0) and np.allclose(scratch.kl_divergence(p, p), 0)


def test_dense_and_sequential_match_keras():
    import keras

    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(2, activation="sigmoid")])
    layers = [(layer.kernel.numpy(), layer.bias.numpy(), g)
              for layer, g in zip(model.layers, (scratch.relu, scratch.sigmoid))]
    np.testing.assert_allclose(scratch.sequential(x, layers), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_dense_rejects_transposed_kernel():
    with pytest.raises(ValueError, match="n_in, n_out"):
        scratch.dense(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros(4), scratch.relu)
    with pytest.raises(ValueError, match="at least one"):
        scratch.sequential(np.zeros((2, 3)), [])


def test_numerical_gradient_is_accurate_and_restores_x():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    x0 = x.copy()
    g = scratch.numerical_gradient(lambda v: float(np.sum(np.exp(v)) + np.sum(v ** 2)), x)
    np.testing.assert_array_equal(x, x0)
    assert scratch.relative_error(g, np.exp(x0) + 2 * x0) < 1e-9
    with pytest.raises(TypeError, match="float"):
        scratch.numerical_gradient(lambda v: 0.0, np.array([1, 2]))


def test_two_layer_backward_matches_gradient_tape_and_finite_differences():
    import tensorflow as tf

    params = scratch.init_two_layer(5, 4, 3, seed=3)
    rng = np.random.default_rng(3)
    params["b1"] = rng.normal(size=4) * 0.3
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    logits, cache = scratch.two_layer_forward(params, X)
    grads = scratch.two_layer_backward(params, cache, logits, y)

    tp = {k: tf.Variable(v) for k, v in params.items()}
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.constant(X) @ tp["W1"] + tp["b1"])
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, h @ tp["W2"] + tp["b2"]))
    tape_grads = tape.gradient(loss, tp)
    assert float(loss) == pytest.approx(scratch.two_layer_loss(params, X, y), rel=1e-12)
    for k in params:
        assert scratch.relative_error(grads[k], tape_grads[k].numpy()) < 1e-10
        fd = scratch.numerical_gradient(lambda _: scratch.two_layer_loss(params, X, y), params[k])
        assert scratch.relative_error(grads[k], fd) < 1e-6


def test_soft_threshold_gives_exact_zeros():
    w = np.array([-1.0, -0.05, 0.0, 0.08, 0.5])
    np.testing.assert_allclose(scratch.soft_threshold(w, 0.1), [-0.9, 0, 0, 0, 0.4])
    assert np.count_nonzero(scratch.soft_threshold(w, 0.1) == 0) == 3
    with pytest.raises(ValueError, match=">= 0"):
        scratch.soft_threshold(w, -1)


def test_entropy_and_kl_refuse_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match=r"p must hold values >= 0 and <= 1, got values from -0.5 to 1.5"):
        scratch.entropy([-0.5, 1.5])  # would be -0.61 nats: no distribution has negative entropy
    with pytest.raises(ValueError, match="q must hold values"):
        scratch.kl_divergence([0.5, 0.5], [-0.5, 1.5])
    assert scratch.entropy([0.5, 0.5]) == pytest.approx(np.log(2))
