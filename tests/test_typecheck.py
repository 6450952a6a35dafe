"""The package's type hints hold: mypy, configured by [tool.mypy] in pyproject.toml, finds nothing in labkit."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed in this environment (pip install mypy to run the type check)")
def test_mypy_finds_nothing(tmp_path):
    # No arguments: the files and options are [tool.mypy]'s. A fresh cache in tmp_path: the
    # whole package is checked every time, and the working tree gets no .mypy_cache.
    run = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache")],
                         cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"mypy exited {run.returncode}:\n{run.stdout[-8000:]}{run.stderr[-2000:]}", pytrace=False)
