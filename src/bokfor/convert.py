"""The convert job as a library call: files -> rows -> vouchers -> SIE document.

The CLI only parses options, calls `convert`, shows the result and writes the bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from bokfor import __version__
from bokfor.booking import book
from bokfor.domain import FiscalYear, Notice, Origin, Row, Voucher
from bokfor.errors import InputError, SieError, UsageError
from bokfor.mapping import Mapping
from bokfor.sie.model import SieDocument
from bokfor.sources import detect_source, get_source


@dataclass
class InputSummary:
    path: str
    source: str
    rows: int = 0
    outside: int = 0  # rows outside --from/--to
    zero: int = 0  # rows whose amounts are all 0.00
    pending: int = 0  # rows waiting for a payout (per_payout grouping)
    vouchers: int = 0


@dataclass
class Conversion:
    vouchers: list[Voucher]
    inputs: list[InputSummary]
    notices: list[Notice] = field(default_factory=list)
    fiscal_year: FiscalYear | None = None

    def document(self, mapping: Mapping, generated: dt.date) -> SieDocument:
        return SieDocument(
            company=mapping.company,
            sie_type="4I",
            program=("bokfor", __version__),
            generated=generated,
            fiscal_years=[self.fiscal_year] if self.fiscal_year else [],
            accounts=mapping.accounts,
            dimensions=mapping.dimensions,
            objects=mapping.objects,
            vouchers=self.vouchers,
        )


def convert(
    inputs: list[Path],
    mapping: Mapping,
    *,
    source: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Conversion:
    """Read every input, book it with the mapping, and check the result fits one fiscal year."""
    given: dict[Path, Path] = {}
    for path in inputs:
        if given.setdefault(path.resolve(), path) is not path:
            raise UsageError(f"{path} is given twice", hint="name each input file once.")
    vouchers: list[Voucher] = []
    summaries: list[InputSummary] = []
    notices: list[Notice] = []
    seen: dict[str, Origin] = {}
    for path in inputs:
        src = get_source(source) if source else detect_source(path)
        rules = mapping.for_source(src.name)
        summary = InputSummary(str(path), src.name)
        rows = _unique(_count(src.read(path, mapping.timezone), summary), seen)
        booking = book(_in_range(rows, date_from, date_to, summary), rules, mapping, src.schema)
        summary.zero = booking.zero_rows
        summary.pending = len(booking.pending)
        summary.vouchers = len(booking.vouchers)
        vouchers.extend(booking.vouchers)
        notices.extend(booking.notices)
        summaries.append(summary)
    vouchers.sort(key=lambda v: v.date)
    return Conversion(vouchers, summaries, notices, _fiscal_year(vouchers, mapping))


def _count(rows: Iterable[Row], summary: InputSummary) -> Iterator[Row]:
    for row in rows:
        summary.rows += 1
        yield row


def _unique(rows: Iterable[Row], seen: dict[str, Origin]) -> Iterator[Row]:
    """The same row twice in one run (a file given twice, overlapping exports) would be
    booked twice: refuse it."""
    for row in rows:
        first = seen.setdefault(row.key, row.origin)
        if first is not row.origin:
            raise InputError(
                f"duplicate row {row.key} (also at {first}): it would be booked twice",
                file=row.origin.file, line=row.origin.line,
                hint="give each row once; remove the repeated row or the overlapping export.")
        yield row


def _in_range(rows: Iterable[Row], first: dt.date | None, last: dt.date | None,
              summary: InputSummary) -> Iterator[Row]:
    for row in rows:
        if (first and row.date < first) or (last and row.date > last):
            summary.outside += 1
            continue
        yield row


def _fiscal_year(vouchers: list[Voucher], mapping: Mapping) -> FiscalYear | None:
    """One SIE file holds one räkenskapsår (Fortnox imports one year per file)."""
    if not vouchers:
        return None
    start, end = mapping.fiscal_year_of(vouchers[0].date)
    outside = [v for v in vouchers if not start <= v.date <= end]
    if outside:
        raise SieError(
            f"the vouchers span more than one fiscal year: {vouchers[0].date} is in "
            f"{start}–{end}, {outside[0].date} is not",
            hint=f"convert one year at a time with --from {start} --to {end}.")
    return FiscalYear(start, end, 0)
