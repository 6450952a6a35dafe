"""labkit.landscape against closed forms on a linear least-squares model."""
from __future__ import annotations

import numpy as np
import pytest

import labkit
from labkit import landscape


@pytest.fixture(scope="module")
def linear():
    import keras

    labkit.seed_everything(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=300)).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    return model, x, y, keras.losses.MeanSquaredError()


def _mse(x, y, w):
    return float(np.mean((x.astype(np.float64) @ w - y) ** 2))


def test_interpolation_matches_the_closed_form(linear):
    model, x, y, mse = linear
    a, b = [np.ones((4, 1), "float32")], [np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")]
    before = model.get_weights()
    alphas, losses = landscape.interpolate(model, a, b, x, y, mse, alphas=np.linspace(-0.5, 1.5, 9))
    expected = [_mse(x, y, (1 - t) * a[0] + t * b[0]) for t in alphas]
    np.testing.assert_allclose(losses, expected, rtol=1e-4)
    np.testing.assert_array_equal(model.get_weights()[0], before[0]), "weights are restored"


def test_filter_normalised_direction_has_the_weights_filter_norms():
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(3, 3, 2, 5)), rng.normal(size=5), rng.normal(size=(7, 4))]
    d = landscape.random_direction(weights, seed=3)
    np.testing.assert_allclose(np.sqrt((d[0] ** 2).sum(axis=(0, 1, 2))), np.sqrt((weights[0] ** 2).sum(axis=(0, 1, 2))),
                               rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(d[2], axis=0), np.linalg.norm(weights[2], axis=0), rtol=1e-5)
    assert not d[1].any(), "biases get no direction"
    assert not np.allclose(d[0], landscape.random_direction(weights, seed=4)[0])


def test_surface_centre_and_sharpness_at_the_least_squares_minimum(linear):
    model, x, y, mse = linear
    w_star = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)[0].astype("float32")
    center = [w_star]
    d1, d2 = landscape.random_direction(center, 0), landscape.random_direction(center, 1)
    s, t, losses = landscape.surface(model, center, d1, d2, x, y, mse, span=0.5, steps=5)
    assert losses.shape == (5, 5)
    assert losses[2, 2] == pytest.approx(_mse(x, y, w_star), rel=1e-4)
    assert losses.min() == pytest.approx(losses[2, 2], rel=1e-4), "the minimum is at the centre"
    small = landscape.sharpness(model, center, x, y, mse, radius=0.01, samples=4)
    large = landscape.sharpness(model, center, x, y, mse, radius=0.1, samples=4)
    # closed form: at the least-squares minimum, L(w* + r d) - L(w*) = r^2 d' (X'X / n) d, averaged
    # over the same filter-normalised directions (seeds 0..samples-1)
    xd = x.astype(np.float64)
    curvature = np.mean([(d.T @ (xd.T @ xd / len(xd)) @ d).item()
                         for d in (landscape.random_direction(center, k)[0].astype(np.float64) for k in range(4))])
    assert small == pytest.approx(0.01 ** 2 * curvature, rel=1e-2)
    assert large == pytest.approx(0.1 ** 2 * curvature, rel=1e-3)


def test_weight_distance_and_bad_input(linear):
    model, x, y, mse = linear
    a = [np.ones((4, 1))]
    assert landscape.weight_distance(a, a) == 0.0
    assert landscape.weight_distance(a, [np.zeros((4, 1))]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="do not fit the model"):
        landscape.loss_at(model, [np.ones((3, 1))], x, y, mse)
    with pytest.raises(ValueError):
        landscape.sharpness(model, a, x, y, mse, radius=0)
