"""A cheap closed-loop HTTP/1.1 load generator for loopback benchmarks.

The client shares the machine's cores with the server it measures, so every microsecond it spends
is taken from the server. One process runs one ``selectors`` loop over its share of the clients:
each client is one keep-alive TCP connection with at most one ``GET`` in flight, re-sent as soon as
the previous answer is complete (no think time). There are no threads (a thread would wait for the
GIL, in 5 ms switch intervals, before it could even timestamp its answer), the request bytes are
built once, and an answer is parsed only as far as framing needs (status line, ``Content-Length``
or chunked encoding, ``Connection: close``).

>>> _frame(bytearray(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"))
(200, 40, False)
>>> _frame(bytearray(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\no")) is None
True
>>> head = b"HTTP/1.1 404 X\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
>>> _frame(bytearray(head + b"2\\r\\nok\\r\\n0\\r\\n\\r\\n"))
(404, 58, False)
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"  # loopback only: the benchmark never sends its token anywhere else
REQUEST_TIMEOUT = 30.0  # seconds one request may take before it counts as an error


class FramingError(Exception):
    """The answer cannot be delimited (no length, bad chunk); the connection is dropped."""


@dataclass
class _Client:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)
    started: float = 0.0
    busy: bool = False


def _frame(buf: bytearray) -> tuple[int, int, bool] | None:
    """``(status, length of the whole answer, server closes)`` once ``buf`` holds a complete
    answer, else None."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(buf[:head_end]).split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise FramingError("bad status line") from None
    length, chunked, close = -1, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    body_start = head_end + 4
    if chunked:
        end = _chunked_end(buf, body_start)
        return None if end < 0 else (status, end, close)
    if length < 0:
        raise FramingError("an answer without Content-Length on a keep-alive connection")
    end = body_start + length
    return (status, end, close) if len(buf) >= end else None


def _chunked_end(buf: bytearray, pos: int) -> int:
    """Where a chunked body starting at ``pos`` ends, or -1 while it is incomplete."""
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return -1
        try:
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        except ValueError:
            raise FramingError("bad chunk size") from None
        if size == 0:  # last chunk; no trailers expected, so the blank line ends it
            end = buf.find(b"\r\n", line_end + 2)
            return -1 if end < 0 else end + 2
        pos = line_end + 2 + size + 2
        if len(buf) < pos:
            return -1


def run_clients(
    port: int,
    path: str,
    headers: dict[str, str],
    clients: int,
    requests: int,
    time_cap: float,
) -> dict[str, Any]:
    """``clients`` keep-alive connections share ``requests`` GETs of ``path`` until done or
    ``time_cap`` seconds have passed; ``{"latencies", "errors", "started", "finished"}``.

    A latency is measured from just before the request is sent to the moment its answer is
    complete. Any exception, non-200 answer or timed-out request is an error (and a latency,
    except for timeouts); a failed connection is replaced.
    """
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode("latin-1")
    sel = selectors.DefaultSelector()
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    started = time.time()
    deadline = time.monotonic() + time_cap

    def connect() -> _Client:
        sock = socket.create_connection((HOST, port), timeout=REQUEST_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = _Client(sock)
        sel.register(sock, selectors.EVENT_READ, client)
        return client

    def drop(client: _Client) -> None:
        sel.unregister(client.sock)
        client.sock.close()

    ready: list[_Client] = []  # connected clients waiting to send their next request

    def send(client: _Client) -> None:
        nonlocal issued
        if issued >= requests or time.monotonic() >= deadline:
            drop(client)
            return
        issued += 1
        client.busy, client.started = True, time.perf_counter()
        try:
            client.sock.sendall(request)
        except OSError as exc:
            fail(client, type(exc).__name__)

    def fail(client: _Client, reason: str) -> None:
        latencies.append(time.perf_counter() - client.started)
        errors.append(reason)
        drop(client)
        try:
            ready.append(connect())
        except OSError as exc:
            errors.append(type(exc).__name__)

    for _ in range(clients):
        ready.append(connect())
    while ready or sel.get_map():
        while ready:
            send(ready.pop())
        events = sel.select(timeout=1.0)
        for key, _ in events:
            client: _Client = key.data
            try:
                chunk = client.sock.recv(262144)
                if not chunk:
                    raise ConnectionResetError("the server closed the connection")
                client.buf += chunk
                framed = _frame(client.buf)
            except (OSError, FramingError, ValueError) as exc:
                fail(client, type(exc).__name__)
                continue
            if framed is None:
                continue
            status, end, close = framed
            latencies.append(time.perf_counter() - client.started)
            if status != 200:
                errors.append(f"HTTP {status}")
            del client.buf[:end]
            client.busy = False
            if close:
                drop(client)
                try:
                    client = connect()
                except OSError as exc:
                    errors.append(type(exc).__name__)
                    continue
            send(client)
        now = time.perf_counter()
        for key in list(sel.get_map().values()):  # requests that never answer
            stuck: _Client = key.data
            if stuck.busy and now - stuck.started > REQUEST_TIMEOUT:
                errors.append("timeout")
                stuck.busy = False
                drop(stuck)
    sel.close()
    return {"latencies": latencies, "errors": errors, "started": started, "finished": time.time()}
