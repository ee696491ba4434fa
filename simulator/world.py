"""The simulated fleet: clusters, tenants and the plans their backups, archives and restores follow.

Nothing here ticks. A plan says when things happen (a backup every `interval`, a restore from
`start` for `duration`, ...) and `timeline.py` computes what the views show at any simulated
moment, so an idle fleet of thousands of agents costs nothing. Tests may change any of it at
run time: add or remove tenants, change a cluster's version or passwords, rotate its key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulator.obshell import keys, versions

GIB = 1024**3
MIB = 1024**2
HOUR = 3600.0
DAY = 24 * HOUR
# The query string is what a real destination looks like; the exporter must strip the secrets.
_OSS_QUERY = (
    "host=oss-cn-hangzhou.aliyuncs.com&access_id=SIMULATEDACCESSID&access_key=simulated-key"
)


def destination(cluster_name: str, tenant_name: str, kind: str) -> str:
    """A backup (`kind="data"`) or archive (`kind="clog"`) destination, with its query string."""
    return f"oss://ob-backup/{cluster_name}/{tenant_name}/{kind}?{_OSS_QUERY}"


@dataclass
class BackupPlan:
    """Data backups every `interval` from `first_start`; each copies about `data_bytes`."""

    first_start: float
    path: str
    interval: float = 6 * HOUR
    data_bytes: int = 20 * GIB
    rate: float = 64 * MIB  # input bytes per simulated second
    tablets: int = 600
    macro_blocks: int = 8000
    failing_since: float | None = None  # jobs starting from then on fail
    # Job n (1-based) is FULL when n % full_every == 1 (every job with 1), else INC.
    full_every: int = 4
    # The kinds of job `failing_since` fails: e.g. ("FULL",) for full backups failing while
    # incrementals succeed.
    failing_types: tuple[str, ...] = ("FULL", "INC")
    plus_archivelog: bool = False  # jobs taken with PLUS ARCHIVELOG (the view says "ON")
    # For this long before it starts, the next job waits in CDB_OB_BACKUP_JOBS as INIT with a
    # NULL start time.
    queued: float = 0.0


@dataclass
class ArchivePlan:
    """A log archive round: the checkpoint trails simulated time by `lag` and moves in `step`s.

    From `stall_at` on the checkpoint no longer moves, so the delay grows without bound; the
    round stays DOING, or with `stopped_as` (e.g. INTERRUPTED) takes that status.
    """

    round_start: float
    path: str
    round_id: int = 1
    lag: float = 2.0
    step: float = 1.0
    stall_at: float | None = None
    stopped_as: str | None = None


@dataclass
class Tenant:
    """A user tenant; `backup` None means it was never backed up, `archive` None: no archiving."""

    name: str
    tenant_id: int
    created_at: float
    status: str = "NORMAL"
    mode: str = "MYSQL"
    backup: BackupPlan | None = None
    archive: ArchivePlan | None = None
    salt: int = 0  # mixes into per-job variation so that tenants differ


@dataclass
class RestoreJob:
    """A physical restore into `tenant_name`; it fails at `fail_at` (a fraction of `duration`)."""

    job_id: int
    tenant_name: str
    tenant_id: int
    backup_tenant_name: str
    backup_tenant_id: int
    backup_cluster_name: str
    start: float
    duration: float
    restore_until: float  # the moment the restored data reflects (restore_scn)
    fail_at: float | None = None
    tablets: int = 600
    total_bytes: int = 20 * GIB
    ls_count: int = 2


@dataclass
class ChurnPlan:
    """Tenants that come and go: each slot creates a tenant every `period`, drops it after `alive`.

    Slot j's tenant of generation g is `churn{j}_{g}`, with an id no other tenant uses.
    """

    epoch: float
    slots: int = 2
    period: float = 2 * HOUR
    alive: float = 0.6  # fraction of the period a generation lives
    id_base: int = 500_002


class Cluster:
    """One OceanBase cluster and its obshell agent."""

    def __init__(
        self,
        index: int,
        name: str,
        version: str,
        password: str,
        agent_password: str | None = None,
        ob_version: str = "4.3.5.1",
    ) -> None:
        self.index = index
        self.cluster_id = index + 1
        self.name = name
        self.ob_version = ob_version
        self.password = password
        self.agent_password = agent_password
        self.ip = f"10.0.{index // 250}.{index % 250 + 1}"
        self.port = 2886
        self.tenants: list[Tenant] = []
        self.restores: list[RestoreJob] = []
        self.churn: ChurnPlan | None = None
        self.next_tenant_id = 1002
        self.started_at = 0.0
        self.ocp_status = "RUNNING"  # obClusterStatus as OCP reports the cluster
        self._version = version
        self._key: keys.AgentKey | None = None

    @property
    def version(self) -> str:
        """The obshell agent version; it decides the auth scheme, key size, errors and routes."""
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        versions.parse_version(value)
        # Upgrading to 4.4.2 regenerates the 512-bit key as 1024-bit, so clients must re-fetch.
        if versions.key_bits(value) != versions.key_bits(self._version):
            self._key = None
        self._version = value

    @property
    def key(self) -> keys.AgentKey:
        """The agent's key pair, made on first use (1024-bit keys take a while to make)."""
        if self._key is None:
            bits = versions.key_bits(self._version)
            self._key = keys.shared_512() if bits == 512 else keys.generate(bits)
        return self._key

    def rotate_key(self) -> None:
        """Give the agent a new key pair: clients holding the old one get DecryptFailed."""
        self._key = keys.generate(versions.key_bits(self._version))

    def allocate_tenant_id(self) -> int:
        """The next user tenant id (OceanBase gives user tenants even ids, meta tenants odd)."""
        tenant_id = self.next_tenant_id
        self.next_tenant_id += 2
        return tenant_id

    def add_tenant(self, name: str, now: float, *, backup: bool = True) -> Tenant:
        """Create a tenant at `now`; with `backup` its first backup starts a minute later."""
        tenant = Tenant(name=name, tenant_id=self.allocate_tenant_id(), created_at=now)
        if backup:
            tenant.backup = BackupPlan(
                first_start=now + 60, path=destination(self.name, name, "data")
            )
            tenant.archive = ArchivePlan(round_start=now, path=destination(self.name, name, "clog"))
        self.tenants.append(tenant)
        return tenant

    def remove_tenant(self, name: str) -> None:
        """Drop a tenant (its backups and archive rounds disappear with it, as in obshell)."""
        self.tenants = [t for t in self.tenants if t.name != name]


@dataclass
class World:
    """Every simulated cluster; `start` is the simulated moment the scenario was built for."""

    start: float
    seed: int
    clusters: list[Cluster] = field(default_factory=list)


TENANT_NAMES = ("app", "pay", "crm", "erp", "bi", "oms", "wms", "iam")


def new_tenant(cluster: Cluster, position: int, rng: random.Random, start: float) -> Tenant:
    """The cluster's `position`-th user tenant of a scenario, created a month before `start`:
    `app`, `pay`, ... then `app_2`, `pay_2`, ... past the list."""
    base = TENANT_NAMES[position % len(TENANT_NAMES)]
    rounds = position // len(TENANT_NAMES)
    return Tenant(
        name=f"{base}_{rounds + 1}" if rounds else base,
        tenant_id=cluster.allocate_tenant_id(),
        created_at=start - 30 * DAY,
        salt=rng.getrandbits(32),
    )
