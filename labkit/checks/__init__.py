"""Automatic checks for the workbook's exercises.

Each exercise cell is followed by a cell that calls one check, e.g.
``checks.mnist.dense_param_count(n_params)``. A check returns quietly (printing a
short "correct" line) when the answer is right and raises :class:`ExerciseError`
with a specific hint when it is not - including when the answer is still the
student-version placeholder (``None``, or a function that raises
``NotImplementedError``) or has the wrong type or shape.

One sub-module per lab; shared helpers live here.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np

__all__ = ["ExerciseError", "require_answer", "require_array", "call_answer", "passed", "close"]


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
