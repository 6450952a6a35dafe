from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import open_problems as check


def _perm(W1, b1, W2, b2, perm):
    return W1[:, perm], b1[perm], W2[perm], b2


def test_permute_hidden():
    check.permute_hidden(_perm)
    for fn, hint in [(lambda *a: a[:4], "unchanged"),
                     (lambda W1, b1, W2, b2, p: (W1[:, p], b1[p], W2, b2), "W2's rows"),
                     (lambda *a: a[0], "four arrays"), (None, "no answer")]:
        with pytest.raises(ExerciseError, match=hint):
            check.permute_hidden(fn)


def test_gabor():
    from labkit.filters import gabor_kernel

    check.gabor(gabor_kernel)
    with pytest.raises(ExerciseError, match="transposed"):
        check.gabor(lambda *a: gabor_kernel(*a).T)
    with pytest.raises(ExerciseError, match="wrong values"):
        check.gabor(lambda s, *a: np.ones((s, s)))
    with pytest.raises(ExerciseError, match="shape"):
        check.gabor(lambda s, *a: np.ones((s, s + 1)))


def test_l1_penalty():
    check.l1_penalty(lambda h, lam: lam * np.abs(h).sum(axis=1).mean())
    for fn, hint in [(lambda h, lam: lam * np.abs(h).mean(), "mean over units"),
                     (lambda h, lam: lam * np.abs(h).sum(), "sums over the batch"),
                     (lambda h, lam: lam * (h ** 2).sum(axis=1).mean(), "L2"),
                     (lambda h, lam: "x", "one number")]:
        with pytest.raises(ExerciseError, match=hint):
            check.l1_penalty(fn)
