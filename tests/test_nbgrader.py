"""The instructor path with the real nbgrader: generate, release, fetch, submit, collect, autograde, feedback.

One lab that runs in seconds (01, in the quick profile) goes through the pipeline of
docs/instructors.md in a tmp course folder with a tmp exchange: the solution notebook
(handed in as a submission) gets full points, the release handed back untouched gets
zero, and the feedback shows each failing check's hint. notebooks/ is only read.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import re
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


# The nbgrader commands of the pipeline, run one after another in ONE Python process, as nbgrader's own
# test suite runs them (nbgrader.tests.run_nbgrader): what `python -m nbgrader ARGS` does - a fresh
# NbGraderApp initialised with ARGS in the command's working directory, then started - followed by the
# app's reset(), which clears its instance and its log handlers for the next command. Each command still
# loads its configuration (the course folder's nbgrader_config.py) from its own working directory, and
# every notebook runs in a kernel of its own; only the ~2 s import of nbgrader is not repeated per command.
_DRIVER = r"""
import json, os, shutil, sys, time
t0 = time.perf_counter()
from jupyter_core.application import NoStart
from nbgrader.apps import NbGraderApp

for step in json.loads(sys.argv[1]):
    if "copy" in step:  # a file the instructor puts in place between two commands
        src, dst = step["copy"]
        os.makedirs(os.path.dirname(dst))
        shutil.copyfile(src, dst)
        continue
    os.chdir(step["cwd"])
    app = NbGraderApp.instance()
    try:
        app.initialize(step["args"])
        app.start()
    except NoStart:
        code = 0
    except SystemExit as err:
        code = 0 if err.code is None else err.code if isinstance(err.code, int) else 1
    else:
        code = 0
    finally:
        app.reset()
    print("@@step " + json.dumps({"args": step["args"], "code": code, "at": time.perf_counter() - t0}), flush=True)
    if code:
        sys.exit(code)
"""


def _nbgrader_steps(env: dict, steps: list[dict]) -> dict[str, float]:
    """Run the steps (``{"cwd": folder, "args": [nbgrader arguments]}`` or ``{"copy": [src, dst]}``) in one
    process; every command must succeed. Returns the seconds from the process start to the end of each
    command, by its first argument."""
    run = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(steps, default=str)], env=env,
                         capture_output=True, text=True, timeout=900)
    done = [json.loads(line[len("@@step "):]) for line in run.stdout.splitlines() if line.startswith("@@step ")]
    want = [s["args"] for s in steps if "args" in s]
    failed = next((d["args"] for d in done if d["code"]), want[len(done)] if len(done) < len(want) else None)
    assert run.returncode == 0 and [d["args"] for d in done] == want, \
        f"nbgrader {' '.join(failed or [])} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return {d["args"][0]: d["at"] for d in done}


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
    start = time.perf_counter()
    # make assignment LAB=...: the course's source/ from the solution notebook, then generate_assignment
    prep = subprocess.run([sys.executable, "-m", "labkit.workspace", "course", "--course", str(course),
                           str(SOURCE)], cwd=base, env=env, capture_output=True, text=True, timeout=120)
    assert prep.returncode == 0, prep.stderr
    prep_seconds = time.perf_counter() - start
    student_side = ["--course", COURSE_ID, f"--Exchange.root={exchange}"]
    solutions = course / "submitted" / "solutions" / LAB
    at = _nbgrader_steps(env, [
        {"cwd": course, "args": ["generate_assignment", LAB]},
        # the exchange route: release; a student fetches it and submits it untouched; collect
        {"cwd": course, "args": ["release_assignment", LAB]},
        {"cwd": home, "args": ["fetch_assignment", LAB, *student_side]},
        {"cwd": home, "args": ["submit", LAB, *student_side]},
        {"cwd": course, "args": ["collect", LAB]},
        # the hand route: the solutions handed in as another student's submission
        {"copy": [course / "source" / LAB / f"{LAB}.ipynb", solutions / f"{LAB}.ipynb"]},
        {"cwd": course, "args": ["autograde", LAB]},
        {"cwd": course, "args": ["generate_feedback", LAB]},
    ])
    times["generate"] = prep_seconds + at["generate_assignment"]
    times["autograde"] = at["autograde"] - at["collect"]
    times["total"] = time.perf_counter() - start
    (student,) = [p.name for p in (course / "submitted").iterdir() if p.name != "solutions"]
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
