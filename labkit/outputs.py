"""Where labkit's command-line tools may write: one rule for ``student``, ``runbook``, ``nbtools`` and ``workspace``.

The rule:

* **Never into an input's folder.** A tool that names its outputs after its inputs
  (``--out DIR``) refuses a ``DIR`` that holds any of them; a ``SOURCE DEST``
  conversion refuses a ``DEST`` that is its ``SOURCE``. No ``--force`` lifts this.
* **Never over a file it did not write.** An existing output is replaced only if the
  folder's manifest (``.labkit-outputs.json``, kept by :func:`write_text` with
  ``record=True``) lists it with the content it still has - the tool's own output
  from an earlier run, untouched since - or if ``--force`` is given. Two inputs that
  would map to one output name are refused. All of this is checked before anything
  is written.
* **No partial output.** Each file is written to a temporary file in its destination
  folder and moved into place with :func:`os.replace`; the temporary is removed on
  every failure path.
* **A bad input stops only itself.** It is reported by path (:class:`BadInputError`)
  and the tool goes on with the others, exiting 1 at the end.

A refusal raises :class:`RefusedError` (a ``ValueError``); the command lines print it
as one line on stderr and exit 2.

``labkit.workspace`` (a learner's copies) keeps the rule without refusing: a copy that is
not the tool's own unchanged output is left as it is and the new version is written
beside it under a new name (:func:`check_out_dir`, :func:`read_manifest` and
:func:`digest` are the pieces it shares with :func:`plan_outputs`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nbformat

from labkit.validation import check_bool

__all__ = ["MANIFEST", "RefusedError", "BadInputError", "check_path", "plan_outputs", "check_out_dir",
           "check_dest", "read_manifest", "digest", "write_text", "notebook_text", "read_notebook", "report",
           "error"]

MANIFEST = ".labkit-outputs.json"


class RefusedError(ValueError):
    """Writing an output would break the rule; nothing has been written."""


class BadInputError(ValueError):
    """An input cannot be read or processed; the message starts with its path."""


def check_path(value, name: str) -> Path:
    """``value`` (a ``str`` or ``os.PathLike``) as a :class:`~pathlib.Path`."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {value!r} of type "
                        f"{type(value).__name__}.")
    if os.fspath(value) == "":
        raise ValueError(f"{name} must be a path, got an empty string.")
    return Path(value)


def _check_paths(values, name: str) -> list[Path]:
    if isinstance(values, (str, bytes, os.PathLike)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of paths, got {values!r} of type {type(values).__name__}.")
    paths = [check_path(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not paths:
        raise ValueError(f"{name} must name at least one file, got none.")
    return paths


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    """The SHA-256 (hex) of ``data``, as the manifest records it."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}.")
    return _digest(bytes(data))


def _manifest(folder: Path) -> dict[str, str] | None:
    """``{file name: sha256}`` of what the tools wrote in ``folder``; None if unreadable."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        return None
    return dict(files)


def read_manifest(folder) -> dict[str, str]:
    """``{file name: sha256}`` of what labkit's tools wrote in ``folder`` ({} if none yet).

    Raises :class:`RefusedError` if ``folder`` holds a ``.labkit-outputs.json`` that is
    not a manifest labkit wrote: what was written there cannot be told apart.
    """
    folder = check_path(folder, "folder")
    manifest = _manifest(folder)
    if manifest is None:
        raise RefusedError(f"{folder / MANIFEST} is not a manifest labkit wrote; remove it or pass --force.")
    return manifest


def _written_by_us(path: Path, manifest: dict[str, str]) -> bool:
    try:
        return manifest.get(path.name) == _digest(path.read_bytes())
    except OSError:
        return False


def _holders(path: Path) -> set[Path]:
    """The folders that hold ``path``: where it is named and, for a link, where its target is."""
    return {Path(os.path.abspath(path)).parent.resolve(), path.resolve().parent}


def plan_outputs(out_dir, inputs, *, extra: Iterable[str] = (), force: bool = False) -> dict[Path, Path]:
    """``{input: out_dir / input.name}``, after checking the rule; nothing is written.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The destination folder (it need not exist yet).
    inputs : list of str or os.PathLike
        The input files; each is written as ``out_dir / input.name``.
    extra : iterable of str
        Names of further files the tool writes in ``out_dir`` (e.g. ``"results.md"``).
    force : bool
        Overwrite existing files the tools did not write (or that changed since).

    Raises
    ------
    RefusedError
        ``out_dir`` holds an input or is not a folder, two outputs share a name, or an
        output exists and may not be overwritten.
    """
    out_dir = check_path(out_dir, "out_dir")
    force = check_bool(force, "force")
    extra = _check_extra(extra)
    plan = check_out_dir(out_dir, inputs, extra=extra)
    if out_dir.is_dir():
        manifest = _manifest(out_dir)
        if manifest is None and not force:
            raise RefusedError(f"{out_dir / MANIFEST} is not a manifest labkit wrote; remove it or pass --force.")
        blocked = []
        for dest in [*plan.values(), *(out_dir / name for name in extra)]:
            if dest.is_symlink() or dest.exists():
                if not dest.is_file() or dest.is_symlink():
                    raise RefusedError(f"{dest} exists and is not a plain file; remove it first.")
                if not force and not _written_by_us(dest, manifest or {}):
                    blocked.append(dest)
        if blocked:
            more = f" (and {len(blocked) - 1} more)" if len(blocked) > 1 else ""
            raise RefusedError(f"{blocked[0]}{more} already exists and was not written by this tool, or was "
                               "changed since; pass --force to overwrite it.")
    return plan


def _check_extra(extra) -> list[str]:
    if isinstance(extra, str) or not isinstance(extra, Iterable):
        raise TypeError(f"extra must be a list of file names, got {extra!r} of type {type(extra).__name__}.")
    extra = list(extra)
    for name in extra:
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ValueError(f"extra must hold bare file names such as 'results.md', got {name!r}.")
    return extra


def check_out_dir(out_dir, inputs, *, extra: Iterable[str] = ()) -> dict[Path, Path]:
    """``{input: out_dir / input.name}`` after the checks that no ``--force`` lifts.

    ``out_dir`` must be (or become) a folder holding none of the inputs, and no two
    inputs (or an input and one of the ``extra`` names, or the manifest) may share an
    output name. Whether existing outputs may be replaced is the caller's business
    (:func:`plan_outputs` refuses any the tools did not write). Raises
    :class:`RefusedError`; nothing is written.
    """
    out_dir = check_path(out_dir, "out_dir")
    inputs = _check_paths(inputs, "inputs")
    extra = _check_extra(extra)
    if out_dir.exists() and not out_dir.is_dir():
        raise RefusedError(f"{out_dir} exists and is not a folder; choose another output folder.")
    target = out_dir.resolve()
    for path in inputs:
        if target in _holders(path):
            raise RefusedError(f"refusing to write into {out_dir}: it holds the input {path}; "
                               "choose an output folder that holds none of the inputs.")
    plan: dict[Path, Path] = {}
    by_name: dict[str, str] = {name: f"the tool's own {name}" for name in [*extra, MANIFEST]}
    for path in inputs:
        if path.name in by_name:
            raise RefusedError(f"{by_name[path.name]} and {path} would both be written to "
                               f"{out_dir / path.name}; rename one or run them into separate folders.")
        by_name[path.name] = str(path)
        plan[path] = out_dir / path.name
    return plan


def check_dest(dest, sources, *, force: bool = False) -> Path:
    """``dest`` for a ``SOURCE DEST`` conversion, after checking the rule; nothing is written.

    Raises :class:`RefusedError` when ``dest`` is one of ``sources`` (even with
    ``force``), is not a plain file, lies in a missing folder, or exists and ``force``
    is False.
    """
    dest = check_path(dest, "dest")
    sources = _check_paths(sources, "sources")
    force = check_bool(force, "force")
    for source in sources:
        if dest.resolve() == source.resolve() or (dest.exists() and source.exists() and dest.samefile(source)):
            raise RefusedError(f"refusing to write {dest} over its own source; choose another destination.")
    if not dest.parent.is_dir():
        raise RefusedError(f"cannot write {dest}: the folder {dest.parent} does not exist.")
    if dest.is_symlink() or dest.exists():
        if not dest.is_file() or dest.is_symlink():
            raise RefusedError(f"{dest} exists and is not a plain file; remove it first.")
        if not force:
            raise RefusedError(f"{dest} already exists; pass --force to overwrite it.")
    return dest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_atomically(path: Path, data: bytes) -> None:
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path, text: str, *, record: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and :func:`os.replace`.

    ``record=True`` also lists the file in its folder's manifest, so a later run may
    replace it while it is unchanged. Returns ``path``. Does not check the rule: call
    :func:`plan_outputs` or :func:`check_dest` first.
    """
    path = check_path(path, "path")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    record = check_bool(record, "record")
    data = text.encode("utf-8")
    _replace_atomically(path, data)
    if record:
        files = _manifest(path.parent) or {}
        files[path.name] = _digest(data)
        note = "files labkit's tools wrote here, with their sha256; an edited file is not overwritten"
        _replace_atomically(path.parent / MANIFEST,
                            (json.dumps({"note": note, "files": dict(sorted(files.items()))}, indent=1)
                             + "\n").encode("utf-8"))
    return path


def notebook_text(nb) -> str:
    """``nb`` as nbformat writes it to disk (with a final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def read_notebook(path) -> nbformat.NotebookNode:
    """The notebook at ``path`` (as version 4); :class:`BadInputError` naming it if unreadable."""
    path = check_path(path, "path")
    try:
        return nbformat.read(path, as_version=4)
    except OSError as err:
        raise BadInputError(f"{path}: cannot read it ({err.strerror or err}).") from None
    except Exception as err:  # noqa: BLE001 - nbformat raises ValueError, AttributeError, jsonschema errors...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise BadInputError(f"{path}: not a valid notebook ({reason}).") from None


def report(prog: str, message: object) -> None:
    """Print ``prog: message`` as one line on stderr (``message`` a string or an exception: its ``str``)."""
    print(f"{prog}: {' '.join(str(message).split())}", file=sys.stderr)


def error(prog: str, message: object) -> int:
    """Print ``prog: error: message`` as one line on stderr; return 2, the refusal exit code."""
    report(prog, f"error: {message}")
    return 2
