"""labkit.models.mnist_mlp / mnist_cnn: the layers their docstrings promise, logits out, they learn.

Oracles: a NumPy forward pass on the model's own weights, parameter and shape arithmetic
from the architecture, and a few steps of Keras training on synthetic images.
"""
from __future__ import annotations

import numpy as np
import pytest

from labkit.models import mnist_cnn, mnist_mlp


def _images(n: int = 64, shape=(28, 28, 1), seed: int = 0):
    """Two classes a small model separates at once: bright top half vs bright bottom half."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.uniform(0, 0.2, size=(n, *shape)).astype("float32")
    half = shape[0] // 2
    x[y == 0, :half] += 0.8
    x[y == 1, half:] += 0.8
    return x, y


def _learns(model, x, y, epochs: int, lr: float = 1e-2) -> float:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


# ------------------------------------------------------------------ mnist_mlp
def test_mlp_is_flatten_dense_relu_dense_logits_computed_like_numpy():
    model = mnist_mlp(hidden=16, num_classes=7, name="m")
    assert model.name == "m"
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [d.units for d in dense] == [16, 7]
    assert [d.activation.__name__ for d in dense] == ["relu", "linear"], "the last layer outputs logits"
    x = np.random.default_rng(1).uniform(0, 1, size=(5, 28, 28, 1)).astype("float32")
    w1, b1, w2, b2 = model.get_weights()
    expected = np.maximum(x.reshape(5, -1) @ w1 + b1, 0) @ w2 + b2
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert model.count_params() == 784 * 16 + 16 + 16 * 7 + 7


def test_mlp_takes_other_input_shapes():
    model = mnist_mlp(hidden=4, num_classes=3, input_shape=(8, 8, 3))
    assert model.input_shape == (None, 8, 8, 3) and model.output_shape == (None, 3)
    assert model.count_params() == 8 * 8 * 3 * 4 + 4 + 4 * 3 + 3


def test_mlp_learns_a_separable_task():
    import keras

    keras.utils.set_random_seed(0)
    x, y = _images(64)
    assert _learns(mnist_mlp(hidden=16, num_classes=2), x, y, epochs=5) == 1.0


# ------------------------------------------------------------------ mnist_cnn
def _cnn_params(w: int, k: int, flat_hw: int, c: int = 1) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of conv(w)-pool-conv(2w)-pool-conv(4w)-Dense(k)."""
    convs = 9 * c * w + 9 * w * 2 * w + 9 * 2 * w * 4 * w   # 3x3 kernels, no bias
    bn = 2 * (w + 2 * w + 4 * w)                            # gamma, beta (trainable); mean, var (not)
    dense = flat_hw * 4 * w * k + k
    return convs + bn + dense, bn


def test_cnn_has_the_documented_layers():
    model = mnist_cnn(num_classes=10, width=8, dropout=0.25)
    kinds = [layer.__class__.__name__ for layer in model.layers[1:]]
    conv_block = ["Conv2D", "BatchNormalization", "Activation"]
    assert kinds == conv_block + ["MaxPooling2D"] + conv_block + ["MaxPooling2D"] + conv_block + \
        ["Flatten", "Dropout", "Dense"]
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [8, 16, 32]
    assert all(c.kernel_size == (3, 3) and not c.use_bias for c in convs)
    assert all(layer.momentum == pytest.approx(0.9)
               for layer in model.layers if layer.__class__.__name__ == "BatchNormalization")
    assert [layer.rate for layer in model.layers if layer.__class__.__name__ == "Dropout"] == [0.25]
    head = model.layers[-1]
    assert head.units == 10 and head.activation.__name__ == "linear", "the last layer outputs logits"


@pytest.mark.parametrize("input_shape, flat_hw", [((28, 28, 1), 3 * 3), ((32, 32, 3), 4 * 4)])
def test_cnn_parameter_count_and_shapes_follow_from_the_architecture(input_shape, flat_hw):
    # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5 -conv-> 3;  32 -> 30 -> 15 -> 13 -> 6 -> 4
    model = mnist_cnn(num_classes=5, input_shape=input_shape, width=4)
    trainable, frozen = _cnn_params(4, 5, flat_hw, c=input_shape[-1])
    assert model.output_shape == (None, 5)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == trainable
    assert model.count_params() == trainable + frozen


def test_cnn_costs_about_six_mflops_per_image_at_the_default_width():
    """The docstring's number: multiply-adds of the convolutions and the head, two FLOPs each."""
    model = mnist_cnn()
    shapes = [layer.output.shape for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    macs = sum(s[1] * s[2] * s[3] * 9 * c_in for s, c_in in zip(shapes, (1, 32, 64)))
    macs += 3 * 3 * 128 * 10
    assert [tuple(s[1:]) for s in shapes] == [(26, 26, 32), (11, 11, 64), (3, 3, 128)]
    assert 5e6 <= 2 * macs <= 7e6


def test_cnn_predicts_deterministically_and_drops_out_only_in_training():
    import keras

    keras.utils.set_random_seed(0)
    model = mnist_cnn(width=4, dropout=0.5)
    x = _images(8)[0]
    a, b = model(x, training=False).numpy(), model(x, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    # in training mode batch norm normalises with the batch's own statistics, the same for the
    # same batch: so a dropout-free copy is deterministic there too, and dropout is what varies
    no_drop = mnist_cnn(width=4, dropout=0.0)
    no_drop.set_weights(model.get_weights())
    np.testing.assert_array_equal(no_drop(x, training=True).numpy(), no_drop(x, training=True).numpy())
    assert not np.allclose(model(x, training=True).numpy(), model(x, training=True).numpy()), \
        "dropout=0.5 in training must change the output from call to call"


def test_cnn_learns_a_separable_task():
    import keras

    keras.utils.set_random_seed(0)
    x, y = _images(64)
    assert _learns(mnist_cnn(num_classes=2, width=4, dropout=0.0), x, y, epochs=6) == 1.0


@pytest.mark.parametrize("build, error, match", [
    (lambda: mnist_mlp(hidden=0), ValueError, "hidden"),
    (lambda: mnist_mlp(num_classes=1.5), TypeError, "num_classes"),
    (lambda: mnist_mlp(input_shape=(28, 0)), ValueError, "input_shape"),
    (lambda: mnist_cnn(width=0), ValueError, "width"),
    (lambda: mnist_cnn(dropout=1.0), ValueError, "dropout"),
    (lambda: mnist_cnn(name=""), ValueError, "name"),
])
def test_builders_refuse_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()
