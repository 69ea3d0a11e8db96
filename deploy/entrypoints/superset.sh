#!/usr/bin/env bash
# Entry point of every Superset component, in a container and on a plain server:
#
#   deploy/entrypoints/superset.sh init     migrate the metadata DB, then deploy admin, dashboards,
#                                           roles, RLS, reports (python -m superset_assets.deploy deploy)
#   deploy/entrypoints/superset.sh web      gunicorn on SUPERSET_HOST:SUPERSET_PORT
#   deploy/entrypoints/superset.sh worker   Celery worker (alerts & reports, async queries)
#   deploy/entrypoints/superset.sh beat     Celery beat (the reports scheduler)
#   deploy/entrypoints/superset.sh health web|worker|beat   exit 0 when it is alive (compose healthchecks)
#   deploy/entrypoints/superset.sh superset ARGS...   any superset CLI command
#
# Superset runs from its own virtualenv (.venv-superset): it pins libraries
# the pipeline's cannot share. Settings: docs/configuration.md.
set -euo pipefail
mfm_venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv-superset"
# shellcheck source=deploy/entrypoints/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export SUPERSET_CONFIG_PATH="${SUPERSET_CONFIG_PATH:-${MFM_ROOT}/superset_assets/superset_config.py}"
export FLASK_APP=superset
export SCARF_ANALYTICS=false
celery_app="superset.tasks.celery_app:app"

component="${1:-}"
[ -n "${component}" ] || mfm_die "usage: $0 {init|web|worker|beat|health COMPONENT|superset ARGS...}"
shift
if [ "${component}" != "superset" ] && [ "${component}" != "health" ]; then
  mfm_require SUPERSET_META_URL SUPERSET_SECRET_KEY
fi

case "${component}" in
  init)
    # deploy.py upserts the admin (SUPERSET_ADMIN_USER) with this password:
    # its demo default must never reach a server.
    mfm_require SUPERSET_ADMIN_PASSWORD
    superset db upgrade
    superset init
    exec python -m superset_assets.deploy deploy
    ;;
  web)
    exec gunicorn --bind "${SUPERSET_HOST:-127.0.0.1}:${SUPERSET_PORT:-8088}" \
      --workers "${SUPERSET_WEB_WORKERS:-2}" --worker-class gthread --threads 4 \
      --timeout 120 --limit-request-line 0 --limit-request-field_size 0 \
      "superset.app:create_app()"
    ;;
  worker)
    exec celery --app="${celery_app}" worker --pool=prefork -O fair \
      --concurrency="${SUPERSET_WORKER_CONCURRENCY:-2}" --hostname "superset@%h"
    ;;
  beat)
    mkdir -p "${VAR_DIR}/superset"
    exec celery --app="${celery_app}" beat --schedule "${VAR_DIR}/superset/celerybeat-schedule" \
      --pidfile=
    ;;
  health)
    case "${1:-}" in
      web)
        exec python -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=10)' "${SUPERSET_PORT:-8088}"
        ;;
      worker)
        host="$(python -c 'import socket; print(socket.gethostname())')"
        exec celery --app="${celery_app}" inspect ping --timeout 10 --destination "superset@${host}"
        ;;
      beat) test -s "${VAR_DIR}/superset/celerybeat-schedule" ;;
      *) mfm_die "health: unknown component '${1:-}'" ;;
    esac
    ;;
  superset)
    exec superset "$@"
    ;;
  *)
    mfm_die "unknown component '${component}'"
    ;;
esac
