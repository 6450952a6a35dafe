"""Hand-designed filters: Gabor and difference-of-Gaussians kernels, and a Keras
initializer that puts a Gabor bank into a convolution layer."""
from __future__ import annotations

import keras
import numpy as np

from labkit.validation import check_int, check_number, check_numbers

__all__ = ["gabor_kernel", "dog_kernel", "gabor_bank", "GaborInitializer"]


def gabor_kernel(size: int, sigma: float, theta: float, wavelength: float, gamma: float = 0.5,
                 psi: float = 0.0) -> np.ndarray:
    """A (size, size) Gabor kernel: a Gaussian envelope times a cosine carrier.

    g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / wavelength + psi),
    with x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), and (x, y)
    measured from the kernel centre (x to the right, y downwards). The carrier varies
    along direction ``theta``, so the kernel responds to edges/stripes perpendicular to it.
    """
    size = check_int(size, "size", min_val=1)
    sigma = check_number(sigma, "sigma", min_val=0, include_min=False)
    wavelength = check_number(wavelength, "wavelength", min_val=0, include_min=False)
    theta, gamma, psi = check_number(theta, "theta"), check_number(gamma, "gamma"), check_number(psi, "psi")
    half = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr ** 2 + (gamma * yr) ** 2) / (2 * sigma ** 2)) * np.cos(2 * np.pi * xr / wavelength + psi)


def dog_kernel(size: int, sigma: float, ratio: float = 1.6) -> np.ndarray:
    """Difference of two normalised Gaussians (centre-surround, like retinal cells)."""
    size = check_int(size, "size", min_val=1)
    sigma = check_number(sigma, "sigma", min_val=0, include_min=False)
    ratio = check_number(ratio, "ratio", min_val=1, include_min=False)
    half = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    r2 = x ** 2 + y ** 2

    def g(s):
        k = np.exp(-r2 / (2 * s ** 2))
        return k / k.sum()

    return g(sigma) - g(sigma * ratio)


def gabor_bank(size: int = 5, n_orientations: int = 4, wavelengths=(3.0, 5.0), phases=(0.0, np.pi / 2),
               in_channels: int = 1, dog_sigmas=(1.0,)) -> np.ndarray:
    """A conv kernel of shape (size, size, in_channels, n_filters): Gabor filters at
    ``n_orientations`` orientations x ``wavelengths`` x ``phases``, then DoG blobs.
    Each filter is zero-mean and unit-norm; a colour input gets the same filter on
    every channel (a luminance filter)."""
    n_orientations, wavelengths, phases, dog_sigmas = _bank_spec(n_orientations, wavelengths, phases, dog_sigmas)
    in_channels = check_int(in_channels, "in_channels", min_val=1)
    size = check_int(size, "size", min_val=1)
    kernels = []
    for lam in wavelengths:
        for psi in phases:
            for k in range(n_orientations):
                kernels.append(gabor_kernel(size, sigma=0.56 * lam, theta=np.pi * k / n_orientations,
                                            wavelength=lam, psi=psi))
    kernels += [dog_kernel(size, s) for s in dog_sigmas]
    bank = []
    for kern in kernels:
        kern = kern - kern.mean()
        bank.append(kern / (np.linalg.norm(kern) + 1e-12))
    bank = np.stack(bank, axis=-1)[:, :, None, :] / np.sqrt(in_channels)
    return np.repeat(bank, in_channels, axis=2).astype(np.float32)


def _bank_spec(n_orientations, wavelengths, phases, dog_sigmas) -> tuple[int, tuple, tuple, tuple]:
    """The checked description of a Gabor bank; at least one filter."""
    n_orientations = check_int(n_orientations, "n_orientations", min_val=1)
    wavelengths = check_numbers(wavelengths, "wavelengths", min_len=0, min_val=0, include_min=False)
    phases = check_numbers(phases, "phases", min_len=0)
    dog_sigmas = check_numbers(dog_sigmas, "dog_sigmas", min_len=0, min_val=0, include_min=False)
    if not (wavelengths and phases) and not dog_sigmas:
        raise ValueError("the bank would hold no filter: give wavelengths and phases (Gabor filters) or "
                         "dog_sigmas (difference-of-Gaussian blobs).")
    return n_orientations, wavelengths, phases, dog_sigmas


@keras.saving.register_keras_serializable(package="labkit")
class GaborInitializer(keras.initializers.Initializer):
    """Keras initializer: ``Conv2D(n, size, kernel_initializer=GaborInitializer())``.

    Fills the kernel with :func:`gabor_bank` for the layer's size and input channels;
    ``n`` must equal the bank's number of filters (see ``GaborInitializer.n_filters``).
    """

    def __init__(self, n_orientations: int = 4, wavelengths=(3.0, 5.0), phases=(0.0, float(np.pi / 2)),
                 dog_sigmas=(1.0,)):
        self.n_orientations, self.wavelengths, self.phases, self.dog_sigmas = _bank_spec(
            n_orientations, wavelengths, phases, dog_sigmas)

    @property
    def n_filters(self) -> int:
        return self.n_orientations * len(self.wavelengths) * len(self.phases) + len(self.dog_sigmas)

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[0] != shape[1]:
            raise ValueError(f"GaborInitializer needs a square conv kernel shape (k, k, c_in, n), got {tuple(shape)}.")
        if shape[3] != self.n_filters:
            raise ValueError(f"this Gabor bank has {self.n_filters} filters but the layer asks for {shape[3]} "
                             f"(kernel shape {tuple(shape)}); use Conv2D({self.n_filters}, ...).")
        bank = gabor_bank(int(shape[0]), self.n_orientations, self.wavelengths, self.phases, int(shape[2]),
                          self.dog_sigmas)
        return keras.ops.convert_to_tensor(bank, dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {"n_orientations": self.n_orientations, "wavelengths": list(self.wavelengths),
                "phases": list(self.phases), "dog_sigmas": list(self.dog_sigmas)}
