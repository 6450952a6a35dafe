"""Benchmark: labkit.metrics.pr_curve and binary_report vs the scikit-learn calls they wrap.

The issue's bar: on 10 million scores each labkit call takes no more than 1.5x the
time of the scikit-learn call it wraps. Times are the median of ``--repeats`` runs,
and the two calls are interleaved so both see the same machine load; compare the
ratios, not the absolute seconds.

    .venv/bin/python benchmarks/bench_metrics.py [--n 10000000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn import metrics as skm

from labkit import metrics

BAR = 1.5


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(name: str, ours, theirs, repeats: int) -> tuple[float, float, float]:
    ours(), theirs()  # warm-up (imports, page faults)
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t_ours.append(_time(ours))
        t_theirs.append(_time(theirs))
    mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
    ratio = mo / mt
    print(f"{name:<44} labkit {mo:7.3f} s   sklearn {mt:7.3f} s   ratio {ratio:5.2f}  "
          f"{'OK' if ratio <= BAR else 'OVER ' + str(BAR)}", flush=True)
    return mo, mt, ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    y = (rng.random(args.n) < 0.1).astype(np.int64)
    # Scores rounded to 1e-4 so there are many ties, as real model outputs have.
    s = np.clip(0.3 * y + rng.random(args.n) * 0.7, 0, 1).round(4)
    print(f"n = {args.n:,} scores, {int(y.sum()):,} positives, median of {args.repeats} repeats")
    ratios = [
        bench("pr_curve vs precision_recall_curve",
              lambda: metrics.pr_curve(y, s), lambda: skm.precision_recall_curve(y, s), args.repeats)[2],
        bench("binary_report vs confusion_matrix(y, s>=t)",
              lambda: metrics.binary_report(y, s, 0.5),
              lambda: skm.confusion_matrix(y, s >= 0.5, labels=[0, 1]), args.repeats)[2],
    ]
    # Not the bar, for context: the same numbers from sklearn's own metric functions.
    bench("binary_report vs sklearn P/R/F1 + accuracy",
          lambda: metrics.binary_report(y, s, 0.5),
          lambda: (skm.precision_recall_fscore_support(y, s >= 0.5, average="binary", zero_division=0),
                   skm.accuracy_score(y, s >= 0.5)), args.repeats)
    worst = max(ratios)
    print(f"worst ratio {worst:.2f} (bar {BAR})")
    return 0 if worst <= BAR else 1


if __name__ == "__main__":
    raise SystemExit(main())
