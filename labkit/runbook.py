"""Execute notebooks headless in one profile; write executed copies and a results table.

``python -m labkit.runbook --profile standard --out build/standard notebooks/*.ipynb [--force]``

For each notebook: runs it top to bottom with nbclient in its own folder as the
working directory, with ``LABKIT_PROFILE`` set and ``LABKIT_RESULTS`` pointing at a
temporary file in ``<out>/`` (so every ``labkit.record`` lands there), saves the
executed copy under ``<out>/``, and times it. Ends with ``<out>/results.jsonl`` (the
records) and ``<out>/results.md``: one row per notebook (status, seconds) and one row
per recorded number. A notebook that cannot be read is a FAILED row. Exits 1 if any
failed.

Writes follow :mod:`labkit.outputs`: never into a folder that holds a notebook being
run, never over a file it did not write itself (unless ``--force``); a refusal exits 2
before any notebook runs.

Why labkit keeps its own: nbclient (which runs each notebook here) and papermill execute
notebooks but gather no results table; this adds the profile, the records and the outputs
rules around nbclient.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit import outputs
from labkit.profiles import PROFILES
from labkit.validation import check_int, check_option

RESULT_FILES = ("results.jsonl", "results.md")


def run_one(path: Path, out_dir: Path, profile: str, results: Path, timeout: int) -> tuple[str, float, str]:
    """Execute ``path`` in ``profile``; write the executed copy to ``out_dir / path.name``.

    Records are appended to ``results``. Returns ``(status, seconds, detail)`` with
    status ``"ok"`` or ``"FAILED"``. Raises :class:`labkit.outputs.BadInputError` if
    ``path`` is not a readable notebook. Does not check :mod:`labkit.outputs`' rule
    (:func:`main` does).
    """
    path, out_dir = outputs.check_path(path, "path"), outputs.check_path(out_dir, "out_dir")
    results = outputs.check_path(results, "results")
    check_option(profile, "profile", PROFILES)
    check_int(timeout, "timeout", min_val=1)
    nb = outputs.read_notebook(path)
    status, seconds, detail = _run(nb, path, profile, results, timeout)
    outputs.write_text(out_dir / path.name, outputs.notebook_text(nb))
    return status, seconds, detail


def _run(nb, path: Path, profile: str, results: Path, timeout: int) -> tuple[str, float, str]:
    env = {"LABKIT_PROFILE": profile, "LABKIT_RESULTS": str(results.resolve()), "LABKIT_NOTEBOOK": path.stem}
    with kernel_env(env):
        return _execute(nb, path, timeout)


@contextmanager
def kernel_env(values: dict[str, str]):
    """Set environment variables for kernels started inside the block, then restore."""
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise TypeError(f"values must be a dict of str to str, got {values!r}.")
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _execute(nb, path: Path, timeout: int) -> tuple[str, float, str]:
    # The kernel listens on 127.0.0.1 only and its messages are signed; with CurveZMQ keys that
    # jupyter_client provisions (the workbook's kernelspec declares "curve") they are encrypted too.
    km = KernelManager(kernel_name="python3", transport_encryption="auto")
    client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    start = time.perf_counter()
    status, detail = "ok", ""
    try:
        client.execute()
    except CellExecutionError as err:
        status, detail = "FAILED", str(err).strip().splitlines()[-1][:200]
    except Exception as err:  # noqa: BLE001 - a kernel death is a failure to report, not a crash
        status, detail = "FAILED", f"{type(err).__name__}: {err}"[:200]
    finally:
        seconds = time.perf_counter() - start
        # nbclient shuts down only kernels it started itself; this one is ours to stop. Left
        # running, each finished notebook's kernel kept its memory and its threads, and the
        # notebooks after it ran (and were timed) beside it.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return status, seconds, detail


def _table(profile: str, rows: list[tuple[str, str, float, str]], records: list[dict]) -> list[str]:
    def cell(text) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = [f"# Workbook run - profile `{profile}`", "",
             "| notebook | status | seconds | note |", "|---|---|---|---|"]
    lines += [f"| {n} | {s} | {t:.0f} | {cell(d)} |" for n, s, t, d in rows]
    lines += ["", "| result | value |", "|---|---|"]
    lines += [f"| {r['key']} | {r['value']:.4g} |" if isinstance(r["value"], float)
              else f"| {r['key']} | {r['value']} |" for r in records]
    return lines


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 a notebook failed, 2 refused)."""
    parser = argparse.ArgumentParser(prog="labkit.runbook", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", choices=PROFILES, default="standard")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=7200, help="per-cell timeout in seconds")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing files in --out that this tool did not write")
    args = parser.parse_args(argv)
    if args.timeout < 1:
        parser.error(f"--timeout must be at least 1 second, got {args.timeout}")
    out = args.out or Path("build") / args.profile
    try:
        plan = outputs.plan_outputs(out, args.notebooks, extra=RESULT_FILES, force=args.force)
        out.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=out, prefix=".results.jsonl.", suffix=".tmp")
        os.close(fd)
    except (outputs.RefusedError, OSError) as err:
        return outputs.error(parser.prog, err)
    records_file = Path(scratch)
    rows = []
    try:
        for path, dest in plan.items():
            print(f"running {path} ({args.profile}) ...", flush=True)
            try:
                nb = outputs.read_notebook(path)
            except outputs.BadInputError as err:
                outputs.report(parser.prog, err)
                status, seconds, detail = "FAILED", 0.0, str(err).removeprefix(f"{path}: ")
            else:
                status, seconds, detail = _run(nb, path, args.profile, records_file, args.timeout)
                try:
                    outputs.write_text(dest, outputs.notebook_text(nb), record=True)
                except OSError as err:
                    outputs.report(parser.prog, f"{path}: could not write {dest}: {err}")
                    status, detail = "FAILED", f"executed copy not written: {err}"
            print(f"  {status} in {seconds:.0f} s {detail}", flush=True)
            rows.append((path.name, status, seconds, detail))
        text = records_file.read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        lines = _table(args.profile, rows, records)
        try:
            outputs.write_text(out / "results.jsonl", text, record=True)
            outputs.write_text(out / "results.md", "\n".join(lines) + "\n", record=True)
        except OSError as err:
            outputs.report(parser.prog, f"error: could not write the results in {out}: {err}")
            return 1
    finally:
        records_file.unlink(missing_ok=True)
    print("\n".join(lines))
    return 0 if all(s == "ok" for _, s, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
