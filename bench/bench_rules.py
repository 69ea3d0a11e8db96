"""The rules layer at city scale: incremental dbt build of R01-R16 for one day on 30 days of history (issue 5).

  python -m bench.bench_rules [--history-db history] [--day 2024-03-31] [--scale 1.0] [--keep]

Two scenarios, each on a file-level copy of a prepared database:
- day 1: mfm_bench_ref (staging schema + the generator's city reference
  snapshot, nothing else) plus one synthesized city-scale day;
- day 31: mfm_bench_history (30 history days, built by dbt through day 30:
  `python -m bench.bench_rules --prepare` does it) plus the same day.
In each, the day is synthesized straight into staging (bench/history.py),
then `dbt build --select +path:models/rules` runs (the rules and everything
they depend on, tests included; incremental where the models are) with a
private target. Reported from dbt's run_results.json: wall time, the time of
every layer and of every rule model; beside it, in the same database and run,
the baseline: one full scan of the day's fee lines.
Targets: all 16 rules < 10 x baseline; day-31 build <= 1.2 x day-1 build.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import history
from bench.common import (
    copy_database,
    database_exists,
    database_size,
    database_url,
    disk_free_gb,
    drop_database,
    full_scan_baseline,
    layer_of,
    load_average,
    log,
    md_table,
    run_dbt,
    run_results,
    write_result,
)

# the rules and everything they read; tests only where every parent is selected (as the DAG's partial builds)
RULES_SELECT = ["+path:models/rules", "--indirect-selection", "cautious"]


def prepare_reference(landing: Path, first_day: date) -> None:
    """mfm_bench_ref: the template of every day-1 scenario."""
    if not database_exists("ref"):
        history.prepare_reference_db("ref", landing, first_day)


def prepare_history(db: str, end: date, days: int, scale: float, landing: Path) -> dict[str, Any]:
    """mfm_bench_<db>: `days` synthesized days up to `end`, then one full dbt build (the warehouse after day 30)."""
    figures = history.run(db, end, days, scale, landing)
    log(f"dbt build of the {days} history days (the state after day {days}; not measured)")
    secs, _, rc = run_dbt(database_url(db), ["build"], f"{db}_prepare", check=False)
    figures["dbt_build_s"] = round(secs, 1)
    figures["dbt_build_rc"] = rc
    return figures


def layer_summary(nodes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per layer: summed execution seconds and the wall window from its first start to its last end."""
    out: dict[str, dict[str, float]] = {}
    for layer in ("seeds", "staging", "catalogue", "intermediate", "rules", "marts", "tests"):
        sel = [n for n in nodes if layer_of(n) == layer]
        if not sel:
            continue
        starts = [n["started"] for n in sel if n["started"]]
        ends = [n["completed"] for n in sel if n["completed"]]
        out[layer] = {"nodes": len(sel), "sum_s": round(sum(n["seconds"] for n in sel), 2),
                      "wall_s": round(max(ends) - min(starts), 2) if starts and ends else 0.0}
    return out


def scenario(name: str, template: str, day: date, scale: float, ref: date, day_index: int,
             keep: bool) -> dict[str, Any]:
    log(f"scenario {name}: copy of mfm_bench_{template}, + {day} at scale {scale}")
    url = copy_database(template, f"rules_{name}")
    try:
        synth = history.add_days(url, day, 1, scale, ref, first_index=day_index)[0]
        baseline = full_scan_baseline(url, day.isoformat())
        log(f"baseline full scan of {baseline['rows']:,} fee lines: {baseline['seconds']}s")
        load = load_average()
        secs, tgt, rc = run_dbt(url, ["build", "--select", *RULES_SELECT], f"rules_{name}", check=False)
        nodes = run_results(tgt)
        rules = sorted((n for n in nodes if n["type"] == "model" and n["name"].startswith("rule_")),
                       key=lambda n: n["name"])
        layers = layer_summary(nodes)
        rules_wall = layers.get("rules", {}).get("wall_s", 0.0)
        res = {
            "scenario": name, "day": day.isoformat(), "scale": scale, "synthesized": synth, "baseline": baseline,
            "dbt_build_s": round(secs, 1), "dbt_rc": rc, "load_average_at_build": load,
            "failed_nodes": [n["unique_id"] for n in nodes if n["status"] in ("error", "fail")],
            "layers": layers, "rules": [{"model": n["name"], "seconds": n["seconds"], "status": n["status"],
                                         "x_baseline": round(n["seconds"] / baseline["seconds"], 1)} for n in rules],
            # the layer's time = the sum of its models' times (dbt runs 2 threads and interleaves the rules
            # with tests and dim_person, so the wall window from first to last rule overstates it)
            "rules_sum_s": round(sum(n["seconds"] for n in rules), 1),
            "rules_sum_x_baseline": round(sum(n["seconds"] for n in rules) / baseline["seconds"], 1),
            "rules_wall_s": rules_wall,
            "rules_wall_x_baseline": round(rules_wall / baseline["seconds"], 1),
            "slowest_nodes": sorted(({"node": n["unique_id"], "seconds": n["seconds"]} for n in nodes),
                                    key=lambda x: -x["seconds"])[:15],
            "database_bytes": database_size(url), "disk_free_gb": disk_free_gb(),
        }
        log(f"scenario {name}: dbt build {secs:.0f}s, rules {res['rules_sum_s']:.0f}s"
            f" = {res['rules_sum_x_baseline']}x baseline ({rules_wall:.0f}s wall)")
        return res
    finally:
        if not keep:
            drop_database(f"rules_{name}")


def report(results: dict[str, Any]) -> str:
    d1, d31 = results.get("day1"), results.get("day31")
    md = ["# Rules layer at city scale (issue 5)\n",
          f"Measured {time.strftime('%Y-%m-%d %H:%M')}; history: {results.get('history', {}).get('days')} days at scale "
          f"{results.get('history', {}).get('scale')} of a city day; the measured day at scale {results['scale']}.\n"]
    for sc in (d1, d31):
        if not sc:
            continue
        md.append(f"\n## {sc['scenario']}: {sc['day']} (load average at build {sc['load_average_at_build']})\n\n"
                  f"Baseline full scan: {sc['baseline']['rows']:,} fee lines in {sc['baseline']['seconds']} s. "
                  f"dbt build (+rules): {sc['dbt_build_s']} s, exit {sc['dbt_rc']}; the 16 rule models "
                  f"{sc['rules_sum_s']} s = **{sc['rules_sum_x_baseline']} x baseline** (target < 10); "
                  f"first rule start to last rule end {sc['rules_wall_s']} s.\n\n")
        md.append(md_table(("layer", "nodes", "sum s", "wall s"),
                           [(k, v["nodes"], v["sum_s"], v["wall_s"]) for k, v in sc["layers"].items()]))
        md.append("\n" + md_table(("rule model", "seconds", "x baseline"),
                                  [(r["model"], r["seconds"], r["x_baseline"]) for r in sc["rules"]]))
    if d1 and d31:
        md.append(f"\n**day-31 / day-1 build = {results['ratio_build']}** (target <= 1.2); rules layer "
                  f"{results['ratio_rules']}.\n")
    return "".join(md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--history-db", default="history")
    ap.add_argument("--day", type=date.fromisoformat, default=date(2024, 3, 31), help="the measured day")
    ap.add_argument("--scale", type=float, default=1.0, help="volume of the measured day (1.0 = city)")
    ap.add_argument("--history-days", type=int, default=30)
    ap.add_argument("--history-scale", type=float, default=1.0, help="volume of each history day (with --prepare)")
    ap.add_argument("--prepare", action="store_true", help="(re)build mfm_bench_<history-db> first")
    ap.add_argument("--only", choices=["day1", "day31"], help="run one scenario")
    ap.add_argument("--landing", type=Path, default=history.DEFAULT_LANDING)
    ap.add_argument("--keep", action="store_true", help="keep the scenario databases")
    ap.add_argument("--tag", default="", help="result file suffix (e.g. before / after)")
    args = ap.parse_args(argv)
    run(args.history_db, args.day, args.scale, args.history_days, args.history_scale, args.prepare, args.only,
        args.landing, args.keep, args.tag)
    return 0


def run(history_db: str = "history", day: date = date(2024, 3, 31), scale: float = 1.0, history_days: int = 30,
        history_scale: float = 1.0, prepare: bool = False, only: str | None = None,
        landing: Path = history.DEFAULT_LANDING, keep: bool = False, tag: str = "") -> dict[str, Any]:
    history.generate_landing(landing, day)
    ref = history.reference_date(landing)
    first = day - timedelta(days=history_days)
    results: dict[str, Any] = {"scale": scale, "load_average_start": load_average()}
    if prepare or (only != "day1" and not database_exists(history_db)):
        results["history"] = prepare_history(history_db, day - timedelta(days=1), history_days, history_scale,
                                             landing)
    else:
        results["history"] = {"db": history_db, "days": history_days, "scale": history_scale, "reused": True}
    if only in (None, "day1"):
        prepare_reference(landing, first)
        results["day1"] = scenario("day1", "ref", day, scale, ref, (day - ref).days, keep)
    if only in (None, "day31"):
        results["day31"] = scenario("day31", history_db, day, scale, ref, (day - ref).days, keep)
    if results.get("day1") and results.get("day31"):
        results["ratio_build"] = round(results["day31"]["dbt_build_s"] / results["day1"]["dbt_build_s"], 2)
        results["ratio_rules"] = round(results["day31"]["rules_sum_s"] / max(results["day1"]["rules_sum_s"], 0.01), 2)
    name = "rules" + (f"_{tag}" if tag else "") + (f"_{only}" if only else "")
    write_result(name, results, report(results))
    return results


if __name__ == "__main__":
    raise SystemExit(main())
