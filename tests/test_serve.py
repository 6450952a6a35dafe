"""labkit.serve: a real HTTP round trip, 200 and 4xx answers, nothing left running, and abuse.

Every test talks to a real server on 127.0.0.1 through a real client (urllib, http.client or a
raw socket), so what is checked is what a client sees on the wire. Clients time out after a few
seconds: a server that hangs fails the test instead of hanging the suite.
"""
from __future__ import annotations

import http.client
import json
import math
import select
import selectors
import socket
import threading
import time

import numpy as np
import pytest

from labkit.serve import PredictionServer, RequestError, get_json, post_json, validate_instances

W = np.random.default_rng(0).normal(size=(6, 3))
OK_BODY = json.dumps({"instances": np.zeros((1, 2, 3)).tolist()}).encode()


def linear(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1) @ W


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _port(srv: PredictionServer) -> int:
    return int(srv.url.rsplit(":", 1)[1])


def _strict_json(data: bytes):
    """Decode as RFC 8259 JSON: NaN/Infinity (which Python's json accepts) fail the test."""
    def refuse(token):
        raise AssertionError(f"response body is not valid JSON: it contains {token}")
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def _exchange(port: int, raw: bytes, *, method: str = "POST", timeout: float = 3.0):
    """Send raw bytes, parse one HTTP response: (status, headers, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        return resp.status, resp.headers, resp.read()


def _post_raw(port: int, headers: dict, body: bytes = b"", *, path: str = "/predict", timeout: float = 3.0):
    head = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **headers}
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v is not None)
    return _exchange(port, f"POST {path} HTTP/1.1\r\n{lines}\r\n".encode() + body, timeout=timeout)


def _json_error(status, headers, body, want_status):
    assert status == want_status, (status, body[:200])
    assert headers["Content-Type"].startswith("application/json"), headers["Content-Type"]
    answer = _strict_json(body)
    assert isinstance(answer["error"], str) and answer["error"]
    return answer["error"]


# ----------------------------------------------------------------------------- the happy path
def test_round_trip_and_clean_shutdown():
    threads_before = set(threading.enumerate())
    x = np.random.default_rng(1).uniform(size=(4, 2, 3)).astype("float32")
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = _port(srv)
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


def test_keep_alive_connection_serves_several_requests():
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", _port(srv), timeout=3)
        try:
            for _ in range(3):
                conn.request("POST", "/predict", OK_BODY, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                assert resp.status == 200 and len(_strict_json(resp.read())["outputs"]) == 1
            conn.request("HEAD", "/health")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read() == b""
            assert int(resp.headers["Content-Length"]) > 0
            conn.request("GET", "/health")     # the stream is still in step after a HEAD
            assert conn.getresponse().status == 200
        finally:
            conn.close()


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("payload, status, words", [
    ({"instances": np.zeros((2, 3, 2)).tolist()}, 422, "shape [2, 3]"),
    ({"instances": np.zeros((2, 3)).tolist()}, 422, "batch list"),
    ({"instances": [[["a", "b", "c"], ["d", "e", "f"]]]}, 422, "strings"),
    ({"instances": [[[True, False, True], [True, True, True]]]}, 422, "booleans"),
    ({"instances": [[[0.5, 0.5, True], [0, 0, 0]]]}, 422, "booleans"),  # numpy would read True as 1.0
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
    assert arr.dtype == np.uint8 and arr.tolist() == [[0, 255]]


@pytest.mark.parametrize("instances, dtype, words", [
    ([[1e300, 0.0]], "float32", "float32"),       # finite as float64, inf once cast
    ([[70000.0, 0.0]], "float16", "float16"),
    ([[300, 0]], "uint8", "uint8"),               # would wrap to 44
    ([[-1, 0]], "uint8", "uint8"),
    ([[2**70, 0]], "int64", "64"),
    ([[1, True]], "int32", "booleans"),
    ([[float("inf"), 0.0]], "float64", "infinity"),
])
def test_values_the_model_dtype_cannot_hold_are_refused(instances, dtype, words):
    with pytest.raises(RequestError, match=words) as err:
        validate_instances({"instances": instances}, (2,), dtype=dtype, value_range=None)
    assert err.value.status == 422


def test_overflow_after_cast_over_http():
    """JSON 1e300 is a finite float64 and inf as float32: refused, not passed on as inf."""
    seen = []
    with PredictionServer(lambda x: seen.append(x) or x, input_shape=(2,), value_range=None) as srv:
        status, body = post_json(srv.url + "/predict", data=b'{"instances": [[1e300, 0]]}')
        assert status == 422 and "float32" in body["error"]
        status, body = post_json(srv.url + "/predict", data=b'{"instances": [[1e400, 0]]}')
        assert status == 422 and "infinity" in body["error"]
    assert seen == [], "the model saw a non-finite input"


def test_model_error_is_a_500_not_a_crash():
    def broken(x):
        raise RuntimeError("boom")

    with PredictionServer(broken, input_shape=(2,)) as srv:
        status, body = post_json(srv.url + "/predict", {"instances": [[0.1, 0.2]]})
        assert status == 500 and "boom" in body["error"]
        assert get_json(srv.url + "/health")[0] == 200


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_model_output_is_a_json_500(bad):
    def nan_model(x):
        out = np.zeros((len(x), 3))
        out[-1, 1] = bad
        return out

    with PredictionServer(nan_model, input_shape=(2,)) as srv:
        body = b'{"instances": [[0, 0], [0, 0]]}'
        status, headers, answer = _post_raw(_port(srv), {"Content-Length": len(body)}, body)
        error = _json_error(status, headers, answer, 500)
        assert "non-finite" in error and "[1]" in error, error


# ----------------------------------------------------------------------------- abuse: the body
@pytest.mark.parametrize("length, status", [
    (None, 411),          # missing
    ("-1", 400),          # used to mean "read until the client closes": no cap at all
    ("abc", 400),
    ("1e3", 400),
    ("+40", 400),
    ("0x20", 400),
    ("4097", 413),        # over the 4 KiB cap of this server
    ("99999999999999999999999999", 413),
])
def test_content_length_cannot_bypass_the_body_cap(length, status):
    big = b'{"instances": [[0.1, 0.2]]}' + b" " * 8000   # 8 kB: over the cap
    with PredictionServer(linear, input_shape=(2, 3), max_body_bytes=4096) as srv:
        # the client sends the whole body and waits: the answer must come without reading it all
        got = _post_raw(_port(srv), {"Content-Length": length}, big)
        _json_error(*got, status)
        assert post_json(srv.url + "/predict", data=OK_BODY)[0] == 200


def test_chunked_and_conflicting_lengths_are_refused():
    chunk = b"1b\r\n" + OK_BODY[:27] + b"\r\n0\r\n\r\n"
    with PredictionServer(linear, input_shape=(2, 3), max_body_bytes=4096) as srv:
        port = _port(srv)
        _json_error(*_post_raw(port, {"Transfer-Encoding": "chunked"}, chunk), 411)
        _json_error(*_post_raw(port, {"Transfer-Encoding": "chunked", "Content-Length": 27}, chunk), 400)
        raw = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(OK_BODY)}\r\nContent-Length: 5\r\n\r\n").encode() + OK_BODY
        _json_error(*_exchange(port, raw), 400)


def test_a_client_that_sends_an_oversized_body_in_full_still_reads_the_413():
    """The server answers before reading, then drains: the client's send is not cut by a reset."""
    body = b" " * 6 * 2**20    # more than loopback buffers hold: without draining, the send fails
    with PredictionServer(linear, input_shape=(2, 3), max_body_bytes=4096) as srv:
        _json_error(*_post_raw(_port(srv), {"Content-Length": len(body)}, body), 413)


def test_expect_100_continue_gets_the_refusal_instead_of_continue():
    with PredictionServer(linear, input_shape=(2, 3), max_body_bytes=4096) as srv:
        port = _port(srv)
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                      "Content-Length: 99999\r\nExpect: 100-continue\r\n\r\n".encode())
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            _json_error(resp.status, resp.headers, resp.read(), 413)
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(OK_BODY)}\r\nExpect: 100-continue\r\n\r\n".encode())
            assert s.recv(25).startswith(b"HTTP/1.1 100 ")
            s.sendall(OK_BODY)
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            assert resp.status == 200 and len(_strict_json(resp.read())["outputs"]) == 1


def test_truncated_body_gets_an_answer():
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        with socket.create_connection(("127.0.0.1", _port(srv)), timeout=3) as s:
            s.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{_port(srv)}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inst".encode())
            s.shutdown(socket.SHUT_WR)
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            error = _json_error(resp.status, resp.headers, resp.read(), 400)
        assert "100" in error


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"instances": ' + b"[" * 50 + b"0" + b"]" * 50 + b"}",
                                  b'{"instances": [[0, 0]], "x": ' + b"{\"a\": " * 30 + b"1" + b"}" * 30 + b"}"])
def test_deep_nesting_is_refused_before_parsing(body):
    with PredictionServer(linear, input_shape=(2,)) as srv:
        error = _json_error(*_post_raw(_port(srv), {"Content-Length": len(body)}, body), 400)
        assert "nest" in error
        assert get_json(srv.url + "/health")[0] == 200


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = b'{"instances": [[0.1, 0.2]], "note": "[[[[[[ \\" [[[[[[[[ \\\\"}'
    assert json.loads(body)["note"] == '[[[[[[ " [[[[[[[[ \\'
    with PredictionServer(lambda x: x, input_shape=(2,)) as srv:
        got = _post_raw(_port(srv), {"Content-Length": len(body)}, body)
        assert got[0] == 200, got[2]
        many = b'{"instances": [' + b'["a"], ' * 60_000 + b"[0]]}"
        assert "strings" in _json_error(*_post_raw(_port(srv), {"Content-Length": len(many)}, many), 422)


def test_recursion_error_is_caught_even_without_the_depth_limit():
    srv = PredictionServer(linear, input_shape=(2,))
    srv.max_depth = 10**9       # pretend the pre-scan let it through
    status, answer = srv.handle_predict(b"[" * 100_000)
    assert status == 400 and "nest" in answer["error"]


# ----------------------------------------------------------------------------- abuse: headers
@pytest.mark.parametrize("ctype, status", [
    ("text/plain", 415),                          # what a cross-origin <form> or fetch() can send
    ("application/x-www-form-urlencoded", 415),
    (None, 415),
    ("application/json; charset=latin-1", 415),
    ("application/json; charset=UTF-8", 200),
    ("Application/JSON", 200),
])
def test_only_json_bodies_are_accepted(ctype, status):
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        got = _post_raw(_port(srv), {"Content-Type": ctype, "Content-Length": len(OK_BODY),
                                     "Origin": "http://evil.example"}, OK_BODY)
        if status == 200:
            assert got[0] == 200 and len(_strict_json(got[2])["outputs"]) == 1
        else:
            assert "application/json" in _json_error(*got, status)
        assert "Access-Control-Allow-Origin" not in got[1]


@pytest.mark.parametrize("host, status", [
    ("evil.example:{port}", 421),        # DNS rebinding: a browser sends the attacker's name
    ("127.0.0.1:1", 421),
    ("127.0.0.1", 421),
    (None, 400),
    ("localhost:{port}", 200),
    ("127.0.0.1:{port}", 200),
])
def test_host_header_must_name_this_server(host, status):
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = _port(srv)
        h = None if host is None else host.format(port=port)
        got = _post_raw(port, {"Host": h, "Content-Length": len(OK_BODY)}, OK_BODY)
        if status == 200:
            assert got[0] == 200
        else:
            _json_error(*got, status)
        raw = f"GET /health HTTP/1.1\r\n{'' if h is None else f'Host: {h}'}\r\n\r\n".encode()
        assert _exchange(port, raw, method="GET")[0] == status


@pytest.mark.parametrize("raw, method, status", [
    (b"OPTIONS /predict HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\n"
     b"Access-Control-Request-Method: POST\r\n\r\n", "OPTIONS", 405),
    (b"DELETE /predict HTTP/1.1\r\nHost: {host}\r\n\r\n", "DELETE", 405),
    (b"BREW /pot HTTP/1.1\r\nHost: {host}\r\n\r\n", "BREW", 405),
    (b"\x00\x01\x02 garbage\r\n\r\n", "GET", 400),
    (b"GET /health\r\n", "GET", 400),                                   # HTTP/0.9: no status line
    (b"GET /health HTTP/2.0\r\nHost: {host}\r\n\r\n", "GET", 505),
    (b"GET /health HTTP/x\r\nHost: {host}\r\n\r\n", "GET", 400),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", "GET", 414),
    (b"GET /health HTTP/1.1\r\nHost: {host}\r\n" + b"X: 1\r\n" * 120 + b"\r\n", "GET", 431),
    (b"GET /health HTTP/1.1\r\nHost: {host}\r\nX: " + b"a" * 70000 + b"\r\n\r\n", "GET", 431),
])
def test_every_error_is_a_json_answer(raw, method, status):
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = _port(srv)
        _json_error(*_exchange(port, raw.replace(b"{host}", f"127.0.0.1:{port}".encode()), method=method), status)
        assert get_json(srv.url + "/health")[0] == 200


def test_head_has_headers_and_no_body():
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = _port(srv)
        for path, status in [("/health", 200), ("/nope", 404)]:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
                raw = b""
                while chunk := s.recv(65536):
                    raw += chunk
            head, _, rest = raw.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Content-Type: application/json" in head
            assert rest == b"", f"HEAD answered with a body: {rest[:60]!r}"


# ----------------------------------------------------------------------------- abuse: load
def _many_clients(port: int, n: int, request: bytes, timeout: float) -> dict[str, int]:
    """Open ``n`` connections at once, send ``request`` on each, read to EOF; count outcomes."""
    sel = selectors.DefaultSelector()
    outcome = {"ok": 0, "reset": 0, "other": 0, "timeout": 0}
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, bytearray())
    end = time.monotonic() + timeout
    pending = n
    while pending and time.monotonic() < end:
        for key, ev in sel.select(timeout=0.1):
            s, buf = key.fileobj, key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    s.sendall(request)
                    sel.modify(s, selectors.EVENT_READ, buf)
                    continue
                chunk = s.recv(65536)
                if chunk:
                    buf += chunk
                    continue
                outcome["ok" if buf.startswith(b"HTTP/1.1 200 ") else "other"] += 1
            except ConnectionResetError:
                outcome["reset"] += 1
            except OSError:
                outcome["other"] += 1
            sel.unregister(s)
            pending -= 1
    outcome["timeout"] = pending
    for s in socks:
        s.close()
    sel.close()
    return outcome


def test_200_simultaneous_clients_are_all_answered():
    before = threading.active_count()
    with PredictionServer(linear, input_shape=(2, 3)) as srv:
        port = _port(srv)
        request = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(OK_BODY)}\r\nConnection: close\r\n\r\n").encode() + OK_BODY
        outcome = _many_clients(port, 200, request, timeout=5)
        peak = srv.max_connections + 1
    assert outcome == {"ok": 200, "reset": 0, "other": 0, "timeout": 0}
    assert srv.requests_served == 200
    assert threading.active_count() == before, f"threads left after stop(), peak allowed {peak}"


def _slow_clients(port: int, n: int) -> list[socket.socket]:
    """``n`` clients that send half a request and then nothing."""
    head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(OK_BODY)}\r\n\r\n").encode() + OK_BODY[:10]
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(head)
        socks.append(s)
    return socks


def test_slow_clients_hold_a_bounded_number_of_threads_for_a_bounded_time():
    before = threading.active_count()
    srv = PredictionServer(linear, input_shape=(2, 3), request_timeout=0.5, max_connections=16).start()
    port = _port(srv)
    slow = _slow_clients(port, 70)
    try:
        time.sleep(0.2)
        held = threading.active_count() - before
        assert held <= 16 + 1, f"{held} threads for 70 slow clients"   # handlers + the accept loop
        t0 = time.monotonic()
        status, _ = post_json(srv.url + "/predict", data=OK_BODY, timeout=8)
        waited = time.monotonic() - t0
        assert status == 200
        assert waited < 4.0, f"a normal client waited {waited:.1f} s behind 70 slow ones"
        slow[0].settimeout(3)
        resp = http.client.HTTPResponse(slow[0], method="POST")
        resp.begin()                    # the slow client was answered 408 before being dropped
        _json_error(resp.status, resp.headers, resp.read(), 408)
    finally:
        srv.stop()
        for s in slow:
            s.close()
    assert threading.active_count() == before


def test_a_trickling_client_is_cut_at_the_request_deadline():
    """One byte every 0.1 s never trips a per-read timeout; the whole-request deadline cuts it."""
    with PredictionServer(linear, input_shape=(2, 3), request_timeout=0.6) as srv:
        data = f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{_port(srv)}\r\nX-Pad: ".encode() + b"a" * 200
        reply = b""
        with socket.create_connection(("127.0.0.1", _port(srv)), timeout=3) as s:
            t0 = time.monotonic()
            for byte in data:
                try:
                    s.sendall(bytes([byte]))
                    if select.select([s], [], [], 0.1)[0]:
                        chunk = s.recv(4096)
                        reply += chunk
                        if not chunk or b"}" in reply:
                            break
                except OSError:
                    break
            elapsed = time.monotonic() - t0
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:80]
        assert elapsed < 1.5, f"the trickling client was held {elapsed:.1f} s (deadline 0.6 s)"


def test_stop_ends_every_thread_even_with_clients_connected():
    before = threading.active_count()
    srv = PredictionServer(linear, input_shape=(2, 3), request_timeout=30).start()
    slow = _slow_clients(_port(srv), 70)
    try:
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.stop()
        took = time.monotonic() - t0
    finally:
        for s in slow:
            s.close()
    assert threading.active_count() == before, f"{threading.active_count() - before} threads alive after stop()"
    assert took < 3.0, f"stop() took {took:.1f} s"
    assert not srv.running


def test_ipv6_loopback_and_its_host_header():
    try:
        srv = PredictionServer(linear, input_shape=(2, 3), host="::1").start()
    except OSError as err:
        pytest.skip(f"no IPv6 loopback here: {err}")
    try:
        assert srv.url.startswith("http://[::1]:")
        assert get_json(srv.url + "/health")[0] == 200
        assert post_json(srv.url + "/predict", data=OK_BODY)[0] == 200
    finally:
        srv.stop()


# ----------------------------------------------------------------------------- the constructor
@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(predict=None), TypeError, "callable"),
    (dict(input_shape=(-1,)), ValueError, "input_shape"),
    (dict(input_shape=(0, 2)), ValueError, "input_shape"),
    (dict(input_shape=(2.5,)), TypeError, "input_shape"),
    (dict(input_shape="28"), TypeError, "input_shape"),
    (dict(max_batch=-1), ValueError, "max_batch"),
    (dict(max_batch=True), TypeError, "max_batch"),
    (dict(max_body_bytes=0), ValueError, "max_body_bytes"),
    (dict(value_range=(1.0, 0.0)), ValueError, "value_range"),
    (dict(value_range=(0.0, math.nan)), ValueError, "value_range"),
    (dict(value_range=("0", 1)), TypeError, "value_range"),
    (dict(value_range=(0, 1, 2)), ValueError, "value_range"),
    (dict(dtype="bool"), ValueError, "dtype"),
    (dict(dtype="U3"), ValueError, "dtype"),
    (dict(host="0.0.0.0"), ValueError, "loopback"),
    (dict(port=70000), ValueError, "port"),
    (dict(request_timeout=0), ValueError, "request_timeout"),
    (dict(max_connections=0), ValueError, "max_connections"),
    (dict(backlog=0), ValueError, "backlog"),
    (dict(outputs_are_logits=1), TypeError, "outputs_are_logits"),
])
def test_constructor_validation(kwargs, exc, words):
    args = {"predict": linear, "input_shape": (2,), **kwargs}
    with pytest.raises(exc, match=words):
        PredictionServer(args.pop("predict"), **args)


def test_url_needs_a_running_server():
    srv = PredictionServer(linear, input_shape=(2,))
    with pytest.raises(RuntimeError, match="not running"):
        _ = srv.url
