"""Generate student versions of the notebooks: solutions out, placeholders in.

Convention (compatible with nbgrader's markers): an exercise cell wraps its solution
in ``### BEGIN SOLUTION`` / ``### END SOLUTION``. The student version replaces that
region with a placeholder:

* inside a function (indented markers): ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``;
* at top level: ``# YOUR CODE HERE`` - the cell keeps the ``answer = None`` line
  written above the markers, so the next cell's check says "no answer yet".

**Hints.** A line ``# HINT: text`` *inside* a solution region is the exercise's hint
(markdown; several such lines make several paragraphs). It is removed with the
region, so neither the student version nor nbgrader's release shows it, and it is
left out of the revealed solution::

    def dense(A, W, b, g):
        ### BEGIN SOLUTION
        # HINT: one matrix product; `+ b` broadcasts over the rows.
        return g(A @ W + b)
        ### END SOLUTION

**Reveal blocks** (``reveal=True``, the learner's workspace of ``make lab``): right
after each exercise cell the student version gets a markdown cell (tagged
``labkit-reveal``) with a collapsed ``<details><summary>Hint</summary>`` block (only
if the exercise has a hint) and a collapsed ``<details><summary>Solution</summary>``
block holding the whole exercise cell as the solution notebook has it (markers and
hint lines dropped), so a stuck learner can paste it over the cell and the rest of
the lab still runs. The next *code* cell is still the exercise's check. The default
(``reveal=False``, ``make student``) and nbgrader's release (graded) have none.

Usage: ``python -m labkit.student --out student notebooks/*.ipynb [--reveal] [--force]``

Writes follow :mod:`labkit.outputs`: never into a folder that holds an input, never
over a file it did not write itself (unless ``--force``); a notebook that cannot be
read or has unbalanced markers is reported (path, cell, marker) and skipped, and the
run exits 1 at the end. A refusal exits 2 before anything is written.

Why labkit keeps its own beside nbgrader (whose markers it shares, and whose real
pipeline the instructor path uses): ``nbgrader generate_assignment`` needs a course
folder and its database and writes no hints or reveal blocks; this is one pass over a
notebook a learner can run.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from labkit import outputs
from labkit.validation import check_bool

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
_END_RE = re.compile(r"^[ \t]*### END SOLUTION\s*$")
_HINT_RE = re.compile(r"^[ \t]*# HINT:[ \t]?(?P<text>.*?)\s*$")
REVEAL_TAG = "labkit-reveal"


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


def _regions(source: str) -> list[tuple[bool, str]]:
    """``(inside a solution region, line)`` for each line; markers left out, balance checked."""
    strip_solution(source)  # raises ValueError naming the line for unbalanced or nested markers
    inside, lines = False, []
    for line in source.splitlines():
        if _BEGIN_RE.match(line):
            inside = True
        elif _END_RE.match(line):
            inside = False
        else:
            lines.append((inside, line))
    return lines


def hints(source: str) -> list[str]:
    """The texts of the ``# HINT:`` lines inside ``source``'s solution regions, in order."""
    _check_source(source, "source")
    return [m.group("text") for inside, line in _regions(source) if inside
            for m in [_HINT_RE.match(line)] if m and m.group("text")]


def solved_source(source: str) -> str:
    """``source`` as a learner may paste it: markers and ``# HINT:`` lines removed, the solution kept."""
    _check_source(source, "source")
    return "\n".join(line for inside, line in _regions(source) if not (inside and _HINT_RE.match(line)))


def _fence(code: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def reveal_markdown(source: str) -> str:
    """The reveal cell's markdown for the exercise cell ``source`` (see the module docstring)."""
    _check_source(source, "source")
    if not has_solution(source):
        raise ValueError("source has no ### BEGIN SOLUTION region: it is not an exercise cell.")
    parts = []
    found = hints(source)
    if found:
        parts.append("<details><summary>Hint</summary>\n\n" + "\n\n".join(found) + "\n\n</details>")
    code = solved_source(source).strip("\n")
    fence = _fence(code)
    parts.append("<details><summary>Solution</summary>\n\nThe whole cell above, solved - paste it over "
                 f"the cell and run it:\n\n{fence}python\n{code}\n{fence}\n\n</details>")
    return "\n\n".join(parts)


def _check_source(source, name: str) -> str:
    if not isinstance(source, str):
        raise TypeError(f"{name} must be a cell's source as a str, got {type(source).__name__}.")
    return source


def has_solution(source: str) -> bool:
    """Whether ``source`` has a ``### BEGIN SOLUTION`` line."""
    _check_source(source, "source")
    return any(_BEGIN_RE.match(line) for line in source.splitlines())


def student_notebook(nb: nbformat.NotebookNode, *, reveal: bool = False) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions stripped, outputs cleared and nbgrader metadata dropped.

    ``reveal=True`` adds a collapsed hint/solution cell after each exercise cell (see
    the module docstring). Raises ``TypeError`` if ``nb`` is not a notebook dict,
    ``ValueError`` if it has no list of cells or a cell has unbalanced markers (the
    message names the cell by its index in ``nb.cells``, counting from 0, and its id).
    """
    if not isinstance(nb, dict):
        raise TypeError(f"nb must be a notebook (a dict as nbformat.read returns), got {type(nb).__name__}.")
    if not isinstance(nb.get("cells"), list):
        raise ValueError("nb has no list of 'cells'; pass a notebook read with nbformat.read(path, as_version=4).")
    reveal = check_bool(reveal, "reveal")
    nb = nbformat.from_dict(nb)
    cells = []
    ids = {c.get("id") for c in nb.cells if isinstance(c, dict)}
    for index, cell in enumerate(nb.cells):
        cells.append(cell)
        if isinstance(cell.get("metadata"), dict):
            cell.metadata.pop("nbgrader", None)  # the learner's copy is not an nbgrader release
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if any(_BEGIN_RE.match(line) or _END_RE.match(line) for line in source.splitlines()):
                try:
                    cell.source = strip_solution(source)
                    extra = reveal_markdown(source) if reveal and has_solution(source) else None
                except ValueError as err:
                    cid = f" (id {cell['id']})" if cell.get("id") else ""
                    raise ValueError(f"cell {index}{cid}: {err}") from None
                if extra is not None:
                    cells.append(_reveal_cell(extra, cell.get("id"), index, ids))
                    if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) < (4, 5):
                        cells[-1].pop("id", None)  # cell ids need nbformat 4.5
            cell.outputs = []
            cell.execution_count = None
    nb.cells = cells
    return nb


def _reveal_cell(text: str, exercise_id, index: int, ids: set) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [REVEAL_TAG]})
    base = f"{exercise_id}-reveal" if isinstance(exercise_id, str) and len(exercise_id) <= 57 else f"reveal-{index}"
    cid, n = base, 1
    while cid in ids:
        n += 1
        cid = f"{base}-{n}"
    ids.add(cid)
    cell.id = cid
    return cell


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 a notebook failed, 2 refused)."""
    parser = argparse.ArgumentParser(prog="labkit.student", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("student"))
    parser.add_argument("--reveal", action="store_true",
                        help="add a collapsed hint/solution cell after each exercise (as make lab's workspace has)")
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
            text = outputs.notebook_text(student_notebook(outputs.read_notebook(path), reveal=args.reveal))
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
    raises ``NotImplementedError`` -> a function that raises it; a top-level ``class`` with
    such a method -> a class whose construction raises it. Used by the tests to
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
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and any(
                isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in ast.walk(node)):
            found[node.name] = _stub if isinstance(node, ast.FunctionDef) else type(node.name, (), {"__init__": _stub})
    return found


if __name__ == "__main__":
    sys.exit(main())
