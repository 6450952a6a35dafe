"""Checks that start from fixed example inputs also draw fresh random ones on each call.

The loophole each test submits: an answer that is right on exactly the inputs it has seen (a
lookup table recorded while a right answer passed the check once, as a learner could paste the
check's expected values) and wrong on any other input. It must fail, naming the seed, when the
check draws another seed; a right answer must pass on that seed too.
"""
from __future__ import annotations

import numpy as np
import pytest

from labkit import filters
from labkit import scratch as ref
from labkit.checks import ExerciseError, backprop, cifar10, diagnosis, forward, open_problems, transfer
from labkit.checks import activations as act


def _key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(_key(v) for v in value))
    if callable(value):
        return ("fn", getattr(value, "__name__", repr(value)))
    return ("value", value)


def _spoil(value):
    """A wrong answer of the same form: every number changed."""
    if isinstance(value, dict):
        return {k: _spoil(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_spoil(v) for v in value)
    return np.asarray(value, dtype=np.float64) * 1.5 + 1.0


def _memorised(right):
    """(recorder, lookup): the recorder answers right and remembers its inputs; lookup answers right on
    remembered inputs only."""
    seen: set = set()

    def recorder(*args):
        seen.add(_key(args))
        return right(*args)

    def lookup(*args):
        answer = right(*args)
        return answer if _key(args) in seen else _spoil(answer)

    return recorder, lookup


def _dense(a, W, b, g):
    return g(a @ W + b)


def _collapse(layers):
    W, b = layers[0]
    for Wk, bk in layers[1:]:
        W, b = W @ Wk, b @ Wk + bk
    return W, b


def _ceiling(rate, counts):
    total = sum(counts.values())
    return {c: rate * n / total for c, n in counts.items()}


def _cam(feats, grads):
    return np.maximum((grads.mean(axis=(1, 2), keepdims=True) * feats).sum(axis=-1), 0)


CHECKS = [
    (forward.dense_loop, _dense),
    (forward.dense, _dense),
    (forward.sequential, ref.sequential),
    (act.leaky_relu, lambda z, alpha: np.where(z > 0, z, alpha * z)),
    (act.collapse_linear, _collapse),
    (act.softmax, ref.softmax),
    (backprop.cross_entropy, ref.cross_entropy_from_logits),
    (backprop.backward, ref.two_layer_backward),
    (backprop.soft_threshold, ref.soft_threshold),
    (diagnosis.error_ceiling, _ceiling),
    (cifar10.conv_flops, lambda h, w, k, cin, cout: 2 * h * w * k * k * cin * cout),
    (cifar10.cam_from_gradients, _cam),
    (transfer.mobilenet_preprocess, lambda x: x.astype("float32") / 127.5 - 1.0),
    (open_problems.gabor, filters.gabor_kernel),
]
IDS = [check.__module__.rsplit(".", 1)[-1] + "." + check.__name__ for check, _ in CHECKS]


@pytest.mark.parametrize(("check", "right"), CHECKS, ids=IDS)
def test_an_answer_fitted_to_the_seen_inputs_fails_on_fresh_ones(check, right):
    recorder, lookup = _memorised(right)
    check(recorder, seed=1)
    check(lookup, seed=1)                      # the same seed replays the same inputs
    with pytest.raises(ExerciseError, match="seed=2"):
        check(lookup, seed=2)


@pytest.mark.parametrize(("check", "right"), CHECKS, ids=IDS)
def test_a_right_answer_passes_on_fresh_inputs(check, right, capsys):
    for seed in (3, 4, None):
        check(right, seed=seed)
    assert "correct" in capsys.readouterr().out
