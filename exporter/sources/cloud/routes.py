"""OceanBase Cloud's OpenAPI v2 routes, as templates (`:id` an instance): the one place each
is spelled."""

INSTANCES = "/api/v2/instances"
BACKUP_SETS = "/api/v2/instances/:id/backup/data/sets"
BACKUP_SET = "/api/v2/instances/:id/backup/data/sets/:backupTaskId"
RESTORABLE = "/api/v2/instances/:id/backup/restore/tenants"
