"""Catalogue and intermediate layers on an ordinary next day: no-op and next-day dbt builds (issue 10).

  MFM_BENCH_DB_PREFIX=mfm_layers python -m bench.bench_layers [--days 10] [--scale 0.05]
      [--variant after] [--variant before=var/bench/layers_before/dbt_project] [--prepare]

The history (bench/history.py: the generator's city reference snapshot, then
`--days` synthesized days at `--scale` of a city day) is prepared once in
<prefix>_hist. Each variant (a dbt project directory: `after` is the
working tree's, `before=DIR` a copy of the project as it was) runs on its own
file-level copy of that database, so every variant sees the same rows:

1. a first build of staging + catalogue + intermediate (models and tests; the
   warehouse after the history, reported but not the point);
2. (a) a no-op build: the same build again, nothing delivered in between;
3. (b) a next-day build: one more synthesized day (its refunds and reversals
   reach back one and two days), then the same build.

Reported from dbt's run_results.json and the database: wall time of each
build, seconds of every catalogue and intermediate model, the rows each table
gained or lost (pg_stat_user_tables; a rebuilt table counts all its rows) and
the rows of *earlier* business dates that the next-day build rewrote in
int_fee_line_netting and int_visits (built_through_load_id above the watermark
before the build). Every figure carries os.getloadavg(): two cores shared with
other work.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench import history
from bench.common import (
    DB_PREFIX,
    copy_database,
    database_exists,
    drop_database,
    load_average,
    log,
    md_table,
    run_dbt,
    run_results,
    write_result,
)
from warehouse.config import REPO_ROOT

SELECT = ["--select", "path:models/staging path:models/catalogue path:models/intermediate"]
HISTORY_DB = "hist"
LAYER_SCHEMAS = ("catalogue", "intermediate")
# the models whose rows carry business_date and the watermark
DATED = ("int_fee_line_netting", "int_visits")


def table_stats(url: str) -> dict[str, tuple[int, int, int]]:
    """Per catalogue/intermediate table: (relid, rows inserted, rows deleted) since the table was created."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {f"{s}.{n}": (int(r), int(i), int(d)) for s, n, r, i, d in conn.execute(
            "SELECT schemaname, relname, relid, n_tup_ins, n_tup_del FROM pg_stat_user_tables"
            " WHERE schemaname = ANY(%s)", (list(LAYER_SCHEMAS),)).fetchall()}


def rows_written(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """Rows each table gained and lost in between; a table replaced by a new one (new relid) counts all its rows."""
    out = {}
    for table, (relid, ins, dele) in sorted(after.items()):
        old = before.get(table)
        if old is None or old[0] != relid:
            out[table] = {"inserted": ins, "deleted": dele, "rebuilt": True}
        else:
            out[table] = {"inserted": ins - old[1], "deleted": dele - old[2], "rebuilt": False}
    return out


def watermarks(url: str) -> dict[str, int | None]:
    with psycopg.connect(url) as conn:
        out = {}
        for (schema, name) in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.columns"
                " WHERE column_name = 'built_through_load_id' AND table_schema = ANY(%s)"
                " ORDER BY 1, 2", (list(LAYER_SCHEMAS),)).fetchall():
            out[f"{schema}.{name}"] = conn.execute(f"SELECT max(built_through_load_id) FROM {schema}.{name}"
                                                   ).fetchone()[0]
        return out


def earlier_rows_rewritten(url: str, day: date, marks: dict[str, int | None]) -> dict[str, int]:
    """Rows of business dates before `day` written by the last build (watermark above the one before it)."""
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM intermediate.{t} WHERE business_date < %s"
                                    " AND built_through_load_id > %s",
                                    (day, marks.get(f"intermediate.{t}") or 0)).fetchone()[0]) for t in DATED}


def measured_build(url: str, project: Path, tag: str) -> dict[str, Any]:
    stats = table_stats(url)
    load = load_average()
    secs, tgt, rc = run_dbt(url, ["build", *SELECT, "--project-dir", str(project), "--profiles-dir", str(project)],
                            tag, check=False)
    time.sleep(1.0)  # dbt's backends have exited: their table statistics are flushed
    nodes = run_results(tgt)
    models = {n["name"]: n["seconds"] for n in nodes if n["type"] == "model"
              and n["name"].startswith(("dim_", "int_"))}
    written = rows_written(stats, table_stats(url))
    return {
        "seconds": round(secs, 1), "rc": rc, "load_average": load, "load_average_after": load_average(),
        "failed_nodes": [n["unique_id"] for n in nodes if n["status"] in ("error", "fail")],
        "models_sum_s": round(sum(n["seconds"] for n in nodes if n["type"] == "model"), 1),
        "tests_sum_s": round(sum(n["seconds"] for n in nodes if n["type"] in ("test", "unit_test")), 1),
        "models": dict(sorted(models.items(), key=lambda kv: -kv[1])),
        "rows_written": written,
        "rows_written_total": sum(w["inserted"] + w["deleted"] for w in written.values()),
    }


def variant(name: str, project: Path, end: date, days: int, scale: float, ref: date, keep: bool) -> dict[str, Any]:
    db = f"layers_{name}"
    log(f"variant {name} ({project}): copy of {DB_PREFIX}_{HISTORY_DB}")
    url = copy_database(HISTORY_DB, db)
    try:
        res: dict[str, Any] = {"variant": name, "project": str(project)}
        log(f"variant {name}: first build")
        res["first_build"] = measured_build(url, project, f"layers_{name}_first")
        log(f"variant {name}: first build {res['first_build']['seconds']} s; no-op build")
        res["noop"] = measured_build(url, project, f"layers_{name}_noop")
        log(f"variant {name}: no-op {res['noop']['seconds']} s; synthesizing the next day")
        day = end + timedelta(days=1)
        marks = watermarks(url)
        res["next_day_synthesized"] = history.add_days(url, day, 1, scale, ref, first_index=days + 1)[0]
        res["next_day"] = measured_build(url, project, f"layers_{name}_next")
        res["next_day"]["earlier_rows_rewritten"] = earlier_rows_rewritten(url, day, marks)
        res["next_day"]["earlier_rows_rewritten_total"] = sum(res["next_day"]["earlier_rows_rewritten"].values())
        res["watermarks_before_next_day"] = marks
        log(f"variant {name}: next day {res['next_day']['seconds']} s, earlier-date rows rewritten"
            f" {res['next_day']['earlier_rows_rewritten_total']:,}")
        return res
    finally:
        if not keep:
            drop_database(db)


def report(res: dict[str, Any]) -> str:
    md = [f"# Catalogue + intermediate: no-op and next-day builds, variant `{res['variant']}` (issue 10)\n\n",
          f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {res['history']['days']} history days at scale "
          f"{res['history']['scale']} of a city day (reference: the generator's city snapshot, 3 M persons), "
          f"`dbt build {' '.join(SELECT[1:])}` (models and tests). Project: `{res['project']}`.\n\n"]
    builds = [(k, res[k]) for k in ("first_build", "noop", "next_day")]
    md.append(md_table(("build", "wall s", "models s", "tests s", "rows written", "earlier-date rows rewritten",
                        "load avg (1/5/15)", "exit"),
                       [(k, b["seconds"], b["models_sum_s"], b["tests_sum_s"], f"{b['rows_written_total']:,}",
                         f"{b.get('earlier_rows_rewritten_total', '')}", b["load_average"], b["rc"])
                        for k, b in builds]))
    names = sorted({m for _, b in builds for m in b["models"]})
    md.append("\n" + md_table(("model", *[f"{k} s" for k, _ in builds]),
                              [(m, *[b["models"].get(m, "") for _, b in builds]) for m in names]))
    md.append("\nRows written (inserted + deleted) per table:\n\n")
    tables = sorted({t for _, b in builds for t in b["rows_written"]})
    md.append(md_table(("table", *[k for k, _ in builds]),
                       [(t, *[_written(b["rows_written"].get(t)) for _, b in builds]) for t in tables]))
    return "".join(md)


def _written(w: dict[str, Any] | None) -> str:
    if not w:
        return ""
    return f"{w['inserted'] + w['deleted']:,}" + (" (rebuilt)" if w["rebuilt"] else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--end", type=date.fromisoformat, default=date(2024, 3, 10), help="last history day")
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--scale", type=float, default=0.05, help="volume of each day (1.0 = city)")
    ap.add_argument("--landing", type=Path, default=history.DEFAULT_LANDING)
    ap.add_argument("--prepare", action="store_true", help=f"(re)build {DB_PREFIX}_{HISTORY_DB} first")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME or NAME=PROJECT_DIR (default: after = the working tree's dbt_project)")
    ap.add_argument("--keep", action="store_true", help="keep the variant databases")
    args = ap.parse_args(argv)
    if args.prepare or not database_exists(HISTORY_DB):
        history.run(HISTORY_DB, args.end, args.days, args.scale, args.landing)
    ref = history.reference_date(args.landing)
    for spec in args.variant or ["after"]:
        name, _, project = spec.partition("=")
        project_dir = (REPO_ROOT / project) if project else REPO_ROOT / "dbt_project"
        res = variant(name, project_dir, args.end, args.days, args.scale, ref, args.keep)
        res["history"] = {"db": f"{DB_PREFIX}_{HISTORY_DB}", "days": args.days, "scale": args.scale,
                          "end": args.end.isoformat()}
        md = report(res)
        print(md)
        write_result(f"layers_{name}", res, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
