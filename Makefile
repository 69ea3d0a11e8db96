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

# superset-venv, superset-deploy, superset-up, superset-down, superset-test (docs/superset.md)
include superset_assets/superset.mk

.PHONY: help venv lock demo test test-fast lint pytest warehouse-start warehouse-stop generate pipeline dbt-docs dbt-docs-serve bench clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# uv when it is on PATH (fast), plain pip otherwise; both take requirements.lock as constraints.
$(VENV)/.installed: requirements.txt requirements.lock
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
	  uv pip install -q -p $(PY) -r requirements.txt -c requirements.lock; \
	else \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c requirements.lock; \
	fi
	@# bytecode up front: every Airflow task and dbt call is a fresh process importing Airflow/GX/dbt
	@$(PY) -m compileall -q -j 2 $(VENV)/lib > /dev/null 2>&1 || true
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

# Ends with Superset serving the dashboards (it reads as the BI role that security apply creates).
demo: venv warehouse-start generate pipeline ## set everything up, run the main job on synthetic data, serve Superset
	$(PY) -m warehouse.security apply
	@$(MAKE) --no-print-directory superset-up
	@$(PY) -m pipeline.demo_summary

pipeline: venv ## run daily_monitoring (airflow dags test) for DATE, default the latest complete delivery
	$(PY) -m pipeline.run_local $(if $(DATE),--date $(DATE))

lint: venv ## ruff + sqlfluff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint dbt_project/models dbt_project/tests dbt_project/macros --processes 2

# `make test` is the whole suite and what CI runs: lint, then every test (fast, the
# end-to-end tiers, Superset in a browser) on both cores; tests that share the one real
# DAG run are pinned to one worker (xdist_group). `make test-fast` is the inner loop.
PYTEST_MARKS ?=
PYTEST_WORKERS ?= 2
pytest: venv
	@set +e; $(PY) -m pytest $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadgroup) \
	  $(if $(PYTEST_MARKS),-m "$(PYTEST_MARKS)") $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

test: venv superset-venv lint pytest ## the whole suite: lint + fast + end-to-end + Superset tiers (what .ci/run runs)

test-fast: venv lint ## lint + the tests not marked slow or superset (minutes)
	$(MAKE) pytest PYTEST_MARKS="not slow and not superset"

dbt-docs: venv ## generate dbt docs into dbt_project/target
	$(PY) -m pipeline.dbt_cli docs generate

dbt-docs-serve: dbt-docs ## browse the dbt docs on http://127.0.0.1:8081
	$(PY) -m pipeline.dbt_cli docs serve --port 8081 --no-browser

bench: venv ## benchmarks (not part of make test); results under bench/results/
	$(PY) -m bench.run_all

clean: ## remove runtime state (var/) and build output
	rm -rf var dbt_project/target dbt_project/logs
