"""Time-to-accuracy of notebook 04's MNIST CNN against the recipe it replaced, side by side.

Usage (from the repository root, with LABKIT_DATA_DIR set)::

    python benchmarks/bench_mnist.py                      # median of 3 runs each, interleaved
    python benchmarks/bench_mnist.py --repeats 1 --n-train 6000 --old-epochs 2   # a smoke run

The two contestants, trained on the notebook's split of the standard profile (55,000 training
digits, the first 1/12 held out as in the notebook) and evaluated on the 10,000 test digits
after every epoch (evaluation time is excluded from the training time):

* ``new``: the network and the training recipe **as written in notebooks/04_mnist.ipynb**: the
  cells that define ``one_cycle``, build ``cnn`` and compile it are read from the notebook and
  executed, with ``labkit.settings("mnist", "standard")`` (epochs, batch size);
* ``old``: ``labkit.models.mnist_cnn()`` (batch norm, dropout 0.3) with the notebook's former
  settings: Adam with a cosine decay from 2e-3 over all steps, batch 128, 15 epochs.

Runs alternate (new, old, old, new, new, old, ...) so that a change in the machine's load hits
both; repeat ``r`` uses seed ``r`` for both. For each target accuracy the script reports the
training seconds until the test accuracy first reached it (median over the runs that reached
it, and how many did), the final accuracy, training and CPU seconds, and the load average
(``os.getloadavg()``) around every run. CPU seconds are less sensitive to other processes
than wall time; on a shared machine quote both, with the load. The results, with the CPU
model, its relevant instruction-set flags and a float32 matrix-multiply peak measured in the
same run, go to ``benchmarks/results/bench_mnist_<date>.json`` (``--out`` to change).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import labkit  # noqa: E402  (before TensorFlow)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_mnist.ipynb"
# The cells of the notebook that make the new recipe, found by how they start.
NEW_CELLS = ("steps_per_epoch = math.ceil(", "cnn = keras.Sequential(", "cnn.compile(")
OLD = dict(epochs=15, batch_size=128, learning_rate=2e-3)   # notebook 04 before issue 19
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma")


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="runs per contestant (median reported)")
    p.add_argument("--targets", default="0.99,0.993,0.995", help="comma-separated test accuracies")
    p.add_argument("--n-train", type=int, help="a stratified subset of the 60,000 (default: all)")
    p.add_argument("--old-epochs", type=int, default=OLD["epochs"], help="epochs of the old recipe")
    p.add_argument("--new-epochs", type=int, help="epochs of the new recipe (default: the standard profile's)")
    p.add_argument("--only", choices=("new", "old"), help="run one contestant")
    p.add_argument("--out", help="JSON output path")
    return p.parse_args(argv)


def cpu_info() -> dict:
    """This machine: core count, platform, the CPU model and the flags of CPU_FLAGS (from /proc/cpuinfo)."""
    info = dict(cpu_count=os.cpu_count(), platform=platform.platform(), processor=platform.processor())
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and "model" not in info:
            info["model"] = value.strip()
        if key.strip() == "flags" and "flags" not in info:
            have = set(value.split())
            info["flags"] = {f: f in have for f in CPU_FLAGS}
    return info


def _notebook_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    found = []
    for start in NEW_CELLS:
        match = [s for s in sources if s.lstrip().startswith(start)]
        if len(match) != 1:
            raise SystemExit(f"{NOTEBOOK.name}: expected one code cell starting with {start!r}, found {len(match)}")
        found.append("\n".join(line for line in match[0].splitlines() if not line.strip().endswith(".summary()")))
    return found


def _build_new(cfg, y_train, epochs: int):
    import keras
    import numpy as np
    from keras import layers

    ns = dict(math=math, np=np, keras=keras, layers=layers, y_train=y_train,
              cfg=_Override(cfg, epochs_cnn=epochs))
    for source in _notebook_cells():
        exec(compile(source, str(NOTEBOOK), "exec"), ns)  # noqa: S102 - the repository's own notebook
    return ns["cnn"], int(ns["cfg"].batch_size)


class _Override:
    """``cfg`` with some settings replaced (the notebook reads only attributes)."""

    def __init__(self, cfg, **values):
        self._cfg, self._values = cfg, values

    def __getattr__(self, name):
        return self._values[name] if name in self._values else getattr(self._cfg, name)


def _build_old(n_train: int, epochs: int):
    import keras

    from labkit import models

    model = models.mnist_cnn()
    steps = epochs * math.ceil(n_train / OLD["batch_size"])
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(OLD["learning_rate"], steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model, OLD["batch_size"]


def _train(model, batch_size: int, epochs: int, data: tuple) -> list[dict]:
    import keras

    x_train, y_train, x_test, y_test = data
    log: list[dict] = []

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.train_s = self.cpu_s = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.train_s += time.perf_counter() - self.t0
            self.cpu_s += time.process_time() - self.c0
            acc = float(self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0)[1])  # not timed
            log.append(dict(epoch=epoch + 1, train_s=round(self.train_s, 2), cpu_s=round(self.cpu_s, 2),
                            test_accuracy=acc, load1=round(os.getloadavg()[0], 2)))
            print(f"    epoch {epoch + 1}/{epochs}: test {acc:.4f}  {self.train_s:6.1f} s  (cpu {self.cpu_s:6.1f} s,"
                  f" load {os.getloadavg()[0]:.2f})", flush=True)

    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[Clock()])
    return log


def _time_to(log: list[dict], target: float):
    return next((e["train_s"] for e in log if e["test_accuracy"] >= target), None)


def _summary(runs: list[dict], targets: list[float]) -> dict:
    out = dict(runs=len(runs),
               final_accuracy_median=statistics.median(r["final_accuracy"] for r in runs),
               final_accuracy_range=[min(r["final_accuracy"] for r in runs), max(r["final_accuracy"] for r in runs)],
               train_s_median=statistics.median(r["train_s"] for r in runs),
               cpu_s_median=statistics.median(r["cpu_s"] for r in runs), time_to={})
    for t in targets:
        reached = [r["time_to"][str(t)] for r in runs if r["time_to"][str(t)] is not None]
        out["time_to"][str(t)] = dict(reached=f"{len(reached)}/{len(runs)}",
                                      median_s=statistics.median(reached) if reached else None)
    return out


def main(argv=None) -> int:
    args = _parse(argv)
    targets = [float(t) for t in args.targets.split(",")]
    cfg = labkit.settings("mnist", "standard")
    labkit.seed_everything(0)   # threads from LABKIT_THREADS; later calls only reseed
    import keras
    import tensorflow as tf

    from labkit import data, flops
    from labkit.training import images_to_float

    started = datetime.datetime.now()
    load_start = os.getloadavg()
    peak = flops.matmul_peak("float32", n=1024)
    mnist = data.load("mnist")
    ds = mnist.subset(args.n_train or cfg.n_train, cfg.n_test, seed=0)
    x_all, y_all = images_to_float(ds.x_train), ds.y_train
    n_val = len(y_all) // 12                       # as the notebook: the first 1/12 is validation
    split = (x_all[n_val:], y_all[n_val:], images_to_float(ds.x_test), ds.y_test)
    new_epochs = args.new_epochs or cfg.epochs_cnn
    print(f"train {len(split[1]):,}, test {len(split[3]):,}; float32 matmul peak {peak / 1e9:.0f} GFLOP/s; "
          f"load {load_start}", flush=True)

    contestants = [c for c in ("new", "old") if args.only in (None, c)]
    runs: dict[str, list[dict]] = {c: [] for c in contestants}
    for r in range(args.repeats):
        order = contestants if r % 2 == 0 else contestants[::-1]
        for name in order:
            keras.backend.clear_session()
            labkit.seed_everything(r)
            if name == "new":
                model, batch = _build_new(cfg, split[1], new_epochs)
                epochs = new_epochs
            else:
                model, batch = _build_old(len(split[1]), args.old_epochs)
                epochs = args.old_epochs
            print(f"run {r + 1}/{args.repeats} {name}: {model.count_params():,} parameters, {epochs} epochs, "
                  f"batch {batch}, seed {r}", flush=True)
            load_before = os.getloadavg()
            log = _train(model, batch, epochs, split)
            runs[name].append(dict(seed=r, epochs=epochs, batch_size=batch, params=model.count_params(),
                                   final_accuracy=log[-1]["test_accuracy"], train_s=log[-1]["train_s"],
                                   cpu_s=log[-1]["cpu_s"], time_to={str(t): _time_to(log, t) for t in targets},
                                   load_before=load_before, load_after=os.getloadavg(), epoch_log=log))

    result = dict(
        benchmark="notebook 04 MNIST CNN: time to test accuracy (training seconds, evaluation excluded)",
        date=started.isoformat(timespec="seconds"), targets=targets,
        data=dict(train=len(split[1]), test=len(split[3]), source=mnist.source),
        contestants=dict(
            new=f"notebooks/04_mnist.ipynb as written: cnn, one_cycle, compile; standard profile "
                f"(batch {cfg.batch_size}, {new_epochs} epochs)",
            old=f"labkit.models.mnist_cnn(), Adam + CosineDecay({OLD['learning_rate']}), batch {OLD['batch_size']}, "
                f"{args.old_epochs} epochs"),
        summary={name: _summary(rs, targets) for name, rs in runs.items()},
        runs=runs,
        machine=dict(**cpu_info(), threads=int(os.environ.get("LABKIT_THREADS", os.cpu_count() or 1)),
                     matmul_peak_float32_flops=peak, load_start=load_start, load_end=os.getloadavg(),
                     tensorflow=tf.__version__, keras=keras.__version__, python=sys.version.split()[0]),
        note="Timings are only comparable within one run; on a shared machine quote the load averages.",
    )
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"bench_mnist_{started:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n" + "contestant  final acc (median)  train s  cpu s  " + "  ".join(f"to {t}" for t in targets))
    for name, s in result["summary"].items():
        cols = "  ".join(f"{s['time_to'][str(t)]['median_s'] or '-'!s:>6} ({s['time_to'][str(t)]['reached']})"
                         for t in targets)
        print(f"{name:10s}  {s['final_accuracy_median']:.4f}              {s['train_s_median']:7.1f}  "
              f"{s['cpu_s_median']:5.0f}  {cols}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
