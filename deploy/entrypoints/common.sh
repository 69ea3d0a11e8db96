# shellcheck shell=bash
# Sourced by the entry scripts: the environment every component of the
# pipeline shares, identical in a container and on a plain server. Every
# variable read here has a default and is listed in docs/configuration.md.

# The repository root: /opt/medwatch in the image, the checkout elsewhere.
MFM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export MFM_ROOT

# The virtualenv lives inside the root in both cases (the images build it at
# /opt/medwatch/.venv and /opt/medwatch/.venv-superset), so no path differs
# between the two. A script sets mfm_venv before sourcing to pick Superset's.
mfm_venv="${mfm_venv:-${MFM_ROOT}/.venv}"
[ -x "${mfm_venv}/bin/python" ] || { echo "no virtualenv at ${mfm_venv} (make venv)" >&2; exit 69; }
export PATH="${mfm_venv}/bin:${PATH}"
export PYTHONPATH="${MFM_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
export GX_ANALYTICS_ENABLED="${GX_ANALYTICS_ENABLED:-false}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

export VAR_DIR="${VAR_DIR:-${MFM_ROOT}/var}"
export LANDING_DIR="${LANDING_DIR:-${VAR_DIR}/landing}"

# Prints a message to stderr and stops: for a missing required setting.
mfm_die() {
  echo "$(basename "$0"): $*" >&2
  exit 64
}

# require NAME...: every named variable must be set and non-empty.
mfm_require() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || mfm_die "${name} must be set (see docs/configuration.md)"
  done
}
