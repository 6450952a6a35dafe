"""MNIST / Fashion-MNIST builders (28x28x1 inputs, logits out)."""
from __future__ import annotations

import keras
from keras import layers

from labkit.validation import check_int, check_ints, check_number, check_str

__all__ = ["mnist_mlp", "mnist_cnn"]


def _common(num_classes, input_shape, name) -> tuple[int, tuple[int, ...], str]:
    return (check_int(num_classes, "num_classes", min_val=1), check_ints(input_shape, "input_shape", min_val=1),
            check_str(name, "name"))


def mnist_mlp(hidden: int = 128, num_classes: int = 10, input_shape=(28, 28, 1), name: str = "mlp"):
    """Flatten -> Dense(hidden, relu) -> Dense(num_classes) logits."""
    hidden = check_int(hidden, "hidden", min_val=1)
    num_classes, input_shape, name = _common(num_classes, input_shape, name)

    return keras.Sequential([
        keras.Input(input_shape),
        layers.Flatten(),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(num_classes),
    ], name=name)


def mnist_cnn(num_classes: int = 10, input_shape=(28, 28, 1), width: int = 32, dropout: float = 0.3,
              name: str = "cnn"):
    """A small CNN in the style of Keras' "simple MNIST convnet", with batch norm.

    conv(w) -> pool -> conv(2w) -> pool -> conv(4w) -> flatten -> dropout -> Dense logits.
    About 6 MFLOPs per 28x28 image forward, so it trains at thousands of images per
    second on a laptop CPU. Batch-norm momentum 0.9 lets the running statistics settle
    within a few hundred steps.
    """
    num_classes, input_shape, name = _common(num_classes, input_shape, name)
    width = check_int(width, "width", min_val=1)
    dropout = check_number(dropout, "dropout", min_val=0, max_val=1, include_max=False)

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.Activation("relu")(x)

    inputs = keras.Input(input_shape)
    x = layers.MaxPooling2D()(conv(inputs, width))
    x = layers.MaxPooling2D()(conv(x, 2 * width))
    x = conv(x, 4 * width)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)
