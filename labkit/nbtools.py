"""Keep notebook files clean: they are source code.

``python -m labkit.nbtools from-percent src.py notebooks/NN_name.ipynb`` builds a
notebook from a py:percent script (and ``to-percent`` goes back), keeping cell ids.

``python -m labkit.nbtools refresh notebooks/NN_name.ipynb`` executes a notebook in the
quick profile and stores the outputs of its ``# NBVAL_CHECK_OUTPUT`` cells (nbval's
reference); every other output is dropped.

``python -m labkit.nbtools clean notebooks/*.ipynb`` normalises each notebook in place:
outputs and execution counts removed (except cells marked ``# NBVAL_CHECK_OUTPUT``,
whose stored output nbval compares), cell metadata reduced to ``tags``, notebook
metadata reduced to the kernel spec and language, existing cell ids kept and missing
ones added. ``check`` reports what ``clean`` would change and exits 1 if anything.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3 (workbook)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def keeps_output(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def clean(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
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
    nbformat.validate(nb)
    return nb


def _dump(nb) -> str:
    return nbformat.writes(nb) + ("" if nbformat.writes(nb).endswith("\n") else "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="clean or check notebook files")
    parser.add_argument("command", choices=["clean", "check", "refresh", "from-percent", "to-percent"])
    parser.add_argument("notebooks", nargs="+", type=Path,
                        help="notebooks; for from-percent/to-percent: SOURCE DEST")
    args = parser.parse_args(argv)
    if args.command in ("from-percent", "to-percent"):
        if len(args.notebooks) != 2:
            parser.error(f"{args.command} takes SOURCE DEST")
        (from_percent if args.command == "from-percent" else to_percent)(*args.notebooks)
        return 0
    if args.command == "refresh":
        for path in args.notebooks:
            refresh(path)
            print(f"refreshed: {path}")
        return 0
    dirty = []
    for path in args.notebooks:
        before = path.read_text(encoding="utf-8")
        after = _dump(clean(nbformat.reads(before, as_version=4), path.stem))
        if before != after:
            dirty.append(path)
            if args.command == "clean":
                path.write_text(after, encoding="utf-8")
    verb = "cleaned" if args.command == "clean" else "not clean"
    for path in dirty:
        print(f"{verb}: {path}")
    return 1 if (dirty and args.command == "check") else 0



def refresh(path: Path, profile: str = "quick", timeout: int = 1800) -> None:
    """Execute ``path`` (in ``profile``) and store the outputs of its checked cells only.

    The stored outputs are nbval's reference: they must not depend on the profile.
    """
    from nbclient import NotebookClient

    path = Path(path)
    from labkit.runbook import kernel_env

    nb = nbformat.read(path, as_version=4)
    with kernel_env({"LABKIT_PROFILE": profile}):
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    for cell in nb.cells:
        if keeps_output(cell):
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    path.write_text(_dump(clean(nb, path.stem)), encoding="utf-8")


# --------------------------------------------------------------------------- authoring
_CELL_RE = re.compile(r"^# %%(?P<md> \[markdown\])?(?P<rest>.*)$")


def from_percent(py_path: Path, ipynb_path: Path) -> None:
    """Build ``ipynb_path`` from a py:percent script (``# %%`` / ``# %% [markdown]``).

    Markdown cells are written as ``#``-comment lines. Ids of an existing notebook at
    ``ipynb_path`` are kept cell by cell (same position and type), so ids stay stable
    when a notebook is regenerated after an edit. Tags: ``# %% tags=["a","b"]``.
    """
    text = Path(py_path).read_text(encoding="utf-8")
    old_ids: list[tuple[str, str]] = []
    if Path(ipynb_path).exists():
        old = nbformat.read(ipynb_path, as_version=4)
        old_ids = [(c.cell_type, c.get("id", "")) for c in old.cells]
    cells, kind, tags, buf = [], None, None, []

    def flush():
        if kind is None:
            return
        src = "\n".join(buf).strip("\n")
        if kind == "markdown":
            src = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in src.splitlines())
            cell = nbformat.v4.new_markdown_cell(src)
        else:
            cell = nbformat.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.splitlines():
        m = _CELL_RE.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            t = re.search(r"tags=(\[.*\])", m.group("rest") or "")
            tags = json.loads(t.group(1)) if t else None
            buf = []
        elif kind is not None:
            buf.append(line)
    flush()
    for i, cell in enumerate(cells):
        if i < len(old_ids) and old_ids[i][0] == cell.cell_type and ID_RE.match(old_ids[i][1] or ""):
            cell.id = old_ids[i][1]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb = clean(nb, Path(ipynb_path).stem)
    Path(ipynb_path).write_text(_dump(nb), encoding="utf-8")


def to_percent(ipynb_path: Path, py_path: Path) -> None:
    """Write a notebook as a py:percent script (the inverse of :func:`from_percent`)."""
    nb = nbformat.read(ipynb_path, as_version=4)
    parts = []
    for c in nb.cells:
        tags = c.get("metadata", {}).get("tags")
        suffix = f" tags={json.dumps(tags)}" if tags else ""
        if c.cell_type == "markdown":
            body = "\n".join(("# " + line) if line else "#" for line in c.source.splitlines())
            parts.append(f"# %% [markdown]{suffix}\n{body}")
        else:
            parts.append(f"# %%{suffix}\n{c.source}")
    Path(py_path).write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
