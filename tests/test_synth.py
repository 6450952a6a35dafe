"""labkit.synth: rendered digits are valid, controllable, reproducible and learnable."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier

from labkit import synth


def test_shapes_dtype_balance_and_fonts_ship_with_matplotlib():
    x, y = synth.render_digits(105, seed=0)
    assert x.shape == (105, 28, 28) and x.dtype == np.uint8
    assert y.shape == (105,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=10)
    assert counts.max() - counts.min() <= 1
    assert (x.reshape(105, -1).max(1) > 0).all(), "an image came out empty"
    paths = synth.font_paths()
    assert len(paths) >= 10 and all(p.is_file() and "mpl-data" in str(p) for p in paths)


def test_same_seed_same_images_other_seed_different():
    a, ya = synth.render_digits(30, seed=3)
    b, yb = synth.render_digits(30, seed=3)
    c, _ = synth.render_digits(30, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


def _centre_of_mass(img: np.ndarray) -> np.ndarray:
    w = img.astype(float)
    r, c = np.indices(w.shape)
    return np.array([(r * w).sum(), (c * w).sum()]) / w.sum()


def test_centring_height_and_contrast_follow_the_arguments():
    fixed = dict(rotation=(0, 0), thickness=(1, 1), blur=(0, 0))
    x, _ = synth.render_digits(40, seed=1, shift=0.0, height=(20, 20), contrast=(0.5, 0.5), **fixed)
    for img in x:
        assert np.abs(_centre_of_mass(img) - 13.5).max() <= 1.0   # MNIST-style centring
        rows = np.flatnonzero(img.max(1) > 0)
        assert 18 <= rows[-1] - rows[0] + 1 <= 22                 # bounding box ~ 20 px tall
        assert abs(int(img.max()) - 128) <= 1                      # peak = 0.5 * 255
    shifted, _ = synth.render_digits(200, seed=1, shift=4.0, **fixed)
    offsets = np.array([_centre_of_mass(img) - 13.5 for img in shifted])
    assert offsets.std(axis=0).min() > 1.0, "shift should move digits around"
    small, _ = synth.render_digits(40, seed=1, height=(8, 8), shift=0.0, **fixed)
    assert (small > 0).sum() < (x > 0).sum() / 2


def test_rotation_changes_the_glyph():
    kw = dict(seed=5, shift=0.0, thickness=(1, 1), blur=(0, 0), contrast=(1, 1), height=(20, 20))
    upright, y = synth.render_digits(20, rotation=(0, 0), **kw)
    tilted, y2 = synth.render_digits(20, rotation=(40, 40), **kw)
    np.testing.assert_array_equal(y, y2)
    diff = np.abs(upright.astype(int) - tilted.astype(int)).mean()
    assert diff > 10, diff


def test_labels_match_the_rendered_digit():
    # independent oracle: a linear (ridge) classifier fit on one batch must read another batch
    x, y = synth.render_digits(1500, seed=10)
    xt, yt = synth.render_digits(500, seed=11)
    clf = RidgeClassifier(alpha=10.0).fit(x.reshape(len(x), -1) / 255.0, y)
    acc = clf.score(xt.reshape(len(xt), -1) / 255.0, yt)
    assert acc >= 0.6, acc   # measured 0.72; chance is 0.1
    # and shuffled labels are not learnable (the test can fail)
    rng = np.random.default_rng(0)
    clf_bad = RidgeClassifier(alpha=10.0).fit(x.reshape(len(x), -1) / 255.0, rng.permutation(y))
    assert clf_bad.score(xt.reshape(len(xt), -1) / 255.0, yt) < 0.3


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must"),
    (dict(n=5, size=4), "size"),
    (dict(n=5, rotation=(10, -10)), "rotation"),
    (dict(n=5, contrast=(0.0, 2.0)), "contrast"),
    (dict(n=5, shift=20), "shift"),
    (dict(n=5, fonts=["NoSuchFont.ttf"]), "available fonts"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synth.render_digits(**kwargs)


def test_a_single_number_for_a_range_raises_type_error():
    with pytest.raises(TypeError, match="height must be a list or tuple"):
        synth.render_digits(n=5, height=5)
