#!/usr/bin/env bash
# Backup of the warehouse (docs/operations.md, "Backups"):
#
#   deploy/backup.sh [OUT_DIR]
#
# writes OUT_DIR/<db>-<UTC stamp>.dump (pg_dump custom format: compressed,
# restorable table by table) and OUT_DIR/roles-<UTC stamp>.sql (the server's
# roles without passwords; the project's roles are cluster-wide, the dump's
# grants and row-level security policies need them). The database is
# WAREHOUSE_URL, or BACKUP_DATABASE_URL to back up another one (Airflow's or
# Superset's metadata). OUT_DIR defaults to BACKUP_DIR, else $VAR_DIR/backups.
# Prints the dump's path. pg_dump takes a consistent snapshot while the
# pipeline keeps running.
set -euo pipefail
url="${BACKUP_DATABASE_URL:-${WAREHOUSE_URL:-}}"
[ -n "${url}" ] || { echo "backup.sh: set WAREHOUSE_URL (or BACKUP_DATABASE_URL)" >&2; exit 64; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${1:-${BACKUP_DIR:-${VAR_DIR:-${root}/var}/backups}}"
mkdir -p "${out_dir}"

db="$(psql "${url}" -XAtqc 'select current_database()')"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dump="${out_dir}/${db}-${stamp}.dump"
# Written under a temporary name and renamed: a crashed backup never looks complete.
pg_dump --dbname "${url}" --format=custom --compress=6 --file "${dump}.partial"
pg_dumpall --dbname "${url}" --roles-only --no-role-passwords --file "${out_dir}/roles-${stamp}.sql" \
  || echo "backup.sh: roles not dumped (needs a role that may read pg_roles); the dump itself is complete" >&2
mv "${dump}.partial" "${dump}"
echo "${dump}"
