"""Exercise checks of notebook 15 (deploy, monitor, retrain)."""
from __future__ import annotations

import urllib.error

import numpy as np

from labkit.checks import ExerciseError, call_answer, fresh_seed, passed, require_answer
from labkit.serve import PredictionServer

__all__ = ["predict_digits"]

_HINT_CLIENT = ("Scale the uint8 pixels to [0, 1] (/ 255) and add the channel axis ([..., None]) to get "
                "(n, 28, 28, 1); json.dumps({'instances': x.tolist()}).encode(); POST it to url + '/predict' "
                "with urllib.request.Request(..., method='POST', headers={'Content-Type': 'application/json'}) "
                "and urllib.request.urlopen; return np.asarray(json.load(response)['classes']). urlopen raises "
                "urllib.error.HTTPError on a 4xx/5xx answer: catch it, read json.load(err)['error'] and raise "
                "RuntimeError with that message.")
_LABKIT_CLIENT = ("post_json", "get_json")

_HINT_PSI = ("PSI = sum over bins of (q - p) * ln(q / p), where p are the reference fractions and q the "
             "current ones; floor both at eps before the log so empty bins do not give infinities; "
             "return one float.")


class _Recorder:
    """A linear 'model' with fresh weights that records every batch the service hands it."""

    def __init__(self, rng: np.random.Generator):
        self.weights = rng.normal(size=(28 * 28, 10))
        self.batches: list[np.ndarray] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(x))
        return x.reshape(len(x), -1) @ self.weights


def predict_digits(fn, *, seed: int | None = None) -> None:
    """Exercise: ``fn(url, images)`` sends raw uint8 digits (n, 28, 28) to the prediction service at ``url``
    and returns its classes, shape (n,); when the service refuses a request, it raises RuntimeError with
    the service's error message.

    Checked against a real :class:`labkit.serve.PredictionServer` on loopback with a fresh linear model on
    every call (``seed`` replays one): the classes equal the model's, the service received the pixels / 255
    in one request per call, and a batch of the wrong size (32 x 32) is answered by a RuntimeError that
    carries the service's message - not returned, not swallowed.
    """
    ex = "predict_digits"
    seed = fresh_seed(seed)
    tag = f" (replay with seed={seed})"
    require_answer(ex, fn, "predict_digits", _HINT_CLIENT)
    code = getattr(fn, "__code__", None)
    if code is not None and set(code.co_names) & set(_LABKIT_CLIENT):
        raise ExerciseError(ex, "predict_digits calls labkit's post_json/get_json: write the request yourself, "
                                "with urllib.request, so that you see what goes over the wire.", _HINT_CLIENT)
    rng = np.random.default_rng(seed)
    model = _Recorder(rng)
    with PredictionServer(model, input_shape=(28, 28, 1)) as server:
        for _ in range(2):
            n = int(rng.integers(2, 9))
            images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
            model.batches.clear()
            got = call_answer(ex, fn, "predict_digits", (server.url, images.copy()), _HINT_CLIENT)
            want = (images.astype(np.float64)[..., None] / 255.0).reshape(n, -1) @ model.weights
            if len(model.batches) > 1:
                raise ExerciseError(ex, f"predict_digits sent {len(model.batches)} requests for {n} images: send "
                                        "the whole batch in one request (that is what 'instances' is for)." + tag,
                                    _HINT_CLIENT)
            if not model.batches:
                raise ExerciseError(ex, "the service received no request." + tag, _HINT_CLIENT)
            sent = model.batches[0]
            if sent.shape != (n, 28, 28, 1) or not np.allclose(sent, images[..., None] / 255.0, atol=1e-6):
                raise ExerciseError(ex, "the service received other pixels than images / 255." + tag, _HINT_CLIENT)
            try:
                classes = np.asarray(got)
            except Exception:  # noqa: BLE001 - anything unconvertible is a wrong answer
                classes = np.asarray(None)
            if classes.shape == (n, 10):
                raise ExerciseError(ex, "predict_digits returned the logits ('outputs'); return the 'classes'." + tag,
                                    _HINT_CLIENT)
            if classes.shape != (n,) or classes.dtype.kind not in "iu":
                raise ExerciseError(ex, f"predict_digits returned {type(got).__name__} of shape {classes.shape} "
                                        f"and dtype {classes.dtype}, expected {n} integer classes, shape ({n},)."
                                    + tag, _HINT_CLIENT)
            if not np.array_equal(classes, want.argmax(axis=1)):
                raise ExerciseError(ex, "the classes are not the service's answer for these images." + tag,
                                    _HINT_CLIENT)
        wrong = rng.integers(0, 256, (2, 32, 32)).astype(np.uint8)
        try:
            answer = fn(server.url, wrong)
        except urllib.error.HTTPError as err:
            raise ExerciseError(ex, f"for images of 32 x 32 pixels the service answered {err.code} and "
                                    "predict_digits let urllib's HTTPError through: its message "
                                    f"({err}) does not say what was wrong." + tag, _HINT_CLIENT) from None
        except RuntimeError as err:
            if "shape" not in str(err):
                raise ExerciseError(ex, f"for images of 32 x 32 pixels predict_digits raised {err!r:.120} "
                                        "without the service's error message, which names the wrong shape." + tag,
                                    _HINT_CLIENT) from None
        except Exception as err:  # noqa: BLE001 - any other exception is a slip with its own hint
            raise ExerciseError(ex, f"for images of 32 x 32 pixels predict_digits raised {type(err).__name__}: "
                                    f"{str(err)[:120]}; raise RuntimeError with the service's message." + tag,
                                _HINT_CLIENT) from None
        else:
            raise ExerciseError(ex, f"the service refused images of 32 x 32 pixels, yet predict_digits returned "
                                    f"{answer!r:.60}: a refused request must raise RuntimeError, or the caller "
                                    "acts on an answer that is not there." + tag, _HINT_CLIENT)
    passed(ex, "one request per batch, pixels scaled, the service's classes returned and its refusals raised")
