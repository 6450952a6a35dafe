"""Hyperparameter search helpers around KerasTuner: resumable tuners and honest bookkeeping.

* :func:`make_tuner` builds a grid / random / Bayesian / Hyperband tuner that stores its
  trials under a work folder and **resumes** on re-run (``overwrite=False``).
* :class:`CountingHyperModel` - a ``keras_tuner.HyperModel`` subclass whose ``fit`` trains
  with early stopping, reports the epochs it actually ran (the compute a trial cost) next
  to the objective, and counts its calls (so a resumed search can be shown to train nothing).
* :func:`trial_table` reads the finished trials back and **fails loudly** when trials did
  not complete or scores are not finite - KerasTuner can otherwise fail silently (e.g.
  without ``tensorboard`` installed, every trial crashes and ``search`` still returns).
* :func:`best_so_far` turns trials into "best score found vs compute spent" curves.

Importing this module imports KerasTuner, and so TensorFlow.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import keras
import keras_tuner as kt

from labkit.validation import check_bool, check_callable, check_int, check_option, check_str

__all__ = ["TUNERS", "make_tuner", "CountingHyperModel", "Trial", "trial_table", "best_so_far",
           "distinct_values", "TuningError"]

TUNERS: tuple[str, ...] = ("grid", "random", "bayesian", "hyperband")


class TuningError(RuntimeError):
    """A search did not produce the finished, finite-scored trials it should have."""


class CountingHyperModel(kt.HyperModel):
    """A ``keras_tuner.HyperModel`` that trains with early stopping and counts its fits.

    ``CountingHyperModel(build, patience=1, seed=0, objective="val_accuracy")``: ``build(hp)``
    calls your ``build(hp)``; ``fit`` seeds Keras first (every trial starts from the same
    random state), runs ``model.fit`` with ``EarlyStopping(objective, patience,
    restore_best_weights=True)`` and returns ``{objective: best value, "epochs_run":
    epochs trained}``. ``fit_calls`` counts this instance's fits (0 after a resumed search).
    """

    def __init__(self, build: Callable, *, patience: int = 1, seed: int = 0, objective: str = "val_accuracy",
                 name: str | None = None, tunable: bool = True):
        self.build_model = check_callable(build, "build", what="a function hp -> compiled keras.Model")
        self.patience = check_int(patience, "patience", min_val=0)
        self.seed = check_int(seed, "seed", min_val=0)
        self.objective = check_str(objective, "objective")
        self.mode = "min" if "loss" in self.objective else "max"
        self.fit_calls = 0
        super().__init__(name=None if name is None else check_str(name, "name"),
                         tunable=check_bool(tunable, "tunable"))

    def build(self, hp):
        return self.build_model(hp)

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        self.fit_calls += 1
        keras.utils.set_random_seed(self.seed)
        stop = keras.callbacks.EarlyStopping(self.objective, patience=self.patience, mode=self.mode,
                                             restore_best_weights=True)
        kwargs["verbose"] = 0
        hist = model.fit(*args, callbacks=[*(callbacks or []), stop], **kwargs)
        values = hist.history.get(self.objective)
        if not values:
            raise ValueError(f"model.fit logged no {self.objective!r}: pass validation_data to search().")
        best = min(values) if self.mode == "min" else max(values)
        return {self.objective: float(best), "epochs_run": float(len(hist.epoch))}


def make_tuner(kind: str, hypermodel, *, directory: str | Path, project_name: str,
               objective: str = "val_accuracy", max_trials: int = 10, max_epochs: int = 3,
               factor: int = 3, seed: int = 0, overwrite: bool = False):
    """A KerasTuner tuner of ``kind`` (one of :data:`TUNERS`) that resumes from ``directory``.

    ``max_trials`` bounds grid/random/Bayesian searches; Hyperband instead spends its budget
    through ``max_epochs`` and ``factor`` (successive halving: many short trials, few long).
    Trials, scores and checkpoints are written to ``directory/project_name``; a second call
    with the same arguments reloads them, and ``search`` only runs the trials still missing.
    """
    if not isinstance(kind, str):
        check_option(kind, "kind", TUNERS)  # a TypeError naming the choices
    if kind not in TUNERS:
        raise ValueError(f"unknown tuner kind {kind!r}; use one of {', '.join(TUNERS)}.")
    max_trials = check_int(max_trials, "max_trials", min_val=1)
    max_epochs = check_int(max_epochs, "max_epochs", min_val=1)
    factor = check_int(factor, "factor", min_val=2)
    seed = check_int(seed, "seed", min_val=0)
    objective, project_name = check_str(objective, "objective"), check_str(project_name, "project_name")
    overwrite = check_bool(overwrite, "overwrite")
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a folder path (str or Path), got {type(directory).__name__}.")
    if not (isinstance(hypermodel, kt.HyperModel) or callable(hypermodel)):
        raise TypeError(f"hypermodel must be a keras_tuner.HyperModel (e.g. CountingHyperModel(build)) or a "
                        f"function hp -> keras.Model, got {type(hypermodel).__name__}.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    direction = "min" if "loss" in objective else "max"
    common = dict(objective=kt.Objective(objective, direction), directory=str(directory),
                  project_name=project_name, overwrite=overwrite, seed=seed)
    if kind == "grid":
        return kt.GridSearch(hypermodel, max_trials=max_trials, **common)
    if kind == "random":
        return kt.RandomSearch(hypermodel, max_trials=max_trials, **common)
    if kind == "bayesian":
        return kt.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    return kt.Hyperband(hypermodel, max_epochs=max_epochs, factor=factor, hyperband_iterations=1, **common)


@dataclass(frozen=True)
class Trial:
    """One finished trial: its id, score (the objective), epochs trained and hyperparameters."""

    trial_id: str
    score: float
    epochs: float
    values: dict


def trial_table(tuner, *, min_trials: int = 1) -> list[Trial]:
    """The tuner's trials in the order they ran; raises :class:`TuningError` unless at
    least ``min_trials`` completed, every trial completed, and every score is finite."""
    if not hasattr(getattr(tuner, "oracle", None), "trials"):
        raise TypeError(f"tuner must be a KerasTuner tuner (from make_tuner), got {type(tuner).__name__}.")
    min_trials = check_int(min_trials, "min_trials", min_val=0)
    trials = [tuner.oracle.trials[k] for k in sorted(tuner.oracle.trials, key=_trial_order)]
    bad = [t.trial_id for t in trials if t.status != kt.engine.trial.TrialStatus.COMPLETED]
    if bad:
        raise TuningError(f"{len(bad)} trial(s) did not complete: {bad}. Look at the trial folders under "
                          f"{tuner.project_dir} (keras-tuner fails silently, e.g. without tensorboard).")
    rows = []
    for t in trials:
        score = t.score
        epochs = t.metrics.get_last_value("epochs_run") if t.metrics.exists("epochs_run") else float("nan")
        if score is None or not math.isfinite(float(score)):
            raise TuningError(f"trial {t.trial_id} has no finite score ({score!r}).")
        values = {k: v for k, v in t.hyperparameters.values.items()}
        rows.append(Trial(t.trial_id, float(score), float(epochs), values))
    if len(rows) < min_trials:
        raise TuningError(f"only {len(rows)} trial(s) completed, expected at least {min_trials}. "
                          f"search() may have failed silently; check {tuner.project_dir}.")
    return rows


def _check_trials(trials) -> None:
    if isinstance(trials, (str, bytes)) or not isinstance(trials, Sequence):
        raise TypeError(f"trials must be a list of Trial (from trial_table), got {type(trials).__name__}.")
    wrong = sorted({type(t).__name__ for t in trials if not isinstance(t, Trial)})
    if wrong:
        raise TypeError(f"trials must hold Trial rows (from trial_table), got {', '.join(wrong)}.")


def _trial_order(trial_id: str):
    return (0, int(trial_id)) if str(trial_id).isdigit() else (1, str(trial_id))


def best_so_far(trials: Sequence[Trial], *, mode: str = "max") -> tuple[list[float], list[float]]:
    """(cumulative epochs, best score so far) after each trial, in run order."""
    mode = check_option(mode, "mode", ("max", "min"))
    _check_trials(trials)
    if not trials:
        raise ValueError("no trials given.")
    cost, best, spent, cur = [], [], 0.0, None
    for t in trials:
        if not math.isfinite(t.epochs):
            raise ValueError(f"trial {t.trial_id} has no epoch count; train it with CountingHyperModel.")
        spent += t.epochs
        cur = t.score if cur is None else (max(cur, t.score) if mode == "max" else min(cur, t.score))
        cost.append(spent)
        best.append(cur)
    return cost, best


def distinct_values(trials: Sequence[Trial], name: str) -> int:
    """How many different values of hyperparameter ``name`` the trials tried."""
    _check_trials(trials)
    name = check_str(name, "name")
    if not any(name in t.values for t in trials):
        known = sorted({k for t in trials for k in t.values})
        raise ValueError(f"name {name!r}: no trial has a hyperparameter {name!r}; they have {known}.")
    return len({t.values.get(name) for t in trials})
