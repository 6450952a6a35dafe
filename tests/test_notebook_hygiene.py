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
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, "notebooks", "*.ipynb")))


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
    for c in nb.cells:
        assert set(c.metadata) <= {"tags"}, f"stray cell metadata {dict(c.metadata)}"
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
