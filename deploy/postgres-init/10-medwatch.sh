#!/usr/bin/env bash
# Creates the three databases of a deployment on one PostgreSQL server, each
# owned by its own login role:
#   WAREHOUSE_DB (medwatch)       owner WAREHOUSE_DB_OWNER (medwatch), CREATEROLE
#   AIRFLOW_DB   (airflow_meta)   owner AIRFLOW_DB_USER (airflow)
#   SUPERSET_DB  (superset_meta)  owner SUPERSET_DB_USER (superset)
# and the warehouse's service roles (warehouse/security.py SERVICE_ROLES and
# HOSPITAL_GROUP), granted to the warehouse owner WITH ADMIN OPTION so the
# pipeline, connected as the owner, can run `python -m warehouse.security
# apply` (grants, row-level security, hospital roles) without superuser.
#
# In the postgres container it runs once, from /docker-entrypoint-initdb.d,
# on an empty data directory. On a plain server run it as a superuser:
#   PGHOST=db.example PGUSER=postgres deploy/postgres-init/10-medwatch.sh
# It is idempotent: existing roles and databases are kept (passwords reset
# when given). Empty password = the role gets none (local trust setups).
set -euo pipefail

psql_admin=(psql -v ON_ERROR_STOP=1 -X -q --dbname postgres)
# The image's init phase passes the superuser as POSTGRES_USER; elsewhere
# psql's own PGUSER/PGHOST apply.
if [ -n "${POSTGRES_USER:-}" ]; then
  psql_admin+=(--username "${POSTGRES_USER}")
fi

# ensure_role NAME PASSWORD LOGIN|NOLOGIN [extra attributes]
ensure_role() {
  "${psql_admin[@]}" -v name="$1" -v pw="$2" -v kind="$3" -v attrs="${4:-}" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I %s %s NOSUPERUSER INHERIT', :'name', :'kind', :'attrs')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I %s', :'name', :'attrs') WHERE :'attrs' <> '' \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'name', :'pw') WHERE :'pw' <> '' \gexec
SQL
}

# ensure_database NAME OWNER: created if missing; only its owner (and superusers) may connect.
ensure_database() {
  "${psql_admin[@]}" -v db="$1" -v owner="$2" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db', :'owner', 'UTF8')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db', :'owner') \gexec
SQL
}

warehouse_db="${WAREHOUSE_DB:-medwatch}"
warehouse_owner="${WAREHOUSE_DB_OWNER:-medwatch}"
airflow_db="${AIRFLOW_DB:-airflow_meta}"
airflow_user="${AIRFLOW_DB_USER:-airflow}"
superset_db="${SUPERSET_DB:-superset_meta}"
superset_user="${SUPERSET_DB_USER:-superset}"

ensure_role "${warehouse_owner}" "${WAREHOUSE_DB_PASSWORD:-}" LOGIN CREATEROLE
ensure_role "${airflow_user}" "${AIRFLOW_DB_PASSWORD:-}" LOGIN
ensure_role "${superset_user}" "${SUPERSET_DB_PASSWORD:-}" LOGIN
ensure_database "${warehouse_db}" "${warehouse_owner}"
ensure_database "${airflow_db}" "${airflow_user}"
ensure_database "${superset_db}" "${superset_user}"

# The service roles (passwords: MFM_*_PASSWORD, set by `warehouse.security apply`).
for role in mfm_loader mfm_transformer mfm_bi_readonly mfm_auditor; do
  ensure_role "${role}" "" LOGIN
done
ensure_role mfm_hospital "" NOLOGIN
"${psql_admin[@]}" -v owner="${warehouse_owner}" -v db="${warehouse_db}" <<'SQL'
SET client_min_messages = warning;
SELECT format('GRANT %I TO %I WITH ADMIN OPTION', r, :'owner')
FROM unnest(ARRAY['mfm_loader', 'mfm_transformer', 'mfm_bi_readonly', 'mfm_auditor', 'mfm_hospital']) AS r \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', r)
FROM unnest(ARRAY['mfm_loader', 'mfm_transformer', 'mfm_bi_readonly', 'mfm_auditor', 'mfm_hospital']) AS r \gexec
SQL
echo "10-medwatch.sh: databases ${warehouse_db}, ${airflow_db}, ${superset_db} ready"
