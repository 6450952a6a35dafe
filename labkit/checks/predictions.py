"""Prediction questions: the learner commits to an outcome before an experiment runs.

A prediction question has two check cells. Before the run, ``commit`` accepts any well-formed
prediction (so the learner is not told the answer) and rejects only a malformed one. After the
run, ``verdict`` compares the prediction with what *this run measured* - never with a stored
answer - and explains the outcome either way.

The lab-specific check modules (``checks.diagnosis``, ``checks.cifar10``, ...) build one
:class:`ChoicePrediction` or :class:`NumberPrediction` per question and turn the run's numbers
into its outcome; this module only holds what every such question shares.
"""
from __future__ import annotations

from typing import Any, Mapping

from labkit.checks import ExerciseError, passed, require_answer, require_number

__all__ = ["ChoicePrediction", "NumberPrediction"]


class ChoicePrediction:
    """A prediction that is one of a few named outcomes.

    Parameters
    ----------
    exercise : str
        How the question is named in messages.
    name : str
        The learner's variable, e.g. ``"predicted_data_gain"``.
    options : mapping of str to str
        Each outcome, mapped to what choosing it *wrongly* usually means (the hint a learner
        gets when the run measured another outcome). Keys are compared case-insensitively.
    hint : str
        What to think about before predicting (shown for a malformed prediction).
    """

    def __init__(self, exercise: str, name: str, options: Mapping[str, str], hint: str):
        if len(options) < 2:
            raise ValueError(f"a choice needs at least two options, got {list(options)}")
        self.exercise, self.name, self.hint = exercise, name, hint
        self.options = {key.lower(): why for key, why in options.items()}

    def _choice(self, predicted: Any) -> str:
        listed = ", ".join(repr(k) for k in self.options)
        require_answer(self.exercise, predicted, self.name, f"{self.hint} Write one of {listed}.")
        if not isinstance(predicted, str):
            raise ExerciseError(self.exercise, f"`{self.name}` is {type(predicted).__name__} {predicted!r}; "
                                f"a prediction here is one of the strings {listed}.", self.hint)
        choice = predicted.strip().lower()
        if choice not in self.options:
            raise ExerciseError(self.exercise, f"{predicted!r} is not one of the choices {listed}.", self.hint)
        return choice

    def commit(self, predicted: Any) -> str:
        """Accept any of the options (the run has not happened yet); return it normalised."""
        choice = self._choice(predicted)
        print(f"✔ {self.exercise}: prediction {choice!r} committed - the experiment below will tell")
        return choice

    def verdict(self, predicted: Any, outcome: str, measured: str, explanation: str) -> None:
        """Compare ``predicted`` with the ``outcome`` the run measured (``measured`` says the numbers)."""
        if outcome.lower() not in self.options:
            raise ValueError(f"outcome {outcome!r} is not one of the options {list(self.options)}")
        choice = self._choice(predicted)
        if choice == outcome.lower():
            passed(self.exercise, f"you predicted {choice!r} and the run measured it ({measured}). {explanation}")
            return
        raise ExerciseError(self.exercise, f"you predicted {choice!r}; the run measured {outcome!r} ({measured}).",
                            f"{self.options[choice]} Why: {explanation}")


class NumberPrediction:
    """A prediction that is one number, right when it is within ``tolerance`` of the measured value.

    ``slips`` maps a wrong value that comes from one typical slip to what the slip is; a prediction
    within ``slip_tolerance`` of it gets that hint.
    """

    def __init__(self, exercise: str, name: str, hint: str, tolerance: float, *,
                 min_val: float | None = None, max_val: float | None = None,
                 slips: Mapping[float, str] | None = None, slip_tolerance: float = 0.0):
        if not tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {tolerance!r}")
        self.exercise, self.name, self.hint, self.tolerance = exercise, name, hint, float(tolerance)
        self.min_val, self.max_val = min_val, max_val
        self.slips = dict(slips or {})
        self.slip_tolerance = float(slip_tolerance)

    def _number(self, predicted: Any) -> float:
        require_answer(self.exercise, predicted, self.name, self.hint)
        value = float(require_number(self.exercise, predicted, f"`{self.name}`", self.hint))
        below = self.min_val is not None and value < self.min_val
        if below or (self.max_val is not None and value > self.max_val):
            raise ExerciseError(self.exercise, f"`{self.name}` is {value:g}, outside the possible range "
                                f"[{self.min_val}, {self.max_val}].", self.hint)
        return value

    def commit(self, predicted: Any) -> float:
        """Accept any number in range (the run has not happened yet); return it as a float."""
        value = self._number(predicted)
        print(f"✔ {self.exercise}: prediction {value:g} committed - the experiment below will tell")
        return value

    def verdict(self, predicted: Any, measured: float, explanation: str) -> None:
        """Compare ``predicted`` with the value the run ``measured``."""
        value = self._number(predicted)
        if abs(value - measured) <= self.tolerance:
            passed(self.exercise, f"you predicted {value:g}, the run measured {measured:.4g}. {explanation}")
            return
        slip = next((why for wrong, why in self.slips.items() if abs(value - wrong) <= self.slip_tolerance), "")
        raise ExerciseError(self.exercise, f"you predicted {value:g}; the run measured {measured:.4g} "
                            f"(within {self.tolerance:g} counts as right). {slip}".strip(), f"Why: {explanation}")
