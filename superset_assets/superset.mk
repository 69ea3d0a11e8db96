# Superset targets; included by the main Makefile (`include superset_assets/superset.mk`),
# also usable alone: `make -f superset_assets/superset.mk superset-venv`.
#
#   superset-venv    Superset's own virtualenv (.venv-superset) from requirements-superset.{txt,lock}
#   superset-deploy  metadata DB + migrations + assets, roles, RLS, users, reports (idempotent)
#   superset-up      (re)starts SMTP sink, Superset web (gunicorn), Celery worker and beat
#   superset-down    stops what superset-up started (by process group)
#   superset-report  runs one report schedule now (mail with the snapshot to the SMTP sink)
#   superset-test    tests/test_superset.py (builds its own small warehouse; ~6 min)
#
# Settings are environment variables read by superset_assets/settings.py (docs/configuration.md).
# With WAREHOUSE_URL unset everything uses the embedded PostgreSQL under $(VAR_DIR)/pg, which
# `make warehouse-start` (or `make demo`) starts.
SHELL := /bin/bash
PY_SYS ?= python3.11
VENV ?= .venv
SUPERSET_VENV ?= .venv-superset
SUPERSET_PY := $(SUPERSET_VENV)/bin/python
VAR_DIR ?= $(CURDIR)/var
SUPERSET_PORT ?= 8088
SMTP_PORT ?= 8025
SUPERSET_RUN_DIR ?= $(VAR_DIR)/superset
SUPERSET_MAIL_DIR ?= $(VAR_DIR)/mail
SUPERSET_WEB_WORKERS ?= 2
# SMTP_PORT is not exported: the pipeline's failure alerts read it too (default 25); Superset's
# default (8025) is the sink's, and a value from the environment reaches both anyway.
export VAR_DIR SUPERSET_PORT SUPERSET_RUN_DIR SUPERSET_MAIL_DIR
export SUPERSET_CONFIG_PATH := $(CURDIR)/superset_assets/superset_config.py
export PYTHONPATH := $(CURDIR)
export SCARF_ANALYTICS := false
export FLASK_APP := superset
export GX_ANALYTICS_ENABLED := false
export XDG_RUNTIME_DIR ?= /tmp

.PHONY: superset-venv superset-lock superset-deploy superset-up superset-down superset-report superset-test

# uv when available (seconds), pip otherwise; the lock is used as constraints either way.
$(SUPERSET_VENV)/.installed: requirements-superset.txt requirements-superset.lock
	@test -x $(SUPERSET_PY) || $(PY_SYS) -m venv $(SUPERSET_VENV)
	@UV=$$(command -v uv || ls $$HOME/.local/bin/uv 2>/dev/null || true); \
	if [ -n "$$UV" ]; then \
	  $$UV pip install -q -p $(SUPERSET_PY) -r requirements-superset.txt -c requirements-superset.lock; \
	else \
	  $(SUPERSET_PY) -m pip install -q --disable-pip-version-check -r requirements-superset.txt -c requirements-superset.lock; \
	fi
	@touch $@

superset-venv: $(SUPERSET_VENV)/.installed ## Superset's own virtualenv

superset-lock: ## re-resolve requirements-superset.lock (needs uv)
	uv pip compile requirements-superset.txt -p 3.11 --no-header -o requirements-superset.lock

superset-deploy: superset-venv ## create + migrate Superset's metadata DB, deploy assets, roles, RLS, users, reports
	@mkdir -p $(SUPERSET_RUN_DIR)
	@$(SUPERSET_PY) -m superset_assets.deploy ensure-metadata-db | tail -1
	@for step in "db upgrade" "init"; do \
	  $(SUPERSET_VENV)/bin/superset $$step > $(SUPERSET_RUN_DIR)/superset-cli.log 2>&1 \
	    || { tail -30 $(SUPERSET_RUN_DIR)/superset-cli.log; exit 1; }; \
	done
	@$(SUPERSET_PY) -m superset_assets.deploy deploy > $(SUPERSET_RUN_DIR)/deploy.out 2> $(SUPERSET_RUN_DIR)/deploy.log \
	  || { tail -30 $(SUPERSET_RUN_DIR)/deploy.log; tail -1 $(SUPERSET_RUN_DIR)/deploy.out; exit 1; }
	@echo "superset deploy: $$(tail -1 $(SUPERSET_RUN_DIR)/deploy.out)"

# Each process in its own session (setsid) so superset-down stops it with its children.
superset-up: superset-deploy superset-down ## (re)start SMTP sink, Superset web, Celery worker + beat (127.0.0.1 only)
	@mkdir -p $(SUPERSET_RUN_DIR) $(SUPERSET_MAIL_DIR)
	@setsid $(SUPERSET_PY) -m superset_assets.smtp_sink --port $(SMTP_PORT) --dir $(SUPERSET_MAIL_DIR) \
	  > $(SUPERSET_RUN_DIR)/smtp.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/smtp.pid
	@setsid $(SUPERSET_VENV)/bin/gunicorn -w $(SUPERSET_WEB_WORKERS) -k gthread --threads 4 --timeout 120 \
	  -b 127.0.0.1:$(SUPERSET_PORT) "superset.app:create_app()" \
	  > $(SUPERSET_RUN_DIR)/web.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/web.pid
	@setsid $(SUPERSET_VENV)/bin/celery --app=superset.tasks.celery_app:app worker --concurrency=1 --pool=prefork \
	  > $(SUPERSET_RUN_DIR)/worker.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/worker.pid
	@setsid $(SUPERSET_VENV)/bin/celery --app=superset.tasks.celery_app:app beat \
	  --schedule $(SUPERSET_RUN_DIR)/celerybeat-schedule > $(SUPERSET_RUN_DIR)/beat.log 2>&1 < /dev/null & \
	  echo $$! > $(SUPERSET_RUN_DIR)/beat.pid
	@for i in $$(seq 1 180); do curl -sf -o /dev/null http://127.0.0.1:$(SUPERSET_PORT)/health && break; sleep 1; done; \
	curl -sf -o /dev/null http://127.0.0.1:$(SUPERSET_PORT)/health \
	  || { echo "Superset did not answer on port $(SUPERSET_PORT); see $(SUPERSET_RUN_DIR)/web.log"; tail -20 $(SUPERSET_RUN_DIR)/web.log; exit 1; }
	@echo "Superset is up: http://127.0.0.1:$(SUPERSET_PORT)/ (logs and pids under $(SUPERSET_RUN_DIR), mail under $(SUPERSET_MAIL_DIR))"

superset-down: ## stop the processes superset-up started
	@for p in beat worker web smtp; do \
	  f=$(SUPERSET_RUN_DIR)/$$p.pid; if [ -f $$f ]; then kill -TERM -- -$$(cat $$f) 2>/dev/null || true; rm -f $$f; fi; \
	done

SUPERSET_REPORT ?= weekly_fund_overview
superset-report: superset-venv ## run one report now (SUPERSET_REPORT=weekly_fund_overview): mail to the sink
	@mkdir -p $(SUPERSET_RUN_DIR)
	@$(SUPERSET_PY) -m superset_assets.deploy run-report $(SUPERSET_REPORT) 2> $(SUPERSET_RUN_DIR)/report.log | tail -1

superset-test: superset-venv ## Superset end to end (real server + headless Chromium); PNGs in $(VAR_DIR)/artifacts/screenshots
	@test -x $(VENV)/bin/python || $(MAKE) -f $(CURDIR)/Makefile venv
	@test -x "$${CHROMIUM_BIN:-/usr/bin/chromium}" || { echo "needs Debian's chromium + chromium-driver: deploy/apt-packages.sh"; exit 1; }
	$(VENV)/bin/python -m pytest tests/test_superset.py -m superset -p no:cacheprovider $(PYTEST_ARGS)
