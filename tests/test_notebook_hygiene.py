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


def _without_magics(source: str) -> str:
    """``source`` with IPython magics and shell lines (not Python) made ``pass``, keeping indents and
    line numbers (the Colab setup cell's ``%pip`` is the body of an ``if``)."""
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.splitlines())


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
        tree = ast.parse(_without_magics(source))
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


def _is_colab_cell(cell) -> bool:
    return bool({nbtools.COLAB_BADGE_TAG, nbtools.COLAB_SETUP_TAG} & set(cell.metadata.get("tags") or []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_follows_the_lab_pattern(path):
    nb = nbformat.read(path, as_version=4)
    lesson = [c for c in nb.cells if not _is_colab_cell(c)]   # the Colab cells: test_notebook_opens_in_colab
    assert lesson[0].cell_type == "markdown" and lesson[0].source.startswith("# "), "start with a # title"
    code = [c.source for c in lesson if c.cell_type == "code"]
    assert code and code[0].lstrip().startswith("import labkit"), "first code cell starts with `import labkit`"
    assert any("labkit.seed_everything(" in s for s in code[:2]), "seed in the first code cells"
    joined = "\n".join(code)
    assert "assert " in joined, "a lab asserts its lessons"
    branches = profile_branches(c for c in nb.cells if c.cell_type == "code")
    assert branches == [], ("notebooks read sizes and bars through labkit.settings(...), never branch on the "
                            f"profile; move the difference into labkit/profiles.py: {branches}")
    assert "plt.show()" in joined or "matplotlib" not in joined


# ------------------------------------------------------------------ Colab: the badge and the setup cell
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_opens_in_colab(path):
    """The first cell is the Colab badge for this very notebook; the only cell before the
    `import labkit` cell is the Colab setup cell, exactly as `nbtools colab` writes them both."""
    name = os.path.basename(path)
    nb = nbformat.read(path, as_version=4)
    fix = f"run: python -m labkit.nbtools colab notebooks/{name}"
    badge = nb.cells[0]
    assert badge.cell_type == "markdown" and badge.metadata.get("tags") == [nbtools.COLAB_BADGE_TAG], \
        f"the first cell is the Colab badge cell; {fix}"
    assert badge.source == nbtools.colab_badge(name), f"the badge must open notebooks/{name}; {fix}"
    assert f"/blob/{nbtools.GITHUB_BRANCH}/notebooks/{name})" in badge.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = [c for c in nb.cells if nbtools.COLAB_SETUP_TAG in (c.metadata.get("tags") or [])]
    assert len(setup) == 1 and setup[0] is code[0], f"exactly one Colab setup cell, the first code cell; {fix}"
    assert setup[0].metadata.get("tags") == [nbtools.COLAB_SETUP_TAG]
    assert setup[0].source == nbtools.colab_setup_source(), f"the setup cell is generated, never edited; {fix}"
    assert code[1].source.lstrip().startswith("import labkit"), "the setup cell comes right before `import labkit`"
    assert [c for c in nb.cells if _is_colab_cell(c)] == [badge, setup[0]], "one badge cell, one setup cell"
    for c in code[1:]:
        assert "google.colab" not in c.source and not re.search(r"^\s*[%!]\s*pip\b", c.source, re.M), \
            f"cell {c.id}: installing belongs in the Colab setup cell only"
    # what `nbtools colab` would write is exactly what is stored
    assert nbtools.clean(nbtools.add_colab_cells(nb, name), os.path.splitext(name)[0]) == nbtools.clean(
        nb, os.path.splitext(name)[0]), fix


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(_without_magics(source))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def _run_setup_cell(monkeypatch, *, on_colab: bool) -> list[tuple[str, str]]:
    """Run the setup cell as IPython would (magics turned into calls); returns the magics it called."""
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    calls = []

    class Shell:
        def run_line_magic(self, name, line):
            calls.append((name, line))

    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(nbtools.colab_setup_source())
    exec(compile(code, "colab-setup", "exec"), {"get_ipython": Shell})
    return calls


def test_the_setup_cell_does_nothing_and_prints_nothing_off_colab(monkeypatch, capsys):
    assert _run_setup_cell(monkeypatch, on_colab=False) == []
    assert capsys.readouterr() == ("", "")


def test_the_setup_cell_installs_the_package_and_only_what_colab_lacks_without_dependencies(monkeypatch):
    url = f"git+https://github.com/{nbtools.GITHUB_REPO}@{nbtools.GITHUB_BRANCH}"
    assert _run_setup_cell(monkeypatch, on_colab=True) == [
        ("pip", f'install -q --no-deps "{url}"'),
        ("pip", "install -q --no-deps " + " ".join(nbtools.COLAB_EXTRAS))]
    # labkit configures TensorFlow before TensorFlow is imported: the setup cell must not import it
    assert _imports(nbtools.colab_setup_source()) == {"sys"}


def test_the_colab_extras_are_pinned_as_the_lock_pins_them():
    lock = os.path.join(REPO, "requirements.lock")
    if not os.path.isfile(lock):
        pytest.skip("no requirements.lock")
    pins = {}
    for line in open(lock, encoding="utf-8").read().lower().splitlines():
        m = re.match(r"^([a-z0-9][a-z0-9._-]*)\s*==\s*([^\s;\\]+)", line)
        if m:
            pins[re.sub(r"[._-]+", "-", m.group(1))] = m.group(2)
    for req in nbtools.COLAB_EXTRAS:
        name, version = req.lower().split("==")
        assert pins.get(name) == version, f"{req}: requirements.lock pins {name} {pins.get(name)!r}"


def test_colab_command_writes_both_cells_once_and_replaces_old_ones(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("import labkit"),
        nbformat.v4.new_code_cell("print(1)"),
    ])
    path = tmp_path / "03_demo.ipynb"
    nbformat.write(nbtools.add_colab_cells(nb, path.name, repo="someone/old-fork", branch="dev"), path)
    assert nbtools.main(["colab", str(path)]) == 0
    out = nbformat.read(path, as_version=4)
    assert [c.source for c in out.cells] == [nbtools.colab_badge(path.name), "# Title",
                                             nbtools.colab_setup_source(), "import labkit", "print(1)"]
    assert [c.id for c in out.cells[::2]] == ["colab-badge", "colab-setup", out.cells[4].id]
    before = path.read_bytes()
    assert nbtools.main(["colab", str(path)]) == 0 and path.read_bytes() == before, "idempotent"
    assert nbtools.main(["check", str(path)]) == 0, "what colab writes is clean"
    # an old setup cell anywhere is moved back before the first code cell; other cells are untouched
    moved = nbformat.read(path, as_version=4)
    moved.cells.append(moved.cells.pop(2))
    assert [c.source for c in nbtools.add_colab_cells(moved, path.name).cells] == [c.source for c in out.cells]


@pytest.mark.parametrize("bad", [dict(repo="no-slash"), dict(repo="a/b c"), dict(branch="")])
def test_colab_cells_refuse_a_repository_that_is_no_github_slug(bad):
    with pytest.raises(ValueError):
        nbtools.colab_setup_source(**bad)


@pytest.mark.parametrize("doc", ["README.md", "docs/colab-binder.md"])
def test_colab_and_binder_links_in_the_docs_use_the_one_repository_setting(doc):
    """The slug lives in labkit.nbtools.GITHUB_REPO; a hand-written Colab or Binder link must agree."""
    path = os.path.join(REPO, doc)
    if not os.path.isfile(path):
        pytest.skip(f"no {doc}")
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"(colab\.research\.google\.com/github|mybinder\.org/v2/gh)/([\w.-]+/[\w.-]+)", text):
        assert m.group(2) == nbtools.GITHUB_REPO, f"{doc}: {m.group(0)} is not {nbtools.GITHUB_REPO}"


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
