"""Shared test set-up: quiet TensorFlow, keep every test's environment isolated."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def isolated_data_env(tmp_path, monkeypatch):
    """No data dir, an empty cache, offline; returns the cache path."""
    import labkit.data

    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LABKIT_OFFLINE", "1")
    monkeypatch.setattr(labkit.data, "_MEMO", {})
    return tmp_path / "cache"
