"""Every benchmark, or a selection: `make bench` = `python -m bench.run_all`.

  python -m bench.run_all [--only ingestion,rules,city,dashboards] [--history-scale 1.0] [--tag TAG] [--drop]

Needs WAREHOUSE_URL pointing at a PostgreSQL server (any database: every
benchmark works in its own mfm_bench_* databases). Order: ingestion (its own
script, bench/bench_ingestion.py), rules (prepares mfm_bench_ref and
mfm_bench_history when missing: 30 synthesized days + one dbt build), city
(reuses both), dashboards. Each writes bench/results/<name>.{json,md}; this
script adds bench/results/summary.{json,md} with the targets met or missed.
--drop removes the big databases at the end (mfm_bench_history is ~8 GB at
scale 0.2, ~40 GB at 1.0: check `df -h /` first).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench import bench_city, bench_dashboards, bench_rules
from bench.common import (
    RESULTS_DIR,
    drop_database,
    load_average,
    log,
    md_table,
    pipeline_env,
    server_url,
    write_result,
)
from warehouse.config import REPO_ROOT

ALL = ("ingestion", "rules", "city", "dashboards")


def run_ingestion() -> dict[str, Any]:
    """bench/bench_ingestion.py belongs to the ingestion work: run it as it is and read its result file."""
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bench.bench_ingestion"], cwd=REPO_ROOT,
                          env=pipeline_env(server_url()), capture_output=True, text=True)
    path = RESULTS_DIR / "ingestion.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    return {"exit_code": proc.returncode, "seconds": round(time.monotonic() - t, 1), "result": data,
            "stdout_tail": proc.stdout.splitlines()[-10:]}


def targets(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, figure, met?) rows for the summary."""
    rows = []
    r = res.get("rules")
    if r and r.get("day31"):
        d = r["day31"]
        rows.append(("rules layer < 10 x full scan (day 31)", f"{d['rules_sum_x_baseline']} x",
                     "met" if d["rules_sum_x_baseline"] < 10 else "missed"))
    if r and r.get("ratio_build") is not None:
        rows.append(("day-31 rules build <= 1.2 x day 1", f"{r['ratio_build']}",
                     "met" if r["ratio_build"] <= 1.2 else "missed"))
    c = res.get("city")
    if c:
        for key in ("day1", "day31"):
            if c.get(key):
                rows.append((f"whole day < 300 s ({key})", f"{c[key]['dag_wall_s']} s",
                             "met" if c[key]["dag_wall_s"] < 300 and c[key]["exit_code"] == 0 else "missed"))
                rows.append((f"loading <= 2 x plain COPY ({key})", f"{c[key]['load_x_copy']} x",
                             "met" if (c[key]["load_x_copy"] or 99) <= 2 else "missed"))
        if c.get("ratio") is not None:
            rows.append(("day-31 <= 1.2 x day-1 (DAG)", f"{c['ratio']}", "met" if c["ratio"] <= 1.2 else "missed"))
    dsh = res.get("dashboards")
    if dsh:
        worst = max(dsh["charts"], key=lambda x: x["p95_s"])
        rows.append(("every chart p95 < 1 s", f"worst {worst['chart']} {worst['p95_s'] * 1000:.0f} ms",
                     "met" if dsh["all_meet_target"] else "missed"))
    ing = res.get("ingestion", {}).get("result")
    if ing:
        rows.append(("loader rows/s >= 0.5 x COPY (issue 3)", f"{ing.get('ratio')}",
                     "met" if (ing.get("ratio") or 0) >= 0.5 else "missed"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    ap.add_argument("--history-scale", type=float, default=1.0,
                    help="volume of each of the 30 history days (1.0 = a city day; 0.2 fits a smaller disk)")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--drop", action="store_true", help="drop mfm_bench_history and mfm_bench_ref at the end")
    args = ap.parse_args(argv)
    chosen = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(chosen) - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    res: dict[str, Any] = {"load_average_start": load_average()}
    for name in chosen:
        log(f"=== {name}")
        t = time.monotonic()
        if name == "ingestion":
            res[name] = run_ingestion()
        elif name == "rules":
            res[name] = bench_rules.run(history_scale=args.history_scale, tag=args.tag)
        elif name == "city":
            res[name] = bench_city.run(tag=args.tag)
        elif name == "dashboards":
            res[name] = bench_dashboards.run(tag=args.tag)
        log(f"=== {name} done in {time.monotonic() - t:.0f}s")
    rows = targets(res)
    md = ("# Benchmark summary\n\n" f"load average at start {res['load_average_start']}, at end {load_average()}\n\n"
          + md_table(("target", "figure", "status"), rows)
          + "\nDetails: " + ", ".join(f"[{n}]({n}{'_' + args.tag if args.tag else ''}.md)" for n in chosen) + "\n")
    write_result("summary" + (f"_{args.tag}" if args.tag else ""), {"targets": rows, "selected": chosen}, md)
    print(md)
    if args.drop:
        for db in ("history", "ref"):
            drop_database(db)
    return 0 if all(r[2] == "met" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
