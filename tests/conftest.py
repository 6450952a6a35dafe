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


@pytest.fixture(scope="module")
def frozen_gc():
    """Keep ``gc.collect()`` from walking every object earlier tests left in this process.

    ``keras.backend.clear_session()`` (which keras-tuner calls before every trial, and collects once
    more itself) runs a full garbage collection; late in the suite this process holds about a million
    objects, so each one takes 1-2 s on 2 busy cores, against ~0.1 s in a process of its own. This
    collects once, then moves the survivors to the permanent generation (``gc.freeze()``) for the
    module: collections only walk what the module creates, and the module's own garbage is freed as
    before. They are moved back at the end of the module."""
    import gc

    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
