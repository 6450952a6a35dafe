"""Notebook files are source: valid, clean, consistently structured."""
from __future__ import annotations

import ast
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


# ------------------------------------------------------------------ "never branch on the profile"
_BRANCH_TESTS = (ast.If, ast.While, ast.IfExp, ast.Assert)


def _is_profile_value(node, names: set[str], functions: set[str]) -> bool:
    """``cfg.profile``, ``active_profile()``, ``os.environ[...LABKIT_PROFILE...]``, ``getenv("LABKIT_PROFILE")``,
    a name bound to one of these, or a method call on one (``cfg.profile.lower()``)."""
    if isinstance(node, ast.Attribute) and node.attr == "profile":
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Call):
        func = node.func
        if (getattr(func, "attr", None) or getattr(func, "id", None)) in functions:
            return True
        if any(isinstance(a, ast.Constant) and a.value == "LABKIT_PROFILE" for a in node.args):
            return True   # os.getenv / os.environ.get / os.environ.setdefault ...
        return isinstance(func, ast.Attribute) and _is_profile_value(func.value, names, functions)
    if isinstance(node, ast.Subscript):
        sl = node.slice
        return isinstance(sl, ast.Constant) and sl.value == "LABKIT_PROFILE"
    return False


def _reads_profile(node, names: set[str], functions: set[str]) -> bool:
    return any(_is_profile_value(n, names, functions) for n in ast.walk(node))


def profile_branches(cells) -> list[str]:
    """``"<cell id>:<line>: <code>"`` for every place where code cells branch on the profile:
    an if/while/ternary/assert/match/comprehension condition, a comparison, a boolean operator,
    or a table lookup (``x[profile]``, ``.get(profile)``) that reads it (names bound to it count)."""
    names: set[str] = set()
    functions = {"active_profile"}
    found = []
    for cell in cells:
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        lines = source.splitlines()
        # IPython magics and shell lines are not Python: blank them, keeping the line numbers
        tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines))
        for node in ast.walk(tree):   # bindings first: `p = cfg.profile`, `from labkit import active_profile as ap`
            if isinstance(node, ast.ImportFrom):
                functions |= {a.asname or a.name for a in node.names if a.name == "active_profile"}
        for node in ast.walk(tree):
            value = getattr(node, "value", None)
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and value is not None and \
                    (_is_profile_value(value, names, functions) or
                     (isinstance(value, (ast.Compare, ast.BoolOp)) and _reads_profile(value, names, functions))):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
        hits = []
        for node in ast.walk(tree):
            if isinstance(node, _BRANCH_TESTS) and _reads_profile(node.test, names, functions):
                hits.append(node)
            elif isinstance(node, ast.Match) and _reads_profile(node.subject, names, functions):
                hits.append(node)
            elif isinstance(node, ast.comprehension) and any(_reads_profile(c, names, functions) for c in node.ifs):
                hits.append(node.ifs[0])
            elif isinstance(node, (ast.Compare, ast.BoolOp)) and _reads_profile(node, names, functions):
                hits.append(node)
            elif isinstance(node, ast.Subscript) and not _is_profile_value(node, names, functions) and \
                    _reads_profile(node.slice, names, functions):
                hits.append(node)
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("get", "pop") and \
                    any(_reads_profile(a, names, functions) for a in node.args) and \
                    not _is_profile_value(node, names, functions):
                hits.append(node)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr") and \
                    len(node.args) > 1 and _reads_profile(node.args[1], names, functions):
                hits.append(node)
        found += [f"{cell.get('id', '?')}:{node.lineno}: {lines[node.lineno - 1].strip()}" for node in hits]
    return sorted(set(found))


_BRANCHING = [
    'if cfg.profile == "quick":\n    n = 10',
    'n = 10 if labkit.active_profile() == "quick" else 100',
    'import os\nif os.environ.get("LABKIT_PROFILE") == "full":\n    pass',
    'import os\nwhile os.environ["LABKIT_PROFILE"] != "full":\n    break',
    'p = cfg.profile\nif p == "quick":\n    pass',
    'p = cfg.profile.lower()\nn = 3 if p.startswith("q") else 9',
    'quick = cfg.profile == "quick"',
    'epochs = {"quick": 1, "standard": 3}[cfg.profile]',
    'epochs = {"quick": 1}.get(cfg.profile, 3)',
    'match cfg.profile:\n    case "quick":\n        pass',
    'assert labkit.settings("mnist").profile != "quick" or acc > 0.9',
    'from labkit import active_profile as ap\nif ap() == "quick":\n    pass',
    'xs = [n for n in sizes if cfg.profile != "quick"]',
    'n = getattr(cfg, "epochs_" + cfg.profile)',
]
_NOT_BRANCHING = [
    'print(cfg.profile, "profile")',
    'cfg = labkit.settings("mnist")   # this lab\'s sizes, epochs and bars for LABKIT_PROFILE',
    'work = Path("_work/tuning") / cfg.profile\nif work.exists():\n    pass',
    'if cfg.epochs > 3:\n    pass',
    'print(f"running the {labkit.active_profile()} profile")',
    'labkit.record("mnist.profile", cfg.profile)',
]


@pytest.mark.parametrize("source", _BRANCHING)
def test_the_profile_branch_finder_finds_branches(source):
    assert profile_branches([nbformat.v4.new_code_cell(source)]), source


@pytest.mark.parametrize("source", _NOT_BRANCHING)
def test_the_profile_branch_finder_lets_reading_and_printing_the_profile_pass(source):
    assert profile_branches([nbformat.v4.new_code_cell(source)]) == [], source


def test_a_profile_read_in_one_cell_and_tested_in_the_next_is_a_branch():
    cells = [nbformat.v4.new_code_cell("p = labkit.active_profile()"), nbformat.v4.new_code_cell("if p:\n    pass")]
    assert len(profile_branches(cells)) == 1


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
    # what `nbtools clean` would write is exactly what is stored (`nbtools check` exits 0)
    assert nbtools.main(["check", path]) == 0, f"run: python -m labkit.nbtools clean notebooks/{name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_follows_the_lab_pattern(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "start with a # title"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].lstrip().startswith("import labkit"), "first code cell starts with `import labkit`"
    assert any("labkit.seed_everything(" in s for s in code[:2]), "seed in the first code cells"
    joined = "\n".join(code)
    assert "assert " in joined, "a lab asserts its lessons"
    branches = profile_branches(c for c in nb.cells if c.cell_type == "code")
    assert branches == [], ("notebooks read sizes and bars through labkit.settings(...), never branch on the "
                            f"profile; move the difference into labkit/profiles.py: {branches}")
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
    assert nbtools.clean(out, "t") == out, "clean is idempotent"
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(out)
