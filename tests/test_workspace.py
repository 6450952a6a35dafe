"""The learner's workspace (make lab): copies made once, edits never lost, new versions beside.

Runs on copies of real solution notebooks in tmp_path; notebooks/ is only read.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from labkit import outputs, workspace
from labkit.student import REVEAL_TAG, has_solution, student_notebook

REPO = Path(__file__).resolve().parents[1]
LABS = ["01_neurons_forward_propagation.ipynb", "04_mnist.ipynb"]
DAY = datetime.date(2026, 12, 1)


@pytest.fixture
def labs(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in LABS:
        shutil.copyfile(REPO / "notebooks" / name, folder / name)
    return [folder / name for name in LABS]


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _nothing_lost(before: dict[str, str], after: dict[str, str], changed_by_tool=()):
    """Every file still there; each keeps its bytes unless the tool may update it (its own, unedited)."""
    assert set(before) <= set(after), f"deleted: {set(before) - set(after)}"
    for name, sha in before.items():
        if name not in changed_by_tool and name != outputs.MANIFEST:
            assert after[name] == sha, f"{name} was changed"


def _edit(path: Path, text: str) -> bytes:
    """What a learner does: write an answer into the first exercise cell and save."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "# YOUR CODE HERE" in c.source)
    cell.source = cell.source.replace("# YOUR CODE HERE", text)
    nbformat.write(nb, path)
    return path.read_bytes()


def _new_lab_version(path: Path, note: str) -> None:
    """What an author does: change the solution notebook (a new prose cell at the end)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(note))
    nbformat.write(nb, path)


def _what(results):
    return [r.what for r in results]


def test_first_run_writes_the_student_copies_with_reveal_blocks(tmp_path, labs):
    ws = tmp_path / "workspace"
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 0 and _what(results) == ["created", "created"]
    assert (ws / ".gitignore").read_text().splitlines()[-1] == "*", "the learner's work stays out of git"
    for src in labs:
        copy = ws / src.name
        expected = outputs.notebook_text(student_notebook(nbformat.read(src, as_version=4), reveal=True))
        assert copy.read_text(encoding="utf-8") == expected
        nb = nbformat.read(copy, as_version=4)
        nbformat.validate(nb)
        assert not any("### BEGIN SOLUTION" in c.source for c in nb.cells)
        solution = nbformat.read(src, as_version=4)
        n_exercises = sum(c.cell_type == "code" and has_solution(c.source) for c in solution.cells)
        reveals = [c for c in nb.cells if REVEAL_TAG in c.metadata.get("tags", [])]
        assert len(reveals) == n_exercises > 0
        assert all("<summary>Solution</summary>" in c.source for c in reveals)
    # run again: nothing to do, nothing rewritten
    before = _snapshot(ws)
    assert workspace.sync(ws, labs, today=DAY) == (0, [workspace.Result("current", src, ws / src.name)
                                                       for src in labs])
    assert _snapshot(ws) == before


def test_a_learners_edit_is_kept_and_a_newer_lab_arrives_beside_it(tmp_path, labs):
    ws = tmp_path / "workspace"
    workspace.sync(ws, labs, today=DAY)
    mine = _edit(ws / labs[0].name, "z = a @ W + b  # my answer")
    before = _snapshot(ws)

    # the lab is unchanged: the edited copy is kept, nothing new is written
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 0 and _what(results) == ["kept", "current"]
    assert (ws / labs[0].name).read_bytes() == mine
    assert _snapshot(ws) == before

    # a newer version of both labs: the unedited copy (04) is updated in place, the edited one (01)
    # is kept and the new version lands beside it, dated
    for src in labs:
        _new_lab_version(src, "A new closing note.")
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 0 and _what(results) == ["beside", "updated"]
    beside = ws / "01_neurons_forward_propagation.new-2026-12-01.ipynb"
    assert results[0].new == beside and results[0].copy == ws / labs[0].name
    assert (ws / labs[0].name).read_bytes() == mine
    assert nbformat.read(beside, as_version=4).cells[-1].source == "A new closing note."
    assert nbformat.read(ws / labs[1].name, as_version=4).cells[-1].source == "A new closing note."
    after = _snapshot(ws)
    _nothing_lost(before, after, changed_by_tool={labs[1].name})

    # again: that version was offered once already, so nothing more is written
    assert _what(workspace.sync(ws, labs, today=DAY)[1]) == ["kept", "current"]
    assert _snapshot(ws) == after

    # the learner starts on the new copy too; a third version the same day gets its own name
    mine_too = _edit(beside, "return g(z)  # second try")
    after = _snapshot(ws)
    for src in labs:
        _new_lab_version(src, "Another note.")
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 0 and _what(results) == ["beside", "updated"]
    assert results[0].new.name == "01_neurons_forward_propagation.new-2026-12-01-2.ipynb"
    assert (ws / labs[0].name).read_bytes() == mine and beside.read_bytes() == mine_too
    _nothing_lost(after, _snapshot(ws), changed_by_tool={labs[1].name})


def test_a_copy_the_learner_reverted_by_hand_counts_as_unedited(tmp_path, labs):
    ws = tmp_path / "workspace"
    workspace.sync(ws, labs, today=DAY)
    original = (ws / labs[0].name).read_bytes()
    _edit(ws / labs[0].name, "pass")
    (ws / labs[0].name).write_bytes(original)
    _new_lab_version(labs[0], "Changed.")
    assert _what(workspace.sync(ws, labs, today=DAY)[1])[0] == "updated"
    assert sorted(p.name for p in ws.glob("*.ipynb")) == sorted(LABS)


def test_a_copy_that_does_not_parse_is_reported_and_left_alone(tmp_path, labs, capsys):
    ws = tmp_path / "workspace"
    workspace.sync(ws, labs, today=DAY)
    broken = ws / labs[1].name
    broken.write_text('{"cells": [ {"cell_type": "code", "source": "my answer', encoding="utf-8")
    damaged = broken.read_bytes()
    before = _snapshot(ws)
    code, results = workspace.sync(ws, labs, today=DAY)
    err = capsys.readouterr().err
    assert code == 1 and _what(results) == ["current", "kept"] and results[1].problem
    line = next(line for line in err.splitlines() if str(broken) in line)
    assert "not a valid notebook" in line and "Traceback" not in err
    assert broken.read_bytes() == damaged and _snapshot(ws) == before

    # a newer version still arrives, beside the broken copy, which stays as it is
    _new_lab_version(labs[1], "New.")
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 1 and results[1].what == "beside"
    assert broken.read_bytes() == damaged
    assert nbformat.read(results[1].new, as_version=4).cells[-1].source == "New."
    assert str(results[1].new) in capsys.readouterr().err

    # and a folder where the copy should be is not touched either
    shutil.rmtree(ws)
    ws.mkdir()
    (ws / labs[0].name).mkdir()
    code, results = workspace.sync(ws, labs, today=DAY)
    assert code == 1 and results[0].what == "beside" and (ws / labs[0].name).is_dir()


def test_the_command_line_refuses_the_notebooks_folder_and_a_foreign_manifest(tmp_path, labs):
    before = _snapshot(labs[0].parent)
    run = subprocess.run([sys.executable, "-m", "labkit.workspace", "sync", "--out", str(labs[0].parent),
                          *map(str, labs)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "holds the input" in run.stderr and "Traceback" not in run.stderr
    assert _snapshot(labs[0].parent) == before
    ws = tmp_path / "workspace"
    ws.mkdir()
    (ws / outputs.MANIFEST).write_text("my notes\n")
    assert workspace.main(["sync", "--out", str(ws), *map(str, labs)]) == 2
    assert sorted(p.name for p in ws.iterdir()) == [outputs.MANIFEST]


def test_the_command_line_reports_each_copy_and_a_bad_solution_notebook(tmp_path, labs, capsys):
    bad = labs[0].parent / "02_bad.ipynb"
    bad.write_text("{", encoding="utf-8")
    ws = tmp_path / "workspace"
    assert workspace.main(["sync", "--out", str(ws), str(labs[0]), str(bad), str(labs[1])]) == 1
    out, err = capsys.readouterr()
    assert f"{ws / labs[0].name}: new copy" in out and f"{ws / labs[1].name}: new copy" in out
    assert "02_bad.ipynb" in err and not (ws / "02_bad.ipynb").exists()
    _edit(ws / labs[0].name, "pass")
    _new_lab_version(labs[0], "x")
    assert workspace.main(["sync", "--out", str(ws), *map(str, labs)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"01_neurons_forward_propagation\.new-\d{4}-\d\d-\d\d\.ipynb: a newer version", out)
    assert workspace.main(["sync", "--no-reveal", "--out", str(tmp_path / "plain"), str(labs[1])]) == 0
    nb = nbformat.read(tmp_path / "plain" / labs[1].name, as_version=4)
    assert not any(REVEAL_TAG in c.metadata.get("tags", []) for c in nb.cells)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recipe(target: str, cwd: Path, *args: str) -> list[str]:
    """The shell commands `make TARGET` would run (make -n), continuation lines joined."""
    run = subprocess.run(["make", "-n", "-f", str(REPO / "Makefile"), target, *args], cwd=cwd,
                         capture_output=True, text=True, timeout=60, check=True)
    return run.stdout.replace("\\\n", " ").splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_serves_the_copies_and_the_solutions_from_one_jupyterlab(tmp_path, labs):
    """Run `make lab`'s own commands (not its set-up) in a tmp tree shaped like the repository."""
    root = tmp_path
    for name in (".venv", "pyproject.toml", "requirements.lock"):
        (root / name).symlink_to(REPO / name)
    lines = _recipe("lab", root)
    sync = next(line for line in lines if "labkit.workspace sync" in line)
    lab = next(line for line in lines if "jupyter lab" in line)
    assert "--ServerApp.ip=127.0.0.1" in lab
    assert subprocess.run(sync, shell=True, cwd=root, timeout=120).returncode == 0
    assert sorted(p.name for p in (root / "workspace").glob("*.ipynb")) == sorted(LABS)
    port, token = _free_port(), "t" + os.urandom(8).hex()
    server = subprocess.Popen(f"{lab} --no-browser --ServerApp.port={port} --ServerApp.port_retries=0 "
                              f"--IdentityProvider.token={token}", shell=True, cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={token}", timeout=10) as r:
                return r.read().decode()

        for _ in range(120):
            try:
                page = get("/lab")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        assert re.search(r'"preferredPath":\s*"/?workspace"', page), "JupyterLab opens in the workspace"

        def names(folder):
            return sorted(c["name"] for c in json.loads(get(f"/api/contents/{folder}"))["content"])

        assert set(LABS) <= set(names("workspace"))
        assert names("notebooks") == sorted(LABS), "the solutions are reachable from the same JupyterLab"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            get("/formgrader")  # nbgrader's formgrader belongs in a course folder, not the learner's lab
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_course_folder_gets_the_source_with_nbgrader_metadata_and_keeps_an_instructors_edits(tmp_path, labs,
                                                                                             capsys):
    from labkit import nbtools

    course = tmp_path / "course"
    assert workspace.main(["course", "--course", str(course), str(labs[1])]) == 0
    source = course / "source" / "04_mnist" / "04_mnist.ipynb"
    nb = nbformat.read(source, as_version=4)
    derived = nbtools.nbgrader_metadata(nb)
    assert derived and all(c.metadata.get("nbgrader") == derived.get(i) for i, c in enumerate(nb.cells))
    config = (course / "nbgrader_config.py").read_text()
    assert "load_subconfig(" in config and (course / ".gitignore").read_text().splitlines()[-1] == "*"
    # the instructor adds settings to the course config and edits the source: neither is overwritten
    (course / "nbgrader_config.py").write_text(config + "c.CourseDirectory.course_id = 'mine'\n")
    edited = source.read_text().replace('"points": 1', '"points": 2', 1)
    source.write_text(edited)
    assert workspace.main(["course", "--course", str(course), str(labs[1])]) == 2
    assert "--force" in capsys.readouterr().err
    assert source.read_text() == edited and "mine" in (course / "nbgrader_config.py").read_text()
    assert workspace.main(["course", "--course", str(course), "--force", str(labs[1])]) == 0
    assert source.read_text() != edited and "mine" in (course / "nbgrader_config.py").read_text()
    # never into the folder of its input
    assert workspace.main(["course", "--course", str(labs[1].parent), str(labs[1])]) == 2
