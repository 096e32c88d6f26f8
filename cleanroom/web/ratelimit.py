"""Rate limits on the expensive routes (uploads, runs, previews): token buckets per principal and
per client address, in this process's memory.

Each limited route names a group (``"uploads"``, ``"runs"``, ``"previews"``); each (group,
principal) and each (group, address) has a bucket of ``per_minute`` tokens that refills
continuously at ``per_minute`` tokens a minute. A request takes one token from both of its
buckets, or none when either is empty: then it is ``429 too_many_requests`` with ``Retry-After``
saying when a token is back. Limits are per process: with N gunicorn workers a client can get up
to N times the limit (docs/operations.md).

>>> clock = [0.0]
>>> limiter = RateLimiter(per_principal=2, per_address=0, clock=lambda: clock[0])
>>> [limiter.wait_seconds("runs", "acme/ana", "10.0.0.1") for _ in range(3)]
[0.0, 0.0, 30.0]
>>> clock[0] = 30.0
>>> limiter.wait_seconds("runs", "acme/ana", "10.0.0.1")
0.0
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from cleanroom.errors import TooManyRequests

# The most buckets kept per limiter; past it the full (idle) ones are forgotten, then all.
MAX_BUCKETS = 100_000


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp = tokens, stamp


class RateLimiter:
    """Token buckets keyed by (group, principal) and (group, address); ``0`` disables a kind."""

    def __init__(
        self,
        per_principal: int,
        per_address: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_principal, self.per_address = per_principal, per_address
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.per_principal > 0 or self.per_address > 0

    def wait_seconds(self, group: str, principal: str, address: str) -> float:
        """Take a token from each of the request's buckets and return 0, or take none and
        return how many seconds until the emptier bucket has a token again."""
        keys = []
        if self.per_principal > 0:
            keys.append((("principal", group, principal), self.per_principal))
        if self.per_address > 0:
            keys.append((("address", group, address), self.per_address))
        now = self._clock()
        with self._lock:
            buckets = [(self._bucket(key, limit, now), limit) for key, limit in keys]
            wait = 0.0
            for bucket, limit in buckets:
                if bucket.tokens < 1.0:
                    wait = max(wait, (1.0 - bucket.tokens) * 60.0 / limit)
            if wait == 0.0:
                for bucket, _ in buckets:
                    bucket.tokens -= 1.0
            return wait

    def _bucket(self, key: tuple[str, str, str], limit: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(float(limit), now)
            return bucket
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.stamp) * limit / 60.0)
        bucket.stamp = now
        return bucket

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that would be full by now (forgetting them changes nothing); if that
        frees nothing, drop them all (bounded memory beats exact limits under a flood)."""
        for key, bucket in list(self._buckets.items()):
            limit = self.per_principal if key[0] == "principal" else self.per_address
            if bucket.tokens + (now - bucket.stamp) * limit / 60.0 >= limit:
                del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


def retry_after(wait: float) -> int:
    """Whole seconds for ``Retry-After`` (at least 1).

    >>> retry_after(0.2), retry_after(30.0), retry_after(30.01)
    (1, 30, 31)
    """
    return max(1, math.ceil(wait - 1e-9))


def enforce(limiter: RateLimiter, group: str, principal: str, address: str) -> None:
    """Take a token for this request or raise ``429 too_many_requests`` with ``Retry-After``."""
    if not limiter.enabled:
        return
    wait = limiter.wait_seconds(group, principal, address)
    if wait > 0.0:
        seconds = retry_after(wait)
        raise TooManyRequests(
            seconds,
            f"too many {group} requests from this caller; retry in {seconds} s "
            "(limits are per minute, see docs/operations.md)",
        )
