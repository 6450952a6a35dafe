"""Automatic checks for the workbook's exercises.

Each exercise cell is followed by a cell that calls one check, e.g.
``checks.mnist.dense_param_count(n_params)``. A check returns quietly (printing a
short "correct" line) when the answer is right and raises :class:`ExerciseError`
with a specific hint when it is not - including when the answer is still the
student-version placeholder (``None``, or a function that raises
``NotImplementedError``) or has the wrong type or shape.

One sub-module per lab, named like the lab's profile in :mod:`labkit.profiles`
(``checks.forward`` for notebook 01, ``checks.activations`` for 02, ``checks.backprop``
for 03, ``checks.mnist``, ...); helpers used by more than one of them live here.
"""
from __future__ import annotations

import importlib
from typing import Any

import numpy as np

__all__ = ["ExerciseError", "require_answer", "require_array", "require_output", "call_answer", "passed", "close"]


class ExerciseError(AssertionError):
    """The answer to an exercise is wrong; the message says why and gives a hint."""

    def __init__(self, exercise: str, problem: str, hint: str):
        self.exercise, self.problem, self.hint = exercise, problem, hint
        super().__init__(f"[{exercise}] {problem}\nHint: {hint}")


def passed(exercise: str, detail: str = "") -> None:
    print(f"✔ {exercise}: correct{' - ' + detail if detail else ''}")


def require_answer(exercise: str, answer: Any, name: str, hint: str) -> Any:
    """Fail with the hint when the placeholder (``None`` or ``...``) is still there."""
    if answer is None or answer is Ellipsis:
        raise ExerciseError(exercise, f"`{name}` has no answer yet (it is still {answer!r}).", hint)
    return answer


def require_array(exercise: str, answer: Any, name: str, shape: tuple | None, hint: str,
                  dtype_kind: str = "fiub") -> np.ndarray:
    """Convert to an array and check its shape (``None`` entries match any size)."""
    require_answer(exercise, answer, name, hint)
    try:
        arr = np.asarray(answer)
    except Exception as err:  # noqa: BLE001 - anything unconvertible is a wrong answer
        raise ExerciseError(exercise, f"`{name}` is not array-like ({err}).", hint) from None
    if arr.dtype.kind not in dtype_kind:
        raise ExerciseError(exercise, f"`{name}` has dtype {arr.dtype}, expected numbers.", hint)
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ExerciseError(exercise, f"`{name}` has shape {arr.shape}, expected {want}.", hint)
    return arr


def require_output(exercise: str, out: Any, name: str, shape: tuple, hint: str) -> np.ndarray:
    """What the student's ``name`` returned, as a float64 array of exactly ``shape``.

    A missing ``return`` (None), something that is not an array of numbers, and a wrong
    shape each fail with their own hint; right numbers in the wrong shape (flattened,
    an extra axis) are told apart from a wrong shape.
    """
    if out is None:
        raise ExerciseError(exercise, f"`{name}` returned None.", "Did you forget the `return` statement?")
    arr = require_array(exercise, out, f"the output of {name}", None, hint)
    if arr.shape != tuple(shape):
        if arr.size == int(np.prod(shape)) and arr.ndim != len(shape):
            raise ExerciseError(exercise, f"`{name}` returned shape {arr.shape}, expected {tuple(shape)}.",
                                "The numbers may be right but the shape is not: keep one row per example "
                                "and one column per unit (no flatten/squeeze/extra axis).")
        raise ExerciseError(exercise, f"`{name}` returned shape {arr.shape}, expected {tuple(shape)}.", hint)
    return arr.astype(np.float64)


def call_answer(exercise: str, fn: Any, name: str, args: tuple, hint: str) -> Any:
    """Call the student's function; turn "not written yet" and crashes into hints."""
    require_answer(exercise, fn, name, hint)
    if not callable(fn):
        raise ExerciseError(exercise, f"`{name}` should be a function, got {type(fn).__name__}.", hint)
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseError(exercise, f"`{name}` is not written yet (it raises NotImplementedError).", hint) from None
    except Exception as err:  # noqa: BLE001 - report the student's error with the hint
        raise ExerciseError(exercise, f"calling `{name}` raised {type(err).__name__}: {err}", hint) from None


def close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def __getattr__(name: str) -> Any:  # lazy sub-modules: checks.mnist, checks.cifar10, ...
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"labkit.checks has no exercise module {name!r}") from None
