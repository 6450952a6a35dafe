"""labkit.curves on a tiny Keras model: errors, seeding, cost per fit and validation."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from labkit import curves, metrics

keras = pytest.importorskip("keras")


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    return x, y


def _builder(l2=0.0, calls=None):
    def build():
        if calls is not None:
            calls.append(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
            2, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)])
        model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
    return build


def test_error_functions_match_sklearn():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 3))
    y = rng.integers(0, 3, 50)
    assert curves.error_rate(y, logits) == pytest.approx(1 - accuracy_score(y, logits.argmax(1)))
    assert curves.cross_entropy(y, logits) == pytest.approx(log_loss(y, metrics.softmax(logits), labels=[0, 1, 2]))
    yb = rng.integers(0, 2, 50)
    z = rng.normal(size=(50, 1))
    p = 1 / (1 + np.exp(-z[:, 0]))
    assert curves.error_rate(yb, z) == pytest.approx(np.mean((p >= 0.5) != yb))
    assert curves.cross_entropy(yb, z) == pytest.approx(log_loss(yb, p))
    assert curves.error_rate(yb, p[:, None], from_logits=False) == pytest.approx(np.mean((p >= 0.5) != yb))


def test_cross_entropy_scores_every_class_and_takes_float32_probabilities_quietly():
    import warnings

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, 4)).astype("float32")
    y = rng.integers(0, 3, 20)  # class 3 never occurs in this batch
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))  # float32: rows sum to 1 within ~1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "y_prob values do not sum to one" from scikit-learn
        got = curves.cross_entropy(y, probs, from_logits=False)
    assert got == pytest.approx(log_loss(y, probs, labels=range(4)), rel=1e-6)  # sklearn in float32 is content
    assert curves.cross_entropy(y, logits) == pytest.approx(got, rel=1e-5)
    assert curves.error_rate(np.eye(4)[y], logits) == pytest.approx(np.mean(logits.argmax(1) != y))


def test_learning_curve_records_errors_of_the_final_weights(monkeypatch):
    x, y = _data()
    xv, yv = _data(80, seed=1)
    calls, cleared, predicts = [], [], []
    real_clear, real_predict = keras.backend.clear_session, keras.Model.predict
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: (cleared.append(1), real_clear(*a, **k)))
    monkeypatch.setattr(keras.Model, "predict",
                        lambda self, *a, **k: (predicts.append(1), real_predict(self, *a, **k))[1])
    lc = curves.learning_curve(_builder(calls=calls), x, y, xv, yv, [0.1, 0.5, 1.0], epochs=2, batch_size=32)
    monkeypatch.undo()
    np.testing.assert_array_equal(lc.train_sizes, [24, 120, 240])
    assert len(calls) == 3, "one fresh model per size"
    assert len(predicts) == 6, "exactly one predict on the training subset and one on validation per size"
    assert len(cleared) >= 3, "the Keras session is cleared between fits"
    assert lc.train_error.shape == lc.val_error.shape == (3,)
    assert np.all((lc.train_error >= 0) & (lc.train_error <= 1))
    np.testing.assert_allclose(lc.gap, lc.val_error - lc.train_error)
    # Oracle: train the largest model by hand with the same seed and data order.
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    perm = np.random.default_rng(0).permutation(len(x))
    idx = np.sort(perm[:240])
    model = _builder()()
    model.fit(x[idx], y[idx], epochs=2, batch_size=32, verbose=0)
    val_err = 1 - accuracy_score(yv, model.predict(xv, verbose=0).argmax(1))
    assert lc.val_error[-1] == pytest.approx(val_err)
    assert "n_train" in lc.table()


def test_learning_curve_is_reproducible():
    x, y = _data()
    a = curves.learning_curve(_builder(), x, y, x[:50], y[:50], [30, 120], epochs=1, batch_size=32, seed=3)
    b = curves.learning_curve(_builder(), x, y, x[:50], y[:50], [30, 120], epochs=1, batch_size=32, seed=3)
    np.testing.assert_array_equal(a.train_error, b.train_error)
    np.testing.assert_array_equal(a.val_error, b.val_error)


def test_validation_curve_strong_l2_underfits():
    x, y = _data()
    xv, yv = _data(100, seed=2)
    vc = curves.validation_curve(lambda lam: _builder(lam)(), [0.0, 10.0], x, y, xv, yv, param_name="λ",
                                 epochs=15, batch_size=64)
    assert vc.train_error[0] < 0.1, vc.table()
    assert vc.train_error[1] > vc.train_error[0] + 0.1, "a huge λ must hurt even the training error"
    assert vc.best_value == 0.0 and vc.param_name == "λ" and "λ" in vc.table()
    np.testing.assert_allclose(vc.gap, vc.val_error - vc.train_error)


@pytest.mark.parametrize("sizes,match", [
    ([-5, 10], "positive"), ([0.0, 0.5], r"\(0, 1\]"), ([100, 50], "increasing"), ([10, 1000], "only 240"),
    ([], "non-empty"), ([10.5, 20], "whole numbers"),
])
def test_learning_curve_rejects_bad_sizes(sizes, match):
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        curves.learning_curve(_builder(), x, y, x, y, sizes)


def test_curves_reject_bad_arguments():
    x, y = _data()
    with pytest.raises(ValueError, match="epochs"):
        curves.learning_curve(_builder(), x, y, x, y, [10], epochs=0)
    with pytest.raises(ValueError, match="unknown error"):
        curves.learning_curve(_builder(), x, y, x, y, [10], error="mse")
    with pytest.raises(ValueError, match="validation_data"):
        curves.learning_curve(_builder(), x, y, x, y, [10], fit_kwargs={"validation_data": (x, y)})
    with pytest.raises(ValueError, match="different numbers"):
        curves.learning_curve(_builder(), x, y[:10], x, y, [10])
    with pytest.raises(ValueError, match="empty"):
        curves.validation_curve(lambda v: _builder()(), [], x, y, x, y)
    with pytest.raises(ValueError, match="compiled"):
        curves.learning_curve(lambda: keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                              x, y, x, y, [10], epochs=1)
