"""Model builders used across the workbook, one sub-module per family.

Every classifier outputs **logits** (no softmax in the last layer): train it with a
``from_logits=True`` loss (notebook 04 shows why) and apply softmax/sigmoid only
when you need probabilities.
"""
from __future__ import annotations

from labkit.models.cifar import cifar_dense, cifar_large_cnn, cifar_small_cnn, cifar_tiny_cnn, recipe_net, train_recipe
from labkit.models.deep import deep_mlp, scaled_init
from labkit.models.mnist import mnist_cnn, mnist_mlp
from labkit.models.transfer import BackboneInfo, extract_features, pretrained_backbone, split_backbone


def count_params(model) -> int:
    """Number of trainable parameters of a Keras model."""
    import numpy as np

    if not hasattr(model, "trainable_weights"):
        raise TypeError(f"model must be a Keras model (or layer), got {type(model).__name__}.")

    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


__all__ = ["count_params", "mnist_cnn", "mnist_mlp"]
__all__ += ["BackboneInfo", "extract_features", "pretrained_backbone", "split_backbone"]
__all__ += ["deep_mlp", "scaled_init"]
__all__ += ["cifar_dense", "cifar_large_cnn", "cifar_small_cnn", "cifar_tiny_cnn", "recipe_net", "train_recipe"]
