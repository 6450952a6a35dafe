"""Load the workbook's datasets with no network, or download and verify them.

``load(name)`` returns a :class:`Dataset` of uint8 images and int64 labels. It looks,
in order, in

1. ``$LABKIT_DATA_DIR/<name>/`` - the layout of the workbook's offline data folder
   (MNIST/Fashion-MNIST idx files; CIFAR-10 as JPEG q75 bytes, decoded with
   ``tf.io.decode_jpeg``);
2. the local cache ``$LABKIT_CACHE_DIR`` (default ``~/.cache/labkit``);
3. the canonical download (unless ``LABKIT_OFFLINE=1``), written to the cache
   atomically and only after its SHA-256 matches (:func:`labkit.download.download`).

Every file is checked against :mod:`labkit.registry` before use; a corrupt or
truncated one is reported with its path and never used. No pickle is ever loaded.

The decoded CIFAR-10 copy kept in the cache (``cifar10/decoded-v3-<hash>.npz``) is
checked like the file it came from: a record beside it (``.json``) holds its SHA-256
and size and the SHA-256 of the verified archive it was decoded from, and on every
load the file must match the record, and its arrays the source (names, uint8 pixels,
int64 labels 0..9 equal to the source's, shapes). A copy that fails any check is
reported (a warning naming the file and why), deleted and decoded again; a copy that
cannot be written (full disk, read-only home) leaves no temporary file behind and
only costs the next load the decoding time.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import tarfile
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.download import ChecksumError, DownloadError, download, is_offline, sha256_file
from labkit.registry import DATASETS, WEIGHTS
from labkit.validation import check_int, check_option

__all__ = ["Dataset", "load", "weights_path", "data_dir", "cache_dir",
           "DataNotFoundError", "ChecksumError"]


class DataNotFoundError(FileNotFoundError):
    """No verified copy of a dataset could be found or downloaded."""


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
        """A reproducible, class-stratified random subset (``None`` keeps a split whole).

        Raises TypeError for a size or seed that is not an integer, ValueError for a
        size outside ``1 .. len(split)``.
        """
        seed = check_int(seed, "seed", min_val=0)
        return Dataset(self.name, *_take(self.x_train, self.y_train, n_train, seed, "n_train"),
                       *_take(self.x_test, self.y_test, n_test, seed + 1, "n_test"),
                       self.class_names, self.source, self.notes, self.extra)


def _take(x: np.ndarray, y: np.ndarray, n: int | None, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return x, y
    n = check_int(n, name, min_val=1, max_val=len(y))
    if n == len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if n >= len(counts) and counts.min() >= 2 else None
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=seed, stratify=stratify)
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


# --------------------------------------------------------------------------- checksums
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
def _download(urls: tuple[str, ...], file: str, dest: Path, **check) -> list[str]:
    """Try each mirror in turn until :func:`labkit.download.download` puts a verified ``dest`` in place.

    ``check``: its ``sha256``, ``size``, ``max_bytes`` and ``verify``. Returns the list
    of failure reasons (empty when ``dest`` was written).
    """
    reasons: list[str] = []
    for template in urls:
        url = template.format(file=file)
        try:
            download(url, dest, timeout=30, offline=False, **check)
            return []
        except (DownloadError, ChecksumError) as err:   # verify()'s errors name the temporary file only
            reasons.append(str(err) if url in str(err) else f"download {url}: {err}")
    return reasons


def _gz_cap(size: int) -> int:
    """The most bytes a gzip file of ``size`` content bytes can take: zlib's ``compressBound``, plus 1 KiB of header."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 13 + 1024


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
            if is_offline():
                places.append("download skipped: LABKIT_OFFLINE is set")
                continue
            reasons = _download(spec["urls"], file, cached, max_bytes=_gz_cap(size),
                                verify=functools.partial(_read_gz_verified, sha256=sha, size=size))
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


_DECODED_FORMAT = "labkit decoded CIFAR-10, v3"
_DECODED_KEYS = ("x_train", "y_train", "x_test", "y_test")


class _CacheRejected(Exception):
    """A cached decoded copy failed a check (the message says which)."""


def _decoded_paths(sha: str) -> tuple[Path, Path]:
    """The decoded copy of the source with SHA-256 ``sha`` and its checksum record."""
    stem = cache_dir() / "cifar10" / f"decoded-v3-{sha[:16]}"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def _array_spec(arrays: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: [arrays[k].dtype.str, list(arrays[k].shape)] for k in _DECODED_KEYS}


def _write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """The arrays as an uncompressed npz; equal arrays give byte-identical files.

    (zipfile dates each member 1980-01-01, not the time of writing; the checksum
    record relies on this, so concurrent writers of one source write one checksum.)
    """
    np.savez(fh, allow_pickle=False, **{k: arrays[k] for k in _DECODED_KEYS})


def _write_decoded_cache(npz: Path, record: Path, arrays: dict[str, np.ndarray], source_sha: str) -> None:
    """Write ``npz`` and its checksum record atomically; raises OSError, leaving no temporary file.

    The record goes in place first, then the npz: a reader never finds a new npz
    without its record, and a record without its npz only means "not cached yet".
    As the bytes are deterministic, processes writing the same source concurrently
    write identical files and any pairing of them verifies.
    """
    npz.parent.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    try:
        fd, name = tempfile.mkstemp(prefix=f".{npz.name}.", suffix=".part", dir=npz.parent)
        temps.append(Path(name))
        with os.fdopen(fd, "wb") as fh:
            _write_npz(fh, arrays)
        entry = {"format": _DECODED_FORMAT, "file": npz.name, "sha256": sha256_file(temps[0]),
                 "size": temps[0].stat().st_size, "source_sha256": source_sha, "arrays": _array_spec(arrays)}
        fd, name = tempfile.mkstemp(prefix=f".{record.name}.", suffix=".part", dir=npz.parent)
        temps.append(Path(name))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, indent=1, sort_keys=True)
        os.replace(temps[1], record)
        os.replace(temps[0], npz)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _read_decoded_cache(npz: Path, record: Path, source_sha: str,
                        expected: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The cached arrays, once the file matches its record and the verified source.

    ``expected`` holds the labels (and so the lengths) the source gives. Raises
    :class:`_CacheRejected` saying what did not match.
    """
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _CacheRejected(f"it has no checksum record ({record.name} is missing)") from None
    except (OSError, ValueError) as err:
        raise _CacheRejected(f"its checksum record {record} is unreadable ({err})") from None
    if not isinstance(entry, dict) or entry.get("format") != _DECODED_FORMAT:
        raise _CacheRejected(f"its checksum record {record} is not one labkit wrote")
    if entry.get("source_sha256") != source_sha:
        raise _CacheRejected(f"its record says it was decoded from a file with SHA-256 "
                             f"{entry.get('source_sha256')}, not the verified {source_sha}")
    try:
        size = npz.stat().st_size
        if size != entry.get("size"):
            raise _CacheRejected(f"it has {size:,} bytes; its record says {entry.get('size')} (damaged or replaced)")
        digest = sha256_file(npz)
    except OSError as err:
        raise _CacheRejected(f"it could not be read ({err})") from None
    if digest != entry.get("sha256"):
        raise _CacheRejected(f"it has SHA-256 {digest}; its record says {entry.get('sha256')} (damaged or replaced)")
    try:
        with np.load(npz, allow_pickle=False) as d:
            if sorted(d.files) != sorted(_DECODED_KEYS):
                raise _CacheRejected(f"it holds the arrays {sorted(d.files)}, not {sorted(_DECODED_KEYS)}")
            arrays = {k: d[k] for k in _DECODED_KEYS}
    except _CacheRejected:
        raise
    except Exception as err:  # noqa: BLE001 - BadZipFile, zlib.error, OSError, ValueError...: all "unreadable"
        raise _CacheRejected(f"it could not be read ({type(err).__name__}: {err})") from None
    if entry.get("arrays") != _array_spec(arrays):
        raise _CacheRejected(f"its arrays {_array_spec(arrays)} are not those recorded {entry.get('arrays')}")
    for split in ("train", "test"):
        x, y, want = arrays[f"x_{split}"], arrays[f"y_{split}"], expected[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape != (len(want), 32, 32, 3):
            raise _CacheRejected(f"x_{split} is {x.dtype} {x.shape}, not uint8 {(len(want), 32, 32, 3)}")
        if y.dtype != np.int64 or y.shape != want.shape:
            raise _CacheRejected(f"y_{split} is {y.dtype} {y.shape}, not int64 {want.shape}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise _CacheRejected(f"y_{split} holds labels {int(y.min())}..{int(y.max())}, outside 0..9")
        if not np.array_equal(y, want):
            raise _CacheRejected(f"y_{split} differs from the source's labels in "
                                 f"{int(np.count_nonzero(y != want))} place(s)")
    return tuple(arrays[k] for k in _DECODED_KEYS)


def _discard(*paths: Path) -> str:
    """Delete ``paths``; returns what could not be deleted (for the warning), or ''."""
    failed = []
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            failed.append(f"; could not delete {path}: {err}")
    return "".join(failed)


def _cifar_from_jpeg_npz(path: Path, sha: str) -> tuple[tuple[np.ndarray, ...], str]:
    """Decode the verified JPEG copy at ``path`` (SHA-256 ``sha``), or take its verified decoded cache.

    Returns the four arrays and where they came from, for ``Dataset.source``.
    """
    npz, record = _decoded_paths(sha)
    with np.load(path, allow_pickle=False) as d:
        y_train, y_test = d["y_train"].astype(np.int64), d["y_test"].astype(np.int64)
        # This copy stores the test set grouped by class (its original order is lost), so
        # it is put in one fixed random order: a slice x_test[:n] then holds every class.
        order = np.random.default_rng(0).permutation(len(y_test))
        y_test = y_test[order]
        if npz.is_file():
            try:
                arrays = _read_decoded_cache(npz, record, sha, {"y_train": y_train, "y_test": y_test})
                return arrays, f"cache: {npz} (verified decoded copy of LABKIT_DATA_DIR: {path})"
            except _CacheRejected as why:
                undeleted = _discard(npz, record)
                warnings.warn(f"ignoring the decoded CIFAR-10 cache {npz}: {why}; deleting it and decoding "
                              f"{path} again{undeleted}.", stacklevel=4)
        x_train = _decode_jpegs(d["train_jpeg"], d["train_offsets"])
        x_test = _decode_jpegs(d["test_jpeg"], d["test_offsets"])[order]
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    try:
        _write_decoded_cache(npz, record, arrays, sha)
        cached = f"cached at {npz}"
        _discard(npz.with_name(f"decoded-v2-{sha[:16]}.npz"))  # the unrecorded format before v3
    except OSError as err:  # a full disk or read-only home is not an error, only slower next time
        warnings.warn(f"could not cache decoded CIFAR-10 at {npz} ({err}); the next load will decode "
                      f"{path} again.", stacklevel=4)
        cached = "not cached"
    return (x_train, y_train, x_test, y_test), f"LABKIT_DATA_DIR: {path} (decoded now; {cached})"


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
            _verify_file(cached, dsha, dsize)
            return Dataset(name, *_cifar_from_binary_tar(cached), tuple(spec["classes"]), f"cache: {cached}")
        except ChecksumError as err:
            warnings.warn(f"ignoring a corrupt copy (will re-fetch): {err}", stacklevel=3)
            places.append(f"{cached} (cache): {err}")
    else:
        places.append(f"{cached} (cache): not there")
    if is_offline():
        places.append("download skipped: LABKIT_OFFLINE is set")
        raise _not_found(name, places)
    reasons = _download(spec["urls"], dfile, cached, sha256=dsha, size=dsize)
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
    """Load ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"`` (see the module docstring).

    Raises TypeError when ``name`` is not a string, ValueError for an unknown name,
    :class:`DataNotFoundError` when no verified copy can be had.
    """
    check_option(name, "name", tuple(DATASETS))
    key = (name, str(data_dir()), str(cache_dir()))
    if key not in _MEMO:
        spec = DATASETS[name]
        ds = _load_idx(name, spec) if spec["format"] == "idx" else _load_cifar10(name, spec)
        for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
            arr.setflags(write=False)  # shared between callers: copy before changing
        _MEMO[key] = ds
    return _MEMO[key]


def weights_path(key: str) -> Path:
    """Verified path of a pretrained model file shipped in ``LABKIT_DATA_DIR/weights``.

    Raises TypeError when ``key`` is not a string, ValueError for an unknown key,
    :class:`DataNotFoundError` or :class:`ChecksumError` when the file is missing or wrong.
    """
    check_option(key, "key", tuple(WEIGHTS))
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
