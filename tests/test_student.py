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


# --------------------------------------------------------------------------- the command line
# The rule (labkit.outputs): never write into a folder that holds an input, never overwrite
# a file the tool did not write (unless --force), report a bad notebook and go on.
import subprocess  # noqa: E402
import sys  # noqa: E402

from labkit import student  # noqa: E402

SOLVED = "answer = None\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"


def _write_nb(path, *sources):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path.read_bytes()


def _cli(cwd, *args):
    return subprocess.run([sys.executable, "-m", "labkit.student", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cli_refuses_to_write_into_the_folder_of_its_inputs(tmp_path):
    """Failure 1: --out notebooks rewrote the solution notebooks with their stripped copies."""
    first = _write_nb(tmp_path / "notebooks" / "01_a.ipynb", SOLVED)
    second = _write_nb(tmp_path / "notebooks" / "02_b.ipynb", SOLVED)
    run = _cli(tmp_path, "--out", "notebooks", "notebooks/01_a.ipynb", "notebooks/02_b.ipynb")
    assert run.returncode == 2
    assert "notebooks" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert (tmp_path / "notebooks" / "01_a.ipynb").read_bytes() == first
    assert (tmp_path / "notebooks" / "02_b.ipynb").read_bytes() == second
    assert _files(tmp_path / "notebooks") == ["01_a.ipynb", "02_b.ipynb"]


def test_cli_refuses_two_inputs_with_one_output_name_before_writing(tmp_path):
    """Failure 2: a/x.ipynb and b/x.ipynb - the second silently replaced the first."""
    _write_nb(tmp_path / "a" / "01_x.ipynb", SOLVED)
    _write_nb(tmp_path / "b" / "01_x.ipynb", "print('other')")
    out = tmp_path / "student"
    code = student.main([str(tmp_path / "a" / "01_x.ipynb"), str(tmp_path / "b" / "01_x.ipynb"),
                         "--out", str(out)])
    assert code == 2
    assert [p for p in _files(out) if p.endswith(".ipynb")] == []


def test_cli_never_overwrites_a_file_it_did_not_write_unless_forced(tmp_path, capsys):
    src = tmp_path / "notebooks" / "01_a.ipynb"
    _write_nb(src, SOLVED)
    out = tmp_path / "student"
    out.mkdir()
    mine = b"my own notes, not a tool's output\n"
    (out / "01_a.ipynb").write_bytes(mine)
    assert student.main(["--out", str(out), str(src)]) == 2
    assert (out / "01_a.ipynb").read_bytes() == mine
    assert "--force" in capsys.readouterr().err
    assert student.main(["--out", str(out), "--force", str(src)]) == 0
    written = nbformat.read(out / "01_a.ipynb", as_version=4)
    assert written.cells[0].source == "answer = None\n# YOUR CODE HERE"
    # its own output from an earlier run it may replace; once a person edits it, it may not
    assert student.main(["--out", str(out), str(src)]) == 0
    (out / "01_a.ipynb").write_text((out / "01_a.ipynb").read_text() + " ", encoding="utf-8")
    edited = (out / "01_a.ipynb").read_bytes()
    assert student.main(["--out", str(out), str(src)]) == 2
    assert (out / "01_a.ipynb").read_bytes() == edited


def test_cli_reports_unbalanced_markers_by_notebook_and_cell_and_goes_on(tmp_path, capsys):
    """Failure 4: an unbalanced BEGIN stopped the run after earlier notebooks, naming neither."""
    nbs = tmp_path / "notebooks"
    _write_nb(nbs / "01_a.ipynb", SOLVED)
    _write_nb(nbs / "02_bad.ipynb", "print(1)", "x = None\n### BEGIN SOLUTION\nx = 1")
    (nbs / "03_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    _write_nb(nbs / "04_d.ipynb", SOLVED)
    out = tmp_path / "student"
    code = student.main(["--out", str(out)] + [str(nbs / n) for n in
                                               ("01_a.ipynb", "02_bad.ipynb", "03_broken.ipynb", "04_d.ipynb")])
    err = capsys.readouterr().err
    assert code == 1
    bad_line = next(line for line in err.splitlines() if "02_bad.ipynb" in line)
    assert "cell 1" in bad_line and "BEGIN SOLUTION without" in bad_line and "line 2" in bad_line
    assert any("03_broken.ipynb" in line for line in err.splitlines())
    assert "Traceback" not in err
    assert [p for p in _files(out) if not p.startswith(".")] == ["01_a.ipynb", "04_d.ipynb"]
    assert [p for p in _files(out) if p.endswith(".tmp")] == []


def test_cli_leaves_no_partial_file_when_a_write_fails(tmp_path, monkeypatch, capsys):
    src = tmp_path / "notebooks" / "01_a.ipynb"
    _write_nb(src, SOLVED)
    out = tmp_path / "student"
    out.mkdir()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert student.main(["--out", str(out), str(src)]) == 1
    assert _files(out) == []
    assert "01_a.ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("call, error, name", [
    (lambda: strip_solution(b"### BEGIN SOLUTION"), TypeError, "source"),
    (lambda: has_solution(None), TypeError, "source"),
    (lambda: placeholders(3), TypeError, "student_source"),
    (lambda: student_notebook(["cell"]), TypeError, "nb"),
    (lambda: student_notebook({"metadata": {}}), ValueError, "nb"),
])
def test_api_validates_its_arguments(call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()


def test_student_notebook_names_the_cell_with_unbalanced_markers():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x"),
                                         nbformat.v4.new_code_cell("x = 1\n### END SOLUTION")])
    with pytest.raises(ValueError, match=r"cell 1\b.*line 2: ### END SOLUTION without ### BEGIN SOLUTION"):
        student_notebook(nb)
