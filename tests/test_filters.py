"""Gabor/DoG kernels behave like oriented edge and blob detectors."""
from __future__ import annotations

import numpy as np
import pytest

from labkit import filters


def _grating(size, angle, wavelength):
    half = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size] - half
    return np.cos(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / wavelength)


@pytest.mark.parametrize("angle", [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4])
def test_gabor_responds_most_to_its_own_orientation(angle):
    image = _grating(15, angle, 5.0)
    thetas = np.arange(8) * np.pi / 8
    responses = [abs(float((filters.gabor_kernel(15, 3.0, th, 5.0) * image).sum())) for th in thetas]
    assert thetas[int(np.argmax(responses))] == pytest.approx(angle)


def test_gabor_formula_at_the_centre_and_symmetry():
    k = filters.gabor_kernel(7, 2.0, 0.3, 4.0)
    assert k[3, 3] == pytest.approx(1.0), "envelope 1 and cos(0) = 1 at the centre"
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-12)  # even (psi = 0) kernels are point-symmetric
    odd = filters.gabor_kernel(7, 2.0, 0.3, 4.0, psi=np.pi / 2)
    np.testing.assert_allclose(odd, -odd[::-1, ::-1], atol=1e-12)


def test_dog_is_zero_sum_centre_surround():
    k = filters.dog_kernel(9, 1.0)
    assert abs(k.sum()) < 1e-6 and k[4, 4] > 0 and k[0, 4] < 0


def test_bank_and_initializer():
    import keras

    init = filters.GaborInitializer()
    bank = filters.gabor_bank(5, in_channels=3)
    assert bank.shape == (5, 5, 3, init.n_filters)
    np.testing.assert_allclose(np.sqrt((bank ** 2).sum(axis=(0, 1, 2))), 1.0, rtol=1e-5)
    layer = keras.layers.Conv2D(init.n_filters, 5, kernel_initializer=init)
    layer.build((None, 28, 28, 3))
    np.testing.assert_allclose(layer.kernel.numpy(), bank, rtol=1e-6)
    again = filters.GaborInitializer(**init.get_config())
    assert again.n_filters == init.n_filters
    with pytest.raises(ValueError, match="filters"):
        keras.layers.Conv2D(8, 5, kernel_initializer=init).build((None, 28, 28, 1))
    with pytest.raises(ValueError):
        filters.gabor_kernel(0, 1.0, 0.0, 3.0)
