"""Whole-process benchmark of the bank formats: `bokfor convert` on a generated camt.053
(10k and 100k entries: memory must stay flat as the file grows) and a generated SEB CSV
(100k rows), each into a fresh ledger, then the re-run that finds every row exported; in
the same run the floors: stdlib csv + Decimal + 3 regexes + write for the CSV, and the C
XML parser (ElementTree.iterparse) reading every amount for camt.

    python bench/convert_bank.py [--rows 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
from bench.suite import XML_FLOOR  # noqa: E402  (one copy of the camt floor)
from gen_camt import write_camt053  # noqa: E402
from gen_seb import write_seb  # noqa: E402
from measure import run, table  # noqa: E402

CSV_FLOOR = r"""
import csv, re, sys
from decimal import Decimal
rx = [re.compile(p) for p in ("(?i)stripe", "(?i)zettle", "(?i)avgift")]
with open(sys.argv[1], newline="", encoding="utf-8-sig") as src, open(sys.argv[2], "w") as out:
    reader = csv.reader(src, delimiter=";")
    next(reader)
    for row in reader:
        amount = Decimal(row[4])
        account = next((i for i, r in enumerate(rx) if r.search(row[3])), 9)
        out.write(f"{row[0]} {account} {amount} {row[3]}\n")
"""
POLARS_READ = r"""
import sys, polars
polars.read_csv(sys.argv[1], separator=";", infer_schema=False)
"""


def bench_mapping(work: Path) -> Path:
    """The example bank mapping, with unknown rows booked on a suspense account so that
    every generated row is booked (the real example stops on them)."""
    text = (REPO / "mappings" / "bank.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  1930: Företagskonto\n", "  1930: Företagskonto\n  2999: Ej utredda bankposter\n", 1
    )
    text += (
        "    fallback:\n      post:\n        - {account: bank_account, debit: amount}\n"
        "        - {account: 2999, credit: amount}\n"
    )
    path = work / "bank.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def convert(data: Path, mapping: Path, work: Path) -> dict[str, tuple[float, int]]:
    ledger = work / f"{data.stem}.ledger.sqlite"
    for stale in [*work.glob(f"{data.stem}.ledger.sqlite*"), work / f"{data.stem}.si"]:
        stale.unlink(missing_ok=True)  # a fresh ledger, and no earlier file at --out
    cmd = [
        sys.executable,
        "-m",
        "bokfor",
        "convert",
        str(data),
        "--mapping",
        str(mapping),
        "--out",
        str(work / f"{data.stem}.si"),
        "--ledger",
        str(ledger),
        "--quiet",
    ]
    return {"bokfor convert": run(cmd), "bokfor re-run (all exported)": run(cmd, ok=(3,))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep generated files here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bokfor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    mapping = bench_mapping(work)
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}\n")

    seb = work / f"seb_{args.rows}.csv"
    write_seb(seb, args.rows)
    results = convert(seb, mapping, work)
    results["Polars read_csv (all String)"] = run([sys.executable, "-c", POLARS_READ, str(seb)])
    results["stdlib floor (csv+Decimal+regex+write)"] = run(
        [sys.executable, "-c", CSV_FLOOR, str(seb), str(work / "floor.txt")]
    )
    table(
        f"SEB CSV, {args.rows} rows", args.rows, results, "stdlib floor (csv+Decimal+regex+write)"
    )

    for entries in (args.rows // 10, args.rows):
        camt = work / f"camt053_{entries}.xml"
        write_camt053(camt, entries)
        results = convert(camt, mapping, work)
        results["C iterparse floor (every Ntry amount)"] = run(
            [sys.executable, "-c", XML_FLOOR, str(camt)]
        )
        print()
        table(
            f"camt.053, {entries} entries ({camt.stat().st_size // 2**20} MiB); rows/s "
            "counts entries",
            entries,
            results,
            "C iterparse floor (every Ntry amount)",
        )


if __name__ == "__main__":
    main()
