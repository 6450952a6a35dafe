"""Exercise checks of notebook 13 (data quality and quantity)."""
from __future__ import annotations

import keras
import numpy as np
import scipy.special

from labkit.checks import (
    ExerciseError,
    call_answer,
    fresh_seed,
    numpy_warnings,
    overflow_warnings,
    passed,
    require_answer,
)

__all__ = ["top_loss_indices", "augmenter"]

_HINT = ("per-example loss = -log softmax(logits)[i, label_i]; compute log-softmax stably "
         "(subtract the row max, then log-sum-exp), then return the indices of the k largest losses, "
         "largest first, e.g. np.argsort(-loss)[:k].")
_STABLE_HINT = ("Never form exp(logits) or softmax and then take its log: with z = logits - logits.max(axis=1, "
                "keepdims=True), log_softmax = z - log(sum(exp(z), axis=1)) - exp(z) is at most 1 and the sum at "
                "least 1, so nothing overflows and no probability underflows to log(0).")


def _oracle(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    logp = scipy.special.log_softmax(logits.astype(np.float64), axis=1)
    return -logp[np.arange(len(labels)), labels]


def _loss_cases(rng) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(description, logits, labels, k): fresh cases of several sizes; most with some rows of logits in the
    hundreds (up to +-1000), where exp overflows and a softmax's small probabilities underflow to 0."""
    cases = []
    # first two cases with moderate logits only, so that an answer right there but wrong later is unstable
    for n, c, k, scale, huge in ((50, 10, 5, 3.0, 0), (7, 10, 7, 1.0, 0), (60, 10, 5, 3.0, 8),
                                 (200, 10, 20, 30.0, 30), (120, 10, 12, 5.0, 120), (30, 10, 1, 2.0, 4)):
        logits = rng.normal(size=(n, c)) * scale
        rows = rng.choice(n, huge, replace=False)
        logits[rows] = rng.normal(size=(huge, c)) * rng.uniform(300.0, 1000.0, size=(huge, 1))
        if huge:
            logits[rows[0], 0] = 1000.0   # at least one logit at 1000: np.exp overflows for certain
        cases.append((f"{n} examples, k={k}" + (f", {huge} rows of logits up to +-1000" if huge else ""),
                      logits, rng.integers(0, c, n), k))
    logits = (rng.normal(size=(64, 10)) * 400.0).astype(np.float32)  # as a model gives them
    cases.append(("64 examples as float32 logits up to +-1000, k=10", logits, rng.integers(0, 10, 64), 10))
    return cases


def _as_indices(got, n: int, k: int, where: str) -> np.ndarray:
    if got is None:
        raise ExerciseError(_EX, f"the function returned None {where}: did you forget `return`?", _HINT)
    if isinstance(got, (str, bytes)):
        raise ExerciseError(_EX, f"the function returned the string {got!r} {where}, not indices.", _HINT)
    arr = np.asarray(got)
    if arr.shape != (k,):
        raise ExerciseError(_EX, f"returned shape {arr.shape}, expected ({k},) for k={k} {where}.", _HINT)
    if arr.dtype.kind not in "iu":
        raise ExerciseError(_EX, f"returned dtype {arr.dtype} {where}; return integer indices.", _HINT)
    if arr.min() < 0 or arr.max() >= n:
        raise ExerciseError(_EX, f"index {int(arr.min() if arr.min() < 0 else arr.max())} is outside 0..{n - 1} "
                                 f"{where}.", _HINT)
    if len(np.unique(arr)) != k:
        raise ExerciseError(_EX, f"the answer repeats an index {where}.", _HINT)
    return arr.astype(np.int64)


_EX = "top_loss_indices"


def top_loss_indices(fn, *, seed: int | None = None) -> None:
    """Check ``fn(logits, labels, k) -> (k,) int array``: the k highest-loss examples, largest first.

    Each call draws fresh cases (``seed=None``: a new seed, named in any failure) of several sizes,
    most with rows of logits up to +-1000 and one in float32: an answer must be finite, raise no
    overflow / divide-by-zero warning, and rank by the exact losses. Ties do not occur (continuous
    random logits), so the answer is judged by its properties: the k largest losses, non-increasing.
    """
    ex = _EX
    seed = fresh_seed(seed)
    for case, logits, labels, k in _loss_cases(np.random.default_rng(seed)):
        big = bool(np.abs(logits).max() > 100)
        where = f"for {case} (seed={seed})"
        with numpy_warnings() as caught:
            got = call_answer(ex, fn, "top_loss_indices", (logits.copy(), labels.copy(), k),
                              _HINT + f" [It failed {where}.]")
        arr = _as_indices(got, len(labels), k, where)
        warned = overflow_warnings(caught)
        if warned:
            what = "log(0)" if "divide" in warned[0] else "overflow"
            raise ExerciseError(ex, f"NumPy warned {warned[0]!r} {where}: the loss is not computed stably "
                                    f"({what}: some losses are inf or nan, so the ranking is not reliable).",
                                _STABLE_HINT)
        loss = _oracle(logits, labels)
        kth = np.sort(loss)[::-1][k - 1]
        # round-off allowed in the student's losses: float64 logits give ~1e-13 of their size, float32 ~1e-7
        gap = (1e-9 if logits.dtype == np.float64 else 1e-6) * max(1.0, float(np.abs(logits).max()))
        unstable = big   # the cases with moderate logits only come first: they passed
        if np.any(loss[arr] < kth - gap):
            missed = np.setdiff1d(np.argsort(-loss, kind="stable")[:k], arr)
            i = int(missed[0]) if missed.size else int(arr[np.argmin(loss[arr])])
            raise ExerciseError(ex, f"the {k} indices are not the {k} largest losses {where}: row {i} has loss "
                                    f"{loss[i]:.4g}" + (", although the answers for moderate logits were right: "
                                                        "are your losses right for logits this large?"
                                                        if unstable else "") + ".",
                                _STABLE_HINT if unstable else _HINT)
        if np.any(np.diff(loss[arr]) > gap):
            raise ExerciseError(ex, f"the right examples, but not sorted from largest loss down {where}.",
                                _STABLE_HINT if unstable else _HINT)
    passed(ex, "the largest per-example losses, largest first, stable for logits up to 1000")


# --------------------------------------------------------------------------- augmentation as Keras layers
_AUG_HINT = ("Return keras.Sequential([keras.layers.RandomRotation(12 / 360, fill_mode=\"constant\"), "
             "keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode=\"constant\")]): Keras' factors are "
             "fractions - of a full turn for the rotation, of the image's height and width for the translation.")
_ROTATION, _SHIFT = 12 / 360, 2 / 28           # +-12 degrees, +-2 of 28 pixels: the lesson's ndimage augment
_FACTOR_RTOL = 0.2


def _factor(lower: float, upper: float) -> float:
    return max(abs(float(lower)), abs(float(upper)))


def _blobs(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 28, 28, 1) float32 in [0, 1]: one bright Gaussian blob near the centre of a dark image."""
    yy, xx = np.mgrid[:28, :28]
    out = np.empty((n, 28, 28, 1), dtype="float32")
    for i in range(n):
        cy, cx = 13.5 + rng.uniform(-1, 1, 2)
        sy, sx = rng.uniform(2.0, 4.0, 2)
        out[i, ..., 0] = np.exp(-((yy - cy) ** 2 / (2 * sy ** 2) + (xx - cx) ** 2 / (2 * sx ** 2)))
    return out


def _centre_of_mass(images: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[:images.shape[1], :images.shape[2]]
    mass = images[..., 0].sum(axis=(1, 2))
    return np.stack([(images[..., 0] * yy).sum(axis=(1, 2)) / mass, (images[..., 0] * xx).sum(axis=(1, 2)) / mass], 1)


def augmenter(fn, *, seed: int | None = None) -> None:
    """Exercise 1: ``fn()`` -> a Keras layer (usually a ``keras.Sequential``) that augments (N, 28, 28, 1) digits.

    Structure: a ``RandomRotation`` of about +-12 degrees and a ``RandomTranslation`` of about +-2 pixels
    (factors within 20 %), no flip. Behaviour, on fresh random images each call: unchanged with
    ``training=False``; with ``training=True`` the same shape and value range, images changed, the content
    moved by up to about 2 pixels - and moved at least once in the batch.
    """
    ex = "augmentation pipeline"
    require_answer(ex, fn, "augmenter", _AUG_HINT)
    try:
        aug = call_answer(ex, fn, "augmenter", (), _AUG_HINT)
    except ExerciseError as err:
        if "factor" in err.problem:
            raise ExerciseError(ex, err.problem, "Keras' factors are fractions, not degrees or pixels: "
                                "12 degrees is 12 / 360 of a turn, 2 pixels of 28 is 2 / 28.") from None
        raise
    if not isinstance(aug, keras.layers.Layer):
        raise ExerciseError(ex, f"augmenter() returned {type(aug).__name__}; return a Keras layer, e.g. "
                            "keras.Sequential([...]).", _AUG_HINT)
    found = list(getattr(aug, "layers", [aug]))
    kinds = {type(layer).__name__ for layer in found}
    if "RandomFlip" in kinds:
        raise ExerciseError(ex, "the pipeline flips images.", "A mirrored 2 is not a 2 (and a flipped 6 reads as "
                            "a 9): only use transformations that keep the label - here, small rotations and shifts.")
    rotations = [layer for layer in found if isinstance(layer, keras.layers.RandomRotation)]
    shifts = [layer for layer in found if isinstance(layer, keras.layers.RandomTranslation)]
    if not rotations or not shifts:
        missing = " and ".join(n for n, got in (("RandomRotation", rotations), ("RandomTranslation", shifts))
                               if not got)
        raise ExerciseError(ex, f"the pipeline has no {missing} layer (it has: {', '.join(sorted(kinds))}).",
                            _AUG_HINT)
    rotation = _factor(*rotations[0].factor)
    if not np.isclose(rotation, _ROTATION, rtol=_FACTOR_RTOL):
        why = (" - it looks like radians; Keras counts fractions of a full turn" if np.isclose(
            rotation, np.deg2rad(12), rtol=_FACTOR_RTOL) else "")
        raise ExerciseError(ex, f"RandomRotation's factor is {rotation:.4g}, i.e. +-{rotation * 360:.3g} degrees; "
                            f"the lesson rotates by +-12 degrees{why}.", _AUG_HINT)
    for axis in ("height", "width"):
        got = _factor(getattr(shifts[0], f"{axis}_lower"), getattr(shifts[0], f"{axis}_upper"))
        if not np.isclose(got, _SHIFT, rtol=_FACTOR_RTOL):
            raise ExerciseError(ex, f"RandomTranslation's {axis}_factor is {got:.4g}, i.e. +-{got * 28:.3g} "
                                "pixels of 28; the lesson shifts by +-2 pixels.", _AUG_HINT)

    seed = fresh_seed(seed)
    x = _blobs(np.random.default_rng(seed), 32)
    keras.utils.set_random_seed(seed % (2 ** 31))
    replay = f"(replay with checks.data_quality.augmenter(augmenter, seed={seed}))"
    try:
        at_test = np.asarray(keras.ops.convert_to_numpy(aug(x, training=False)))
        at_train = np.asarray(keras.ops.convert_to_numpy(aug(x, training=True)))
    except Exception as err:  # noqa: BLE001 - report the learner's error with the hint
        raise ExerciseError(ex, f"calling the pipeline on a batch of shape {x.shape} raised "
                            f"{type(err).__name__}: {err}", _AUG_HINT) from None
    if at_test.shape != x.shape or at_train.shape != x.shape:
        raise ExerciseError(ex, f"the pipeline changed the batch's shape {x.shape} to "
                            f"{at_train.shape if at_train.shape != x.shape else at_test.shape} {replay}.", _AUG_HINT)
    if not np.allclose(at_test, x, atol=1e-6):
        raise ExerciseError(ex, f"with training=False the images changed {replay}.",
                            "Augmentation is for training only: Keras' Random* layers pass images through "
                            "unchanged at inference, so evaluate() and predict() see the real images.")
    if at_train.min() < -1e-4 or at_train.max() > 1 + 1e-4:
        raise ExerciseError(ex, f"augmented values run from {at_train.min():.3g} to {at_train.max():.3g}; the "
                            f"images were in [0, 1] {replay}.", _AUG_HINT)
    moved = np.linalg.norm(_centre_of_mass(at_train) - _centre_of_mass(x), axis=1)
    changed = np.abs(at_train - x).max(axis=(1, 2, 3)) > 1e-3
    if changed.mean() < 0.5 or moved.max() < 0.5:
        raise ExerciseError(ex, f"with training=True only {changed.sum()} of {len(x)} images changed and the "
                            f"largest shift was {moved.max():.2f} pixels {replay}.", _AUG_HINT)
    if moved.max() > 2 * np.sqrt(2) + 0.75:
        raise ExerciseError(ex, f"an image's content moved by {moved.max():.1f} pixels; +-2 pixels in each "
                            f"direction is at most {2 * np.sqrt(2):.1f} {replay}.", _AUG_HINT)
    passed(ex, f"rotation +-{rotation * 360:.3g} degrees, shifts up to {moved.max():.2f} px on {len(x)} fresh "
               "images, identity at inference")
