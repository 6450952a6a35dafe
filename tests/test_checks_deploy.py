"""Checks of notebook 15: the service client passes; each typical slip gets its hint."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from labkit.checks import ExerciseError, deploy
from labkit.serve import post_json


def client(url, images, *, scale=255.0, channel=True, key="classes", content_type="application/json",
           one_request=True, on_error="raise"):
    """A client for the prediction service; each keyword swaps in one typical slip."""
    x = images.astype("float32") / scale
    x = x[..., None] if channel else x
    batches = [x] if one_request else [x[i:i + 1] for i in range(len(x))]
    answers = []
    for batch in batches:
        request = urllib.request.Request(url + "/predict", data=json.dumps({"instances": batch.tolist()}).encode(),
                                         method="POST", headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(json.load(response))
        except urllib.error.HTTPError as err:
            if on_error == "pass-through":
                raise
            if on_error == "swallow":
                return np.zeros(len(images), int)
            if on_error == "bare":
                raise RuntimeError(f"request failed with status {err.code}") from None
            raise RuntimeError(f"the service refused the request ({err.code}): {json.load(err)['error']}") from None
    return np.concatenate([np.asarray(a[key]) for a in answers])


def placeholder(url, images):
    raise NotImplementedError()


def test_right_answer_passes_on_fresh_models(capsys):
    for seed in (0, 1, None):
        deploy.predict_digits(client, seed=seed)
    assert capsys.readouterr().out.count("correct") == 3


def _hard_coded(url, images):   # sends the request, then returns the classes it saw once
    client(url, images)
    return np.array([3, 1, 4, 1, 5, 9, 2, 6, 5][:len(images)])


@pytest.mark.parametrize("answer, words", [
    (None, "no answer yet"),
    (placeholder, "not written yet"),
    (lambda url, images: client(url, images, scale=1.0), "0, 1"),            # raw pixels: the service's 422
    (lambda url, images: client(url, images, scale=256.0), "other pixels"),
    (lambda url, images: client(url, images, channel=False), "shape"),
    (lambda url, images: client(url, images, key="outputs"), "logits"),
    (lambda url, images: client(url, images, content_type="text/plain"), "415|Content-Type"),
    (lambda url, images: client(url, images, one_request=False), "one request"),
    (lambda url, images: client(url, images, on_error="pass-through"), "HTTPError"),
    (lambda url, images: client(url, images, on_error="swallow"), "must raise"),
    (lambda url, images: client(url, images, on_error="bare"), "without the service's error message"),
    (lambda url, images: client(url, images).astype(float) + 0.5, "integer classes"),
    (lambda url, images: client(url, images).tolist()[:-1], "shape"),
    (_hard_coded, "not the service's answer"),
    (lambda url, images: np.zeros(len(images), int), "no request"),
    (lambda url, images: np.asarray(post_json(url + "/predict", {"instances": []})[1]["classes"]), "urllib"),
])
def test_wrong_answers_get_hints(answer, words):
    for seed in (2, None):
        with pytest.raises(ExerciseError, match=words) as err:
            deploy.predict_digits(answer, seed=seed)
        assert "Hint:" in str(err.value)


def test_exercise_cells_student_fails_solution_passes():
    from exercise_cells import assert_student_cells_fail_and_solutions_pass

    assert_student_cells_fail_and_solutions_pass("15_deploy_monitor_retrain.ipynb", "deploy",
                                                 {"json": json, "urllib": urllib}, min_exercises=1)
