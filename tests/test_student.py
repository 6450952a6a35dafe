"""Student versions: markers, placeholders, and every check rejecting the placeholder."""
from __future__ import annotations

import glob
import os

import nbformat
import pytest

import labkit.checks
from labkit.checks import ExerciseError
from labkit.student import has_solution, placeholders, strip_solution, student_notebook

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "[0-9]*.ipynb")))


def test_top_level_solution_becomes_comment():
    src = "n = None\n### BEGIN SOLUTION\nn = 3\n### END SOLUTION\nprint(n)"
    assert strip_solution(src) == "n = None\n# YOUR CODE HERE\nprint(n)"


def test_indented_solution_raises_not_implemented():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    out = strip_solution(src)
    assert out == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    ns = {}
    exec(out, ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)
    assert set(placeholders(out)) == {"f"}


@pytest.mark.parametrize("src", ["### BEGIN SOLUTION\nx=1", "x=1\n### END SOLUTION",
                                 "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(src):
    with pytest.raises(ValueError):
        strip_solution(src)


def _exercise_pairs(nb):
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and has_solution(cell.source):
            nxt = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
            yield i, cell, nxt


class _Unset(dict):
    """Locals for exec: names neither the exercise cell nor the globals define resolve to
    a stand-in object (a check must reject the placeholder before touching them)."""

    def __init__(self, values, globals_):
        super().__init__(values)
        self._globals = globals_

    def __missing__(self, key):
        import builtins

        if key in self._globals or hasattr(builtins, key):
            raise KeyError(key)
        return object()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_every_exercise_is_followed_by_a_check_that_rejects_the_placeholder(path):
    nb = nbformat.read(path, as_version=4)
    pairs = list(_exercise_pairs(nb))
    for index, cell, check in pairs:
        assert check is not None and "checks." in check.source, \
            f"cell {index} is an exercise; the next code cell must call a labkit.checks function"
        student_src = strip_solution(cell.source)
        assert "### BEGIN SOLUTION" not in student_src
        import numpy as np

        glb = {"np": np, "labkit": labkit, "checks": labkit.checks}
        local = _Unset(placeholders(student_src), glb)
        assert dict(local), f"cell {index}: the student version binds no placeholder (name = None or a def)"
        with pytest.raises(ExerciseError) as err:
            exec(compile(check.source, f"{os.path.basename(path)}[{index + 1}]", "exec"), glb, local)
        assert err.value.hint, f"cell {index}: the check must give a hint"


def test_student_notebook_has_no_solution_or_outputs():
    for path in NOTEBOOKS:
        nb = student_notebook(nbformat.read(path, as_version=4))
        for cell in nb.cells:
            assert "### BEGIN SOLUTION" not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == []
