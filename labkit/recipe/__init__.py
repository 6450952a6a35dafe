"""A fast CIFAR-10 training recipe for CPUs (notebook 07, training fast).

The recipe (:func:`recipe_net`, :func:`train_recipe`) follows the airbench family of fast CIFAR-10
trainers (Jordan, 2024; after Page, 2018 and hlb-CIFAR10): a frozen 2x2 patch-whitening first layer
(only its bias learns, for 3 epochs), three conv groups (conv - max-pool - batch norm without scale -
activation - conv - batch norm - activation) with identity ("dirac") initialisation, a 64x learning
rate for biases, logits scaled by 1/9, label smoothing 0.2, Nesterov SGD with a triangular schedule,
translate + alternating flip augmentation, Lookahead weight averaging and test-time augmentation
(flips and one-pixel shifts). One departure from airbench94 buys CPU speed: ReLU instead of GELU (a
training step 1.08-1.28x faster in bfloat16 on the workbook's 2-core CPU). Default widths are
airbench94's (64, 256, 256) halved in the middle, (64, 128, 256); the profiles pick their own.

``optimizer="muon"`` switches to airbench94_muon's training (Jordan, 2024): the conv kernels step
with Muon (momentum orthogonalised by a Newton-Schulz iteration, :func:`newton_schulz`, on
weight-normalised kernels), the rest with Nesterov SGD, batch 2000, linear decay, no Lookahead
(:data:`MUON_PRESET`). airbench reports it reaching airbench94's 94 % on the original CIFAR-10 in
8 epochs instead of 9.9; the workbook's profiles use it.

One concern per module:

* :mod:`~labkit.recipe.network` - :func:`recipe_net`, :func:`whitening_kernel`, the layer :class:`ScaledBias`;
* :mod:`~labkit.recipe.optimizers` - :class:`AirbenchMuon` (with :func:`newton_schulz`), :class:`Lookahead`;
* :mod:`~labkit.recipe.schedules` - :class:`Triangle`;
* :mod:`~labkit.recipe.augment` - the training input pipeline, :func:`predict_tta`;
* :mod:`~labkit.recipe.precision` - :func:`recipe_precision`, :func:`cpu_supports_bf16`;
* :mod:`~labkit.recipe.backup` - resumable, fingerprinted backups (:func:`recipe_backup_root`);
* :mod:`~labkit.recipe.train` - :func:`train_recipe`, :class:`RecipeResult`, the settings.

Every Keras object here (:class:`ScaledBias`, :class:`Triangle`, :class:`AirbenchMuon`,
:class:`Lookahead`) is registered under the package name ``labkit``, so a recipe model - compiled
or not - saves and reloads as ``.keras`` once ``labkit.recipe`` is imported.
"""
from __future__ import annotations

from labkit.recipe.augment import augment_fn, predict_tta
from labkit.recipe.backup import recipe_backup_root
from labkit.recipe.network import CIFAR_MEAN, CIFAR_STD, ScaledBias, recipe_net, whitening_kernel
from labkit.recipe.optimizers import AirbenchMuon, Lookahead, newton_schulz
from labkit.recipe.precision import cpu_supports_bf16, recipe_precision
from labkit.recipe.schedules import Triangle
from labkit.recipe.train import MUON_PRESET, RECIPE_DEFAULTS, RecipeResult, train_recipe

__all__ = ["train_recipe", "RecipeResult", "recipe_net", "predict_tta", "augment_fn", "whitening_kernel",
           "recipe_precision", "cpu_supports_bf16", "newton_schulz", "recipe_backup_root", "RECIPE_DEFAULTS",
           "MUON_PRESET", "CIFAR_MEAN", "CIFAR_STD", "ScaledBias", "AirbenchMuon", "Lookahead", "Triangle"]
