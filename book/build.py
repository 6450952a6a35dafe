"""Render the committed notebooks, with their stored outputs, into a static HTML site (`make book`).

    .venv/bin/python book/build.py --out build/book [--results FILE] [NOTEBOOK ...]

Sphinx + MyST-NB with execution off: nothing runs, the pages show the outputs stored in the
notebooks. Sphinx builds only from its source folder, so this script first assembles one,
OUT/src/, mirroring the repository's layout (conf.py and the pages from book/, README.md,
notebooks/NN_*.ipynb), which leaves the repository unchanged and lets README's links to
notebooks/ resolve. Then `sphinx-build -b html -W --keep-going` into OUT/html/ (every
warning fails the build) and prints the path of OUT/html/index.html.

NOTEBOOK: the labs, by default notebooks/[0-9]*.ipynb; the site lists them in file-name order.
--results: the results table (labkit.runbook's results.md) for the Results page; by default the
newest results.md the repository has committed, if any (`make verify` writes an uncommitted one
to build/PROFILE/results.md: `make book RESULTS=build/standard/results.md` includes it).

OUT is rebuilt from scratch every time (a few seconds). The script only ever deletes in an OUT
that it made itself (it leaves a marker file there); it refuses any other non-empty folder.
Exit status: 0 built, 1 the build failed or warned, 2 refused (bad arguments or OUT).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

BOOK = Path(__file__).resolve().parent
REPO = BOOK.parent
MARKER = ".book-build"  # marks an OUT this script made (and may therefore empty)
RESULTS_INCLUDE = Path("_results") / "table.md"  # in the source folder, included by results.md
NO_RESULTS = """\
No results table is committed yet. Each lab's numbers are in its stored outputs (the lab pages
show them); `make verify` runs every notebook and writes the table to
`build/<profile>/results.md`, and `make book RESULTS=build/standard/results.md` puts it here.
"""


def committed_results(repo: Path = REPO) -> Path | None:
    """The newest committed ``results.md`` in ``repo`` (by its last commit), or None.

    The book's own ``book/results.md`` (the page that includes the table) is not a table: were
    it taken, the page would include itself."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", "*results.md"], cwd=repo,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    dated = []
    for name in filter(None, listed.split("\0")):
        if Path(name).parts[0] == "book" or Path(name).name != "results.md":
            continue
        stamp = subprocess.run(["git", "log", "-1", "--format=%ct", "--", name], cwd=repo,
                               capture_output=True, text=True).stdout.strip()
        if (repo / name).is_file():
            dated.append((int(stamp or 0), name))
    return repo / max(dated)[1] if dated else None


def prepare_out(out: Path) -> None:
    """Empty OUT if this script made it; raise ValueError if it is some other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ValueError(f"--out {out} is not empty and was not made by book/build.py "
                             f"(no {MARKER} in it): refusing to delete it; choose another folder")
        for child in out.iterdir():
            if child.name != MARKER:
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by book/build.py, which empties this folder on every build\n",
                              encoding="utf-8")


def assemble(src: Path, notebooks: list[Path], results: Path | None) -> None:
    """The Sphinx source folder: book/'s pages, README.md, the notebooks, the results table."""
    shutil.copytree(BOOK, src, ignore=shutil.ignore_patterns("build.py", "__pycache__", "*.pyc"))
    shutil.copy2(REPO / "README.md", src / "README.md")
    (src / "notebooks").mkdir()
    for nb in notebooks:
        shutil.copy2(nb, src / "notebooks" / nb.name)
    (src / RESULTS_INCLUDE).parent.mkdir(parents=True, exist_ok=True)
    if results is None:
        text = NO_RESULTS
    else:
        try:
            shown = results.resolve().relative_to(REPO)
        except ValueError:
            shown = results
        text = f"From `{shown}`.\n\n" + results.read_text(encoding="utf-8")
    (src / RESULTS_INCLUDE).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="book/build.py", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the site goes to OUT/html")
    parser.add_argument("--results", type=Path, default=None, help="a results.md for the Results page")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
    bad = [str(p) for p in notebooks if p.suffix != ".ipynb" or not p.is_file()]
    if not notebooks or bad:
        parser.error(f"not a notebook file: {', '.join(bad)}" if bad else "no notebooks found")
    if len({p.name for p in notebooks}) != len(notebooks):
        parser.error("two notebooks with one file name")
    if args.results is not None and not args.results.is_file():
        parser.error(f"--results {args.results}: no such file")
    results = args.results if args.results is not None else committed_results()
    out = args.out.resolve()
    try:
        prepare_out(out)
    except (ValueError, OSError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    src, html = out / "src", out / "html"
    assemble(src, sorted(notebooks, key=lambda p: p.name), results)

    from sphinx.cmd.build import build_main

    start = time.monotonic()
    rc = build_main(["-b", "html", "-W", "--keep-going", "-q", "-n", "-d", str(out / "doctrees"),
                     "-D", f"book_repository_root={REPO}",
                     str(src), str(html)])
    seconds = time.monotonic() - start
    if rc != 0:
        print(f"{parser.prog}: the build failed (warnings count as errors; see above)", file=sys.stderr)
        return 1
    print(f"built {len(notebooks)} labs in {seconds:.1f} s: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
