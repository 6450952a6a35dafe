"""Exercise checks of notebook 14 (sequences and vanishing gradients)."""
from __future__ import annotations

import keras

from labkit.checks import ExerciseError, call_answer, passed

__all__ = ["recurrent_params"]

_HINT = ("a SimpleRNN unit has input weights, recurrent weights and a bias: units*(input_dim + units) + units. "
         "An LSTM has four such sets (input, forget, cell, output); a GRU three (update, reset, candidate), "
         "and Keras' default GRU (reset_after=True) keeps a second bias vector for the recurrent part.")


def _keras_count(kind: str, input_dim: int, units: int) -> int:

    layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind](units)
    layer.build((None, None, input_dim))
    return int(layer.count_params())


def recurrent_params(fn) -> None:
    """Check ``fn(kind, input_dim, units) -> int`` against real Keras layers."""
    ex = "recurrent_params"
    for kind in ("rnn", "lstm", "gru"):
        for input_dim, units in [(1, 16), (8, 64), (3, 5)]:
            got = call_answer(ex, fn, "recurrent_params", (kind, input_dim, units), _HINT)
            if isinstance(got, bool) or not isinstance(got, int) and not hasattr(got, "__index__"):
                raise ExerciseError(ex, f"returned {type(got).__name__} for {kind!r}, expected an int.", _HINT)
            want = _keras_count(kind, input_dim, units)
            if int(got) != want:
                raise ExerciseError(ex, f"for kind={kind!r}, input_dim={input_dim}, units={units} you returned "
                                        f"{int(got)}, Keras counts {want}.", _HINT)
    passed(ex, "matches Keras for SimpleRNN, LSTM and GRU")
