"""Load the workbook's datasets with no network, or download and verify them.

``load(name)`` returns a :class:`Dataset` of uint8 images and int64 labels. It looks,
in order, in

1. ``$LABKIT_DATA_DIR/<name>/`` - the layout of the workbook's offline data folder
   (MNIST/Fashion-MNIST idx files; CIFAR-10 as JPEG q75 bytes, decoded with
   ``tf.io.decode_jpeg``);
2. the local cache ``$LABKIT_CACHE_DIR`` (default ``~/.cache/labkit``);
3. the canonical download (unless ``LABKIT_OFFLINE=1``), written to the cache
   atomically and only after its SHA-256 matches.

Every file is checked against :mod:`labkit.registry` before use; a corrupt or
truncated one is reported with its path and never used. No pickle is ever loaded.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.registry import DATASETS, WEIGHTS

__all__ = ["Dataset", "load", "weights_path", "data_dir", "cache_dir",
           "DataNotFoundError", "ChecksumError"]

_CHUNK = 1 << 20


class DataNotFoundError(FileNotFoundError):
    """No verified copy of a dataset could be found or downloaded."""


class ChecksumError(ValueError):
    """A file's SHA-256 (or size) is not the registered one."""


@dataclass(frozen=True)
class Dataset:
    """A labelled image dataset.

    x_train: (n_train, H, W) or (n_train, H, W, 3) uint8; y_train: (n_train,) int64;
    likewise x_test/y_test. ``source`` says where the arrays came from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    notes: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
                f"classes={self.num_classes}, source={self.source!r})")

    def subset(self, n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> "Dataset":
        """A reproducible, class-stratified random subset (``None`` keeps a split whole)."""
        return Dataset(self.name, *_take(self.x_train, self.y_train, n_train, seed),
                       *_take(self.x_test, self.y_test, n_test, seed + 1),
                       self.class_names, self.source, self.notes, self.extra)


def _take(x: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n == len(y):
        return x, y
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n <= len(y):
        raise ValueError(f"subset size must be an integer in [1, {len(y)}], got {n!r}.")
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if n >= len(counts) and counts.min() >= 2 else None
    idx, _ = train_test_split(np.arange(len(y)), train_size=int(n), random_state=seed, stratify=stratify)
    idx = np.sort(idx)
    return x[idx], y[idx]


# --------------------------------------------------------------------------- places
def data_dir() -> Path | None:
    """The offline data folder named by ``LABKIT_DATA_DIR`` (or ``None``)."""
    raw = os.environ.get("LABKIT_DATA_DIR")
    return Path(raw).expanduser() if raw else None


def cache_dir() -> Path:
    """Where downloads and decoded copies are kept (``LABKIT_CACHE_DIR``)."""
    raw = os.environ.get("LABKIT_CACHE_DIR")
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "labkit"


def _offline() -> bool:
    return os.environ.get("LABKIT_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


# --------------------------------------------------------------------------- checksums
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify_file(path: Path, sha256: str, size: int) -> None:
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ChecksumError(f"{path} has {actual_size:,} bytes, expected {size:,} (truncated or wrong file).")
    actual = sha256_file(path)
    if actual != sha256:
        raise ChecksumError(f"{path} has SHA-256 {actual}, expected {sha256} (corrupt or wrong file).")


def _read_gz_verified(path: Path, sha256: str, size: int) -> bytes:
    """Decompress ``path`` and check the *content* against the registry."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise ChecksumError(f"{path} is not a complete gzip file ({err}).") from None
    if len(raw) != size:
        raise ChecksumError(f"{path} decompresses to {len(raw):,} bytes, expected {size:,} (truncated or wrong file).")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha256:
        raise ChecksumError(f"{path} content has SHA-256 {actual}, expected {sha256} (corrupt or wrong file).")
    return raw


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    magic = int.from_bytes(raw[0:4], "big")
    if magic not in (2049, 2051):
        raise ChecksumError(f"{path} is not an idx1/idx3 file (magic {magic}).")
    ndim = magic - 2048
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


# --------------------------------------------------------------------------- download
def _download(urls: tuple[str, ...], file: str, dest: Path, verify) -> list[str]:
    """Try each URL; write ``dest`` atomically only when ``verify(tmp)`` passes.

    Returns the list of failure reasons (empty when ``dest`` was written).
    """
    reasons: list[str] = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    for template in urls:
        url = template.format(file=file)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{file}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:
                shutil.copyfileobj(resp, out, _CHUNK)
            verify(tmp)
            os.replace(tmp, dest)
            return []
        except (urllib.error.URLError, OSError, ChecksumError, ValueError) as err:
            reasons.append(f"download {url}: {err}")
        finally:
            if tmp.exists():
                tmp.unlink()
    return reasons


# --------------------------------------------------------------------------- idx datasets
def _load_idx(name: str, spec: dict) -> Dataset:
    places: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    sources: set[str] = set()
    root = data_dir()
    for part, (file, sha, size) in spec["files"].items():
        candidates: list[tuple[str, Path]] = []
        if root is not None:
            candidates.append(("LABKIT_DATA_DIR", root / name / file))
        cached = cache_dir() / name / file
        candidates.append(("cache", cached))
        for label, path in candidates:
            if not path.is_file():
                places.append(f"{path} ({label}): not there")
                continue
            try:
                arrays[part] = _parse_idx(_read_gz_verified(path, sha, size), path)
                sources.add(f"{label}: {path.parent}")
                break
            except ChecksumError as err:
                warnings.warn(f"ignoring a corrupt copy: {err}", stacklevel=3)
                places.append(f"{path} ({label}): {err}")
        else:
            if _offline():
                places.append("download skipped: LABKIT_OFFLINE is set")
                continue
            reasons = _download(spec["urls"], file, cached, lambda p: _read_gz_verified(p, sha, size))
            if reasons:
                places.extend(reasons)
                continue
            arrays[part] = _parse_idx(_read_gz_verified(cached, sha, size), cached)
            sources.add(f"downloaded to {cached.parent}")
    if len(arrays) != len(spec["files"]):
        raise _not_found(name, places)
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    return Dataset(name, arrays["x_train"], y_train, arrays["x_test"], y_test,
                   tuple(spec["classes"]), "; ".join(sorted(sources)))


# --------------------------------------------------------------------------- CIFAR-10
def _decode_jpegs(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    raw = blob.tobytes()
    strings = [raw[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    ds = (tf.data.Dataset.from_tensor_slices(tf.constant(strings))
          .map(lambda s: tf.io.decode_jpeg(s, channels=3), num_parallel_calls=tf.data.AUTOTUNE,
               deterministic=True)
          .batch(5000))
    return np.concatenate([b.numpy() for b in ds]).astype(np.uint8)


def _cifar_from_jpeg_npz(path: Path, sha: str) -> tuple[np.ndarray, ...]:
    """Decode the JPEG copy, keeping a decoded copy in the cache (keyed by the source hash)."""
    decoded = cache_dir() / "cifar10" / f"decoded-v2-{sha[:16]}.npz"
    if decoded.is_file():
        try:
            with np.load(decoded, allow_pickle=False) as d:
                arrays = tuple(d[k] for k in ("x_train", "y_train", "x_test", "y_test"))
            if arrays[0].shape == (50_000, 32, 32, 3) and arrays[2].shape == (10_000, 32, 32, 3):
                return arrays
        except (OSError, ValueError, KeyError):
            pass
        warnings.warn(f"ignoring an unreadable decoded cache {decoded}; decoding again", stacklevel=4)
    with np.load(path, allow_pickle=False) as d:
        x_train = _decode_jpegs(d["train_jpeg"], d["train_offsets"])
        x_test = _decode_jpegs(d["test_jpeg"], d["test_offsets"])
        y_train, y_test = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
    # This copy stores the test set grouped by class (its original order is lost), so
    # it is put in one fixed random order: a slice x_test[:n] then holds every class.
    order = np.random.default_rng(0).permutation(len(y_test))
    x_test, y_test = x_test[order], y_test[order]
    try:
        decoded.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=decoded.parent)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(tmp, decoded)
    except OSError as err:  # a read-only home is not an error, only slower next time
        warnings.warn(f"could not cache decoded CIFAR-10 at {decoded}: {err}", stacklevel=4)
    return x_train, y_train, x_test, y_test


def _cifar_from_binary_tar(path: Path) -> tuple[np.ndarray, ...]:
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


def _load_cifar10(name: str, spec: dict) -> Dataset:
    places: list[str] = []
    root = data_dir()
    file, sha, size = spec["local_file"]
    if root is not None:
        path = root / name / file
        if path.is_file():
            try:
                _verify_file(path, sha, size)
                arrays = _cifar_from_jpeg_npz(path, sha)
                return Dataset(name, *arrays, tuple(spec["classes"]), f"LABKIT_DATA_DIR: {path}",
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
            _verify_file(cached, dsha, dsize)
            return Dataset(name, *_cifar_from_binary_tar(cached), tuple(spec["classes"]), f"cache: {cached}")
        except ChecksumError as err:
            warnings.warn(f"ignoring a corrupt copy (will re-fetch): {err}", stacklevel=3)
            places.append(f"{cached} (cache): {err}")
    else:
        places.append(f"{cached} (cache): not there")
    if _offline():
        places.append("download skipped: LABKIT_OFFLINE is set")
        raise _not_found(name, places)
    reasons = _download(spec["urls"], dfile, cached, lambda p: _verify_file(p, dsha, dsize))
    if reasons:
        raise _not_found(name, places + reasons)
    return Dataset(name, *_cifar_from_binary_tar(cached), tuple(spec["classes"]), f"downloaded to {cached}")


def _not_found(name: str, places: list[str]) -> DataNotFoundError:
    where = "\n  - ".join(places)
    return DataNotFoundError(
        f"no verified copy of {name!r} could be loaded. Looked at:\n  - {where}\n"
        f"Fix: set LABKIT_DATA_DIR to the workbook's data folder (the one with MANIFEST.md, "
        f"e.g. ../shared/datasets), or connect to the network so labkit can download it into "
        f"{cache_dir()} (LABKIT_CACHE_DIR moves that)."
    )


_MEMO: dict[tuple, Dataset] = {}


def load(name: str) -> Dataset:
    """Load ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"`` (see the module docstring)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}.")
    key = (name, str(data_dir()), str(cache_dir()))
    if key not in _MEMO:
        spec = DATASETS[name]
        ds = _load_idx(name, spec) if spec["format"] == "idx" else _load_cifar10(name, spec)
        for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
            arr.setflags(write=False)  # shared between callers: copy before changing
        _MEMO[key] = ds
    return _MEMO[key]


def weights_path(key: str) -> Path:
    """Verified path of a pretrained model file shipped in ``LABKIT_DATA_DIR/weights``."""
    if key not in WEIGHTS:
        raise ValueError(f"unknown weights {key!r}; choose one of: {', '.join(WEIGHTS)}.")
    rel, sha, size = WEIGHTS[key]
    root = data_dir()
    if root is None:
        raise DataNotFoundError(f"weights {key!r} need LABKIT_DATA_DIR (the folder holding {rel}); it is not set.")
    path = root / rel
    if not path.is_file():
        raise DataNotFoundError(f"weights {key!r}: {path} is not there. Set LABKIT_DATA_DIR to the "
                                f"workbook's data folder (the one with MANIFEST.md).")
    _verify_file(path, sha, size)
    return path
