"""Checks of notebook 14: right answers pass, placeholders and wrong answers get hints."""
from __future__ import annotations

import pytest

from labkit.checks import ExerciseError
from labkit.checks import sequences as sq


def right(kind, input_dim, units):
    block = units * (input_dim + units) + units
    return {"rnn": block, "lstm": 4 * block, "gru": 3 * (block + units)}[kind]


def one_gru_bias(kind, input_dim, units):   # forgets reset_after's second bias
    block = units * (input_dim + units) + units
    return {"rnn": block, "lstm": 4 * block, "gru": 3 * block}[kind]


def placeholder(kind, input_dim, units):
    raise NotImplementedError()


def test_right_answer_passes(capsys):
    sq.recurrent_params(right)
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (one_gru_bias, "kind='gru'"),
    (lambda k, i, u: u * (i + u), "kind='rnn'"),
    (lambda k, i, u: str(right(k, i, u)), "expected an int"),
])
def test_wrong_answers_get_hints(answer, words):
    with pytest.raises(ExerciseError, match=words) as err:
        sq.recurrent_params(answer)
    assert "Hint:" in str(err.value)
