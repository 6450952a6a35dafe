"""Hyperparameter search helpers around KerasTuner: resumable tuners and honest bookkeeping.

* :func:`make_tuner` builds a grid / random / Bayesian / Hyperband tuner that stores its
  trials under a work folder and **resumes** on re-run (``overwrite=False``).
* :class:`CountingHyperModel` - a ``keras_tuner.HyperModel`` whose ``fit`` trains with
  early stopping, reports the epochs it actually ran (the compute a trial cost) next to
  the objective, and counts its calls (so a resumed search can be shown to train nothing).
* :func:`trial_table` reads the finished trials back and **fails loudly** when trials did
  not complete or scores are not finite - KerasTuner can otherwise fail silently (e.g.
  without ``tensorboard`` installed, every trial crashes and ``search`` still returns).
* :func:`best_so_far` turns trials into "best score found vs compute spent" curves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["TUNERS", "make_tuner", "CountingHyperModel", "Trial", "trial_table", "best_so_far",
           "distinct_values", "TuningError"]

TUNERS: tuple[str, ...] = ("grid", "random", "bayesian", "hyperband")


class TuningError(RuntimeError):
    """A search did not produce the finished, finite-scored trials it should have."""


def _kt():
    import keras_tuner

    return keras_tuner


class CountingHyperModel:
    """Factory of a ``keras_tuner.HyperModel`` (built lazily: keras_tuner imports TF).

    ``CountingHyperModel(build, patience=1, seed=0, objective="val_accuracy")`` returns a
    HyperModel whose ``build(hp)`` calls your ``build(hp)`` and whose ``fit`` runs
    ``model.fit`` with ``EarlyStopping(objective, patience, restore_best_weights=True)``,
    seeds Keras first (every trial starts from the same random state), and returns
    ``{objective: best value, "epochs_run": epochs trained}``. ``.fit_calls`` counts fits.
    """

    def __new__(cls, build: Callable, *, patience: int = 1, seed: int = 0, objective: str = "val_accuracy"):
        if not callable(build):
            raise ValueError(f"build must be a function hp -> compiled keras.Model, got {type(build).__name__}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}.")
        kt = _kt()
        import keras

        mode = "min" if "loss" in objective else "max"

        class _Counting(kt.HyperModel):
            fit_calls = 0

            def build(self, hp):
                return build(hp)

            def fit(self, hp, model, *args, callbacks=None, **kwargs):
                type(self).fit_calls += 1
                keras.utils.set_random_seed(seed)
                stop = keras.callbacks.EarlyStopping(objective, patience=patience, mode=mode,
                                                     restore_best_weights=True)
                kwargs["verbose"] = 0
                hist = model.fit(*args, callbacks=[*(callbacks or []), stop], **kwargs)
                values = hist.history.get(objective)
                if not values:
                    raise ValueError(f"model.fit logged no {objective!r}: pass validation_data to search().")
                best = min(values) if mode == "min" else max(values)
                return {objective: float(best), "epochs_run": float(len(hist.epoch))}

        return _Counting()


def make_tuner(kind: str, hypermodel, *, directory: str | Path, project_name: str,
               objective: str = "val_accuracy", max_trials: int = 10, max_epochs: int = 3,
               factor: int = 3, seed: int = 0, overwrite: bool = False):
    """A KerasTuner tuner of ``kind`` (one of :data:`TUNERS`) that resumes from ``directory``.

    ``max_trials`` bounds grid/random/Bayesian searches; Hyperband instead spends its budget
    through ``max_epochs`` and ``factor`` (successive halving: many short trials, few long).
    Trials, scores and checkpoints are written to ``directory/project_name``; a second call
    with the same arguments reloads them, and ``search`` only runs the trials still missing.
    """
    kt = _kt()
    if kind not in TUNERS:
        raise ValueError(f"unknown tuner {kind!r}; use one of {', '.join(TUNERS)}.")
    for name, value, low in (("max_trials", max_trials, 1), ("max_epochs", max_epochs, 1), ("factor", factor, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
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
    kt = _kt()
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


def _trial_order(trial_id: str):
    return (0, int(trial_id)) if str(trial_id).isdigit() else (1, str(trial_id))


def best_so_far(trials: Sequence[Trial], *, mode: str = "max") -> tuple[list[float], list[float]]:
    """(cumulative epochs, best score so far) after each trial, in run order."""
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}.")
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
    if not any(name in t.values for t in trials):
        raise ValueError(f"no trial has a hyperparameter {name!r}.")
    return len({t.values.get(name) for t in trials})
