"""Keep notebook files clean: they are source code.

``python -m labkit.nbtools from-percent src.py notebooks/NN_name.ipynb`` builds a
notebook from a py:percent script (and ``to-percent`` goes back); ``jupytext`` does the
conversion, labkit keeps the cell ids and the outputs rule below.

``python -m labkit.nbtools refresh notebooks/NN_name.ipynb`` executes a notebook in the
quick profile and stores the outputs of its ``# NBVAL_CHECK_OUTPUT`` cells (nbval's
reference); every other output is dropped.

``python -m labkit.nbtools clean notebooks/*.ipynb`` normalises each notebook in place:
outputs and execution counts removed (except cells marked ``# NBVAL_CHECK_OUTPUT``,
whose stored output nbval compares), cell metadata reduced to ``tags`` and the derived
``nbgrader`` metadata below, notebook metadata reduced to the kernel spec and language,
existing cell ids kept and missing ones added. ``check`` reports what ``clean`` would
change and exits 1 if anything.

**nbgrader metadata** is derived, never written by hand (:func:`nbgrader_metadata`;
any other ``nbgrader`` metadata is dropped), so ``nbgrader generate_assignment`` and
``autograde`` work on the solution notebooks as they are:

* an exercise cell (a code cell with ``### BEGIN SOLUTION``) is a *solution* cell:
  ``solution: true, grade: false, locked: false``, ``grade_id: "ex-<cell id>"``;
* the code cell right after it, when it calls ``checks.<lab>.<name>(...)`` and has no
  solution itself, is its *autograder test* cell: ``grade: true, locked: true,
  solution: false``, ``grade_id: "check-<cell id>"``, ``points: 1`` - or ``N`` when
  the cell is tagged ``points:N``;
* both carry ``schema_version: 3`` and ``task: false``. Markdown prompts stay plain.

``python -m labkit.nbtools colab notebooks/[0-9]*.ipynb`` gives each lab its two Colab cells
(docs/colab-binder.md), generated from :data:`GITHUB_REPO` and :data:`GITHUB_BRANCH` - change
those two constants and run it again, and every badge and install line follows:

* the **badge cell** (markdown, tagged ``colab-badge``), the notebook's first cell: an "Open in
  Colab" badge for ``notebooks/<its file name>`` in that repository (:func:`colab_badge`);
* the **setup cell** (code, tagged ``colab-setup``), right before the first other code cell (the
  ``import labkit`` cell): on Colab it installs the workbook's package and the one runtime
  dependency Colab lacks (keras-tuner), all with ``--no-deps`` so Colab's TensorFlow, NumPy and
  Jupyter stay as they are; anywhere else it does nothing and prints nothing
  (:func:`colab_setup_source`). It never imports TensorFlow: ``import labkit`` must come first.

Older copies of both cells are replaced (their ids kept), nothing else is touched, and the
result is :func:`clean`; running it twice changes nothing. ``tests/test_notebook_hygiene.py``
checks that every lab has exactly these cells.

``clean``, ``check``, ``colab`` and ``refresh`` work on the notebooks in place (each write is
atomic); a notebook that cannot be read is reported and skipped, and the command exits
1 at the end. ``from-percent`` and ``to-percent`` follow :mod:`labkit.outputs`: DEST is
never its SOURCE and an existing DEST is replaced only with ``--force`` (to regenerate
a notebook and keep its cell ids: ``from-percent --force draft.py notebooks/NN_x.ipynb``);
a refusal exits 2.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

from labkit import outputs
from labkit.student import has_solution
from labkit.validation import check_int, check_option

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3 (workbook)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def keeps_output(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


NBGRADER_SCHEMA = 3
_CHECK_CALL_RE = re.compile(r"^\s*checks\.[A-Za-z_]\w*\.[A-Za-z_]\w*\(", re.MULTILINE)
_POINTS_TAG_RE = re.compile(r"^points:(?P<n>\d+(\.\d+)?)$")


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def is_check_cell(cell) -> bool:
    """Whether ``cell`` calls an exercise check, ``checks.<lab>.<name>(...)``, on a line of its own."""
    return cell.get("cell_type") == "code" and bool(_CHECK_CALL_RE.search(_source(cell)))


def _points(cell) -> float | int:
    for tag in cell.get("metadata", {}).get("tags") or []:
        m = _POINTS_TAG_RE.match(tag) if isinstance(tag, str) else None
        if m:
            value = float(m.group("n"))
            return int(value) if value.is_integer() else value
    return 1


def nbgrader_metadata(nb) -> dict[int, dict]:
    """``{cell index: nbgrader metadata}`` derived for ``nb`` (see the module docstring).

    Cells need their ids (``grade_id`` is derived from them); :func:`clean` derives the
    metadata after it has given every cell one.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb must be a notebook with a list of cells, got {type(nb).__name__}.")
    cells = nb["cells"]
    found: dict[int, dict] = {}
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or not has_solution(_source(cell)):
            continue
        found[i] = {"grade": False, "grade_id": f"ex-{cell['id']}", "locked": False,
                    "schema_version": NBGRADER_SCHEMA, "solution": True, "task": False}
        j = next((k for k in range(i + 1, len(cells)) if cells[k].get("cell_type") == "code"), None)
        if j is not None and is_check_cell(cells[j]) and not has_solution(_source(cells[j])):
            found[j] = {"grade": True, "grade_id": f"check-{cells[j]['id']}", "locked": True,
                        "points": _points(cells[j]), "schema_version": NBGRADER_SCHEMA, "solution": False,
                        "task": False}
    return found


def clean(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """A normalised copy of ``nb`` (see the module docstring); ``stem`` seeds new cell ids."""
    if not isinstance(nb, dict):
        raise TypeError(f"nb must be a notebook (a dict as nbformat.read returns), got {type(nb).__name__}.")
    if not isinstance(stem, str):
        raise TypeError(f"stem must be the notebook's file name without suffix, as a str, got {stem!r}.")
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = {"tags": tags} if tags else {}
        cid = cell.get("id", "")
        if not ID_RE.match(cid or "") or cid in seen:
            cid = hashlib.sha1(f"{stem}:{i}:{cell.source}".encode()).hexdigest()[:12]
        seen.add(cid)
        cell.id = cid
        if cell.cell_type == "code":
            if keeps_output(cell):
                for out in cell.get("outputs", []):
                    if "execution_count" in out:
                        out["execution_count"] = 1
                    if "metadata" in out:
                        out["metadata"] = {}
            else:
                cell.outputs = []
            # nbval refuses a reference cell that has outputs but no execution count
            cell.execution_count = 1 if cell.get("outputs") else None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            if not cell.get("attachments"):
                cell.pop("attachments", None)
    for i, meta in nbgrader_metadata(nb).items():
        nb.cells[i].metadata["nbgrader"] = meta
    nbformat.validate(nb)
    return nb


def _dump(nb) -> str:
    return nbformat.writes(nb) + ("" if nbformat.writes(nb).endswith("\n") else "\n")


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 dirty or a notebook failed, 2 refused)."""
    parser = argparse.ArgumentParser(prog="labkit.nbtools", description="clean or check notebook files")
    parser.add_argument("command", choices=["clean", "check", "colab", "refresh", "from-percent", "to-percent"])
    parser.add_argument("notebooks", nargs="+", type=Path,
                        help="notebooks; for from-percent/to-percent: SOURCE DEST")
    parser.add_argument("--force", action="store_true",
                        help="from-percent/to-percent: overwrite an existing DEST")
    args = parser.parse_args(argv)
    if args.command in ("from-percent", "to-percent"):
        if len(args.notebooks) != 2:
            parser.error(f"{args.command} takes SOURCE DEST")
        source, dest = args.notebooks
        try:
            outputs.check_dest(dest, [source], force=args.force)
        except outputs.RefusedError as err:
            return outputs.error(parser.prog, err)
        try:
            (from_percent if args.command == "from-percent" else to_percent)(source, dest)
        except outputs.BadInputError as err:
            outputs.report(parser.prog, f"{err} {dest} not written.")
            return 1
        except (OSError, ValueError) as err:
            outputs.report(parser.prog, f"{source}: {err}; {dest} not written.")
            return 1
        return 0
    failed = 0
    if args.command == "refresh":
        for path in args.notebooks:
            try:
                refresh(path)
            except Exception as err:  # noqa: BLE001 - a failed run is reported, the others go on
                reason = (str(err).strip().splitlines() or [""])[-1][:200]
                outputs.report(parser.prog, f"{path}: not refreshed ({type(err).__name__}: {reason})")
                failed += 1
            else:
                print(f"refreshed: {path}")
        return 1 if failed else 0
    dirty = []
    for path in args.notebooks:
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as err:
            outputs.report(parser.prog, f"{path}: cannot read it ({err}); skipped.")
            failed += 1
            continue
        try:
            nb = outputs.read_notebook(path)
            if args.command == "colab":
                nb = add_colab_cells(nb, path.name)
            after = _dump(clean(nb, path.stem))
        except outputs.BadInputError as err:
            outputs.report(parser.prog, f"{err} Skipped.")
            failed += 1
            continue
        except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            what = "add its Colab cells" if args.command == "colab" else "clean it"
            outputs.report(parser.prog, f"{path}: cannot {what} ({reason}); skipped.")
            failed += 1
            continue
        if before != after:
            if args.command in ("clean", "colab"):
                try:
                    outputs.write_text(path, after)
                except OSError as err:
                    outputs.report(parser.prog, f"{path}: could not write it ({err}); left as it was.")
                    failed += 1
                    continue
            dirty.append(path)
    verb = {"clean": "cleaned", "colab": "Colab cells written"}.get(args.command, "not clean")
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if failed or (dirty and args.command == "check") else 0


def refresh(path: Path, profile: str = "quick", timeout: int = 1800) -> None:
    """Execute ``path`` (in ``profile``) and store the outputs of its checked cells only.

    The stored outputs are nbval's reference: they must not depend on the profile.
    """
    from nbclient import NotebookClient

    from labkit.profiles import PROFILES
    from labkit.runbook import kernel_env

    path = outputs.check_path(path, "path")
    check_option(profile, "profile", PROFILES)
    check_int(timeout, "timeout", min_val=1)
    nb = outputs.read_notebook(path)
    with kernel_env({"LABKIT_PROFILE": profile}):
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    for cell in nb.cells:
        if keeps_output(cell):
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    outputs.write_text(path, _dump(clean(nb, path.stem)))


# --------------------------------------------------------------------------- authoring
# What jupytext writes: cell sources, cell types and tags only - no header, no other
# metadata (clean() derives the rest when the script comes back as a notebook).
_PERCENT_FILTERS = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,-all"}


def from_percent(py_path: Path, ipynb_path: Path) -> None:
    """Build ``ipynb_path`` from a py:percent script, read by ``jupytext`` (``# %%``,
    ``# %% [markdown]``, ``# %% tags=["a","b"]``).

    What labkit adds: cell ids stay stable - an existing notebook at ``ipynb_path``
    lends its ids cell by cell (same position and type), so an edited script
    regenerates a notebook with the same ids (an unreadable one lends none); any other
    cell gets an id derived from the notebook name, its position and its source - and
    the result is :func:`clean`. This function overwrites ``ipynb_path``; the command
    line asks for ``--force`` first.
    """
    import jupytext

    py_path, ipynb_path = outputs.check_path(py_path, "py_path"), outputs.check_path(ipynb_path, "ipynb_path")
    text = py_path.read_text(encoding="utf-8")
    old_ids: list[tuple[str, str]] = []
    if ipynb_path.exists():
        try:
            old = outputs.read_notebook(ipynb_path)
            old_ids = [(c.get("cell_type", ""), c.get("id", "")) for c in old.cells]
        except (outputs.BadInputError, AttributeError):
            old_ids = []
    nb = jupytext.reads(text, fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        if i < len(old_ids) and old_ids[i][0] == cell.cell_type and ID_RE.match(old_ids[i][1] or ""):
            cell.id = old_ids[i][1]
        else:
            cell.pop("id", None)  # clean() derives one from the name, position and source
    nb = clean(nb, ipynb_path.stem)
    outputs.write_text(ipynb_path, _dump(nb))


def to_percent(ipynb_path: Path, py_path: Path) -> None:
    """Write a notebook as a py:percent script with ``jupytext`` (the inverse of
    :func:`from_percent`): sources, cell types and tags, no header or other metadata.

    This function overwrites ``py_path``; the command line asks for ``--force`` first.
    """
    import jupytext

    ipynb_path, py_path = outputs.check_path(ipynb_path, "ipynb_path"), outputs.check_path(py_path, "py_path")
    nb = outputs.read_notebook(ipynb_path)
    nb.metadata["jupytext"] = dict(_PERCENT_FILTERS)
    outputs.write_text(py_path, jupytext.writes(nb, fmt="py:percent"))


# --------------------------------------------------------------------------- Colab
# The workbook's GitHub repository ("owner/name") and the branch the badges open and the setup
# cell installs from. A placeholder until the workbook is published: set it, then run
# `python -m labkit.nbtools colab notebooks/[0-9]*.ipynb` (docs/colab-binder.md).
GITHUB_REPO = "nn-in-practice/workbook"
GITHUB_BRANCH = "main"
COLAB_BADGE_TAG = "colab-badge"
COLAB_SETUP_TAG = "colab-setup"
# The workbook's runtime dependencies that Colab does not ship, pinned as in requirements.lock:
# keras-tuner (labkit.tuning, lab 11) and its kt-legacy shim. Everything else labkit and the labs
# import (TensorFlow, Keras, NumPy, scikit-learn, SciPy, Matplotlib, Pillow, ipywidgets, nbformat,
# psutil, threadpoolctl; keras-tuner's grpcio, protobuf, requests, packaging) is Colab's own.
COLAB_EXTRAS = ("keras-tuner==1.4.8", "kt-legacy==1.0.5")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


def _check_repo(repo: str, branch: str) -> None:
    if not isinstance(repo, str) or not _SLUG_RE.match(repo):
        raise ValueError(f"repo must be a GitHub 'owner/name', got {repo!r}.")
    if not isinstance(branch, str) or not _REF_RE.match(branch):
        raise ValueError(f"branch must be a branch or tag name, got {branch!r}.")


def colab_badge(name: str, repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> str:
    """The badge cell's markdown: "Open in Colab" for ``notebooks/<name>`` of ``repo`` at ``branch``."""
    _check_repo(repo, branch)
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]+\.ipynb$", name):
        raise ValueError(f"name must be a notebook's file name such as '04_mnist.ipynb', got {name!r}.")
    url = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def colab_setup_source(repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> str:
    """The setup cell's code: on Colab, ``%pip install -q --no-deps`` labkit, then :data:`COLAB_EXTRAS`."""
    _check_repo(repo, branch)
    return ("# On Google Colab: install the workbook's package (labkit) and keras-tuner, the one dependency\n"
            "# Colab lacks; --no-deps leaves Colab's TensorFlow, NumPy and Jupyter as they are. Anywhere\n"
            "# else this cell does nothing. Written by `python -m labkit.nbtools colab`.\n"
            "import sys\n"
            "\n"
            'if "google.colab" in sys.modules:\n'
            f'    %pip install -q --no-deps "git+https://github.com/{repo}@{branch}"\n'
            f'    %pip install -q --no-deps {" ".join(COLAB_EXTRAS)}')


def _tags(cell) -> list:
    tags = cell.get("metadata", {}).get("tags") or []
    return tags if isinstance(tags, list) else []


def add_colab_cells(nb, name: str, repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> nbformat.NotebookNode:
    """A copy of ``nb`` with its Colab badge and setup cells for ``name`` (see the module docstring).

    Cells tagged ``colab-badge`` or ``colab-setup`` are taken out (their ids are kept for the
    new ones); the badge cell becomes the first cell and the setup cell goes right before the
    first remaining code cell. Raises ``ValueError`` if ``nb`` has no code cell.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb must be a notebook with a list of cells, got {type(nb).__name__}.")
    badge, setup = colab_badge(name, repo, branch), colab_setup_source(repo, branch)
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    ours: dict[str, list[str | None]] = {COLAB_BADGE_TAG: [], COLAB_SETUP_TAG: []}
    cells = []
    for cell in nb.cells:
        tag = next((t for t in (COLAB_BADGE_TAG, COLAB_SETUP_TAG) if t in _tags(cell)), None)
        if tag:
            ours[tag].append(cell.get("id"))
        else:
            cells.append(cell)
    first_code = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), None)
    if first_code is None:
        raise ValueError(f"{name} has no code cell to put the Colab setup cell before.")
    taken = {c.get("id") for c in cells}

    def new_id(tag: str) -> str:
        for cid in [*ours[tag], tag]:
            if isinstance(cid, str) and ID_RE.match(cid) and cid not in taken:
                taken.add(cid)
                return cid
        return hashlib.sha1(f"{name}:{tag}".encode()).hexdigest()[:12]

    setup_cell = nbformat.v4.new_code_cell(setup, metadata={"tags": [COLAB_SETUP_TAG]})
    setup_cell.id = new_id(COLAB_SETUP_TAG)
    badge_cell = nbformat.v4.new_markdown_cell(badge, metadata={"tags": [COLAB_BADGE_TAG]})
    badge_cell.id = new_id(COLAB_BADGE_TAG)
    nb.cells = [badge_cell, *cells[:first_code], setup_cell, *cells[first_code:]]
    return nb


if __name__ == "__main__":
    sys.exit(main())
