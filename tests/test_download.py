"""labkit.download: one verified, atomic download, tested against a real HTTP server on 127.0.0.1.

What is checked is what a caller relies on: the file lands whole and verified or not at
all (``dest`` untouched, no temporary file beside it), every error names the URL and the
path, the size cap holds whether or not the server announces a length, and offline
means no request is made.
"""
from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from labkit.download import ChecksumError, DownloadError, download, is_offline, sha256_file

PAYLOAD = bytes(range(256)) * 64   # 16 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def site():
    """A server with a few misbehaving routes; yields (base URL, list of paths requested)."""
    hits: list[str] = []
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            route = self.path.split("/")[1]
            if route == "file":            # a well-behaved answer
                self._head(200, len(PAYLOAD))
                self.wfile.write(PAYLOAD)
            elif route == "nolength":      # no Content-Length: the body ends when the connection does
                self._head(200, None)
                for _ in range(64):
                    self.wfile.write(PAYLOAD)
            elif route == "short":         # announces more than it sends, then hangs up
                self._head(200, len(PAYLOAD) + 100)
                self.wfile.write(PAYLOAD)
            elif route == "stall":         # sends half, then nothing
                self._head(200, len(PAYLOAD))
                self.wfile.write(PAYLOAD[:1000])
                self.wfile.flush()
                release.wait(10)
            else:
                self._head(404, 0)

        def _head(self, status, length):
            self.send_response(status)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def online(monkeypatch):
    monkeypatch.delenv("LABKIT_OFFLINE", raising=False)


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ----------------------------------------------------------------------------- success
def test_verified_file_lands_in_a_new_folder_and_nothing_else(site, tmp_path):
    url, hits = site
    dest = tmp_path / "a" / "b" / "data.bin"
    assert download(f"{url}/file/data.bin", dest, sha256=SHA, size=len(PAYLOAD)) == dest
    assert dest.read_bytes() == PAYLOAD and sha256_file(dest) == SHA
    assert _left_in(dest.parent) == ["data.bin"]
    assert hits == ["/file/data.bin"]


def test_verify_sees_the_whole_file_with_its_extension_before_it_is_in_place(site, tmp_path):
    url, _ = site
    dest = tmp_path / "weights.h5"
    seen = {}

    def verify(tmp: Path):
        seen.update(name=tmp.name, data=tmp.read_bytes(), dest_exists=dest.exists(), folder=tmp.parent)

    download(f"{url}/file/w", dest, verify=verify)
    assert seen["data"] == PAYLOAD and not seen["dest_exists"] and seen["folder"] == tmp_path
    assert seen["name"].startswith(".weights.h5.") and seen["name"].endswith(".part.h5")


def test_an_existing_file_is_replaced_only_by_a_verified_one(site, tmp_path):
    url, _ = site
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"old")
    with pytest.raises(ChecksumError):
        download(f"{url}/file/x", dest, sha256="0" * 64)
    assert dest.read_bytes() == b"old"
    download(f"{url}/file/x", dest, sha256=SHA)
    assert dest.read_bytes() == PAYLOAD and _left_in(tmp_path) == ["data.bin"]


# ----------------------------------------------------------------------------- refusals
def test_wrong_sha256_names_url_and_path_and_leaves_nothing(site, tmp_path):
    url, _ = site
    dest = tmp_path / "data.bin"
    with pytest.raises(ChecksumError, match=f"SHA-256 {SHA}, expected {'0' * 64}") as err:
        download(f"{url}/file/data.bin", dest, sha256="0" * 64)
    assert f"{url}/file/data.bin" in str(err.value) and str(dest) in str(err.value)
    assert _left_in(tmp_path) == []


def test_wrong_size_is_a_checksum_error(site, tmp_path):
    url, _ = site
    with pytest.raises(ChecksumError, match=f"gave {len(PAYLOAD):,} bytes, expected {len(PAYLOAD) + 1:,}"):
        download(f"{url}/file/x", tmp_path / "x", size=len(PAYLOAD) + 1)
    assert _left_in(tmp_path) == []


def test_http_error_names_url_and_path(site, tmp_path):
    url, _ = site
    dest = tmp_path / "x"
    with pytest.raises(DownloadError, match="404") as err:
        download(f"{url}/missing/x", dest)
    assert isinstance(err.value, OSError)
    assert f"{url}/missing/x" in str(err.value) and str(dest) in str(err.value)
    assert _left_in(tmp_path) == []


def test_announced_length_over_the_cap_is_refused_before_reading(site, tmp_path):
    url, _ = site
    with pytest.raises(DownloadError, match=f"announces {len(PAYLOAD):,} bytes, over the 1,000-byte limit"):
        download(f"{url}/file/x", tmp_path / "x", max_bytes=1000)
    with pytest.raises(DownloadError, match="over the"):   # size is a cap too
        download(f"{url}/file/x", tmp_path / "x", size=len(PAYLOAD) - 1)
    assert _left_in(tmp_path) == []


def test_unannounced_body_over_the_cap_stops_reading(site, tmp_path):
    url, _ = site
    with pytest.raises(DownloadError, match="longer than the 20,000-byte limit; stopped reading"):
        download(f"{url}/nolength/x", tmp_path / "x", max_bytes=20_000)
    assert _left_in(tmp_path) == []
    dest = download(f"{url}/nolength/x", tmp_path / "x")   # under the default cap it is accepted
    assert dest.stat().st_size == 64 * len(PAYLOAD)


def test_body_shorter_than_announced_is_refused(site, tmp_path):
    url, _ = site
    with pytest.raises(DownloadError, match=f"ended after {len(PAYLOAD):,} of the {len(PAYLOAD) + 100:,} bytes"):
        download(f"{url}/short/x", tmp_path / "x")
    assert _left_in(tmp_path) == []


def test_stalled_server_times_out(site, tmp_path):
    url, _ = site
    with pytest.raises(DownloadError, match="timed out") as err:
        download(f"{url}/stall/x", tmp_path / "x", timeout=0.5)
    assert f"{url}/stall/x" in str(err.value)
    assert _left_in(tmp_path) == []


def test_unreachable_server_is_a_download_error(tmp_path):
    import socket

    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=f"127.0.0.1:{port}/x"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=2)
    assert _left_in(tmp_path) == []


@pytest.mark.parametrize("raised", [ValueError("not a weights file"), KeyboardInterrupt()])
def test_failing_verify_is_passed_on_and_leaves_nothing(site, tmp_path, raised):
    url, _ = site

    def verify(tmp: Path):
        raise raised

    with pytest.raises(type(raised)) as err:
        download(f"{url}/file/x", tmp_path / "x", verify=verify)
    assert err.value is raised
    assert _left_in(tmp_path) == []


# ----------------------------------------------------------------------------- offline
@pytest.mark.parametrize("value", ["1", "true", "YES", " 1 "])
def test_labkit_offline_means_no_request(site, tmp_path, monkeypatch, value):
    url, hits = site
    monkeypatch.setenv("LABKIT_OFFLINE", value)
    assert is_offline()
    with pytest.raises(DownloadError, match="LABKIT_OFFLINE is set") as err:
        download(f"{url}/file/x", tmp_path / "x")
    assert f"{url}/file/x" in str(err.value) and str(tmp_path / "x") in str(err.value)
    assert hits == [] and _left_in(tmp_path) == []
    download(f"{url}/file/x", tmp_path / "x", offline=False)   # the caller may decide otherwise
    assert hits == ["/file/x"]


@pytest.mark.parametrize("value", ["", "0", "no", "false"])
def test_other_values_are_online(monkeypatch, value):
    monkeypatch.setenv("LABKIT_OFFLINE", value)
    assert not is_offline()


def test_offline_true_refuses_even_when_the_environment_allows(site, tmp_path):
    url, hits = site
    with pytest.raises(DownloadError, match="downloads are turned off"):
        download(f"{url}/file/x", tmp_path / "x", offline=True)
    assert hits == []


# ----------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(url="file:///etc/passwd"), ValueError, "http:// or https://"),
    (dict(url="ftp://example.org/x"), ValueError, "http:// or https://"),
    (dict(url=b"http://x/"), TypeError, "url must be a string"),
    (dict(dest=3), TypeError, "dest must be a path"),
    (dict(sha256="ABC"), ValueError, "64 lower-case hex digits"),
    (dict(size=-1), ValueError, "size must be an integer >= 0"),
    (dict(max_bytes=0), ValueError, "max_bytes must be an integer >= 1"),
    (dict(max_bytes=1.5), TypeError, "max_bytes must be an integer"),
    (dict(timeout=0), ValueError, "timeout must be"),
    (dict(verify="yes"), TypeError, "verify must be a function"),
])
def test_arguments_are_checked_before_any_request(site, tmp_path, kwargs, error, match):
    url, hits = site
    call = {"url": f"{url}/file/x", "dest": tmp_path / "x", **kwargs}
    with pytest.raises(error, match=match):
        download(call.pop("url"), call.pop("dest"), **call)
    assert hits == []
