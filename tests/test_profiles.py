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


def test_settings_are_frozen_all_the_way_down():
    cfg = profiles.settings("cifar10", "quick")
    with pytest.raises(TypeError):
        cfg.recipe_options["optimizer"] = "sgd"   # a nested dict is read-only too
    with pytest.raises(TypeError):
        cfg._values["n_train"] = 1
    assert isinstance(cfg.recipe_widths, tuple)
    # another lab's read of the same table is unchanged
    assert profiles.settings("cifar10", "quick").recipe_options["optimizer"] == "muon"


def test_a_misspelt_override_fails_when_the_table_is_built():
    labs = {"toy": profiles.Lab(defaults=dict(epochs=3, min_accuracy=0.9), quick=dict(epoch=1))}
    with pytest.raises(profiles.ProfileError, match=r"'quick' of lab 'toy' sets 'epoch'.*did you mean 'epochs'"):
        profiles._build(labs)


@pytest.mark.parametrize("value, ok", [(1, True), (0.5, False), ("3", False), (None, True), (True, False)])
def test_an_override_must_keep_the_default_type(value, ok):
    """Ints and floats mix for rates and bars, but a count stays a count; None marks 'no limit'."""
    labs = {"toy": profiles.Lab(defaults=dict(epochs=3, lr=0.1), full=dict(epochs=value))}
    if ok:
        assert profiles._build(labs)["toy"]["full"]["epochs"] == value
    else:
        with pytest.raises(profiles.ProfileError, match="epochs"):
            profiles._build(labs)


def test_overrides_only_name_what_differs_from_the_defaults():
    """The table is readable: an override equal to the default is noise and hides the real changes."""
    for name, lab in profiles._LABS.items():
        for profile in ("quick", "full"):
            same = [k for k, v in getattr(lab, profile).items() if lab.defaults[k] == v]
            assert same == [], f"{name}.{profile} repeats the defaults for {same}"
