"""Every bad input in tools/probe_inputs.py gets a clear error: the expected TypeError or
ValueError, raised by labkit itself, naming the argument - never a silent wrong result,
a NumPy/TensorFlow traceback or a message that leaves the user guessing."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "tools" / "probe_inputs.py"
_spec = importlib.util.spec_from_file_location("probe_inputs", _PATH)
probe = importlib.util.module_from_spec(_spec)
sys.modules["probe_inputs"] = probe
_spec.loader.exec_module(probe)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    probe.warm_up()  # fonts, TF and the tiny models load here, not inside the first case
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_the_table_covers_the_brief():
    ids = {c.id for c in probe.CASES}
    assert len(probe.CASES) >= 254
    for must in ("curves.error_rate: 2 labels, 3 output rows", "curves.error_rate: string labels",
                 "curves.cross_entropy: label -1", "curves.cross_entropy: fractional labels",
                 "monitor.DriftDetector: psi with bins=1", "callbacks.dead_fraction: 0 rows",
                 "scratch.entropy: values outside [0, 1]"):
        assert must in ids, must
    assert {c.expect for c in probe.CASES} == {TypeError, ValueError}


@pytest.mark.parametrize("case", probe.CASES, ids=[c.id for c in probe.CASES])
def test_bad_input_gets_a_clear_error(case):
    outcome, detail = probe.classify(case)
    assert outcome == "clear", f"{outcome}: {detail} (expected {case.expect.__name__} naming {case.arg!r})"


# --------------------------------------------------------------------------- the classifier itself
def _case(call, arg="x", expect=ValueError):
    return probe.Case("synthetic", call, arg, expect)


def _labkit_error(kind, message):
    from labkit import validation

    def call():
        if kind is TypeError:
            validation.check_int("3", message)
        validation.check_int(0, message, min_val=1)
    return call


def test_classify_tells_the_outcomes_apart():
    assert probe.classify(_case(lambda: 0.5))[0] == "silent"
    assert probe.classify(_case(_labkit_error(ValueError, "x")))[0] == "clear"
    # raised deep in NumPy, although the message happens to say "x"
    outcome, detail = probe.classify(_case(lambda: np.zeros(2).reshape(3)))
    assert outcome == "unclear" and "outside labkit" in detail
    # raised by labkit but naming another argument
    outcome, detail = probe.classify(_case(_labkit_error(ValueError, "y")))
    assert outcome == "unclear" and "does not name 'x'" in detail
    # the wrong exception class: a wrong type must be a TypeError
    outcome, detail = probe.classify(_case(_labkit_error(ValueError, "x"), expect=TypeError))
    assert outcome == "unclear" and "expected TypeError" in detail
    assert probe.classify(_case(_labkit_error(TypeError, "x"), expect=TypeError))[0] == "clear"


def test_classify_sees_a_figure_left_behind_by_a_failed_call():
    import matplotlib.pyplot as plt

    def draws_then_fails():
        plt.figure()
        _labkit_error(ValueError, "x")()

    outcome, detail = probe.classify(_case(draws_then_fails))
    assert outcome == "leak" and "figure" in detail
    assert probe.classify(_case(lambda: plt.figure()))[0] == "silent"  # a returned figure is the result
    plt.close("all")


def test_names_is_a_word_match():
    assert probe._names("x has 3 rows", "x") and probe._names("h['loss'] must hold numbers", "h")
    assert not probe._names("the maximum is 3", "x") and not probe._names("y_true has 2", "y")
