"""Shared test helper: a lab's student version fails each check with a hint, its solutions pass."""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

import labkit
from labkit.checks import ExerciseError
from labkit.student import has_solution, strip_solution

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def assert_student_cells_fail_and_solutions_pass(name: str, lab: str, context: dict, min_exercises: int = 5) -> None:
    """Run each exercise cell of ``notebooks/<name>`` alone, student version then solution, then its check.

    The check cell after each exercise must call ``checks.<lab>.``; the student version must fail
    it with a hint ("no answer yet" / "not written yet"), and the solution (run with the names
    in ``context`` that the notebook defines earlier) must pass it.
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
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks}
        exec(compile(strip_solution(cell.source), f"{name}[student {i}]", "exec"), ns)
        with pytest.raises(ExerciseError) as err:
            exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
        assert err.value.hint and ("no answer yet" in str(err.value) or "not written yet" in str(err.value))
        ns = {"np": np, "labkit": labkit, "checks": labkit.checks, **context}
        exec(compile(cell.source, f"{name}[solution {i}]", "exec"), ns)
        exec(compile(check_src, f"{name}[check {i + 1}]", "exec"), ns)
    assert n_exercises >= min_exercises, f"{name}: expected several exercises, found {n_exercises}"
