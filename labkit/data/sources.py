"""Where the datasets are looked for, and how a file there is checked or fetched.

The two places (:func:`data_dir`, the offline data folder; :func:`cache_dir`, the local
cache), the size-and-SHA-256 check of a file against :mod:`labkit.registry`, the download
that tries each mirror in turn, and the :class:`DataNotFoundError` that lists every place
looked at when none of them gave a verified copy.
"""
from __future__ import annotations

import os
from pathlib import Path

from labkit.download import ChecksumError, DownloadError, download, sha256_file

__all__ = ["DataNotFoundError", "data_dir", "cache_dir", "verify_file", "download_from_mirrors", "not_found"]


class DataNotFoundError(FileNotFoundError):
    """No verified copy of a dataset could be found or downloaded."""


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
def verify_file(path: Path, sha256: str, size: int) -> None:
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ChecksumError(f"{path} has {actual_size:,} bytes, expected {size:,} (truncated or wrong file).")
    actual = sha256_file(path)
    if actual != sha256:
        raise ChecksumError(f"{path} has SHA-256 {actual}, expected {sha256} (corrupt or wrong file).")


# --------------------------------------------------------------------------- download
def download_from_mirrors(urls: tuple[str, ...], file: str, dest: Path, **check) -> list[str]:
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


# --------------------------------------------------------------------------- not found
def not_found(name: str, places: list[str]) -> DataNotFoundError:
    where = "\n  - ".join(places)
    return DataNotFoundError(
        f"no verified copy of {name!r} could be loaded. Looked at:\n  - {where}\n"
        f"Fix: set LABKIT_DATA_DIR to the workbook's data folder (the one with MANIFEST.md, "
        f"e.g. ../shared/datasets), or connect to the network so labkit can download it into "
        f"{cache_dir()} (LABKIT_CACHE_DIR moves that)."
    )
