"""labkit.callbacks: gradient norms against tf.GradientTape, dead ReLUs on hand-built layers."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import labkit  # noqa: E402,F401  (quietens TF before it is imported)
from labkit.callbacks import (  # noqa: E402
    GradientStats,
    dead_fraction,
    kernel_layers,
    layer_stats,
    plot_gradient_stats,
    plot_layer_stats,
    relu_layers,
)
from labkit.models import deep_mlp, scaled_init  # noqa: E402

XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _data(n=64, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, k, size=n)


def _mlp(d=12, k=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((d,)), layers.Dense(8, activation="relu", name="h1"),
                             layers.Dense(6, activation="tanh", name="h2"), layers.Dense(k, name="out")])


def _tape_norms(model, x, y, loss):
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=False))
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    return np.array([np.linalg.norm(g.numpy()) for g in tape.gradient(value, kernels)]), float(value)


def test_gradient_norms_match_gradient_tape():
    x, y = _data()
    model = _mlp()
    want, want_loss = _tape_norms(model, x, y, XENT)
    s = layer_stats(model, x, y, loss=XENT, training=False)
    assert s.layer_names == ["h1", "h2", "out"]
    np.testing.assert_allclose(s.grad_norm, want, rtol=1e-5)
    assert s.loss == pytest.approx(want_loss, rel=1e-6)
    assert s.ratio_first_last() == pytest.approx(want[0] / want[-1], rel=1e-5)
    np.testing.assert_allclose(s.weight_norm, [np.linalg.norm(layer.kernel.numpy()) for layer in model.layers],
                               rtol=1e-6)


def test_compiled_loss_includes_weight_regularisation():
    x, y = _data()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((12,)), layers.Dense(5, activation="relu",
                                                                kernel_regularizer=keras.regularizers.L2(0.1)),
                              layers.Dense(3)])
    model.compile("sgd", XENT)
    k0, k1 = model.layers[0].kernel, model.layers[1].kernel
    with tf.GradientTape() as tape:
        value = XENT(y, model(x)) + 0.1 * tf.reduce_sum(tf.square(k0))
    want = [np.linalg.norm(g.numpy()) for g in tape.gradient(value, [k0, k1])]
    s = layer_stats(model, x, y, training=False)
    np.testing.assert_allclose(s.grad_norm, want, rtol=1e-5)


def test_activation_statistics_match_the_layer_outputs():
    x, y = _data()
    model = _mlp()
    s = layer_stats(model, x, y, loss=XENT, training=False)
    h1 = np.maximum(x @ model.layers[0].kernel.numpy() + model.layers[0].bias.numpy(), 0)
    h2 = np.tanh(h1 @ model.layers[1].kernel.numpy() + model.layers[1].bias.numpy())
    np.testing.assert_allclose(s.act_mean[:2], [h1.mean(), h2.mean()], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.act_std[:2], [h1.std(), h2.std()], rtol=1e-5)
    assert "layer" in s.table() and "h2" in s.table()


def _hand_built_relu():
    """Inputs are >= 0. Units 0 and 2 can never fire (negative weights / large negative bias)."""
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu", name="r"), layers.Dense(2)])
    kernel = np.array([[-1, 1, 1, 1], [-1, 1, 1, 0], [-1, 1, 1, 0]], dtype="float32")
    bias = np.array([0, 0, -100, 0.5], dtype="float32")
    model.layers[0].set_weights([kernel, bias])
    return model


def test_dead_fraction_on_a_hand_built_layer():
    x = np.random.default_rng(0).uniform(0, 1, size=(50, 3)).astype("float32")
    y = np.zeros(50, dtype="int64")
    model = _hand_built_relu()
    s = layer_stats(model, x, y, loss=XENT)
    assert s.relu_names == ["r"]
    assert s.dead_fraction.tolist() == [0.5]


def test_dead_fraction_of_conv_channels():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 1))
    conv = layers.Conv2D(3, 3, activation="relu", name="c")
    out = layers.Dense(2)(layers.Flatten()(conv(inp)))
    model = keras.Model(inp, out)
    w = np.zeros((3, 3, 1, 3), "float32")
    w[..., 0, 0], w[..., 0, 1] = -1.0, 1.0       # channel 0 never fires on >= 0 inputs
    w[1, 1, 0, 2] = 1.0
    conv.set_weights([w, np.array([0.0, 0.0, -10.0], "float32")])  # channel 2 needs a pixel > 10: never
    x = np.random.default_rng(0).uniform(0, 1, size=(10, 6, 6, 1)).astype("float32")
    s = layer_stats(model, x, np.zeros(10, "int64"), loss=XENT)
    assert s.dead_fraction.tolist() == pytest.approx([2 / 3])


def test_dead_fraction_function():
    a = np.ones((4, 5))
    a[:, [0, 3]] = 0
    assert dead_fraction(a) == pytest.approx(0.4)
    conv = np.zeros((2, 3, 3, 4))
    conv[1, 2, 2, 1] = 0.1
    assert dead_fraction(conv) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="batch axis"):
        dead_fraction(np.ones(3))
    with pytest.raises(ValueError, match="no example"):
        dead_fraction(np.zeros((0, 4)))  # was 1.0: "every unit dead" on no data at all
    with pytest.raises(ValueError, match="NaN"):
        dead_fraction(np.array([[np.nan, 1.0]]))


def test_layer_discovery_in_deep_mlp_and_nested_models():
    m = deep_mlp(20, depth=3, width=4, activation="relu", batch_norm=True)
    assert [layer.name for layer in kernel_layers(m)] == ["dense_1", "dense_2", "dense_3", "logits"]
    assert [layer.name for layer in relu_layers(m)] == ["act_1", "act_2", "act_3"]
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.ReLU()])
    outer = keras.Sequential([keras.Input((4,)), inner, layers.Dense(2)])
    assert len(kernel_layers(outer)) == 2 and len(relu_layers(outer)) == 1
    assert relu_layers(keras.Sequential([keras.Input((2,)), layers.ReLU(max_value=6.0)])) == []


def test_training_mode_does_not_change_batch_norm_statistics():
    x, y = _data(n=32, d=20)
    m = deep_mlp(20, depth=2, width=8, batch_norm=True, num_classes=3)
    before = [v.numpy().copy() for v in m.non_trainable_variables]
    s = layer_stats(m, x * 5 + 3, y, loss=XENT, training=True)
    for b, v in zip(before, m.non_trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())
    assert np.all(s.grad_norm > 0)


def test_callback_records_on_schedule_and_matches_a_direct_measurement():
    x, y = _data(n=64)
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.1), XENT)
    cb = GradientStats(x[:32], y[:32], every=3, unit="batch", loss=XENT, training=False)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[cb])  # 16 steps
    h = cb.history
    assert h["step"].tolist() == [0, 3, 6, 9, 12, 15]
    assert h["grad_norm"].shape == (6, 3) and h["dead_fraction"].shape == (6, 1)
    assert cb.layer_names == ["h1", "h2", "out"] and cb.relu_names == ["h1"]
    # a second fit() with a new callback starts from these weights: its step-0 record must
    # equal a direct measurement now, and its last record one taken after that fit
    direct = layer_stats(model, x[:32], y[:32], loss=XENT, training=False)
    assert not np.allclose(h["grad_norm"][0], direct.grad_norm)  # weights moved
    cb2 = GradientStats(x[:32], y[:32], every=1, unit="epoch", loss=XENT, training=False)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[cb2])
    assert cb2.history["epoch"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(cb2.history["grad_norm"][0], direct.grad_norm, rtol=1e-6)
    final = layer_stats(model, x[:32], y[:32], loss=XENT, training=False)
    np.testing.assert_allclose(cb2.history["grad_norm"][-1], final.grad_norm, rtol=1e-6)


def test_callback_and_stats_validate_their_inputs():
    x, y = _data()
    with pytest.raises(ValueError, match="unit"):
        GradientStats(x, y, unit="step")
    with pytest.raises(ValueError, match="every"):
        GradientStats(x, y, every=0)
    with pytest.raises(ValueError, match="different lengths"):
        GradientStats(x, y[:3])
    with pytest.raises(ValueError, match="nothing recorded"):
        GradientStats(x, y).history  # noqa: B018
    with pytest.raises(ValueError, match="loss"):
        layer_stats(_mlp(), x, y)  # not compiled and no loss

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(3)

        def call(self, inputs):
            return self.d(inputs)

    with pytest.raises(ValueError, match="subclassed"):
        layer_stats(Sub(), x, y, loss=XENT)


def test_callback_hook_before_on_train_begin_says_so():
    # a bug mypy found: a hook called before on_train_begin (a training loop of one's own) failed
    # with "'NoneType' object is not callable"; it now names the missing call
    x, y = _data()
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.1), XENT)
    cb = GradientStats(x, y, every=1, unit="epoch")
    cb.set_model(model)
    with pytest.raises(RuntimeError, match="on_train_begin"):
        cb.on_epoch_end(0)
    cb.on_train_begin()  # the documented order works
    cb.on_epoch_end(0)
    assert cb.history["epoch"].tolist() == [0, 1]


def test_vanishing_gradient_in_a_deep_sigmoid_net_and_not_with_the_fix():
    """The notebook's headline, on random data: a property of the architecture."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 100)).astype("float32"), rng.integers(0, 10, 128)
    keras.utils.set_random_seed(0)
    sig = layer_stats(deep_mlp(100, depth=10, width=64, activation="sigmoid"), x, y, loss=XENT)
    fix = layer_stats(deep_mlp(100, depth=10, width=64, activation="relu", kernel_initializer="he_normal",
                               batch_norm=True), x, y, loss=XENT)
    assert sig.ratio_first_last() < 1e-3
    assert fix.ratio_first_last() > 0.1


def test_scaled_init_and_deep_mlp_validation():
    w = keras.ops.convert_to_numpy(scaled_init(2.0, seed=0)((2000, 500)))
    assert np.std(w) == pytest.approx(2.0 * np.sqrt(2 / 2000), rel=0.02)
    with pytest.raises(ValueError, match="gain"):
        scaled_init(0)
    with pytest.raises(ValueError, match="depth"):
        deep_mlp(10, depth=0)


def test_plots_return_figures():
    x, y = _data()
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.1), XENT)
    cb = GradientStats(x, y, every=1, unit="epoch")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    import matplotlib.pyplot as plt

    fig = plot_gradient_stats(cb, title="t")
    assert len(fig.axes) == 2
    fig2 = plot_layer_stats({"a": layer_stats(model, x, y), "b": layer_stats(_mlp(seed=3), x, y, loss=XENT)})
    assert len(fig2.axes) == 2
    with pytest.raises(ValueError, match="unknown statistics"):
        plot_layer_stats({"a": layer_stats(model, x, y)}, keys=("nope",))
    with pytest.raises(TypeError, match="GradientStats"):
        plot_gradient_stats("not a callback")
    plt.close("all")
