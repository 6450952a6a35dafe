"""labkit.nbtools.refresh: a real kernel runs the notebook in the chosen profile; only checked cells keep outputs.

Runs ``python -m labkit.nbtools refresh`` (and ``refresh(..., profile=...)``) in a fresh
process on a tiny notebook; the oracle is the notebook file read back with nbformat and
``nbtools check`` (what ``clean`` would change: nothing).
"""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

from labkit import nbtools

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.multiprocess


def _tiny(path):
    cells = [
        nbformat.v4.new_markdown_cell("# Tiny"),
        nbformat.v4.new_code_cell('import os, sys\nprint("scratch output, not kept")'),
        nbformat.v4.new_code_cell(f'{nbtools.CHECK_MARK}\nprint(os.environ["LABKIT_PROFILE"])\n'
                                  'print("noise", file=sys.stderr)'),
        nbformat.v4.new_code_cell(f'{nbtools.CHECK_MARK}\nprint(open("beside.txt").read().strip())'),
        nbformat.v4.new_code_cell(f"{nbtools.CHECK_MARK}\n6 * 7"),
    ]
    for i, c in enumerate(cells):
        c.id = f"c{i}"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "LABKIT_PROFILE"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def _streams(cell):
    return [(o["name"], o["text"]) for o in cell.outputs if o["output_type"] == "stream"]


def test_refresh_stores_only_checked_outputs_from_the_quick_profile_and_reports_a_failing_notebook(tmp_path):
    good, bad = tmp_path / "01_tiny.ipynb", tmp_path / "02_bad.ipynb"
    _tiny(good)
    (tmp_path / "beside.txt").write_text("read from the notebook's folder\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('raise RuntimeError("boom")')]), bad)
    bad_before = bad.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()   # the command runs from another folder: the kernel must still start in the notebook's

    run = _run(["-m", "labkit.nbtools", "refresh", str(good), str(bad)], cwd=elsewhere)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"refreshed: {good}" in run.stdout
    assert f"{bad}: not refreshed" in run.stderr and "boom" in run.stderr
    assert bad.read_bytes() == bad_before, "a notebook that failed must be left as it was"

    nb = nbformat.read(good, as_version=4)
    assert [c.id for c in nb.cells] == [f"c{i}" for i in range(5)]
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert _streams(nb.cells[2]) == [("stdout", "quick\n")], "the quick profile, and no stderr"
    assert _streams(nb.cells[3]) == [("stdout", "read from the notebook's folder\n")]
    (result,) = nb.cells[4].outputs
    assert result["output_type"] == "execute_result" and result["data"]["text/plain"] == "42"
    assert all(c.execution_count == 1 for c in nb.cells[2:]), "execution counts are normalised"
    assert nbtools.main(["check", str(good)]) == 0, "refresh must write a clean notebook"

    # another profile replaces the stored outputs (it does not append to them)
    again = _run(["-c", "import sys; from pathlib import Path; from labkit.nbtools import refresh; "
                        "refresh(Path(sys.argv[1]), profile='full')", str(good)], cwd=elsewhere)
    assert again.returncode == 0, again.stderr[-3000:]
    nb = nbformat.read(good, as_version=4)
    assert _streams(nb.cells[2]) == [("stdout", "full\n")]
    assert nbtools.main(["check", str(good)]) == 0
