"""Who is calling, and whether they may call now: API-key auth and a per-key rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from stories_adapters.grpc.errors import RateLimited, TooManyStreams
from stories_core.errors import Unauthenticated
from stories_core.model import ApiKey
from stories_core.services.access import UNAUTHENTICATED_MESSAGE


class TokenBuckets:
    """A token bucket per key: `rate` calls per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - last) * self._rate)
            if tokens < 1.0 - 1e-9:  # a client that waited the RetryInfo's delay gets in
                self._buckets[key] = (tokens, now)
                raise RateLimited(
                    f"more than {self._rate:g} calls per second with this key",
                    retry_after_seconds=(1.0 - tokens) / self._rate,
                )
            self._buckets[key] = (tokens - 1.0, now)


class CachedAuthenticator:
    """Remembers keys that authenticated for `ttl_seconds`, so a busy client costs no
    database read per call; a revoked key is refused at most `ttl_seconds` later. (The
    map holds presented keys, as the request itself does: it lives in memory only.)"""

    def __init__(
        self,
        authenticate: Callable[[str | None], ApiKey],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._authenticate = authenticate
        self._ttl = ttl_seconds
        self._clock = clock
        self._known: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, presented: str | None) -> ApiKey:
        if self._ttl <= 0 or not presented:
            return self._authenticate(presented)
        now = self._clock()
        with self._lock:
            known = self._known.get(presented)
        if known is not None and known[1] > now:
            return known[0]
        key = self._authenticate(presented)
        with self._lock:
            if len(self._known) > 10_000:
                self._known = {f: k for f, k in self._known.items() if k[1] > now}
            self._known[presented] = (key, now + self._ttl)
        return key


class StreamSlots:
    """Caps the streams open at once, overall (memory: a few kilobytes each) and per key
    (so that one client cannot take them all)."""

    def __init__(self, total: int, per_key: int) -> None:
        self._total = total
        self._per_key = per_key
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def held(self, key_id: str) -> Iterator[None]:
        """A slot for `key_id` while the block runs (until the stream's handler ends)."""
        with self._lock:
            if sum(self._open.values()) >= self._total:
                raise TooManyStreams(
                    f"the server has {self._total} streams open; try again shortly"
                )
            if self._open.get(key_id, 0) >= self._per_key:
                raise TooManyStreams(f"more than {self._per_key} open streams with this key")
            self._open[key_id] = self._open.get(key_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._open[key_id] -= 1
                if not self._open[key_id]:
                    del self._open[key_id]


class Gate:
    def __init__(
        self,
        authenticate: Callable[[str | None], ApiKey],
        limits: TokenBuckets,
        streams: StreamSlots,
    ) -> None:
        self._authenticate = authenticate
        self._limits = limits
        self._streams = streams

    def admit(self, metadata: Mapping[str, str]) -> ApiKey:
        """The caller's key, from the call's metadata, after the rate limit; raises
        Unauthenticated or RateLimited."""
        header = metadata.get("authorization") or ""
        # RFC 9110 section 11.1: the scheme is case-insensitive ("bearer" works too).
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        key = self._authenticate(token.strip())
        self._limits.take(key.id)
        return key

    def streaming(self, key: ApiKey) -> AbstractContextManager[None]:
        """A stream slot of `key`'s while the block runs (TooManyStreams when none is free)."""
        return self._streams.held(key.id)
