"""CLI: python -m synthetic generate --out DIR [--start 2024-01-01] [--days 60] [--seed 42]
[--encoding mix|utf8|utf8-bom|gb18030] [--scale demo|city]."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from synthetic.generate import GenerationError, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m synthetic",
        description="Synthetic medical-insurance deliveries (extract contract v1) with planted audit-rule "
                    "violations and their ground truth. Progress goes to stderr.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser(
        "generate", help="write daily/ and reference/ deliveries and ground_truth/ into --out",
        description="Writes <out>/reference/<date>/ snapshots, <out>/daily/<date>/ extracts (manifest.json "
                    "last) and <out>/ground_truth/{violations,near_misses}.csv. Demo scale plants every "
                    "rule R01-R16; city scale writes one large-city day, streaming.",
    )
    g.add_argument("--out", required=True, help="landing directory to write into (created if missing)")
    g.add_argument("--start", default="2024-01-01", type=dt.date.fromisoformat,
                   help="first business date, YYYY-MM-DD (default 2024-01-01)")
    g.add_argument("--days", default=60, type=int, help="number of daily folders (default 60; demo needs >= 28)")
    g.add_argument("--seed", default=42, type=int, help="random seed: same seed, same bytes (default 42)")
    g.add_argument("--encoding", default="mix", choices=["mix", "utf8", "utf8-bom", "gb18030"],
                   help="file encoding; mix draws one per file and states it in the manifest for some (default mix)")
    g.add_argument("--scale", default="demo", choices=["demo", "city"],
                   help="demo: a few dozen institutions, ~20k persons, all rules planted; city: ~500k "
                        "settlements and 3M fee lines per day (use --days 1)")
    g.add_argument("--quiet", action="store_true", help="no progress output")
    args = ap.parse_args(argv)
    try:
        res = generate(args.out, args.start, args.days, args.seed, args.encoding, args.scale, quiet=args.quiet)
    except (GenerationError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {res.out} ({res.days} days from {res.start}) in {res.seconds:.1f}s; "
          f"planted suspects per rule: {res.per_rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
