"""Student versions: markers, placeholders, and every check rejecting the placeholder."""
from __future__ import annotations

import glob
import os
import re

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


def test_placeholders_of_a_function_a_class_and_a_name():
    src = strip_solution("answer = None\n"
                         "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
                         "class Layer:\n    def __init__(self, lam):\n        ### BEGIN SOLUTION\n"
                         "        self.lam = lam\n        ### END SOLUTION\n"
                         "class Given:\n    pass\n")
    found = placeholders(src)
    assert sorted(found) == ["Layer", "answer", "f"] and found["answer"] is None
    for stub, args in ((found["f"], (1,)), (found["Layer"], (0.1,))):
        with pytest.raises(NotImplementedError):
            stub(*args)


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


# --------------------------------------------------------------------------- hints and reveal blocks
from labkit.student import REVEAL_TAG, hints, reveal_markdown, solved_source  # noqa: E402

HINTED = ("def f(x):\n    \"\"\"Double x.\"\"\"\n    ### BEGIN SOLUTION\n    # HINT: add `x` to itself.\n"
          "    # HINT: or multiply by 2.\n    return x + x\n    ### END SOLUTION")


def test_hint_lines_are_part_of_the_solution_region():
    assert hints(HINTED) == ["add `x` to itself.", "or multiply by 2."]
    assert "HINT" not in strip_solution(HINTED)
    assert solved_source(HINTED) == "def f(x):\n    \"\"\"Double x.\"\"\"\n    return x + x"
    assert hints("# HINT: outside a region is a plain comment\nx = None\n### BEGIN SOLUTION\nx = 1\n"
                 "### END SOLUTION") == []


def test_reveal_block_renders_as_collapsed_hint_then_solution():
    """Rendered by a CommonMark parser (JupyterLab's marked follows the same block rules)."""
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt("commonmark").render(reveal_markdown(HINTED))
    assert html.index("<summary>Hint</summary>") < html.index("<summary>Solution</summary>")
    assert "<p>add <code>x</code> to itself.</p>" in html
    code = re.search(r'<pre><code class="language-python">(.*?)</code></pre>', html, re.S).group(1)
    assert code == "def f(x):\n    &quot;&quot;&quot;Double x.&quot;&quot;&quot;\n    return x + x\n"
    assert html.count("<details>") == html.count("</details>") == 2
    # no hint: only the solution block; a solution holding ``` gets a longer fence
    plain = reveal_markdown("s = None\n### BEGIN SOLUTION\ns = '```'\n### END SOLUTION")
    assert "<summary>Hint</summary>" not in plain and "````python\ns = None\ns = '```'\n````" in plain
    with pytest.raises(ValueError, match="not an exercise cell"):
        reveal_markdown("print(1)")


def test_reveal_cells_follow_each_exercise_and_the_check_is_still_the_next_code_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("**Exercise.**"), nbformat.v4.new_code_cell(HINTED),
        nbformat.v4.new_code_cell("checks.demo.f(f)"), nbformat.v4.new_code_cell(SOLVED)])
    nb.cells[1].metadata["nbgrader"] = {"solution": True}
    out = student_notebook(nb, reveal=True)
    nbformat.validate(out)
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "markdown", "code", "code", "markdown"]
    assert out.cells[2].metadata["tags"] == [REVEAL_TAG] and out.cells[2].id == f"{nb.cells[1].id}-reveal"
    assert "return x + x" in out.cells[2].source and "### BEGIN SOLUTION" not in out.cells[2].source
    assert all("nbgrader" not in c.metadata for c in out.cells), "a learner's copy is no nbgrader release"
    assert [c.cell_type for c in student_notebook(nb).cells] == ["markdown", "code", "code", "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_every_revealed_solution_is_the_code_the_solution_notebook_runs(path):
    """nbval runs the solution notebooks; the reveal must give exactly that code back."""
    nb = nbformat.read(path, as_version=4)
    out = student_notebook(nb, reveal=True)
    nbformat.validate(out)
    exercises = [c for c in nb.cells if c.cell_type == "code" and has_solution(c.source)]
    reveals = [c for c in out.cells if REVEAL_TAG in c.metadata.get("tags", [])]
    assert len(reveals) == len(exercises)
    for cell, reveal in zip(exercises, reveals):
        ran = "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line
                        and not line.strip().startswith("# HINT:"))
        assert f"python\n{ran.strip(chr(10))}\n```" in reveal.source, f"cell {cell.id}"


def test_cli_reveal_flag(tmp_path):
    src = tmp_path / "notebooks" / "01_a.ipynb"
    _write_nb(src, SOLVED, "checks.demo.answer(answer)")
    assert student.main(["--out", str(tmp_path / "s"), "--reveal", str(src)]) == 0
    nb = nbformat.read(tmp_path / "s" / "01_a.ipynb", as_version=4)
    assert [c.cell_type for c in nb.cells] == ["code", "markdown", "code"] and "answer = 42" in nb.cells[1].source
