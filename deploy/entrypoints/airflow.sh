#!/usr/bin/env bash
# Entry point of every Airflow component, in a container (docker-compose.yml)
# and on a plain server alike:
#
#   deploy/entrypoints/airflow.sh init            migrate the metadata DB, write the login file
#   deploy/entrypoints/airflow.sh api-server      UI + REST + the execution API the workers call
#   deploy/entrypoints/airflow.sh scheduler
#   deploy/entrypoints/airflow.sh dag-processor
#   deploy/entrypoints/airflow.sh triggerer
#   deploy/entrypoints/airflow.sh celery-worker   one Celery worker (AIRFLOW_WORKER_* settings)
#   deploy/entrypoints/airflow.sh health COMPONENT  exit 0 when that component of this host is alive
#                                                 (the compose healthchecks; usable by any monitor)
#   deploy/entrypoints/airflow.sh airflow ARGS... any airflow CLI command in the same environment
#
# Settings come from the caller's environment (in compose: the .env file);
# every one is listed with its default in docs/configuration.md.
set -euo pipefail
# shellcheck source=deploy/entrypoints/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Airflow: state under VAR_DIR, DAGs from the repository, no examples.
export AIRFLOW_HOME="${AIRFLOW_HOME:-${VAR_DIR}/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-${MFM_ROOT}/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
mkdir -p "${AIRFLOW_HOME}"

component="${1:-}"
[ -n "${component}" ] || mfm_die "usage: $0 {init|api-server|scheduler|dag-processor|triggerer|celery-worker|health COMPONENT|airflow ARGS...}"
shift

# A component that shares state with others must not fall back to Airflow's
# private SQLite file: that would silently split the deployment in two.
if [ "${component}" != "airflow" ]; then
  mfm_require AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
fi
# Airflow 3 also opens an async connection and would derive an asyncpg URL,
# a driver the image does not carry: use psycopg 3's async mode instead.
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC:-}" ] \
  && [[ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" == postgresql* ]]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="postgresql+psycopg_async://${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN#*://}"
fi

case "${component}" in
  init)
    # Migrates the metadata DB and creates the pools the DAGs use
    # (warehouse_loads: LOAD_POOL_SLOTS, warehouse_dbt: 1), as `make pipeline` does.
    python -c 'import os; from pipeline.run_local import prepare_airflow; prepare_airflow(dict(os.environ))'
    # The simple auth manager reads its passwords from a JSON file; writing
    # it from the environment keeps the secret in .env only.
    if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
      passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-${AIRFLOW_HOME}/simple_auth_manager_passwords.json}"
      python - "${passwords_file}" "${AIRFLOW_ADMIN_USER:-admin}" <<'PY'
import json, os, sys
path, user = sys.argv[1], sys.argv[2]
with open(path, "w", encoding="utf-8") as f:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
os.chmod(path, 0o600)
PY
    fi
    ;;
  api-server)
    exec airflow api-server --host "${AIRFLOW_API_HOST:-127.0.0.1}" --port "${AIRFLOW_API_PORT:-8080}" \
      --workers "${AIRFLOW_API_WORKERS:-2}" "$@"
    ;;
  scheduler | dag-processor)
    exec airflow "${component}" "$@"
    ;;
  triggerer)
    exec airflow triggerer "$@"
    ;;
  celery-worker)
    mfm_require AIRFLOW__CELERY__BROKER_URL AIRFLOW__CELERY__RESULT_BACKEND
    worker_args=(
      --celery-hostname "${AIRFLOW_WORKER_NAME:-worker}@%h"
      --queues "${AIRFLOW_WORKER_QUEUES:-default}"
      --concurrency "${AIRFLOW_WORKER_CONCURRENCY:-2}"
    )
    # Several workers on one machine would all record the machine's name on
    # their task instances; a named worker records its own name instead.
    if [ -n "${AIRFLOW_WORKER_NAME:-}" ]; then
      export AIRFLOW__CORE__HOSTNAME_CALLABLE="deploy.hostname.worker_hostname"
    fi
    # Heavy libraries the tasks use are imported once by the worker, not by
    # every task process it forks (deploy/celery_config.py).
    export AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS="${AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS:-deploy.celery_config.CELERY_CONFIG}"
    # The log server listens on all interfaces and one port per machine: a
    # second worker on the same machine must skip it (logs are local files).
    if [ "${AIRFLOW_WORKER_SERVE_LOGS:-true}" != "true" ]; then
      worker_args+=(--skip-serve-logs)
    fi
    exec airflow celery worker "${worker_args[@]}" "$@"
    ;;
  health)
    case "${1:-}" in
      api-server)
        exec python -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v2/monitor/health", timeout=10)' "${AIRFLOW_API_PORT:-8080}"
        ;;
      scheduler) exec airflow jobs check --job-type SchedulerJob --local ;;
      dag-processor) exec airflow jobs check --job-type DagProcessorJob --local ;;
      triggerer) exec airflow jobs check --job-type TriggererJob --local ;;
      celery-worker)
        # The worker answers a ping addressed to the name it was started with.
        host="$(python -c 'import socket; print(socket.gethostname())')"
        exec celery --app airflow.providers.celery.executors.celery_executor.app inspect ping \
          --timeout 10 --destination "${AIRFLOW_WORKER_NAME:-worker}@${host}"
        ;;
      *) mfm_die "health: unknown component '${1:-}'" ;;
    esac
    ;;
  airflow)
    exec airflow "$@"
    ;;
  *)
    mfm_die "unknown component '${component}'"
    ;;
esac
