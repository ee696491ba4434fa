"""Snapshots as a poll would build them, for the tests of what is made of them."""

from __future__ import annotations

from exporter.snapshot import (
    Cluster,
    ClusterIdentity,
    LogBackup,
    TargetData,
    TargetHealth,
    TargetSnapshot,
    Tenant,
)

POLLED_AT = 1_728_727_000.0


def tenant(name: str, tenant_id: int, last_success: float | None = POLLED_AT - 3600) -> Tenant:
    """A NORMAL tenant archiving with a 3 s delay, its last backup `last_success`."""
    return Tenant(
        name=name,
        tenant_id=tenant_id,
        tenant_status="NORMAL",
        last_success=last_success,
        log_backup=LogBackup(
            checkpoint=POLLED_AT - 3, delay=3.0, status="DOING", raw_status="DOING"
        ),
    )


def snapshot(
    *tenants: Tenant, name: str = "hz-prod", up: bool = True, polls: int = 1
) -> TargetSnapshot:
    """An obshell target's snapshot holding one cluster with `tenants`; none: no data."""
    data = None
    if tenants:
        cluster = Cluster(
            identity=ClusterIdentity("ob-test", "1728727000", "4.3.5.0"), tenants=tenants
        )
        data = TargetData(clusters=(cluster,), polled_at=POLLED_AT)
    return TargetSnapshot(
        name=name,
        source="obshell",
        labels=(("site", "hz"),),
        health=TargetHealth(up=up, last_success=POLLED_AT if up else None, polls_total=polls),
        data=data,
    )
