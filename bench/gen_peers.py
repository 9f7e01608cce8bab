"""Generate the peers' benchmark bank CSV: `date;text;amount` with a decimal comma.

    python bench/gen_peers.py out.csv [--rows 100000] [--seed 42]

The shape is the one the peer measurements (shared notes, peers §2) used for hledger 1.25,
beangulp and pandas: a header line `date;text;amount`, ISO dates, a free text and a signed
amount with a decimal comma (`-1234,50`), about 46 bytes a row (4.6 MB per 100k rows). Three
kinds of text are what the three rules match (STRIPE, ZETTLE, SKATTEVERKET: ~30 % of the rows
between them); the rest (card purchases, Swish, bankgiro, salaries, fees) go to the default
account.

One difference from the peers' file: all rows fall in one calendar year (2026), oldest first,
because one SIE file holds one fiscal year and bokfor refuses rows outside it; the peers' file
spread 27 rows a day over ~10 years. Neither hledger nor bokfor cares about the density.
Amounts are integer öre; no float touches money. The same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

HEADER = "date;text;amount\n"
FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 365
MATCHED = (  # (text, sign, öre range): what the three rules match
    ("STRIPE PAYMENTS UK LTD STRIPE", 1, (20_000, 2_500_000)),
    ("ZETTLE PAYOUT ZETTLE", 1, (5_000, 900_000)),
    ("SKATTEVERKET SKATTEKONTO", -1, (50_000, 6_000_000)),
)
MERCHANTS = (
    "ICA NARA ODEN",
    "CLAS OHLSON",
    "BAUHAUS SUNDB",
    "SJ AB",
    "ESSO BROMMA",
    "MAX BURGERS",
    "JULA KUNGSB",
    "KJELL & CO",
    "SPOTIFY",
    "GOOGLE *CLOUD",
)
PAYERS = ("KAFE SODER AB", "BROD & BONOR HB", "ANGENS TRADGARD AB", "NORDISKA KOK AB")


def amount(ore: int) -> str:
    """'-1234,50': the decimal comma of a Swedish net bank."""
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100},{abs(ore) % 100:02d}"


def write_peers(path: Path | str, rows: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(HEADER)
        lines = []
        for i in range(rows):
            day = FIRST_DAY + dt.timedelta(days=i * DAYS // rows)
            kind = rng.random()
            if kind < 0.30:
                text, sign, (lo, hi) = MATCHED[int(kind * 10)]
                ore = sign * rng.randint(lo, hi)
            elif kind < 0.75:
                text = f"KORTKOP {rng.choice(MERCHANTS)} {day:%y%m%d}"
                ore = -rng.randint(1_500, 250_000)
            elif kind < 0.90:
                text = (
                    f"SWISH {rng.choice(('FRAN', 'TILL'))} 4670{rng.randint(1_000_000, 9_999_999)}"
                )
                ore = rng.choice((-1, 1)) * rng.randint(5_000, 150_000)
            elif kind < 0.97:
                text = f"BG {rng.choice(PAYERS)}"
                ore = rng.randint(10_000, 2_500_000)
            elif kind < 0.99:
                text = "LON"
                ore = -rng.randint(1_500_000, 4_500_000)
            else:
                text = "AVGIFT FORETAGSPAKET"
                ore = -rng.choice((9_900, 14_900, 29_900))
            lines.append(f"{day.isoformat()};{text};{amount(ore)}\n")
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    write_peers(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
