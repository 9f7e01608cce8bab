"""Input formats. One module per format, each exposing one `Source` object.

A source knows three things: whether a file is its kind (`detect`, from the content, never
the file name), how to turn it into normalised `Row`s (`read`), and which fields and named
amounts those rows carry (`schema`, so a mapping can be validated before any file is read).
A source may also read into a row frame (`read_frame`, issue 22's columnar core);
`read_frame` here gives any source's rows as one.
Adding a format = one module + registering it in `SOURCES` + one sample + one golden test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from bokfor.domain import Notice, Row, digest
from bokfor.errors import InputError
from bokfor.fileio import open_regular

if TYPE_CHECKING:  # the readers import this module
    from bokfor.sources import netbank, zreport

# Field kinds a rule condition can test.
TEXT, DATE, DATETIME, AMOUNT = "text", "date", "datetime", "amount"


@dataclass(frozen=True)
class Schema:
    """What rows of a source carry.

    `amounts` maps each named amount to its expression in basis amounts, so that a posting
    template can be checked for balance before it ever sees a row: for Stripe,
    gross = fee + net, and {debit net, debit fee, credit gross} sums to zero.
    """

    fields: dict[str, str]
    amounts: dict[str, dict[str, int]]
    group_keys: dict[str, str] = field(default_factory=dict)  # grouping mode -> field
    unmapped_fields: tuple[str, ...] = ()  # fields that identify an unmapped kind of row
    currency_field: str | None = None
    open_prefixes: tuple[str, ...] = ()  # e.g. "metadata." for free-form columns
    order_field: str | None = None  # orders rows within a day (e.g. a timestamp)
    # Fields that, with the date and the amounts, make up a row's booking-relevant content:
    # a row exported before whose content differs is "changed". Never fields that fill in
    # later (a payout id), or a re-download would look changed.
    content_fields: tuple[str, ...] = ()
    # Postings suggested for an unmapped kind of row: (account, "debit"/"credit", amount).
    snippet: tuple[tuple[str, str, str], ...] = ()
    # The posting pseudo-account booked on the ledger account of the row's own bank account
    # (`bank_account`), for sources whose rows say which bank account they are from.
    bank_accounts: str | None = None
    # The amount that is the money moving, + = money into the account the rows are of (a
    # bank row's `amount`, a Stripe row's `net`): what tells a posting whose sign is
    # backwards (bokfor.plausibility). None: the rows have no such amount; nothing checked.
    money: str | None = None
    # The field of free text that varies row by row (a bank row's `text`): rows no rule
    # matches get suggested patterns on it (bokfor.suggest), not an equality per text.
    free_text: str | None = None
    # per_payout: the row that is a payout itself, as (field, value), and the column of the
    # export naming a row's payout. A payout's rows, the payout with them, add up to 0 on
    # `money` (it pays out exactly what it swept: a Stripe automatic payout), so a payout
    # whose rows do not is missing some (plan._Payouts). None: the rows of a payout need not
    # add up (a Report without the payout row, a settlement holding back a reserve).
    payout_row: tuple[str, str] | None = None
    payout_column: str | None = None

    def has_field(self, name: str) -> bool:
        return (
            name in self.fields
            or name in self.amounts
            or name == "date"
            or any(name.startswith(p) for p in self.open_prefixes)
            or (self.currency_field is not None and name in self.fx_fields)
        )

    @property
    def fx_fields(self) -> tuple[str, ...]:
        """Fields a row converted from another currency carries (booking.convert_row)."""
        return ("fx.currency", "fx.rate", "fx.rate_date", *(f"fx.{name}" for name in self.amounts))

    def kind(self, name: str) -> str:
        if name in self.amounts:
            return AMOUNT
        if name == "date":
            return DATE
        return self.fields.get(name, TEXT)


class OccurrenceKeys:
    """Stable keys for rows that have no id of their own (many bank CSVs): a digest of the
    row's content plus its occurrence among identical rows of the file. Two equal card
    payments on one day stay two rows (`…#1`, `…#2`); a re-download gives each the same key
    again, and a third such payment added later is `…#3`, new."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._seen: Counter[str] = Counter()

    def key(self, *content: object) -> str:
        base = digest(content)
        seen = self._seen
        n = seen[base] = seen.get(base, 0) + 1  # not `+= 1`: Counter.__missing__ is Python
        return f"{self.prefix}:{base}#{n}"


class Source(Protocol):
    name: str  # the format, for `--source <name>`
    title: str  # for people: "Stripe balance export (balance_history.csv)"
    # The mapping section that books its rows (`sources: {<section>: ...}`): the source's
    # name, or one section shared by formats with one row shape (every bank format: `bank`).
    section: str
    schema: Schema

    def detect(self, path: Path) -> bool:
        """True when the file's content is this format."""
        ...

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        """Yield normalised rows; raise InputError naming file, line and column. A `Notice`
        among the rows is a warning that does not stop the run (pending rows left out, a
        statement whose balances do not add up)."""
        ...

    # A source may also read into frames (issue 22):
    #   def read_frame(self, path: Path, tz: dt.tzinfo) -> tuple[pl.DataFrame, list[Notice]]
    # the rows `read` gives as a row frame (bokfor.frames) and its notices; `read_frame`
    # below calls it, or makes the frame from `read` for a source that has none yet; and
    #   def read_frames(self, path: Path, tz: dt.tzinfo) -> Iterator[pl.DataFrame | Notice]
    # the same rows a batch at a time, its notices among them where `read` gives them,
    # raising NotFramed for a file its row reader must read: the plan reads such a source
    # by it.


class NotFramed(Exception):
    """A file that only its source's row reader reads exactly (a blank line, a ragged row,
    a long line: `csvframe`), found by `read_frames`, perhaps after earlier batches were
    handed out: the caller starts over with `read`."""


def read_frame(source: Source, path: Path, tz: dt.tzinfo) -> tuple[object, list[Notice]]:
    """A source's rows as a row frame (`bokfor.frames`) and its notices: by its own
    `read_frame` where it has one, else from the rows of `read` (the seam while readers
    move to frames one at a time)."""
    own = getattr(source, "read_frame", None)
    if own is not None:
        return own(path, tz)
    from bokfor.frames import from_rows

    items = list(source.read(path, tz))
    return (
        from_rows((i for i in items if isinstance(i, Row)), source.schema),
        [i for i in items if isinstance(i, Notice)],
    )


@dataclass(frozen=True)
class UserFormats:
    """What the mapping adds to the formats bokfor reads: its own net-bank layouts
    (`sources.bank.profiles`) and Z-report profiles (`pos.zreport_profiles`), tried before
    the shipped ones, and whether day closes give cash vouchers (`pos.book_cash`)."""

    bank_profiles: tuple[netbank.Profile, ...] = ()
    zreport_profiles: tuple[zreport.Profile, ...] = ()
    book_cash: bool = False


def all_sources(user: UserFormats | None = None) -> list[Source]:
    """Every format bokfor reads, with the mapping's own layouts (`user`)."""
    from bokfor.sources import (
        bgmax,
        camt,
        mt940,
        netbank,
        nets_ocr,
        pos,
        settlement,
        stripe_balance,
        stripe_payments,
        stripe_payouts,
        stripe_report,
    )

    user = user or UserFormats()
    return [
        stripe_balance.SOURCE,
        stripe_report.SOURCE,
        stripe_payments.SOURCE,
        stripe_payouts.SOURCE,
        camt.SOURCE,
        mt940.SOURCE,
        bgmax.SOURCE,
        nets_ocr.SOURCE,
        netbank.SOURCE.with_profiles(user.bank_profiles) if user.bank_profiles else netbank.SOURCE,
        pos.ZReportSource(user.zreport_profiles, user.book_cash)
        if user.zreport_profiles or user.book_cash
        else pos.ZREPORT,
        pos.ZettleReceiptsSource(user.book_cash) if user.book_cash else pos.ZETTLE_RECEIPTS,
        pos.ZETTLE_STATEMENT,
        pos.POS_SIE,
        settlement.SOURCE,
    ]


def get_source(name: str, user: UserFormats | None = None) -> Source:
    """The format `name` (`--source NAME`); its reader is handed only a regular file, as
    `detect_source` ensures for a detected one."""
    for source in all_sources(user):
        if source.name == name:
            return _Checked(source)
    names = ", ".join(s.name for s in all_sources())
    raise InputError(f"unknown source {name!r}", hint=f"use one of: {names}.")


def detect_source(path: Path, user: UserFormats | None = None) -> Source:
    """The one source whose `detect` accepts the file, or an InputError saying what it saw."""
    check_input(path)
    sources = all_sources(user)
    matches = [s for s in sources if s.detect(path)]
    if len(matches) == 1:
        return matches[0]
    known = "; ".join(s.title for s in sources)
    if not matches:
        # A source that can tell what is wrong with a near miss; a cap the file exceeds
        # (`limits`) first, as it is why no layout could be recognised.
        explains = [
            explain
            for source in sources
            if (explain := getattr(source, "explain", None)) is not None
        ]
        explained = [error for explain in explains if (error := explain(path)) is not None]
        if explained:
            from bokfor.sources.limits import LimitError

            raise next((e for e in explained if isinstance(e, LimitError)), explained[0])
        raise InputError(
            "not a file bokfor can read: its header matches no known format",
            file=str(path),
            hint=f"bokfor reads: {known}. Use --source NAME to force a format.",
        )
    names = ", ".join(s.name for s in matches)
    raise InputError(
        f"the file matches several formats ({names})",
        file=str(path),
        hint="use --source NAME to choose one.",
    )


def check_input(path: Path) -> None:
    """An input must be a regular file: a FIFO would block a reader's open and a device
    never end. (Its size is capped where the run starts: plan._check_sizes.) Its name
    must be text: the ledger records where each row came from, and a name in another
    encoding than UTF-8 (Latin-1 from an old share or a zip) cannot be recorded."""
    if not name_is_text(str(path)):
        raise InputError(
            "the file's name is not UTF-8 text, and the export ledger records it",
            file=str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
            hint="rename the file (e.g. without å, ä, ö), or unpack the zip it came from with "
            "a tool that writes UTF-8 names.",
        )
    open_regular(path, "an export file (Stripe, bank or POS)").close()


def name_is_text(name: str) -> bool:
    """Whether a file name (or path) is text the ledger can record: os.fsdecode gives the
    bytes of a name in another encoding than UTF-8 (Latin-1 from an old share or a zip) as
    surrogates, which no UTF-8 text holds."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Checked:
    """A source forced by name, whose `read` first checks the path (`check_input`)."""

    # The rest of `Source`, from the source itself (`__getattr__`).
    name: str
    title: str
    section: str
    schema: Schema
    detect: Callable[[Path], bool]

    def __init__(self, source: Source) -> None:
        self._source = source

    def __getattr__(self, name: str) -> object:
        found = getattr(self._source, name)
        if name == "read_frames":  # where the source has it: checked as `read`

            def read_frames(path: Path, tz: dt.tzinfo) -> object:
                check_input(path)
                return found(path, tz)

            return read_frames
        return found

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        check_input(path)
        return self._source.read(path, tz)

    def read_frame(self, path: Path, tz: dt.tzinfo) -> tuple[object, list[Notice]]:
        check_input(path)
        return read_frame(self._source, path, tz)
