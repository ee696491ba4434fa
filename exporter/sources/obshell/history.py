"""A tenant's backup job history, read from obshell only when it can have changed.

obshell's `/backup/tasks` has no SQL limit: every call loads the tenant's job history (bounded
only by `start_time`), sorts and pages it in Go, runs two COUNT queries, and logs the answer.
What the exporter needs from it (the newest COMPLETED job, the newest COMPLETED FULL one, the
newest FAILED one) changes only when a job ends, and every job shows first as the tenant's
latest task in the cluster backup overview, which each poll reads anyway. So the history is
read again only when:

- the tenant is new to us (or the cache was dropped: another agent, version or restart);
- its latest task (job id, task id, status) differs from the one seen when it was last read;
- its latest task could not be read this poll (then nothing says it is unchanged);
- it was read FACT_REFRESH_SECONDS ago or more (a backstop, not a schedule).

Every read is bounded by `start_time`: the first one by the tenant's creation (no job of it
started earlier), later ones by the newest job start already seen; both less
START_TIME_MARGIN_SECONDS. What a later read finds is merged into what was known: the agent
scans the jobs of about a day, not the tenant's whole history, twice a minute.

Freshness: a cached fact is as fresh as the last poll that confirmed nothing it depends on
changed, here the poll whose cluster overview showed the same latest task (`verified_at`).
A fact that cannot be confirmed is re-served only while it will still be younger than
`stale_after` when the next poll can replace it (`now - verified_at + interval <= stale_after`),
then dropped (absent, never stale data passed off as fresh); and the poller shows a poll's data
only until its oldest `verified_at` is `stale_after` old.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from exporter.sources.errors import PollError
from exporter.sources.obshell import models as m
from exporter.sources.obshell.routes import BACKUP_JOBS
from exporter.sources.values import parse_time

# How long a cached fact (a job history, the cluster identity) is re-served without being read
# again although nothing says it changed.
FACT_REFRESH_SECONDS = 3600.0
# obshell turns `start_time` into the agent host's local time and OceanBase compares it in its
# session time zone (obshell's DSN has loc=Local): the two may differ by hours, so a bound is
# placed a day earlier than needed.
START_TIME_MARGIN_SECONDS = 86400.0
# Newest COMPLETED jobs read per call: enough to hold the newest FULL beside the incrementals
# of a weekly-full, daily-incremental schedule; a bigger page costs the agent nothing more.
JOB_PAGE_SIZE = 8
# When that page holds no FULL job and there are more, one call this big looks further back.
FULL_SEARCH_SIZE = 256

TaskKey = tuple[int | None, int | None, str]
Jobs = Callable[[str, int, float | None], Awaitable[tuple[list[m.BackupJob], int]]]


@dataclass(frozen=True, slots=True)
class Job:
    """The parts of a backup job the exported facts need."""

    start: float | None
    end: float | None
    job_id: int | None
    plus_archivelog: bool


@dataclass(frozen=True, slots=True)
class History:
    """What a tenant's job history says, and when it was read and last confirmed."""

    success: Job | None
    full: Job | None
    failure: Job | None
    newest_start: float | None  # the newest job start seen: where the next read may start
    task: TaskKey | None  # the tenant's latest task when this was read
    read_at: float
    verified_at: float


def task_key(task: m.BackupTask | None) -> TaskKey | None:
    """What identifies a tenant's latest task for "has its history changed"."""
    if task is None:
        return None
    return (task.job_id, task.task_id, task.status)


def job(row: m.BackupJob) -> Job:
    """The facts of one job row."""
    return Job(
        start=parse_time(row.start_timestamp),
        end=parse_time(row.end_timestamp),
        job_id=row.job_id,
        plus_archivelog=row.includes_archivelog,
    )


def reusable(cached: History | None, task: TaskKey | None, known: bool, now: float) -> bool:
    """Whether the cached history still holds without asking the agent."""
    return (
        cached is not None
        and known
        and cached.task == task
        and now - cached.read_at < FACT_REFRESH_SECONDS
    )


def start_time(moment: float) -> str:
    """`moment` as obshell's `start_time` takes it (RFC 3339; `Z`, as a `+` would need care)."""
    return datetime.fromtimestamp(max(0, int(moment)), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def read(
    jobs: Jobs, cached: History | None, task: TaskKey | None, created: float | None, now: float
) -> History:
    """Read what changed since `cached` (everything since the tenant's creation without it)
    and merge.

    `jobs(status, size, since)` returns the newest `size` jobs of `status` started at or after
    `since` (None: no bound), newest first, and how many there are in all.
    """
    floor = None if created is None else created - START_TIME_MARGIN_SECONDS
    since = floor
    if cached is not None and cached.newest_start is not None:
        since = cached.newest_start - START_TIME_MARGIN_SECONDS
    (completed, total), (failed, _) = await _both(
        jobs("COMPLETED", JOB_PAGE_SIZE, since), jobs("FAILED", 1, since)
    )
    newer = [job(row) for row in completed]
    success = newer[0] if newer else (cached.success if cached else None)
    failure = job(failed[0]) if failed else (cached.failure if cached else None)
    full = next((j for j, row in zip(newer, completed, strict=True) if row.full), None)
    if full is None and cached is not None and cached.full is not None:
        # Still the newest FULL when no COMPLETED job since the last read went unseen: the
        # page holds them all, or reaches back to the newest start that read saw.
        oldest = min((j.start for j in newer if j.start is not None), default=None)
        last_seen = cached.newest_start
        if total <= len(newer) or (
            oldest is not None and last_seen is not None and oldest <= last_seen
        ):
            full = cached.full
    if full is None and total > len(newer):
        more, _ = await jobs("COMPLETED", FULL_SEARCH_SIZE, floor)
        full = next((job(row) for row in more if row.full), None)
    starts = [j.start for j in (*newer, failure) if j is not None and j.start is not None]
    if cached is not None and cached.newest_start is not None:
        starts.append(cached.newest_start)
    return History(
        success=success,
        full=full,
        failure=failure,
        newest_start=max(starts, default=None),
        task=task,
        read_at=now,
        verified_at=now,
    )


async def _both(
    first: Awaitable[tuple[list[m.BackupJob], int]],
    second: Awaitable[tuple[list[m.BackupJob], int]],
) -> tuple[tuple[list[m.BackupJob], int], tuple[list[m.BackupJob], int]]:
    """Both calls' results; the first failure cancels the other call, which would otherwise
    run on unawaited after the read (and its poll) ended."""
    calls = (asyncio.ensure_future(first), asyncio.ensure_future(second))
    try:
        a, b = await asyncio.gather(*calls)
    finally:
        for call in calls:
            call.cancel()  # nothing happens to a call that is done
    return a, b


def missing_rows(tenant: str, size: int, page: m.Page | None, rows: int) -> PollError | None:
    """A decode problem when fewer rows were read than the page announced (obshell pages
    exactly: page 1 holds min(size, total) rows)."""
    if page is None:
        return None
    missing = min(size, page.total_elements) - rows
    if missing <= 0:
        return None
    message = f"tenant {tenant!r}: {missing} job row(s) of the page could not be read"
    return PollError("decode", BACKUP_JOBS, message)
