"""OCP's API v2 routes, as templates (`:id` a cluster, `:tenantId` a tenant, OCP's own ids):
the one place each is spelled."""

CLUSTERS = "/api/v2/ob/clusters"
OVERVIEW = "/api/v2/ob/clusters/:id/backup/overview"
TENANTS = "/api/v2/ob/clusters/:id/tenants"
_TASKS = "/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task"
DATA_TASKS = f"{_TASKS}/dataBackupTasks"
LOG_TASKS = f"{_TASKS}/logBackupTasks"
RESTORE_TASKS = f"{_TASKS}/restoreTasks"
