"""Slow and malformed clients against a real ``cleanroom serve`` (gunicorn, 2 workers).

Fifty connections trickling headers or upload bodies leave ``/healthz`` and an authenticated
read answering (uploads beyond a worker's body slots get 503); a client too slow for the
limits gets ``408 request_timeout``; the errors gunicorn writes itself (request line or headers
too large, malformed requests) are problem+json with the API's stable codes.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cleanroom.web.gunicorn_worker import body_slots
from tests.system.live_server import LiveServer, serve

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 50
DRIP_SECONDS = 0.2  # one byte per this, per slow client
PROBE_TIMEOUT = 1.0  # the probes must answer within this; a timeout fails the test
RESPONSE_TIMEOUT = 60.0  # waiting for the server to cut a slow client off (not measured)
BOUNDARY = "cleanroom-slow-client"


def upload_head(path: str, token: str) -> bytes:
    """The headers of a multipart upload announcing 10 MB, and the file part's own headers."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: cleanroom\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Content-Length: 10000000\r\n\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\npid,amount\r\n"
    ).encode()


HEADER_HEAD = b"GET /v1/whoami HTTP/1.1\r\nHost: cleanroom\r\nX-Trickle: "


class Trickler(threading.Thread):
    """One connection that sends ``head`` at once, then a byte every ``DRIP_SECONDS`` until
    stopped or cut off; it remembers whether the server cut it off."""

    def __init__(self, base: str, head: bytes) -> None:
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=RESPONSE_TIMEOUT)
        self.head = head
        self.dripped = 0
        self.cut_off = False
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self.sock.sendall(self.head)
            while not self.stop.wait(DRIP_SECONDS):
                self.sock.sendall(b"a")
                self.dripped += 1
        except OSError:
            self.cut_off = True

    def response(self) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body of what the server answered before closing."""
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return parse_response(data)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        self.sock.close()


def parse_response(data: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, json.loads(body)


def raw_request(base: str, request: bytes) -> tuple[int, dict[str, str], Any]:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=RESPONSE_TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return parse_response(data)


def assert_problem(status: int, headers: dict[str, str], body: Any, code: str) -> None:
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"https://cleanroom.dev/problems/{code}"


@pytest.fixture(params=[32, 4], ids=["32-threads", "4-threads"])
def patient_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """Limits long enough that no slow client is cut off while the probes run; the default
    32 request threads per worker, or as few as 4 (fewer than the slow uploads)."""
    limits = {
        "CLEANROOM_HTTP_HEADER_TIMEOUT_SECONDS": "300",
        "CLEANROOM_HTTP_IO_TIMEOUT_SECONDS": "300",
        "CLEANROOM_HTTP_THREADS": str(request.param),
    }
    with serve(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", limits) as server:
        yield server


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Short limits: 2 s for headers, 2 s per read, bodies at 1000 bytes/s or faster; 4 request
    threads per worker."""
    tmp_path = tmp_path_factory.mktemp("strict")
    limits = {
        "CLEANROOM_HTTP_THREADS": "4",
        "CLEANROOM_HTTP_HEADER_TIMEOUT_SECONDS": "2",
        "CLEANROOM_HTTP_IO_TIMEOUT_SECONDS": "2",
        "CLEANROOM_HTTP_MIN_BODY_RATE": "1000",
    }
    with serve(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", limits) as server:
        yield server


def test_fifty_slow_clients_leave_health_and_reads_answering(patient_server: LiveServer) -> None:
    server = patient_server
    valid = server.headers("acme", "retailer_admin")
    token = valid["Authorization"].removeprefix("Bearer ")
    upload = "/v1/collaborations/no-such-collaboration/datasets"
    headers_only = [Trickler(server.base, HEADER_HEAD) for _ in range(SLOW_CLIENTS // 2)]
    bodies = [
        Trickler(server.base, upload_head(upload, token if i % 2 else "not-a-token"))
        for i in range(SLOW_CLIENTS // 2)
    ]
    uploads = [t for i, t in enumerate(bodies) if i % 2]  # valid tokens: the body is read
    everyone = headers_only + bodies
    try:
        for trickler in everyone:
            trickler.start()
        deadline = time.monotonic() + RESPONSE_TIMEOUT
        while min(t.dripped for t in headers_only) < 5:  # the slow clients are well under way
            assert time.monotonic() < deadline, "the slow clients could not send"
            time.sleep(DRIP_SECONDS)
        for _ in range(3):
            health = requests.get(f"{server.base}/healthz", timeout=PROBE_TIMEOUT)
            assert health.status_code == 200
            whoami = requests.get(f"{server.base}/v1/whoami", headers=valid, timeout=PROBE_TIMEOUT)
            assert whoami.status_code == 200
            assert whoami.json()["org"] == "acme"
        # the probes were answered while the slow clients were still connected and sending (at
        # least one worker's body slots' worth of uploads: the others may have been refused)
        assert not any(t.cut_off for t in headers_only)
        slots = body_slots(server.settings.http_threads)
        assert sum(not t.cut_off for t in uploads) >= min(len(uploads), slots)
    finally:
        for trickler in everyone:
            trickler.close()


def test_headers_too_slow_get_408(strict_server: LiveServer) -> None:
    trickler = Trickler(strict_server.base, HEADER_HEAD)
    trickler.start()
    try:
        status, headers, body = trickler.response()
    finally:
        trickler.close()
    assert status == 408
    assert_problem(status, headers, body, "request_timeout")
    assert headers["Connection"] == "close"


def test_an_idle_connection_gets_408(strict_server: LiveServer) -> None:
    host, port = strict_server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=RESPONSE_TIMEOUT) as sock:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status, headers, body = parse_response(data)
    assert_problem(status, headers, body, "request_timeout")


def test_an_upload_below_the_minimum_rate_gets_408(strict_server: LiveServer) -> None:
    token = strict_server.headers("acme", "retailer_admin")["Authorization"].split()[1]
    trickler = Trickler(strict_server.base, upload_head("/v1/collaborations/x/datasets", token))
    trickler.start()
    try:
        status, headers, body = trickler.response()
    finally:
        trickler.close()
    assert status == 408
    assert_problem(status, headers, body, "request_timeout")
    # the server keeps serving
    assert requests.get(f"{strict_server.base}/healthz", timeout=10).status_code == 200


def test_a_request_line_too_long_is_problem_json(strict_server: LiveServer) -> None:
    response = requests.get(f"{strict_server.base}/v1/{'a' * 5000}", timeout=10)
    assert response.status_code == 414
    assert_problem(414, dict(response.headers), response.json(), "uri_too_long")
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Large": "a" * 20000},  # one field over limit_request_field_size
        {f"X-Many-{i}": "a" for i in range(120)},  # more fields than limit_request_fields
    ],
    ids=["large-field", "many-fields"],
)
def test_headers_too_large_are_problem_json(
    strict_server: LiveServer, headers: dict[str, str]
) -> None:
    response = requests.get(f"{strict_server.base}/healthz", headers=headers, timeout=10)
    assert response.status_code == 431
    assert_problem(431, dict(response.headers), response.json(), "headers_too_large")


def test_a_malformed_request_is_problem_json(strict_server: LiveServer) -> None:
    status, headers, body = raw_request(strict_server.base, b"GET /healthz HTTP/9.9\r\n\r\n")
    assert status == 400
    assert_problem(status, headers, body, "invalid_request")
    assert "9.9" not in json.dumps(body)  # nothing of the request is echoed


def test_uploads_beyond_the_body_slots_get_503(strict_server: LiveServer) -> None:
    """The strict server runs 4 threads per worker: 3 body slots each, 6 in all."""
    token = strict_server.headers("acme", "retailer_admin")["Authorization"].split()[1]
    head = upload_head("/v1/collaborations/x/datasets", token)
    tricklers = [Trickler(strict_server.base, head) for _ in range(2 * body_slots(4) + 1)]
    for trickler in tricklers:
        trickler.start()
    try:
        answers = [trickler.response() for trickler in tricklers]
    finally:
        for trickler in tricklers:
            trickler.close()
    statuses = sorted(status for status, _, _ in answers)
    assert 503 in statuses, statuses  # 7 uploads, at most 6 slots
    status, headers, body = next(a for a in answers if a[0] == 503)
    assert_problem(status, headers, body, "service_unavailable")
    assert int(headers["Retry-After"]) > 0
    assert set(statuses) <= {408, 503}  # the others were cut off for being slow


def read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` complete responses (each with a Content-Length) read from a kept-alive socket."""
    data = b""
    found: list[bytes] = []
    while len(found) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(rest) >= length:
                found.append(head)
                data = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"the server closed after {len(found)} responses"
        data += chunk
    return found


def test_kept_alive_and_pipelined_requests_are_served_then_paced(
    strict_server: LiveServer,
) -> None:
    host, port = strict_server.base.removeprefix("http://").split(":")
    request = b"GET /healthz HTTP/1.1\r\nHost: cleanroom\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=RESPONSE_TIMEOUT) as sock:
        sock.sendall(request)
        first = read_responses(sock, 1)
        sock.sendall(request)  # the same connection, kept alive
        second = read_responses(sock, 1)
        sock.sendall(request * 2)  # pipelined
        third = read_responses(sock, 2)
        assert all(h.startswith(b"HTTP/1.1 200") for h in first + second + third)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: clean")  # then too slow: 408, closed
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status, headers, body = parse_response(data)
    assert_problem(status, headers, body, "request_timeout")
