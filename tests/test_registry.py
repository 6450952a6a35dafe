"""The dataset cards in datasets/ and labkit.registry state the same checksums."""
from __future__ import annotations

import os

import pytest

from labkit.registry import DATASETS, WEIGHTS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _card(name: str) -> str:
    return open(os.path.join(REPO, "datasets", f"{name}.md"), encoding="utf-8").read()


@pytest.mark.parametrize("name", list(DATASETS))
def test_card_lists_every_registered_checksum(name):
    card = _card(name)
    spec = DATASETS[name]
    entries = list(spec.get("files", {}).values())
    entries += [spec[k] for k in ("local_file", "download_file") if k in spec]
    assert entries
    for file, sha, size in entries:
        assert file in card and sha in card and f"{size:,}" in card, f"{name}: card misses {file}"


def test_weights_card():
    card = _card("weights")
    for rel, sha, size in WEIGHTS.values():
        assert rel in card and sha in card and f"{size:,}" in card


def test_no_data_files_in_the_repository():
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in {".git", ".venv", "build", "student", ".labkit-cache"}
                   and not d.startswith("_work")]
        for f in files:
            assert not f.endswith((".npz", ".gz", ".h5", ".hdf5", ".keras", ".tar")), os.path.join(root, f)
