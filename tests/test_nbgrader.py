"""The instructor path with the real nbgrader: generate, release, fetch, submit, collect, autograde, feedback.

One lab that runs in seconds (01, in the quick profile) goes through the pipeline of
docs/instructors.md in a tmp course folder with a tmp exchange: the solution notebook
(handed in as a submission) gets full points, the release handed back untouched gets
zero, and the feedback shows each failing check's hint. notebooks/ is only read.
"""
from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from labkit.student import has_solution, placeholders, strip_solution

REPO = Path(__file__).resolve().parents[1]
LAB = "01_neurons_forward_propagation"
SOURCE = REPO / "notebooks" / f"{LAB}.ipynb"
SHARED = Path(os.environ.get("LABKIT_DATA_DIR", REPO.parent / "shared" / "datasets"))
COURSE_ID = "nn-in-practice"

pytestmark = pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="offline data folder not present")


def _nbgrader(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Run the whole pipeline once; returns (course folder, student id, seconds per step)."""
    before = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    base = tmp_path_factory.mktemp("nbgrader")
    course, exchange, home = base / "course", base / "exchange", base / "home"
    exchange.mkdir()
    home.mkdir()
    env = dict(os.environ, LABKIT_DATA_DIR=str(SHARED), LABKIT_PROFILE="quick", LABKIT_OFFLINE="1",
               IPYTHONDIR=str(REPO / "tools" / "ipython"), TF_CPP_MIN_LOG_LEVEL="3",
               NBGRADER_EXCHANGE=str(exchange), MPLBACKEND="Agg",
               # nbgrader runs `alembic` by name, as the Makefile's targets let it (venv first on PATH)
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    times = {}
    start = first = time.perf_counter()
    # make assignment LAB=...: the course's source/ from the solution notebook, then generate_assignment
    prep = subprocess.run([sys.executable, "-m", "labkit.workspace", "course", "--course", str(course),
                           str(SOURCE)], cwd=base, env=env, capture_output=True, text=True, timeout=120)
    assert prep.returncode == 0, prep.stderr
    _nbgrader(course, env, "generate_assignment", LAB)
    times["generate"] = time.perf_counter() - start
    # the exchange route: release; a student fetches it and submits it untouched; collect
    _nbgrader(course, env, "release_assignment", LAB)
    student_side = ["--course", COURSE_ID, f"--Exchange.root={exchange}"]
    _nbgrader(home, env, "fetch_assignment", LAB, *student_side)
    _nbgrader(home, env, "submit", LAB, *student_side)
    _nbgrader(course, env, "collect", LAB)
    (student,) = [p.name for p in (course / "submitted").iterdir()]
    # the hand route: the solutions handed in as another student's submission
    (course / "submitted" / "solutions" / LAB).mkdir(parents=True)
    shutil.copyfile(course / "source" / LAB / f"{LAB}.ipynb", course / "submitted" / "solutions" / LAB / f"{LAB}.ipynb")
    start = time.perf_counter()
    _nbgrader(course, env, "autograde", LAB)
    times["autograde"] = time.perf_counter() - start
    _nbgrader(course, env, "generate_feedback", LAB)
    times["total"] = time.perf_counter() - first
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() == before, "notebooks/ must only be read"
    print(f"\nnbgrader pipeline on {LAB}: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return course, student, times


def _scores(course: Path) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: (gb.find_submission(LAB, s).score, gb.find_submission(LAB, s).max_score)
                for s in [sub.student.id for sub in gb.find_assignment(LAB).submissions]}


def _n_exercises() -> int:
    nb = nbformat.read(SOURCE, as_version=4)
    return sum(c.cell_type == "code" and has_solution(c.source) for c in nb.cells)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_solutions_get_full_points_and_the_untouched_release_gets_zero(course):
    folder, student, _ = course
    scores = _scores(folder)
    assert scores["solutions"] == (_n_exercises(), _n_exercises())
    assert scores[student] == (0, _n_exercises())


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_release_has_no_solution_no_hint_and_no_reveal_and_locks_the_checks(course):
    folder, _, _ = course
    release = nbformat.read(folder / "release" / LAB / f"{LAB}.ipynb", as_version=4)
    source = nbformat.read(folder / "source" / LAB / f"{LAB}.ipynb", as_version=4)
    assert [c.id for c in release.cells] == [c.id for c in source.cells], "graded: no reveal cells added"
    assert not list((folder / "release" / LAB).glob(".labkit-outputs.json"))
    for rel, src in zip(release.cells, source.cells):
        assert "SOLUTION" not in rel.source and "# HINT:" not in rel.source and "<details>" not in rel.source
        meta = rel.metadata.get("nbgrader", {})
        if meta.get("grade"):
            assert meta["locked"] and rel.source == src.source and rel.metadata.get("editable") is False
        if meta.get("solution"):
            assert "# YOUR CODE HERE" in rel.source and strip_solution(src.source).split("# YOUR CODE HERE")[0] \
                in rel.source


def _expected_hints() -> list[str]:
    """Each check's hint for the placeholder, computed here by calling the check itself."""
    import numpy as np

    import labkit
    import labkit.checks
    from labkit.checks import ExerciseError

    nb = nbformat.read(SOURCE, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and has_solution(cell.source):
            check = next(c for c in nb.cells[i + 1:] if c.cell_type == "code")
            glb = {"np": np, "labkit": labkit, "checks": labkit.checks}
            with pytest.raises(ExerciseError) as err:
                exec(check.source, glb, dict(placeholders(strip_solution(cell.source))))
            found.append(err.value.hint)
    return found


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_feedback_shows_the_hint_of_each_failing_check(course):
    folder, student, _ = course
    page = (folder / "feedback" / student / LAB / f"{LAB}.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    hints = _expected_hints()
    assert len(hints) == _n_exercises()
    for hint in hints:
        assert f"Hint: {hint}" in text
    solved = (folder / "feedback" / "solutions" / LAB / f"{LAB}.html").read_text(encoding="utf-8")
    assert "Hint: " not in html.unescape(re.sub(r"<[^>]+>", "", solved))


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_course_config_gives_training_cells_time(course):
    """nbgrader's default is 30 s a cell; the course folder's config (loading instructor/) sets more."""
    from nbgrader.preprocessors import Execute
    from traitlets.config.loader import PyFileConfigLoader

    folder, _, times = course
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    assert Execute(config=config).timeout >= 1800
    assert ".labkit-outputs.json" in config.CourseDirectory.ignore
    assert times["total"] < 300, times
