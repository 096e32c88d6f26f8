"""The gunicorn worker ``cleanroom serve`` runs: gunicorn's threaded worker, with slow clients
bounded in what they cost and how long they may take.

gunicorn's own ``gthread`` worker hands a connection to a thread as soon as its first byte
arrives, and the thread then blocks until the request line and headers are complete; request
bodies are read by the application's thread with no deadline at all. A few dozen connections
trickling a byte a second therefore hold every thread and nothing else is served. This worker
changes three things:

- **Headers are gathered by the worker's event loop**, not by a thread: a connection reaches a
  thread only once its request line and headers have arrived (or more than a header's worth of
  bytes). A connection that has not sent them within ``http_header_timeout_seconds`` of opening
  (or of its previous response) is answered ``408 request_timeout`` and closed, costing no thread
  meanwhile.
- **Every read is paced** (:class:`PacedSocket`): one read waits at most
  ``http_io_timeout_seconds``, and a request body must keep up an average of
  ``http_min_body_rate`` bytes per second after that grace. A body that falls behind raises
  :class:`ClientTooSlow`, which the app answers as ``408 request_timeout`` before the
  connection is closed; one write of a response waits at most ``http_io_timeout_seconds`` too.
- **Bodies never take every thread** (:func:`body_slots`): a quarter of the threads serve only
  requests without a body (probes, reads); a body beyond the rest gets ``503`` at once.
- **Errors gunicorn answers itself** (request line too long, headers too large, malformed
  requests) are written as ``application/problem+json`` with the API's stable codes, where
  gunicorn writes an HTML page. gunicorn still decides the status (and logs it).

TLS terminated by gunicorn itself, and HTTP/2 with prior knowledge, read the connection before
any request is parsed; for them headers are read in the thread (still paced, from the first
byte). The production topology puts TLS on the reverse proxy (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.util import close, write_nonblock
from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.exceptions import RequestTimeout
from werkzeug.http import HTTP_STATUS_CODES

from cleanroom.config import Settings, load_settings
from cleanroom.errors import ConfigError, ServiceUnavailable
from cleanroom.web.errors import (
    PROBLEM_MEDIA_TYPE,
    REQUEST_ID_HEADER,
    http_problem,
    new_request_id,
    problem_document,
)

WORKER_CLASS = "cleanroom.web.gunicorn_worker.PacedThreadWorker"
# Past this many bytes without the end of the headers, the thread's parser takes over (and
# answers 431 if they really are too large); the event loop never holds more per connection.
GATHER_LIMIT_BYTES = 64 * 1024
# After a response, the part of an unread body that has already arrived is drained so the
# connection can be kept alive; a body still coming after this long closes it instead.
DRAIN_SECONDS = 0.1
# A closed connection's unread input is drained this long by the event loop (RFC 9112 section
# 9.6: closing with unread data would reset the connection and could lose the response).
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 64 * 1024
_HEADERS_END = (b"\r\n\r\n", b"\n\n")


@dataclass(frozen=True)
class ClientLimits:
    """How long a client may take, from the ``http_*`` settings."""

    header_timeout: float
    io_timeout: float
    min_body_rate: float  # bytes per second; 0: no minimum

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimits:
        """The limits, or :class:`ConfigError` naming a setting out of range.

        >>> s = load_settings(env={"CLEANROOM_DATA_DIR": "/tmp/x", "CLEANROOM_SECRET_KEY": "k",
        ...                        "CLEANROOM_JWT_SECRET": "j"}, config_file=None)
        >>> ClientLimits.from_settings(s).header_timeout
        10.0
        >>> ClientLimits.from_settings(s.replace(http_io_timeout_seconds=0))
        Traceback (most recent call last):
        cleanroom.errors.ConfigError: setting 'http_io_timeout_seconds' must be at least 1
        """
        for name, least in (
            ("http_threads", 1),
            ("http_max_connections", 1),
            ("http_header_timeout_seconds", 1),
            ("http_io_timeout_seconds", 1),
            ("http_min_body_rate", 0),
        ):
            if getattr(settings, name) < least:
                raise ConfigError(f"setting '{name}' must be at least {least}")
        if settings.http_max_connections <= settings.http_threads:
            raise ConfigError("setting 'http_max_connections' must be more than 'http_threads'")
        return cls(
            float(settings.http_header_timeout_seconds),
            float(settings.http_io_timeout_seconds),
            float(settings.http_min_body_rate),
        )


class ClientTooSlow(RequestTimeout):
    """A client sent its request more slowly than the limits allow (an HTTP 408)."""


class Pace:
    """The allowance of one connection's current request: a deadline for its headers, then a
    minimum average rate for its body."""

    def __init__(self, limits: ClientLimits) -> None:
        self.limits = limits
        self.tripped = False
        self._header_deadline = math.inf
        self._body_start: float | None = None
        self._body_bytes = 0

    def expect_headers(self, now: float) -> None:
        self._header_deadline = now + self.limits.header_timeout
        self._body_start = None

    def expect_body(self, now: float) -> None:
        self._body_start = now
        self._body_bytes = 0

    def header_deadline(self) -> float:
        return self._header_deadline

    def deadline(self) -> float:
        """When the current read must have returned, at the latest."""
        if self._body_start is None:
            return self._header_deadline
        if not self.limits.min_body_rate:
            return math.inf
        grace = self.limits.io_timeout
        return self._body_start + grace + self._body_bytes / self.limits.min_body_rate

    def received(self, count: int) -> None:
        self._body_bytes += count


class PacedSocket:
    """The connection as gunicorn's parser reads it: each ``recv`` waits at most what the
    :class:`Pace` allows, raising :class:`ClientTooSlow` past it.

    A timeout the caller sets (gunicorn's bounded drain of an unread body sets one before each
    read) counts from the moment it is set, across every ``recv`` until the next one, and runs
    out with ``TimeoutError`` as a socket's would: one read of a body may take many ``recv``
    calls, and a client trickling a byte at a time must not stretch it."""

    def __init__(self, sock: Any, pace: Pace) -> None:
        self._sock = sock
        self._pace = pace
        self._caller_timeout: float | None = None
        self._caller_deadline = math.inf

    def gettimeout(self) -> float | None:
        return self._caller_timeout

    def settimeout(self, value: float | None) -> None:
        self._caller_timeout = value
        self._caller_deadline = math.inf if value is None else time.monotonic() + value

    def recv(self, size: int) -> bytes:
        limits = self._pace.limits
        now = time.monotonic()
        paced = self._pace.deadline() - now
        caller = self._caller_deadline - now
        if caller <= 0 and caller <= paced:
            raise TimeoutError("timed out")
        if paced <= 0:
            self._pace.tripped = True
            raise ClientTooSlow()
        wait = min(limits.io_timeout, paced, caller)
        self._sock.settimeout(wait)
        try:
            data: bytes = self._sock.recv(size)
        except TimeoutError:
            if caller <= paced:
                raise
            self._pace.tripped = True
            raise ClientTooSlow() from None
        finally:
            self._sock.settimeout(limits.io_timeout)
        self._pace.received(len(data))
        return data


class PacedConn(TConn):  # type: ignore[misc]  # gunicorn ships no type information
    """A connection with its :class:`Pace`, the header bytes the event loop gathered, and a
    graceful close that lingers in the event loop (gunicorn's blocks it for up to 2 s)."""

    def __init__(
        self,
        cfg: Any,
        sock: Any,
        client: Any,
        server: Any,
        limits: ClientLimits,
        linger: Callable[[PacedConn], None] | None,
    ) -> None:
        super().__init__(cfg, sock, client, server)
        self.pace = Pace(limits)
        self.gathered = bytearray()
        self.linger = linger
        self.linger_until = 0.0
        self.lingered = 0

    def close(self, graceful: bool = False) -> None:
        if graceful and self.linger is not None:
            self.linger(self)
        else:
            super().close(graceful)

    def init(self) -> None:
        first = not self.initialized
        super().init()
        if self.is_http2 or self.parser is None:
            return
        if first:
            self.parser.unreader.sock = PacedSocket(self.sock, self.pace)
        if self.gathered:
            self.parser.unreader.unread(bytes(self.gathered))
            self.gathered.clear()


def body_slots(threads: int) -> int:
    """How many of a worker's ``threads`` may serve requests with a body at once: a quarter
    (at least one) stay for requests without one, such as probes and reads.

    >>> body_slots(32), body_slots(4), body_slots(1)
    (24, 3, 1)
    """
    return max(1, threads - max(1, threads // 4))


def has_body(req: Any) -> bool:
    """Whether a parsed gunicorn request announces a body (a length, or a transfer coding)."""
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and value.strip() != "0"):
            return True
    return False


def problem_bytes(status: int, rid: str | None = None, retry_after: int | None = None) -> bytes:
    r"""A complete ``Connection: close`` HTTP/1.1 response carrying the problem of ``status``.

    >>> head, body = problem_bytes(414, "0123456789abcdef").split(b"\r\n\r\n")
    >>> head.split(b"\r\n")[0], json.loads(body)["code"]
    (b'HTTP/1.1 414 Request URI Too Long', 'uri_too_long')
    """
    code, detail = http_problem(status)
    reason = HTTP_STATUS_CODES.get(status, "Error")
    rid = rid or new_request_id()
    extra = {"request_id": rid} if status >= 500 else None
    body = json.dumps(problem_document(status, code, reason, detail, extra)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER}: {rid}\r\n"
        + ("" if retry_after is None else f"Retry-After: {retry_after}\r\n")
        + "\r\n"
    )
    return head.encode("latin-1") + body


class _ErrorCapture:
    """Stands in for the client socket while gunicorn writes its own error page, to learn the
    status it chose (gunicorn maps its parser's exceptions to statuses, and logs them)."""

    def __init__(self) -> None:
        self.written = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.written += data

    def status(self) -> int:
        parts = self.written.split(b" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            return int(parts[1])
        return 500


class PacedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's ``gthread`` worker with headers gathered by the event loop, paced reads and
    problem+json errors (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = ClientLimits.from_settings(load_settings())
        self.body_limit = body_slots(self.cfg.threads)
        self.body_slots = threading.BoundedSemaphore(self.body_limit)
        self.gathering: deque[PacedConn] = deque()
        self.lingering: deque[PacedConn] = deque()
        # Reading before the request is parsed would break a TLS handshake or an HTTP/2 preface.
        self.gathers_headers = not self.cfg.is_ssl

    # -- the event loop gathers headers ---------------------------------------------------
    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        linger = None if self.cfg.is_ssl else self.linger
        conn = PacedConn(
            self.cfg, client_sock, client_addr, listener.getsockname(), self.limits, linger
        )
        if self.gathers_headers and not negotiation.prior_knowledge_allowed(self.cfg, conn.client):
            self.gather(conn)
        else:
            self.enqueue_req(conn)

    def gather(self, conn: PacedConn) -> None:
        conn.pace.expect_headers(time.monotonic())
        conn.sock.setblocking(False)
        self.gathering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_header_bytes, conn))

    def on_header_bytes(self, conn: PacedConn, _sock: Any) -> None:
        try:
            data = conn.sock.recv(GATHER_LIMIT_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._stop_gathering(conn)
            self.nr_conns -= 1
            conn.close()
            return
        seen = max(0, len(conn.gathered) - 3)
        conn.gathered += data
        done = any(conn.gathered.find(end, seen) >= 0 for end in _HEADERS_END)
        if done or len(conn.gathered) >= GATHER_LIMIT_BYTES:
            self._stop_gathering(conn)
            conn.data_ready = True
            super().enqueue_req(conn)

    def _stop_gathering(self, conn: PacedConn) -> None:
        self.gathering.remove(conn)
        self._unregister(conn)

    def on_client_socket_readable(self, conn: PacedConn, client: Any) -> None:
        """A kept-alive connection's next request: its headers are gathered like the first's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.gathers_headers and not conn.is_http2:
            self.gather(conn)
        else:
            self.enqueue_req(conn)

    def enqueue_req(self, conn: PacedConn) -> None:
        """A connection whose next request the thread reads from its first byte (pipelined
        behind a previous one, or TLS): the header deadline starts now."""
        conn.pace.expect_headers(time.monotonic())
        super().enqueue_req(conn)

    def linger(self, conn: PacedConn) -> None:
        """Close ``conn`` gracefully without blocking the loop: half-close, then drain what the
        client still sends until it closes, ``LINGER_MAX_BYTES`` or ``LINGER_SECONDS``."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_linger_bytes, conn)
            )
        except (OSError, KeyError, ValueError):
            close(conn.sock)
            return
        conn.linger_until = time.monotonic() + LINGER_SECONDS
        self.lingering.append(conn)

    def on_linger_bytes(self, conn: PacedConn, _sock: Any) -> None:
        try:
            data = conn.sock.recv(LINGER_MAX_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.lingered += len(data)
        if not data or conn.lingered >= LINGER_MAX_BYTES:
            self._end_linger(conn)

    def _end_linger(self, conn: PacedConn) -> None:
        self.lingering.remove(conn)
        self._unregister(conn)
        close(conn.sock)

    def _unregister(self, conn: PacedConn) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def murder_pending(self) -> None:
        """Also answer ``408`` to, and close, connections whose headers are overdue (all of
        them once the worker is stopping), and end lingering closes that are due."""
        super().murder_pending()
        now = time.monotonic()
        while self.lingering and self.lingering[0].linger_until <= now:
            self._end_linger(self.lingering[0])
        while self.gathering:
            conn = self.gathering[0]
            if self.alive and conn.pace.header_deadline() > now:
                break
            self._stop_gathering(conn)
            self.nr_conns -= 1
            if self.alive:
                with contextlib.suppress(OSError):
                    conn.sock.send(problem_bytes(408))
            conn.close(graceful=self.alive)

    # -- threads: paced bodies and problem+json errors -------------------------------------
    def handle_request(self, req: Any, conn: PacedConn) -> bool:
        conn.pace.expect_body(time.monotonic())
        conn.sock.settimeout(self.limits.io_timeout)  # bounds each write of the response
        if not has_body(req):
            return self._serve(req, conn)
        if not self.body_slots.acquire(blocking=False):
            self.log.warning("503: %d requests with a body are being served", self.body_limit)
            self._write(conn.sock, problem_bytes(503, retry_after=ServiceUnavailable.retry_after))
            return False
        try:
            return self._serve(req, conn)
        finally:
            self.body_slots.release()

    def _serve(self, req: Any, conn: PacedConn) -> bool:
        keepalive = bool(super().handle_request(req, conn)) and not conn.pace.tripped
        if keepalive:  # the unread body that has arrived is drained; one still coming: close
            keepalive = bool(conn.parser.finish_body(deadline=time.monotonic() + DRAIN_SECONDS))
        return keepalive

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, ClientTooSlow):
            if req is None:  # headers read in the thread came too slowly
                self.log.info("Request headers too slow from ip=%s", (addr or ("",))[0])
                self._write(client, problem_bytes(408))
            # else: draining the unread body of an answered request: just close
            return
        capture = _ErrorCapture()
        super().handle_error(req, capture, addr, exc)  # logs the error, chooses the status
        status, rid = capture.status(), new_request_id()
        if status >= 500:
            self.log.error("the error above was answered %s, request id %s", status, rid)
        self._write(client, problem_bytes(status, rid))

    def _write(self, client: Any, data: bytes) -> None:
        try:
            write_nonblock(client, data)
        except Exception:  # noqa: BLE001 - the client may be gone; gunicorn ignores this too
            self.log.debug("Failed to send error message.")
