"""Download one URL to one path, verified, atomically: the file is there whole and checked, or not at all.

:func:`download` is the only place labkit touches the network (``labkit.data`` for
the datasets, ``labkit.models.weights`` for Keras' official weights). It

1. refuses when offline (``LABKIT_OFFLINE=1``, see :func:`is_offline`) unless the
   caller decides otherwise, and refuses anything but ``http``/``https`` URLs;
2. streams the answer into a temporary file beside ``dest`` (same folder, so the
   final rename is atomic; named ``.<dest name>.<random>.part<dest suffix>``, so a
   loader that goes by the extension, as Keras' ``load_weights`` does, can read it),
   never more than ``max_bytes`` (a ``Content-Length`` over the cap is refused
   before any byte is read) and never more than ``size`` when the size is known;
3. checks the byte count against ``size`` and the SHA-256 against ``sha256`` (computed
   while streaming), then calls ``verify(temp_path)`` for whatever else the caller
   needs (a gzip's content, a weights file that must load);
4. only then renames it to ``dest``, replacing what was there.

On every failure (network, HTTP status, size, checksum, ``verify``, even Ctrl-C) the
temporary file is removed and ``dest`` is left as it was. Network and file errors are
:class:`DownloadError` (an ``OSError``), a wrong size or checksum :class:`ChecksumError`
(a ``ValueError``), each naming the URL and the path; an error raised by ``verify``
is passed on unchanged.

Why not ``keras.utils.get_file``: it writes into its own cache folder (falling back
to the shared ``/tmp/.keras``), checks a hash only after the file is in place, and
cannot run a check such as "loads into this network" before the file becomes visible.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from labkit.validation import check_int, check_number

__all__ = ["download", "is_offline", "sha256_file", "DownloadError", "ChecksumError", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1 << 30   # 1 GiB: more than any file labkit fetches (CIFAR-10's archive is 163 MiB)
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(OSError):
    """A download that did not happen: offline, unreachable, an HTTP error, over the size cap, cut short."""


class ChecksumError(ValueError):
    """A file's SHA-256 (or size) is not the registered one."""


def is_offline() -> bool:
    """Whether ``LABKIT_OFFLINE`` forbids downloads (``1``, ``true`` or ``yes``, any case)."""
    return os.environ.get("LABKIT_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def sha256_file(path: Path | str) -> str:
    """The SHA-256 of the file at ``path``, as 64 lower-case hex digits (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path | str, *, sha256: str | None = None, size: int | None = None,
             max_bytes: int = DEFAULT_MAX_BYTES, verify: Callable[[Path], Any] | None = None,
             timeout: float = 30.0, offline: bool | None = None) -> Path:
    """Fetch ``url`` into ``dest`` (see the module docstring); returns ``dest`` as a Path.

    Args:
        url: an ``http://`` or ``https://`` URL.
        dest: where the verified file goes; its folder is created if need be.
        sha256: the expected SHA-256 (64 hex digits), or None to check none.
        size: the expected size in bytes, or None; when given it is also the cap.
        max_bytes: the most bytes accepted (default 1 GiB).
        verify: called with the temporary file's path once size and checksum passed;
            raise to refuse the file.
        timeout: seconds any one connect or read may take.
        offline: True refuses, False allows; None (default) asks :func:`is_offline`.

    Raises:
        DownloadError: offline, the request failed, the answer is over the cap or
            shorter than announced, or the file could not be written.
        ChecksumError: the file has the wrong size or SHA-256.
        TypeError, ValueError: an argument of the wrong type or value.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a string, got {url!r} of type {type(url).__name__}.")
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://, got {url!r}.")
    if not isinstance(dest, (str, os.PathLike)):
        raise TypeError(f"dest must be a path, got {dest!r} of type {type(dest).__name__}.")
    dest = Path(dest)
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.fullmatch(sha256)):
        raise ValueError(f"sha256 must be 64 lower-case hex digits or None, got {sha256!r}.")
    if size is not None:
        size = check_int(size, "size", min_val=0)
    cap = check_int(max_bytes, "max_bytes", min_val=1)
    if size is not None:
        cap = min(cap, size)
    timeout = check_number(timeout, "timeout", min_val=0, include_min=False)
    if verify is not None and not callable(verify):
        raise TypeError(f"verify must be a function of the temporary file's path, got {verify!r}.")
    if is_offline() if offline is None else offline:
        why = "LABKIT_OFFLINE is set" if offline is None else "downloads are turned off"
        raise DownloadError(f"not downloading {url} to {dest}: {why}.")

    def failed(reason: Any) -> DownloadError:
        return DownloadError(f"could not download {url} to {dest}: {reason}")

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part" + dest.suffix, dir=dest.parent)
    except OSError as err:
        raise failed(err) from None
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                digest, got = _copy(resp, out, cap, failed)
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            if isinstance(err, DownloadError):
                raise
            raise failed(f"{type(err).__name__}: {err}") from None
        if size is not None and got != size:
            raise ChecksumError(f"{url} gave {got:,} bytes, expected {size:,} (truncated or wrong file); "
                                f"not saved to {dest}.")
        if sha256 is not None and digest != sha256:
            raise ChecksumError(f"{url} has SHA-256 {digest}, expected {sha256} (corrupt or wrong file); "
                                f"not saved to {dest}.")
        if verify is not None:
            verify(tmp)
        try:
            os.replace(tmp, dest)
        except OSError as err:
            raise failed(err) from None
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def _copy(resp, out, cap: int, failed: Callable[[Any], DownloadError]) -> tuple[str, int]:
    """Stream ``resp`` into ``out``, at most ``cap`` bytes; returns (SHA-256 hex, bytes written)."""
    announced = resp.headers.get("Content-Length")
    if announced is not None and announced.strip().isdigit() and int(announced) > cap:
        raise failed(f"the server announces {int(announced):,} bytes, over the {cap:,}-byte limit.")
    digest, got = hashlib.sha256(), 0
    while chunk := resp.read(min(_CHUNK, cap + 1 - got)):
        got += len(chunk)
        if got > cap:
            raise failed(f"the answer is longer than the {cap:,}-byte limit; stopped reading.")
        out.write(chunk)
        digest.update(chunk)
    if announced is not None and announced.strip().isdigit() and got != int(announced):
        # http.client returns a short body without complaint when the connection drops
        raise failed(f"the answer ended after {got:,} of the {int(announced):,} bytes announced.")
    return digest.hexdigest(), got
