"""The recipe's numeric precision: which Keras dtype policy this machine trains fastest in."""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

__all__ = ["cpu_supports_bf16", "recipe_precision", "PRECISIONS"]

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def cpu_supports_bf16() -> bool:
    """True when this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16) that
    oneDNN uses for ``mixed_bfloat16``. Reads ``/proc/cpuinfo`` (Linux); False elsewhere.

    Without them (AVX2-only CPUs, most laptops) bfloat16 is emulated and no faster than float32,
    so the recipe stays in float32 there."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return any(f in flags.split() for f in ("amx_bf16", "avx512_bf16"))


def recipe_precision(requested: str = "auto") -> str:
    """The Keras dtype policy for the recipe.

    Args:
        requested: ``"auto"`` (default) picks ``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a
            CPU with bfloat16 instructions (:func:`cpu_supports_bf16`), else ``float32``; any other
            of :data:`PRECISIONS` is returned as it is.

    Raises:
        ValueError: ``requested`` is not one of :data:`PRECISIONS`.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}.")
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bf16() else "float32"
