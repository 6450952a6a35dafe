"""Time-to-accuracy and FLOP/s of the CIFAR-10 training recipe (labkit.recipe.train_recipe).

Usage (from the repository root, with LABKIT_DATA_DIR set)::

    python benchmarks/bench_cifar_recipe.py --profile standard      # the timed run of issue 4
    python benchmarks/bench_cifar_recipe.py --profile quick          # a smoke run on a subset
    python benchmarks/bench_cifar_recipe.py --epochs 2 --widths 64,128,256 --precision float32

It takes the recipe's settings (widths, epochs, batch size, training-set size, bar and time budget)
from ``labkit.settings("fast_training", profile)`` unless overridden, then

1. measures this machine's matrix-multiply peak (float32 and bfloat16) with ``labkit.flops.matmul_peak``;
2. trains the recipe, evaluating test accuracy (with the recipe's test-time augmentation) after
   every ``--eval-every`` epochs (evaluation time is excluded from the training time);
3. prints time-to-accuracy (training seconds until the test accuracy first reached the bar), the
   final accuracy, training FLOPs (3x the forward pass per image, conv and dense layers), the achieved
   FLOP/s and its fraction of the measured peak for the precision used, and CPU seconds;
4. writes everything to a JSON file (``--out``, default ``benchmarks/results/cifar_recipe_<profile>.json``).

Exit status 0 when the run met its bar (and budget, when the profile has one), 1 otherwise.
Figures are for the JPEG q75 copy of CIFAR-10 in the workbook's data folder; say so when quoting them.
Run it on an otherwise idle machine: other processes on the CPU change every timing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import labkit  # noqa: E402  (before TensorFlow)


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", choices=("quick", "standard", "full"), default="standard")
    p.add_argument("--epochs", type=int, help="override the profile's epochs")
    p.add_argument("--widths", help="override widths, e.g. 64,128,256")
    p.add_argument("--batch-size", type=int, help="override batch_size")
    p.add_argument("--n-train", type=int, help="train on a stratified subset of this size")
    p.add_argument("--activation", help="override the profile's recipe activation (airbench: gelu)")
    p.add_argument("--optimizer", choices=("sgd", "muon"), help="override the profile's recipe optimizer")
    p.add_argument("--precision", default="auto",
                   choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"))
    p.add_argument("--eval-every", type=int, default=1, help="evaluate every k epochs (0: only at the end)")
    p.add_argument("--target", type=float, help="accuracy bar for time-to-accuracy (default: the profile's)")
    p.add_argument("--budget", type=float, help="training-time budget in seconds (default: the profile's)")
    p.add_argument("--backup-dir", help="resume/checkpoint folder (Keras BackupAndRestore)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON output path")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    cfg = labkit.settings("fast_training", args.profile)
    labkit.seed_everything(args.seed)
    from labkit import data, flops, recipe

    widths = tuple(int(w) for w in args.widths.split(",")) if args.widths else tuple(cfg.widths)
    epochs = args.epochs or cfg.epochs
    batch = args.batch_size or cfg.batch_size
    n_train = args.n_train or cfg.n_train
    target = args.target if args.target is not None else cfg.min_accuracy
    budget = args.budget if args.budget is not None else cfg.budget_s

    options = dict(cfg.options)
    if args.activation:
        options["activation"] = args.activation
    if args.optimizer:
        options["optimizer"] = args.optimizer
    c10 = data.load("cifar10")
    ds = c10.subset(n_train, None, seed=args.seed)
    print(f"data: {c10.source} (JPEG q75 copy); train {len(ds.y_train):,}, test {len(ds.y_test):,}", flush=True)

    peaks = {"float32": flops.matmul_peak("float32"), "bfloat16": flops.matmul_peak("bfloat16")}
    print(f"matmul peak: float32 {peaks['float32'] / 1e9:.0f} GFLOP/s, bfloat16 {peaks['bfloat16'] / 1e9:.0f} "
          "GFLOP/s", flush=True)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    r = recipe.train_recipe(ds.x_train, ds.y_train, ds.x_test, ds.y_test, epochs=epochs, widths=widths,
                           batch_size=batch, precision=args.precision, eval_every=args.eval_every,
                           backup_dir=args.backup_dir, seed=args.seed,
                           **options)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0

    peak = peaks["bfloat16"] if r.precision in ("mixed_bfloat16", "mixed_float16") else peaks["float32"]
    fwd = flops.model_flops(r.model)
    train_flops = flops.training_flops(r.model, r.samples_seen)
    achieved = train_flops / r.train_seconds if r.train_seconds else float("nan")
    tta = r.time_to_accuracy(target)
    met_bar = r.test_accuracy is not None and r.test_accuracy >= target
    met_budget = budget is None or r.train_seconds <= budget
    result = dict(
        profile=args.profile, dataset="cifar10 JPEG q75 copy (labkit.data)", widths=list(widths), epochs=r.epochs,
        batch_size=r.config["batch_size"], activation=r.config["activation"], optimizer=r.config["optimizer"],
        tta=r.config["tta"],
        n_train=len(ds.y_train), precision=r.precision,
        test_accuracy=r.test_accuracy, target=target, time_to_target_s=tta, budget_s=budget,
        train_seconds=r.train_seconds, wall_seconds_incl_eval=wall, cpu_seconds=cpu,
        samples_per_second=r.samples_per_second, forward_flops_per_image=fwd, training_flops=train_flops,
        training_pflops=train_flops / 1e15, fraction_of_airbench94_compute=train_flops / 0.36e15,
        achieved_flops_per_s=achieved, peak_flops_per_s=peaks, fraction_of_peak=achieved / peak,
        met_bar=met_bar, met_budget=met_budget, epoch_log=r.epoch_log,
        machine=dict(cpu_count=os.cpu_count(), platform=platform.platform(),
                     bf16_instructions=recipe.cpu_supports_bf16(),
                     load_average_end=os.getloadavg() if hasattr(os, "getloadavg") else None),
    )
    print(f"\nfinal test accuracy (TTA level {r.config['tta']}): {r.test_accuracy:.4f}  (bar {target})")
    print(f"time to {target:.2f}: " + (f"{tta:.0f} s of training" if tta is not None else "not reached"))
    print(f"training time {r.train_seconds:.0f} s for {r.epochs} epochs"
          + (f" (budget {budget:.0f} s)" if budget else "") + f"; {r.samples_per_second:.0f} images/s; "
          f"CPU time {cpu:.0f} s")
    print(f"training compute {train_flops / 1e15:.4f} PFLOPs ({train_flops / 0.36e15:.0%} of airbench94's)")
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s = {achieved / peak:.0%} of the measured {r.precision} "
          f"matmul peak ({peak / 1e9:.0f} GFLOP/s)")
    default_out = Path(__file__).resolve().parent / "results" / f"cifar_recipe_{args.profile}.json"
    out = Path(args.out) if args.out else default_out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0 if (met_bar and met_budget) else 1


if __name__ == "__main__":
    sys.exit(main())
