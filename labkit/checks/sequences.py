"""Exercise checks of notebook 14 (sequences and vanishing gradients)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scipy import stats

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer

__all__ = ["chrono_lstm"]

_HINT = ("Build keras.Sequential([keras.Input((None, n_features)), keras.layers.LSTM(units), "
         "keras.layers.Dense(1)]), then set the LSTM's bias (model.layers[0].cell.bias, layout "
         "[input, forget, cell, output], units entries each): draw u = rng.uniform(1, max_lag - 1, units) "
         "with rng = np.random.default_rng(seed), forget bias log(u), input bias -log(u), cell and output "
         "bias 0; bias.assign(b).")
_KERAS_DEFAULT = "Keras' default gate biases (forget 1, the rest 0)"


def _ratio(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """RMS over the batch of dL/dx_0 over that of dL/dx_(T-1), summed over the features."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(y[:, None], model(x), from_logits=True))
    g = tape.gradient(loss, x).numpy()
    rms = np.sqrt((g ** 2).sum(axis=-1).mean(axis=0))
    return float(rms[0] / rms[-1])


def _structure(ex: str, model, units: int, n_features: int, tag: str) -> keras.layers.LSTM:
    """The model's one LSTM layer, after checking the layers around it; a hint for each slip."""
    if not isinstance(model, keras.Model):
        raise ExerciseError(ex, f"chrono_lstm returned {type(model).__name__}, expected a keras.Model." + tag, _HINT)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    if len(lstms) != 1:
        raise ExerciseError(ex, f"the model has {len(lstms)} LSTM layers, expected one." + tag, _HINT)
    lstm = lstms[0]
    if lstm.units != units:
        raise ExerciseError(ex, f"the LSTM has {lstm.units} units, expected units={units}." + tag, _HINT)
    if lstm.return_sequences:
        raise ExerciseError(ex, "the LSTM returns the whole sequence; the classifier needs only its last "
                                "state (return_sequences=False, Keras' default)." + tag, _HINT)
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or head.units != 1:
        raise ExerciseError(ex, "the model should end in Dense(1), one logit." + tag, _HINT)
    if head.activation is not keras.activations.linear:
        raise ExerciseError(ex, f"the last layer applies {head.activation.__name__}; it should output a logit "
                                "(no activation): the loss is compiled with from_logits=True." + tag, _HINT)
    for length in (3, 7):
        try:
            out = model(np.zeros((2, length, n_features), "float32"))
        except Exception as err:  # noqa: BLE001 - a wrong input shape is the typical cause
            raise ExerciseError(ex, f"the model cannot read sequences of {length} steps with n_features="
                                    f"{n_features} ({type(err).__name__}). Its input should be "
                                    f"keras.Input((None, n_features)): any length." + tag, _HINT) from None
        if tuple(out.shape) != (2, 1):
            raise ExerciseError(ex, f"on a batch of 2 sequences the model returns shape {tuple(out.shape)}, "
                                    "expected (2, 1)." + tag, _HINT)
    return lstm


def _biases(ex: str, lstm, units: int, max_lag: int, tag: str) -> np.ndarray:
    """The forget biases, after checking the four blocks of the bias vector."""
    b = np.asarray(lstm.cell.bias.numpy(), dtype=np.float64)
    i, f, c, o = (b[k * units:(k + 1) * units] for k in range(4))
    top = np.log(max_lag - 1)
    if np.allclose(f, 1.0) and np.allclose(i, 0.0):
        raise ExerciseError(ex, f"the LSTM still has {_KERAS_DEFAULT}: set the chrono biases." + tag, _HINT)
    if np.all((i >= -1e-6) & (i <= top + 1e-5)) and np.allclose(f, -i, atol=1e-6) and not np.allclose(i, 0):
        raise ExerciseError(ex, "the forget and input biases are swapped: Keras' LSTM bias is laid out as "
                                "[input, forget, cell, output], so the forget gate is b[units:2*units]." + tag,
                            _HINT)
    if not (np.allclose(c, 0.0, atol=1e-6) and np.allclose(o, 0.0, atol=1e-6)):
        raise ExerciseError(ex, "the cell and output biases (b[2*units:]) should stay 0: chrono initialisation "
                                "sets only the forget and input gates." + tag, _HINT)
    if np.ptp(f) < 1e-6:
        raise ExerciseError(ex, f"every unit has the same forget bias ({f[0]:.3g}); chrono initialisation draws "
                                "one per unit, so that the units' memories span lags from 1 to max_lag." + tag,
                            _HINT)
    if f.max() > top + 1e-5 or f.min() < -1e-6:
        if f.min() >= 1 - 1e-5 and f.max() <= max_lag - 1 + 1e-4:
            raise ExerciseError(ex, "the forget biases look like u itself: the bias is log(u)." + tag, _HINT)
        raise ExerciseError(ex, f"forget biases range over [{f.min():.3g}, {f.max():.3g}]; log(u) with u in "
                                f"[1, max_lag - 1] lies in [0, {top:.3g}]." + tag, _HINT)
    if not np.allclose(i, -f, atol=1e-6):
        if np.allclose(i, f, atol=1e-6):
            raise ExerciseError(ex, "the input bias equals the forget bias; it is its negative, -log(u), so that "
                                    "the input gate starts nearly shut." + tag, _HINT)
        raise ExerciseError(ex, "the input bias should be the negative of the forget bias, unit by unit." + tag,
                            _HINT)
    return f


def chrono_lstm(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(units, max_lag, n_features, seed)`` -> Sequential LSTM(units) + Dense(1) whose LSTM bias
    is chrono-initialised (Tallec & Ollivier 2018): forget log(u), input -log(u), u ~ U[1, max_lag - 1].

    Checked on fresh sizes on every call (``seed`` replays one): the layers, the four bias blocks, that u
    follows U[1, max_lag - 1] (Kolmogorov-Smirnov on 512 units), that the answer's ``seed`` decides the
    draw, and behaviour: at initialisation the gradient with respect to the first step of a max_lag-step
    sequence (60 to 200 steps), relative to the last step's, is at least 10x that of the same weights with
    Keras' default gates.
    """
    ex = "chrono_lstm"
    seed = fresh_seed(seed)
    tag = f" (replay with seed={seed})"
    require_answer(ex, fn, "chrono_lstm", _HINT)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        units, max_lag, n_features = int(rng.integers(8, 25)), int(rng.integers(60, 201)), int(rng.integers(1, 5))
        their_seed = int(rng.integers(0, 2 ** 31))
        keras.utils.set_random_seed(their_seed)
        model = call_answer(ex, fn, "chrono_lstm", (units, max_lag, n_features, their_seed), _HINT)
        call = f" for chrono_lstm({units}, {max_lag}, {n_features}, seed={their_seed})"
        lstm = _structure(ex, model, units, n_features, call + tag)
        f = _biases(ex, lstm, units, max_lag, call + tag)
        again = call_answer(ex, fn, "chrono_lstm", (units, max_lag, n_features, their_seed), _HINT)
        other = call_answer(ex, fn, "chrono_lstm", (units, max_lag, n_features, their_seed + 1), _HINT)
        f_again = _biases(ex, _structure(ex, again, units, n_features, call + tag), units, max_lag, call + tag)
        f_other = _biases(ex, _structure(ex, other, units, n_features, call + tag), units, max_lag, call + tag)
        if not np.allclose(f, f_again):
            raise ExerciseError(ex, "two calls with the same seed gave different biases: draw them with "
                                    "np.random.default_rng(seed)." + call + tag, _HINT)
        if np.allclose(f, f_other):
            raise ExerciseError(ex, "calls with different seeds gave the same biases: the draw should come from "
                                    "np.random.default_rng(seed)." + call + tag, _HINT)
        x = rng.uniform(-1, 1, (64, max_lag, n_features)).astype("float32")
        y = rng.integers(0, 2, 64).astype("float32")
        theirs = _ratio(model, x, y)
        b = lstm.cell.bias.numpy()
        default = np.zeros_like(b)
        default[units:2 * units] = 1.0
        lstm.cell.bias.assign(default)
        keras_gates = _ratio(model, x, y)
        lstm.cell.bias.assign(b)
        if not theirs >= 10 * keras_gates:
            raise ExerciseError(ex, f"at initialisation your model passes {theirs:.1e} of the last step's gradient "
                                    f"back to step 0 of {max_lag}, {_KERAS_DEFAULT} {keras_gates:.1e}; chrono "
                                    "initialisation should keep at least 10x more." + call + tag, _HINT)
    big = call_answer(ex, fn, "chrono_lstm", (512, 100, 1, seed % 2 ** 31), _HINT)
    f = _biases(ex, _structure(ex, big, 512, 1, tag), 512, 100, " for chrono_lstm(512, 100, 1)" + tag)
    u = np.exp(f)
    if stats.kstest(u, stats.uniform(loc=1, scale=98).cdf).pvalue < 1e-6:
        loguniform = stats.kstest(u, stats.loguniform(1, 99).cdf).pvalue >= 1e-6
        raise ExerciseError(ex, "exp(forget bias) should be uniform on [1, max_lag - 1]"
                                + (", but it is log-uniform: draw u uniformly, then take log(u)" if loguniform
                                   else f" (Kolmogorov-Smirnov test on 512 units: median {np.median(u):.3g}, "
                                        "expected about 50 for max_lag=100)") + "." + tag, _HINT)
    passed(ex, f"forget biases span [0, log(max_lag - 1)]; at step 0 of {max_lag} steps your model keeps "
               f"{theirs:.1e} of the gradient, Keras' default gates {keras_gates:.1e}")
