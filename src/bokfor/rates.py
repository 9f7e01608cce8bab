"""Exchange rates for rows in a currency the books are not kept in.

A Stripe balance in EUR must be booked in SEK, and bokfor never guesses a rate: the mapping
names its source — fixed rates, or a rate file (one quote per bank day, e.g. saved from
Riksbanken's "Sök räntor & valutakurser"). A day without a quote (weekend, holiday) uses the
latest earlier quote at most `max_age_days` old, as is customary; older is an error.

Rates are kept as exact fractions (text "11.2345" -> 112345/10000): amounts are converted
with integer arithmetic and rounded to the öre, half away from zero.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bokfor.errors import InputError, MappingError
from bokfor.fileio import read_regular
from bokfor.sources.csvutil import Table

MAX_BYTES = 16 * 2**20  # a rate file: one line a bank day and currency (decades: a few MB)


@dataclass(frozen=True)
class Rate:
    """SEK (the company currency) per one unit of `currency`, quoted on `day`."""

    currency: str
    num: int
    den: int
    text: str
    day: dt.date | None  # None for a fixed rate

    def convert(self, amount: int) -> int:
        """`amount` (hundredths of the foreign currency) in öre, half away from zero."""
        q, r = divmod(abs(amount) * self.num, self.den)
        if 2 * r >= self.den:
            q += 1
        return -q if amount < 0 else q


@dataclass
class RateTable:
    fixed: dict[str, Rate] = field(default_factory=dict)
    quotes: dict[str, list[tuple[dt.date, Rate]]] = field(default_factory=dict)
    max_age_days: int = 7
    source: str = "the mapping"
    file: Path | None = None  # the rate file read, if any (an output must not replace it)

    def rate(self, currency: str, day: dt.date) -> Rate | None:
        currency = currency.upper()
        if currency in self.fixed:
            return self.fixed[currency]
        series = self.quotes.get(currency)
        if not series:
            return None
        i = bisect.bisect_right(series, day, key=lambda item: item[0])
        if i == 0:
            return None
        quoted, rate = series[i - 1]
        if (day - quoted).days > self.max_age_days:
            return None
        return rate

    def describe_missing(self, currency: str, day: dt.date) -> str:
        series = self.quotes.get(currency.upper())
        if not series:
            return f"no rate for {currency.upper()} in {self.source}"
        before = [d for d, _ in series if d <= day]
        if not before:
            return f"no {currency.upper()} rate on or before {day} in {self.source}"
        return (
            f"the latest {currency.upper()} rate before {day} is from {before[-1]}, more than "
            f"{self.max_age_days} days earlier ({self.source})"
        )


def parse_rate(text: str) -> tuple[int, int]:
    """'11.2345' or '11,2345' -> (112345, 10000); refuses anything but a positive decimal."""
    whole, _, frac = text.strip().replace(",", ".").partition(".")
    digits = (whole or "0") + frac
    if not digits.isascii() or not digits.isdigit() or not (whole or frac):
        raise ValueError(f"{text!r} is not a rate")
    num = int(digits)
    if num <= 0:
        raise ValueError(f"{text!r} is not a positive rate")
    return num, 10 ** len(frac)


def load_rate_file(path: Path, max_age_days: int) -> RateTable:
    """Read `date;currency;rate[;unit]` lines (header required; `,` or `;`; '.' or ',' as
    decimal mark; `unit` 100 for rates quoted per 100 units, as some older series are)."""
    table = RateTable(max_age_days=max_age_days, source=str(path), file=path)
    data = read_regular(
        path,
        "a rate file (date;currency;rate)",
        limit=MAX_BYTES,
        error=MappingError,
        key="currency_rates.file",
    )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("rate file is not UTF-8", file=str(path)) from None
    lines = text.splitlines()
    if not lines:
        raise InputError(
            "rate file is empty",
            file=str(path),
            hint="add a header line `date;currency;rate` and one line per quote.",
        )
    sep = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    reader = Table(
        lines, sep, str(path), hint="a rate file has one `date;currency;rate` line per quote."
    )
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ("date", "currency", "rate") if c not in header]
    if missing:
        raise InputError(
            f"rate file header lacks {', '.join(missing)}",
            file=str(path),
            line=1,
            hint="the header must be `date;currency;rate` (optionally `;unit`).",
        )
    at = {name: header.index(name) for name in header}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            day = dt.date.fromisoformat(row[at["date"]].strip())
        except (ValueError, IndexError):
            raise InputError(
                f"not a date: {row[at['date']] if len(row) > at['date'] else ''!r}",
                file=str(path),
                line=number,
                column="date",
                hint="write YYYY-MM-DD.",
            ) from None
        currency = row[at["currency"]].strip().upper()
        try:
            num, den = parse_rate(row[at["rate"]])
        except (ValueError, IndexError) as exc:
            raise InputError(
                str(exc),
                file=str(path),
                line=number,
                column="rate",
                hint="write SEK per unit, e.g. 11.2345.",
            ) from None
        if "unit" in at and len(row) > at["unit"] and row[at["unit"]].strip():
            unit = row[at["unit"]].strip()
            if not unit.isdigit() or int(unit) == 0:
                raise InputError(
                    f"unit {unit!r} is not a whole number",
                    file=str(path),
                    line=number,
                    column="unit",
                )
            den *= int(unit)
        table.quotes.setdefault(currency, []).append(
            (day, Rate(currency, num, den, row[at["rate"]].strip(), day))
        )
    for series in table.quotes.values():
        series.sort(key=lambda item: item[0])
    return table
