"""labkit: the helper package of the *Neural Networks in Practice* workbook.

Import it before TensorFlow/Keras in a notebook: it quietens TensorFlow's C++ and
Python logging (which must be configured before TensorFlow is imported).

Public entry points::

    import labkit
    cfg = labkit.settings("mnist")      # sizes, epochs and bars of the active profile
    labkit.seed_everything(0)           # Python, NumPy, TF/Keras seeds + op determinism
    labkit.record("mnist.cnn.test_accuracy", 0.991)

Sub-modules: ``data`` and ``download``, ``registry``, ``profiles``, ``validation``, ``models``,
``recipe`` (the fast CIFAR-10 recipe), ``training`` and ``progress`` (the live progress line),
``callbacks``, ``optim``, ``metrics`` (``reports``, ``evaluation``, ``scores``), ``diagnose``,
``curves``, ``errors``, ``plots``, ``interpret``, ``flops``, ``imbalance``, ``monitor``,
``serve``, ``synth``, ``landscape``, ``filters``, ``processes`` and ``netns`` (supervised child
processes in a private network), ``cluster`` (local TensorFlow clusters), ``distribute``,
``tuning``, ``scratch``, ``checks``; authoring tools ``student``, ``nbtools``, ``runbook``,
``workspace`` and ``outputs`` (the rule they share for writing files); ``lessons`` (the note a
failed lesson's assert carries in a notebook).
"""
from __future__ import annotations

import os as _os

# Must happen before TensorFlow is imported anywhere in the process.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from labkit.lessons import note_failed_lessons as _note_failed_lessons  # noqa: E402
from labkit.profiles import active_profile, settings  # noqa: E402
from labkit.repro import seed_everything  # noqa: E402
from labkit.results import record, recorded, stored_benchmark  # noqa: E402

_note_failed_lessons()   # in a kernel, a failed lesson's assert says so (labkit.lessons); elsewhere nothing

__all__ = ["active_profile", "settings", "seed_everything", "record", "recorded", "stored_benchmark"]
__version__ = "0.1.0"
