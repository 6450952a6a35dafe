"""Reproducibility: one call seeds everything and makes TensorFlow ops deterministic.

:func:`seed_everything` is ``keras.utils.set_random_seed`` (which seeds Python's
``random``, NumPy and the backend) plus what Keras leaves to the caller: the seed from
``LABKIT_SEED``, pinned thread pools and ``enable_op_determinism``.

Not seeded: Python's ``str`` hashing (``set`` iteration order). ``PYTHONHASHSEED`` only
takes effect when an interpreter starts, so setting it from a running kernel does
nothing; nothing in the workbook depends on it - set it before starting Jupyter if
your own code does.
"""
from __future__ import annotations

import logging
import os
import re
import warnings

from labkit.validation import check_bool, check_int

_THREADS_ENV = "LABKIT_THREADS"
_SEED_ENV = "LABKIT_SEED"


def _thread_count() -> int:
    raw = os.environ.get(_THREADS_ENV)
    if raw is None:
        return os.cpu_count() or 1
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{_THREADS_ENV}={raw!r} is not an integer; set it to a positive "
                         "number of threads or unset it to use every core.") from None
    if n < 1:
        raise ValueError(f"{_THREADS_ENV} must be >= 1, got {n}.")
    return n


def _env_seed() -> int:
    raw = os.environ.get(_SEED_ENV, "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{_SEED_ENV}={raw!r} is not an integer; set it to a seed in [0, 2**32) "
                         "or unset it for seed 0.") from None


# Warnings Keras/TensorFlow give in these labs that a learner cannot act on: (the start
# of the message, category). Every other warning is shown - e.g. EarlyStopping's "Early
# stopping conditioned on metric ... which is not available".
NOISY_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # KerasTuner reloads a trial's weights into a model whose optimizer was never built:
    # the weights load, only the optimizer state (unused for prediction) is skipped.
    ("Skipping variable loading for optimizer", UserWarning),
    # fit()'s default is shuffle=True, so every fit on a tf.data pipeline says it ignores it.
    ("`shuffle=True` was passed, but will be ignored since the data `x` was provided as", UserWarning),
)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's absl/Python logging below ERROR and the few warnings in
    :data:`NOISY_WARNINGS` (C++ logs are silenced by ``TF_CPP_MIN_LOG_LEVEL``, set when
    labkit is imported). Other warnings from Keras and TensorFlow are still shown."""
    # Local on purpose: labkit/__init__.py imports this module and `import labkit` must not load TensorFlow.
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TF
        pass
    for start, category in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(start), category=category)


def seed_everything(seed: int | None = None, *, deterministic: bool = True) -> int:
    """Seed Python, NumPy and Keras/TensorFlow (``keras.utils.set_random_seed``) and (by
    default) make TF ops deterministic.

    ``seed=None`` takes the seed from ``LABKIT_SEED`` (default 0), so a lesson can be
    re-run under other seeds without editing the notebook.

    On a CPU the same seed gives bit-identical training **at a fixed thread count**, so
    the thread pools are pinned too: ``LABKIT_THREADS`` (default: every core of this
    machine) intra-op threads and one inter-op thread. Call it once, at the top of a
    notebook, before building any model. Returns the seed.
    """
    source = "seed"
    if seed is None:
        seed, source = _env_seed(), _SEED_ENV
    seed = check_int(seed, "seed")
    if not 0 <= seed < 2**32:
        raise ValueError(f"{source} must be in [0, 2**32), got {seed}.")
    deterministic = check_bool(deterministic, "deterministic")
    # Local on purpose: labkit/__init__.py imports this module and `import labkit` must not load TensorFlow.
    import keras
    import tensorflow as tf

    quiet_tensorflow()
    threads = _thread_count()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # The runtime is already initialised: threads stay as they were. Numbers are
        # still reproducible as long as the thread count does not change between runs.
        pass
    keras.utils.set_random_seed(seed)  # Python's random, NumPy and the backend
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return seed
