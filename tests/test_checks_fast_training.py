"""labkit.checks.fast_training: the TTA check accepts right answers and names each typical slip."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import fast_training as check


def _right(model, x):
    return 0.5 * (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0))


def _in_place(model, x):
    a = model.predict(x, verbose=0)
    x[:] = x[:, :, ::-1]
    return 0.5 * (a + model.predict(x, verbose=0))


def _not_written(model, x):
    raise NotImplementedError


@pytest.mark.parametrize("answer", [
    _right,
    lambda m, x: (m(x) + m(np.flip(x, axis=2))) / 2,                      # a tensor, called directly
    lambda m, x: np.mean([m.predict(v, verbose=0) for v in (x, x[:, :, ::-1].copy())], axis=0),
], ids=["predict", "call + np.flip", "mean of a list"])
def test_right_answers_pass(answer, capsys):
    check.flip_tta(answer, seed=0)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("seed", range(3))
def test_a_hard_coded_answer_fails_on_fresh_cases(seed):
    """An answer copied from one call's output fails the next call, which draws other images."""
    seen = {}

    def spy(model, x):
        seen["out"] = _right(model, x)
        return seen["out"]

    check.flip_tta(spy, seed=seed)
    frozen = seen["out"]
    with pytest.raises(ExerciseError):
        check.flip_tta(lambda m, x: frozen, seed=seed + 100)


@pytest.mark.parametrize("wrong, hint", [
    (None, "no answer|None"),
    (_not_written, "not written"),
    (lambda m, x: None, "return"),
    (lambda m, x: 0.5 * (m.predict(x, verbose=0) + m.predict(x[:, ::-1], verbose=0)), "upside down"),
    (lambda m, x: 0.5 * (m.predict(x, verbose=0) + m.predict(x[..., ::-1], verbose=0)), "colour channels"),
    (lambda m, x: m.predict(x, verbose=0) + m.predict(x[:, :, ::-1], verbose=0), "sum"),
    (lambda m, x: m.predict(x, verbose=0), "mirror is missing"),
    (lambda m, x: m.predict(x[:, :, ::-1], verbose=0), "mirrors only"),
    (lambda m, x: 0.5 * (_softmax(m.predict(x, verbose=0)) + _softmax(m.predict(x[:, :, ::-1], verbose=0))),
     "probabilities"),
    (lambda m, x: _right(m, x).argmax(1), "class labels"),
    (_in_place, "in place"),
    (lambda m, x: _right(m, x) + 0.1, "differ"),
    (lambda m, x: _right(m, x)[:, :2], "shape"),
])
def test_wrong_answers_get_their_hint(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        check.flip_tta(wrong, seed=1)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_notebook_exercise_fails_as_the_student_version_and_passes_as_the_solution():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("07_training_fast.ipynb", "fast_training", {}, min_exercises=1)
