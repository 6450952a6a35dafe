"""The recipe's backups: :class:`RecipeBackup` (Keras' ``BackupAndRestore`` with a fingerprinted,
checked record), the per-user backup folder and the checks that a folder is safe to resume from."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import keras
import numpy as np

from labkit.data import cache_dir

if TYPE_CHECKING:
    from labkit.recipe.train import RecipeLog

__all__ = ["RecipeBackup", "recipe_backup_root", "backup_root", "recipe_fingerprint", "BACKUP_FORMAT"]

BACKUP_FORMAT = 1
_RECORD = "labkit_run.json"  # labkit's record, next to Keras BackupAndRestore's two files:
_WEIGHTS = "latest.weights.h5"
_METADATA = "training_metadata.json"


def recipe_backup_root() -> Path:
    """The per-user folder of :func:`train_recipe`'s backups (``backup_dir=True``): ``backups`` in
    labkit's cache, i.e. ``~/.cache/labkit/backups`` unless ``LABKIT_CACHE_DIR`` moves the cache.
    Created private (mode 0o700) on first use."""
    return cache_dir() / "backups"


def _unsafe_folder(path: Path) -> str | None:
    """Why the existing folder ``path`` must not be trusted with backups, or None: it is not a
    folder, it (or the link to it) belongs to another user, or other users can write to it, so
    they could have planted weights there. POSIX permissions only (None elsewhere)."""
    try:
        st, lst = os.stat(path), os.lstat(path)
    except OSError as err:
        return f"it cannot be read ({err.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a folder"
    if not hasattr(os, "geteuid"):
        return None
    uid = os.geteuid()
    for s in (lst, st):
        if s.st_uid != uid:
            return f"it belongs to user id {s.st_uid}, not to you (user id {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users can write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def backup_root(backup_dir: str | os.PathLike | Literal[True]) -> Path | None:
    """The folder that holds the run folders: created private if missing; None (with a warning that
    names it and why) when it cannot be created or is not safe to use. ``True``: :func:`recipe_backup_root`."""
    root = recipe_backup_root() if backup_dir is True else Path(backup_dir).expanduser()
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        reason = _unsafe_folder(root)
    except OSError as err:
        reason = f"it cannot be created ({err.strerror or err})"
    if reason is None:
        return root
    warnings.warn(f"labkit: not using the backup folder {root}: {reason}. Training without a backup; pass "
                  f"backup_dir= a folder of your own, or True for {recipe_backup_root()}.", RuntimeWarning,
                  stacklevel=3)
    return None


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def recipe_fingerprint(x: np.ndarray, y: np.ndarray, settings: dict) -> str:
    """SHA-256 (hex) of the training data - every byte of ``x`` and ``y`` with their dtypes and
    shapes (50,000 CIFAR images hash in about 0.1 s) - and of ``settings`` (JSON, keys sorted)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=_json_default).encode())
    for a in (x, y):
        a = np.ascontiguousarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(a.reshape(-1).view(np.uint8).data)  # its buffer (typeshed's Buffer on 3.11 is not ndarray)
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _set_aside(path: Path, reason: str) -> None:
    """Move a backup that must not be used to ``<path>.set-aside`` (replacing an older one; deleted
    when it cannot be moved) and warn, naming it and why."""
    aside = path.with_name(path.name + ".set-aside")
    try:
        if aside.is_symlink() or aside.is_file():
            aside.unlink()
        elif aside.exists():
            shutil.rmtree(aside)
        os.replace(path, aside)
        done = f"Moved it to {aside}"
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        done = "Deleted it"
    warnings.warn(f"labkit: not resuming from the backup {path}: {reason}. {done}; training starts from "
                  "scratch.", RuntimeWarning, stacklevel=3)


class RecipeBackup(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` (the weights, the optimiser's state and the epoch, saved after
    every epoch to ``backup_dir`` and deleted when the run finishes) with what labkit adds:

    * a record, ``labkit_run.json``, written after Keras' files at the end of every epoch: the run's
      ``fingerprint`` (:func:`recipe_fingerprint` of the data and ``settings``) and settings, the
      SHA-256 of the weights file, and the running totals of the run - epochs, samples seen,
      training seconds and the epoch log (the rows of ``log``, a :class:`RecipeLog`);
    * checks before anything is loaded: the folder is the user's and not writable by others, the
      record is readable, its fingerprint is this run's, the weights file is the one it recorded
      (not truncated or replaced) and agrees with Keras' epoch; then Keras loads it (the model's
      and optimiser's variables are put back if it refuses);
    * a fallback: a backup that fails any of these is reported (a ``RuntimeWarning`` naming the
      folder and why), moved aside to ``<backup_dir>.set-aside`` so it cannot break a later run,
      and training starts from scratch.

    ``resumed_epochs``: how many epochs came from the backup (0: a fresh start)."""

    def __init__(self, backup_dir: str | os.PathLike, fingerprint: str, settings: dict, log: RecipeLog,
                 samples_per_epoch: int):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.path = Path(backup_dir)
        self.fingerprint = fingerprint
        self.settings = dict(settings)
        self.log = log
        self.samples_per_epoch = int(samples_per_epoch)
        self.resumed_epochs = 0

    def on_train_begin(self, logs=None):
        self.resumed_epochs = 0
        if not (self.path.exists() or self.path.is_symlink()):
            return
        reason = _unsafe_folder(self.path)
        record = None
        if reason is None:
            record, reason = self._read_record()
            if record is None and reason is None:
                return  # an empty folder: nothing to resume
        if reason is None:
            reason = self._load()
        if reason is not None:
            _set_aside(self.path, reason)
            return
        self.resumed_epochs = int(record["epochs"])
        self.log.restore(record["epoch_log"], record["train_seconds"])
        self.log.say(f"resuming from {self.path} after epoch {self.resumed_epochs} of {self.settings['epochs']}"
                     f" ({record['train_seconds']:.0f} s of training so far)")

    def _read_record(self) -> tuple[dict | None, str | None]:
        """(record, None) when the backup passes the checks, (None, why) when it fails one,
        (None, None) when the folder holds no backup."""
        files = {name: self.path / name for name in (_RECORD, _WEIGHTS, _METADATA)}
        present = {name for name, p in files.items() if p.exists()}
        if not present:
            return None, None
        if _RECORD not in present:
            return None, (f"it has no labkit record ({_RECORD}), so nothing says which data and settings it was "
                          "made for")
        try:
            record = json.loads(files[_RECORD].read_text())
        except (OSError, ValueError) as err:
            return None, f"its record {_RECORD} is unreadable ({err})"
        if not isinstance(record, dict) or record.get("format") != BACKUP_FORMAT:
            return None, f"its record is not in labkit's backup format {BACKUP_FORMAT}"
        if record.get("fingerprint") != self.fingerprint:
            return None, ("it was made for other data or settings "
                          f"(fingerprint {str(record.get('fingerprint'))[:12]}..., "
                          f"this run's {self.fingerprint[:12]}...)")
        missing = sorted(set(files) - present)
        if missing:
            return None, f"it is incomplete (no {', '.join(missing)})"
        try:
            intact = _file_sha256(files[_WEIGHTS]) == record.get("weights_sha256")
            keras_epoch = json.loads(files[_METADATA].read_text())["epoch"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            return None, f"it cannot be read ({type(err).__name__}: {err})"
        if not intact:
            return None, (f"its weights file {_WEIGHTS} is not the one its record describes (truncated, or "
                          "changed after it was written)")
        epochs, rows, seconds = record.get("epochs"), record.get("epoch_log"), record.get("train_seconds")
        if not (isinstance(epochs, int) and 1 <= epochs <= self.settings["epochs"] and keras_epoch == epochs
                and isinstance(rows, list) and len(rows) == epochs
                and record.get("samples_seen") == epochs * self.samples_per_epoch
                and isinstance(seconds, (int, float)) and seconds > 0):
            return None, (f"its record (epoch {epochs!r}) does not agree with Keras' checkpoint (epoch "
                          f"{keras_epoch!r}): an interrupted save")
        return record, None

    def _load(self) -> str | None:
        """Let Keras load the backup; None on success, else why (the variables are put back)."""
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        state = list(model.variables) + (list(model.optimizer.variables) if model.optimizer is not None else [])
        saved = [v.numpy() for v in state]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                super().on_train_begin()
            skipped = [str(w.message) for w in caught if "retain" in str(w.message)]
            if skipped:  # Keras loaded only part of the file ("... will retain their freshly-initialized weights")
                raise ValueError(skipped[0])
        except Exception as err:  # noqa: BLE001 - whatever Keras raises, the backup is not used
            for v, value in zip(state, saved):
                v.assign(value)
            model._initial_epoch = None  # set by Keras only once everything loaded; make sure
            text = " ".join(str(err).split())
            return f"Keras could not load its weights ({type(err).__name__}: {text[:240]})"
        return None

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)  # Keras writes the weights and its epoch
        rows = self.log.rows
        record = {"format": BACKUP_FORMAT, "fingerprint": self.fingerprint, "settings": self.settings,
                  "epochs": epoch + 1, "samples_seen": (epoch + 1) * self.samples_per_epoch,
                  "train_seconds": rows[-1]["seconds"] if rows else 0.0, "epoch_log": rows,
                  "weights_sha256": _file_sha256(self.path / _WEIGHTS), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp = self.path / f".{_RECORD}.tmp"
        tmp.write_text(json.dumps(record, indent=1, default=_json_default))
        os.replace(tmp, self.path / _RECORD)  # never half-written


