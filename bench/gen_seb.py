"""Write a large SEB "Spara kontohändelser" CSV for benchmarking `netbank.SOURCE.read`.

    python bench/gen_seb.py out.csv [ROWS] [SEED]
    python bench/gen_seb.py --measure [ROWS]   # rows/s and peak RSS of reading it

The file has SEB's exact layout (UTF-8 with BOM, ';', CRLF, three decimals, newest first)
and the mix of texts a busy shop account has: card purchases with their purchase-date
suffix, Swish numbers, Stripe and Zettle payouts, bankgiro payers, salaries and fees.
The running balance adds up, so the read also exercises the balance check.
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = "Bokföringsdatum;Valutadatum;Verifikationsnummer;Text;Belopp;Saldo"
MERCHANTS = (
    "KJELL & COMP",
    "PRESSBYRÅN C",
    "CLAS OHLSON ",
    "ICA NÄRA ÖST",
    "BAUHAUS BROM",
    "SJ AB       ",
    "CIRCLE K SVE",
    "WEBHALLEN ST",
    "ADOBE SYSTEM",
    "GOOGLE CLOUD",
)
PAYERS = (
    "KUNDEN I NORR AB",
    "FIKA & BULLAR HB",
    "BYGG OCH MÅLERI AB",
    "ÅKESSONS EL AB",
    "STRIPE PAYMENTS EUROPE",
    "ZETTLE PAYOUT",
)


def _amount(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}0"


def write_seb(path: Path | str, rows: int, seed: int = 1) -> None:
    """`rows` transactions over consecutive days of 2026 ending 2026-12-31 (one fiscal year,
    so the whole file converts), newest first."""
    rng = random.Random(seed)
    end = dt.date(2026, 12, 31)
    days = min(365, max(1, rows // 40))  # ~40 transactions a day, at most a year
    txs = []
    balance = 5_231_417
    for i in range(rows):
        day = end - dt.timedelta(days=days - 1 - i * days // rows)
        kind = rng.random()
        if kind < 0.55:
            buy = day - dt.timedelta(days=rng.randint(0, 3))
            text = f"{rng.choice(MERCHANTS)}/{buy:%y-%m-%d}"
            ore = -rng.randint(1_500, 250_000)
        elif kind < 0.75:
            text = f"4670{rng.randint(1_000_000, 9_999_999)}"
            ore = rng.choice((-1, 1)) * rng.randint(5_000, 150_000)
        elif kind < 0.97:
            text = rng.choice(PAYERS)
            ore = rng.randint(10_000, 2_500_000)
        elif kind < 0.99:
            text = "LÖN JANUARI"
            ore = -rng.randint(1_500_000, 4_500_000)
        else:
            text = "AVGIFT FÖRETAGSPAKET"
            ore = -9_500
        balance += ore
        txs.append((day, text, ore, balance))
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(HEADER + "\r\n")
        for day, text, ore, bal in reversed(txs):
            batch = 5_484_000_000 + (day - dt.date(2020, 1, 1)).days * 17
            f.write(f"{day};{day};{batch};{text};{_amount(ore)};{_amount(bal)}\r\n")


_CHILD = """
import resource, sys, time
from zoneinfo import ZoneInfo
from pathlib import Path
from bokfor.domain import Row
from bokfor.sources.netbank import SOURCE
start = time.perf_counter()
rows = sum(1 for r in SOURCE.read(Path(sys.argv[1]), ZoneInfo("Europe/Stockholm"))
           if isinstance(r, Row))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rows, seconds, peak)
"""


def measure(rows: int = 100_000) -> tuple[int, float, int]:
    """(rows, seconds, peak RSS in KiB) of reading a generated file in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seb.csv"
        write_seb(path, rows)
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True
        ).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--measure":
        count, seconds, peak = measure(int(argv[1]) if len(argv) > 1 else 100_000)
        print(
            f"{count} rows in {seconds:.2f} s = {count / seconds:,.0f} rows/s, "
            f"peak RSS {peak / 1024:.0f} MiB"
        )
        return
    if not argv:
        sys.exit(__doc__)
    write_seb(
        argv[0], int(argv[1]) if len(argv) > 1 else 100_000, int(argv[2]) if len(argv) > 2 else 1
    )


if __name__ == "__main__":
    main(sys.argv[1:])
