"""MNIST / Fashion-MNIST builders (28x28x1 inputs, logits out)."""
from __future__ import annotations

__all__ = ["mnist_mlp", "mnist_cnn"]


def mnist_mlp(hidden: int = 128, num_classes: int = 10, input_shape=(28, 28, 1), name: str = "mlp"):
    """Flatten -> Dense(hidden, relu) -> Dense(num_classes) logits."""
    import keras
    from keras import layers

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
    import keras
    from keras import layers

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
