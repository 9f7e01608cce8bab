"""Generate a Zettle receipts report ("Kvittorapport", CSV) covering a year of days.

    python bench/gen_zettle.py out.csv [--rows 36500] [--seed 1]

The layout is the one `src/bokfor/sources/zettle.py` reads (and `samples/pos/
zettle_receipts_sv.csv` shows): a Swedish preamble (title, period, payee), the header row
`Datum;Tid;Kvittonummer;Moms (25%);Moms (12%);Moms (6%);Totalt;Avgift;Netto;Betalningsmetod;
Händelsetyp;Kortutgivare;Sista siffror;Personal;Beskrivning;Såld via;Dricks`, one row per
receipt (`;`, decimal comma, UTF-8), then two blank rows and the footer note. `rows` receipts
are spread evenly over every day of 2026 (one fiscal year), opening hours 08-21, so bokfor
books 365 day closes (one voucher per register and day, `mappings/pos.yaml`).

A café's mix: coffee and buns (12 %), wine and beer (25 %), books (6 %); contactless, chip,
Swish, cash and gift card payments; card tips; about 2 % refunds and 3 % receipts with VAT at
two rates (bokfor derives their split and warns once per day, as it does on real files). VAT
is summed per receipt line as Zettle does (each line rounded to the öre), so every day passes
bokfor's VAT tolerance. Amounts are integer öre; the same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 365
HEADER = (
    "Datum;Tid;Kvittonummer;Moms (25%);Moms (12%);Moms (6%);Totalt;Avgift;Netto;"
    "Betalningsmetod;Händelsetyp;Kortutgivare;Sista siffror;Personal;Beskrivning;"
    "Såld via;Dricks\n"
)
RATES = (25, 12, 6)
PRODUCTS = (  # (name, VAT rate, price in öre incl. VAT)
    ("Kaffe", 12, 3500),
    ("Latte", 12, 4900),
    ("Kanelbulle", 12, 3200),
    ("Smörgås", 12, 6500),
    ("Sallad", 12, 9900),
    ("Vin", 25, 12500),
    ("Öl", 25, 7900),
    ("Bok", 6, 10000),
)
FOOD = [p for p in PRODUCTS if p[1] == 12]
METHODS = (
    ("Kontaktlös", 0.45),
    ("Chip", 0.15),
    ("Swish", 0.20),
    ("Kontant", 0.17),
    ("Presentkort", 0.03),
)
CARD = {"Kontaktlös", "Chip"}
ISSUERS = ("VISA", "MASTERCARD")
STAFF = ("Alva", "Bo", "Kim", "Sam")


def money(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100},{abs(ore) % 100:02d}"


def line_vat(gross: int, rate: int) -> int:
    """VAT in a line's gross, rounded half away from zero to the öre."""
    num = abs(gross) * rate
    vat = (2 * num + (100 + rate)) // (2 * (100 + rate))
    return vat if gross >= 0 else -vat


def write_zettle(path: Path | str, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    methods = [m for m, _ in METHODS]
    weights = [w for _, w in METHODS]
    last = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("Kvittorapport\n\n")
        out.write(f"Period:;;{FIRST_DAY:%d.%m.%Y} - {last:%d.%m.%Y}\n\n")
        out.write(
            "Betalningsmottagare:;;Exempelkaféet i Byn AB\n;;Bygatan 3, 123 45 Byn\n"
            ";;559900-1236\n\n"
        )
        out.write(HEADER)
        buf: list[str] = []
        for n in range(rows):
            day = FIRST_DAY + dt.timedelta(days=n * DAYS // rows)
            first = n * DAYS // rows
            # receipts of one day in time order: their place within the day sets the clock
            day_start = -(-first * rows // DAYS)  # first receipt index of this day
            day_end = -(-(first + 1) * rows // DAYS)
            share = (n - day_start) / max(1, day_end - day_start)
            seconds = 8 * 3600 + int(share * 13.5 * 3600) + rng.randint(0, 59)
            clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            lines: list[tuple[str, int, int]] = []  # (name, rate, qty)
            roll = rng.random()
            if roll < 0.03:  # two rates on one receipt
                lines.append((*rng.choice(FOOD)[:2], 1))
                lines.append(("Vin", 25, 1))
            else:
                name, rate, _ = rng.choice(PRODUCTS)
                lines.append((name, rate, rng.choice((1, 1, 1, 2, 2, 3))))
                if rate == 12 and rng.random() < 0.4:
                    other = rng.choice(FOOD)
                    if other[0] != name:
                        lines.append((other[0], 12, 1))
            refund = rng.random() < 0.02
            sign = -1 if refund else 1
            vat = {r: 0 for r in RATES}
            gross = 0
            for name, rate, qty in lines:
                price = next(p for p in PRODUCTS if p[0] == name)[2]
                amount = sign * qty * price
                gross += amount
                vat[rate] += line_vat(amount, rate)
            method = rng.choices(methods, weights)[0]
            tip = 0
            if method in CARD and not refund and rng.random() < 0.1:
                tip = rng.choice((500, 1000, 2000))
            total = gross + tip
            fee = (abs(total) * 165 + 5000) // 10000 if method in CARD and not refund else 0
            issuer = rng.choice(ISSUERS) if method in CARD else ""
            digits = f"{rng.randint(0, 9999):04d}" if method in CARD else ""
            description = ", ".join(f"{qty} x {name}" for name, _, qty in lines)
            buf.append(
                f"{day.isoformat()};{clock};{n + 1};{money(vat[25])};{money(vat[12])};"
                f"{money(vat[6])};{money(total)};{money(fee)};{money(total - fee)};{method};"
                f"{'Återbetalning' if refund else 'Köp'};{issuer};{digits};"
                f"{rng.choice(STAFF)};{description};POS;{money(tip)}\n"
            )
            if len(buf) >= 10_000:
                out.writelines(buf)
                buf.clear()
        out.writelines(buf)
        out.write(
            "\n\nZettles verksamhet är momsbefriad, därför tas ingen moms ut på Zettles avgifter.\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=36_500, help="receipts (default 100 a day)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_zettle(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
