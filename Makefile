# 医保基金智能监控数仓 — the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY_SYS ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
VAR_DIR ?= $(CURDIR)/var
LANDING_DIR ?= $(VAR_DIR)/landing
DEMO_START ?= 2024-01-01
DEMO_DAYS ?= 60
export VAR_DIR LANDING_DIR
export GX_ANALYTICS_ENABLED := false
export XDG_RUNTIME_DIR ?= /tmp
export PYTHONPATH := $(CURDIR)

.PHONY: help venv lock demo test test-all lint pytest warehouse-start warehouse-stop generate load pipeline dbt-build dbt-docs bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# uv when it is on PATH (fast), plain pip otherwise; both take requirements.lock as constraints.
$(VENV)/.installed: requirements.txt requirements.lock
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
	  uv pip install -q -p $(PY) -r requirements.txt -c requirements.lock; \
	else \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock; \
	fi
	@touch $@

venv: $(VENV)/.installed ## create the pipeline virtualenv

lock: ## re-resolve requirements.lock from requirements.txt (needs uv)
	uv pip compile requirements.txt -p 3.11 --no-header -o requirements.lock

warehouse-start: venv ## start the embedded PostgreSQL (only used when WAREHOUSE_URL is unset)
	@if [ -z "$$WAREHOUSE_URL" ]; then $(PY) -m warehouse.embedded start; else echo "WAREHOUSE_URL is set: using $$WAREHOUSE_URL"; fi

warehouse-stop: venv ## stop the embedded PostgreSQL
	$(PY) -m warehouse.embedded stop

generate: venv ## write DEMO_DAYS days of synthetic deliveries into LANDING_DIR
	$(PY) -m synthetic generate --out $(LANDING_DIR) --start $(DEMO_START) --days $(DEMO_DAYS) --seed 42 --encoding mix

demo: venv warehouse-start generate pipeline ## set everything up and run the main job on synthetic data
	@$(PY) -m pipeline.demo_summary

pipeline: venv ## run the daily_monitoring DAG for the latest complete delivery (airflow dags test)
	$(PY) -m pipeline.run_local

lint: venv ## ruff + sqlfluff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests dbt_project/macros --processes 2

PYTEST_MARKS ?= not slow and not superset
pytest: venv
	@set +e; $(PY) -m pytest $(if $(PYTEST_MARKS),-m "$(PYTEST_MARKS)") $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

# `make test` is what CI runs: lint + every test not marked slow/superset.
# `make test-all` adds the end-to-end tiers (pipeline e2e, rules vs ground truth,
# marts/security, Celery scale-out, Superset in a browser); see docs/testing.md.
test: venv lint pytest ## lint + the fast suite (what .ci/run runs)

test-all: venv lint ## everything, incl. slow end-to-end and Superset browser tests
	$(MAKE) pytest PYTEST_MARKS=""

dbt-docs: venv ## generate dbt docs into dbt_project/target (browse: make dbt-docs-serve)
	$(PY) -m pipeline.dbt_cli docs generate

bench: venv ## benchmarks (not part of make test); results under bench/results/
	$(PY) -m bench.run_all

clean: ## remove runtime state (var/) and build output
	rm -rf var dbt_project/target dbt_project/logs
