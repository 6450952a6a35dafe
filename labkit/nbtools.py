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

``clean``, ``check`` and ``refresh`` work on the notebooks in place (each write is
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
    parser.add_argument("command", choices=["clean", "check", "refresh", "from-percent", "to-percent"])
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
            after = _dump(clean(outputs.read_notebook(path), path.stem))
        except outputs.BadInputError as err:
            outputs.report(parser.prog, f"{err} Skipped.")
            failed += 1
            continue
        except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            outputs.report(parser.prog, f"{path}: cannot clean it ({reason}); skipped.")
            failed += 1
            continue
        if before != after:
            if args.command == "clean":
                try:
                    outputs.write_text(path, after)
                except OSError as err:
                    outputs.report(parser.prog, f"{path}: could not write it ({err}); left as it was.")
                    failed += 1
                    continue
            dirty.append(path)
    verb = "cleaned" if args.command == "clean" else "not clean"
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


if __name__ == "__main__":
    sys.exit(main())
