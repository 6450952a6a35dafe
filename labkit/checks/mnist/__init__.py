"""Checks for notebook 04 (MNIST).

Exercises:

1. :func:`initial_loss_prediction` then, after the run, :func:`initial_loss_verdict`:
   the learner predicts the loss of an untrained 10-class classifier before seeing it.
2. :func:`spec_cnn`: the learner builds and compiles a CNN from a spec in words; the
   check reads the layers and the compile settings, then trains a copy for a few
   seconds on a fixed batch of real digits.
3. :func:`confident_mistakes`: the learner's ``fn(probs, y_true, k)`` is called on fresh
   random cases of several shapes (ties, no mistakes, k larger than the number of
   mistakes, ...) and each answer is checked against the properties a right answer has.

:func:`reference_confident_mistakes` is labkit's own answer to exercise 3, for the cells
that must run whether or not the learner solved it.

One module an exercise: :mod:`.loss_prediction`, :mod:`.cnn_spec`, :mod:`.mistakes`.
"""
from __future__ import annotations

from labkit.checks.mnist.cnn_spec import SPEC_CNN_MAX_LOSS, SPEC_CNN_PARAMS, SPEC_CNN_STEPS, spec_cnn
from labkit.checks.mnist.loss_prediction import initial_loss_prediction, initial_loss_verdict
from labkit.checks.mnist.mistakes import confident_mistakes, reference_confident_mistakes

__all__ = ["initial_loss_prediction", "initial_loss_verdict",
           "spec_cnn", "SPEC_CNN_PARAMS", "SPEC_CNN_STEPS", "SPEC_CNN_MAX_LOSS",
           "confident_mistakes", "reference_confident_mistakes"]
