"""Notebook files are source: valid, clean, consistently structured."""
from __future__ import annotations

import glob
import json
import os
import re

import nbformat
import pytest

from labkit import nbtools

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# LABKIT_HYGIENE_DIR checks another folder of notebooks, e.g. a copy after `nbtools clean`
NOTEBOOK_DIR = os.environ.get("LABKIT_HYGIENE_DIR") or os.path.join(REPO, "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_valid_and_clean(path):
    name = os.path.basename(path)
    assert re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", name), f"{name}: use NN_short_name.ipynb"
    text = open(path, encoding="utf-8").read()
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), "cell ids need nbformat 4.5"
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), "duplicate cell ids"
    assert all(nbtools.ID_RE.match(i) for i in ids)
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, f"stray notebook metadata {set(nb.metadata)}"
    graded = nbtools.nbgrader_metadata(nb)
    for i, c in enumerate(nb.cells):
        assert set(c.metadata) <= {"tags", "nbgrader"}, f"stray cell metadata {dict(c.metadata)}"
        assert c.metadata.get("nbgrader") == graded.get(i), \
            f"cell {c.id}: nbgrader metadata is derived by `python -m labkit.nbtools clean notebooks/{name}`"
        if c.cell_type == "code":
            assert c.execution_count == (1 if c.outputs else None), "execution counts are stripped"
            if not nbtools.keeps_output(c):
                assert c.outputs == [], f"cell {c.id} stores outputs but is not a checked cell"
            for out in c.outputs:
                assert out.get("output_type") != "error"
                assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), \
                    f"cell {c.id} stores stderr"
    # what `nbtools clean` would write is exactly what is stored
    assert nbtools._dump(nbtools.clean(nb, os.path.splitext(name)[0])) == text, \
        f"run: python -m labkit.nbtools clean notebooks/{name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_follows_the_lab_pattern(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "start with a # title"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].lstrip().startswith("import labkit"), "first code cell starts with `import labkit`"
    assert any("labkit.seed_everything(" in s for s in code[:2]), "seed in the first code cells"
    joined = "\n".join(code)
    assert "assert " in joined, "a lab asserts its lessons"
    assert "LABKIT_PROFILE" not in joined and "active_profile" not in joined, \
        "notebooks read sizes through labkit.settings(...), never branch on the profile"
    assert "plt.show()" in joined or "matplotlib" not in joined


def test_from_percent_roundtrip_keeps_ids(tmp_path):
    src = tmp_path / "a.py"
    src.write_text("# %% [markdown]\n# # Title\n# text\n\n# %%\nimport labkit\n\n# %% tags=[\"x\"]\nprint(1)\n")
    dest = tmp_path / "01_a.ipynb"
    nbtools.from_percent(src, dest)
    nb1 = nbformat.read(dest, as_version=4)
    assert [c.cell_type for c in nb1.cells] == ["markdown", "code", "code"]
    assert nb1.cells[0].source == "# Title\ntext" and nb1.cells[2].metadata["tags"] == ["x"]
    src.write_text(src.read_text().replace("print(1)", "print(2)"))
    nbtools.from_percent(src, dest)
    nb2 = nbformat.read(dest, as_version=4)
    assert [c.id for c in nb1.cells] == [c.id for c in nb2.cells]
    back = tmp_path / "b.py"
    nbtools.to_percent(dest, back)
    nbtools.from_percent(back, tmp_path / "02_b.ipynb")
    nb3 = nbformat.read(tmp_path / "02_b.ipynb", as_version=4)
    assert [c.source for c in nb3.cells] == [c.source for c in nb2.cells]


def test_clean_strips_outputs_but_keeps_checked_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")],
                                  execution_count=3),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)",
                                  outputs=[nbformat.v4.new_output("stream", text="2\n")], execution_count=4),
    ])
    nb.metadata["widgets"] = {"x": 1}
    out = nbtools.clean(nb, "t")
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert out.cells[1].outputs[0]["text"] == "2\n" and out.cells[1].execution_count == 1
    assert "widgets" not in out.metadata
    json.dumps(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_every_exercise_is_an_nbgrader_solution_cell_followed_by_a_graded_check(path):
    """What `nbgrader generate_assignment` needs: solution regions only in solution cells,
    a points-carrying locked test cell per exercise, metadata nbgrader's own validator accepts."""
    from nbgrader.nbgraderformat import MetadataValidator

    from labkit.student import has_solution

    nb = nbformat.read(path, as_version=4)
    MetadataValidator().validate_nb(nb)
    cells = nb.cells
    for i, c in enumerate(cells):
        meta = c.metadata.get("nbgrader")
        if c.cell_type == "code" and has_solution(c.source):
            assert meta and meta["solution"] and not meta["grade"] and meta["grade_id"] == f"ex-{c.id}", \
                f"cell {c.id} has a solution region but is not an nbgrader solution cell"
            check = next(n for n in cells[i + 1:] if n.cell_type == "code")
            cmeta = check.metadata.get("nbgrader")
            assert cmeta and cmeta["grade"] and cmeta["locked"] and cmeta["points"] > 0, \
                f"cell {check.id} checks exercise {c.id} but is not a graded, locked nbgrader cell"
        elif meta:
            assert meta["grade"] and nbtools.is_check_cell(c), f"cell {c.id}: nbgrader metadata on a plain cell"
        assert "BEGIN SOLUTION" not in c.source or (meta and meta["solution"]), \
            f"cell {c.id}: nbgrader treats any 'BEGIN SOLUTION' text as a solution region"


def test_clean_derives_nbgrader_metadata_and_drops_hand_written_metadata():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("**Exercise.** Set x."),
        nbformat.v4.new_code_cell("x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("checks.demo.x_value(x)", metadata={"tags": ["points:3"]}),
        nbformat.v4.new_code_cell("print(x)", metadata={"nbgrader": {"grade": True, "points": 9}}),
        nbformat.v4.new_code_cell("y = None\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"),
        nbformat.v4.new_code_cell("print(y)  # not a check: the exercise gets no graded cell"),
    ])
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    out = nbtools.clean(nb, "t")
    assert out.cells[1].metadata["nbgrader"] == {"grade": False, "grade_id": "ex-c1", "locked": False,
                                                 "schema_version": 3, "solution": True, "task": False}
    assert out.cells[2].metadata["nbgrader"] == {"grade": True, "grade_id": "check-c2", "locked": True,
                                                 "points": 3, "schema_version": 3, "solution": False,
                                                 "task": False}
    assert out.cells[2].metadata["tags"] == ["points:3"]
    assert "nbgrader" not in out.cells[3].metadata and "nbgrader" not in out.cells[5].metadata
    assert out.cells[4].metadata["nbgrader"]["grade_id"] == "ex-c4"
    assert nbtools._dump(nbtools.clean(out, "t")) == nbtools._dump(out), "clean is idempotent"
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(out)
