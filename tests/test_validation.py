"""labkit.validation: wrong types -> TypeError, wrong values -> ValueError, naming the argument."""
import numpy as np
import pytest

from labkit import validation as v


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, np.float64(1.0)])
def test_check_int_refuses_non_integers_with_type_error(bad):
    with pytest.raises(TypeError, match="n_units"):
        v.check_int(bad, "n_units", min_val=1)


def test_check_int_bounds_and_numpy_integers():
    assert v.check_int(np.int64(4), "k", min_val=1) == 4 and type(v.check_int(np.int64(4), "k")) is int
    with pytest.raises(ValueError, match=r"k must be an integer >= 1 and <= 3, got 4"):
        v.check_int(4, "k", min_val=1, max_val=3)


@pytest.mark.parametrize("bad", [True, "0.1", None, 1j, [0.1]])
def test_check_number_type_errors(bad):
    with pytest.raises(TypeError, match="lr"):
        v.check_number(bad, "lr")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_check_number_refuses_non_finite(bad):
    with pytest.raises(ValueError, match="lr must be a finite number"):
        v.check_number(bad, "lr")


def test_check_number_bounds():
    assert v.check_number(np.array(0.5), "p", min_val=0, max_val=1) == 0.5
    with pytest.raises(ValueError, match="> 0"):
        v.check_number(0, "lr", min_val=0, include_min=False)
    assert v.check_number(float("inf"), "cap", finite=False) == float("inf")
    with pytest.raises(ValueError):
        v.check_number(float("nan"), "cap", finite=False)


def test_check_option_and_bool():
    assert v.check_option("psi", "method", ("psi", "ks")) == "psi"
    with pytest.raises(ValueError, match=r"method must be one of \['psi', 'ks'\]"):
        v.check_option("chi2", "method", ("psi", "ks"))
    with pytest.raises(TypeError):
        v.check_option(1, "method", ("psi", "ks"))
    with pytest.raises(TypeError, match="quiet"):
        v.check_bool(1, "quiet")


def test_check_array_types_shapes_and_finiteness():
    with pytest.raises(TypeError, match="x must hold numbers.*strings"):
        v.check_array(["a", "b"], "x")
    with pytest.raises(TypeError, match="x could not be read"):
        v.check_array([[1, 2], [3]], "x")
    with pytest.raises(ValueError, match=r"x must be 2-D, got an array of shape \(3,\)"):
        v.check_array([1, 2, 3], "x", ndim=2)
    with pytest.raises(ValueError, match="x has 0 row"):
        v.check_array(np.zeros((0, 4)), "x", ndim=2)
    with pytest.raises(ValueError, match="1 NaN"):
        v.check_array([1.0, np.nan], "x")
    a = np.arange(3)
    assert v.check_array(a, "x") is a


def test_check_labels_refuses_what_numpy_would_silently_misread():
    with pytest.raises(ValueError, match=">= 0, got -1"):
        v.check_labels([-1, 0], "y")
    with pytest.raises(ValueError, match="fractional"):
        v.check_labels([0.5, 1.0], "y")
    with pytest.raises(ValueError, match="only 10 classes"):
        v.check_labels([0, 10], "y", n_classes=10)
    with pytest.raises(TypeError):
        v.check_labels(np.array([True, False]), "y")
    out = v.check_labels(np.array([1.0, 2.0]), "y", n_classes=3)
    assert out.dtype == np.int64 and out.tolist() == [1, 2]


def test_check_same_length_names_every_input():
    with pytest.raises(ValueError, match="y_true has 2, y_pred has 3"):
        v.check_same_length(y_true=[0, 1], y_pred=[0, 1, 1])
    assert v.check_same_length(a=[1, 2], b=np.zeros((2, 5))) == 2
