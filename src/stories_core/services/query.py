"""Read jobs for a tenant."""

from __future__ import annotations

from collections.abc import Sequence

from stories_core.model import Asset, Job, JobState
from stories_core.ports import JobPage, UnitOfWorkFactory


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
        with self._uow_factory() as uow:
            return uow.jobs.list(
                tenant, states=states, page_size=page_size, after=page_token or None
            )
