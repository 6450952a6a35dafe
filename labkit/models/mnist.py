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


def mnist_cnn(num_classes: int = 10, input_shape=(28, 28, 1), width: int = 32, dropout: float = 0.25,
              name: str = "cnn"):
    """A small VGG-style CNN: 2x[conv-conv-pool] with batch norm, then a dense logits head."""
    import keras
    from keras import layers

    def block(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        return layers.MaxPooling2D()(x)

    inputs = keras.Input(input_shape)
    x = block(inputs, width)
    x = block(x, 2 * width)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)
