"""labkit.training: ``fit`` is ``model.fit`` (same numbers), with a short log; tf.data pipelines keep the data.

Oracles: Keras' own ``model.fit`` on an identical copy of the model, NumPy arithmetic on
the arrays that went in, and ``time.perf_counter`` around the call.
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from labkit import training


# ------------------------------------------------------------------ helpers (synthetic data, tiny models)
def _blobs(n: int = 96, d: int = 6, k: int = 3, seed: int = 0):
    """Three separable Gaussian blobs: a linear model learns them in a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(0, 3, size=(k, d))
    x = (centres[y] + rng.normal(0, 0.5, size=(n, d))).astype("float32")
    return x, y.astype("int64")


def _twin_models(d: int = 6, k: int = 3, lr: float = 0.05):
    """Two compiled models with the same architecture and the same initial weights."""
    import keras

    keras.utils.set_random_seed(0)

    def build():
        m = keras.Sequential([keras.Input((d,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(k)])
        m.compile(optimizer=keras.optimizers.SGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        return m

    a, b = build(), build()
    b.set_weights(a.get_weights())
    return a, b


# ------------------------------------------------------------------ fit
def test_fit_gives_the_same_history_as_keras_fit():
    x, y = _blobs()
    ours, ref = _twin_models()
    r = training.fit(ours, x, y, epochs=4, batch_size=16, validation_data=(x[:32], y[:32]), quiet=True,
                     shuffle=False)
    want = ref.fit(x, y, epochs=4, batch_size=16, validation_data=(x[:32], y[:32]), verbose=0, shuffle=False)
    assert set(r.history) == set(want.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, values in want.history.items():
        np.testing.assert_allclose(r.history[key], values, rtol=1e-6, err_msg=key)
    assert r.epochs == 4 and all(len(v) == 4 for v in r.history.values())
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)   # the model itself was trained, not a copy
    # and it learned the blobs: the loss fell and the last epoch is near-perfect
    assert r.history["loss"][-1] < 0.5 * r.history["loss"][0]


def test_fit_measures_the_wall_time_of_the_training():
    x, y = _blobs()
    model, _ = _twin_models()
    start = time.perf_counter()
    r = training.fit(model, x, y, epochs=2, batch_size=32, quiet=True)
    outer = time.perf_counter() - start
    assert 0 < r.seconds <= outer


def test_fit_result_last_and_best_read_the_history():
    r = training.FitResult({"loss": [0.9, 0.4, 0.6], "acc": [0.2, 0.7, 0.5]}, seconds=1.0, epochs=3)
    assert r.last("loss") == 0.6 and r.best("loss") == 0.4
    assert r.best("acc", mode="max") == 0.7 and r.last("acc") == 0.5
    with pytest.raises(KeyError):
        r.last("val_loss")


def test_fit_logs_every_nth_epoch_and_the_last_with_the_history_numbers(capsys):
    x, y = _blobs()
    model, _ = _twin_models()
    r = training.fit(model, x, y, epochs=5, batch_size=32, log_every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [re.match(r"epoch (\d+)/5 - ", line).group(1) for line in lines] == ["2", "4", "5"], lines
    for line, epoch in zip(lines, (2, 4, 5)):
        logged = dict(re.findall(r"(\w+) (-?\d+\.\d{4})", line))
        assert float(logged["loss"]) == pytest.approx(r.history["loss"][epoch - 1], abs=6e-5)
        assert float(logged["accuracy"]) == pytest.approx(r.history["accuracy"][epoch - 1], abs=6e-5)
        assert "learning_rate" not in line
        assert line.endswith(" s")


def test_fit_quiet_prints_nothing_and_keeps_the_callers_callbacks(capsys):
    import keras

    x, y = _blobs()
    model, _ = _twin_models()
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    callbacks = [Count()]
    training.fit(model, x, y, epochs=3, batch_size=32, quiet=True, callbacks=callbacks)
    assert capsys.readouterr().out == ""
    assert seen == [0, 1, 2]
    assert len(callbacks) == 1, "fit must not add its logger to the caller's list"


def test_fit_takes_a_dataset_exactly_like_the_arrays_it_holds():
    x, y = _blobs()
    a, b = _twin_models()
    from_arrays = training.fit(a, x, y, epochs=3, batch_size=16, quiet=True, shuffle=False)
    from_dataset = training.fit(b, training.as_dataset(x, y, batch_size=16), epochs=3, quiet=True, shuffle=False)
    np.testing.assert_allclose(from_dataset.history["loss"], from_arrays.history["loss"], rtol=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda m, x, y: training.fit("model", x, y, epochs=1), TypeError, "Keras model"),
    (lambda m, x, y: training.fit(m, x, y, epochs=0), ValueError, "epochs"),
    (lambda m, x, y: training.fit(m, x, y, epochs=1, batch_size=0), ValueError, "batch_size"),
    (lambda m, x, y: training.fit(m, x, y, epochs=1, callbacks="early"), TypeError, "callbacks"),
    (lambda m, x, y: training.fit(m, x, y, epochs=1, log_every=0), ValueError, "log_every"),
])
def test_fit_refuses_bad_arguments_before_training(call, error, match):
    x, y = _blobs()
    model, _ = _twin_models()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=match):
        call(model, x, y)
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_timer_measures_the_block():
    with training.timer() as t:
        assert "seconds" not in t
        time.sleep(0.05)
    assert 0.05 <= t["seconds"] < 5


# ------------------------------------------------------------------ images_to_float
def test_images_to_float_scales_to_unit_range_and_adds_a_channel_axis():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    out = training.images_to_float(x)
    assert out.dtype == np.float32 and out.shape == (5, 4, 3, 1)
    np.testing.assert_allclose(out[..., 0], x / 255.0, rtol=1e-6)
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 1, 0] == 1.0
    assert training.images_to_float(x, channels_last=False).shape == (5, 4, 3)
    rgb = rng.integers(0, 256, size=(2, 4, 4, 3), dtype=np.uint8)
    np.testing.assert_allclose(training.images_to_float(rgb), rgb / 255.0, rtol=1e-6)
    assert x.dtype == np.uint8, "the input is not modified"


@pytest.mark.parametrize("x, error, match", [
    (np.zeros((2, 4, 4), dtype="float32"), TypeError, "uint8"),
    (np.zeros((2, 4), dtype=np.uint8), ValueError, r"\(N, H, W\)"),
    (np.zeros((1, 2, 2, 1, 1), dtype=np.uint8), ValueError, "shape"),
])
def test_images_to_float_refuses_what_is_not_uint8_images(x, error, match):
    with pytest.raises(error, match=match):
        training.images_to_float(x)


# ------------------------------------------------------------------ as_dataset
def _epoch(ds):
    xs, ys = zip(*[(np.asarray(a), np.asarray(b)) for a, b in ds])
    return xs, ys


def test_as_dataset_batches_every_example_once_in_order():
    x = np.arange(23 * 2, dtype="float32").reshape(23, 2)
    y = np.arange(23)
    xs, ys = _epoch(training.as_dataset(x, y, batch_size=5))
    assert [len(b) for b in ys] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(xs), x)
    np.testing.assert_array_equal(np.concatenate(ys), y)
    only_x = [np.asarray(b) for b in training.as_dataset(x, batch_size=10, cache=False)]
    np.testing.assert_array_equal(np.concatenate(only_x), x)


def test_as_dataset_shuffles_pairs_together_reproducibly_and_anew_each_epoch():
    x = np.arange(64, dtype="float32")[:, None] * np.ones((1, 3), "float32")
    y = np.arange(64)
    ds = training.as_dataset(x, y, batch_size=16, shuffle=True, seed=3)
    (x1, y1), (x2, y2) = _epoch(ds), _epoch(ds)
    first, second = np.concatenate(y1), np.concatenate(y2)
    np.testing.assert_array_equal(np.sort(first), y)          # a permutation: nothing lost, nothing twice
    np.testing.assert_array_equal(np.concatenate(x1)[:, 0], first)   # x stays with its y
    np.testing.assert_array_equal(np.concatenate(x2)[:, 0], second)  # in every epoch
    assert not np.array_equal(first, y), "shuffle=True did not shuffle"
    assert not np.array_equal(first, second), "the second epoch repeats the first order"
    again = np.concatenate(_epoch(training.as_dataset(x, y, batch_size=16, shuffle=True, seed=3))[1])
    np.testing.assert_array_equal(again, first)                # same seed, same first epoch
    other = np.concatenate(_epoch(training.as_dataset(x, y, batch_size=16, shuffle=True, seed=4))[1])
    assert not np.array_equal(other, first)


def test_as_dataset_applies_map_fn_to_each_batch():
    x = np.arange(12, dtype="float32").reshape(6, 2)
    y = np.arange(6)
    seen_shapes = []

    def double(xb, yb):
        seen_shapes.append(tuple(xb.shape))
        return xb * 2, yb

    xs, ys = _epoch(training.as_dataset(x, y, batch_size=4, map_fn=double))
    np.testing.assert_array_equal(np.concatenate(xs), 2 * x)
    np.testing.assert_array_equal(np.concatenate(ys), y)
    assert seen_shapes and seen_shapes[0][0] in (None, 4), "map_fn runs on batches, not on single examples"


def test_as_dataset_takes_a_tuple_of_inputs():
    a, b = np.zeros((7, 2), "float32"), np.ones((7, 3), "float32")
    batches = list(training.as_dataset((a, b), np.arange(7), batch_size=4))
    (xa, xb), yb = batches[0]
    assert xa.shape == (4, 2) and xb.shape == (4, 3) and list(np.asarray(yb)) == [0, 1, 2, 3]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size"), (dict(seed=-1), ValueError, "seed"),
    (dict(shuffle="yes"), TypeError, "shuffle"), (dict(map_fn=3), TypeError, "map_fn"),
])
def test_as_dataset_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        training.as_dataset(np.zeros((4, 2), "float32"), np.arange(4), **kwargs)


def test_as_dataset_refuses_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match=r"different lengths \(4 vs 3\)"):
        training.as_dataset(np.zeros((4, 2), "float32"), np.arange(3))
