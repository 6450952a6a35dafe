"""What each ingredient of the CIFAR-10 recipe buys: the recipe trained without one ingredient at a time.

Usage (from the repository root, with LABKIT_DATA_DIR set, on an otherwise idle machine)::

    python benchmarks/bench_recipe_ablation.py                      # the stored run (about 45 min here)
    python benchmarks/bench_recipe_ablation.py --epochs 1 --n-train 5000 --only recipe,float32   # a smoke run

The recipe is the standard profile's (``labkit.settings("fast_training", "standard")``: Muon, ReLU, batch
2000, label smoothing, flip and translate augmentation, bfloat16 where the CPU has it), trained on
all 50,000 training images for ``--epochs`` epochs, but on a narrower network (``--widths``, default
32,64,128) so that a dozen runs fit in under an hour on 2 CPU cores. Every row changes one thing
(see :data:`ABLATIONS`); the whole recipe is trained with several seeds (``--seeds``) to show how
much a single run varies, every other row with the first seed. Test-time augmentation needs no
training of its own: each trained model is evaluated at TTA levels 0, 1 and 2.

Writes ``benchmarks/results/recipe_ablation_<date>.json`` (``--out``): per row the change, the
test accuracy at each TTA level, the training seconds (evaluation excluded) and the epoch log.
Figures are for the JPEG q75 copy of CIFAR-10 in the workbook's data folder; say so when quoting them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import labkit  # noqa: E402  (before TensorFlow)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mnist import cpu_info  # noqa: E402

# name -> (what changes, recipe overrides, train_recipe keywords)
ABLATIONS: dict[str, tuple[str, dict, dict]] = {
    "recipe": ("the whole recipe", {}, {}),
    "no whitening": ("the 2x2 first layer learns from scratch instead of being frozen at the "
                     "patch-whitening filters", {"whiten": False}, {}),
    "no label smoothing": ("one-hot targets instead of 0.82 / 0.02", {"label_smoothing": 0.0}, {}),
    "no flip": ("no mirrored images", {"flip": False}, {}),
    "random flip": ("each image mirrored with probability 1/2 every epoch, instead of alternately",
                    {"alternate_flip": False}, {}),
    "no translation": ("no 2-pixel shifts", {"translate": 0}, {}),
    "constant learning rate": ("every rate held at its peak instead of decaying linearly to 0",
                               {"lr_decay": False}, {}),
    "slow biases": ("batch-norm and whitening biases at 1/64 of their rate", {"muon_bias_lr": 0.053 / 64}, {}),
    "SGD + Lookahead": ("airbench94's Nesterov SGD, triangular schedule, 64x bias rate and Lookahead, "
                        "batch 512, instead of Muon", {"optimizer": "sgd", "batch_size": 512}, {}),
    "float32": ("float32 arithmetic instead of mixed bfloat16", {}, {"precision": "float32"}),
}


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=8, help="epochs per run (default 8, the standard profile's)")
    p.add_argument("--widths", default="32,64,128", help="the network's widths (default 32,64,128)")
    p.add_argument("--n-train", type=int, help="train on a stratified subset of this size (default: all 50,000)")
    p.add_argument("--seeds", default="0,1,2", help="seeds of the whole recipe; other rows use the first")
    p.add_argument("--only", help="comma-separated row names (default: every row of ABLATIONS)")
    p.add_argument("--out", help="JSON output path")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    from labkit import data, recipe

    cfg = labkit.settings("fast_training", "standard")
    widths = tuple(int(w) for w in args.widths.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    names = list(ABLATIONS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        print(f"unknown row(s) {unknown}; known: {list(ABLATIONS)}", file=sys.stderr)
        return 2
    c10 = data.load("cifar10")
    ds = c10.subset(args.n_train, None, seed=0) if args.n_train else c10
    print(f"data: {c10.source} (JPEG q75 copy); train {len(ds.y_train):,}, test {len(ds.y_test):,}", flush=True)
    base = {"batch_size": cfg.batch_size, **cfg.options}

    rows = []
    started = time.perf_counter()
    for name in names:
        what, overrides, kwargs = ABLATIONS[name]
        for seed in (seeds if name == "recipe" else seeds[:1]):
            settings = {**base, **overrides}
            r = recipe.train_recipe(ds.x_train, ds.y_train, epochs=args.epochs, widths=widths, seed=seed,
                                    log=None, **kwargs, **settings)
            acc = {}
            for level in (0, 1, 2):
                logits = recipe.predict_tta(r.model, ds.x_test, tta=level)
                acc[level] = float((logits.argmax(1) == ds.y_test).mean())
            rows.append(dict(name=name, change=what, seed=seed, overrides=overrides, precision=r.precision,
                             batch_size=r.config["batch_size"], optimizer=r.config["optimizer"],
                             test_accuracy={f"tta{k}": v for k, v in acc.items()},
                             train_seconds=r.train_seconds, epoch_log=r.epoch_log))
            print(f"{name:24s} seed {seed}: test acc {acc[2]:.4f} (TTA 2), {acc[0]:.4f} (no TTA); "
                  f"{r.train_seconds:.0f} s of training", flush=True)
    result = dict(
        benchmark="CIFAR-10 recipe ablation: the standard recipe without one ingredient at a time",
        date=dt.datetime.now().isoformat(timespec="seconds"),
        dataset="cifar10 JPEG q75 copy (labkit.data)", n_train=len(ds.y_train), n_test=len(ds.y_test),
        widths=list(widths), epochs=args.epochs, seeds=seeds, recipe_options=base, rows=rows,
        wall_seconds=time.perf_counter() - started,
        machine=dict(cpu_info(), bf16_instructions=recipe.cpu_supports_bf16(),
                     load_average_end=os.getloadavg() if hasattr(os, "getloadavg") else None),
    )
    default = Path(__file__).resolve().parent / "results" / f"recipe_ablation_{dt.date.today().isoformat()}.json"
    out = Path(args.out) if args.out else default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
