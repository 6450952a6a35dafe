"""A failed lesson says so: a note on every assertion a notebook's experiment raises.

A notebook asserts its lessons with plain ``assert`` statements, whose messages say what was
expected and what was measured. Inside an IPython kernel, :func:`note_failed_lessons` makes every
such ``AssertionError`` carry one more line (PEP 678's ``add_note``): that the lesson did not hold
on this run, and where README says what to do. An exercise check's ``ExerciseError`` (also an
``AssertionError``) is left as it is: its message is a hint about the learner's answer, not about
the lesson. ``import labkit`` installs the note in a kernel; elsewhere it does nothing.

Why labkit keeps its own: IPython offers the hook (``InteractiveShell.set_custom_exc``), not the
workbook's message.
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["LESSON_NOTE", "note_failed_lessons"]

LESSON_NOTE = ("The lesson did not hold on this run: the message above says what was expected and what was "
               "measured. See README, 'When a check or a lesson fails'.")


def _exercise_error() -> type:
    from labkit.checks import ExerciseError

    return ExerciseError


def _show_with_note(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    """IPython custom-exception handler: add the note to a lesson's AssertionError, then show it."""
    if isinstance(value, AssertionError) and not isinstance(value, _exercise_error()) \
            and LESSON_NOTE not in getattr(value, "__notes__", ()):
        value.add_note(LESSON_NOTE)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def note_failed_lessons(shell: Any = None) -> bool:
    """Install the note in ``shell`` (default: the running IPython shell). Returns whether it was installed.

    Raises TypeError when ``shell`` is given and is not an IPython shell.
    """
    if shell is None:
        ipython = sys.modules.get("IPython")     # a kernel has imported it; a plain script need not
        shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
        if shell is None:
            return False
    if not callable(getattr(shell, "set_custom_exc", None)):
        raise TypeError(f"shell must be an IPython InteractiveShell, got {type(shell).__name__}.")
    shell.set_custom_exc((AssertionError,), _show_with_note)
    return True
