"""Read jobs for a tenant."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from stories_core.errors import InvalidInput
from stories_core.model import Asset, Job, JobState
from stories_core.ports import JobCursor, JobPage, UnitOfWorkFactory


class JobQueries:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

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
        whatever is created meanwhile; a token works only with the filter it came with."""
        after = PageToken.decode(page_token, tenant, states) if page_token else None
        with self._uow_factory() as uow:
            jobs = uow.jobs.list(tenant, states=states, limit=page_size + 1, after=after)
        page = jobs[:page_size]
        more = len(jobs) > page_size
        return JobPage(page, PageToken.encode(page[-1], tenant, states) if more else "")

    @staticmethod
    def shortened(page: JobPage, keep: int, tenant: str, states: Sequence[JobState]) -> JobPage:
        """The page's first `keep` jobs, its token continuing right after them (for pages
        that would not fit in one response)."""
        if keep >= len(page.jobs):
            return page
        kept = page.jobs[:keep]
        return JobPage(kept, PageToken.encode(kept[-1], tenant, states))


class PageToken:
    """Opaque to clients (AIP-158): where the page ended, and a digest of the request's
    tenant and filter, so a token reused with another filter is refused, not misread."""

    @staticmethod
    def encode(last: Job, tenant: str, states: Sequence[JobState]) -> str:
        raw = json.dumps([last.created_at.isoformat(), last.id, _filter_digest(tenant, states)])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @staticmethod
    def decode(token: str, tenant: str, states: Sequence[JobState]) -> JobCursor:
        try:
            created_at, job_id, digest = json.loads(base64.urlsafe_b64decode(token.encode()))
            moment = datetime.fromisoformat(created_at)
            if moment.tzinfo is None:
                raise ValueError("naive timestamp")
        except (ValueError, TypeError) as error:
            raise InvalidInput("page_token", "is not a token this service issued") from error
        if digest != _filter_digest(tenant, states):
            raise InvalidInput(
                "page_token",
                "was issued for a different filter; send the same states as the first "
                "request, or no token to start again",
            )
        return JobCursor(moment, str(job_id))


def _filter_digest(tenant: str, states: Sequence[JobState]) -> str:
    canonical = json.dumps([tenant, sorted({state.value for state in states})])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
