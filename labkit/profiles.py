"""Profiles: one environment variable picks how big every notebook runs.

``LABKIT_PROFILE`` is one of:

* ``quick``    - CI: real data, subsampled; each notebook about a minute on 2 cores.
* ``standard`` - the default a student runs on a laptop CPU (each notebook <= 10 min
  on a 2-core machine unless a lab states its own budget).
* ``full``     - best results, no time limit.

This module is **the one place** that says what each profile means for each lab:
subset sizes, epochs, and the bars the notebook asserts. A notebook reads its lab's
settings with one line and never branches on the profile::

    cfg = labkit.settings("mnist")
    history = model.fit(x, y, epochs=cfg.epochs_cnn)
    assert acc >= cfg.min_cnn_accuracy
"""
from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, Mapping

PROFILES: tuple[str, ...] = ("quick", "standard", "full")
DEFAULT_PROFILE = "standard"
ENV_VAR = "LABKIT_PROFILE"

# lab -> profile -> setting -> value. Every profile of a lab defines the same keys
# (tests/test_profiles.py checks). Bars (min_*/max_*) are floors measured with margin.
_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "mnist": {
        "quick": dict(n_train=12_000, n_test=10_000, epochs_dense=3, epochs_cnn=3, batch_size=128,
                      min_dense_accuracy=0.90, min_cnn_accuracy=0.95),
        "standard": dict(n_train=60_000, n_test=10_000, epochs_dense=10, epochs_cnn=12, batch_size=128,
                         min_dense_accuracy=0.97, min_cnn_accuracy=0.99),
        "full": dict(n_train=60_000, n_test=10_000, epochs_dense=20, epochs_cnn=30, batch_size=128,
                     min_dense_accuracy=0.975, min_cnn_accuracy=0.992),
    },
}


class Settings(Mapping[str, Any]):
    """Read-only settings of one lab in one profile; values by attribute or by key."""

    def __init__(self, lab: str, profile: str, values: Mapping[str, Any]):
        self._lab, self._profile = lab, profile
        self._values = MappingProxyType(dict(values))

    @property
    def lab(self) -> str:
        return self._lab

    @property
    def profile(self) -> str:
        return self._profile

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"lab {self._lab!r} has no setting {name!r}; it has: {', '.join(sorted(self._values))}."
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Settings({self._lab!r}, profile={self._profile!r}: {inner})"


def active_profile() -> str:
    """The profile named by ``LABKIT_PROFILE`` (default ``standard``)."""
    name = os.environ.get(ENV_VAR, DEFAULT_PROFILE).strip().lower() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a profile; use one of "
            f"{', '.join(PROFILES)} (or unset it for {DEFAULT_PROFILE!r})."
        )
    return name


def labs() -> tuple[str, ...]:
    """Names of every lab that has settings."""
    return tuple(sorted(_SETTINGS))


def settings(lab: str, profile: str | None = None) -> Settings:
    """Settings of ``lab`` in ``profile`` (default: the active profile)."""
    if lab not in _SETTINGS:
        raise ValueError(f"unknown lab {lab!r}; labs with settings: {', '.join(labs())}.")
    profile = active_profile() if profile is None else profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    return Settings(lab, profile, _SETTINGS[lab][profile])
