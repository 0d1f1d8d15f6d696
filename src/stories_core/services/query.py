"""Read jobs for a tenant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from datetime import datetime

from stories_core.errors import InvalidInput
from stories_core.model import Asset, Job, JobState
from stories_core.ports import JobCursor, JobPage, UnitOfWorkFactory


class JobQueries:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, page_tokens: PageTokens | None = None
    ) -> None:
        """`page_tokens`: those of the deployment; by default, tokens only this object
        takes back (a random key)."""
        self._uow_factory = uow_factory
        self._tokens = page_tokens or PageTokens(secrets.token_bytes(32))

    def get(self, job_id: str, tenant: str | None = None) -> Job:
        """The job with segments and assets; NotFound when absent or another tenant's."""
        with self._uow_factory() as uow:
            return uow.jobs.get(job_id, tenant)

    def asset(self, asset_id: str, tenant: str | None = None) -> Asset:
        with self._uow_factory() as uow:
            return uow.jobs.get_asset(asset_id, tenant)

    def list(
        self,
        tenant: str,
        *,
        states: Sequence[JobState] = (),
        page_size: int = 50,
        page_token: str = "",
    ) -> JobPage:
        """A page of the tenant's jobs, newest first. Pages never skip or repeat a job,
        whatever is created meanwhile; a token works only for the tenant and filter it came
        with, and only as issued (InvalidInput `page_token` otherwise)."""
        after = self._tokens.decode(page_token, tenant, states) if page_token else None
        with self._uow_factory() as uow:
            jobs = uow.jobs.list(tenant, states=states, limit=page_size + 1, after=after)
        page = jobs[:page_size]
        more = len(jobs) > page_size
        return JobPage(page, self._tokens.encode(page[-1], tenant, states) if more else "")

    def shortened(
        self, page: JobPage, keep: int, tenant: str, states: Sequence[JobState]
    ) -> JobPage:
        """The page's first `keep` jobs, its token continuing right after them (for pages
        that must end early, say to fit a message)."""
        if keep >= len(page.jobs):
            return page
        kept = page.jobs[:keep]
        return JobPage(kept, self._tokens.encode(kept[-1], tenant, states))


class PageTokens:
    """Page tokens, opaque to clients (AIP-158) and tamper-evident: where the page ended
    and a digest of the request's tenant and filter, signed with HMAC-SHA256 under `key`
    (every API process of a deployment shares it), as `<payload>.<signature>` in URL-safe
    base64. A token altered, or issued under another key, is refused as not ours; one
    from another tenant or filter is refused as such, never misread."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, last: Job, tenant: str, states: Sequence[JobState]) -> str:
        raw = json.dumps([last.created_at.isoformat(), last.id, _filter_digest(tenant, states)])
        payload = _b64(raw.encode())
        return f"{payload}.{self._sign(payload)}"

    def decode(self, token: str, tenant: str, states: Sequence[JobState]) -> JobCursor:
        payload, _, signature = token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise InvalidInput(
                "page_token",
                "is not a token this service issued (altered, or from another deployment); "
                "send no token to start again",
            )
        try:
            created_at, job_id, digest = json.loads(_unb64(payload))
            moment = datetime.fromisoformat(created_at)
            if moment.tzinfo is None:
                raise ValueError("naive timestamp")
        except (ValueError, TypeError) as error:  # signed by us, so a bug: say so plainly
            raise InvalidInput("page_token", "is not a token this service issued") from error
        if digest != _filter_digest(tenant, states):
            raise InvalidInput(
                "page_token",
                "was issued for another API key's tenant or a different filter; send the "
                "same states as the first request, or no token to start again",
            )
        return JobCursor(moment, str(job_id))

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:16])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _filter_digest(tenant: str, states: Sequence[JobState]) -> str:
    canonical = json.dumps([tenant, sorted({state.value for state in states})])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
