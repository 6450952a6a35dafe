"""Notebook 04, exercise 1: predict the loss of an untrained 10-class classifier, then compare."""
from __future__ import annotations

import math
import numbers

import numpy as np

from labkit.checks import ExerciseError, passed, require_answer

__all__ = ["initial_loss_prediction", "initial_loss_verdict"]

LN10 = math.log(10)

_LOSS_EX = "initial loss of an untrained classifier"
_LOSS_HINT = ("Before training, the network has no reason to prefer any digit, so it gives each of the 10 "
              "classes about the same probability. The loss of one example is -ln(probability of its true "
              "class). Write the number (a float), e.g. predicted_initial_loss = 1.23.")
_LOSS_EXPLANATION = ("an untrained network gives every class about 1/10, so the loss is -ln(1/10) = ln 10 = "
                     f"{LN10:.3f}; the random initial logits are not exactly equal, which puts the measured "
                     "value a little above it")
# Wrong predictions that come from one specific slip, with what the slip is.
_LOSS_SLIPS = (
    (0.1, "0.1 is the probability of the true class, not the loss: the loss is -ln(0.1)."),
    (0.9, "0.9 is the error rate of a guess; the loss is -ln(probability of the true class)."),
    (1.0, "1 is log10(10): cross-entropy uses the natural logarithm, ln."),
    (math.log2(10), f"{math.log2(10):.2f} is log2(10), the loss in bits: Keras uses the natural logarithm."),
    (10.0, "10 is the number of classes; the loss is -ln(1/10)."),
    (0.0, "a loss of 0 means a perfect, fully confident prediction: that is the end of training, not its start."),
)
# Accepted: within this distance of ln 10 or of the measured loss.
_LOSS_TOLERANCE = 0.25


def _a_number(exercise: str, value, name: str, hint: str) -> float:
    require_answer(exercise, value, name, hint)
    if isinstance(value, bool) or isinstance(value, str) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
            value = value.item()
        else:
            raise ExerciseError(exercise, f"`{name}` should be one number, got {type(value).__name__} {value!r}.",
                                hint)
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(exercise, f"`{name}` is {value}; a loss of a softmax classifier is a finite number.",
                            hint)
    return value


def initial_loss_prediction(predicted_initial_loss) -> None:
    """Exercise 1, before the run: accept any committed prediction that is a loss value.

    Whether it is right is said by :func:`initial_loss_verdict` after the measurement.
    """
    p = _a_number(_LOSS_EX, predicted_initial_loss, "predicted_initial_loss", _LOSS_HINT)
    if p < 0:
        raise ExerciseError(_LOSS_EX, f"a cross-entropy loss is never negative (you wrote {p}).", _LOSS_HINT)
    print(f"✔ {_LOSS_EX}: prediction {p:.3f} committed - run the next cell to measure it")


def initial_loss_verdict(predicted_initial_loss, measured_loss) -> None:
    """Exercise 1, after the run: compare the prediction with ln 10 and the measured loss."""
    p = _a_number(_LOSS_EX, predicted_initial_loss, "predicted_initial_loss", _LOSS_HINT)
    m = _a_number(_LOSS_EX, measured_loss, "measured_loss",
                  "measured_loss is the untrained model's loss from the cell above; run that cell first.")
    if min(abs(p - LN10), abs(p - m)) <= _LOSS_TOLERANCE:
        return passed(_LOSS_EX, f"you predicted {p:.3f}, measured {m:.3f}: {_LOSS_EXPLANATION}")
    slip = next((why for value, why in _LOSS_SLIPS if abs(p - value) <= 0.02), None)
    problem = f"you predicted {p:.3f}, the untrained network measured {m:.3f}. " + (slip or "")
    raise ExerciseError(_LOSS_EX, problem.strip(), f"Why: {_LOSS_EXPLANATION}.")
