"""Generate student versions of the notebooks: solutions out, placeholders in.

Convention (compatible with nbgrader's markers): an exercise cell wraps its solution
in ``### BEGIN SOLUTION`` / ``### END SOLUTION``. The student version replaces that
region with a placeholder:

* inside a function (indented markers): ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``;
* at top level: ``# YOUR CODE HERE`` - the cell keeps the ``answer = None`` line
  written above the markers, so the next cell's check says "no answer yet".

Usage: ``python -m labkit.student --out student notebooks/*.ipynb``
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION\s*$")


def strip_solution(source: str) -> str:
    """Return ``source`` with every solution region replaced by its placeholder.

    Raises ``ValueError`` for unbalanced or nested markers.
    """
    out: list[str] = []
    inside = False
    indent = ""
    for lineno, line in enumerate(source.splitlines(), 1):
        m = _BEGIN_RE.match(line)
        if m:
            if inside:
                raise ValueError(f"line {lineno}: nested {BEGIN}")
            inside, indent = True, m.group("indent")
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
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    return any(_BEGIN_RE.match(line) for line in source.splitlines())


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stripped and outputs cleared."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if has_solution(cell.source):
                cell.source = strip_solution(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        dest = args.out / path.name
        nbformat.write(student_notebook(nb), dest)
        print(f"{path} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def placeholders(student_source: str) -> dict:
    """The names a student exercise cell binds to placeholders, with stand-in values.

    Top-level ``name = None`` (or ``...``) -> ``None``; a top-level ``def`` whose body
    raises ``NotImplementedError`` -> a function that raises it. Used by the tests to
    check that every exercise's check rejects the placeholder with a hint.
    """
    import ast

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
