"""The :class:`Dataset` that :func:`labkit.data.load` returns, and its stratified :meth:`~Dataset.subset`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labkit.validation import check_int

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    """A labelled image dataset.

    x_train: (n_train, H, W) or (n_train, H, W, 3) uint8; y_train: (n_train,) int64;
    likewise x_test/y_test. ``source`` says where the arrays came from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str
    notes: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
                f"classes={self.num_classes}, source={self.source!r})")

    def subset(self, n_train: int | None = None, n_test: int | None = None, *, seed: int = 0) -> "Dataset":
        """A reproducible, class-stratified random subset (``None`` keeps a split whole).

        Raises TypeError for a size or seed that is not an integer, ValueError for a
        size outside ``1 .. len(split)``.
        """
        seed = check_int(seed, "seed", min_val=0)
        return Dataset(self.name, *_take(self.x_train, self.y_train, n_train, seed, "n_train"),
                       *_take(self.x_test, self.y_test, n_test, seed + 1, "n_test"),
                       self.class_names, self.source, self.notes, self.extra)


def _take(x: np.ndarray, y: np.ndarray, n: int | None, seed: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return x, y
    n = check_int(n, name, min_val=1, max_val=len(y))
    if n == len(y):
        return x, y
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if n >= len(counts) and counts.min() >= 2 else None
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=seed, stratify=stratify)
    idx = np.sort(idx)
    return x[idx], y[idx]
