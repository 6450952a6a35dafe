"""labkit.optim: loss curves, steps to a target, the learning-rate range test."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import labkit  # noqa: E402,F401
from labkit.optim import LossCurve, loss_curve, lr_range_test, plot_loss_curves, plot_lr_range_test, steps_to_target  # noqa: E402

XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _data(n=256, d=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")  # learnable: a linear boundary
    return x, y


def _build():
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])


def test_steps_to_target():
    assert steps_to_target([2.0, 1.0, 0.5, 0.4], 0.5, chunk=10) == 30
    assert steps_to_target([2.0, 1.0], 0.5, chunk=10) is None
    assert steps_to_target([np.nan, 0.1], 0.5, chunk=5) == 10
    with pytest.raises(ValueError, match="chunk"):
        steps_to_target([1.0], 0.5, chunk=0)
    with pytest.raises(ValueError, match="1-D"):
        steps_to_target([[1.0]], 0.5, chunk=1)


def test_loss_curve_is_reproducible_and_learns():
    x, y = _data()
    a = loss_curve(_build, keras.optimizers.SGD(0.1), x, y, steps=60, chunk=10, batch_size=32, seed=3)
    b = loss_curve(_build, keras.optimizers.SGD(0.1), x, y, steps=60, chunk=10, batch_size=32, seed=3)
    assert isinstance(a, LossCurve) and a.steps.tolist() == [10, 20, 30, 40, 50, 60]
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.final < a.losses[0] and not a.diverged
    assert len(a.chunk_seconds) == 6 and a.samples_per_second(32) > 0


def test_loss_curve_initial_loss_is_the_fresh_models_loss():
    """Oracle: rebuild the model with the same seed and evaluate it on the same first batch."""
    x, y = _data()
    c = loss_curve(_build, keras.optimizers.SGD(0.1), x, y, steps=10, chunk=10, batch_size=32, seed=5)
    keras.utils.set_random_seed(5)
    model = _build()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=5).repeat().batch(32)
    xb, yb = next(iter(ds))
    assert c.initial_loss == pytest.approx(float(XENT(yb, model(xb))), rel=1e-5)


def test_loss_curve_flags_divergence_and_stops():
    x, y = _data()
    c = loss_curve(_build, keras.optimizers.SGD(1e4), x, y, steps=100, chunk=10, batch_size=32)
    assert c.diverged and len(c.losses) < 10
    assert c.steps_to(0.0) is None


def test_loss_curve_validates():
    x, y = _data()
    with pytest.raises(ValueError, match="multiple of chunk"):
        loss_curve(_build, keras.optimizers.SGD(0.1), x, y, steps=25, chunk=10)
    with pytest.raises(TypeError, match="Optimizer"):
        loss_curve(_build, "sgd", x, y, steps=10, chunk=10)
    with pytest.raises(ValueError, match="different lengths"):
        loss_curve(_build, keras.optimizers.SGD(0.1), x, y[:5], steps=10, chunk=10)
    with pytest.raises(ValueError, match="batch_size"):
        loss_curve(_build, keras.optimizers.SGD(0.1), x, y, steps=10, chunk=10, batch_size=10_000)


def test_lr_range_test_schedule_losses_and_stop():
    x, y = _data()
    rt = lr_range_test(_build, x, y, min_lr=1e-3, max_lr=1e3, steps=60, batch_size=32, seed=1)
    n = len(rt.lrs)
    full = 1e-3 * (1e6) ** (np.arange(60) / 59)
    np.testing.assert_allclose(rt.lrs, full[:n], rtol=1e-9)
    assert n < 60, "a rate of 1000 must blow the loss up and stop the test early"
    assert rt.suggestion == pytest.approx(rt.best_lr / 10)
    assert 1e-3 <= rt.best_lr <= 1e3
    # oracle for the first recorded loss: the fresh model's loss on the first batch, before any update
    keras.utils.set_random_seed(1)
    model = _build()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=1).repeat().batch(32)
    xb, yb = next(iter(ds))
    assert rt.losses[0] == pytest.approx(float(XENT(yb, model(xb, training=True))), rel=1e-5)
    # the loss falls somewhere in the useful range before it explodes
    assert np.nanmin(rt.smoothed) < rt.smoothed[0]


def test_lr_range_test_validates():
    x, y = _data()
    with pytest.raises(ValueError, match="min_lr < max_lr"):
        lr_range_test(_build, x, y, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match="optimizer"):
        lr_range_test(_build, x, y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="smoothing"):
        lr_range_test(_build, x, y, smoothing=1.0)


def test_plots():
    x, y = _data()
    rt = lr_range_test(_build, x, y, min_lr=1e-3, max_lr=10, steps=20, batch_size=32, optimizer="adam")
    assert plot_lr_range_test(rt) is not None
    c = loss_curve(_build, keras.optimizers.Adam(1e-2), x, y, steps=20, chunk=10, batch_size=32, label="adam")
    fig = plot_loss_curves([c], target=0.3, log_y=True)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError):
        plot_loss_curves([])
    with pytest.raises(TypeError):
        plot_lr_range_test(c)
    import matplotlib.pyplot as plt

    plt.close("all")
