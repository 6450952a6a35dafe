"""Exercise checks of notebook 15 (deploy, monitor, retrain)."""
from __future__ import annotations

import numpy as np

from labkit.checks import ExerciseError, call_answer, passed

__all__ = ["psi_from_fractions"]

_HINT_PSI = ("PSI = sum over bins of (q - p) * ln(q / p), where p are the reference fractions and q the "
             "current ones; floor both at eps before the log so empty bins do not give infinities; "
             "return one float.")


def _oracle(p: np.ndarray, q: np.ndarray, eps: float) -> float:
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_from_fractions(fn) -> None:
    """Check ``fn(p, q, eps=1e-4) -> float``: the population stability index of two histograms."""
    ex = "psi_from_fractions"
    cases = [
        (np.full(4, 0.25), np.full(4, 0.25)),
        (np.full(4, 0.25), np.array([0.4, 0.3, 0.2, 0.1])),
        (np.array([0.5, 0.5, 0.0]), np.array([0.2, 0.3, 0.5])),  # an empty reference bin
        (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.4, 0.3, 0.2, 0.1])),
    ]
    for p, q in cases:
        got = call_answer(ex, fn, "psi_from_fractions", (p.copy(), q.copy()), _HINT_PSI)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise ExerciseError(ex, f"returned {type(got).__name__}, expected one float.", _HINT_PSI) from None
        want = _oracle(p, q, 1e-4)
        if not np.isfinite(got):
            raise ExerciseError(ex, f"returned {got} for p={p.tolist()}, q={q.tolist()} (an empty bin?).",
                                _HINT_PSI)
        if not np.isclose(got, want, rtol=1e-6, atol=1e-9):
            raise ExerciseError(ex, f"for p={p.tolist()}, q={q.tolist()} you returned {got:.6f}, "
                                    f"expected {want:.6f}.", _HINT_PSI)
    passed(ex, "PSI is zero for identical histograms and grows with the shift")
