"""The memory store: the contract, with nothing durable behind it."""

from __future__ import annotations

from collections.abc import Sequence

from ..abc import Store, StoredJob

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keeps records in a dict; everything is lost when the process ends.

    Useful as the reference implementation of the contract and for tests.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, StoredJob] = {}

    @property
    def description(self) -> str:
        return "memory store"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write_batch(self, put: Sequence[StoredJob], remove: Sequence[str] = ()) -> None:
        for job in put:
            self._jobs[job.id] = job
        for job_id in remove:
            self._jobs.pop(job_id, None)

    async def get_job(self, job_id: str) -> StoredJob | None:
        return self._jobs.get(job_id)

    async def list_jobs(self) -> list[StoredJob]:
        return list(self._jobs.values())
