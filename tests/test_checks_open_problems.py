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


def _inverse(W1, b1, W2, b2, perm):
    inv = np.argsort(perm)
    return W1[:, inv], b1[inv], W2[inv], b2


@pytest.mark.parametrize("fn, hint", [
    # ReLU is positively homogeneous: a rescaling keeps the function but is not a permutation (perm ignored)
    (lambda W1, b1, W2, b2, p: (2 * W1, 2 * b1, W2 / 2, b2), "rescaled"),
    # a permutation, but not perm: the check's fixed one, the reversal, the inverse
    (lambda W1, b1, W2, b2, p: _perm(W1, b1, W2, b2, np.array([3, 0, 4, 1, 2]))
     if W1.shape[1] == 5 else _perm(W1, b1, W2, b2, np.arange(W1.shape[1])[::-1]), "perm|hard-coded"),
    (lambda W1, b1, W2, b2, p: _perm(W1, b1, W2, b2, np.arange(W1.shape[1])[::-1]), "not the one in `perm`"),
    (_inverse, "inverse"),
    (lambda W1, b1, W2, b2, p: (W1[:, p], b1, W2[p], b2), "b1"),
    (lambda W1, b1, W2, b2, p: (W1[:, p], b1[p], W2[p], b2 + 1), "b2"),
])
def test_permute_hidden_rejects_a_rescaling_and_other_permutations(fn, hint):
    for seed in (0, 1, None):
        with pytest.raises(ExerciseError, match=hint) as err:
            check.permute_hidden(fn, seed=seed)
        assert err.value.hint


def test_permute_hidden_draws_fresh_sizes_and_permutations():
    seen = []

    def spy(W1, b1, W2, b2, perm):
        seen.append((W1.shape, W2.shape, tuple(perm)))
        return _perm(W1, b1, W2, b2, perm)

    for _ in range(3):
        check.permute_hidden(spy)
    assert len(set(seen)) > 3 and len({s[0] for s in seen}) > 1


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
