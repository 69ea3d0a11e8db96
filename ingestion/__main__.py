"""Command line: load deliveries into the staging schema.

  python -m ingestion load --landing DIR --date 2024-03-01            one daily folder
  python -m ingestion load --landing DIR --date 2024-03-01 --reference one reference folder
  python -m ingestion load --landing DIR --pending [--up-to DATE]     every pending delivery, in order
  python -m ingestion discover --landing DIR [--all]                  list (pending) deliveries
  python -m ingestion docs [--since TIMESTAMP]                        build the GX Data Docs site

Exit status: 0 when every kind loaded (or was unchanged), 1 when any kind was
rejected or failed, 2 on usage errors. Connection: WAREHOUSE_URL, or the
embedded server when unset.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime
from pathlib import Path

from warehouse.config import settings


def _date(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {s}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingestion", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    ld = sub.add_parser("load", help="load one folder (--date) or every pending delivery (--pending)")
    ld.add_argument("--landing", type=Path, default=None, help="landing directory (default: LANDING_DIR)")
    what = ld.add_mutually_exclusive_group(required=True)
    what.add_argument("--date", type=_date, help="business date of the folder to load")
    what.add_argument("--pending", action="store_true", help="every complete delivery not yet loaded or changed")
    ld.add_argument("--up-to", type=_date, default=None, help="with --pending: ignore folders after this date")
    ld.add_argument("--reference", action="store_true", help="with --date: the reference/<date> folder")
    ld.add_argument("--kind", action="append", default=None, help="with --date: only this kind (repeatable)")
    ld.add_argument("--force", action="store_true", help="reload even when the delivery is unchanged")
    ld.add_argument("--warehouse-url", default=None, help="PostgreSQL URL (default: WAREHOUSE_URL / embedded)")
    ds = sub.add_parser("discover", help="list complete deliveries (pending ones unless --all)")
    ds.add_argument("--landing", type=Path, default=None)
    ds.add_argument("--up-to", type=_date, default=None)
    ds.add_argument("--all", action="store_true", help="list loaded ones too")
    ds.add_argument("--warehouse-url", default=None)
    dd = sub.add_parser("docs", help="build the Great Expectations Data Docs (DATA_DOCS_DIR) from the results")
    dd.add_argument("--since", type=datetime.fromisoformat, default=None,
                    help="only validations at or after this ISO timestamp (default: latest per date and kind)")
    dd.add_argument("--warehouse-url", default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for noisy in ("great_expectations", "urllib3", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from ingestion import discover, load_folder, load_kind, load_pending
    from ingestion.delivery import ManifestError, folder_refs
    from warehouse.embedded import resolve_warehouse_url

    url = args.warehouse_url or resolve_warehouse_url()
    if args.command == "docs":
        from ingestion.gx_docs import build_data_docs

        print(build_data_docs(url, since=args.since))
        return 0
    landing = args.landing or settings().landing_dir
    if args.command == "discover":
        for r in discover(landing, up_to=args.up_to, pending_only=not args.all, conn_url=url):
            print(f"{r.section}\t{r.business_date}\t{r.kind}\t{len(r.files)} file(s)")
        return 0
    if args.pending:
        results = load_pending(landing, up_to=args.up_to, conn_url=url)
        if not results:
            print("nothing pending", file=sys.stderr)
    else:
        section = "reference" if args.reference else "daily"
        try:
            if args.kind:
                refs = [r for r in folder_refs(landing, section, args.date) if r.kind in set(args.kind)]
                results = [load_kind(r, conn_url=url, force=args.force) for r in refs]
            else:
                results = load_folder(landing, section, args.date, conn_url=url, force=args.force)
        except ManifestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for r in results:
        print(r.summary())
        for f in r.files:
            if f.status not in ("loaded", "unchanged"):
                print(f"  {f.name}: {f.status}: {f.error}")
        for w in r.warnings:
            print(f"  warning: {w}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
