"""labkit.models.cifar, labkit.recipe and labkit.flops: shapes, parameter/FLOP counts against hand
counts, the whitening layer against its definition, augmentation, and a resumable tiny recipe run."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from labkit import flops, recipe  # noqa: E402
from labkit.models import cifar, count_params  # noqa: E402
from labkit.recipe import augment, backup, precision  # noqa: E402
from labkit.recipe.optimizers import AirbenchMuon, Lookahead  # noqa: E402
from labkit.recipe.schedules import Triangle  # noqa: E402


def test_dense_and_small_cnn_param_counts_match_hand_counts():
    dense = cifar.cifar_dense((256, 128))
    assert count_params(dense) == 3072 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    cnn = cifar.cifar_small_cnn((16, 32))
    convs = 3 * 3 * 3 * 16 + 3 * 3 * 16 * 16 + 3 * 3 * 16 * 32 + 3 * 3 * 32 * 32
    bn = 2 * (16 + 16 + 32 + 32)  # gamma and beta are trainable
    assert count_params(cnn) == convs + bn + 32 * 10 + 10
    assert count_params(cnn) < count_params(dense) / 10
    x = np.zeros((2, 32, 32, 3), "float32")
    for m in (dense, cnn, cifar.cifar_large_cnn(8, 64, l2=1e-3, dropout=0.2, batch_norm=True, augment=True),
              cifar.cifar_tiny_cnn(2)):
        assert m(x).shape == (2, 10)


def test_flops_match_hand_counts():
    cnn = cifar.cifar_small_cnn((16, 32))
    want = 2 * (32 * 32 * 9 * (3 * 16 + 16 * 16) + 16 * 16 * 9 * (16 * 32 + 32 * 32)) + 2 * 32 * 10
    assert flops.model_flops(cnn) == want
    assert flops.training_flops(cnn, 10) == pytest.approx(3 * want * 10)
    dense = cifar.cifar_dense((256,))
    assert flops.model_flops(dense) == 2 * (3072 * 256 + 256 * 10)
    with pytest.raises(TypeError, match="Keras model"):
        flops.model_flops("cnn")


def test_large_cnn_remedies_change_the_model():
    base = cifar.cifar_large_cnn(8, 64)
    assert not base.losses or all(float(v) == 0 for v in base.losses)
    l2 = cifar.cifar_large_cnn(8, 64, l2=1e-2)
    l2(np.ones((1, 32, 32, 3), "float32"))
    assert len(l2.losses) == 8 and float(sum(l2.losses)) > 0  # 6 kernels + 2 dense kernels
    names = lambda m: {type(layer).__name__ for layer in m.layers}  # noqa: E731
    assert "Dropout" in names(cifar.cifar_large_cnn(8, 64, dropout=0.3))
    assert "BatchNormalization" in names(cifar.cifar_large_cnn(8, 64, batch_norm=True))
    aug = cifar.cifar_large_cnn(8, 64, augment=True)
    assert {"RandomFlip", "RandomTranslation"} <= names(aug)
    with pytest.raises(ValueError, match="dropout"):
        cifar.cifar_large_cnn(8, 64, dropout=1.5)
    with pytest.raises(ValueError, match="hidden"):
        cifar.cifar_dense((128, 0))


def test_augmentation_layers_are_identity_at_inference_and_move_pixels_in_training():
    x = np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32")
    layers = cifar.augmentation_layers(seed=3)
    y = x
    for layer in layers:
        np.testing.assert_array_equal(layer(y, training=False), y)
        y = layer(y, training=True)
    y = np.asarray(y)
    assert y.shape == x.shape and not np.allclose(y, x)
    # nearest-neighbour translation with reflect fill only moves existing pixel values around
    assert np.isin(np.round(y, 6), np.round(x, 6)).mean() > 0.99


def test_whitening_kernel_decorrelates_patches():
    rng = np.random.default_rng(1)
    # correlated colour images: smooth noise mixed across channels
    base = rng.normal(size=(200, 16, 16, 1))
    imgs = np.concatenate([base, 0.8 * base + 0.2 * rng.normal(size=base.shape),
                           rng.normal(size=base.shape)], axis=-1)
    k = recipe.whitening_kernel(imgs, eps=0.0)
    assert k.shape == (2, 2, 3, 24)
    np.testing.assert_allclose(k[..., 12:], -k[..., :12])
    # oracle: the covariance of the first 12 filters' responses is the identity
    patches = np.stack([imgs[:, i:15 + i, j:15 + j, :] for i in range(2) for j in range(2)], axis=3)
    patches = patches.reshape(-1, 12)
    patches = patches - patches.mean(0)
    w = k[..., :12].reshape(12, 12)  # (i, j, c) x filters, the same order as the patches
    resp = patches @ w
    np.testing.assert_allclose(resp.T @ resp / len(resp), np.eye(12), atol=1e-3)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        recipe.whitening_kernel(np.zeros((2, 8, 8)))


def test_recipe_net_structure():
    model = recipe.recipe_net((8, 16, 32))
    assert model(np.zeros((2, 32, 32, 3), "float32")).shape == (2, 10)
    stem, bias = model.get_layer("whiten"), model.get_layer("whiten_bias")
    assert not stem.trainable and not stem.trainable_weights and stem.bias is None
    assert bias.bias.trainable and not bias.gate.trainable
    k = model.get_layer("block2_conv1").kernel.numpy()  # identity on the first 8 output channels
    np.testing.assert_array_equal(k[1, 1, :, :8], np.eye(8))
    assert np.all(k[0, :, :, :8] == 0)
    with pytest.raises(ValueError, match="3 positive integers"):
        recipe.recipe_net((8, 16))
    with pytest.raises(ValueError, match=r"\(2, 2, 3, 24\)"):
        recipe.recipe_net((8, 16, 32), whiten=np.zeros((3, 3, 3, 24)))


def test_recipe_net_activation_is_applied():
    import keras

    x = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    acts = {name: [layer for layer in recipe.recipe_net((8, 16, 32), activation=name).layers
                   if isinstance(layer, keras.layers.Activation)] for name in ("relu", "gelu")}
    assert len(acts["relu"]) == len(acts["gelu"]) == 7  # stem + two per group
    np.testing.assert_allclose(np.asarray(acts["relu"][0](x)), np.maximum(x, 0))
    # exact GELU, x * Phi(x), against the oracle from the error function
    from math import erf, sqrt
    phi = np.vectorize(lambda v: 0.5 * (1 + erf(v / sqrt(2))))(x)
    np.testing.assert_allclose(np.asarray(acts["gelu"][3](x)), x * phi, rtol=1e-5, atol=1e-6)


def test_scaled_bias_multiplies_the_gradient_only():
    model = recipe.recipe_net((8, 16, 32), bias_scale=64.0)
    layer = model.get_layer("block1_1_bias")
    layer.bias.assign(np.full(8, 0.5, "float32"))
    x = tf.ones((1, 4, 4, 8))
    with tf.GradientTape() as tape:
        y = layer(x)
        s = tf.reduce_sum(y)
    np.testing.assert_allclose(y.numpy(), 1.5)  # forward: x + bias
    np.testing.assert_allclose(tape.gradient(s, layer.bias).numpy(), 64.0 * 16)  # 16 positions x 64
    layer.freeze()  # frozen: same output, no gradient
    with tf.GradientTape() as tape:
        y = layer(x)
        s = tf.reduce_sum(y)
    np.testing.assert_allclose(y.numpy(), 1.5)
    np.testing.assert_allclose(tape.gradient(s, layer.bias).numpy(), 0.0)


def test_precision_choice(monkeypatch):
    assert recipe.recipe_precision("float32") == "float32"
    with pytest.raises(ValueError, match="precision must be"):
        recipe.recipe_precision("fp8")
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    assert recipe.recipe_precision("auto") in ("float32", "mixed_float16")  # mixed_float16 only on a GPU
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert recipe.recipe_precision("auto") in ("mixed_bfloat16", "mixed_float16")


def test_augment_fn_flips_and_translates_by_whole_pixels():
    aug = augment.augment_fn(2, True)
    x = tf.random.stateless_uniform((16, 32, 32, 3), (1, 2))
    y = tf.zeros((16, 10))
    out, _ = aug(x, y, tf.constant(5, tf.int64))
    out = out.numpy()
    xn = x.numpy()
    padded = np.pad(xn, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    for i in range(16):  # each output is a 32x32 window of the padded image, maybe mirrored
        cands = [padded[i, a:a + 32, b:b + 32] for a in range(5) for b in range(5)]
        cands += [c[:, ::-1] for c in cands]
        cands = [padded[i][:, ::-1][a:a + 32, b:b + 32] for a in range(5) for b in range(5)] + cands
        assert any(np.array_equal(out[i], c) for c in cands), i


def _tiny_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
    x[np.arange(n), :, :, y % 3] += (20 * (y[:, None, None] + 1)).astype(np.uint8)  # a learnable signal
    return x, y


# Every train_recipe call costs a few seconds, nearly all of it TensorFlow tracing the training step,
# whatever the data size or the number of epochs. The runs that several tests only read are made once
# per module below: an evaluated run per optimiser, and one run of the default settings whose backup
# folder is copied at the end of every epoch (what an interruption at that moment leaves behind).

class _Watch(keras.callbacks.Callback):
    """The whitening bias at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self.model.get_layer("whiten_bias").bias.numpy().copy())


def _evaluated_run(optimizer, **kw):
    x, y = _tiny_data()
    return recipe.train_recipe(x, y, x[:64], y[:64], epochs=3, widths=(8, 16, 16), batch_size=64,
                               precision="float32", log=None, eval_every=1, optimizer=optimizer, **kw)


@pytest.fixture(scope="module")
def sgd_run():
    """The evaluated SGD run, its whitening bias trained in epoch 1 only; and the bias after each epoch."""
    watch = _Watch()
    return _evaluated_run("sgd", whiten_bias_epochs=1, callbacks=[watch]), watch.seen


@pytest.fixture(scope="module")
def muon_run():
    return _evaluated_run("muon"), None


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["sgd", "muon"])
def test_train_recipe_learns_and_resumes(request, tmp_path, optimizer):
    x, y = _tiny_data()
    r, _ = request.getfixturevalue(f"{optimizer}_run")
    assert r.epochs == 3 and r.samples_seen == 3 * 256 and r.precision == "float32"
    assert r.config["optimizer"] == optimizer
    assert r.epoch_log[-1]["loss"] < r.epoch_log[0]["loss"]
    assert 0 <= r.test_accuracy <= 1 and r.epoch_log[0]["test_accuracy"] is not None
    assert r.time_to_accuracy(0.0) == r.epoch_log[0]["seconds"] and r.time_to_accuracy(1.01) is None

    # interrupted after 2 of 3 epochs, then called again: only epoch 3 trains, the result is the run's
    root = tmp_path / "backups"
    crash = _Crash(after=2)
    with pytest.raises(KeyboardInterrupt):
        _recipe(x, y, root, callbacks=[crash], optimizer=optimizer)
    run = _run_dir(root)
    first = _FirstState()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = _recipe(x, y, root, optimizer=optimizer, callbacks=[first])
    assert not [w for w in caught if "backup" in str(w.message) or "retain" in str(w.message)]
    # epoch 3 starts from exactly the weights and optimiser state the interrupted run saved
    assert len(first.state) == len(crash.state)
    for a, b in zip(first.state, crash.state):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.model.optimizer.iterations.numpy()) == 3 * 4  # epoch 3 only added its 4 steps
    # the whole run, not the last session: 3 epochs, 3 x 256 samples, the seconds of both sessions
    assert resumed.epochs == 3 and resumed.samples_seen == 3 * 256
    assert resumed.resumed_epochs == 2
    assert [row["epoch"] for row in resumed.epoch_log] == [1, 2, 3]
    assert [row["loss"] for row in resumed.epoch_log[:2]] == pytest.approx(crash.losses)  # from session 1
    secs = [row["seconds"] for row in resumed.epoch_log]
    assert 0 < secs[0] < secs[1] < secs[2] == resumed.train_seconds
    assert resumed.samples_per_second == pytest.approx(3 * 256 / resumed.train_seconds)
    assert not run.exists()  # deleted after a finished run


class _Crash(keras.callbacks.Callback):
    """Interrupts training at the end of epoch ``after`` (counted from 1), after the backup of that
    epoch was written; records the losses it saw."""

    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))
        if epoch + 1 == self.after:
            self.state = _state(self.model)
            raise KeyboardInterrupt("simulated interruption")


def _state(model):
    return [v.numpy().copy() for v in list(model.weights) + list(model.optimizer.variables)]


class _FirstState(keras.callbacks.Callback):
    """The model's and optimiser's variables when the first epoch of this call begins."""

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self, "state"):
            self.state = _state(self.model)


class _Snapshot(keras.callbacks.Callback):
    """Copies the run's backup folder at the end of every epoch, after the recipe's backup callback
    wrote it (the caller's callbacks run after it): exactly what an interruption at the end of that
    epoch leaves behind, as ``dest/after<epoch>/<run folder>``."""

    def __init__(self, root, dest):
        super().__init__()
        self.root, self.dest = root, dest

    def on_epoch_end(self, epoch, logs=None):
        (run,) = [p.parent for p in self.root.glob("*/latest.weights.h5") if not p.parent.name.endswith(".set-aside")]
        shutil.copytree(run, self.dest / f"after{epoch + 1}" / run.name)


def _restore(snapshot, root):
    """Put the backup folder of a snapshot into ``root`` (private, as train_recipe makes it); returns it."""
    (src,) = snapshot.iterdir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(shutil.copytree(src, root / src.name))


@pytest.fixture(scope="module")
def backups(tmp_path_factory):
    """One uninterrupted run of the default settings on 128 images; its backup folder as it was at the
    end of epochs 1, 2 and 3 (``after1`` ... ``after3``), each what an interruption then leaves."""
    x, y = _tiny_data(128)
    base = tmp_path_factory.mktemp("recipe-backups")
    root, dest = base / "root", base / "snapshots"
    r = _recipe(x, y, root, callbacks=[_Snapshot(root, dest)])
    assert r.resumed_epochs == 0 and _epochs(r) == [1, 2, 3] and not list(root.iterdir())
    return {f"after{n}": dest / f"after{n}" for n in (1, 2, 3)}


def _recipe(x, y, root, **kw):
    args = dict(epochs=3, widths=(8, 16, 16), batch_size=64, precision="float32", log=None, backup_dir=root)
    return recipe.train_recipe(x, y, **{**args, **kw})


def _crashed_run(x, y, root, after, **kw):
    """Train until the end of epoch ``after``, interrupt, and return the backup folder left behind."""
    before = set(root.rglob("latest.weights.h5")) if root.exists() else set()
    with pytest.raises(KeyboardInterrupt):
        _recipe(x, y, root, callbacks=[_Crash(after)], **kw)
    (new,) = set(root.rglob("latest.weights.h5")) - before
    return new.parent


def _run_dir(root):
    (weights,) = root.rglob("latest.weights.h5")
    return weights.parent


def _epochs(result):
    return [row["epoch"] for row in result.epoch_log]


@pytest.mark.slow
def test_backup_is_keyed_by_the_data_and_the_settings(tmp_path, backups):
    x, y = _tiny_data(128)
    root = tmp_path / "backups"
    run_a = _restore(backups["after1"], root)  # run A, interrupted after epoch 1
    # other data, same settings: a fresh run of 3 epochs, not a continuation of run A
    x2, y2 = _tiny_data(128, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        other_data = _recipe(x2, y2, root)
        # other widths: the old shared folder made Keras fail ("objects could not be loaded")
        other_widths = _recipe(x, y, root, widths=(8, 16, 32))
    assert not [w for w in caught if "backup" in str(w.message)]
    for r in (other_data, other_widths):
        assert _epochs(r) == [1, 2, 3] and r.resumed_epochs == 0
        assert int(r.model.optimizer.iterations.numpy()) == 3 * 2
        assert r.config["backup_path"] != str(run_a)
    assert run_a.exists()  # run A's backup is untouched and still resumes
    resumed = _recipe(x, y, root)
    assert resumed.resumed_epochs == 1 and _epochs(resumed) == [1, 2, 3]
    assert resumed.config["backup_path"] == str(run_a) and not run_a.exists()
    # the key covers the data and every setting that shapes the run, and the record says which
    run_b = _crashed_run(x, y, root, after=1, seed=1)
    rec = _record(run_b)
    assert set(rec["settings"]) >= set(recipe.RECIPE_DEFAULTS) | {"epochs", "seed", "precision", "batch_size"}
    assert rec["settings"]["seed"] == 1 and rec["settings"]["widths"] == [8, 16, 16]
    assert rec["fingerprint"] == backup.recipe_fingerprint(x, y, rec["settings"])
    assert run_b.name.endswith(rec["fingerprint"][:16])
    assert backup.recipe_fingerprint(x2, y, rec["settings"]) != rec["fingerprint"]
    assert backup.recipe_fingerprint(x, y2, rec["settings"]) != rec["fingerprint"]


def _record(run):
    return json.loads((run / "labkit_run.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "fingerprint", "unloadable", "no record"])
def test_damaged_or_foreign_backup_is_reported_set_aside_and_training_starts_fresh(tmp_path, backups, damage):
    x, y = _tiny_data(128)
    root = tmp_path / "backups"
    run = _restore(backups["after1"], root)  # a run interrupted after epoch 1
    weights = run / "latest.weights.h5"
    if damage == "truncated":  # e.g. the disk filled up while epoch 1 was written
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
        why = "truncated"
    elif damage == "fingerprint":  # a backup of another run copied (or planted) under this run's name
        rec = _record(run)
        (run / "labkit_run.json").write_text(json.dumps(dict(rec, fingerprint="0" * 64)))
        why = "other data or settings"
    elif damage == "unloadable":  # a forged record over weights of other widths: Keras refuses them
        other = _crashed_run(x, y, tmp_path / "other", after=1, widths=(8, 16, 32))
        rec = _record(run)
        shutil.copyfile(other / "latest.weights.h5", weights)
        (run / "labkit_run.json").write_text(json.dumps(dict(rec, weights_sha256=_sha256(weights))))
        why = "Keras could not load"
    else:  # a backup from before labkit recorded its runs (Keras' files only)
        (run / "labkit_run.json").unlink()
        why = "no labkit record"
    snapshots = tmp_path / "snapshots"
    with pytest.warns(RuntimeWarning, match=re.escape(str(run))) as caught:
        r = _recipe(x, y, root, callbacks=[_Snapshot(root, snapshots)])
    message = " ".join(str(w.message) for w in caught)
    assert why in message and "from scratch" in message
    assert _epochs(r) == [1, 2, 3] and r.resumed_epochs == 0  # a fresh start, all 3 epochs
    assert int(r.model.optimizer.iterations.numpy()) == 3 * 2
    aside = run.with_name(run.name + ".set-aside")
    assert aside.is_dir() and (aside / "latest.weights.h5").exists() and not run.exists()
    # the next run is not broken by it: the fresh run backed up into the run's folder next to the one set
    # aside; interrupted after its epoch 2 (its folder as it was then), it resumes normally, without a warning
    assert _restore(snapshots / "after2", root) == run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _recipe(x, y, root)
    assert not [w for w in caught if "backup" in str(w.message)]
    assert again.resumed_epochs == 2 and _epochs(again) == [1, 2, 3]
    assert [row["loss"] for row in again.epoch_log[:2]] == [row["loss"] for row in r.epoch_log[:2]]


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_backup_folder_must_be_private(tmp_path, monkeypatch, backups):
    x, y = _tiny_data(128)
    shared = tmp_path / "shared"
    run = _restore(backups["after2"], shared)  # a run interrupted after epoch 2
    # another local user can write into the folder: whatever is there could be planted
    shared.chmod(0o777)
    with pytest.warns(RuntimeWarning, match=re.escape(str(shared))) as caught:
        r = _recipe(x, y, shared)
    assert "other users can write to it" in str(caught[0].message)
    assert _epochs(r) == [1, 2, 3] and r.resumed_epochs == 0 and r.config["backup_path"] is None
    assert run.exists()  # nothing in a folder we do not trust is touched
    # the folder belongs to another user
    shared.chmod(0o700)
    if os.geteuid() == 0:
        os.chown(shared, 65534, 65534)
    else:
        uid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    with pytest.warns(RuntimeWarning, match="belongs to user id") as caught:
        r = _recipe(x, y, shared)
    assert str(shared) in str(caught[0].message) and r.resumed_epochs == 0
    monkeypatch.undo()
    # inside a private folder, a run folder others can write to is set aside
    private = tmp_path / "private"
    run = _restore(backups["after2"], private)
    run.chmod(0o777)
    with pytest.warns(RuntimeWarning, match=re.escape(str(run))) as caught:
        r = _recipe(x, y, private)
    assert "other users can write to it" in str(caught[0].message)
    assert r.resumed_epochs == 0 and run.with_name(run.name + ".set-aside").is_dir()
    # backup_dir=True: the per-user cache folder, created private
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert recipe.recipe_backup_root() == tmp_path / "cache" / "backups"
    run = _crashed_run(x, y, tmp_path / "cache", after=1, backup_dir=True)
    assert run.parent == tmp_path / "cache" / "backups"
    assert run.parent.stat().st_mode & 0o777 == 0o700
    assert _recipe(x, y, None, backup_dir=True).resumed_epochs == 1


@pytest.mark.slow
def test_nothing_left_to_train_reports_the_stored_totals(tmp_path, backups):
    x, y = _tiny_data(128)
    root = tmp_path / "backups"
    run = _restore(backups["after3"], root)  # interrupted after the last epoch's backup
    stored = _record(run)
    r = _recipe(x, y, root)
    assert r.epochs == 3 and r.samples_seen == 3 * 128
    assert r.resumed_epochs == 3 and _epochs(r) == [1, 2, 3]
    assert r.train_seconds == stored["train_seconds"] > 0  # the run's total, not the 0 s of this call
    assert r.samples_per_second == pytest.approx(3 * 128 / stored["train_seconds"])
    assert int(r.model.optimizer.iterations.numpy()) == 3 * 2 and not run.exists()


@pytest.mark.slow
def test_whitening_bias_trains_first_then_stays_frozen(sgd_run):
    r, seen = sgd_run  # trained with whiten_bias_epochs=1
    assert r.config["whiten_bias_epochs"] == 1 and len(seen) == 3
    assert np.abs(seen[0]).max() > 0  # trained in epoch 1 (from zeros) ...
    layer = r.model.get_layer("whiten_bias")
    np.testing.assert_array_equal(layer.frozen.numpy(), seen[0])  # ... frozen after it, not decayed
    assert float(layer.gate.numpy()) == 0.0


def test_train_recipe_validates_inputs():
    x, y = _tiny_data(32)
    with pytest.raises(ValueError, match="unknown recipe setting"):
        recipe.train_recipe(x, y, epochs=1, learning_rate=1.0)
    with pytest.raises(ValueError, match="epochs"):
        recipe.train_recipe(x, y, epochs=0)
    with pytest.raises(TypeError, match="epochs"):
        recipe.train_recipe(x, y, epochs=2.0)
    with pytest.raises(ValueError, match="labels"):
        recipe.train_recipe(x, y + 10, epochs=1)
    # fractional labels were truncated to classes 0 and 9
    for bad in (0.5, 9.5):
        with pytest.raises(ValueError, match="y_train must hold whole-number class labels"):
            recipe.train_recipe(x, np.full(32, bad), epochs=1)
    with pytest.raises(TypeError, match="y_train"):
        recipe.train_recipe(x, np.array(["cat"] * 32), epochs=1)
    with pytest.raises(ValueError, match=r"x_train must be \(N, 32, 32, 3\)"):
        recipe.train_recipe(x[:, :16], y, epochs=1)
    with pytest.raises(ValueError, match="y_train has 10"):
        recipe.train_recipe(x, y[:10], epochs=1)
    # float pixels in [0, 255] trained as if they were in [0, 1]
    with pytest.raises(ValueError, match=r"x_train .*255.* pass uint8 pixels or scale"):
        recipe.train_recipe(x.astype("float32"), y, epochs=1)
    with pytest.raises(ValueError, match=r"x_train .*\[0, 1\]"):
        recipe.train_recipe(x.astype("float32") / 255 - 0.5, y, epochs=1)  # already normalised
    with pytest.raises(TypeError, match="x_train must be uint8"):
        recipe.train_recipe(x.astype("int64"), y, epochs=1)
    with pytest.raises(ValueError, match="x_test"):
        recipe.train_recipe(x, y, x.astype("float32"), y, epochs=1)
    with pytest.raises(ValueError, match="y_test"):
        recipe.train_recipe(x, y, x, None, epochs=1)
    with pytest.raises(ValueError, match="batch_size"):
        recipe.train_recipe(x, y, epochs=1, batch_size=0)
    with pytest.raises(TypeError, match="backup_dir"):
        recipe.train_recipe(x, y, epochs=1, backup_dir=3)
    with pytest.raises(TypeError, match="log"):
        recipe.train_recipe(x, y, epochs=1, log="print")


def test_predict_tta_averages_the_mirror():
    model = cifar.cifar_small_cnn((4, 8))
    x = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3)).astype(np.uint8)
    xf = x.astype("float32") / 255
    want = 0.5 * (model.predict(xf, verbose=0) + model.predict(xf[:, :, ::-1], verbose=0))
    np.testing.assert_allclose(recipe.predict_tta(model, x), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(recipe.predict_tta(model, x, tta=True), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(recipe.predict_tta(model, x, tta=False), model.predict(xf, verbose=0), atol=1e-6)


def test_predict_tta_level_2_adds_one_pixel_shifts():
    model = cifar.cifar_small_cnn((4, 8))
    x = np.random.default_rng(1).random((3, 32, 32, 3)).astype("float32")
    # oracle: TensorFlow's reflect padding and crops, six views weighted 1/4, 1/4, 1/8 x 4
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT").numpy()
    views = [x, padded[:, :32, :32], padded[:, 2:, 2:]]
    mirror = [0.5 * (model.predict(v, verbose=0) + model.predict(v[:, :, ::-1], verbose=0)) for v in views]
    want = 0.5 * mirror[0] + 0.25 * mirror[1] + 0.25 * mirror[2]
    np.testing.assert_allclose(recipe.predict_tta(model, x, tta=2), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="tta must be"):
        recipe.predict_tta(model, x, tta=3)


def test_alternating_flip_mirrors_every_image_on_odd_epochs():
    x = np.random.default_rng(0).random((4, 32, 32, 3)).astype("float32")
    y = np.zeros((4, 10), "float32")
    flip_all = tf.Variable(False)
    aug = augment.augment_fn(0, True, flip_all)
    out, _ = aug(tf.constant(x), tf.constant(y), tf.constant(3, tf.int64))
    np.testing.assert_array_equal(out.numpy(), x)
    flip_all.assign(True)
    out, _ = aug(tf.constant(x), tf.constant(y), tf.constant(3, tf.int64))
    np.testing.assert_array_equal(out.numpy(), x[:, :, ::-1])


def test_lookahead_moves_weights_to_their_moving_average():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.optimizer.build(model.trainable_variables)
    cb = Lookahead(start_step=5, total_steps=20, every=5)
    cb.set_model(model)
    cb.on_train_begin()
    w0 = [v.numpy().copy() for v in model.weights]
    model.optimizer.iterations.assign(3)  # before start_step: nothing happens
    cb.on_train_batch_end(0)
    assert cb.ema is None
    model.optimizer.iterations.assign(5)  # first update: the average starts at the current weights
    cb.on_train_batch_end(0)
    w1 = [w + 1.0 for w in w0]
    for v, w in zip(model.weights, w1):
        v.assign(w)
    model.optimizer.iterations.assign(7)  # not a multiple of `every`
    cb.on_train_batch_end(0)
    np.testing.assert_array_equal(model.weights[0].numpy(), w1[0])
    model.optimizer.iterations.assign(10)
    cb.on_train_batch_end(0)
    rho = 0.95 ** 5 * (10 / 20) ** 3
    for v, a, b in zip(model.weights, w0, w1):
        np.testing.assert_allclose(v.numpy(), a + (1 - rho) * (b - a), rtol=1e-6)
    for v in model.weights:  # the epoch ends: the network is reset to the average
        v.assign(v.numpy() + 5.0)
    cb.on_epoch_end(0)
    for v, a, b in zip(model.weights, w0, w1):
        np.testing.assert_allclose(v.numpy(), a + (1 - rho) * (b - a), rtol=1e-6)


def test_triangle_schedule_shape():
    sched = Triangle(1.0, 100, warmup=0.25, start_factor=0.2, end_factor=0.1)
    lr = np.array([float(sched(s)) for s in (0, 25, 100)])
    np.testing.assert_allclose(lr, [0.2, 1.0, 0.1], atol=1e-6)
    assert float(sched(60)) == pytest.approx(0.1 + 0.9 * 40 / 75)


def test_matmul_peak_is_positive():
    assert flops.matmul_peak("float32", n=64, repeats=1, rounds=1) > 0
    with pytest.raises(ValueError, match="dtype"):
        flops.matmul_peak("int8")


# --------------------------------------------------------------------------- Muon
def test_newton_schulz_orthogonalises_against_the_svd():
    g = np.random.default_rng(0).normal(size=(64, 24))
    u, s, vt = np.linalg.svd(g, full_matrices=False)
    out = np.asarray(recipe.newton_schulz(g, steps=5))
    assert out.shape == g.shape
    sv = np.linalg.svd(out, compute_uv=False)
    assert sv.min() > 0.5 and sv.max() < 1.6  # the scale of g is gone, every direction kept
    polar = u @ vt  # oracle: the orthogonal factor of g
    assert np.sum(out * polar) / (np.linalg.norm(out) * np.linalg.norm(polar)) > 0.97
    np.testing.assert_allclose(np.asarray(recipe.newton_schulz(g.T, steps=5)), out.T, atol=1e-5)
    np.testing.assert_allclose(np.asarray(recipe.newton_schulz(7.0 * g, steps=5)), out, atol=1e-4)
    with pytest.raises(ValueError, match="matrix"):
        recipe.newton_schulz(np.zeros((2, 2, 2)))


def test_muon_optimizer_steps_match_a_numpy_reference():
    rng = np.random.default_rng(1)
    kernel = keras.Variable(rng.normal(size=(3, 3, 4, 8)).astype("float32"), name="kernel")
    bias = keras.Variable(rng.normal(size=(8,)).astype("float32"), name="bias")
    groups = {kernel.path: ("muon", 0.2, 0.0, "main"), bias.path: ("sgd", 0.5, 0.1, "whiten")}
    opt = AirbenchMuon(groups, total_steps=4, whiten_steps=2, muon_momentum=0.6, sgd_momentum=0.85)
    k, b = kernel.numpy().astype("float64"), bias.numpy().astype("float64")
    mk, mb = np.zeros_like(k), np.zeros_like(b)
    for step in range(3):
        gk = rng.normal(size=k.shape)
        gb = rng.normal(size=b.shape)
        opt.apply([gk.astype("float32"), gb.astype("float32")], [kernel, bias])
        # reference (airbench94_muon, PyTorch semantics), rates decaying linearly to 0
        mk = 0.6 * mk + gk
        k = k * np.sqrt(8) / np.linalg.norm(k)
        upd = np.asarray(recipe.newton_schulz((gk + 0.6 * mk).reshape(-1, 8), 3)).reshape(k.shape)
        k = k - 0.2 * (1 - step / 4) * upd
        d = gb + 0.1 * b
        mb = 0.85 * mb + d
        b = b - 0.5 * max(1 - step / 2, 0) * (d + 0.85 * mb)
        np.testing.assert_allclose(kernel.numpy(), k, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(bias.numpy(), b, rtol=2e-5, atol=1e-6)
    # after 3 steps the kernel's norm is the renormalised sqrt(8) moved by two orthogonalised steps
    assert abs(np.linalg.norm(kernel.numpy()) - np.sqrt(8)) < 0.3 * np.sqrt(8)


@pytest.mark.slow
def test_train_recipe_with_muon_learns_and_uses_its_preset(muon_run):
    x, y = _tiny_data()
    r, _ = muon_run  # train_recipe(x, y, x[:64], y[:64], epochs=3, batch_size=64, optimizer="muon", ...)
    assert r.config["activation"] == "gelu" and r.config["lookahead"] is False  # the preset
    assert r.config["batch_size"] == 64  # an explicit setting wins over the preset
    assert r.epoch_log[-1]["loss"] < r.epoch_log[0]["loss"]
    head = r.model.get_layer("head").kernel.numpy()
    assert head.std() > 0.5  # unit-std head initialisation (Keras' default would be ~0.27 here)
    with pytest.raises(ValueError, match="optimizer"):
        recipe.train_recipe(x, y, epochs=1, optimizer="adam")


def test_the_recipe_is_still_reachable_from_labkit_models():
    from labkit import models

    assert models.train_recipe is cifar.train_recipe is recipe.train_recipe
    assert models.recipe_net is cifar.recipe_net is recipe.recipe_net
    for name in ("RecipeResult", "predict_tta", "whitening_kernel", "recipe_precision", "cpu_supports_bf16",
                 "newton_schulz", "RECIPE_DEFAULTS", "MUON_PRESET", "recipe_backup_root", "CIFAR_MEAN"):
        assert getattr(cifar, name) is getattr(recipe, name), name


# --------------------------------------------------------------------------- ablation switches
def test_constant_schedule_keeps_the_rate_while_main_decays():
    """AirbenchMuon's "constant" schedule: an SGD step at step 3 of 4 is as large as at step 0."""
    def third_step(schedule):
        v = keras.Variable(np.zeros(3, "float32"), name="bias")
        opt = AirbenchMuon({v.path: ("sgd", 0.5, 0.0, schedule)}, total_steps=4, sgd_momentum=0.0)
        sizes = []
        for _ in range(4):
            before = v.numpy().copy()
            opt.apply([np.ones(3, "float32")], [v])
            sizes.append(float(before[0] - v.numpy()[0]))
        return sizes

    np.testing.assert_allclose(third_step("constant"), [0.5] * 4, rtol=1e-6)
    np.testing.assert_allclose(third_step("main"), [0.5, 0.375, 0.25, 0.125], rtol=1e-6)
    with pytest.raises(ValueError, match="schedule one of"):
        AirbenchMuon({"bias": ("sgd", 0.5, 0.0, "cosine")})


def test_recipe_net_can_learn_its_first_layer_instead_of_whitening():
    frozen = recipe.recipe_net((8, 8, 8), whiten=None)
    learned = recipe.recipe_net((8, 8, 8), whiten=None, train_stem=True)
    assert not frozen.get_layer("whiten").trainable and learned.get_layer("whiten").trainable
    assert "whiten/kernel" in {v.path for v in learned.trainable_weights}
    with pytest.raises(ValueError, match="whiten=None"):
        recipe.recipe_net((8, 8, 8), whiten=np.zeros((2, 2, 3, 24), "float32"), train_stem=True)


@pytest.mark.slow
def test_train_recipe_ablation_switches_change_what_they_say():
    x, y = _tiny_data(128)
    kw = dict(epochs=1, batch_size=64, widths=(8, 8, 8), log=None, optimizer="muon", tta=0)
    plain = recipe.train_recipe(x, y, **kw)
    ablated = recipe.train_recipe(x, y, whiten=False, lr_decay=False, **kw)
    stem = plain.model.get_layer("whiten").kernel.numpy()
    norm = (x[:5000].astype("float32") / 255 - np.array(recipe.CIFAR_MEAN, "float32")) / np.array(recipe.CIFAR_STD,
                                                                                                   "float32")
    np.testing.assert_allclose(stem, recipe.whitening_kernel(norm), atol=1e-5)  # frozen at the whitening filters
    assert not np.allclose(ablated.model.get_layer("whiten").kernel.numpy(), recipe.whitening_kernel(norm), atol=0.1)
    rules = ablated.model.optimizer._rules
    assert {r[3] for r in rules if r is not None} == {"constant", "whiten"}
    assert {r[3] for r in plain.model.optimizer._rules if r is not None} == {"main", "whiten"}
    assert ablated.config["whiten"] is False and ablated.config["lr_decay"] is False
