"""Checks for notebook 11 (hyperparameter search)."""
from __future__ import annotations

from typing import Any

from labkit.checks import ExerciseError, passed, require_answer, require_number

__all__ = ["distinct_learning_rates"]


def distinct_learning_rates(grid_distinct_lr: Any, random_distinct_lr: Any) -> None:
    """4 x 4 grid vs 16 random trials: distinct learning rates tried by each."""
    ex = "distinct learning rates"
    hint = ("A grid repeats each learning rate once for every dropout value, so it tries only as many "
            "learning rates as the grid has along that axis. Random search draws a fresh value from a "
            "continuous range in every trial, so (almost surely) every trial has its own.")
    require_answer(ex, grid_distinct_lr, "grid_distinct_lr", hint)
    require_answer(ex, random_distinct_lr, "random_distinct_lr", hint)
    grid_distinct_lr = require_number(ex, grid_distinct_lr, "`grid_distinct_lr`", hint, integer=True)
    random_distinct_lr = require_number(ex, random_distinct_lr, "`random_distinct_lr`", hint, integer=True)
    if grid_distinct_lr != 4:
        why = " - that is the number of trials, not of learning rates" if grid_distinct_lr == 16 else ""
        raise ExerciseError(ex, f"grid_distinct_lr={grid_distinct_lr} is not right{why}.", hint)
    if random_distinct_lr != 16:
        raise ExerciseError(ex, f"random_distinct_lr={random_distinct_lr} is not right.", hint)
    passed(ex, "the grid tries 4 learning rates, random search 16, for the same 16 trials")
