"""A lesson's failed assert carries the README note in a real IPython shell; a check's hint does not."""
from __future__ import annotations

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from labkit.checks import ExerciseError
from labkit.lessons import LESSON_NOTE, note_failed_lessons


@pytest.fixture()
def shell():
    sh = InteractiveShell.instance()
    assert note_failed_lessons(sh)
    yield sh
    sh.set_custom_exc((), None)


def _error(shell, source: str) -> BaseException:
    result = shell.run_cell(source)
    assert result.error_in_exec is not None, "the cell should have raised"
    return result.error_in_exec


def test_a_failed_lesson_carries_the_note_once(shell, capsys):
    err = _error(shell, "assert 0.97 >= 0.99, 'the CNN reached 0.970, below the bar 0.99'")
    assert isinstance(err, AssertionError) and err.__notes__ == [LESSON_NOTE]
    out = capsys.readouterr().out
    assert "below the bar 0.99" in out and "When a check or a lesson fails" in out


def test_a_check_and_other_errors_are_left_alone(shell):
    shell.user_ns["ExerciseError"] = ExerciseError
    for source, kind in [("raise ExerciseError('ex', 'wrong', 'a hint')", ExerciseError), ("1 / 0", ZeroDivisionError)]:
        err = _error(shell, source)
        assert isinstance(err, kind) and not getattr(err, "__notes__", None)


def test_outside_ipython_nothing_is_installed_and_a_wrong_shell_is_refused():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import sys, labkit; print('IPython' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", "importing labkit outside a kernel should not import IPython"
    with pytest.raises(TypeError, match="IPython"):
        note_failed_lessons(object())


@pytest.mark.slow
def test_in_a_real_kernel_a_failed_lesson_says_so(tmp_path):
    import nbclient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import labkit\nfrom labkit.checks import ExerciseError"),
        nbformat.v4.new_code_cell("raise ExerciseError('ex', 'wrong', 'a hint')"),
        nbformat.v4.new_code_cell("assert 0.5 >= 0.9, 'the CNN reached 0.5, below the bar 0.9'")])
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    check, lesson = (cell.outputs[-1] for cell in nb.cells[1:])
    assert check.output_type == lesson.output_type == "error"
    assert check.ename == "ExerciseError" and not any("did not hold" in line for line in check.traceback)
    assert lesson.ename == "AssertionError" and any("did not hold" in line for line in lesson.traceback)
