"""The recipe's learning-rate schedule: airbench94's triangle (linear warm-up, linear decay)."""
from __future__ import annotations

import keras

__all__ = ["Triangle"]


@keras.saving.register_keras_serializable(package="labkit")
class Triangle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``start_factor * peak`` to ``peak`` over the first ``warmup`` of the
    steps, then linear decay to ``end_factor * peak`` at ``total_steps`` (and held there after).

    ``keras.optimizers.schedules`` has no such schedule: ``PolynomialDecay(power=1)`` decays
    linearly but starts at its peak, and its ``warmup_*`` options belong to ``CosineDecay`` only.

    Args:
        peak: the learning rate at the top of the triangle.
        total_steps: optimiser steps of the whole run (at least 1).
        warmup: the fraction of ``total_steps`` spent warming up (at least one step).
        start_factor: the rate at step 0, as a fraction of ``peak``.
        end_factor: the rate at ``total_steps``, as a fraction of ``peak`` (default 0).
    """

    def __init__(self, peak: float, total_steps: int, warmup: float, start_factor: float,
                 end_factor: float = 0.0):
        self.peak, self.total = float(peak), max(int(total_steps), 1)
        self.warmup, self.start_factor, self.end_factor = float(warmup), float(start_factor), float(end_factor)
        self.warm = max(int(self.warmup * self.total), 1)

    def __call__(self, step):
        s = keras.ops.cast(step, "float32")
        up = self.start_factor + (1 - self.start_factor) * s / self.warm
        down = self.end_factor + (1 - self.end_factor) * (self.total - s) / max(self.total - self.warm, 1)
        return self.peak * keras.ops.clip(keras.ops.minimum(up, down), 0.0, 1.0)

    def get_config(self):
        return dict(peak=self.peak, total_steps=self.total, warmup=self.warmup, start_factor=self.start_factor,
                    end_factor=self.end_factor)
