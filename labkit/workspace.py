"""A learner's workspace that keeps their work, and an nbgrader course folder for instructors.

``python -m labkit.workspace sync --out workspace notebooks/[0-9]*.ipynb`` (what
``make lab`` runs) gives the learner one copy of each lab: the student version with
solutions removed and a collapsed hint/solution cell after each exercise
(:func:`labkit.student.student_notebook` with ``reveal=True``; ``--no-reveal`` for
none). For each lab ``NN_x.ipynb``, with ``NEW`` the copy the current solution
notebook gives:

* no ``workspace/NN_x.ipynb`` yet: it is written;
* it holds exactly the bytes the tool wrote there last time (the folder's
  ``.labkit-outputs.json`` records their SHA-256): the learner has not touched it, so
  it is brought up to date in place;
* otherwise the learner has edited it (opening and saving it in JupyterLab, or
  running a cell and saving, counts) and it is **never** written over: if ``NEW`` is a
  version of the lab the workspace has not had yet (its digest is not one the
  manifest records for this lab), ``NEW`` is written beside it as
  ``NN_x.new-YYYY-MM-DD.ipynb`` (``-2``, ``-3``... if that name is taken), once; the
  learner compares the two and carries their work over;
* an edited copy that is not a valid notebook is reported with its path and left as
  it is (rename or remove it, and the next run writes a fresh copy).

Nothing in the workspace is ever deleted, renamed or overwritten unless it is the
tool's own unchanged output. The folder also gets a ``.gitignore`` (``*``, written
only if it has none), so the learner's work never ends up in a commit of the workbook.
Writes follow :mod:`labkit.outputs`: the workspace may not be a folder that holds a
solution notebook (no option lifts this), each file is written atomically, a solution
notebook that cannot be read is reported and the others go on (exit 1), a refusal
exits 2 before anything is written. A learner's unreadable copy also exits 1.

``python -m labkit.workspace course --course course notebooks/04_mnist.ipynb`` (what
``make assignment LAB=04_mnist`` runs first) prepares an nbgrader course folder:
``course/source/04_mnist/04_mnist.ipynb`` (the solution notebook with the nbgrader
metadata ``labkit.nbtools clean`` derives), ``course/nbgrader_config.py`` (loads the
repository's ``instructor/nbgrader_config.py``) and ``course/.gitignore`` (``*``: the
folder will hold students' submissions). An existing source notebook or config is
replaced only if it is the tool's own unchanged output (``--force`` overrides); an
instructor's edited ``nbgrader_config.py`` is kept. See ``docs/instructors.md``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

from labkit import nbtools, outputs
from labkit.student import student_notebook
from labkit.validation import check_bool

__all__ = ["sync", "Result", "prepare_course", "IGNORE_ALL", "INSTRUCTOR_CONFIG", "main"]

IGNORE_ALL = "# written by labkit.workspace: nothing in this folder belongs in the workbook's git\n*\n"
INSTRUCTOR_CONFIG = Path(__file__).resolve().parent.parent / "instructor" / "nbgrader_config.py"


def _new_name(stem: str, on: datetime.date, n: int) -> str:
    return f"{stem}.new-{on.isoformat()}{'' if n == 1 else f'-{n}'}.ipynb"


def _versions_of(stem: str, manifest: dict[str, str]) -> set[str]:
    """Digests of every copy of lab ``stem`` the tool has written (the copy and the ones beside it)."""
    beside = re.compile(rf"^{re.escape(stem)}\.new-\d{{4}}-\d{{2}}-\d{{2}}(-\d+)?\.ipynb$")
    return {sha for name, sha in manifest.items() if name == f"{stem}.ipynb" or beside.match(name)}


def _parse_problem(data: bytes) -> str | None:
    """None if ``data`` is a readable notebook, else why not (one line)."""
    try:
        nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as err:  # noqa: BLE001 - json, unicode, schema errors: all mean "not a notebook"
        return (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
    return None


def _ensure_ignored(folder: Path) -> None:
    path = folder / ".gitignore"
    if not (path.exists() or path.is_symlink()):
        outputs.write_text(path, IGNORE_ALL)


class Result(NamedTuple):
    """What :func:`sync` did for one lab.

    ``what`` is ``"created"``, ``"updated"`` (unedited copy brought up to date),
    ``"current"``, ``"kept"`` (edited copy, no newer version), ``"beside"`` (edited
    copy kept; the newer version written at ``new``) or ``"failed"`` (the solution
    notebook could not be made into a copy). ``problem`` says why the learner's copy
    is unreadable (it is then left as it is), else None.
    """

    what: str
    source: Path
    copy: Path
    new: Path | None = None
    problem: str | None = None


def sync(out_dir, notebooks, *, reveal: bool = True, today: datetime.date | None = None,
         prog: str = "labkit.workspace") -> tuple[int, list[Result]]:
    """Bring the learner's copies in ``out_dir`` up to date without losing their work.

    Returns ``(exit code, results)``: 0, or 1 if a solution notebook failed or a
    learner's copy is unreadable (each reported on stderr with its path). Raises
    :class:`labkit.outputs.RefusedError` before writing anything when ``out_dir``
    breaks the rule (it holds a solution notebook, is a file, or holds a manifest
    labkit did not write).
    """
    out_dir = outputs.check_path(out_dir, "out_dir")
    reveal = check_bool(reveal, "reveal")
    if today is None:
        today = datetime.date.today()
    elif not isinstance(today, datetime.date):
        raise TypeError(f"today must be a datetime.date, got {type(today).__name__}.")
    plan = outputs.check_out_dir(out_dir, notebooks, extra=[".gitignore"])
    if out_dir.is_dir():
        outputs.read_manifest(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _ensure_ignored(out_dir)
    code = 0
    done: list[Result] = []
    for source, dest in plan.items():
        try:
            text = outputs.notebook_text(student_notebook(outputs.read_notebook(source), reveal=reveal))
        except outputs.BadInputError as err:
            outputs.report(prog, f"{err} Skipped.")
            code, done = 1, done + [Result("failed", source, dest)]
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            outputs.report(prog, f"{source}: {err}; skipped, {dest} not touched.")
            code, done = 1, done + [Result("failed", source, dest)]
            continue
        try:
            result = _sync_one(source, dest, text, outputs.read_manifest(out_dir), today)
        except OSError as err:
            outputs.report(prog, f"{dest}: could not read or write it ({err}); left as it was.")
            code, done = 1, done + [Result("failed", source, dest)]
            continue
        if result.problem:
            code = 1
            also = f" The new version of the lab is {result.new}." if result.new else ""
            outputs.report(prog, f"{dest}: your copy is not a valid notebook ({result.problem}); left it as it "
                                 f"is.{also} Rename or remove it and run `make lab` again for a fresh copy.")
        done.append(result)
    return code, done


def _sync_one(source: Path, dest: Path, text: str, manifest: dict[str, str], today: datetime.date) -> Result:
    new = text.encode("utf-8")
    if not (dest.exists() or dest.is_symlink()):
        outputs.write_text(dest, text, record=True)
        return Result("created", source, dest)
    problem: str | None  # why the learner's copy is unreadable, None when it reads
    if dest.is_symlink() or not dest.is_file():
        data, problem = None, "it is not a plain file"
    else:
        data = dest.read_bytes()
        if data == new:
            if manifest.get(dest.name) != outputs.digest(new):
                outputs.write_text(dest, text, record=True)  # the same bytes: now known as the tool's own
            return Result("current", source, dest)
        if manifest.get(dest.name) == outputs.digest(data):
            outputs.write_text(dest, text, record=True)
            return Result("updated", source, dest)
        problem = _parse_problem(data)
    if outputs.digest(new) in _versions_of(dest.stem, manifest):
        return Result("kept", source, dest, problem=problem)
    n = 1
    while (dest.parent / _new_name(dest.stem, today, n)).exists() or \
            (dest.parent / _new_name(dest.stem, today, n)).is_symlink():
        n += 1
    beside = dest.parent / _new_name(dest.stem, today, n)
    outputs.write_text(beside, text, record=True)
    return Result("beside", source, dest, new=beside, problem=problem)


# --------------------------------------------------------------------------- instructors
def _course_config_text(course: Path) -> str:
    repo = INSTRUCTOR_CONFIG.parent.parent
    inside = course.resolve() == repo or repo in course.resolve().parents
    # relative inside the repository (the pair moves together), absolute outside it
    rel = os.path.relpath(INSTRUCTOR_CONFIG, course.resolve()) if inside else str(INSTRUCTOR_CONFIG)
    return ("# Written by `python -m labkit.workspace course` (make assignment). The settings live in the\n"
            "# workbook's instructor/nbgrader_config.py; put this course's own settings below.\n"
            "c = get_config()  # noqa: F821 - defined by traitlets when it loads this file\n"
            f"load_subconfig({rel!r})  # noqa: F821\n")


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return ""


def prepare_course(course, notebooks, *, force: bool = False, prog: str = "labkit.workspace") -> int:
    """Write ``course/source/<stem>/<stem>.ipynb`` for each notebook, and the course's config.

    Returns the exit code (0 ok, 1 a notebook failed). Raises
    :class:`labkit.outputs.RefusedError` before writing anything if a source notebook
    may not be written (see the module docstring).
    """
    course = outputs.check_path(course, "course")
    force = check_bool(force, "force")
    plans: dict[Path, Path] = {}
    for path in outputs.check_out_dir(course, notebooks):  # checks the paths; no input inside the course
        folder = course / "source" / path.stem
        if folder / path.name in plans.values():
            raise outputs.RefusedError(f"two notebooks named {path.name} would both be {folder / path.name}; "
                                       "prepare them one at a time.")
        plans[path] = outputs.plan_outputs(folder, [path], force=force)[path]
    course.mkdir(parents=True, exist_ok=True)
    _ensure_ignored(course)
    config = course / "nbgrader_config.py"
    text = _course_config_text(course)
    try:
        manifest = outputs.read_manifest(course)
    except outputs.RefusedError:
        manifest = {}
    if not (config.exists() or config.is_symlink()):
        outputs.write_text(config, text, record=True)
    elif config.is_file() and not config.is_symlink() and \
            manifest.get(config.name) == outputs.digest(config.read_bytes()):
        if config.read_text(encoding="utf-8") != text:
            outputs.write_text(config, text, record=True)
    elif "load_subconfig(" not in _read_or_empty(config):
        outputs.report(prog, f"{config}: kept as it is (not written by this tool); make sure it loads "
                             f"{INSTRUCTOR_CONFIG} (load_subconfig), or the cell timeout is nbgrader's 30 s.")
    code = 0
    for path, dest in plans.items():
        try:
            nb = nbtools.clean(outputs.read_notebook(path), path.stem)
        except outputs.BadInputError as err:
            outputs.report(prog, f"{err} Skipped.")
            code = 1
            continue
        except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as err:
            outputs.report(prog, f"{path}: {err}; skipped, {dest} not written.")
            code = 1
            continue
        if not nbtools.nbgrader_metadata(nb):
            outputs.report(prog, f"{path}: has no exercise (no ### BEGIN SOLUTION cell): nothing to grade.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_text(dest, nbtools._dump(nb), record=True)
        print(f"{path} -> {dest}")
    return code


# --------------------------------------------------------------------------- command line
_SAY = {"created": "new copy", "updated": "updated (you had not changed it)",
        "kept": "kept as it is (you have edited it)"}


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 a notebook failed, 2 refused)."""
    parser = argparse.ArgumentParser(prog="labkit.workspace", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sync", help="create or update the learner's copies (make lab)")
    s.add_argument("notebooks", nargs="+", type=Path, help="the solution notebooks")
    s.add_argument("--out", type=Path, default=Path("workspace"))
    s.add_argument("--no-reveal", action="store_true", help="no hint/solution cells after the exercises")
    c = sub.add_parser("course", help="prepare an nbgrader course folder (make assignment)")
    c.add_argument("notebooks", nargs="+", type=Path, help="the solution notebooks, one per assignment")
    c.add_argument("--course", type=Path, default=Path("course"))
    c.add_argument("--force", action="store_true", help="overwrite source notebooks this tool did not write")
    args = parser.parse_args(argv)
    try:
        if args.command == "course":
            return prepare_course(args.course, args.notebooks, force=args.force, prog=parser.prog)
        code, done = sync(args.out, args.notebooks, reveal=not args.no_reveal, prog=parser.prog)
    except (outputs.RefusedError, OSError) as err:
        return outputs.error(parser.prog, err)
    for r in done:
        if r.what == "beside":
            print(f"{r.new}: a newer version of this lab, beside your edited {r.copy.name} (kept as it is)")
        elif r.what not in ("failed", "current") and not r.problem:
            print(f"{r.copy}: {_SAY[r.what]}")
    current = sum(r.what == "current" for r in done)
    if current:
        print(f"{args.out}: {current} of {len(done)} copies already up to date")
    return code


if __name__ == "__main__":
    sys.exit(main())
