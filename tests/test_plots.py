"""labkit.plots: each helper draws what it is given, returns Axes/Figure, never shows."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labkit import metrics, plots  # noqa: E402
from labkit.curves import LearningCurve, ValidationCurve  # noqa: E402
from labkit.training import FitResult  # noqa: E402


@pytest.fixture(autouse=True)
def _no_show(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("plots must not call plt.show()")
    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


def test_history_draws_train_and_val():
    h = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]}
    ax = plots.plot_history(FitResult(h, 1.0, 3), metrics=("loss", "accuracy"))
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    np.testing.assert_allclose(lines["train loss"], h["loss"])
    np.testing.assert_allclose(lines["validation loss"], h["val_loss"])
    assert "validation accuracy" not in lines and "train accuracy" in lines
    with pytest.raises(ValueError, match="no \\['auc'\\]"):
        plots.plot_history(h, metrics="auc")
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.plot_history({})


def test_learning_curve_with_baseline():
    c = LearningCurve(np.array([10, 100, 1000]), np.array([0.0, 0.05, 0.1]), np.array([0.5, 0.3, 0.15]),
                      np.zeros(3))
    fig, ax0 = plt.subplots()
    ax = plots.plot_learning_curve(c, baseline=0.165, baseline_label="human", ax=ax0)
    assert ax is ax0 and ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "human (0.165)" in labels
    base = [line for line in ax.get_lines() if line.get_label().startswith("human")][0]
    np.testing.assert_allclose(base.get_ydata(), [0.165, 0.165])
    val = [line for line in ax.get_lines() if line.get_label() == "validation error"][0]
    np.testing.assert_allclose(val.get_ydata(), c.val_error)
    with pytest.raises(ValueError, match="one length"):
        plots.plot_learning_curve(train_sizes=[1, 2], train_error=[0.1], val_error=[0.2, 0.3])


def test_validation_curve_marks_the_best_and_handles_zero():
    c = ValidationCurve("λ", np.array([0.0, 1e-4, 1e-2, 1.0]), np.array([0.0, 0.01, 0.1, 0.5]),
                        np.array([0.3, 0.2, 0.15, 0.5]), np.zeros(4))
    ax = plots.plot_validation_curve(c)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "λ"
    best = [line for line in ax.get_lines() if line.get_label().startswith("best")][0]
    assert best.get_ydata()[0] == pytest.approx(0.15) and "0.01" in best.get_label()
    assert np.all(np.asarray(best.get_xdata()) > 0)


def test_pr_curve_with_operating_point():
    y = np.array([0, 1, 1, 0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.6, 0.4, 0.35, 0.7, 0.8])
    p, r, t = metrics.pr_curve(y, s)
    choice = metrics.best_threshold(y, s)
    ax = plots.plot_pr_curve(p, r, operating_point=choice.report)
    op = [line for line in ax.get_lines() if line.get_label().startswith("operating")][0]
    assert op.get_xdata()[0] == pytest.approx(choice.report["recall"])
    assert op.get_ydata()[0] == pytest.approx(choice.report["precision"])
    assert "t=" in op.get_label()
    curve = [line for line in ax.get_lines() if line.get_label() == "PR curve"][0]  # sklearn's Display drew it
    np.testing.assert_allclose(curve.get_xdata(), r)
    np.testing.assert_allclose(curve.get_ydata(), p)
    assert curve.get_drawstyle() == "steps-post" and ax.get_xlabel().startswith("Recall")
    with pytest.raises(ValueError, match="operating_point"):
        plots.plot_pr_curve(p, r, operating_point={"precision": 1.0})


def test_confusion_matrix_normalised_rows():
    cm = np.array([[8, 2], [0, 0]])
    ax = plots.plot_confusion_matrix(cm, ["cat", "dog"], normalize=True)
    img = ax.get_images()[0].get_array()
    np.testing.assert_allclose(img, [[0.8, 0.2], [0.0, 0.0]])
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.20", "0.00", "0.00"]
    assert ax.get_ylabel() == "True label" and ax.get_xlabel() == "Predicted label"  # ConfusionMatrixDisplay's
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]
    ax = plots.plot_confusion_matrix(cm)
    assert [t.get_text() for t in ax.texts] == ["8", "2", "0", "0"]
    ax = plots.plot_confusion_matrix(np.eye(16, dtype=int))
    assert len(ax.texts) == 0 and plots.plot_confusion_matrix(np.eye(16), annotate=True).texts[0].get_text() == "1"
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        plots.plot_confusion_matrix(cm, ["a"])


def test_every_plotting_function_is_named_plot_and_shares_no_name_with_a_computation():
    from labkit import curves

    assert all(name.startswith("plot_") for name in plots.__all__)
    assert not set(plots.__all__) & (set(curves.__all__) | set(metrics.__all__))


def test_image_grid_returns_a_figure():
    imgs = np.random.default_rng(0).integers(0, 255, (5, 28, 28, 1), dtype=np.uint8)
    fig = plots.plot_image_grid(imgs, titles=list("abcde"), ncols=2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    assert len(fig.axes[5].get_images()) == 0
    with pytest.raises(ValueError, match="titles"):
        plots.plot_image_grid(imgs, titles=["a"])
    with pytest.raises(ValueError, match="ncols"):
        plots.plot_image_grid(imgs, ncols=0)
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_image_grid(np.zeros((0, 4, 4)))
