"""Checks of notebook 14: the chrono-initialised LSTM passes; each typical slip gets its hint."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import sequences as sq


def build(units, max_lag, n_features=2, seed=0, *, u=None, forget=np.log, input_sign=-1.0, cell=0.0,
          head=None, recurrent=None, layout_swap=False):
    """A chrono LSTM classifier; each keyword swaps in one typical slip."""
    model = keras.Sequential([keras.Input((None, n_features)), recurrent or keras.layers.LSTM(units),
                              head or keras.layers.Dense(1)])
    draw = np.random.default_rng(seed).uniform(1, max_lag - 1, units) if u is None else u(seed, units, max_lag)
    b = np.zeros(4 * units, "float32")
    f_slice, i_slice = (slice(0, units), slice(units, 2 * units)) if layout_swap else \
        (slice(units, 2 * units), slice(0, units))
    b[f_slice] = forget(draw)
    b[i_slice] = input_sign * forget(draw)
    b[2 * units:] = cell
    model.layers[0].cell.bias.assign(b)
    return model


def keras_default(units, max_lag, n_features=2, seed=0):
    return keras.Sequential([keras.Input((None, n_features)), keras.layers.LSTM(units), keras.layers.Dense(1)])


def placeholder(units, max_lag, n_features=2, seed=0):
    raise NotImplementedError()


def test_right_answer_passes_on_fresh_cases(capsys):
    seen = []

    def spy(units, max_lag, n_features=2, seed=0):
        seen.append((units, max_lag, n_features))
        return build(units, max_lag, n_features, seed)

    for seed in (0, None):
        sq.chrono_lstm(spy, seed=seed)
    assert "correct" in capsys.readouterr().out
    assert len({s for s in seen if s[0] != 512}) >= 3, seen


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (keras_default, "default gate biases"),
    (lambda *a: build(*a, layout_swap=True), "swapped"),
    (lambda *a: build(*a, input_sign=1.0), "equals the forget bias"),
    (lambda *a: build(*a, input_sign=0.0), "negative of the forget bias"),
    (lambda *a: build(*a, cell=1.0), "cell and output biases"),
    (lambda *a: build(*a, forget=lambda u: u), "u itself"),
    (lambda *a: build(*a, forget=lambda u: np.full_like(u, 4.0)), "same forget bias"),
    # u log-uniform instead of uniform: rng.uniform(0, log(max_lag - 1)) for the bias
    (lambda *a: build(*a, u=lambda s, n, lag: np.exp(np.random.default_rng(s).uniform(0, np.log(lag - 1), n))),
     "log-uniform"),
    (lambda units, lag, nf, seed: build(units, lag, nf, 0), "different seeds"),
    (lambda units, lag, nf, seed: build(units, lag, nf, None), "same seed"),
    (lambda units, lag, nf, seed: build(units, lag, nf, seed, head=keras.layers.Dense(1, activation="sigmoid")),
     "logit"),
    (lambda units, lag, nf, seed: build(units, lag, nf, seed, head=keras.layers.Dense(2)), "Dense\\(1\\)"),
    (lambda units, lag, nf, seed: build(units + 1, lag, nf, seed), "units="),
    (lambda units, lag, nf, seed: build(16 if units != 16 else 17, lag, nf, seed), "units="),   # hard-coded
    (lambda units, lag, nf, seed: build(units, lag, 2, seed) if nf != 2 else build(units, lag, 3, seed),
     "n_features"),
    (lambda *a: "model", "expected a keras.Model"),
])
def test_wrong_answers_get_hints(answer, words):
    for seed in (1, None):
        with pytest.raises(ExerciseError, match=words) as err:
            sq.chrono_lstm(answer, seed=seed)
        assert "Hint:" in str(err.value)


def test_exercise_cells_student_fails_solution_passes():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("14_sequences.ipynb", "sequences", {"keras": keras},
                                                 min_exercises=1)
