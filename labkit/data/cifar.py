"""CIFAR-10: decoding the workbook's JPEG copy, or reading the authors' binary archive.

The offline data folder holds CIFAR-10 as JPEG q75 bytes in one npz, decoded here with
``tf.io.decode_jpeg`` (its test set, stored grouped by class, is put in one fixed
shuffled order); the decoded arrays are kept in the verified cache of
:mod:`labkit.data.decoded_cache`. Without that folder, the authors' binary distribution
(``cifar-10-binary.tar.gz``) is read from the cache, or downloaded into it, straight
from the archive: no extraction, and no pickle.
"""
from __future__ import annotations

import tarfile
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from labkit.data.dataset import Dataset
from labkit.data.decoded_cache import (
    CacheRejected,
    Splits,
    decoded_paths,
    discard,
    read_decoded_cache,
    write_decoded_cache,
)
from labkit.data.sources import cache_dir, data_dir, download_from_mirrors, not_found, verify_file
from labkit.download import ChecksumError, is_offline

__all__ = ["load_cifar10"]


def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = blob.tobytes()
    strings = [raw[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    ds = (tf.data.Dataset.from_tensor_slices(tf.constant(strings))
          .map(lambda s: tf.io.decode_jpeg(s, channels=3), num_parallel_calls=tf.data.AUTOTUNE,
               deterministic=True)
          .batch(5000))
    return np.concatenate([b.numpy() for b in ds]).astype(np.uint8)


def _cifar_from_jpeg_npz(path: Path, sha: str) -> tuple[Splits, str]:
    """Decode the verified JPEG copy at ``path`` (SHA-256 ``sha``), or take its verified decoded cache.

    Returns the four arrays and where they came from, for ``Dataset.source``.
    """
    npz, record = decoded_paths(sha)
    with np.load(path, allow_pickle=False) as d:
        y_train, y_test = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
        # This copy stores the test set grouped by class (its original order is lost), so
        # it is put in one fixed random order: a slice x_test[:n] then holds every class.
        order = np.random.default_rng(0).permutation(len(y_test))
        y_test = y_test[order]
        if npz.is_file():
            try:
                arrays = read_decoded_cache(npz, record, sha, {"y_train": y_train, "y_test": y_test})
                return arrays, f"cache: {npz} (verified decoded copy of LABKIT_DATA_DIR: {path})"
            except CacheRejected as why:
                undeleted = discard(npz, record)
                warnings.warn(f"ignoring the decoded CIFAR-10 cache {npz}: {why}; deleting it and decoding "
                              f"{path} again{undeleted}.", stacklevel=4)
        x_train = _decode_jpegs(d["train_jpeg"], d["train_offsets"])
        x_test = _decode_jpegs(d["test_jpeg"], d["test_offsets"])[order]
    decoded = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    try:
        write_decoded_cache(npz, record, decoded, sha)
        cached = f"cached at {npz}"
        discard(npz.with_name(f"decoded-v2-{sha[:16]}.npz"))  # the unrecorded format before v3
    except OSError as err:  # a full disk or read-only home is not an error, only slower next time
        warnings.warn(f"could not cache decoded CIFAR-10 at {npz} ({err}); the next load will decode "
                      f"{path} again.", stacklevel=4)
        cached = "not cached"
    return (x_train, y_train, x_test, y_test), f"LABKIT_DATA_DIR: {path} (decoded now; {cached})"


def _cifar_from_binary_tar(path: Path) -> Splits:
    """Read the authors' binary distribution straight from the archive (no extraction)."""
    def read(tar: tarfile.TarFile, member: str) -> tuple[np.ndarray, np.ndarray]:
        fh = tar.extractfile(f"cifar-10-batches-bin/{member}")
        if fh is None:
            raise ChecksumError(f"{path} has no regular file {member}.")
        rec = np.frombuffer(fh.read(), dtype=np.uint8).reshape(-1, 3073)
        return rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0].astype(np.int64)

    with tarfile.open(path, "r:gz") as tar:
        parts = [read(tar, f"data_batch_{i}.bin") for i in range(1, 6)]
        x_test, y_test = read(tar, "test_batch.bin")
    return (np.ascontiguousarray(np.concatenate([p[0] for p in parts])), np.concatenate([p[1] for p in parts]),
            np.ascontiguousarray(x_test), y_test)


def load_cifar10(name: str, spec: dict) -> Dataset:
    places: list[str] = []
    root = data_dir()
    file, sha, size = spec["local_file"]
    if root is not None:
        path = root / name / file
        if path.is_file():
            try:
                verify_file(path, sha, size)
                arrays, source = _cifar_from_jpeg_npz(path, sha)
                return Dataset(name, *arrays, tuple(spec["classes"]), source,
                               notes="JPEG q75 copy of CIFAR-10: the real photos, slightly lossy "
                                     "(RMSE ~8/255 against the originals); test set in a fixed shuffled order.")
            except ChecksumError as err:
                warnings.warn(f"ignoring a corrupt copy: {err}", stacklevel=3)
                places.append(f"{path} (LABKIT_DATA_DIR): {err}")
        else:
            places.append(f"{path} (LABKIT_DATA_DIR): not there")
    dfile, dsha, dsize = spec["download_file"]
    cached = cache_dir() / name / dfile
    if cached.is_file():
        try:
            verify_file(cached, dsha, dsize)
            return Dataset(name, *_cifar_from_binary_tar(cached), tuple(spec["classes"]), f"cache: {cached}")
        except ChecksumError as err:
            warnings.warn(f"ignoring a corrupt copy (will re-fetch): {err}", stacklevel=3)
            places.append(f"{cached} (cache): {err}")
    else:
        places.append(f"{cached} (cache): not there")
    if is_offline():
        places.append("download skipped: LABKIT_OFFLINE is set")
        raise not_found(name, places)
    reasons = download_from_mirrors(spec["urls"], dfile, cached, sha256=dsha, size=dsize)
    if reasons:
        raise not_found(name, places + reasons)
    return Dataset(name, *_cifar_from_binary_tar(cached), tuple(spec["classes"]), f"downloaded to {cached}")
