"""Progress you can see while Keras trains: one live line in a notebook, a few plain lines elsewhere.

::

    model.fit(x, y, epochs=10, verbose=0, callbacks=[ProgressLine()])

In JupyterLab (any Jupyter kernel: Colab, VS Code) :class:`ProgressLine` shows **one** output
that is updated in place, at most twice a second::

    epoch 3/10 · batch 120/469 · loss 0.2130 · 41 s elapsed · ~1 min 20 s left

and, when training ends, the same output becomes the summary line::

    epoch 10/10 · loss 0.1892 · accuracy 0.9431 · val_loss 0.2210 · val_accuracy 0.9302 · done in 2 min 14 s

A stored notebook therefore keeps one small output per ``fit``, however long the run. Outside a
kernel (plain ``python``, a CI log, a terminal IPython) nothing is redrawn: it prints one line every
``every`` epochs and the last, exactly as :class:`EpochLogger` does, with no carriage returns.

Both callbacks are module-level, registered with Keras under ``labkit>``; their state lives on the
instance and is reset in ``on_train_begin``, so one instance can serve several ``fit`` calls.
"""
from __future__ import annotations

import html
import math
import sys
import time
from typing import Any, Callable

import keras
import numpy as np

from labkit.validation import check_bool, check_callable, check_int, check_number, check_str

__all__ = ["EpochLogger", "ProgressLine", "format_duration", "in_notebook"]

_SEP = " · "


def format_duration(seconds: float) -> str:
    """``seconds`` rounded for a person: ``"41 s"``, ``"1 min 20 s"``, ``"2 h 05 min"``."""
    seconds = check_number(seconds, "seconds", min_val=0)
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (a front end that can redraw an output in place).

    A terminal IPython is not one: there a redraw would print the line again.
    """
    if "IPython" not in sys.modules:   # never import IPython just to find out
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and shell.has_trait("kernel")


def _display(data: dict[str, str]):
    """Show ``data`` (mimetype -> text) as a new output; returns the handle that updates it in place.

    The one place :class:`ProgressLine` touches IPython's display machinery (tests replace it).
    """
    from IPython.display import display

    return display(data, raw=True, display_id=True)


def _metrics(logs) -> list[tuple[str, float]]:
    """The numbers in Keras' ``logs``, loss first, validation after training (learning rate left out)."""
    items = [(k, float(v)) for k, v in (logs or {}).items()
             if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and k != "learning_rate"]
    return sorted(items, key=lambda kv: (kv[0].startswith("val_"), kv[0].removeprefix("val_") != "loss"))


@keras.saving.register_keras_serializable(package="labkit")
class EpochLogger(keras.callbacks.Callback):
    """Prints one short line every ``every`` epochs (and the last): metrics and elapsed time::

        epoch 4/10 - loss 0.3120 - accuracy 0.8904 - 12 s

    Keras' own ``verbose=2`` prints every epoch with no elapsed total; this keeps long
    runs to a few lines. State lives on the instance and is reset in ``on_train_begin``,
    so one logger can serve several ``fit`` calls.

    Args:
        every: print every ``every``-th epoch (and the last); default 1, at least 1.
        prefix: text put before each line (e.g. the run's name); default none.
    """

    def __init__(self, every: int = 1, prefix: str = ""):
        super().__init__()
        self.every = check_int(every, "every", min_val=1)
        self.prefix = check_str(prefix, "prefix", allow_empty=True)
        self.start = 0.0
        self.epochs = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epochs = self.params.get("epochs", 0)

    def on_epoch_end(self, epoch, logs=None):
        n = epoch + 1
        if n % self.every and n != self.epochs:
            return
        print(self._epoch_line(n, logs, time.perf_counter() - self.start), flush=True)

    def _epoch_line(self, n: int, logs, seconds: float) -> str:
        items = " - ".join(f"{k} {v:.4f}" for k, v in _metrics(logs))
        return f"{self.prefix}epoch {n}/{self.epochs} - {items} - {seconds:.0f} s"

    @classmethod
    def from_config(cls, config):  # keras.callbacks.Callback has no from_config
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        return {"every": self.every, "prefix": self.prefix}


@keras.saving.register_keras_serializable(package="labkit")
class ProgressLine(EpochLogger):
    """A live progress line with a time estimate in a notebook; :class:`EpochLogger`'s lines elsewhere.

    In a Jupyter kernel it shows one output and redraws it in place, at most once every
    ``min_interval`` seconds (the first ``delay`` seconds of a run are not shown, so a fit that
    takes a moment leaves only its summary)::

        epoch 3/10 · batch 120/469 · loss 0.2130 · 41 s elapsed · ~1 min 20 s left

    The loss is the one Keras logs for the batch (the running mean of the epoch so far). When
    training ends the output becomes one summary line with the last epoch's logged metrics (the
    values ``history.history`` holds for that epoch) and the total time; a run that stopped early
    (early stopping, divergence) says ``stopped at epoch k/n``. In HTML front ends a progress bar
    stands in front of the text.

    **The time estimate** is ``seconds per batch x batches still to run``. Seconds per batch is the
    wall time since the *end of the first batch* divided by the batches run since: the first batch
    is left out because it also pays for tracing (compiling) the training step, often seconds.
    The wall time includes everything else that happens during training (validation at the end of
    each epoch, other callbacks), spread over the batches, so the estimate gets better as epochs
    complete. It needs two batches; with ``steps_per_epoch`` unknown (a dataset of unknown length)
    it also needs the first epoch to end, which tells the number of batches per epoch.

    Outside a kernel (plain Python, CI logs, a terminal) nothing is redrawn: it prints
    :class:`EpochLogger`'s line every ``every`` epochs and the last (and the last epoch run, if
    training stopped early).

    Args:
        every: outside a notebook, print every ``every``-th epoch (and the last); default 1.
        prefix: text put before the line (e.g. the run's name); default none.
        min_interval: the shortest time between two redraws, in seconds; default 0.5 (2 per second).
        delay: seconds of training before the live line first appears; default 2.0.
        live: ``None`` (default) redraws in place when running in a Jupyter kernel; ``True`` or
            ``False`` decide it.
        clock: a function returning seconds (default :func:`time.perf_counter`); for tests. Not part
            of the config.
    """

    def __init__(self, every: int = 1, prefix: str = "", *, min_interval: float = 0.5, delay: float = 2.0,
                 live: bool | None = None, clock: Callable[[], float] | None = None):
        super().__init__(every, prefix)
        self.min_interval = check_number(min_interval, "min_interval", min_val=0)
        self.delay = check_number(delay, "delay", min_val=0)
        self.live = None if live is None else check_bool(live, "live")
        self.clock: Callable[[], float] = (time.perf_counter if clock is None
                                           else check_callable(clock, "clock", what="a function () -> seconds"))
        self._reset()

    def _reset(self) -> None:
        self.steps: int | None = None        # batches per epoch (None: not known yet)
        self.epoch = 0                       # the epoch running (1-based)
        self.batch = 0                       # batches done in it
        self.batches_done = 0                # batches done in the whole fit
        self.epochs_done = 0
        self.first_epoch: int | None = None  # fit(initial_epoch=...) starts later than epoch 0
        self.first_batch_end: float | None = None
        self.last_logs: dict[str, float] = {}
        self.last_printed = 0                # the last epoch printed (plain mode)
        self.shown_at = -math.inf            # when the live line was last drawn
        self.handle: Any = None              # the live output's display handle
        self.is_live = False
        self.line = ""                       # the text last shown (or printed)

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None):
        self._reset()
        self.start = self.clock()
        self.epochs = int(self.params.get("epochs") or 0)
        steps = self.params.get("steps")
        self.steps = int(steps) if steps else None
        self.is_live = in_notebook() if self.live is None else self.live

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.batch = epoch + 1, 0
        if self.first_epoch is None:
            self.first_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batch = batch + 1
        self.batches_done += 1
        now = self.clock()
        if self.first_batch_end is None:
            self.first_batch_end = now
        if "loss" in (logs or {}):
            self.last_logs = {"loss": float(logs["loss"])}
        if self.is_live and now - self.start >= self.delay and now - self.shown_at >= self.min_interval:
            self._show(self.running_line(now), now)

    def on_epoch_end(self, epoch, logs=None):
        n = epoch + 1
        self.epochs_done = n
        if self.steps is None:
            self.steps = self.batch or None   # now known: the batches of one epoch
        self.last_logs = dict(_metrics(logs))
        if not self.is_live and (n % self.every == 0 or n == self.epochs):
            self._print(n, logs)

    def on_train_end(self, logs=None):
        now = self.clock()
        if self.is_live:
            self._show(self.summary_line(now), now)
        elif self.epochs_done and self.last_printed != self.epochs_done:   # stopped early between prints
            self._print(self.epochs_done, self.last_logs)

    # ------------------------------------------------------------------ the lines
    def seconds_left(self, now: float) -> float | None:
        """The estimate described in the class docstring, or ``None`` before it can be made."""
        if self.steps is None or self.first_batch_end is None or self.batches_done < 2:
            return None
        per_batch = (now - self.first_batch_end) / (self.batches_done - 1)
        return per_batch * max(self._total_batches() - self.batches_done, 0)

    def _total_batches(self) -> int:
        """The batches this ``fit`` runs (0 while unknown)."""
        return (self.epochs - (self.first_epoch or 0)) * self.steps if self.steps else 0

    def running_line(self, now: float) -> str:
        """``epoch e/E · batch b/B · loss … · … elapsed · ~… left`` at clock time ``now``."""
        parts = [f"epoch {self.epoch}/{self.epochs}",
                 f"batch {self.batch}/{self.steps}" if self.steps else f"batch {self.batch}"]
        parts += [f"{k} {v:.4f}" for k, v in self.last_logs.items() if k == "loss"]
        parts.append(f"{format_duration(now - self.start)} elapsed")
        left = self.seconds_left(now)
        parts.append("estimating time left…" if left is None else f"~{format_duration(left)} left")
        return self.prefix + _SEP.join(parts)

    def summary_line(self, now: float) -> str:
        """The last line: the last epoch's metrics as Keras logged them, and the total time."""
        done = self.epochs_done
        head = (f"epoch {done}/{self.epochs}" if done == self.epochs
                else f"stopped at epoch {done}/{self.epochs}")
        parts = [head] + [f"{k} {v:.4f}" for k, v in self.last_logs.items()]
        parts.append(f"done in {format_duration(now - self.start)}")
        return self.prefix + _SEP.join(parts)

    def _fraction(self) -> float:
        total = self._total_batches()
        return min(self.batches_done / total, 1.0) if total else 0.0

    def _show(self, line: str, now: float) -> None:
        self.line, self.shown_at = line, now
        bar = (f'<progress value="{self._fraction():.3f}" max="1" style="width:8em;vertical-align:middle">'
               "</progress> " if self.steps else "")
        data = {"text/plain": line, "text/html": f"{bar}<code>{html.escape(line)}</code>"}
        if self.handle is None:
            self.handle = _display(data)
        else:
            self.handle.update(data, raw=True)

    def _print(self, n: int, logs) -> None:
        self.line, self.last_printed = self._epoch_line(n, logs, self.clock() - self.start), n
        print(self.line, flush=True)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "min_interval": self.min_interval, "delay": self.delay, "live": self.live}
