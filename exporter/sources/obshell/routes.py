"""obshell's routes, as templates (`:name` is a tenant): the one place each is spelled.

From obshell's router (oceanbase/obshell: ob/agent/api/agent_route.go, backup_route.go,
restore_route.go and tenant_handler.go).
"""

INFO = "/api/v1/info"
SECRET = "/api/v1/secret"  # noqa: S105 - a route, not a password
OB_INFO = "/api/v1/ob/info"
TENANTS = "/api/v1/tenants/overview"
CLUSTER_BACKUP = "/api/v1/obcluster/backup/overview"
TENANT_BACKUP = "/api/v1/tenant/:name/backup/overview"
BACKUP_INFO = "/api/v1/tenant/:name/backup/info"
LOG_TASKS = "/api/v1/tenant/:name/backup/log/tasks"
BACKUP_JOBS = "/api/v1/tenant/:name/backup/tasks"
RESTORE_TASKS = "/api/v1/restore/tasks"
RESTORE_OVERVIEW = "/api/v1/tenant/:name/restore/overview"

# Routes added in obshell 4.3.2; older agents answer them with the unknown-route 404.
OPTIONAL_ROUTES = frozenset({BACKUP_INFO, LOG_TASKS, BACKUP_JOBS, RESTORE_TASKS})
# Every route of obshell's backup API: a 4.2.2/4.2.3 agent has none of them.
BACKUP_API = (
    TENANTS,
    CLUSTER_BACKUP,
    TENANT_BACKUP,
    RESTORE_OVERVIEW,
    BACKUP_INFO,
    LOG_TASKS,
    BACKUP_JOBS,
    RESTORE_TASKS,
)
