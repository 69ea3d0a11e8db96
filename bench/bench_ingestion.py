"""Benchmark: one city-scale day through the loader vs a plain typed COPY of the same files.

  python -m bench.bench_ingestion [--fee-lines 3000000] [--landing DIR] [--keep] [--repeat 3]

Uses the synthetic generator's city scale when it is available
(`python -m synthetic generate --scale city --days 1`), else writes a comparable
day itself (3M fee lines, 500k settlements, 500k visits, ~1% refunds; clean,
since the baseline's typed COPY must accept every row). Every run goes to a fresh database on the
warehouse server; the loader runs as a child process so its peak RSS is measured alone. Rounds of
baseline + loader runs are interleaved (--repeat) and the medians compared: a single baseline varied
from 7 to 12 s between runs on this 2-core machine.
Targets (issue 3): loader rows/s >= 50% of the baseline's; peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

from ingestion.contract import KINDS
from warehouse.config import REPO_ROOT, settings

DAY = date(2024, 3, 1)


def synthesize(landing: Path, fee_lines: int, visits: int, setls: int, seed: int = 7) -> Path:
    """A day shaped like the city scale, written fast (string formatting, no csv module)."""
    rnd = random.Random(seed)
    folder = landing / "daily" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    hosp = [f"H330203{n:05d}" for n in range(1, 201)]
    entries = []

    def write(name: str, cols: list[str], lines) -> None:
        path = folder / name
        h = hashlib.sha256()
        n = 0
        with open(path, "wb") as fh:
            head = (",".join(cols) + "\n").encode()
            fh.write(head)
            h.update(head)
            buf = []
            for line in lines:
                buf.append(line)
                n += 1
                if len(buf) >= 20000:
                    b = "".join(buf).encode()
                    fh.write(b)
                    h.update(b)
                    buf = []
            b = "".join(buf).encode()
            fh.write(b)
            h.update(b)
        entries.append({"name": name, "rows": n, "sha256": h.hexdigest()})

    def fee_rows():
        per_visit = max(1, fee_lines // visits)
        sn = 0
        for i in range(fee_lines):
            v = i // per_visit
            fix = hosp[v % len(hosp)]
            mdtrt = f"M{v:09d}"
            sn += 1
            cnt = rnd.randint(1, 5)
            pric = rnd.randint(100, 99999) / 100
            init = ""
            if i % 97 == 96:  # ~1% refunds of the previous line of the same visit
                init, cnt = f"{sn - 1:012d}", -cnt
            amt = f"{cnt * pric:.2f}"
            ts = f"2024-03-01 {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}"
            yield (f"{sn:012d},{init},{mdtrt},P{v % 400000:08d},{fix},11,{ts},X{rnd.randint(1, 5000):05d},"
                   f"L{rnd.randint(1, 900):04d},101,{cnt},{pric},{amt},A{v % 30:02d},内科,D{fix[1:7]}{v % 900:06d},"
                   f"医生,RX{v:09d},7,0\n")

    def visit_rows():
        for v in range(visits):
            fix = hosp[v % len(hosp)]
            ts = f"2024-03-01 {v % 24:02d}:{v % 60:02d}:00"
            yield (f"M{v:09d},P{v % 400000:08d},{fix},11,310,{ts},{ts},A{v % 30:02d},内科,"
                   f"D{fix[1:7]}{v % 900:06d},J06.9,急性上呼吸道感染,O{v}\n")

    def setl_rows():
        for s in range(setls):
            fix = hosp[s % len(hosp)]
            total = rnd.randint(1000, 500000) / 100
            hifp = round(total * 0.5, 2)
            fund = round(hifp + total * 0.05, 2)
            acct = round(total * 0.1, 2)
            cash = round(total - fund - acct, 2)
            yield (f"S{s:09d},M{s:09d},P{s % 400000:08d},{fix},310,11,2024-03-01 12:00:00,{total:.2f},0,0,"
                   f"{total:.2f},{hifp:.2f},{acct:.2f},{cash:.2f},{fund:.2f},0,\n")

    write("his_feedetail.csv", list(KINDS["his_feedetail"].columns), fee_rows())
    write("his_mdtrt.csv", list(KINDS["his_mdtrt"].columns), visit_rows())
    write("setl.csv", list(KINDS["setl"].columns), setl_rows())
    (folder / "manifest.json").write_text(json.dumps({"business_date": DAY.isoformat(), "files": entries}))
    return folder


def generator_day(landing: Path) -> Path | None:
    """The generator's city scale, when synthetic/ provides it."""
    try:
        subprocess.run(
            [sys.executable, "-m", "synthetic", "generate", "--scale", "city", "--days", "1",
             "--out", str(landing)],
            check=True, cwd=REPO_ROOT, timeout=1800, capture_output=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError):
        return None
    days = sorted((landing / "daily").glob("*/manifest.json"))
    return days[0].parent if days else None


def baseline_copy(url: str, folder: Path) -> tuple[int, float]:
    """Plain typed COPY of every daily file into bare logged tables (no checks, no staging)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = 0
    t = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench_base")
        for kind in (k for k in KINDS.values() if k.section == "daily"):
            cols = ", ".join(f"{c} {ty}" for c, ty in kind.columns.items())
            conn.execute(f"DROP TABLE IF EXISTS bench_base.{kind.name}")
            conn.execute(f"CREATE TABLE bench_base.{kind.name} ({cols})")
        from ingestion.delivery import kind_of_file

        for e in manifest["files"]:
            kind = kind_of_file(e["name"], "daily")
            if kind is None:
                continue
            with open(folder / e["name"], "rb") as fh:
                header = fh.readline().decode("utf-8-sig").strip().split(",")
                if set(header) - set(kind.columns):  # the generator may add extra columns
                    conn.execute(f"DROP TABLE bench_base.{kind.name}")
                    cols = ", ".join(f"{c} {kind.columns.get(c, 'text')}" for c in header)
                    conn.execute(f"CREATE TABLE bench_base.{kind.name} ({cols})")
                enc = (e.get("encoding") or "UTF8").replace("-", "")
                with conn.cursor() as cur:
                    with cur.copy(
                        f"COPY bench_base.{kind.name} ({', '.join(header)}) FROM STDIN "
                        f"WITH (FORMAT csv, ENCODING '{enc}')"
                    ) as cp:
                        while chunk := fh.read(settings().load_chunk_bytes):
                            cp.write(chunk)
                    rows += cur.rowcount
    return rows, time.monotonic() - t


def cpu_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat): the loader's backends, the baseline's
    backend and the client together, which wall time alone hides on 2 cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def checkpoint(url: str) -> None:
    """Every timed run starts right after a CHECKPOINT: the WAL of the run before (the baseline writes
    ~1 GB) would otherwise be checkpointed during the next one and bill it for the disk writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


MODES = {  # mode -> environment of the loader run
    "typed": {"LOAD_TYPED_COPY": "true", "LOAD_SCREEN": "true"},  # the default configuration
    "text": {"LOAD_TYPED_COPY": "true", "LOAD_SCREEN": "false"},  # typed copy beside a full text copy
    "cast": {"LOAD_TYPED_COPY": "false", "LOAD_SCREEN": "false"},  # full text copy, good rows cast
}
MODE_LABELS = {
    "typed": "defaults: typed COPY + pyarrow screen",
    "text": "LOAD_SCREEN=false: typed COPY beside a full text copy",
    "cast": "LOAD_TYPED_COPY=false: full text copy, good rows cast",
}


def run_loader(url: str, landing: Path, day: date, mode: str) -> dict:
    """`python -m ingestion load --date` as a child process; wall, CPU, peak RSS, per-kind ledger."""
    checkpoint(url)
    env = dict(os.environ, WAREHOUSE_URL=url, **MODES[mode])
    cpu0, t = cpu_busy_seconds(), time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion", "load", "--landing", str(landing), "--date", day.isoformat()],
            env=env, cwd=REPO_ROOT, stdout=out, stderr=err, text=True,
        )
        # wait4: this child's own peak RSS (RUSAGE_CHILDREN would be the largest child so far)
        _, status, usage = os.wait4(proc.pid, 0)
        returncode = proc.returncode = os.waitstatus_to_exitcode(status)
        load_s, cpu_s = time.monotonic() - t, cpu_busy_seconds() - cpu0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rss_mb = usage.ru_maxrss / 1024
    print(stdout.strip())
    if returncode != 0:
        print(stderr[-4000:], file=sys.stderr)
    with psycopg.connect(url) as conn:
        ledger = conn.execute(
            "SELECT kind, rows_in_file, rows_loaded, rows_quarantined, timings, status FROM meta.load_log"
            " WHERE file_name IS NULL ORDER BY load_id"
        ).fetchall()
    return {
        "mode": mode, "typed_copy": mode != "cast", "exit_code": returncode, "s": round(load_s, 2), "cpu_s": round(cpu_s, 1),
        "rows": sum(r[1] or 0 for r in ledger), "loaded": sum(r[2] or 0 for r in ledger),
        "quarantined": sum(r[3] or 0 for r in ledger), "peak_rss_mb": round(rss_mb),
        "statuses": {r[0]: r[5] for r in ledger}, "phases": {r[0]: r[4] for r in ledger},
    }


def _markdown(r: dict, folder: Path) -> str:
    lines = [
        "# Ingestion benchmark (generated by `python -m bench.bench_ingestion`)", "",
        f"Day: `{folder}`; {r['cpus']} CPUs, 1-minute load average before/after the run:"
        f" {r['load_average_1m_before_after']} (the machine may be shared; the ratio compares runs made"
        f" under the same conditions). LOAD_POOL_SLOTS={r.get('load_pool_slots')} (kinds, and rid slices of"
        " a big kind's insert, loading side by side). CPU s = busy CPU seconds of the whole machine during"
        f" the run (server backends and client together). {r['repeat']} rounds, each a baseline then the"
        " loader runs, interleaved; the figures are the medians over the rounds.", "",
        "| run (median) | rows | seconds | CPU s | rows/s | ratio to baseline | peak RSS |",
        "|---|---|---|---|---|---|---|",
        f"| baseline: plain typed COPY into bare logged tables | {r['baseline_rows']:,} | {r['baseline_s']} |"
        f" {r['baseline_cpu_s']} | {r['baseline_rows_per_s']:,} | 1 | |",
    ]
    for mode, m in r["summary"].items():
        name = MODE_LABELS[mode]
        lines.append(
            f"| loader, {name} | {m['rows']:,} | {m['median_s']} | {m['median_cpu_s']} | {m['rows_per_s']:,} |"
            f" **{m['ratio']}** | {m['peak_rss_mb']} MB |")
    lines += [
        "", f"Targets: ratio >= 0.5 (loader rows/s against the baseline's): **{r['ratio']}**; peak RSS"
        f" < 1536 MB: **{r['peak_rss_mb']} MB** (the default configuration's run).", "",
        "Every round:", "", "| round | baseline s | loader run | s | ratio to the round's baseline |",
        "|---|---|---|---|---|",
    ]
    base = {b["round"]: b["s"] for b in r["baselines"]}
    for run in r["runs"]:
        lines.append(f"| {run['round']} | {base[run['round']]} | {run['mode']} |"
                     f" {run['s']} | {run['ratio_to_round_baseline']} |")
    lines += [
        "", "Seconds per phase and kind (`meta.load_log.timings`), first round; with the typed copy the"
        " expectation suite runs inside the check phase, beside the key index build:", "",
        "| run | kind | stage | check | validate | publish |", "|---|---|---|---|---|---|",
    ]
    for run in (x for x in r["runs"] if x["round"] == 1):
        for kind, ph in run["phases"].items():
            ph = ph or {}
            lines.append(f"| {run['mode']} | {kind} | "
                         + " | ".join(str(ph.get(p, "")) for p in ("stage", "check", "validate", "publish"))
                         + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fee-lines", type=int, default=3_000_000)
    ap.add_argument("--landing", type=Path, default=settings().var_dir / "bench_landing")
    ap.add_argument("--own-data", action="store_true", help="do not try the synthetic generator")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    ap.add_argument("--modes", default="typed,text,cast",
                    help="loader runs after the baseline, each into a fresh database: typed = the default"
                         " configuration (typed COPY + pyarrow screen), text = LOAD_SCREEN=false (typed COPY"
                         " beside a full text copy), cast = LOAD_TYPED_COPY=false; default all three, in that order")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of baseline + loader runs, interleaved; the figures are the medians (default 3)")
    ap.add_argument("--tag", default="", help="suffix of the result files (ingestion[_tag].json/.md)")
    args = ap.parse_args(argv)
    from warehouse.embedded import resolve_warehouse_url
    from warehouse.testing import create_database, drop_database

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES):
        ap.error("--modes: a comma-separated list of " + ", ".join(MODES))
    server = resolve_warehouse_url()
    landing = args.landing
    folder = None
    existing = sorted((landing / "daily").glob("*/manifest.json"))
    if existing:
        folder = existing[0].parent
    elif not args.own_data and args.fee_lines == 3_000_000:
        folder = generator_day(landing)
    if folder is None:
        t = time.monotonic()
        folder = synthesize(landing, args.fee_lines, args.fee_lines // 6, args.fee_lines // 6)
        print(f"synthesized {folder} in {time.monotonic() - t:.1f}s", flush=True)
    day = date.fromisoformat(folder.name)
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    urls: list[str] = []
    bases: list[dict] = []
    runs: list[dict] = []
    try:
        for rnd in range(args.repeat):
            url = create_database(server, "mfm_bench_ingest")
            urls.append(url)
            checkpoint(url)
            cpu0 = cpu_busy_seconds()
            base_rows, base_s = baseline_copy(url, folder)
            bases.append({"round": rnd + 1, "rows": base_rows, "s": round(base_s, 2),
                          "cpu_s": round(cpu_busy_seconds() - cpu0, 1)})
            print(f"[{rnd + 1}/{args.repeat}] baseline typed COPY: {base_rows} rows in {base_s:.1f}s"
                  f" = {base_rows / base_s:,.0f} rows/s", flush=True)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP SCHEMA bench_base CASCADE")  # same disk/cache conditions for the loader
            for i, mode in enumerate(modes):
                if i:
                    url = create_database(server, "mfm_bench_ingest")
                    urls.append(url)
                run = run_loader(url, landing, day, mode)
                run["round"] = rnd + 1
                run["rows_per_s"] = round(run["rows"] / run["s"])
                run["ratio_to_round_baseline"] = round((run["rows"] / run["s"]) / (base_rows / base_s), 3)
                print(f"[{rnd + 1}/{args.repeat}] loader ({mode}): {run['rows']} rows in {run['s']:.1f}s"
                      f" = {run['rows_per_s']:,} rows/s, {run['cpu_s']} CPU s; ratio to this round's baseline"
                      f" {run['ratio_to_round_baseline']:.2f}; peak RSS {run['peak_rss_mb']} MB", flush=True)
                runs.append(run)
            if not args.keep:  # a round's databases are not needed by the next one
                for u in urls:
                    drop_database(server, u)
                urls.clear()
        # Medians over the rounds: one round's baseline alone varied 7-12 s on this machine.
        base_s = statistics.median(b["s"] for b in bases)
        base_rows = bases[0]["rows"]
        summary = {}
        for mode in modes:
            mine = [r for r in runs if r["mode"] == mode]
            med_s = statistics.median(r["s"] for r in mine)
            summary[mode] = {
                "median_s": med_s, "rows": mine[0]["rows"], "rows_per_s": round(mine[0]["rows"] / med_s),
                "ratio": round((mine[0]["rows"] / med_s) / (base_rows / base_s), 3),
                "median_cpu_s": statistics.median(r["cpu_s"] for r in mine),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                "exit_codes": [r["exit_code"] for r in mine],
            }
            print(f"median of {args.repeat}: loader ({mode}) {med_s:.1f}s vs baseline {base_s:.1f}s:"
                  f" ratio {summary[mode]['ratio']:.2f} (target >= 0.50); peak RSS"
                  f" {summary[mode]['peak_rss_mb']} MB", flush=True)
        # the figures against the targets are the default configuration's
        main_mode = "typed" if "typed" in modes else modes[0]
        main = summary[main_mode]
        main_run = next(r for r in runs if r["mode"] == main_mode)
        result = {
            "fee_lines": args.fee_lines, "repeat": args.repeat, "baseline_rows": base_rows,
            "baseline_s": base_s, "baseline_cpu_s": statistics.median(b["cpu_s"] for b in bases),
            "baseline_rows_per_s": round(base_rows / base_s), "baselines": bases,
            "load_rows": main["rows"], "load_s_incl_process_start": main["median_s"],
            "load_rows_per_s": main["rows_per_s"], "ratio": main["ratio"], "summary": summary,
            "peak_rss_mb": main["peak_rss_mb"], "exit_code": max(main["exit_codes"]),
            "phases": main_run["phases"], "runs": runs,
            "load_average_1m_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "cpus": os.cpu_count(),
            "load_pool_slots": settings().load_pool_slots,  # loads (and insert slices) side by side
        }
        out = REPO_ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        name = "ingestion" + (f"_{args.tag}" if args.tag else "")
        (out / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))
        (out / f"{name}.md").write_text(_markdown(result, folder))
        print(f"wrote bench/results/{name}.md")
    finally:
        if not args.keep:
            for u in urls:
                drop_database(server, u)
    return 0 if all(r["exit_code"] == 0 for r in result["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
