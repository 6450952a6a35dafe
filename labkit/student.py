"""Generate student versions of the notebooks: solutions out, placeholders in.

Convention (compatible with nbgrader's markers): an exercise cell wraps its solution
in ``### BEGIN SOLUTION`` / ``### END SOLUTION``. The student version replaces that
region with a placeholder:

* inside a function (indented markers): ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``;
* at top level: ``# YOUR CODE HERE`` - the cell keeps the ``answer = None`` line
  written above the markers, so the next cell's check says "no answer yet".

Usage: ``python -m labkit.student --out student notebooks/*.ipynb [--force]``

Writes follow :mod:`labkit.outputs`: never into a folder that holds an input, never
over a file it did not write itself (unless ``--force``); a notebook that cannot be
read or has unbalanced markers is reported (path, cell, marker) and skipped, and the
run exits 1 at the end. A refusal exits 2 before anything is written.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from labkit import outputs

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION\s*$")


def strip_solution(source: str) -> str:
    """Return ``source`` with every solution region replaced by its placeholder.

    Raises ``ValueError`` for unbalanced or nested markers, naming the line.
    """
    _check_source(source, "source")
    out: list[str] = []
    inside = False
    indent = ""
    opened = 0
    for lineno, line in enumerate(source.splitlines(), 1):
        m = _BEGIN_RE.match(line)
        if m:
            if inside:
                raise ValueError(f"line {lineno}: nested {BEGIN} (the one on line {opened} is still open)")
            inside, indent, opened = True, m.group("indent"), lineno
            out.append(f"{indent}# YOUR CODE HERE")
            if indent:
                out.append(f"{indent}raise NotImplementedError()")
            continue
        if _END_RE.match(line):
            if not inside:
                raise ValueError(f"line {lineno}: {END} without {BEGIN}")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ValueError(f"line {opened}: {BEGIN} without {END}")
    return "\n".join(out)


def _check_source(source, name: str) -> str:
    if not isinstance(source, str):
        raise TypeError(f"{name} must be a cell's source as a str, got {type(source).__name__}.")
    return source


def has_solution(source: str) -> bool:
    """Whether ``source`` has a ``### BEGIN SOLUTION`` line."""
    _check_source(source, "source")
    return any(_BEGIN_RE.match(line) for line in source.splitlines())


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stripped and outputs cleared.

    Raises ``TypeError`` if ``nb`` is not a notebook dict, ``ValueError`` if it has no
    list of cells or a cell has unbalanced markers (the message names the cell by its
    index in ``nb.cells``, counting from 0, and its id).
    """
    if not isinstance(nb, dict):
        raise TypeError(f"nb must be a notebook (a dict as nbformat.read returns), got {type(nb).__name__}.")
    if not isinstance(nb.get("cells"), list):
        raise ValueError("nb has no list of 'cells'; pass a notebook read with nbformat.read(path, as_version=4).")
    nb = nbformat.from_dict(nb)
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if any(_BEGIN_RE.match(line) or _END_RE.match(line) for line in source.splitlines()):
                try:
                    cell.source = strip_solution(source)
                except ValueError as err:
                    cid = f" (id {cell['id']})" if cell.get("id") else ""
                    raise ValueError(f"cell {index}{cid}: {err}") from None
            cell.outputs = []
            cell.execution_count = None
    return nb


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 a notebook failed, 2 refused)."""
    parser = argparse.ArgumentParser(prog="labkit.student", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("student"))
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing files in --out that this tool did not write")
    args = parser.parse_args(argv)
    try:
        plan = outputs.plan_outputs(args.out, args.notebooks, force=args.force)
        args.out.mkdir(parents=True, exist_ok=True)
    except (outputs.RefusedError, OSError) as err:
        return outputs.error(parser.prog, err)
    failed = 0
    for path, dest in plan.items():
        try:
            text = outputs.notebook_text(student_notebook(outputs.read_notebook(path)))
            outputs.write_text(dest, text, record=True)
        except outputs.BadInputError as err:
            outputs.report(parser.prog, f"{err} Skipped.")
            failed += 1
        except (ValueError, OSError, KeyError, TypeError, AttributeError) as err:
            outputs.report(parser.prog, f"{path}: {err}; skipped, {dest} not written.")
            failed += 1
        else:
            print(f"{path} -> {dest}")
    return 1 if failed else 0


def placeholders(student_source: str) -> dict:
    """The names a student exercise cell binds to placeholders, with stand-in values.

    Top-level ``name = None`` (or ``...``) -> ``None``; a top-level ``def`` whose body
    raises ``NotImplementedError`` -> a function that raises it. Used by the tests to
    check that every exercise's check rejects the placeholder with a hint.
    """
    import ast

    _check_source(student_source, "student_source")

    def _stub(*args, **kwargs):
        raise NotImplementedError()

    def _is_placeholder(value) -> bool:
        if isinstance(value, ast.Constant):
            return value.value is None or value.value is Ellipsis
        return isinstance(value, ast.Tuple) and all(_is_placeholder(v) for v in value.elts)

    found: dict = {}
    for node in ast.parse(student_source).body:
        if isinstance(node, ast.Assign) and _is_placeholder(node.value):
            for target in node.targets:
                for t in ([target] if isinstance(target, ast.Name) else getattr(target, "elts", [])):
                    if isinstance(t, ast.Name):
                        found[t.id] = None
        elif isinstance(node, ast.FunctionDef) and any(
                isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in ast.walk(node)):
            found[node.name] = _stub
    return found


if __name__ == "__main__":
    sys.exit(main())
