"""The verified cache of decoded CIFAR-10 arrays (``cifar10/decoded-v3-<hash>.npz``).

Decoding the JPEG copy of CIFAR-10 takes a while, so the decoded arrays are kept in the
cache, and checked like the file they came from: a record beside the npz (``.json``)
holds its SHA-256 and size and the SHA-256 of the verified archive it was decoded from.
:func:`read_decoded_cache` accepts the copy only when the file matches its record and
its arrays the source (names, uint8 pixels, int64 labels 0..9 equal to the source's,
shapes), and raises :class:`CacheRejected` saying what did not match otherwise.
:func:`write_decoded_cache` writes the npz and its record atomically, with bytes that
depend only on the arrays, and leaves no temporary file behind when it fails.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from labkit.data.sources import cache_dir
from labkit.download import sha256_file

__all__ = ["CacheRejected", "decoded_paths", "write_npz", "write_decoded_cache", "read_decoded_cache", "discard"]

_DECODED_FORMAT = "labkit decoded CIFAR-10, v3"
_DECODED_KEYS = ("x_train", "y_train", "x_test", "y_test")
# the four arrays in that order, Dataset's positional order
Splits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class CacheRejected(Exception):
    """A cached decoded copy failed a check (the message says which)."""


def decoded_paths(sha: str) -> tuple[Path, Path]:
    """The decoded copy of the source with SHA-256 ``sha`` and its checksum record."""
    stem = cache_dir() / "cifar10" / f"decoded-v3-{sha[:16]}"
    return stem.with_suffix(".npz"), stem.with_suffix(".json")


def _array_spec(arrays: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: [arrays[k].dtype.str, list(arrays[k].shape)] for k in _DECODED_KEYS}


def write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """The arrays as an uncompressed npz; equal arrays give byte-identical files.

    (zipfile dates each member 1980-01-01, not the time of writing; the checksum
    record relies on this, so concurrent writers of one source write one checksum.)
    """
    np.savez(fh, allow_pickle=False, **{k: arrays[k] for k in _DECODED_KEYS})


def write_decoded_cache(npz: Path, record: Path, arrays: dict[str, np.ndarray], source_sha: str) -> None:
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
            write_npz(fh, arrays)
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


def read_decoded_cache(npz: Path, record: Path, source_sha: str,
                       expected: dict[str, np.ndarray]) -> Splits:
    """The cached arrays, once the file matches its record and the verified source.

    ``expected`` holds the labels (and so the lengths) the source gives. Raises
    :class:`CacheRejected` saying what did not match.
    """
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CacheRejected(f"it has no checksum record ({record.name} is missing)") from None
    except (OSError, ValueError) as err:
        raise CacheRejected(f"its checksum record {record} is unreadable ({err})") from None
    if not isinstance(entry, dict) or entry.get("format") != _DECODED_FORMAT:
        raise CacheRejected(f"its checksum record {record} is not one labkit wrote")
    if entry.get("source_sha256") != source_sha:
        raise CacheRejected(f"its record says it was decoded from a file with SHA-256 "
                            f"{entry.get('source_sha256')}, not the verified {source_sha}")
    try:
        size = npz.stat().st_size
        if size != entry.get("size"):
            raise CacheRejected(f"it has {size:,} bytes; its record says {entry.get('size')} (damaged or replaced)")
        digest = sha256_file(npz)
    except OSError as err:
        raise CacheRejected(f"it could not be read ({err})") from None
    if digest != entry.get("sha256"):
        raise CacheRejected(f"it has SHA-256 {digest}; its record says {entry.get('sha256')} (damaged or replaced)")
    try:
        with np.load(npz, allow_pickle=False) as d:
            if sorted(d.files) != sorted(_DECODED_KEYS):
                raise CacheRejected(f"it holds the arrays {sorted(d.files)}, not {sorted(_DECODED_KEYS)}")
            arrays = {k: d[k] for k in _DECODED_KEYS}
    except CacheRejected:
        raise
    except Exception as err:  # noqa: BLE001 - BadZipFile, zlib.error, OSError, ValueError...: all "unreadable"
        raise CacheRejected(f"it could not be read ({type(err).__name__}: {err})") from None
    if entry.get("arrays") != _array_spec(arrays):
        raise CacheRejected(f"its arrays {_array_spec(arrays)} are not those recorded {entry.get('arrays')}")
    for split in ("train", "test"):
        x, y, want = arrays[f"x_{split}"], arrays[f"y_{split}"], expected[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape != (len(want), 32, 32, 3):
            raise CacheRejected(f"x_{split} is {x.dtype} {x.shape}, not uint8 {(len(want), 32, 32, 3)}")
        if y.dtype != np.int64 or y.shape != want.shape:
            raise CacheRejected(f"y_{split} is {y.dtype} {y.shape}, not int64 {want.shape}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise CacheRejected(f"y_{split} holds labels {int(y.min())}..{int(y.max())}, outside 0..9")
        if not np.array_equal(y, want):
            raise CacheRejected(f"y_{split} differs from the source's labels in "
                                f"{int(np.count_nonzero(y != want))} place(s)")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]  # _DECODED_KEYS' order


def discard(*paths: Path) -> str:
    """Delete ``paths``; returns what could not be deleted (for the warning), or ''."""
    failed = []
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            failed.append(f"; could not delete {path}: {err}")
    return "".join(failed)
