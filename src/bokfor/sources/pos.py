"""POS day closes as sources: a Z report read by a profile, and Zettle's receipts report.

Each day close is one row (key `pos:<system>:<register>:<z>`) whose `detail` is the whole
`DayClose`: it is booked as one verifikation by `posbook` with the mapping's `pos:` section,
not by rules. With `pos.book_cash`, a close whose cash count has a difference or a deposit
to the bank gives a row for each (`…:diff`, `…:deposit`), booked as their own vouchers, so
each is recorded (and never booked twice) on its own.

The row's amounts and fields are what identify a close's content for the ledger: a Z report
exported again with other numbers is "changed" and stops the run, as it should (a Z is final).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from bokfor.dayclose import DayClose, cash_problems
from bokfor.domain import Notice, Row
from bokfor.errors import BokforError, InputError
from bokfor.sources import AMOUNT, TEXT, Schema

if TYPE_CHECKING:
    from bokfor.sources.zreport import Profile

SECTION = "pos"  # booked by the mapping's top-level `pos:` section
Z, CASH_DIFFERENCE, CASH_DEPOSIT = "z", "cash_difference", "cash_deposit"

SCHEMA = Schema(
    fields={"system": TEXT, "register": TEXT, "z_number": TEXT, "part": TEXT},
    amounts={
        "sales": {"sales": 1},
        "payments": {"payments": 1},
        "tips": {"tips": 1},
        "rounding": {"rounding": 1},
        "cash": {"cash": 1},
    },
    unmapped_fields=("part",),
    content_fields=("system", "register", "z_number", "part"),
)
_ = AMOUNT  # amounts are the day close's totals, for the ledger's content, not for rules


def rows_of(close: DayClose, book_cash: bool) -> Iterator[Row]:
    """The rows of one day close: the Z itself, and its cash vouchers when asked for."""
    fields = {
        "system": close.system,
        "register": close.register,
        "z_number": None if close.z_number is None else str(close.z_number),
    }
    totals = {
        "sales": close.sales_gross,
        "payments": close.payments_total,
        "tips": close.tips,
        "rounding": close.rounding,
        "cash": 0,
    }
    yield Row(
        SECTION,
        close.key,
        close.business_day,
        totals,
        {**fields, "part": Z},
        close.origin,
        detail=close,
    )
    if not book_cash or close.is_x_report or cash_problems(close):
        return  # an inconsistent cash count is refused when the voucher is built
    for part, suffix, amount in (
        (CASH_DIFFERENCE, ":diff", close.cash_difference),
        (CASH_DEPOSIT, ":deposit", close.cash_to_bank),
    ):
        if amount:
            yield Row(
                SECTION,
                close.key + suffix,
                close.business_day,
                {**totals, "cash": amount},
                {**fields, "part": part},
                close.origin,
                detail=close,
            )


class ZReportSource:
    """A sectioned Z-dagrapport read by a layout profile (sources/zreport_profiles/, or the
    mapping's `pos.zreport_profiles`)."""

    name = "zreport"
    title = "POS Z-dagrapport read by a profile (docs/pos.md)"
    section = SECTION
    schema = SCHEMA

    def __init__(self, profiles: Sequence[Profile] = (), book_cash: bool = False) -> None:
        self.profiles = tuple(profiles)
        self.book_cash = book_cash

    def _profile(self, path: Path) -> Profile | None:
        from bokfor.sources import zreport

        return zreport.detect(path, self.profiles)

    def detect(self, path: Path) -> bool:
        try:
            return self._profile(Path(path)) is not None
        except (BokforError, OSError):
            return False

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        from bokfor.sources import zreport

        profile = self._profile(Path(path))
        if profile is None:
            raise InputError(
                "no Z-report profile matches the file's first lines",
                file=str(path),
                hint="name the register's layout in a profile "
                "(pos.zreport_profiles, see docs/pos.md), or export the Z report "
                "again unchanged.",
            )
        close = zreport.read_dayclose(path, profile)
        yield from rows_of(close, self.book_cash)


class ZettleReceiptsSource:
    """Zettle's receipts report (xlsx or csv): one day close per register and day."""

    name = "zettle_receipts"
    title = "Zettle receipts report (xlsx/csv)"
    section = SECTION
    schema = SCHEMA

    def __init__(self, book_cash: bool = False) -> None:
        self.book_cash = book_cash

    def detect(self, path: Path) -> bool:
        from bokfor.sources import zettle

        try:
            return zettle.detect_receipts(Path(path))
        except (BokforError, OSError, ValueError):
            return False

    def explain(self, path: Path) -> InputError | None:
        """The table cap the file exceeds, if that is why `detect` said no."""
        from bokfor.sources import zettle

        return zettle.head_over_limit(Path(path))

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        from bokfor.sources import zettle

        for close in zettle.read_receipts(path):
            yield from rows_of(close, self.book_cash)


ZREPORT = ZReportSource()
ZETTLE_RECEIPTS = ZettleReceiptsSource()


STATEMENT_SCHEMA = Schema(
    fields={"type": TEXT, "kind": TEXT, "reference": TEXT, "paid": "date"},
    amounts={"amount": {"amount": 1}},
    unmapped_fields=("kind", "type"),
    content_fields=("kind", "reference"),
    snippet=(("1581", "debit", "amount"), ("<konto>", "credit", "amount")),
)


class ZettleStatementSource:
    """Zettle's account statement (the Zettle balance): card payments in, fees, payouts to
    the bank. Booked by rules (`sources.zettle_statement`): the card payments are already in
    the day closes and the payouts on the bank statement, so in practice only the fees are
    booked from it (D 6570 / C the Zettle clearing account), the rest skipped."""

    name = section = "zettle_statement"
    title = "Zettle account statement (xlsx/csv)"
    schema = STATEMENT_SCHEMA

    def detect(self, path: Path) -> bool:
        from bokfor.sources import zettle

        try:
            return zettle.detect_statement(Path(path))
        except (BokforError, OSError, ValueError):
            return False

    def explain(self, path: Path) -> InputError | None:
        """The table cap the file exceeds, if that is why `detect` said no."""
        from bokfor.sources import zettle

        return zettle.head_over_limit(Path(path))

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        from bokfor.sources import zettle

        rows, notices = zettle.read_statement(path)
        for r in rows:
            yield Row(
                self.name,
                r.key,
                r.settled.date(),
                {"amount": r.amount},
                {
                    "type": r.type,
                    "kind": r.kind,
                    "reference": r.reference,
                    "paid": r.paid.date() if r.paid else None,
                },
                r.origin,
            )
        yield from notices


ZETTLE_STATEMENT = ZettleStatementSource()


SIE = "sie"  # the part of a row that is a POS's own SIE verifikation


class PosSieSource:
    """A SIE 4 file a POS wrote (its day closes as verifikationer on its own accounts):
    re-mapped through `pos.sie` (accounts, series, cost centres) and booked once each.

    The key is the POS's own numbering: company, fiscal year, series and number, so a
    verifikation imported before is "exported" however often the file is given again; a
    verifikation without a number is keyed by its content and occurrence."""

    name = "pos_sie"
    title = "SIE 4 file from a POS system (its day closes)"
    section = SECTION
    schema = Schema(
        fields={"part": TEXT, "series": TEXT, "number": TEXT, "text": TEXT},
        amounts={"total": {"total": 1}},
        unmapped_fields=("part",),
        content_fields=("series", "number", "text"),
    )

    def detect(self, path: Path) -> bool:
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError:
            return False
        return head.lstrip(b"\xef\xbb\xbf").startswith((b"#FLAGGA", b"#SIETYP", b"#PROGRAM"))

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        from bokfor.sie.reader import read
        from bokfor.sources import OccurrenceKeys

        result = read(Path(path))
        doc = result.document
        if doc.program[0].casefold() == "bokfor":
            # bokfor's own export (an earlier run's --out in the folder this run reads):
            # booked again it would double every verifikation in it.
            raise InputError(
                "this SIE file was written by bokfor, not by a POS "
                "system: it holds vouchers already booked",
                file=str(path),
                hint="give the POS system's own SIE export; write bokfor's --out outside the "
                "folders it reads.",
            )
        who = doc.company.orgnr or doc.company.name
        year = doc.fiscal_years[0].start.isoformat() if doc.fiscal_years else ""
        keys = OccurrenceKeys(f"pos-sie:{who}")
        for voucher in doc.vouchers:
            if voucher.number is not None:
                key = f"pos-sie:{who}:{year}:{voucher.series}:{voucher.number}"
            else:
                key = keys.key(voucher.date, voucher.text, voucher.lines)
            yield Row(
                SECTION,
                key,
                voucher.date,
                {"total": voucher.debit},
                {
                    "part": SIE,
                    "series": voucher.series,
                    "text": voucher.text,
                    "number": None if voucher.number is None else str(voucher.number),
                },
                voucher.origins[0],
                detail=voucher,
            )
        yield from result.notices


POS_SIE = PosSieSource()
