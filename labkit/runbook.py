"""Execute notebooks headless in one profile; write executed copies and a results table.

``python -m labkit.runbook --profile standard --out build/standard notebooks/*.ipynb``

For each notebook: runs it top to bottom with nbclient in ``notebooks/`` as the
working directory, with ``LABKIT_PROFILE`` set and ``LABKIT_RESULTS`` pointing at
``<out>/results.jsonl`` (so every ``labkit.record`` lands there), saves the executed
copy under ``<out>/``, and times it. Ends with ``<out>/results.md``: one row per
notebook (status, seconds) and one row per recorded number. Exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.profiles import PROFILES


def run_one(path: Path, out_dir: Path, profile: str, results: Path, timeout: int) -> tuple[str, float, str]:
    nb = nbformat.read(path, as_version=4)
    env = {"LABKIT_PROFILE": profile, "LABKIT_RESULTS": str(results.resolve()), "LABKIT_NOTEBOOK": path.stem}
    with kernel_env(env):
        return _execute(nb, path, out_dir, timeout)


@contextmanager
def kernel_env(values: dict[str, str]):
    """Set environment variables for kernels started inside the block, then restore."""
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


def _execute(nb, path: Path, out_dir: Path, timeout: int) -> tuple[str, float, str]:
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    start = time.perf_counter()
    status, detail = "ok", ""
    try:
        client.execute()
    except CellExecutionError as err:
        status, detail = "FAILED", str(err).strip().splitlines()[-1][:200]
    except Exception as err:  # noqa: BLE001 - a kernel death is a failure to report, not a crash
        status, detail = "FAILED", f"{type(err).__name__}: {err}"[:200]
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)
    return status, seconds, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", choices=PROFILES, default="standard")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--timeout", type=int, default=7200, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    out = args.out or Path("build") / args.profile
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    results.unlink(missing_ok=True)
    rows = []
    for path in args.notebooks:
        print(f"running {path} ({args.profile}) ...", flush=True)
        status, seconds, detail = run_one(path, out, args.profile, results, args.timeout)
        print(f"  {status} in {seconds:.0f} s {detail}", flush=True)
        rows.append((path.name, status, seconds, detail))
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    lines = [f"# Workbook run - profile `{args.profile}`", "",
             "| notebook | status | seconds | note |", "|---|---|---|---|"]
    lines += [f"| {n} | {s} | {t:.0f} | {d} |" for n, s, t, d in rows]
    lines += ["", "| result | value |", "|---|---|"]
    lines += [f"| {r['key']} | {r['value']:.4g} |" if isinstance(r["value"], float) else f"| {r['key']} | {r['value']} |"
              for r in records]
    (out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if all(s == "ok" for _, s, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
