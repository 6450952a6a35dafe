from __future__ import annotations

import itertools

import keras
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


def _layer(penalty=None, output=None, register=True):
    """A SparseCode-like layer class whose penalty and output are given as functions of (h, lam)."""

    class Layer(keras.layers.Layer):
        def __init__(self, lam, **kwargs):
            super().__init__(**kwargs)
            self.lam = lam

        def call(self, h):
            if penalty is not None:
                self.add_loss(penalty(h, self.lam))
            return h if output is None else output(h, self.lam)

    Layer.__name__ = f"Layer{next(_names)}"
    return keras.saving.register_keras_serializable(package="test_open_problems")(Layer) if register else Layer


_names = itertools.count()
_ops = keras.ops


def _l1(h, lam):
    return lam * _ops.mean(_ops.sum(_ops.abs(h), axis=-1))


def test_sparse_code_accepts_the_layer_and_draws_fresh_cases(capsys):
    check.sparse_code(_layer(_l1))
    assert "✔" in capsys.readouterr().out
    seen = []

    def spy(h, lam):
        seen.append((tuple(h.shape), round(float(lam), 8)))
        return _l1(h, lam)

    spy_layer = _layer(spy)
    for _ in range(2):
        check.sparse_code(spy_layer)
    assert len(set(seen)) >= 4, seen


@pytest.mark.parametrize("cls, hint", [
    (_layer(lambda h, lam: lam * _ops.mean(_ops.abs(h))), "mean over the code units"),
    (_layer(lambda h, lam: lam * _ops.sum(_ops.abs(h))), "sums over the batch"),
    (_layer(lambda h, lam: lam * _ops.mean(_ops.sum(h ** 2, axis=-1))), "L2"),
    (_layer(lambda h, lam: lam * _ops.mean(_ops.sum(h, axis=-1))), "absolute value"),
    (_layer(lambda h, lam: _ops.mean(_ops.sum(_ops.abs(h), axis=-1))), "lam is missing"),
    (_layer(None), "no loss"),
    (_layer(_l1, output=lambda h, lam: lam * h), "changed h"),
    # a hard-coded penalty (the value for one input) is wrong for the fresh ones
    (_layer(lambda h, lam: _ops.convert_to_tensor(0.0123)), "expected"),
    (_layer(lambda h, lam: lam * float(np.abs(np.asarray(h)).sum(axis=1).mean())), "tensor|NumPy"),
    (_layer(_l1, register=False), "saving and loading"),
    (lambda lam: None, "deriving from keras.layers.Layer"),
    (None, "no answer yet"),
])
def test_sparse_code_rejects_each_slip_with_its_hint(cls, hint):
    for seed in (0, None):
        with pytest.raises(ExerciseError, match=hint) as err:
            check.sparse_code(cls, seed=seed)
        assert err.value.hint


def test_exercise_cells_student_fails_solution_passes():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("16_open_problems.ipynb", "open_problems",
                                                 {"keras": keras, "layers": keras.layers}, min_exercises=3)
