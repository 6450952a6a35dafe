"""The headless runner executes notebooks, gathers labkit.record results, reports failures."""
from __future__ import annotations

import json
import os

import nbformat

from labkit import runbook


def _nb(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_runbook_writes_executed_copies_and_a_results_table(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    _nb(good, "import labkit", "labkit.record('demo.answer', 0.5 + 0.25)", "print(labkit.active_profile())")
    _nb(bad, "raise RuntimeError('boom')")
    out = tmp_path / "out"
    monkeypatch.setenv("LABKIT_PROFILE", "full")
    code = runbook.main([str(good), str(bad), "--profile", "quick", "--out", str(out), "--timeout", "120"])
    assert os.environ["LABKIT_PROFILE"] == "full", "the runner must not change its own environment"
    assert code == 1, "a failing notebook makes the run fail"
    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["text"].strip() == "quick"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows == [{"key": "demo.answer", "value": 0.75, "profile": "quick", "time": rows[0]["time"]}]
    table = (out / "results.md").read_text()
    assert "| 01_good.ipynb | ok |" in table and "| 02_bad.ipynb | FAILED |" in table
    assert "| demo.answer | 0.75 |" in table and "boom" in table
