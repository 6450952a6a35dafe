"""Shared test helpers for the labs whose exercises have checks in ``labkit.checks.<lab>``.

:func:`check_tests` makes the tests every such lab has (each check accepts the right answer and
rejects each wrong one with its hint, every check is tested, the reference solutions pass, the
student cells fail with a hint); :func:`assert_student_cells_fail_and_solutions_pass` runs a
lab's exercise cells, student version then solution, against their checks.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import nbformat
import numpy as np
import pytest

import labkit
from labkit.checks import ExerciseError
from labkit.student import has_solution, strip_solution

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# One row per check: (check, correct answer, [(wrong answer, regex its hint must match), ...]); an
# answer is the list of arguments the check is called with.
Case = tuple[Callable, list, list[tuple[list, str]]]


def placeholder(*args, **kwargs):
    """An exercise function the student has not written yet (its body still raises)."""
    raise NotImplementedError()


def check_tests(checks: ModuleType, cases: Sequence[Case], *, references: Sequence[tuple[Callable, Callable]],
                notebook: str, context: dict[str, Any]) -> dict[str, Callable]:
    """The generic tests of the check module ``checks`` (``labkit.checks.<lab>``), by name.

    A lab's test module defines them with ``globals().update(check_tests(...))``:

    - ``test_check_accepts_correct_answer[<check>]``: the check passes (prints ✔) on the right answer;
    - ``test_check_rejects_wrong_answer_with_hint[<check>-<i>]``: it raises ExerciseError matching the hint;
    - ``test_every_check_is_tested``: ``cases`` has one row for each name in ``checks.__all__``;
    - ``test_reference_solutions_pass_their_checks``: each ``(check, solution)`` in ``references`` passes;
    - ``test_student_exercise_cells_fail_their_checks_with_a_hint``: see
      :func:`assert_student_cells_fail_and_solutions_pass` (``notebook``, ``context``).
    """
    lab = checks.__name__.rsplit(".", 1)[-1]
    ids = [c[0].__name__ for c in cases]

    @pytest.mark.parametrize("check,answer", [(c[0], c[1]) for c in cases], ids=ids)
    def test_check_accepts_correct_answer(check, answer, capsys):
        check(*answer)
        out = capsys.readouterr().out
        assert "✔" in out, f"{check.__name__} did not pass the correct answer; it printed {out!r}"

    @pytest.mark.parametrize("check,answer,match",
                             [(c[0], w, m) for c in cases for w, m in c[2]],
                             ids=[f"{c[0].__name__}-{i}" for c in cases for i in range(len(c[2]))])
    def test_check_rejects_wrong_answer_with_hint(check, answer, match):
        with pytest.raises(ExerciseError, match=match):
            check(*answer)

    def test_every_check_is_tested():
        assert sorted(ids) == sorted(checks.__all__), f"CASES {sorted(ids)} != {checks.__name__}.__all__"

    def test_reference_solutions_pass_their_checks(capsys):
        for check, solution in references:
            check(solution)
        out = capsys.readouterr().out
        assert out.count("✔") == len(references), f"not every reference solution passed: {out!r}"

    def test_student_exercise_cells_fail_their_checks_with_a_hint():
        """Run each student-version exercise cell alone, then its check: it must give a hint."""
        assert_student_cells_fail_and_solutions_pass(notebook, lab, context)

    return {f.__name__: f for f in (test_check_accepts_correct_answer, test_check_rejects_wrong_answer_with_hint,
                                    test_every_check_is_tested, test_reference_solutions_pass_their_checks,
                                    test_student_exercise_cells_fail_their_checks_with_a_hint)}


def assert_student_cells_fail_and_solutions_pass(name: str, lab: str, context: dict, min_exercises: int = 5) -> None:
    """Run each exercise cell of ``notebooks/<name>`` alone, student version then solution, then its check.

    The check cell after each exercise must call ``checks.<lab>.``; the student version must fail
    it with a hint ("no answer yet" / "not written yet"), and the solution must pass it. Both run
    with the names in ``context`` that the notebook defines earlier (imports, data).
    """
    cells = [c for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells if c.cell_type == "code"]
    n_exercises = 0
    for i, cell in enumerate(cells):
        if not has_solution(cell.source):
            continue
        n_exercises += 1
        check_src = cells[i + 1].source
        assert check_src.startswith(f"checks.{lab}."), (
            f"{name}: the cell after exercise {n_exercises} must call a check")
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks, **context}
        exec(compile(strip_solution(cell.source), f"{name}[student {i}]", "exec"), ns)
        with pytest.raises(ExerciseError) as err:
            exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
        assert err.value.hint and ("no answer yet" in str(err.value) or "not written yet" in str(err.value)), (
            f"{name}: the student version of exercise {n_exercises} failed its check without a hint: {err.value}")
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks, **context}
        exec(compile(cell.source, f"{name}[solution {i}]", "exec"), ns)
        exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
    assert n_exercises >= min_exercises, f"{name}: expected several exercises, found {n_exercises}"
