#!/usr/bin/env bash
# Restore of a warehouse backup (docs/operations.md, "Restore"):
#
#   deploy/restore.sh DUMP_FILE TARGET_URL
#
# restores DUMP_FILE (from deploy/backup.sh) into the database TARGET_URL,
# which must exist and be empty (create it with deploy/postgres-init/10-medwatch.sh
# or createdb). Objects are owned by TARGET_URL's user; privileges, roles and
# row-level security are then re-applied from the code
# (python -m warehouse.security apply), so the result matches the running
# release even if the backup came from an older one. Stops at the first error.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 DUMP_FILE TARGET_URL" >&2; exit 64; }
dump="$1"
target="$2"
[ -s "${dump}" ] || { echo "restore.sh: ${dump} missing or empty" >&2; exit 66; }
tables="$(psql "${target}" -XAtqc "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')")"
[ "${tables}" = "0" ] || { echo "restore.sh: target database is not empty (${tables} tables)" >&2; exit 65; }

pg_restore --dbname "${target}" --no-owner --no-privileges --exit-on-error --jobs 2 "${dump}"
WAREHOUSE_URL="${target}" "$(dirname "${BASH_SOURCE[0]}")/entrypoints/pipeline.sh" init
