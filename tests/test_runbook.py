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


def test_each_notebook_kernel_is_gone_before_the_next_notebook_runs(tmp_path, monkeypatch):
    """Every kernel writes its process id; when the run is over, none of those processes is alive."""
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    pids = tmp_path / "pids.txt"
    for name in ("01_a", "02_b", "03_c"):
        _nb(tmp_path / f"{name}.ipynb",
            f"import os\nwith open({str(pids)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')")
    code = runbook.main([str(tmp_path / f"{n}.ipynb") for n in ("01_a", "02_b", "03_c")]
                        + ["--profile", "quick", "--out", str(tmp_path / "out"), "--timeout", "120"])
    assert code == 0
    kernels = [int(line) for line in pids.read_text().split()]
    assert len(set(kernels)) == 3, "one kernel per notebook"
    alive = [pid for pid in kernels if _alive(pid)]
    assert not alive, f"kernels still running after their notebook finished: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:         # a zombie (exited, not yet reaped) is not running
        return f.read().split(") ")[-1].split()[0] != "Z"


# --------------------------------------------------------------------------- where it writes
# The rule (labkit.outputs): never write into a folder that holds an input, never overwrite
# a file the runner did not write (unless --force), report a bad notebook and go on.
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cli_refuses_to_write_into_the_folder_of_its_inputs(tmp_path):
    """Failure 3: --out notebooks replaced the source and the folder's results files."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _nb(nbs / "x.ipynb", "print('hello')")
    (nbs / "results.jsonl").write_text('{"key": "mine", "value": 1}\n')
    (nbs / "results.md").write_text("# my results\n")
    before = {name: (nbs / name).read_bytes() for name in _files(nbs)}
    run = subprocess.run([sys.executable, "-m", "labkit.runbook", "--profile", "quick", "--out", "notebooks",
                          "notebooks/x.ipynb"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "notebooks" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert {name: (nbs / name).read_bytes() for name in _files(nbs)} == before


def test_cli_refuses_existing_results_and_duplicate_names_before_running(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _nb(tmp_path / "a" / "x.ipynb", "print(1)")
    _nb(tmp_path / "b" / "x.ipynb", "print(2)")
    out = tmp_path / "out"
    assert runbook.main([str(tmp_path / "a" / "x.ipynb"), str(tmp_path / "b" / "x.ipynb"),
                         "--out", str(out)]) == 2
    assert [p for p in _files(out) if not p.startswith(".")] == []
    out.mkdir(exist_ok=True)
    (out / "results.md").write_text("# kept by hand\n")
    assert runbook.main([str(tmp_path / "a" / "x.ipynb"), "--out", str(out)]) == 2
    assert (out / "results.md").read_text() == "# kept by hand\n"
    assert [p for p in _files(out) if not p.startswith(".")] == ["results.md"]
    assert "--force" in capsys.readouterr().err


def test_a_bad_notebook_is_reported_and_the_others_still_get_results(tmp_path, monkeypatch, capsys):
    """Failure 4: invalid JSON aborted the run with no results.md at all."""
    monkeypatch.delenv("LABKIT_RESULTS", raising=False)
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    _nb(good, "import labkit; labkit.record('demo.x', 3)")
    bad.write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "out"
    assert runbook.main([str(good), str(bad), "--profile", "quick", "--out", str(out), "--timeout", "120"]) == 1
    assert "02_bad.ipynb" in capsys.readouterr().err
    table = (out / "results.md").read_text()
    assert "| 01_good.ipynb | ok |" in table and "| 02_bad.ipynb | FAILED |" in table
    assert "not a valid notebook" in table and "| demo.x | 3 |" in table
    assert [json.loads(line)["key"] for line in (out / "results.jsonl").read_text().splitlines()] == ["demo.x"]
    assert [p for p in _files(out) if not p.startswith(".")] == ["01_good.ipynb", "results.jsonl", "results.md"]
    assert [p for p in _files(out) if p.endswith(".tmp")] == []
    # a rerun may replace what the runner wrote itself (no kernel: the only input is bad) ...
    assert runbook.main([str(bad), "--profile", "quick", "--out", str(out)]) == 1
    assert "01_good.ipynb" not in (out / "results.md").read_text()
    assert (out / "results.jsonl").read_text() == ""
    # ... but not a results table someone has edited since
    (out / "results.md").write_text("# annotated by hand\n")
    assert runbook.main([str(bad), "--profile", "quick", "--out", str(out)]) == 2
    assert (out / "results.md").read_text() == "# annotated by hand\n"


@pytest.mark.parametrize("kwargs, error, name", [
    ({"profile": "fast"}, ValueError, "profile"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"timeout": 1.5}, TypeError, "timeout"),
    ({"out_dir": 3}, TypeError, "out_dir"),
])
def test_run_one_validates_its_arguments(tmp_path, kwargs, error, name):
    args = {"path": tmp_path / "x.ipynb", "out_dir": tmp_path / "out", "profile": "quick",
            "results": tmp_path / "r.jsonl", "timeout": 60, **kwargs}
    with pytest.raises(error, match=rf"\b{name}\b"):
        runbook.run_one(**args)
