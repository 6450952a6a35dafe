"""MNIST and Fashion-MNIST: the verified reading of their gzip-compressed IDX files.

Each of the four files (``x_train``, ``y_train``, ``x_test``, ``y_test``) is taken from
``$LABKIT_DATA_DIR/<name>/``, else from the cache, else downloaded into the cache; its
*decompressed content* must match the size and SHA-256 in :mod:`labkit.registry`
before it is parsed, and a corrupt copy is reported (a warning) and passed over.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import warnings
from pathlib import Path

import numpy as np

from labkit.data.dataset import Dataset
from labkit.data.sources import cache_dir, data_dir, download_from_mirrors, not_found
from labkit.download import ChecksumError, is_offline

__all__ = ["load_idx"]


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


def _gz_cap(size: int) -> int:
    """The most bytes a gzip file of ``size`` content bytes can take: zlib's ``compressBound``, plus 1 KiB of header."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 13 + 1024


def load_idx(name: str, spec: dict) -> Dataset:
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
            reasons = download_from_mirrors(spec["urls"], file, cached, max_bytes=_gz_cap(size),
                                            verify=functools.partial(_read_gz_verified, sha256=sha, size=size))
            if reasons:
                places.extend(reasons)
                continue
            arrays[part] = _parse_idx(_read_gz_verified(cached, sha, size), cached)
            sources.add(f"downloaded to {cached.parent}")
    if len(arrays) != len(spec["files"]):
        raise not_found(name, places)
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    return Dataset(name, arrays["x_train"], y_train, arrays["x_test"], y_test,
                   tuple(spec["classes"]), "; ".join(sorted(sources)))
