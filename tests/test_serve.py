"""labkit.serve: a real HTTP round trip, 200 and 4xx answers, nothing left running."""
from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from labkit.serve import PredictionServer, RequestError, get_json, post_json, validate_instances

W = np.random.default_rng(0).normal(size=(6, 3))


def linear(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1) @ W


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_round_trip_and_clean_shutdown():
    threads_before = set(threading.enumerate())
    x = np.random.default_rng(1).uniform(size=(4, 2, 3)).astype("float32")
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        assert srv.running and _port_open(port)
        status, health = get_json(srv.url + "/health")
        assert status == 200 and health["input_shape"] == [2, 3]
        status, body = post_json(srv.url + "/predict", {"instances": x.tolist()})
        assert status == 200
        expected = linear(x)
        np.testing.assert_allclose(body["outputs"], expected, rtol=1e-6)
        assert body["classes"] == expected.argmax(1).tolist()
        assert srv.requests_served == 1
    assert not srv.running
    assert not _port_open(port), "the port still accepts connections after the with block"
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == [], f"threads left running: {leftover}"


@pytest.mark.parametrize("payload, status, words", [
    ({"instances": np.zeros((2, 3, 2)).tolist()}, 422, "shape [2, 3]"),
    ({"instances": np.zeros((2, 3)).tolist()}, 422, "batch list"),
    ({"instances": [[["a", "b", "c"], ["d", "e", "f"]]]}, 422, "strings"),
    ({"instances": [[[True, False, True], [True, True, True]]]}, 422, "booleans"),
    ({"instances": [[[0, 0, None], [0, 0, 0]]]}, 422, "null"),
    ({"instances": [[[0, 0], [0, 0, 0]]]}, 422, "ragged"),
    ({"instances": [[[0, 0, 0], [0, 0, 255]]]}, 422, "1/255"),
    ({"instances": [[[0, 0, -0.5], [0, 0, 0]]]}, 422, "[0.0, 1.0]"),
    ({"instances": []}, 400, "non-empty"),
    ({"inputs": [1]}, 400, '"instances"'),
    ([1, 2, 3], 400, '"instances"'),
])
def test_bad_requests_get_4xx_with_a_clear_message(payload, status, words):
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        got, body = post_json(srv.url + "/predict", payload)
        assert got == status, body
        assert words in body["error"]
        # the server is still alive after a bad request
        ok, _ = post_json(srv.url + "/predict", {"instances": np.zeros((1, 2, 3)).tolist()})
        assert ok == 200


def test_malformed_json_nan_path_method_and_size():
    with PredictionServer(linear, input_shape=(2, 3), max_batch=2) as srv:
        assert post_json(srv.url + "/predict", data=b"{not json")[0] == 400
        assert post_json(srv.url + "/predict", data=b"\xff\xfe")[0] == 400
        nan_body = b'{"instances": [[[NaN, 0, 0], [0, 0, 0]]]}'
        status, body = post_json(srv.url + "/predict", data=nan_body)
        assert status == 422 and "NaN" in body["error"]
        assert post_json(srv.url + "/predict", {"instances": np.zeros((3, 2, 3)).tolist()})[0] == 413
        assert post_json(srv.url + "/other", {"instances": []})[0] == 404
        assert get_json(srv.url + "/predict")[0] == 404


def test_integer_dtype_rejects_floats():
    with pytest.raises(RequestError, match="integers") as err:
        validate_instances({"instances": [[0.5, 1.0]]}, (2,), dtype="uint8", value_range=(0, 255))
    assert err.value.status == 422
    arr = validate_instances({"instances": [[0, 255]]}, (2,), dtype="uint8", value_range=(0, 255))
    assert arr.dtype == np.uint8


def test_model_error_is_a_500_not_a_crash():
    def broken(x):
        raise RuntimeError("boom")

    with PredictionServer(broken, input_shape=(2,)) as srv:
        status, body = post_json(srv.url + "/predict", {"instances": [[0.1, 0.2]]})
        assert status == 500 and "boom" in body["error"]
        assert get_json(srv.url + "/health")[0] == 200


def test_constructor_validation():
    with pytest.raises(ValueError, match="callable"):
        PredictionServer(None, input_shape=(2,))
    with pytest.raises(ValueError, match="loopback"):
        PredictionServer(linear, input_shape=(2,), host="0.0.0.0")
    srv = PredictionServer(linear, input_shape=(2,))
    with pytest.raises(RuntimeError, match="not running"):
        srv.url

