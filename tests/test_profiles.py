from __future__ import annotations

import pytest

import labkit
from labkit import profiles


def test_default_is_standard(monkeypatch):
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    assert labkit.active_profile() == "standard"


@pytest.mark.parametrize("value", ["fast", "QUICKK", "1"])
def test_wrong_profile_says_what_to_use(monkeypatch, value):
    monkeypatch.setenv("LABKIT_PROFILE", value)
    with pytest.raises(ValueError, match="quick, standard, full"):
        labkit.active_profile()


def test_settings_read_by_attribute_and_key(monkeypatch):
    monkeypatch.setenv("LABKIT_PROFILE", "quick")
    cfg = labkit.settings("mnist")
    assert cfg.profile == "quick" and cfg.epochs_cnn == cfg["epochs_cnn"]
    with pytest.raises(AttributeError, match="has no setting 'nope'"):
        cfg.nope
    with pytest.raises(ValueError, match="unknown lab"):
        labkit.settings("nope")


@pytest.mark.parametrize("lab", profiles.labs())
def test_every_lab_defines_the_same_keys_in_every_profile(lab):
    keys = [set(profiles.settings(lab, p)) for p in profiles.PROFILES]
    assert keys[0] == keys[1] == keys[2], f"{lab}: profiles disagree on keys"


@pytest.mark.parametrize("lab", profiles.labs())
def test_quick_never_costs_more_than_standard(lab):
    """Sizes and epochs grow (or stay) from quick to standard to full; bars never fall."""
    q, s, f = (profiles.settings(lab, p) for p in profiles.PROFILES)
    for key in q:
        a, b, c = q[key], s[key], f[key]
        if isinstance(a, bool) or not all(isinstance(v, (int, float)) for v in (a, b, c)):
            continue
        if key.startswith(("n_", "epochs")):
            assert a <= b <= c, f"{lab}.{key}: {a}, {b}, {c}"
