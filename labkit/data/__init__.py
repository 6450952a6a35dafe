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

This module holds the entry points (:func:`load`, :func:`weights_path`); the work is
done in ``dataset`` (the :class:`Dataset` type), ``sources`` (the places looked in,
file checks, mirrored downloads), ``idx`` (MNIST/Fashion-MNIST IDX/gzip files),
``cifar`` (CIFAR-10 decoding) and ``decoded_cache`` (the verified decoded-CIFAR cache).
"""
from __future__ import annotations

from pathlib import Path

from labkit.data.cifar import load_cifar10
from labkit.data.dataset import Dataset
from labkit.data.idx import load_idx
from labkit.data.sources import DataNotFoundError, cache_dir, data_dir, verify_file
from labkit.download import ChecksumError
from labkit.registry import DATASETS, WEIGHTS
from labkit.validation import check_option

__all__ = ["Dataset", "load", "weights_path", "data_dir", "cache_dir",
           "DataNotFoundError", "ChecksumError"]

# A traceback names the error where callers import it from: labkit.data.DataNotFoundError.
DataNotFoundError.__module__ = __name__

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
        ds = load_idx(name, spec) if spec["format"] == "idx" else load_cifar10(name, spec)
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
    verify_file(path, sha, size)
    return path
