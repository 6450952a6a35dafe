"""labkit.repro.quiet_tensorflow: TensorFlow's and absl's logging below ERROR goes, and the few warnings
a learner cannot act on (``NOISY_WARNINGS``); errors and every other warning stay.

Run in a fresh process (the logging levels and warning filters it sets are process-wide):
the same messages are emitted before and after the call, and stderr says which came out.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    from absl import logging as absl_logging
    from labkit.repro import NOISY_WARNINGS, quiet_tensorflow

    def warn_from(module, text, category=UserWarning):
        # a warning issued by code of `module` (as Keras would issue it)
        exec("import warnings; warnings.warn(text, category)", {"__name__": module, "text": text,
                                                                 "category": category})

    def emit(tag):
        tf.get_logger().warning("tf-warning-" + tag)
        tf.get_logger().error("tf-error-" + tag)
        absl_logging.warning("absl-warning-" + tag)
        for i, (start, category) in enumerate(NOISY_WARNINGS):
            warn_from("keras.src.trainers", f"{start} noisy-{i}-{tag}", category)
        warn_from("keras.src.callbacks", "keras-other-warning-" + tag)
        warn_from("tensorflow.python.ops", "tensorflow-other-warning-" + tag)
        warn_from("learner_code", "learner-warning-" + tag)
        sys.stderr.flush()

    emit("before")
    quiet_tensorflow()
    emit("after")
    print(json.dumps(len(NOISY_WARNINGS)))
""")


@pytest.mark.multiprocess
def test_quiet_tensorflow_silences_logging_and_the_noisy_warnings_only(tmp_path):
    script = tmp_path / "quiet.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="default")
    run = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    err, n_noisy = run.stderr, int(run.stdout.strip().splitlines()[-1])
    assert n_noisy >= 1
    silenced = ["tf-warning", "absl-warning"] + [f"noisy-{i}" for i in range(n_noisy)]
    kept = ["tf-error", "keras-other-warning", "tensorflow-other-warning", "learner-warning"]
    # the probe sees every message before the call (so a silence after it means something)
    for kind in silenced + kept:
        assert f"{kind}-before" in err, f"{kind} was not visible even before quiet_tensorflow():\n{err}"
    for kind in silenced:
        assert f"{kind}-after" not in err, f"{kind} still shows after quiet_tensorflow()"
    for kind in kept:
        assert f"{kind}-after" in err, f"{kind} must still be shown after quiet_tensorflow()"
