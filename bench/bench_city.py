"""One city-scale day end to end through the real daily_monitoring DAG (issue 10).

  python -m bench.bench_city [--history-db history] [--only day1|day31] [--keep] [--tag before]

The day is the synthetic generator's city day written as deliveries
(`python -m synthetic generate --scale city`, landing var/bench/city_landing;
its reference snapshot is loaded into the prepared databases by the real
loader). Two scenarios, each on a file-level copy of a prepared database:
- day 1: mfm_bench_ref (empty warehouse + the same reference data);
- day 31: mfm_bench_history (30 synthesized history days, built by dbt; see
  bench/history.py and `python -m bench.bench_rules --prepare`).
In each: the baselines (a plain typed COPY of the day's files, as
bench/bench_ingestion.py does it, into scratch tables that are dropped
again), then `python -m pipeline.run_local --date D` (`airflow dags test
daily_monitoring D`) with a private AIRFLOW_HOME, dbt target and exports
folder, a sampler recording the RSS of the process tree and the private
memory (USS) of the database's backends every 0.5 s, and afterwards one
full scan of the day's fee lines. Stages come from Airflow's task instances
(discover, each load task, dbt_build, exports, summary), the loader's ledger
timings (phases of each kind) and dbt's run_results.json (staging,
catalogue, intermediate, each rule, marts, tests).
Targets: whole day < 5 min; loading within 2 x plain COPY; day-31 <= 1.2 x day-1.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench import history
from bench.bench_ingestion import baseline_copy
from bench.bench_rules import layer_summary, prepare_reference
from bench.common import (
    BENCH_VAR,
    MemorySampler,
    copy_database,
    database_exists,
    disk_free_gb,
    drop_database,
    full_scan_baseline,
    layer_of,
    load_average,
    log,
    md_table,
    pipeline_env,
    run_results,
    target_dir,
    write_result,
)
from warehouse.config import REPO_ROOT

DAY = date(2024, 3, 31)


def task_windows(airflow_db: Path) -> list[dict[str, Any]]:
    """Every task instance of the run: id, map label, start, end (epoch seconds), state."""
    with sqlite3.connect(airflow_db) as conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(task_instance)")}
        label = "rendered_map_index" if "rendered_map_index" in cols else "map_index"
        rows = conn.execute(f"SELECT task_id, map_index, {label}, start_date, end_date, state FROM task_instance"
                            " ORDER BY start_date").fetchall()
    out = []
    for task_id, map_index, lab, start, end, state in rows:
        out.append({"task": task_id, "map_index": map_index, "label": lab if map_index >= 0 else None,
                    "started": _ts(start), "completed": _ts(end), "state": state})
    return out


def _ts(v: Any) -> float | None:
    if v is None:
        return None
    s = str(v).replace(" ", "T")
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def ledger(url: str, day: date) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT kind, rows_loaded, rows_quarantined, status, duration_ms, timings FROM meta.load_log"
            " WHERE section = 'daily' AND business_date = %s AND file_name IS NULL ORDER BY load_id", (day,)).fetchall()
    return [{"kind": r[0], "rows_loaded": r[1], "rows_quarantined": r[2], "status": r[3],
             "seconds": (r[4] or 0) / 1000, "phases": r[5]} for r in rows]


def scenario(name: str, template: str, day: date, landing: Path, keep: bool) -> dict[str, Any]:
    log(f"scenario {name}: copy of mfm_bench_{template}; the DAG for {day}")
    url = copy_database(template, f"city_{name}")
    home = BENCH_VAR / f"airflow_city_{name}"
    tgt = target_dir(f"city_{name}")
    exports = BENCH_VAR / f"exports_city_{name}"
    folder = landing / "daily" / day.isoformat()
    try:
        for p in (home, exports):
            subprocess.run(["rm", "-rf", str(p)], check=True)
        copy_rows, copy_s = baseline_copy(url, folder)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA bench_base CASCADE")  # the DAG starts on the same disk/cache conditions
        log(f"baseline plain COPY: {copy_rows:,} rows in {copy_s:.1f}s")
        env = pipeline_env(url, LANDING_DIR=str(landing), AIRFLOW_HOME=str(home), EXPORTS_DIR=str(exports),
                           DBT_TARGET_PATH=str(tgt), DBT_LOG_PATH=str(tgt / "logs"))
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
        load0 = load_average()
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.run_local", "--date", day.isoformat()], env=env,
                                cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler = MemorySampler(proc.pid, url).start()
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-60:]
        rc = proc.wait()
        wall = time.time() - t0
        sampler.stop()
        log(f"DAG run exit {rc} in {wall:.0f}s")
        scan = full_scan_baseline(url, day.isoformat())
        tasks = task_windows(home / "airflow.db")
        stages = []
        for t in tasks:
            if t["started"] and t["completed"]:
                stages.append({"stage": t["task"] + (f" [{t['label']}]" if t["label"] else ""), "state": t["state"],
                               "seconds": round(t["completed"] - t["started"], 1),
                               **sampler.peak(t["started"], t["completed"])})
        nodes = run_results(tgt) if (tgt / "run_results.json").is_file() else []
        layers = layer_summary(nodes)
        dbt_stages = []
        for layer in ("staging", "catalogue", "intermediate", "marts", "tests"):
            sel = [n for n in nodes if layer_of(n) == layer and n["started"]]
            if sel:
                s, e = min(n["started"] for n in sel), max(n["completed"] for n in sel)
                dbt_stages.append({"stage": f"dbt {layer}", "seconds": layers[layer]["wall_s"],
                                   "sum_s": layers[layer]["sum_s"], **sampler.peak(s, e)})
        for n in sorted((n for n in nodes if n["type"] == "model" and n["name"].startswith("rule_")),
                        key=lambda n: n["name"]):
            dbt_stages.append({"stage": f"dbt {n['name']}", "seconds": n["seconds"],
                               **sampler.peak(n["started"], n["completed"])})
        first = min((t["started"] for t in tasks if t["started"]), default=t0)
        last = max((t["completed"] for t in tasks if t["completed"]), default=t0 + wall)
        loads = [s for s in stages if s["stage"].startswith("load_daily")]
        load_s = sum(s["seconds"] for s in loads)
        res = {
            "scenario": name, "day": day.isoformat(), "exit_code": rc, "process_wall_s": round(wall, 1),
            "dag_wall_s": round(last - first, 1), "load_average_start": load0, "load_average_end": load_average(),
            "baseline_copy": {"rows": copy_rows, "seconds": round(copy_s, 1)}, "baseline_scan": scan,
            "load_tasks_s": round(load_s, 1), "load_x_copy": round(load_s / copy_s, 2) if copy_s else None,
            "stages": stages, "dbt_stages": dbt_stages, "ledger": ledger(url, day),
            "peak_overall": sampler.peak(), "failed_nodes": [n["unique_id"] for n in nodes
                                                             if n["status"] in ("error", "fail")],
            "slowest_dbt_nodes": sorted(({"node": n["unique_id"], "seconds": n["seconds"]} for n in nodes),
                                        key=lambda x: -x["seconds"])[:15],
            "log_tail": tail[-25:] if rc else [], "disk_free_gb": disk_free_gb(),
        }
        log(f"scenario {name}: DAG {res['dag_wall_s']}s; loads {load_s:.0f}s = {res['load_x_copy']}x COPY")
        return res
    finally:
        if not keep:
            drop_database(f"city_{name}")


def report(results: dict[str, Any]) -> str:
    md = ["# One city-scale day through daily_monitoring (issue 10)\n\n",
          f"Measured {time.strftime('%Y-%m-%d %H:%M')}; {results.get('note', '')}\n"]
    for key in ("day1", "day31"):
        sc = results.get(key)
        if not sc:
            continue
        md.append(f"\n## {key}: {sc['day']}, exit {sc['exit_code']} (load average {sc['load_average_start']} -> "
                  f"{sc['load_average_end']})\n\n"
                  f"- whole DAG run: **{sc['dag_wall_s']} s** (process incl. airflow start {sc['process_wall_s']} s; "
                  "target < 300 s)\n"
                  f"- baselines: plain COPY {sc['baseline_copy']['rows']:,} rows in {sc['baseline_copy']['seconds']} s; "
                  f"full scan of the day's fee lines {sc['baseline_scan']['rows']:,} rows in "
                  f"{sc['baseline_scan']['seconds']} s\n"
                  f"- load tasks: {sc['load_tasks_s']} s = **{sc['load_x_copy']} x COPY** (target <= 2)\n\n")
        md.append(md_table(("stage", "seconds", "peak client RSS MB", "peak db backends USS MB"),
                           [(s["stage"], s["seconds"], s["client_rss_mb"], s["db_backends_uss_mb"])
                            for s in sc["stages"] + sc["dbt_stages"]]))
        md.append("\nLoader ledger (phases per kind, seconds):\n\n")
        md.append(md_table(("kind", "rows", "seconds", "phases"),
                           [(x["kind"], x["rows_loaded"], x["seconds"], json.dumps(x["phases"])) for x in sc["ledger"]]))
    if results.get("ratio") is not None:
        md.append(f"\n**day-31 / day-1 = {results['ratio']}** (target <= 1.2)\n")
    return "".join(md)


def run(history_db: str = "history", day: date = DAY, landing: Path = history.DEFAULT_LANDING,
        only: str | None = None, keep: bool = False, tag: str = "", note: str = "") -> dict[str, Any]:
    history.generate_landing(landing, day)
    results: dict[str, Any] = {"note": note, "load_average_start": load_average()}
    if only in (None, "day1"):
        prepare_reference(landing, day - timedelta(days=30))
        results["day1"] = scenario("day1", "ref", day, landing, keep)
    if only in (None, "day31"):
        if not database_exists(history_db):
            raise SystemExit(f"mfm_bench_{history_db} is missing: python -m bench.bench_rules --prepare first")
        results["day31"] = scenario("day31", history_db, day, landing, keep)
    if results.get("day1") and results.get("day31"):
        results["ratio"] = round(results["day31"]["dag_wall_s"] / results["day1"]["dag_wall_s"], 2)
    name = "city" + (f"_{tag}" if tag else "") + (f"_{only}" if only else "")
    write_result(name, results, report(results))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--history-db", default="history")
    ap.add_argument("--day", type=date.fromisoformat, default=DAY)
    ap.add_argument("--landing", type=Path, default=history.DEFAULT_LANDING)
    ap.add_argument("--only", choices=["day1", "day31"])
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--tag", default="")
    ap.add_argument("--note", default="", help="free text recorded with the figures (e.g. 'before ingestion work')")
    args = ap.parse_args(argv)
    res = run(args.history_db, args.day, args.landing, args.only, args.keep, args.tag, args.note)
    return 0 if all(res.get(k, {}).get("exit_code", 0) == 0 for k in ("day1", "day31")) else 1


if __name__ == "__main__":
    raise SystemExit(main())
