"""Settlement reports of wallets and card acquirers: Vipps, MobilePay, Clearhaus, ….

A settlement report is the provider's account of the money it took in for the merchant and
paid out: sales (captures), refunds, chargebacks, its fees, reserves held back and the payout
to the bank. bokfor books it the way it books Zettle's account statement: every movement is
a row with a `kind` (sale, refund, chargeback, credit, fee, fee_invoiced, reserve, payout,
other) and a signed `amount`, + = into the provider's balance, so that the mapping's
`sources.settlement` rules post sales, fees and payouts through one clearing account, which
is back at zero after each payout. Rows are keyed by the provider's own ids
(`vipps:<transaction id>:sale`, `vipps:<settlement id>:payout`), the same in every format of
one provider, so one settlement given as CSV and as XML is booked once.

Why profiles. The tabular formats differ only in where the header is, what the columns are
called and which movements one row holds: an event a row with a type column (MobilePay), a
transaction a row with gross, fee and refund columns (Vipps), a whole settlement a row with
its sales, fees, reserve and payout (Clearhaus). Each is a *settlement profile*, data
(`settlement_profiles/*.yaml`, checked by `ProfileModel`), and another acquirer's CSV is
another profile, not code. The Vipps XML SettlementReport is a tree, not a table: it is read
by code (`_vipps_xml`) into the same rows.

What is checked, as warnings (the money that moved is what the rows say; a bookkeeper must
see where a report does not add up, not be stopped by it): a row's movements against its
net column, a payout against the movements of its settlement, the XML's settlement totals.
Rows a profile marks as not bookable (Clearhaus' open, unsettled period) are skipped and
counted in a notice, never silently. Amounts in NOK, DKK or EUR are converted to the books'
currency at the mapping's rates, like every source's.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import yaml
from pydantic import Field, ValidationError

from bokfor.dayclose import sek_text
from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import AmountError, parse_amount
from bokfor.sources import TEXT, Schema, limits, tables
from bokfor.sources.bank import decode
from bokfor.sources.csvutil import Table
from bokfor.sources.limits import LimitError
from bokfor.sources.netbank import _CACHE_LIMIT, _date_help, _excel_date, _fold, _Strict

NAME = SECTION = "settlement"
TITLE = "Wallet or card-acquirer settlement (Vipps, MobilePay, Clearhaus: CSV, xlsx, XML)"
PROFILE_DIR = Path(__file__).with_name("settlement_profiles")
# Tried in this order, the first that matches wins: a narrower layout before a wider one
# (MobilePay's transfer overview holds every column of its sales overview, and more).
BUILTIN_ORDER = (
    "vipps_csv",
    "vipps_xlsx",
    "mobilepay_transfers",
    "mobilepay_sales",
    "mobilepay_transactions",
    "clearhaus",
)

KINDS = (
    "sale",
    "refund",
    "chargeback",
    "credit",
    "fee",
    "fee_invoiced",
    "reserve",
    "payout",
    "other",
)
_OUT = frozenset({"payout", "reserve"})  # what leaves the balance, not activity
_NOT_BALANCE = frozenset({"fee_invoiced"})  # billed apart: never in the balance or payout

_HINT = "give bokfor the settlement report exactly as it was downloaded from the provider."
_SCAN_ROWS = 60  # detection looks for a header in this many rows
_DETECT_BYTES = 64 * 1024

SCHEMA = Schema(
    fields={
        "provider": TEXT,
        "kind": TEXT,
        "type": TEXT,
        "transaction_id": TEXT,
        "payout_id": TEXT,
        "reference": TEXT,
        "text": TEXT,
        "unit": TEXT,
        "currency": TEXT,
        "settlement_type": TEXT,
    },
    amounts={"amount": {"amount": 1}},
    group_keys={"per_payout": "payout_id"},
    unmapped_fields=("provider", "kind"),
    currency_field="currency",
    content_fields=("provider", "kind", "currency"),
    snippet=(("<clearing>", "debit", "amount"), ("<konto>", "credit", "amount")),
    money="amount",  # + = into the provider's balance (the clearing account)
)


# -- the profile as data (strict pydantic models, as the net-bank profiles') -------------


class EntryModel(_Strict):
    """One movement a row holds: its amount column and its kind."""

    amount: str = Field(description="Column of the amount")
    kind: str | None = Field(None, description="The movement's kind (sale, refund, fee, …)")
    kind_column: str | None = Field(
        None, description="Or: the column whose value names the kind, looked up in `kinds`"
    )
    kinds: dict[str, str] = Field(
        default_factory=dict,
        description="Value of kind_column -> "
        "kind (any case); another value is refused, never given a "
        "guessed kind",
    )
    sign: Literal[1, -1] = Field(
        1,
        description="-1: the report writes money leaving the "
        "balance (a payout) as a positive amount",
    )
    date: str | None = Field(
        None, description="Column dating this movement (a payout's date), else the row's date"
    )


class RowModel(_Strict):
    """A kind of data row: the first whose `when` matches a row reads it."""

    when: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Column -> values "
        "(any case): this kind of row has one of them there; "
        "empty = every other row",
    )
    skip: str | None = Field(
        None, description="Rows of this kind are not booked: why (they are counted in a warning)"
    )
    id: str | None = Field(
        None,
        description="Column of the provider's id of the movement "
        "(transaction, transfer or settlement)",
    )
    payout_id: str | None = Field(
        None, description="Column of the payout (settlement, transfer) the row is paid out with"
    )
    date: str | None = Field(None, description="Column of the row's date")
    reference: str | None = None
    text: str | None = None
    unit: str | None = Field(None, description="Column of the sales unit, shop or payment point")
    currency: str | None = None
    net: str | None = Field(
        None,
        description="Column the row's activity must add up to "
        "(checked: a warning when it does not)",
    )
    entries: list[EntryModel] = Field(default_factory=list)


class TableModel(_Strict):
    header: list[str] = Field(
        min_length=2,
        description="Cells the header row must hold "
        "(any case, any order; other cells may be there too)",
    )
    optional: list[str] = Field(
        default_factory=list, description="Columns the rows may use that some files lack"
    )
    rows: list[RowModel] = Field(
        default_factory=list, description="The kinds of data rows under the header"
    )
    implicit_payout: str | None = Field(
        None,
        description="The file lists what each payout "
        "id paid out but has no row for the payout itself: "
        "one is made per payout id and currency, dated by "
        "this column",
    )
    refuse: str | None = Field(
        None,
        description="A row under this header is refused with "
        "this reason (a section bokfor cannot book without guessing)",
    )
    hint: str | None = Field(None, description="With `refuse`: what to give bokfor instead")


class ProfileModel(_Strict):
    title: str
    provider: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    file: Literal["csv", "xlsx"] = "csv"
    decimal_mark: Literal[".", ","]
    date_format: str | list[str] = Field(
        description="strptime formats tried in order, or 'iso' (ISO 8601, with time and offset)"
    )
    currency: str | None = Field(None, description="Currency when no column says")
    tables: list[TableModel] = Field(
        min_length=1, description="The first must be found for the file to be this layout"
    )


@dataclass(frozen=True)
class Profile:
    """A checked profile (`_check`): its name (the file's) and its model."""

    name: str
    model: ProfileModel


def _check(name: str, model: ProfileModel) -> Profile:
    """Every column a row uses is in its table's header or optional list; kinds are known."""
    for t, table in enumerate(model.tables):
        known = {_fold(c) for c in (*table.header, *table.optional)}
        if not table.rows and not table.refuse:
            raise ValueError(f"{name}: tables[{t}] describes no rows and refuses none")
        for r, row in enumerate(table.rows):
            where = f"{name}: tables[{t}].rows[{r}]"
            used = [
                row.id,
                row.payout_id,
                row.date,
                row.reference,
                row.text,
                row.unit,
                row.currency,
                row.net,
                *row.when,
            ]
            for entry in row.entries:
                used += [entry.amount, entry.kind_column, entry.date]
                kinds = [entry.kind] if entry.kind else list(entry.kinds.values())
                if bool(entry.kind) == bool(entry.kind_column):
                    raise ValueError(f"{where}: an entry names a kind or a kind_column")
                for kind in kinds:
                    if kind not in KINDS:
                        raise ValueError(f"{where}: unknown kind {kind!r}")
            for column in used:
                if column is not None and _fold(column) not in known:
                    raise ValueError(f"{where}: column {column!r} is not in the header")
            if not row.skip and not row.entries:
                raise ValueError(f"{where}: a row kind books entries or is skipped")
            if not row.skip and row.date is None:
                raise ValueError(f"{where}: a booked row needs a date column")
    return Profile(name, model)


@functools.cache
def builtin() -> tuple[Profile, ...]:
    """The shipped profiles, loaded on first use (bokfor starts without reading them)."""
    found = {p.stem for p in PROFILE_DIR.glob("*.yaml")}
    if found != set(BUILTIN_ORDER):
        raise RuntimeError(f"settlement_profiles/ holds {sorted(found)}, expected {BUILTIN_ORDER}")
    out = []
    for name in BUILTIN_ORDER:
        with open(PROFILE_DIR / f"{name}.yaml", encoding="utf-8") as f:
            data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        try:
            out.append(_check(name, ProfileModel.model_validate(data)))
        except ValidationError as exc:
            raise RuntimeError(f"settlement profile {name}: {exc}") from None
    return tuple(out)


# -- reading a file as (line, cells) ---------------------------------------------------


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(_DETECT_BYTES)


def _cells(path: Path, *, head: bool = False) -> tuple[str, list[tuple[int, list[Any]]]]:
    """("csv" or "xlsx", [(line, cells)]) of the file; `head`: only the rows where a header
    can be (detection must not read a large file whole)."""
    file = str(path)
    try:
        data = _head(path) if head else path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=file) from None
    if tables.is_zip(data):
        rows = _xlsx_rows(path)
        return "xlsx", list(itertools.islice(rows, _SCAN_ROWS) if head else rows)
    if head and len(data) == _DETECT_BYTES:
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
    text, _ = decode(data, file, hint=_HINT)
    lines = text.splitlines(keepends=True)  # the line ends of a quoted field kept
    if head:
        lines = lines[:_SCAN_ROWS]
    delimiter = max(";,\t", key="\n".join(lines[:_SCAN_ROWS]).count)
    reader = Table(lines, delimiter, file, hint=_HINT)
    records: list[tuple[int, list[Any]]] = []
    before = 0
    for cells in reader:  # a record's line is its first (a quoted comment may span lines)
        records.append((before + 1, cells))
        before = reader.line_num
    return "csv", records


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """The first sheet's rows. A workbook whose stylesheet openpyxl refuses (Vipps' own
    Excel generator writes one) is read again without styles: the values do not need them."""
    try:
        yield from tables.xlsx_rows(path)
        return
    except LimitError:
        raise
    except InputError as exc:
        if "not a readable xlsx workbook" not in exc.message:
            raise
        first = exc
    try:
        rows = list(_xlsx_rows_without_styles(path))
    except InputError:
        raise first from None
    yield from rows


def _xlsx_rows_without_styles(path: Path) -> Iterator[tuple[int, list[Any]]]:
    import warnings

    from openpyxl.reader.excel import ExcelReader

    class _Values(ExcelReader):  # ExcelReader.read() without apply_stylesheet
        def read(self) -> None:
            self.read_manifest()
            self.read_strings()
            self.read_workbook()
            self.read_properties()
            self.read_custom()
            self.read_theme()
            self.read_worksheets()

    file = str(path)
    tables.check_archive(path)  # the same zip-bomb and size checks as every workbook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = _Values(str(path), read_only=True, data_only=True)
            reader.read()
        sheet = reader.wb.worksheets[0]
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > limits.MAX_ROWS:
                raise LimitError(
                    f"the sheet has more than {limits.count(limits.MAX_ROWS)} rows",
                    file=file,
                    line=number,
                    hint=_HINT,
                )
            yield number, [tables._cell(v) for v in values]
    except InputError:
        raise
    except Exception as exc:  # damaged XML inside the archive
        raise InputError(
            f"not a readable xlsx workbook ({type(exc).__name__}: {exc})", file=file, hint=_HINT
        ) from None


def _blank(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _header_index(cells: Sequence[Any], table: TableModel) -> dict[str, int] | None:
    """Folded column name -> position when `cells` is the table's header row."""
    index: dict[str, int] = {}
    for i, cell in enumerate(cells):
        if isinstance(cell, str) and cell.strip():
            index.setdefault(_fold(cell), i)
    return index if all(_fold(name) in index for name in table.header) else None


def _match(
    rows: list[tuple[int, list[Any]]], kind: str, profiles: Sequence[Profile]
) -> Profile | None:
    for profile in profiles:
        if profile.model.file != kind:
            continue
        first = profile.model.tables[0]
        if any(_header_index(cells, first) is not None for _, cells in rows[:_SCAN_ROWS]):
            return profile
    return None


# -- values ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return (
            format(value.normalize(), "f")
            if value.is_finite() and value == value.to_integral_value()
            else str(value)
        )
    return str(value).strip()


_SERIAL_MIN, _SERIAL_MAX = 25569, 73051  # 1970-01-01 .. 2099-12-31


class _Values:
    """Cells of one file to öre and dates, with the file's name for messages."""

    def __init__(self, file: str, profile: ProfileModel) -> None:
        self.file = file
        self.mark = profile.decimal_mark
        formats = profile.date_format
        self.formats = (formats,) if isinstance(formats, str) else tuple(formats)
        self._dates: dict[str, dt.date] = {}  # a report's dates repeat: parsed once each

    def ore(self, value: Any, line: int, column: str) -> int | None:
        """None for an empty cell."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            value = str(value)
        if isinstance(value, int):
            return value * 100
        if isinstance(value, Decimal):
            ore = value * 100
            if not ore.is_finite() or ore != ore.to_integral_value():
                raise InputError(
                    f"{value} is not an amount in öre",
                    file=self.file,
                    line=line,
                    column=column,
                    hint=_HINT,
                )
            return int(ore)
        try:
            return parse_amount(str(value).strip(), self.mark)
        except AmountError as exc:
            raise InputError(
                f"not an amount: {exc}", file=self.file, line=line, column=column, hint=_HINT
            ) from None

    def date(self, value: Any, line: int, column: str) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if (
            isinstance(value, (int, Decimal))
            and (isinstance(value, int) or value.is_finite())
            and _SERIAL_MIN <= value <= _SERIAL_MAX
            and value == int(value)
        ):
            # A date cell read without the workbook's styles: Excel's day number.
            return _excel_date(value)
        text = _text(value)
        known = self._dates.get(text)
        if known is not None:
            return known
        for fmt in self.formats:
            try:
                day = (
                    dt.datetime.fromisoformat(text).date()
                    if fmt == "iso"
                    else dt.datetime.strptime(text, fmt).date()
                )
            except ValueError:
                continue
            if len(self._dates) > _CACHE_LIMIT:
                self._dates.clear()
            self._dates[text] = day
            return day
        raise InputError(
            f"not a date: {text!r}",
            file=self.file,
            line=line,
            column=column,
            hint=f"the report writes dates as {_date_help(self.formats)}; " + _HINT,
        )


# -- the source ------------------------------------------------------------------------


@dataclass
class _Reading:
    """What a file's rows add up to while they are read: the checks and the notices."""

    file: str
    provider: str
    profile: str = ""  # the profile's name, for messages (none for the XML)
    keys: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, list[int]] = field(default_factory=dict)  # reason -> lines
    # payout id -> [activity, payout, first line, has activity, has payout]
    payouts: dict[tuple[str, str | None], list[int]] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)

    def key(self, ident: str, kind: str) -> str:
        base = f"{self.provider}:{ident}:{kind}"
        n = self.keys[base] = self.keys.get(base, 0) + 1
        return base if n == 1 else f"{base}#{n}"

    def count(
        self, payout_id: str | None, currency: str | None, kind: str, amount: int, line: int
    ) -> None:
        if not payout_id or kind in _NOT_BALANCE:
            return
        acc = self.payouts.setdefault((payout_id, currency), [0, 0, line, 0, 0])
        if kind in _OUT:
            acc[1] += amount
            acc[4] = 1
        else:
            acc[0] += amount
            acc[3] = 1

    def close(self) -> list[Notice]:
        out = list(self.notices)
        for reason, lines in self.skipped.items():
            n = len(lines)
            out.append(
                Notice(
                    f"{n} row{'s' if n > 1 else ''} not booked: {reason} (line"
                    f"{'s' if n > 1 else ''} {_lines(lines)})",
                    self.file,
                    lines[0],
                )
            )
        for (payout_id, currency), (activity, paid, line, moved, out_) in self.payouts.items():
            if moved and out_ and activity + paid != 0:
                out.append(
                    Notice(
                        f"payout {payout_id}: its movements add up to {sek_text(activity)} "
                        f"{currency or ''} but {sek_text(-paid)} was paid out (difference "
                        f"{sek_text(activity + paid)}): it stays on the clearing account".replace(
                            "  ", " "
                        ),
                        self.file,
                        line,
                    )
                )
        return out


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10])
    return shown + (", …" if len(lines) > 10 else "")


def _row(
    reading: _Reading,
    key: str,
    date: dt.date,
    amount: int,
    kind: str,
    fields: dict[str, Any],
    line: int,
) -> Row:
    values = {"provider": reading.provider, "kind": kind, **fields}
    return Row(SECTION, key, date, {"amount": amount}, values, Origin(reading.file, line))


class SettlementSource:
    """The `Source` of every settlement format: the profiles' tables and the Vipps XML."""

    name = NAME
    section = SECTION
    title = TITLE
    schema = SCHEMA

    def __init__(self, profiles: Sequence[Profile] = ()) -> None:
        self._own = tuple(profiles)

    @property
    def profiles(self) -> tuple[Profile, ...]:
        return (*self._own, *builtin())

    def detect(self, path: Path) -> bool:
        path = Path(path)
        try:
            head = _head(path)
        except OSError:
            return False
        if _is_vipps_xml(head):
            return True
        try:
            kind, rows = _cells(path, head=True)
        except (InputError, OSError, ValueError):
            return False
        return _match(rows, kind, self.profiles) is not None

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        path = Path(path)
        file = str(path)
        if _is_vipps_xml(_head(path)):
            yield from _vipps_xml(path)
            return
        kind, rows = _cells(path)
        profile = _match(rows, kind, self.profiles)
        if profile is None:
            raise InputError(
                "no settlement layout matches the file's header", file=file, hint=_HINT
            )
        yield from _read_table(rows, profile, file)


def _read_table(
    rows: list[tuple[int, list[Any]]], profile: Profile, file: str
) -> Iterator[Row | Notice]:
    model = profile.model
    values = _Values(file, model)
    reading = _Reading(file, model.provider, profile.name)
    firsts = [(t.header[0].strip().casefold(), t) for t in model.tables]
    bound: _Bound | None = None
    implicit: dict[tuple[str, str | None], list[Any]] = {}
    for line, cells in rows:
        if _blank(cells):
            continue
        # A header row starts a table (several in Vipps' CSV): a cell that is the header's
        # first name is the cheap test, before the whole row is compared with the header.
        raw = {c.strip().casefold() for c in cells if type(c) is str}
        found = next(
            (
                (t, i)
                for first, t in firsts
                if first in raw and (i := _header_index(cells, t)) is not None
            ),
            None,
        )
        if found is not None:
            width = len(cells)
            while width and (cells[width - 1] is None or cells[width - 1] == ""):
                width -= 1
            bound = _Bound(found[0], found[1], width)
            continue
        if bound is None:
            continue  # the preamble (company, period) before the first known header
        if bound.table.refuse:
            raise InputError(
                bound.table.refuse, file=file, line=line, hint=bound.table.hint or _HINT
            )
        cells = _fit(cells, bound, values, reading, line)
        yield from _book_row(cells, bound, model, values, reading, line, implicit)
    for (payout_id, currency), (total, date, line) in implicit.items():
        if total:
            yield _row(
                reading,
                reading.key(payout_id, "payout"),
                date,
                -total,
                "payout",
                {
                    "type": "payout",
                    "payout_id": payout_id,
                    "transaction_id": payout_id,
                    "currency": currency,
                },
                line,
            )
    yield from reading.close()


@dataclass
class _Entry:
    """An entry of a row kind with its columns' positions in this file (None: absent)."""

    model: EntryModel
    amount_at: int | None
    kind_at: int | None
    kinds: dict[str, str]  # folded value -> kind
    date_at: int | None


@dataclass
class _Kind:
    """A row kind with its columns' positions in this file."""

    model: RowModel
    when: list[tuple[int | None, frozenset[str]]]
    at: dict[str, int | None]  # id, payout_id, date, reference, text, unit, currency, net
    entries: list[_Entry]


class _Bound:
    """A table's profile bound to the header row found in the file: column positions
    resolved once, not per row."""

    def __init__(self, table: TableModel, index: dict[str, int], width: int) -> None:
        self.table, self.width = table, width

        def at(column: str | None) -> int | None:
            return index.get(_fold(column)) if column else None

        self.kinds = [
            _Kind(
                row,
                [(at(c), frozenset(_fold(v) for v in vs)) for c, vs in row.when.items()],
                {
                    name: at(getattr(row, name))
                    for name in (
                        "id",
                        "payout_id",
                        "date",
                        "reference",
                        "text",
                        "unit",
                        "currency",
                        "net",
                    )
                },
                [
                    _Entry(
                        e,
                        at(e.amount),
                        at(e.kind_column),
                        {_fold(v): k for v, k in e.kinds.items()},
                        at(e.date),
                    )
                    for e in row.entries
                ],
            )
            for row in table.rows
        ]
        self.implicit_at = at(table.implicit_payout)
        # Amount columns, and the header's names by position, for `_fit`.
        self.amounts = {
            i
            for k in self.kinds
            for i in [k.at["net"], *(e.amount_at for e in k.entries)]
            if i is not None
        }
        self.names = {
            index[_fold(c)]: c for c in (*table.header, *table.optional) if _fold(c) in index
        }

    def kind(self, cells: list[Any]) -> _Kind | None:
        for kind in self.kinds:
            if all(
                i is not None and _fold(_text(cells[i])) in accepted for i, accepted in kind.when
            ):
                return kind
        return None


_INTEGER = re.compile(r"-?\d+")
_CENTS = re.compile(r"\d{1,2}")


def _fit(
    cells: list[Any], bound: _Bound, values: _Values, reading: _Reading, line: int
) -> list[Any]:
    """The row's cells as wide as its header. A row one field wider is a decimal comma
    written without quotes in a comma-separated file (`16450,62`): repaired, with a warning,
    only when exactly one amount column can be the split one."""
    width = bound.width
    if len(cells) == width:
        return cells
    cells = list(cells)
    while len(cells) > width and (cells[-1] is None or cells[-1] == ""):
        cells.pop()  # a spreadsheet's trailing empty cells
    if len(cells) <= width:
        return cells + [None] * (width - len(cells))
    amounts = bound.amounts
    found = []
    if len(cells) == width + 1 and values.mark == ".":
        for i in sorted(amounts):
            if (
                i + 1 < len(cells)
                and _INTEGER.fullmatch(_text(cells[i]))
                and _CENTS.fullmatch(_text(cells[i + 1]))
            ):
                fixed = cells[:i] + [f"{_text(cells[i])}.{_text(cells[i + 1])}"] + cells[i + 2 :]
                if all(_parses(fixed[j], values.mark) for j in amounts if j < len(fixed)):
                    found.append((i, fixed))
    if len(found) != 1:
        raise InputError(
            f"the row has {len(cells)} fields but its header has {width}",
            file=reading.file,
            line=line,
            hint="a value holding the delimiter lost its quotes, or the row was cut; " + _HINT,
        )
    i, fixed = found[0]
    reading.notices.append(
        Notice(
            f"{bound.names.get(i, i)} {_text(cells[i])},{_text(cells[i + 1])} is written with a "
            f"decimal comma and no quotes, which splits it in two fields: read as {fixed[i]}",
            reading.file,
            line,
        )
    )
    return fixed


def _parses(value: Any, mark: str) -> bool:
    if value is None or isinstance(value, (int, Decimal)):
        return True
    text = str(value).strip()
    if not text:
        return True
    try:
        parse_amount(text, mark)
        return True
    except AmountError:
        return False


def _book_row(
    cells: list[Any],
    bound: _Bound,
    model: ProfileModel,
    values: _Values,
    reading: _Reading,
    line: int,
    implicit: dict[tuple[str, str | None], list[Any]],
) -> Iterator[Row]:
    kind = bound.kind(cells)
    if kind is None:
        raise InputError(
            "a row the settlement layout does not describe",
            file=reading.file,
            line=line,
            hint=_HINT,
        )
    rule = kind.model
    if rule.skip:
        reading.skipped.setdefault(rule.skip, []).append(line)
        return
    at = kind.at

    def text(name: str) -> str | None:
        i = at[name]
        return None if i is None else _text(cells[i]) or None

    date = values.date(None if at["date"] is None else cells[at["date"]], line, rule.date or "")
    ident = text("id")
    payout_id = text("payout_id")
    currency = (text("currency") or model.currency or "").upper() or None
    fields = {
        "transaction_id": ident,
        "payout_id": payout_id,
        "reference": text("reference"),
        "text": text("text"),
        "unit": text("unit"),
        "currency": currency,
    }
    if ident is None:
        raise InputError(
            "no id",
            file=reading.file,
            line=line,
            column=rule.id,
            hint="every movement of a settlement report has the provider's id; " + _HINT,
        )
    activity = paid = 0
    made = []
    for entry in kind.entries:
        e = entry.model
        if entry.amount_at is None:
            continue  # an optional column this file does not have
        amount = values.ore(cells[entry.amount_at], line, e.amount)
        if not amount:
            continue
        amount *= e.sign
        if e.kind:
            what = written = e.kind
        else:
            written = "" if entry.kind_at is None else _text(cells[entry.kind_at])
            found = entry.kinds.get(_fold(written))
            if found is None:
                raise _unknown_kind(e, written, entry.kind_at is None, reading, line)
            what = found
        day = date
        if entry.date_at is not None and _text(cells[entry.date_at]):
            day = values.date(cells[entry.date_at], line, e.date or "")
        if what in _OUT:
            paid += amount
        elif what not in _NOT_BALANCE:
            activity += amount
        reading.count(payout_id, currency, what, amount, line)
        made.append(
            _row(
                reading,
                reading.key(ident, what),
                day,
                amount,
                what,
                {**fields, "type": written},
                line,
            )
        )
    if at["net"] is not None:
        net = values.ore(cells[at["net"]], line, rule.net or "")
        if net is not None and net != activity:
            reading.notices.append(
                Notice(
                    f"the row's movements add up to {sek_text(activity)} but its {rule.net} is "
                    f"{sek_text(net)}: booked as written; the difference stays on the clearing "
                    "account",
                    reading.file,
                    line,
                )
            )
    if bound.implicit_at is not None and payout_id:
        acc = implicit.setdefault((payout_id, currency), [0, None, line])
        acc[0] += activity + paid
        if acc[1] is None:
            acc[1] = values.date(cells[bound.implicit_at], line, bound.table.implicit_payout or "")
    yield from made


def _unknown_kind(
    entry: EntryModel, written: str, absent: bool, reading: _Reading, line: int
) -> InputError:
    """A movement whose label the profile does not map. Refused, never given a guessed kind
    (or `other`): its key holds its kind (`vipps:<id>:refund`), so a guess would key it
    unlike the provider's other formats of the same report, and one movement given in two
    formats would be booked twice."""
    column = entry.kind_column or ""
    known = ", ".join(entry.kinds)
    what = (
        f"the file has no column {column!r}, which names each movement's kind"
        if absent
        else f"{written!r} is not a movement bokfor knows ({known}): its kind is not guessed"
    )
    return InputError(
        what,
        file=reading.file,
        line=line,
        column=None if absent else column,
        hint="a kind guessed for it would key it unlike the provider's other formats of the "
        "same report, which would book it twice; "
        + (
            f"export the report with its {column} column."
            if absent
            else "book this settlement by hand, and tell bokfor's maintainers the label (its "
            f"profile is bokfor/sources/settlement_profiles/{reading.profile}.yaml)."
        ),
    )


# -- Vipps XML (SettlementReport 3.0) --------------------------------------------------

_VIPPS_NS = re.compile(rb"<(?:\w+:)?SettlementReport\b[^>]*vipps", re.IGNORECASE)


def _is_vipps_xml(head: bytes) -> bool:
    return (
        head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and _VIPPS_NS.search(head) is not None
    )


@dataclass
class _Node:
    name: str
    line: int
    text: str = ""
    children: list["_Node"] = field(default_factory=list)

    def get(self, name: str) -> "_Node | None":
        return next((c for c in self.children if c.name == name), None)

    def value(self, name: str) -> str | None:
        child = self.get(name)
        return child.text.strip() if child is not None and child.text.strip() else None

    def all(self, name: str) -> list["_Node"]:
        return [c for c in self.children if c.name == name]


def _parse_xml(path: Path) -> _Node:
    """The document as a tree of `_Node`s with their lines. defusedxml's parser refuses
    entities (a settlement report has none)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    file = str(path)
    stack: list[_Node] = [_Node("", 0)]

    class Target:
        def start(self, tag: str, attrs: dict[str, str]) -> None:
            node = _Node(tag.rsplit("}", 1)[-1], parser.parser.CurrentLineNumber)
            stack[-1].children.append(node)
            stack.append(node)

        def end(self, tag: str) -> None:
            stack.pop()

        def data(self, text: str) -> None:
            stack[-1].text += text

        def close(self) -> None:
            return None

    parser = DefusedXMLParser(target=Target())
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                parser.feed(chunk)
        parser.close()
    except DefusedXmlException as exc:
        raise InputError(
            f"the XML declares entities ({exc}): bokfor refuses them", file=file, hint=_HINT
        ) from None
    except Exception as exc:  # xml.etree.ElementTree.ParseError and the like
        raise InputError(f"not well-formed XML ({exc})", file=file, hint=_HINT) from None
    return stack[0].children[0]


def _vipps_xml(path: Path) -> Iterator[Row | Notice]:
    file = str(path)
    root = _parse_xml(path)
    reading = _Reading(file, "vipps")

    def amount(node: _Node, name: str, required: bool = True) -> int | None:
        text = node.value(name)
        if text is None:
            if required:
                raise InputError(
                    f"<{name}> is missing",
                    file=file,
                    line=node.line,
                    hint="bokfor reads Vipps' SettlementReport schema 3.0; " + _HINT,
                )
            return None
        try:
            return parse_amount(text, ".")
        except AmountError as exc:
            raise InputError(
                f"<{name}>: not an amount: {exc}", file=file, line=node.line, hint=_HINT
            ) from None

    def day(node: _Node, name: str) -> dt.date:
        text = node.value(name) or ""
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            raise InputError(
                f"<{name}>: not a date: {text!r}", file=file, line=node.line, hint=_HINT
            ) from None

    for details in root.all("SettlementDetailsInfo"):
        unit = details.value("SaleUnitName")
        for payments in details.all("PaymentsInfo"):
            for settlement in payments.all("SettlementInfo"):
                yield from _vipps_settlement(settlement, unit, reading, amount, day)
    yield from reading.close()


def _vipps_settlement(
    settlement: _Node, unit: str | None, reading: _Reading, amount: Any, day: Any
) -> Iterator[Row]:
    file = reading.file
    settlement_id = settlement.value("SettlementID")
    if settlement_id is None:
        raise InputError("<SettlementID> is missing", file=file, line=settlement.line, hint=_HINT)
    currency = (settlement.value("SettlementCurrencyCode") or "").upper() or None
    kind_of_settlement = (settlement.value("SettlementType") or "").lower()
    if kind_of_settlement not in ("gross", "net"):
        raise InputError(
            f"<SettlementType> is {settlement.value('SettlementType')!r}, not Gross or Net",
            file=file,
            line=settlement.line,
            hint="bokfor reads Vipps' SettlementReport schema 3.0, which says "
            "whether the fees were kept back (Net) or invoiced (Gross); " + _HINT,
        )
    fee_kind = "fee" if kind_of_settlement == "net" else "fee_invoiced"
    base = {
        "payout_id": settlement_id,
        "currency": currency,
        "unit": unit,
        "settlement_type": kind_of_settlement,
    }
    for txn in settlement.all("TransactionInfo"):
        ident = txn.value("TransactionID")
        if ident is None:
            raise InputError("<TransactionID> is missing", file=file, line=txn.line, hint=_HINT)
        date = day(txn, "TransactionTime")
        capture = amount(txn, "TransactionCaptureAmount")
        refund = amount(txn, "TransactionRefundAmount")
        gross = amount(txn, "TransactionGrossAmount")
        net = amount(txn, "TransactionNetAmount")
        fee = amount(txn, "TransactionFeeAmount")
        if capture + refund != gross or gross - fee != net:
            reading.notices.append(
                Notice(
                    f"transaction {ident}: capture {sek_text(capture)} + refund {sek_text(refund)} "
                    f"− fee {sek_text(fee)} is not its gross {sek_text(gross)} and net "
                    f"{sek_text(net)}: booked as captured, refunded and charged",
                    file,
                    txn.line,
                )
            )
        fields = {**base, "transaction_id": ident, "reference": txn.value("OrderID")}
        for kind, value in (("sale", capture), ("refund", refund), (fee_kind, -fee)):
            if value:
                reading.count(settlement_id, currency, kind, value, txn.line)
                yield _row(
                    reading,
                    reading.key(ident, kind),
                    date,
                    value,
                    kind,
                    {**fields, "type": kind},
                    txn.line,
                )
    settled = amount(settlement, "SettledAmount")
    if settled:
        reading.count(settlement_id, currency, "payout", -settled, settlement.line)
        yield _row(
            reading,
            reading.key(settlement_id, "payout"),
            day(settlement, "SettlementDate"),
            -settled,
            "payout",
            {**base, "transaction_id": settlement_id, "type": "payout"},
            settlement.line,
        )


SOURCE = SettlementSource()
