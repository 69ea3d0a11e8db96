#!/usr/bin/env bash
# Entry point of the pipeline's one-shot jobs, in a container and on a plain server:
#
#   deploy/entrypoints/pipeline.sh init              schemas, roles, grants, row-level security
#                                                    of WAREHOUSE_URL (python -m warehouse.security apply)
#   deploy/entrypoints/pipeline.sh run-day [DATE]    one single-process daily_monitoring run
#                                                    (python -m pipeline.run_local; default: latest delivery)
#   deploy/entrypoints/pipeline.sh python ARGS...    any module of the repository in the same environment
set -euo pipefail
# shellcheck source=deploy/entrypoints/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

command="${1:-}"
[ -n "${command}" ] || mfm_die "usage: $0 {init|run-day [YYYY-MM-DD]|python ARGS...}"
shift
case "${command}" in
  init)
    mfm_require WAREHOUSE_URL
    mkdir -p "${LANDING_DIR}"
    exec python -m warehouse.security apply
    ;;
  run-day)
    if [ $# -gt 0 ]; then
      exec python -m pipeline.run_local --date "$1"
    fi
    exec python -m pipeline.run_local
    ;;
  python)
    exec python "$@"
    ;;
  *)
    mfm_die "unknown command '${command}'"
    ;;
esac
