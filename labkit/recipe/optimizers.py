"""The recipe's optimisers: airbench94_muon's Muon + Nesterov SGD (:class:`AirbenchMuon`, with
:func:`newton_schulz`) and airbench94's Lookahead weight averaging (:class:`Lookahead`)."""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import keras
import numpy as np
from keras import ops

__all__ = ["newton_schulz", "AirbenchMuon", "Lookahead"]


def newton_schulz(g, steps: int = 3, eps: float = 1e-7):
    """Approximately orthogonalise a matrix g (m, n): the quintic Newton-Schulz iteration of Muon
    (Jordan et al., 2024) with coefficients (3.4445, -4.7750, 2.0315). It maps g = U S V^T to about
    U S' V^T with every singular value S' in roughly [0.5, 1.5] - the "direction" of g without its
    scale. Works on the smaller Gram matrix (min(m, n) squared). Returns a float32 (m, n) tensor."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = ops.cast(g, "float32")
    if len(x.shape) != 2:
        raise ValueError(f"newton_schulz needs a matrix, got shape {tuple(x.shape)}.")
    x = x / (ops.sqrt(ops.sum(ops.square(x))) + eps)  # spectral norm <= Frobenius norm <= 1
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = ops.transpose(x)
    for _ in range(int(steps)):
        gram = ops.matmul(x, ops.transpose(x))
        x = a * x + ops.matmul(b * gram + c * ops.matmul(gram, gram), x)
    return ops.transpose(x) if tall else x


_RULES, _SCHEDULES = ("muon", "sgd"), ("main", "whiten", "constant")


def _layer_key(path: str) -> str:
    """``layer/variable``: the last two parts of a variable's path (no model name scope)."""
    return "/".join(str(path).split("/")[-2:])


def _check_groups(groups: Mapping | None) -> dict[str, tuple[str, float, float, str]]:
    if groups is None:
        return {}
    if not isinstance(groups, Mapping):
        raise TypeError(f"groups must be a dict {{variable path: (rule, lr, decay, schedule)}}, got "
                        f"{type(groups).__name__}.")
    out = {}
    for path, rule in groups.items():
        if not isinstance(rule, Sequence) or isinstance(rule, str) or len(rule) != 4:
            raise ValueError(f"groups[{path!r}] must be (rule, lr, decay, schedule), got {rule!r}.")
        kind, lr, decay, schedule = rule
        if kind not in _RULES or schedule not in _SCHEDULES:
            raise ValueError(f"groups[{path!r}]: rule must be one of {_RULES} and schedule one of {_SCHEDULES}, "
                             f"got {rule!r}.")
        out[str(path)] = (str(kind), float(lr), float(decay), str(schedule))
    keys = [_layer_key(path) for path in out]
    clash = sorted({k for k in keys if keys.count(k) > 1})
    if clash:
        raise ValueError(f"groups name the same layer variable twice ({', '.join(clash)}); a key matches a variable "
                         "by its last two path parts, layer/variable.")
    return out


@keras.saving.register_keras_serializable(package="labkit")
class AirbenchMuon(keras.optimizers.Optimizer):
    """airbench94_muon's optimisers (Jordan, 2024) as one Keras optimiser, one rule per variable.

    ``groups`` maps a variable's ``path`` (e.g. ``"block1_conv1/kernel"``) to
    ``(rule, lr, decay, schedule)``:

    * rule ``"muon"`` (the conv kernels): Nesterov momentum ``muon_momentum``; the kernel is
      renormalised to Frobenius norm sqrt(out_channels), then steps by ``lr`` along the
      Newton-Schulz-orthogonalised (:func:`newton_schulz`) momentum, the kernel seen as a
      (kh*kw*in, out) matrix; ``decay`` is not used;
    * rule ``"sgd"`` (biases, the head): Nesterov SGD, momentum ``sgd_momentum``, with coupled weight
      decay ``decay`` (the gradient gets ``decay * w`` before the momentum, as in PyTorch).

    ``schedule`` ``"main"`` decays the rate linearly from ``lr`` to 0 over ``total_steps``,
    ``"whiten"`` over ``whiten_steps``; ``"constant"`` keeps it at ``lr`` (an ablation). Variables
    not in ``groups`` are left alone. A key matches a variable by its last two parts,
    ``layer/variable``: a ``Sequential`` model's paths start with the model's name
    (``"sequential/conv/kernel"``) and the same model reloaded from ``.keras`` has none
    (``"conv/kernel"``). The groups are part of the config, so a model compiled with this optimiser
    saves and reloads as ``.keras`` with its optimiser and momentum buffers and trains on as before.

    Why not ``keras.optimizers.Muon``: in Keras 3.15 its ``_should_use_adamw`` sends every variable
    whose shape is not 2-D to AdamW, so a conv net's 4-D kernels never take a Muon step (and there is
    no option to flatten them); the rest steps with AdamW, not Nesterov SGD; it has one learning rate
    (and ``adam_lr_ratio``) for all, and neither per-group rates and decay schedules nor the kernel
    renormalisation airbench94_muon uses.

    Args:
        groups: ``{variable path: (rule, lr, decay, schedule)}`` as above.
        total_steps: steps of the run (the ``"main"`` schedule's span).
        whiten_steps: the ``"whiten"`` schedule's span (airbench: the first 3 epochs).
        muon_momentum: the Muon rule's momentum (default 0.6).
        sgd_momentum: the SGD rule's momentum (default 0.85).
        ns_steps: Newton-Schulz iterations per Muon step (default 3).
        learning_rate: a multiplier on every group's rate (default 1.0), so that Keras' learning-rate
            tools act on the whole optimiser.
        **kwargs: other ``keras.optimizers.Optimizer`` arguments (``name``...).
    """

    def __init__(self, groups: Mapping | None = None, total_steps: int = 1, whiten_steps: int = 1, *,
                 muon_momentum: float = 0.6, sgd_momentum: float = 0.85, ns_steps: int = 3,
                 learning_rate: float = 1.0, name: str = "airbench_muon", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.groups = _check_groups(groups)
        self.total_steps, self.whiten_steps = int(total_steps), int(whiten_steps)
        self.muon_momentum, self.sgd_momentum = float(muon_momentum), float(sgd_momentum)
        self.ns_steps = int(ns_steps)

    def build(self, var_list):
        if self.built:
            return
        rules = {_layer_key(path): rule for path, rule in self.groups.items()}
        unmatched = sorted(set(rules) - {_layer_key(v.path) for v in var_list})
        if unmatched:  # a rule that matches nothing would leave its variables silently untrained
            raise ValueError(f"AirbenchMuon: groups name variables that are not among those to train: {unmatched}.")
        super().build(var_list)
        self._rules = [rules.get(_layer_key(v.path)) for v in var_list]
        self.momentums = [self.add_variable_from_reference(v, "momentum") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        rule = self._rules[i]
        if rule is None:
            return
        kind, lr, decay, schedule = rule
        rate = ops.cast(learning_rate, "float32") * lr
        if schedule != "constant":
            span = float(max(self.total_steps if schedule == "main" else self.whiten_steps, 1))
            rate = rate * ops.maximum(1.0 - ops.cast(self.iterations, "float32") / span, 0.0)
        g = ops.cast(gradient, variable.dtype)
        m = self.momentums[i]
        if kind == "muon":
            mu = self.muon_momentum
            self.assign(m, mu * m + g)
            g = g + mu * m
            out = variable.shape[-1]
            norm = ops.sqrt(ops.sum(ops.square(variable)))
            self.assign(variable, variable * (math.sqrt(out) / norm))
            update = newton_schulz(ops.reshape(g, (-1, out)), self.ns_steps)
            self.assign_sub(variable, rate * ops.reshape(update, variable.shape))
        else:
            mu = self.sgd_momentum
            g = g + decay * variable
            self.assign(m, mu * m + g)
            self.assign_sub(variable, rate * (g + mu * m))

    def get_config(self):
        return {**super().get_config(), "groups": {k: list(v) for k, v in self.groups.items()},
                "total_steps": self.total_steps, "whiten_steps": self.whiten_steps,
                "muon_momentum": self.muon_momentum, "sgd_momentum": self.sgd_momentum, "ns_steps": self.ns_steps}


@keras.saving.register_keras_serializable(package="labkit")
class Lookahead(keras.callbacks.Callback):
    """airbench94's Lookahead: weight averaging with a momentum that grows over training.

    From ``start_step`` on, every ``every`` steps an exponential moving average of the weights
    moves towards the current weights, ``ema += (1 - rho) * (w - ema)``, and is copied back into
    the network. ``rho = decay_base**every * (step / total_steps)**decay_pow`` grows over training
    (move fast early, average strongly at the end). The weights averaged are the trainable ones and
    batch norm's running statistics (airbench averages the whole state dict). At the end of every
    epoch the network is set to the average, so checkpoints and evaluations see the averaged
    weights; a run resumed from such a checkpoint restarts the average from them. The average is
    reset in ``on_train_begin``: one instance can serve several ``fit`` calls.

    Why not Keras' own (``use_ema=True`` on any optimiser, with the ``SwapEMAWeights`` callback):
    its ``ema_momentum`` is one fixed float, applied from step 0 on every step, to the trainable
    variables only (not batch norm's statistics), and ``ema_overwrite_frequency`` overwrites the
    weights with no schedule; airbench's average starts late, every 5 steps, with a growing rho.

    Args:
        start_step: the optimiser step from which the average runs.
        total_steps: steps of the run (rho's schedule).
        every: steps between updates of the average (default 5).
        decay_base, decay_pow: rho's schedule (defaults 0.95 and 3.0, airbench94's).
    """

    def __init__(self, start_step: int, total_steps: int, every: int = 5, decay_base: float = 0.95,
                 decay_pow: float = 3.0):
        super().__init__()
        self.start_step, self.total_steps, self.every = int(start_step), int(total_steps), int(every)
        self.decay_base, self.decay_pow = float(decay_base), float(decay_pow)
        self.ema = None
        self.vars: list = []  # the model's Keras variables, set in on_train_begin

    def on_train_begin(self, logs=None):
        # the trained weights and batch norm's running statistics (airbench: the state dict)
        self.ema = None
        self.vars = list(self.model.trainable_weights) + [
            v for layer in self.model.layers if isinstance(layer, keras.layers.BatchNormalization)
            for v in layer.non_trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step < self.start_step or step % self.every:
            return
        if self.ema is None:
            self.ema = [np.array(v.numpy()) for v in self.vars]
            return
        rho = self.decay_base ** self.every * min(step / self.total_steps, 1.0) ** self.decay_pow
        for e, v in zip(self.ema, self.vars):
            e += (1 - rho) * (v.numpy() - e)
            v.assign(e)

    def on_epoch_end(self, epoch, logs=None):
        if self.ema is not None:
            for e, v in zip(self.ema, self.vars):
                v.assign(e)

    @classmethod
    def from_config(cls, config):  # keras.callbacks.Callback has no from_config
        return cls(**config)

    def get_config(self):
        return dict(start_step=self.start_step, total_steps=self.total_steps, every=self.every,
                    decay_base=self.decay_base, decay_pow=self.decay_pow)
