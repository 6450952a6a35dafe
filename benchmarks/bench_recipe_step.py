"""Training-step throughput of the CIFAR-10 recipe network under a few switches, measured together.

Usage (from the repository root)::

    python benchmarks/bench_recipe_step.py                      # relu/gelu x XLA off/on, widths 64,256,256
    python benchmarks/bench_recipe_step.py --rounds 5 --steps 10 --batch-size 512

It builds :func:`labkit.recipe.recipe_net` once per variant (activation ReLU or GELU; Keras
``jit_compile`` off or on), warms each up, then times ``--steps`` training steps of each variant in
turn for ``--rounds`` rounds (interleaved, so a busy neighbour slows every variant alike) on random
images, and prints the median images/s per variant and its ratio to the first. The recipe's input
pipeline and callbacks are left out: this isolates the network's step. Writes JSON to ``--out``
(default ``benchmarks/results/recipe_step.json``). Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import labkit  # noqa: E402  (before TensorFlow)


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--widths", default="64,256,256")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=8, help="timed steps per variant and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precision", default="auto",
                   choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"))
    p.add_argument("--variants", default="relu,gelu,relu+xla,gelu+xla",
                   help="comma-separated ACTIVATION[+xla]")
    p.add_argument("--out", help="JSON output path")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    labkit.seed_everything(0)
    import keras
    import numpy as np
    import tensorflow as tf

    from labkit import flops, recipe

    widths = tuple(int(w) for w in args.widths.split(","))
    precision = recipe.recipe_precision(args.precision)
    bs = args.batch_size
    rng = np.random.default_rng(0)
    x = rng.random((bs * 4, 32, 32, 3), dtype=np.float32)
    y = tf.one_hot(rng.integers(0, 10, bs * 4), 10)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(bs).cache().repeat().prefetch(2)

    models, errors = {}, {}
    for name in args.variants.split(","):
        act, _, xla = name.partition("+")
        model = recipe.recipe_net(widths, activation=act, precision=precision)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.85, nesterov=True, weight_decay=1e-3),
                      keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
                      jit_compile=xla == "xla")
        try:
            model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # trace / compile
            models[name] = model
        except Exception as e:  # XLA may not support an op on this device
            errors[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            print(f"{name}: failed ({errors[name]})", flush=True)

    rates: dict[str, list[float]] = {n: [] for n in models}
    for r in range(args.rounds):
        for name, model in models.items():
            t = time.perf_counter()
            model.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
            rates[name].append(args.steps * bs / (time.perf_counter() - t))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.0f}" for n, v in rates.items()) + " images/s",
              flush=True)

    fwd = flops.model_flops(next(iter(models.values()))) if models else float("nan")
    med = {n: statistics.median(v) for n, v in rates.items()}
    first = next(iter(med.values()), float("nan"))
    print(f"\nwidths {widths}, batch {bs}, {precision}; median of {args.rounds} rounds x {args.steps} steps:")
    for n, m in med.items():
        print(f"  {n:10s} {m:6.0f} images/s  {3 * fwd * m / 1e9:5.0f} GFLOP/s  x{m / first:.2f}")
    result = dict(widths=list(widths), batch_size=bs, precision=precision, steps=args.steps,
                  rounds=args.rounds,
                  forward_flops_per_image=fwd, images_per_second=rates, median_images_per_second=med,
                  ratio_to_first={n: m / first for n, m in med.items()}, failed=errors,
                  load_average_end=os.getloadavg() if hasattr(os, "getloadavg") else None)
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / "results" / "recipe_step.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
