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


def test_check_str_and_check_callable():
    assert v.check_str("relu", "activation") == "relu" and v.check_str("", "label", allow_empty=True) == ""
    with pytest.raises(TypeError, match="name must be a string, got 5"):
        v.check_str(5, "name")
    with pytest.raises(ValueError, match="category must be a non-empty string"):
        v.check_str("  ", "category")
    assert v.check_callable(len, "f") is len
    with pytest.raises(TypeError, match=r"build_model must be a function \(\) -> keras.Model, got 'mlp'"):
        v.check_callable("mlp", "build_model", what="a function () -> keras.Model")


def test_check_ints_and_check_numbers_refuse_scalars_and_name_the_item():
    assert v.check_ints(np.array([2, 3]), "widths", min_val=1) == (2, 3)
    with pytest.raises(TypeError, match="hidden must be a list or tuple of integers"):
        v.check_ints(512, "hidden")
    with pytest.raises(TypeError, match="at position 1"):
        v.check_ints([8, 2.5], "hidden")
    with pytest.raises(ValueError, match=r"hidden must hold integers >= 1, got \[8, 0\]"):
        v.check_ints([8, 0], "hidden", min_val=1)
    with pytest.raises(ValueError, match="at least 1"):
        v.check_ints([], "widths")
    assert v.check_numbers((0, 1.5), "height") == (0.0, 1.5)
    with pytest.raises(TypeError, match="height must be a list or tuple of numbers"):
        v.check_numbers(15, "height")
    with pytest.raises(ValueError, match=r"wavelengths\[1\] must be > 0"):
        v.check_numbers([3.0, -1.0], "wavelengths", min_val=0, include_min=False)


def test_check_values_bounds_the_whole_array():
    a = np.array([0.0, 0.5, 1.0])
    assert v.check_values(a, "p", min_val=0, max_val=1) is a
    with pytest.raises(ValueError, match=r"p must hold values >= 0 and <= 1, got values from -0.5 to 1.5"):
        v.check_values(np.array([-0.5, 1.5]), "p", min_val=0, max_val=1)


def test_check_binary_labels_accepts_bools_and_columns_and_refuses_other_labels():
    np.testing.assert_array_equal(v.check_binary_labels([True, False], "y"), [1, 0])
    out = v.check_binary_labels(np.array([[0.0], [1.0]]), "y", dtype=np.int8)
    assert out.dtype == np.int8 and out.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"y must hold only 0 and 1.*\[0, 2\]"):
        v.check_binary_labels([0, 2], "y")
    with pytest.raises(ValueError, match="y must be 1-D"):
        v.check_binary_labels(np.zeros((2, 2)), "y")
    with pytest.raises(TypeError, match="y must hold numbers"):
        v.check_binary_labels(["a", "b"], "y")


def test_check_axis_and_check_names():
    assert v.check_axis(-1, 3) == 2 and v.check_axis(0, 1) == 0
    with pytest.raises(ValueError, match=r"axis 2 is out of range for an array with 2 dimension"):
        v.check_axis(2, 2)
    with pytest.raises(TypeError, match="axis"):
        v.check_axis(1.5, 2)
    assert v.check_names(["a", 1], "class_names") == ("a", "1")
    with pytest.raises(TypeError, match="class_names must be a list or tuple of names"):
        v.check_names("ab", "class_names")
    with pytest.raises(ValueError, match="at least 2"):
        v.check_names(["a"], "class_names", min_len=2)


def test_check_array_says_when_an_array_is_empty():
    with pytest.raises(ValueError, match=r"x has 0 row\(s\) \(it is empty\); it needs at least 1"):
        v.check_array([], "x")
