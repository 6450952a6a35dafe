"""labkit.progress: the live progress line of a Keras ``fit`` and its plain-text fallback.

Oracles: the numbers Keras itself logs (``history.history``), a fake clock the test advances
(so elapsed and remaining times are known exactly), and a fake display that records every
output the callback draws (what a notebook would store and redraw).
"""
from __future__ import annotations

import json
import re

import keras
import numpy as np
import pytest

from labkit import progress, training
from labkit.progress import EpochLogger, ProgressLine, format_duration

XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
N, BATCH = 64, 8          # 8 batches per epoch


def _blobs(n: int = N, d: int = 6, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = (rng.normal(0, 3, size=(k, d))[y] + rng.normal(0, 0.5, size=(n, d))).astype("float32")
    return x, y.astype("int64")


def _model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    m.compile(keras.optimizers.SGD(0.05), XENT, metrics=["accuracy"])
    return m


class FakeClock:
    """Seconds that pass only when the test says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Tick(keras.callbacks.Callback):
    """Advances the fake clock as if each batch took ``first`` (the first one) or ``per_batch`` seconds."""

    def __init__(self, clock: FakeClock, per_batch: float, first: float | None = None):
        super().__init__()
        self.clock, self.per_batch, self.first, self.n = clock, per_batch, first, 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1
        self.clock.now += self.first if (self.n == 1 and self.first is not None) else self.per_batch


class FakeDisplay:
    """Stands in for IPython's display: records each draw (the clock time and the text shown)."""

    def __init__(self, clock=None):
        self.clock, self.outputs, self.draws = clock, 0, []

    def display(self, data):
        self.outputs += 1
        self._record(data)
        return self

    def update(self, data, raw=False):
        assert raw, "the line is sent as raw mimetype data"
        self._record(data)

    def _record(self, data):
        assert set(data) == {"text/plain", "text/html"}
        self.draws.append((self.clock() if self.clock else None, data["text/plain"], data))


@pytest.fixture
def fake_display(monkeypatch):
    def install(clock=None):
        fake = FakeDisplay(clock)
        monkeypatch.setattr(progress, "_display", fake.display)
        return fake
    return install


def _metric(line: str, key: str) -> float:
    return float(re.search(rf"(?:^|· ){key} (-?\d+\.\d{{4}})", line).group(1))


def _seconds(text: str) -> float:
    """Inverse of format_duration: "2 min 41 s" -> 161."""
    units = {"h": 3600, "min": 60, "s": 1}
    return float(sum(int(v) * units[u] for v, u in re.findall(r"(\d+) (h|min|s)\b", text)))


# ------------------------------------------------------------------ in a notebook (fake display)
def test_the_live_line_is_one_output_redrawn_at_most_twice_a_second_and_ends_with_keras_numbers(
        fake_display, capsys):
    clock = FakeClock()
    fake = fake_display(clock)
    x, y = _blobs()
    bar = ProgressLine(live=True, delay=0.0, min_interval=0.5, clock=clock)
    model = _model()
    history = model.fit(x, y, batch_size=BATCH, epochs=3, validation_data=(x[:16], y[:16]), verbose=0,
                        shuffle=False, callbacks=[Tick(clock, per_batch=0.25), bar])
    total_seconds = 3 * (N // BATCH) * 0.25
    assert fake.outputs == 1, "one output per fit, redrawn in place"
    times = [t for t, _, _ in fake.draws]
    running = times[:-1]
    assert len(fake.draws) <= 1 + int(total_seconds / 0.5) + 1, "throttled: at most 2 redraws per second"
    assert all(b - a >= 0.5 for a, b in zip(running, running[1:])), times
    assert len(running) >= int(total_seconds / 0.5) - 1, "...but it does keep redrawing while training runs"
    for _, line, _ in fake.draws[:-1]:
        assert re.match(r"epoch [123]/3 · batch [1-8]/8 · loss \d+\.\d{4} · \d+ s elapsed · ", line), line
    last = fake.draws[-1][1]
    assert last.startswith("epoch 3/3 · ") and last.endswith(f"done in {format_duration(total_seconds)}")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert _metric(last, key) == pytest.approx(history.history[key][-1], abs=5e-5), key
    assert "\r" not in last and "\n" not in last and "learning_rate" not in last
    assert max(len(json.dumps(d)) for _, _, d in fake.draws) < 600, "a redraw is a few hundred bytes"
    assert capsys.readouterr().out == "", "nothing printed besides the live output"


def test_the_time_left_predicts_the_fake_clocks_remaining_time(fake_display):
    clock = FakeClock()
    fake = fake_display(clock)
    x, y = _blobs()
    bar = ProgressLine(live=True, delay=0.0, min_interval=0.0, clock=clock)
    # the first batch pays for tracing (30 s), every later one takes 7 s
    _model().fit(x, y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False,
                 callbacks=[Tick(clock, per_batch=7.0, first=30.0), bar])
    end = clock.now
    assert end == 30.0 + 23 * 7.0
    running = fake.draws[:-1]
    assert len(running) == 24, "min_interval=0 redraws after every batch"
    assert "estimating time left" in running[0][1], "one batch (which includes tracing) predicts nothing"
    for now, line, _ in running[1:]:
        elapsed = re.search(r"· ([\d a-z]+) elapsed", line).group(1)
        left = re.search(r"· ~([\d a-z]+) left$", line).group(1)
        assert _seconds(elapsed) == pytest.approx(now, abs=0.5), line
        assert _seconds(left) == pytest.approx(end - now, abs=0.5), line   # what actually remained
    assert running[-2][1].endswith("~7 s left") and running[-1][1].endswith("~0 s left")
    assert "~2 min 34 s left" in running[1][1]   # 22 batches of 7 s to go after the second


def test_a_fit_that_resumes_at_a_later_epoch_counts_only_the_batches_it_runs(fake_display):
    clock = FakeClock()
    fake = fake_display(clock)
    x, y = _blobs()
    bar = ProgressLine(live=True, delay=0.0, min_interval=0.0, clock=clock)
    _model().fit(x, y, batch_size=BATCH, epochs=3, initial_epoch=1, verbose=0,
                 callbacks=[Tick(clock, per_batch=1.0), bar])
    lines = [line for _, line, _ in fake.draws]
    assert lines[1].startswith("epoch 2/3 · batch 2/8 · ") and lines[1].endswith("~14 s left")   # 16 - 2 batches
    assert lines[-1].startswith("epoch 3/3 · ") and lines[-1].endswith("done in 16 s")
    assert 'value="1.000"' in fake.draws[-1][2]["text/html"], "the bar is full at the end"


def test_no_live_line_during_the_delay_and_a_stopped_run_says_so(fake_display):
    clock = FakeClock()
    fake = fake_display(clock)
    x, y = _blobs()

    class StopAfterSecondEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    bar = ProgressLine(live=True, delay=100.0, clock=clock)
    history = _model().fit(x, y, batch_size=BATCH, epochs=5, verbose=0, shuffle=False,
                           callbacks=[Tick(clock, per_batch=1.0), StopAfterSecondEpoch(), bar])
    assert len(history.history["loss"]) == 2
    assert fake.outputs == 1 and len(fake.draws) == 1, "a run shorter than `delay` shows only its summary"
    last = fake.draws[0][1]
    assert last.startswith("stopped at epoch 2/5 · ") and last.endswith("done in 16 s")
    assert _metric(last, "loss") == pytest.approx(history.history["loss"][-1], abs=5e-5)


def test_fit_shows_the_live_line_in_a_notebook(fake_display, monkeypatch):
    fake = fake_display()
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    x, y = _blobs()
    r = training.fit(_model(), x, y, epochs=2, batch_size=BATCH)
    assert fake.outputs == 1
    last = fake.draws[-1][1]
    assert last.startswith("epoch 2/2 · ") and "done in" in last
    assert _metric(last, "loss") == pytest.approx(r.history["loss"][-1], abs=5e-5)


# ------------------------------------------------------------------ outside a notebook
def _fail_display(data):
    raise AssertionError("nothing is displayed outside a notebook")


def test_outside_a_notebook_it_prints_one_line_per_interval_and_never_redraws(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_display", _fail_display)
    assert not progress.in_notebook()
    x, y = _blobs()
    history = _model().fit(x, y, batch_size=BATCH, epochs=5, verbose=0, callbacks=[ProgressLine(every=2)])
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out
    lines = out.splitlines()
    assert [re.match(r"epoch (\d)/5 - ", line).group(1) for line in lines] == ["2", "4", "5"], lines
    for line, epoch in zip(lines, (2, 4, 5)):
        assert float(re.search(r" - loss (\d+\.\d{4})", line).group(1)) == pytest.approx(
            history.history["loss"][epoch - 1], abs=5e-5)
        assert re.search(r" - \d+ s$", line), line


def test_outside_a_notebook_a_run_stopped_between_intervals_prints_its_last_epoch(monkeypatch, capsys):
    monkeypatch.setattr(progress, "_display", _fail_display)
    x, y = _blobs()
    stop = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training",
                                                                                   epoch == 2))
    model = _model()
    history = model.fit(x, y, batch_size=BATCH, epochs=9, verbose=0, callbacks=[stop, ProgressLine(every=2)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["epoch 2/9", "epoch 3/9"]
    assert float(re.search(r" - loss (\d+\.\d{4})", lines[-1]).group(1)) == pytest.approx(
        history.history["loss"][-1], abs=5e-5)


def test_in_notebook_means_a_jupyter_kernel(monkeypatch):
    import IPython

    class Shell:
        def __init__(self, kernel):
            self.kernel = kernel

        def has_trait(self, name):
            return name == "kernel" and self.kernel

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell(kernel=True))
    assert progress.in_notebook()
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell(kernel=False))   # a terminal IPython
    assert not progress.in_notebook()
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)                  # plain Python
    assert not progress.in_notebook()


# ------------------------------------------------------------------ reuse, config, registration
def test_one_instance_serves_several_fits(fake_display):
    clock = FakeClock()
    fake = fake_display(clock)
    x, y = _blobs()
    bar = ProgressLine(live=True, delay=0.0, min_interval=0.0, clock=clock)
    for epochs in (3, 1):
        _model().fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Tick(clock, 1.0), bar])
    assert fake.outputs == 2, "each fit gets its own output"
    assert fake.draws[-1][1].startswith("epoch 1/1 · ") and fake.draws[-1][1].endswith("done in 8 s")
    assert bar.batches_done == 8 and bar.epochs_done == 1


@pytest.mark.parametrize("cls, kwargs", [
    (ProgressLine, dict(every=3, prefix="Adam: ", min_interval=1.5, delay=0.0, live=False)),
    (EpochLogger, dict(every=4, prefix="run 2: ")),
])
def test_config_round_trips_and_the_registry_finds_it_by_name(cls, kwargs):
    obj = cls(**kwargs)
    config = obj.get_config()
    assert config == kwargs
    again = cls.from_config(json.loads(json.dumps(config)))
    assert type(again) is cls and again.get_config() == config
    assert keras.saving.get_registered_name(cls) == f"labkit>{cls.__name__}"
    blob = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    back = keras.saving.deserialize_keras_object(blob)   # no custom_objects
    assert type(back) is cls and back.get_config() == config


def test_make_logger_returns_a_progress_line_that_is_an_epoch_logger():
    logger = training.make_logger(every=2, prefix="x: ")
    assert type(logger) is ProgressLine and isinstance(logger, EpochLogger)
    assert logger.get_config()["every"] == 2 and logger.get_config()["prefix"] == "x: "


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(every=0), ValueError, "every"), (dict(prefix=3), TypeError, "prefix"),
    (dict(min_interval=-1), ValueError, "min_interval"), (dict(delay=float("nan")), ValueError, "delay"),
    (dict(live="yes"), TypeError, "live"), (dict(clock=3), TypeError, "clock"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        ProgressLine(**kwargs)


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (41.4, "41 s"), (59.6, "1 min 0 s"), (80, "1 min 20 s"),
                                           (3599, "59 min 59 s"), (7500, "2 h 05 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
