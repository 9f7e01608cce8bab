"""Whole-process benchmark: `bokfor convert` on a generated Stripe balance export.

Prints wall time, rows/s and peak memory (max RSS of the child process) for bokfor (a first
export into a fresh ledger, then a re-run that finds every row exported) and, in the same run,
for the stdlib floor: csv + exact Decimal amounts + one text line per row.

    python bench/convert_stripe.py --rows 100000 [--grouping per_day] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from measure import run, table  # noqa: E402

FLOOR = r"""
import csv, re, sys
from decimal import Decimal
rx = [re.compile(p) for p in ("^charge$", "^refund$", "^payout$")]
with open(sys.argv[1], newline="", encoding="utf-8") as src, open(sys.argv[2], "w") as out:
    reader = csv.reader(src)
    next(reader)
    for row in reader:
        gross, fee = Decimal(row[3]), Decimal(row[4])
        account = next((i for i, r in enumerate(rx) if r.search(row[1])), 9)
        out.write(f"{row[9][:10]} {account} {gross} {fee} {row[0]}\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--grouping", default=None, help="override the mapping's grouping")
    parser.add_argument("--keep", type=Path, default=None, help="keep generated files here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bokfor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"stripe_{args.rows}.csv"
    subprocess.run(
        [
            sys.executable,
            str(HERE / "gen_stripe.py"),
            "--rows",
            str(args.rows),
            "--out",
            str(data),
            "--seed",
            "1",
        ],
        check=True,
    )
    mapping = REPO / "mappings" / "stripe.yaml"
    if args.grouping:
        text = mapping.read_text(encoding="utf-8").replace(
            "grouping: per_day", f"grouping: {args.grouping}", 1
        )
        mapping = work / "mapping.yaml"
        mapping.write_text(text, encoding="utf-8")
    ledger = work / "bench.ledger.sqlite"
    for stale in [*work.glob("bench.ledger.sqlite*"), work / "out.si"]:
        stale.unlink(missing_ok=True)  # a fresh ledger (every row exported), no earlier file
    bokfor = [
        sys.executable,
        "-m",
        "bokfor",
        "convert",
        str(data),
        "--mapping",
        str(mapping),
        "--out",
        str(work / "out.si"),
        "--ledger",
        str(ledger),
        "--quiet",
    ]
    floor = [sys.executable, "-c", FLOOR, str(data), str(work / "floor.txt")]
    results = {
        "bokfor convert": run(bokfor),
        "bokfor re-run (all exported)": run(bokfor, ok=(3,)),  # nothing new: exit 3
        "stdlib floor (csv+Decimal+regex+write)": run(floor),
    }
    table(
        f"{args.rows} Stripe rows, grouping {args.grouping or 'per_day (mapping)'}, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        args.rows,
        results,
        "stdlib floor (csv+Decimal+regex+write)",
    )


if __name__ == "__main__":
    main()
