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

import contextlib
import copy
import importlib
import math
import numbers
import secrets
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from labkit.validation import check_int

__all__ = ["ExerciseError", "require_answer", "require_array", "require_output", "require_number", "call_answer",
           "passed", "close", "fresh_seed", "fresh_cases", "one_number", "numpy_warnings", "overflow_warnings"]


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


def require_number(exercise: str, value: Any, name: str, hint: str, *, integer: bool = False,
                   kind: str | None = None) -> Any:
    """``value`` as one finite Python number (an ``int`` when ``integer``), or a hint saying what it is instead.

    Accepted: Python and NumPy numbers (``np.int64(4)``, ``np.float32(0.2)``), a 0-d or one-element
    array, and - when ``integer`` - a whole float such as ``193.0``. Refused, each with its own
    problem: a string (``"193"``), a bool (``True`` is not a count), a list, an array of several
    numbers, nan/inf and, when ``integer``, a fraction (``193.5``). ``name`` is how the problem
    names the value (e.g. ``"`n_params`"``, ``"conv_flops(32, 32, 3, 3, 32)"``); ``kind`` what it
    should be (default "a number", or "a whole number (an integer)").
    """
    kind = kind or ("a whole number (an integer)" if integer else "a number")

    def refuse(what: str) -> ExerciseError:
        return ExerciseError(exercise, f"{name} is {what}, expected {kind}.", hint)

    if value is None:
        raise refuse("None (did you forget the `return` or the assignment?)")
    if isinstance(value, (str, bytes)):
        raise refuse(f"the string {value!r} (numbers are written without quotes)")
    if isinstance(value, (bool, np.bool_)):
        raise refuse(f"the bool {value!r} (True/False is not a number here)")
    if isinstance(value, (list, tuple, set, dict)):
        raise refuse(f"a {type(value).__name__} ({value!r:.60}), not one number")
    if isinstance(value, (np.ndarray, np.generic)) or (hasattr(value, "__array__")
                                                       and not isinstance(value, numbers.Number)):
        try:
            arr = np.asarray(value)
        except Exception:  # noqa: BLE001 - anything unconvertible is a wrong answer
            raise refuse(f"a {type(value).__name__}") from None
        if arr.size != 1:
            raise ExerciseError(exercise, f"{name} is an array of shape {arr.shape}, expected one number.", hint)
        if arr.dtype.kind == "b":
            raise refuse(f"the bool {bool(arr.reshape(-1)[0])} (True/False is not a number here)")
        if arr.dtype.kind not in "iuf":
            raise refuse(f"an array of dtype {arr.dtype}")
        value = arr.reshape(-1)[0].item()
    if not isinstance(value, numbers.Real):
        raise refuse(f"a {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise refuse(f"{value!r} (not a finite number)")
    if integer:
        if number != math.floor(number):
            raise refuse(f"{value!r}, which has a fractional part")
        return int(value) if isinstance(value, numbers.Integral) else int(number)
    return value if isinstance(value, int) else number


def fresh_seed(seed: int | None = None) -> int:
    """``seed``, or when it is None a fresh one from the OS (cut to 32 bits), for a check's random cases.

    A check names the seed in every failure, so that ``check(answer, seed=...)`` replays the case.
    """
    return secrets.randbits(32) if seed is None else int(seed)


def one_number(fn: Callable) -> Callable:
    """``fn`` with its one-number answer (a Python or NumPy number, a 0-d or 1-element array) as a float.

    For :func:`fresh_cases` on exercises whose answer is one number, after a check's fixed cases
    have judged the answer's type with :func:`require_number`.
    """
    return lambda *args: float(np.ravel(np.asarray(fn(*args), dtype=np.float64))[0])


def fresh_cases(exercise: str, fn: Any, name: str, make_args: Callable[[np.random.Generator], tuple],
                reference: Callable[..., Any], hint: str, *, seed: int | None = None, n: int = 3,
                rtol: float = 1e-5, atol: float = 1e-7) -> int:
    """Call ``fn`` on ``n`` fresh random argument tuples and compare it with ``reference``.

    ``make_args(rng)`` draws one tuple of arguments (arrays of a random shape, scalars,
    lists of arrays); ``reference(*args)`` returns the right answer, an array or a tuple of
    arrays. Each call gets deep copies, so an answer that changes its inputs cannot change
    the reference. The fixed cases a check runs first give the specific hints; these catch an
    answer fitted to them (hard-coded values or sizes). Every failure names the seed, and
    ``seed`` replays it. Returns the seed used.
    """
    seed = fresh_seed(seed)
    rng = np.random.default_rng(seed)
    for _ in range(check_int(n, "n", min_val=1)):
        args = make_args(rng)
        want = reference(*copy.deepcopy(args))
        out = call_answer(exercise, fn, name, copy.deepcopy(args), hint)
        wants = want if isinstance(want, tuple) else (want,)
        outs = out if isinstance(want, tuple) else (out,)
        if not isinstance(outs, (tuple, list)) or len(outs) != len(wants):
            raise ExerciseError(exercise, f"`{name}` should return {len(wants)} values, got {type(out).__name__} "
                                          f"(fresh random inputs, seed={seed}).", hint)
        shapes = ", ".join(str(np.shape(a)) for a in args if isinstance(a, np.ndarray))
        for got, expected in zip(outs, wants):
            expected = np.asarray(expected, dtype=np.float64)
            got = require_output(exercise, got, name, expected.shape, hint)
            if not close(got, expected, rtol=rtol, atol=atol):
                raise ExerciseError(exercise, f"right on the fixed example but wrong on fresh random inputs "
                                              f"(shapes {shapes or 'scalars'}, seed={seed}): are sizes or values "
                                              "hard-coded?", hint)
    return seed


@contextlib.contextmanager
def numpy_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record the RuntimeWarnings NumPy raises inside (overflow, divide by zero, invalid value).

    Underflow stays silent (exp of a very negative number is 0, correctly); the student's own
    ``np.errstate`` inside the block still wins, as it should.
    """
    with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield caught


def overflow_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """The messages of the floating-point RuntimeWarnings among ``caught`` (see :func:`numpy_warnings`)."""
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def __getattr__(name: str) -> Any:  # lazy sub-modules: checks.mnist, checks.cifar10, ...
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"labkit.checks has no exercise module {name!r}") from None
