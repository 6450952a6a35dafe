"""nbtools on the command line: conversions never overwrite, clean/check go past a bad notebook."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from labkit import nbtools


def _write_nb(path, *sources, outputs=False):
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    if outputs:
        for c in cells:
            c.outputs = [nbformat.v4.new_output("stream", text="noise\n")]
            c.execution_count = 7
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path.read_bytes()


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_to_percent_refuses_an_existing_file_unless_forced(tmp_path):
    """Failure 5: to-percent NB existing.py overwrote the file."""
    nb = tmp_path / "01_a.ipynb"
    _write_nb(nb, "print('from the notebook')")
    py = tmp_path / "draft.py"
    py.write_text("# my unsaved draft\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "labkit.nbtools", "to-percent", str(nb), str(py)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "draft.py" in run.stderr and "--force" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert py.read_text(encoding="utf-8") == "# my unsaved draft\n"
    assert _files(tmp_path) == ["01_a.ipynb", "draft.py"]
    assert nbtools.main(["to-percent", str(nb), str(py), "--force"]) == 0
    assert py.read_text(encoding="utf-8") == "# %%\nprint('from the notebook')\n"


def test_from_percent_refuses_an_existing_notebook_unless_forced_and_then_keeps_ids(tmp_path):
    src = tmp_path / "draft.py"
    src.write_text("# %%\nprint(1)\n", encoding="utf-8")
    dest = tmp_path / "01_a.ipynb"
    assert nbtools.main(["from-percent", str(src), str(dest)]) == 0
    before = dest.read_bytes()
    ids = [c.id for c in nbformat.read(dest, as_version=4).cells]
    src.write_text("# %%\nprint(2)\n", encoding="utf-8")
    assert nbtools.main(["from-percent", str(src), str(dest)]) == 2
    assert dest.read_bytes() == before
    assert nbtools.main(["from-percent", str(src), str(dest), "--force"]) == 0
    nb = nbformat.read(dest, as_version=4)
    assert [c.source for c in nb.cells] == ["print(2)"] and [c.id for c in nb.cells] == ids


def test_percent_round_trip_keeps_sources_types_tags_and_ids(tmp_path):
    import jupytext

    cells = [nbformat.v4.new_markdown_cell("# Lab\n\nWhy *this* matters."),
             nbformat.v4.new_code_cell("%matplotlib inline\nx = 1\n\n\ny = 2", metadata={"tags": ["setup"]}),
             nbformat.v4.new_code_cell("### BEGIN SOLUTION\nz = 3\n### END SOLUTION"),
             nbformat.v4.new_code_cell("checks.mnist.shapes(z)", metadata={"tags": ["points:2"]})]
    src = tmp_path / "01_a.ipynb"
    nbformat.write(nbtools.clean(nbformat.v4.new_notebook(cells=cells), "01_a"), src)
    py = tmp_path / "01_a.py"
    nbtools.to_percent(src, py)
    text = py.read_text(encoding="utf-8")
    assert text.startswith("# %% [markdown]\n# # Lab\n#\n# Why *this* matters.") and "nbgrader" not in text
    assert '# %% tags=["points:2"]' in text
    assert jupytext.reads(text, fmt="py:percent").cells[1].source == cells[1].source  # jupytext is the reader
    out = tmp_path / "copy.ipynb"
    out.write_bytes(src.read_bytes())
    nbtools.from_percent(py, out)  # regenerated over the notebook: its ids are kept
    a, b = nbformat.read(src, as_version=4), nbformat.read(out, as_version=4)
    assert [(c.cell_type, c.source, c.id, c.metadata) for c in a.cells] == \
        [(c.cell_type, c.source, c.id, c.metadata) for c in b.cells]
    assert b.cells[3].metadata["nbgrader"]["points"] == 2  # derived again by clean


def test_from_percent_gives_a_new_notebook_ids_derived_from_its_content(tmp_path):
    src = tmp_path / "draft.py"
    src.write_text("# %%\nprint(1)\n\n# %% [markdown]\n# text\n", encoding="utf-8")
    first, second = tmp_path / "01_a.ipynb", tmp_path / "other" / "01_a.ipynb"
    second.parent.mkdir()
    nbtools.from_percent(src, first)
    nbtools.from_percent(src, second)
    assert first.read_bytes() == second.read_bytes()
    assert nbtools.main(["check", str(first)]) == 0


def test_a_conversion_never_writes_over_its_source_even_forced(tmp_path, capsys):
    nb = tmp_path / "01_a.ipynb"
    before = _write_nb(nb, "print(1)")
    assert nbtools.main(["to-percent", str(nb), str(nb), "--force"]) == 2
    assert nb.read_bytes() == before
    assert "01_a.ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["clean", "check"])
def test_clean_and_check_report_a_bad_notebook_and_go_on(tmp_path, capsys, command):
    """Failure 4: a notebook with invalid JSON stopped `nbtools clean` halfway."""
    first, last = tmp_path / "01_a.ipynb", tmp_path / "03_c.ipynb"
    dirty = _write_nb(first, "print(1)", outputs=True)
    _write_nb(last, "print(3)", outputs=True)
    bad = tmp_path / "02_bad.ipynb"
    bad.write_text('{"cells": [', encoding="utf-8")
    assert nbtools.main([command, str(first), str(bad), str(last)]) == 1
    out, err = capsys.readouterr()
    assert "02_bad.ipynb" in err and "Traceback" not in err
    assert bad.read_text(encoding="utf-8") == '{"cells": ['
    if command == "clean":
        for path in (first, last):
            assert nbformat.read(path, as_version=4).cells[0].outputs == []
    else:
        assert first.read_bytes() == dirty
        assert "not clean: " + str(last) in out
    assert _files(tmp_path) == ["01_a.ipynb", "02_bad.ipynb", "03_c.ipynb"]


def test_clean_leaves_a_clean_notebook_byte_for_byte(tmp_path):
    path = tmp_path / "01_a.ipynb"
    _write_nb(path, "print(1)", outputs=True)
    assert nbtools.main(["clean", str(path)]) == 0
    once = path.read_bytes()
    assert nbtools.main(["check", str(path)]) == 0
    assert nbtools.main(["clean", str(path)]) == 0
    assert path.read_bytes() == once


@pytest.mark.parametrize("call, error, name", [
    (lambda p: nbtools.clean(["cells"], "t"), TypeError, "nb"),
    (lambda p: nbtools.clean(nbformat.v4.new_notebook(), 3), TypeError, "stem"),
    (lambda p: nbtools.to_percent(3, p / "x.py"), TypeError, "ipynb_path"),
    (lambda p: nbtools.from_percent(p / "x.py", None), TypeError, "ipynb_path"),
    (lambda p: nbtools.refresh(p / "x.ipynb", profile="fast"), ValueError, "profile"),
    (lambda p: nbtools.refresh(p / "x.ipynb", timeout=0), ValueError, "timeout"),
])
def test_api_validates_its_arguments(tmp_path, call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call(tmp_path)


def test_clean_derives_the_nbgrader_metadata_and_check_asks_for_it(tmp_path, capsys):
    path = tmp_path / "01_a.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("checks.demo.x_value(x)"),
    ])
    nb.cells[0].id, nb.cells[1].id = "ex1", "chk1"
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "points": 50, "grade_id": "mine"}  # by hand: replaced
    nbformat.write(nb, path)
    assert nbtools.main(["check", str(path)]) == 1
    assert "not clean: " + str(path) in capsys.readouterr().out
    assert nbtools.main(["clean", str(path)]) == 0 and nbtools.main(["check", str(path)]) == 0
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata["nbgrader"]["grade_id"] == "ex-ex1" and cells[0].metadata["nbgrader"]["solution"]
    assert cells[1].metadata["nbgrader"] == {"grade": True, "grade_id": "check-chk1", "locked": True,
                                             "points": 1, "schema_version": 3, "solution": False, "task": False}
    # the solution region removed: the metadata goes with it
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "x = 1"
    nbformat.write(nb, path)
    assert nbtools.main(["clean", str(path)]) == 0
    assert all("nbgrader" not in c.metadata for c in nbformat.read(path, as_version=4).cells)


def test_is_check_cell_wants_a_check_call_on_a_line_of_its_own():
    assert nbtools.is_check_cell(nbformat.v4.new_code_cell("checks.mnist.dense_param_count(n_params)"))
    assert nbtools.is_check_cell(nbformat.v4.new_code_cell("x = 1\nchecks.a.b(x, y=2)"))
    assert not nbtools.is_check_cell(nbformat.v4.new_code_cell("# checks.a.b(x)\nprint(x)"))
    assert not nbtools.is_check_cell(nbformat.v4.new_markdown_cell("checks.a.b(x)"))
    with pytest.raises(TypeError, match=r"\bnb\b"):
        nbtools.nbgrader_metadata(["cells"])
