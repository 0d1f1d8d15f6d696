"""API keys and quotas: who may call, and how much they may ask for.

A key is shown once, when issued; only its SHA-256 is stored. Keys carry a public id,
so a lookup is by id and the secret is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from stories_core.errors import InvalidInput, NotFound, QuotaExceeded, Unauthenticated
from stories_core.model import ApiKey
from stories_core.ports import Clock, UnitOfWork, UnitOfWorkFactory

_PREFIX = "sk"
UNAUTHENTICATED_MESSAGE = "a valid API key is required (authorization: Bearer <key>)"


@dataclass(frozen=True)
class QuotaPolicy:
    """Characters a key may submit per period; 0 means unlimited."""

    chars_per_period: int = 2_000_000
    period_seconds: int = 86_400


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


class IssueKey:
    """Create a key for a tenant; its secret is returned once, never stored or shown again."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def __call__(self, tenant: str) -> tuple[ApiKey, str]:
        """(the key, its secret); InvalidInput for a malformed tenant name."""
        if (
            not tenant
            or len(tenant) > 128
            or not tenant.replace("-", "").replace("_", "").isalnum()
        ):
            raise InvalidInput("tenant", "must be 1-128 letters, digits, '-' or '_'")
        key_id = secrets.token_hex(8)
        secret = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            id=key_id, tenant=tenant, key_hash=hash_key(secret), created_at=self._clock.now()
        )
        with self._uow_factory() as uow:
            uow.keys.add(key)
            uow.commit()
        return key, secret


class RevokeKey:
    """Revoke a key at once, by its id or by the key itself (its id is part of it)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def __call__(self, key_or_id: str) -> ApiKey:
        """The revoked key; NotFound, whose message never repeats the key's secret."""
        key_id = _key_id(key_or_id) or key_or_id
        with self._uow_factory() as uow:
            key = uow.keys.get(key_id)
            if key is None:
                raise NotFound(f"API key {key_id} not found")
            if key.revoked_at is None:
                key.revoked_at = self._clock.now()
                uow.keys.update(key)
                uow.commit()
            return key


class Authenticator:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def __call__(self, presented: str | None) -> ApiKey:
        """The key's record; Unauthenticated, with one message, for anything else."""
        key_id = _key_id(presented)
        key = None
        if key_id is not None:
            with self._uow_factory() as uow:
                key = uow.keys.get(key_id)
        expected = key.key_hash if key else hash_key("no key")
        matches = hmac.compare_digest(expected, hash_key(presented or ""))
        if key is None or not matches or key.revoked_at is not None:
            raise Unauthenticated(UNAUTHENTICATED_MESSAGE)
        return key


def _key_id(presented: str | None) -> str | None:
    parts = (presented or "").split("_", 2)
    if len(parts) != 3 or parts[0] != _PREFIX:
        return None
    return parts[1]


def charge_quota(
    uow: UnitOfWork, policy: QuotaPolicy, key_id: str, chars: int, now: datetime
) -> None:
    """Count `chars` against the key's period, inside the caller's transaction."""
    if policy.chars_per_period <= 0:
        return
    if chars > policy.chars_per_period:
        raise QuotaExceeded(
            f"this request has {chars:,} characters, more than this key may submit in a "
            f"whole period ({policy.chars_per_period:,} per {policy.period_seconds} s), so "
            "it can never fit; split the text, or ask for a larger quota",
            subject=f"api_key:{key_id}",
            retry_after_seconds=None,
        )
    epoch = int(now.timestamp()) // policy.period_seconds * policy.period_seconds
    period_start = datetime.fromtimestamp(epoch, tz=now.tzinfo)
    used = uow.usage.add(key_id, period_start, chars)
    if used > policy.chars_per_period:
        reset = period_start + timedelta(seconds=policy.period_seconds)
        raise QuotaExceeded(
            f"this key may submit {policy.chars_per_period:,} characters per "
            f"{policy.period_seconds} s; this request would make it {used:,}",
            subject=f"api_key:{key_id}",
            retry_after_seconds=(reset - now).total_seconds(),
        )
