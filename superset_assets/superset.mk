# Superset targets; included by the main Makefile (`include superset_assets/superset.mk`),
# also usable alone: `make -f superset_assets/superset.mk superset-venv`.
#
#   superset-venv    Superset's own virtualenv (.venv-superset) from requirements-superset.{txt,lock}
#   superset-deploy  metadata DB migrations + assets, roles, RLS, users, reports (idempotent)
#   superset-up      SMTP sink, Superset web (gunicorn), Celery worker and beat; prints URL and logins
#   superset-down    stops what superset-up started (by process group)
SHELL := /bin/bash
PY_SYS ?= python3.11
SUPERSET_VENV ?= .venv-superset
SUPERSET_PY := $(SUPERSET_VENV)/bin/python
SUPERSET_PORT ?= 8088
SMTP_PORT ?= 8025
SUPERSET_RUN_DIR ?= $(CURDIR)/var/superset
SUPERSET_META_URL ?= postgresql+psycopg2://root@127.0.0.1:5432/superset_meta
export SUPERSET_CONFIG_PATH := $(CURDIR)/superset_assets/superset_config.py
export SUPERSET_BASE_URL ?= http://127.0.0.1:$(SUPERSET_PORT)/
export SUPERSET_META_URL SMTP_PORT
export PYTHONPATH := $(CURDIR)
export SCARF_ANALYTICS := false
export FLASK_APP := superset

.PHONY: superset-venv superset-deploy superset-up superset-down

# uv when available (seconds), pip otherwise; the lock is used as constraints either way.
$(SUPERSET_VENV)/.installed: requirements-superset.txt requirements-superset.lock
	@test -x $(SUPERSET_PY) || $(PY_SYS) -m venv $(SUPERSET_VENV)
	@UV=$$(command -v uv || ls /tmp/bootstrap/bin/uv 2>/dev/null || true); \
	if [ -n "$$UV" ]; then \
	  $$UV pip install -q -p $(SUPERSET_PY) -r requirements-superset.txt -c requirements-superset.lock; \
	else \
	  $(SUPERSET_PY) -m pip install -q --disable-pip-version-check -r requirements-superset.txt -c requirements-superset.lock; \
	fi
	@touch $@

superset-venv: $(SUPERSET_VENV)/.installed ## Superset's own virtualenv

superset-lock: ## re-resolve requirements-superset.lock (needs uv)
	uv pip compile requirements-superset.txt -p 3.11 --no-header -o requirements-superset.lock

superset-deploy: superset-venv ## migrate Superset's metadata DB and deploy assets, roles, RLS, users, reports
	@$(SUPERSET_PY) -c "import sys; from urllib.parse import urlparse; import psycopg2; u = urlparse(sys.argv[1].replace('+psycopg2', '')); \
	c = psycopg2.connect(sys.argv[1].replace('+psycopg2', '').replace(u.path, '/postgres')); c.autocommit = True; cur = c.cursor(); \
	cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (u.path[1:],)); cur.fetchone() or cur.execute('CREATE DATABASE \"%s\"' % u.path[1:])" "$(SUPERSET_META_URL)"
	$(SUPERSET_VENV)/bin/superset db upgrade
	$(SUPERSET_VENV)/bin/superset init
	$(SUPERSET_PY) -m superset_assets.deploy deploy

superset-up: superset-deploy ## start SMTP sink, Superset, Celery worker + beat (127.0.0.1 only)
	@mkdir -p $(SUPERSET_RUN_DIR) var/mail
	@setsid $(SUPERSET_PY) -m superset_assets.smtp_sink --port $(SMTP_PORT) --dir var/mail \
	  > $(SUPERSET_RUN_DIR)/smtp.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/smtp.pid
	@setsid $(SUPERSET_VENV)/bin/gunicorn -w 2 -k gthread --threads 4 --timeout 120 -b 127.0.0.1:$(SUPERSET_PORT) \
	  "superset.app:create_app()" > $(SUPERSET_RUN_DIR)/web.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/web.pid
	@setsid $(SUPERSET_VENV)/bin/celery --app=superset.tasks.celery_app:app worker --concurrency=1 --pool=prefork \
	  > $(SUPERSET_RUN_DIR)/worker.log 2>&1 < /dev/null & echo $$! > $(SUPERSET_RUN_DIR)/worker.pid
	@setsid $(SUPERSET_VENV)/bin/celery --app=superset.tasks.celery_app:app beat \
	  --schedule $(SUPERSET_RUN_DIR)/celerybeat-schedule > $(SUPERSET_RUN_DIR)/beat.log 2>&1 < /dev/null & \
	  echo $$! > $(SUPERSET_RUN_DIR)/beat.pid
	@for i in $$(seq 1 120); do curl -sf -o /dev/null http://127.0.0.1:$(SUPERSET_PORT)/health && break; sleep 1; done
	@echo "Superset: http://127.0.0.1:$(SUPERSET_PORT)/  (mail sink: var/mail)"
	@echo "logins (password $${SUPERSET_DEMO_PASSWORD:-demo}): auditor, manager, and the hospital users hosp_<code> listed by deploy"

superset-down: ## stop the processes superset-up started
	@for p in beat worker web smtp; do \
	  f=$(SUPERSET_RUN_DIR)/$$p.pid; if [ -f $$f ]; then kill -TERM -- -$$(cat $$f) 2>/dev/null || true; rm -f $$f; fi; \
	done
