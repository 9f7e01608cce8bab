"""Nordic net-bank exports (CSV, xlsx, HTML-as-xls) described by layout profiles.

Every bank, and often every account type at one bank, writes its "export transactions"
file differently: delimiter, encoding, decimal and thousands marks, a preamble of 0–8
lines, a ` kr` suffix, one signed amount or two positive in/out columns, pending rows.
Code per bank would be fourteen near-copies; instead a bank is a **layout profile**, data
validated by `ProfileModel`: the built-ins are YAML files in `profiles/`, and a user adds a
bank in the mapping (`sources.bank.profiles: {name: <profile>}`) without touching code.

How a file is read:
- the container is recognised from the content (zip = xlsx, `<table` = HTML, else text);
- the header row is found **by content**: within a profile's `preamble` rows, a row whose
  non-empty cells are exactly the profile's header names (stripped, case-insensitive,
  order free), plus any of its `optional` ones (a column a bank added later). The first
  profile that matches wins, user profiles before built-ins. A layout without a header row
  (`width`, columns by position) is recognised by its first rows' shape, after all others;
- columns are found by name, so a bank reordering them does not matter;
- amounts are exact öre (`money.parse_amount`) after the profile's thousands separators
  and suffix are removed; a value the profile's marks make ambiguous is refused;
- a file a spreadsheet re-saved (its delimiter, decimal mark, date format) is read as its
  bank in the one format that reads every value (`_Reader.refit`), never value by value;
- rows without a date under the table (a balance, a total) are no transactions; a table
  without a booked row says "no transactions in this file" (a warning); a binary `.xls` is
  refused naming its format;
- the key of a row is an `OccurrenceKeys` digest of its content counted in chronological
  order (files list newest first), because no net-bank export carries a transaction id:
  SEB's Verifikationsnummer is a batch number, Swedbank's Radnummer a position.

The file is parsed in one pass into small tuples (distinct date and amount texts parsed
once), then keyed and turned into bank rows; the running balance is checked on the way.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import itertools
import re
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, NamedTuple, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bokfor.domain import Caution, Notice, Origin, Row
from bokfor.errors import InputError, MappingError
from bokfor.money import AmountError, parse_amount
from bokfor.patterns import Pattern, PatternError, compile_pattern
from bokfor.sources import OccurrenceKeys, bank, limits, tables
from bokfor.sources.csvutil import Table

NAME = "netbank"
TITLE = (
    "Net-bank export (CSV/xlsx: SEB, Swedbank, Nordea SE/FI/NO, Danske, Handelsbanken, "
    "ICA, Länsförsäkringar, Skandia, DNB, SpareBank 1, Skandiabanken, Bank Norwegian, "
    "Revolut, BEC banks DK)"
)

PROFILE_DIR = Path(__file__).with_name("profiles")
# Priority order of the built-in profiles (their file names without `.yaml`).
BUILTIN_ORDER = (
    "seb",
    "swedbank",
    "nordea",
    "nordea_business",
    "nordea_business_2025",
    "danske",
    "ica",
    "lansforsakringar",
    "dnb",
    "sparebank1",
    "handelsbanken",
    "skandia",
    "seb_xlsx",
    "handelsbanken_xls",
    "nordea_no",
    "danske_dk",
    "nordea_old",
    "nordea_old_xlsx",
    "nordea_fi",
    "nordea_en",
    "nordea_fi_txt",
    "nordea_fi_txt_sv",
    "banknorwegian",
    "banknorwegian_card",
    "skandiabanken",
    "revolut",
    "bec_dk",  # without a header row: found by its rows, so after every layout with one
)

SNIFF_BYTES = 16 * 1024  # detection reads no more than this of a text file
_DELIMITERS = (";", ",", "\t")
_THOUSANDS = {
    "space": " ",
    "nbsp": "\u00a0",
    "narrow_nbsp": "\u202f",
    "dot": ".",
    "comma": ",",
    "apostrophe": "'",
}
_SPACES = " \u00a0\u202f"
_CACHE_LIMIT = 1 << 16
_REDOWNLOAD = (
    "download the export from the bank again and give bokfor that file unopened "
    "(a spreadsheet that re-saves it changes dates, numbers and encoding)."
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)

# ---------------------------------------------------------------------------------------
# The profile as data (pydantic: the same model validates built-ins and user mappings).
# Every scalar may arrive as text (the mapping loader keeps all values as text).
# ---------------------------------------------------------------------------------------

Names = str | list[str]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not at import. Built at
    # import, every nested model built its own as well as its parent's copy (~0.1 s of a
    # small run's start, issue 22); the root model's one build covers them all.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ColumnsModel(_Strict):
    """Role -> the header cell that holds it (as written in `header`, any case)."""

    date: str = Field(description="Booking date (bokföringsdag); required")
    value_date: str | None = Field(None, description="Value date (valutadag, rentedato)")
    amount: str | None = Field(
        None, description="Signed amount, positive = money in. Either this or money_in + money_out"
    )
    money_in: str | None = Field(
        None,
        description="Money into the account (positive; a "
        "negative value keeps its sign, with a warning)",
    )
    money_out: str | None = Field(
        None,
        description="Money out of the account; its absolute "
        "value is taken, whatever sign the bank writes",
    )
    text: Names | None = Field(
        None, description="Text column, or a list joined with ' / ' (equal parts once)"
    )
    reference: str | None = Field(
        None,
        description="Column that may hold an OCR/KID/RF "
        "reference; a value that is no valid reference is added "
        "to the text instead",
    )
    counterparty: str | None = Field(None, description="Counterparty name")
    counterparty_account: str | None = Field(None, description="Counterparty account")
    sender: str | None = Field(
        None,
        description="Account the money came from: the "
        "counterparty account of money in (Nordea Avsändare)",
    )
    receiver: str | None = Field(
        None,
        description="Account the money went to: the "
        "counterparty account of money out (Nordea Mottagare)",
    )
    balance: str | None = Field(None, description="Running balance (saldo), checked row by row")
    fee: str | None = Field(
        None,
        description="A fee the bank charged on the row, written "
        "positive (Revolut's Fee): the account moves by amount − fee",
    )
    currency: str | None = Field(None, description="Currency column (else `currency`)")
    transaction_code: str | None = Field(
        None, description="Transaction type (ICA Typ, LF Transaktionstyp)"
    )
    account: Names | None = Field(
        None,
        description="Own account per row (Swedbank: "
        "[Clearingnummer, Kontonummer], joined with a space)",
    )


class AccountModel(_Strict):
    """Where the own account number is written above the header (one of the two keys)."""

    preamble_label: str | None = Field(
        None,
        description="A preamble cell with this text; "
        "the account is the cell after it (`at: right`) or "
        "the cell under it (`at: below`)",
    )
    at: Literal["right", "below"] = Field(
        "right", description="Where the value is, seen from the label"
    )
    preamble_regex: str | None = Field(
        None,
        description="Regular expression searched in "
        "each preamble row (cells joined by spaces); group 1 "
        "(or the whole match) is the account",
    )


class PendingModel(_Strict):
    """Rows not yet booked by the bank (`pending`), or rows it did not carry out (`void`:
    declined, reverted): left out, with one notice counting them."""

    column: str = Field(description="Header cell whose value marks such a row")
    values: list[str] = Field(
        default_factory=list,
        description="Values that mark it (any case), e.g. [Reserverat, Reserverad]",
    )
    prefixes: list[str] = Field(
        default_factory=list,
        description="Beginnings that mark it "
        "(any case), e.g. ['Reservation '] for Nordea's old export",
    )


class ProfileModel(_Strict):
    """One net-bank export layout. Built-ins: bokfor/sources/profiles/*.yaml."""

    title: str = Field(description="For people: 'SEB, Spara kontohändelser (CSV)'")
    file: Literal["csv", "xlsx", "html"] = Field(
        "csv", description="csv = any delimited text; html = an HTML table saved as .xls"
    )
    header: list[str] | None = Field(
        None,
        min_length=2,
        description="The header row's "
        "cell texts (compared stripped, case-insensitively, order "
        "free); the row must hold exactly these non-empty cells "
        "(and any of `optional`)",
    )
    optional: list[str] = Field(
        default_factory=list,
        description="Header cells a file may "
        "have or not (a column the bank added in a later version)",
    )
    width: int | None = Field(
        None,
        ge=2,
        le=limits.MAX_COLUMNS,
        description="A file "
        "without a header row: the number of fields of every row; "
        "`header` is then omitted and `columns` name fields by position "
        "('1' = the first)",
    )
    ragged: bool = Field(
        False,
        description="csv: rows may end before the header's last "
        "columns (the missing cells are empty)",
    )
    preamble: int = Field(
        0,
        ge=0,
        le=100,
        description="At most this many rows before the "
        "header (the header is found by content within them)",
    )
    sheet: str | None = Field(None, description="xlsx: the sheet's name (default: the first)")
    delimiter: str | None = Field(
        None,
        description="csv: ';' ',' or a tab ('\\t' or 'tab'); "
        "omitted = the one that splits a row into the header",
    )
    encoding: str = Field(
        "auto",
        description="csv/html: 'auto' (BOM, UTF-8, Windows-1252, "
        "then a guess; garbled text refused) or a Python codec name",
    )
    columns: ColumnsModel
    date_format: Names = Field(
        "%Y-%m-%d",
        description="strftime format, or a list tried in order: %Y-%m-%d, %Y/%m/%d, %d.%m.%Y",
    )
    decimal_mark: Literal[".", ","] = Field(description="The decimal mark of amounts")
    thousands: list[Literal["space", "nbsp", "narrow_nbsp", "dot", "comma", "apostrophe"]] = Field(
        default_factory=list,
        description="Thousands separators the bank writes "
        "(none when omitted): space, nbsp (U+00A0), narrow_nbsp (U+202F), dot, comma, "
        "apostrophe",
    )
    suffix: str | None = Field(None, description="Text after every amount, e.g. ' kr'")
    currency: str = Field("SEK", description="Currency of the rows when no column says")
    account: AccountModel | None = Field(
        None,
        description="Where the own account number is "
        "in the preamble; omitted = not in the file (or in "
        "columns.account)",
    )
    pending: PendingModel | None = None
    void: PendingModel | None = Field(
        None,
        description="Rows the bank did not carry out "
        "(Revolut's DECLINED, REVERTED): left out and counted",
    )
    footer: int = Field(
        0,
        ge=0,
        le=20,
        description="Rows to ignore at the end of the table "
        "(a row there that holds a date of the layout is refused, never "
        "dropped)",
    )
    bank: str | None = Field(
        None,
        description="The bank, when several layouts are one bank's "
        "(SEB's CSV and xlsx): rows of one account keep their keys when "
        "the bank changes layout. Default: the bank of the built-in "
        "layout with the same header, else the profile's name",
    )
    order: Literal["newest_first", "oldest_first", "auto"] = Field(
        "auto", description="Row order, for keys counted in time order; auto = from the dates"
    )


class ProfileError(MappingError):
    """A profile that validates structurally but does not make sense (a column that is not
    in the header). `key` is the dotted path inside the profile, e.g. `columns.amount`."""

    def __init__(self, message: str, key: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, key=key, hint=hint)


def _fold(text: object) -> str:
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class Profile:
    """A checked profile, ready to read files. Column names are kept folded (`_fold`)."""

    name: str
    title: str
    file: str
    header: tuple[str, ...]
    header_keys: frozenset[str]
    preamble: int
    sheet: str | None
    delimiter: str | None
    encoding: str
    columns: dict[str, tuple[str, ...]]  # role -> folded header names
    column_titles: dict[str, str]  # folded header name -> as the profile writes it
    date_formats: tuple[str, ...]
    decimal_mark: str
    thousands: str  # the separator characters
    suffix: str  # folded, stripped; "" = none
    currency: str
    account_label: str | None
    account_at: str
    account_regex: Pattern | None
    pending: Marks | None
    footer: int
    order: str
    bank: str  # keys' prefix for files that name no account: one per bank, not per layout
    optional_keys: frozenset[str] = frozenset()  # folded header cells a file may lack
    width: int | None = None  # a file without a header row: its fields a row
    ragged: bool = False
    void: Marks | None = None

    def header_fits(self, keys: Sequence[str]) -> bool:
        """Whether a row's non-empty cells (folded) are this layout's header."""
        found = set(keys)
        return (
            len(found) == len(keys)
            and self.header_keys <= found
            and found <= self.header_keys | self.optional_keys
        )

    def example_amount(self) -> str:
        sep = next((c for c in self.thousands if c != self.decimal_mark), "")
        suffix = f" {self.suffix}" if self.suffix else ""
        return f"-1{sep}234{self.decimal_mark}50{suffix}"

    def date_help(self) -> str:
        return _date_help(self.date_formats)


@dataclass(frozen=True)
class Marks:
    """The values (or beginnings) of one column that mark pending or void rows."""

    column: str  # folded header name
    values: frozenset[str]
    prefixes: tuple[str, ...]
    shown: tuple[str, ...]  # as the profile writes them, for the notice

    def label(self, cell: object) -> str | None:
        """The value or beginning (as the profile writes it) that marks `cell`, or None."""
        if cell is None:
            return None
        folded = _fold(cell)
        if folded in self.values or folded.startswith(self.prefixes):
            return next(
                s
                for s in self.shown
                if _fold(s) == folded or (_fold(s) and folded.startswith(_fold(s)))
            )
        return None


_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ROLES = tuple(ColumnsModel.model_fields)


def _marks(model: PendingModel | None, key: str, titles: dict[str, str]) -> Marks | None:
    if model is None:
        return None
    column = _fold(model.column)
    if column not in titles:
        raise ProfileError(f"{model.column!r} is not in the header", f"{key}.column")
    if not model.values and not model.prefixes:
        raise ProfileError("give the values or the prefixes that mark such a row", key)
    return Marks(
        column,
        frozenset(_fold(v) for v in model.values),
        tuple(_fold(v) for v in model.prefixes if _fold(v)),
        tuple(" ".join(v.split()) for v in (*model.values, *model.prefixes)),
    )


def profile_from_model(name: str, model: ProfileModel) -> Profile:
    """Check the profile's meaning and build it; `ProfileError(message, key)` if wrong."""
    if not _NAME.fullmatch(name):
        raise ProfileError(
            f"profile name {name!r} must be lower-case letters, digits and _",
            "name",
            hint="e.g. sparbanken_syd.",
        )
    if (model.header is None) == (model.width is None):
        raise ProfileError(
            "give the header row's cells (header) or, for a file without "
            "one, its number of fields (width)",
            "header",
        )
    if model.width is not None:  # no header row: the columns are positions
        if model.optional:
            raise ProfileError("a file without a header row has no optional cells", "optional")
        header: tuple[str, ...] = ()
        optional: tuple[str, ...] = ()
        positions = tuple(f"field {i}" for i in range(1, model.width + 1))
        titles = {p: p for p in positions}
    else:
        header = tuple(" ".join(h.split()) for h in model.header or ())
        optional = tuple(" ".join(h.split()) for h in model.optional)
        keys = [_fold(h) for h in (*header, *optional)]
        if any(not k for k in keys):
            raise ProfileError(
                "a header cell is empty",
                "header" if not all(_fold(h) for h in header) else "optional",
                hint="list only the non-empty header cells.",
            )
        dupes = sorted(
            {h for h, k in zip((*header, *optional), keys, strict=True) if keys.count(k) > 1}
        )
        if dupes:
            raise ProfileError(
                f"the header names {', '.join(map(repr, dupes))} more than once",
                "header",
                hint="each header cell once.",
            )
        titles = dict(zip(keys, (*header, *optional), strict=True))
    header_keys = frozenset(_fold(h) for h in header)
    optional_keys = frozenset(_fold(h) for h in optional)

    columns: dict[str, tuple[str, ...]] = {}
    for role in _ROLES:
        value = getattr(model.columns, role)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else list(value)
        if not names:
            raise ProfileError("an empty list of columns", f"columns.{role}")
        folded = []
        for i, col in enumerate(names):
            where = f"columns.{role}" if isinstance(value, str) else f"columns.{role}.{i}"
            if model.width is not None:
                col = str(col).strip()
                if not col.isdigit() or not 1 <= int(col) <= model.width:
                    raise ProfileError(
                        f"{col!r} is not a field position (1 to {model.width})",
                        where,
                        hint="a file without a header row names its "
                        "columns by position: '1' is the first field.",
                    )
                folded.append(f"field {int(col)}")
            elif _fold(col) not in titles:
                raise ProfileError(
                    f"{col!r} is not in the header (" + ", ".join((*header, *optional)) + ")",
                    where,
                    hint="name a column exactly as the header writes it.",
                )
            else:
                folded.append(_fold(col))
        columns[role] = tuple(folded)
    if "amount" in columns:
        if "money_in" in columns or "money_out" in columns:
            raise ProfileError(
                "give either amount or money_in + money_out, not both", "columns.amount"
            )
    elif "money_in" not in columns or "money_out" not in columns:
        missing = (
            "money_out"
            if "money_in" in columns
            else "money_in"
            if "money_out" in columns
            else "amount"
        )
        raise ProfileError(
            "the amount column is missing: give amount (signed) or money_in and money_out",
            f"columns.{missing}",
        )
    if "counterparty_account" in columns and ("sender" in columns or "receiver" in columns):
        raise ProfileError(
            "give counterparty_account or sender + receiver, not both",
            "columns.counterparty_account",
        )

    delimiter = model.delimiter
    if delimiter is not None:
        if delimiter.lower() in ("tab", "\\t"):
            delimiter = "\t"
        if model.file != "csv":
            raise ProfileError("a delimiter is only for file: csv", "delimiter")
        if len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum():
            raise ProfileError(
                f"{model.delimiter!r} is not a delimiter", "delimiter", hint="use ';', ',' or tab."
            )
    if model.sheet is not None and model.file != "xlsx":
        raise ProfileError("a sheet is only for file: xlsx", "sheet")
    encoding = model.encoding.strip()
    if encoding.lower() != "auto":
        if model.file == "xlsx":
            raise ProfileError("an encoding is not for file: xlsx", "encoding")
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise ProfileError(
                f"unknown encoding {model.encoding!r}",
                "encoding",
                hint="use auto, utf-8, utf-8-sig, cp1252 or iso-8859-15.",
            ) from None
    else:
        encoding = "auto"

    formats = (
        (model.date_format,) if isinstance(model.date_format, str) else tuple(model.date_format)
    )
    if not formats:
        raise ProfileError("no date format", "date_format")
    probe = dt.date(2026, 1, 31)
    for i, fmt in enumerate(formats):
        key = "date_format" if isinstance(model.date_format, str) else f"date_format.{i}"
        try:
            ok = dt.datetime.strptime(probe.strftime(fmt), fmt).date() == probe
        except ValueError:
            ok = False
        if not ok:
            raise ProfileError(
                f"{fmt!r} is not a date format with year, month and day",
                key,
                hint="e.g. %Y-%m-%d, %Y/%m/%d or %d.%m.%Y.",
            )

    thousands = "".join(_THOUSANDS[t] for t in model.thousands)
    if model.decimal_mark in thousands:
        raise ProfileError(
            f"{model.decimal_mark!r} cannot be both the decimal mark and a thousands separator",
            "thousands",
        )
    suffix = _fold(model.suffix or "")
    if suffix and any(c.isdigit() or c in ".,-+" for c in suffix):
        raise ProfileError(f"suffix {model.suffix!r} holds a digit or a mark", "suffix")

    label = regex = None
    at = "right"
    if model.account is not None:
        acc = model.account
        if (acc.preamble_label is None) == (acc.preamble_regex is None):
            raise ProfileError("give one of preamble_label and preamble_regex", "account")
        if "account" in columns:
            raise ProfileError("the account is in a column already (columns.account)", "account")
        if model.preamble == 0:
            raise ProfileError(
                "the account is read from the preamble, but preamble is 0",
                "account",
                hint="set preamble: to the rows above the header.",
            )
        if acc.preamble_label is not None:
            label, at = _fold(acc.preamble_label), acc.at
        else:
            try:  # run in linear time, as a rule's regex (patterns.py)
                regex = compile_pattern(acc.preamble_regex or "")
            except PatternError as exc:
                raise ProfileError(exc.message, "account.preamble_regex", exc.hint) from None
            if regex.groups > 1:
                raise ProfileError("at most one group (the account)", "account.preamble_regex")

    pending = _marks(model.pending, "pending", titles)
    void = _marks(model.void, "void", titles)
    if model.ragged and model.file != "csv":
        raise ProfileError("ragged is only for file: csv", "ragged")

    currency = model.currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ProfileError(
            f"{model.currency!r} is not a currency code",
            "currency",
            hint="ISO 4217, e.g. SEK, NOK, EUR.",
        )
    return Profile(
        name=name,
        title=" ".join(model.title.split()),
        file=model.file,
        header=header,
        header_keys=header_keys,
        preamble=model.preamble,
        sheet=model.sheet,
        delimiter=delimiter,
        encoding=encoding,
        columns=columns,
        column_titles=titles,
        date_formats=formats,
        decimal_mark=model.decimal_mark,
        thousands=thousands,
        suffix=suffix,
        currency=currency,
        account_label=label,
        account_at=at,
        account_regex=regex,
        pending=pending,
        footer=model.footer,
        order=model.order,
        bank=model.bank or _bank_of_header(header_keys) or name,
        optional_keys=optional_keys,
        width=model.width,
        ragged=model.ragged,
        void=void,
    )


def _bank_of_header(header_keys: frozenset[str]) -> str | None:
    """The bank of the built-in layout that reads this header (with or without its optional
    cells): a profile of one's own for a bank
    bokfor knows keys the rows as the built-in one does (an id-less row's key starts with
    the bank's name when the file names no account), so switching between them books
    nothing twice. None while the built-ins themselves load."""
    keys = sorted(header_keys)
    return next(
        (
            p.bank
            for p in globals().get("BUILTIN", ())
            if keys and p.width is None and p.header_fits(keys)
        ),
        None,
    )


def load_profile_file(path: Path) -> Profile:
    """A built-in profile from its YAML file (name = file name); a broken one raises."""
    with open(path, encoding="utf-8") as f:
        # libyaml's loader where PyYAML has it: the 16 built-ins load at every start-up.
        data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return profile_from_model(path.stem, ProfileModel.model_validate(data))


def _load_builtin() -> tuple[Profile, ...]:
    found = {p.stem for p in PROFILE_DIR.glob("*.yaml")}
    if found != set(BUILTIN_ORDER):
        raise RuntimeError(f"profiles/ holds {sorted(found)}, expected {BUILTIN_ORDER}")
    return tuple(load_profile_file(PROFILE_DIR / f"{name}.yaml") for name in BUILTIN_ORDER)


BUILTIN: tuple[Profile, ...] = _load_builtin()

# ---------------------------------------------------------------------------------------
# Tables: any container as (line, cells)
# ---------------------------------------------------------------------------------------


@dataclass
class _Match:
    profile: Profile
    header_line: int
    header_cells: list[Any]
    preamble: list[tuple[int, list[Any]]]
    records: Iterator[tuple[int, list[Any]]]  # the rows after the header
    delimiter: str | None = None


class _File:
    """One input file, its bytes read once, its texts and sheets decoded on demand."""

    def __init__(self, path: Path, *, sniff: bool) -> None:
        self.path = path
        self.file = str(path)
        self.sniff = sniff
        with open(path, "rb") as f:
            self.data = f.read(SNIFF_BYTES) if sniff else f.read()
        self.truncated = sniff and len(self.data) == SNIFF_BYTES
        self.kind = "xlsx" if tables.is_zip(self.data) else "text"
        self._texts: dict[str, str | InputError] = {}
        self._html: list[tuple[int, list[str]]] | None = None
        self._sheets: dict[str | None, list[tuple[int, list[Any]]]] = {}
        self._sheet_names: list[str] | None = None

    # -- text ---------------------------------------------------------------------------
    def text(self, encoding: str) -> str:
        """The decoded text (or the decoding error, raised)."""
        got = self._texts.get(encoding)
        if got is None:
            got = self._texts[encoding] = self._decode(encoding)
        if isinstance(got, InputError):
            raise got
        return got

    def _decode(self, encoding: str) -> str | InputError:
        data = self.data
        if self.truncated:  # a multi-byte character may be cut at the end of the sniff
            data = data[: data.rfind(b"\n") + 1] or data
        try:
            if encoding == "auto":
                try:
                    return bank.decode(data, self.file, hint=_REDOWNLOAD)[0]
                except InputError:
                    if not self.sniff:
                        raise
                    # Detection only: a garbled file is still recognised, so that reading
                    # it gives the clear "garbled" error rather than "unknown format".
                    return data.decode("utf-8-sig").encode("cp1252").decode("utf-8")
            text = data.decode(encoding)
        except InputError as exc:
            return exc
        except (UnicodeError, LookupError) as exc:
            if isinstance(exc, UnicodeDecodeError) and encoding != "auto":
                line = data.count(b"\n", 0, exc.start) + 1
                return InputError(
                    f"not {encoding} text (byte {data[exc.start]:#04x})",
                    file=self.file,
                    line=line,
                    hint=_REDOWNLOAD,
                )
            return InputError(
                "cannot tell the file's text encoding", file=self.file, hint=_REDOWNLOAD
            )
        if "\x00" in text:
            return InputError(
                "the file holds a NUL byte: it is not a text export",
                file=self.file,
                hint=_REDOWNLOAD,
            )
        return text.removeprefix("\ufeff")

    def is_html(self) -> bool:
        if self.kind != "text":
            return False
        head = self.data[:4096].decode("latin-1")
        return tables.looks_like_html(head)

    def html(self, encoding: str) -> list[tuple[int, list[str]]]:
        if self._html is None:
            self._html = list(tables.html_rows(self.path, self.text(encoding)))
        return self._html

    # -- xlsx ---------------------------------------------------------------------------
    def sheet_names(self) -> list[str]:
        if self._sheet_names is None:
            self._sheet_names = tables.sheet_names(self.path)
        return self._sheet_names

    def sheet_head(self, sheet: str | None, rows: int) -> list[tuple[int, list[Any]]]:
        have = self._sheets.get(sheet)
        if have is None or len(have) < rows:
            it = tables.xlsx_rows(self.path, sheet)
            try:
                have = self._sheets[sheet] = list(itertools.islice(it, rows))
            finally:
                it.close()
        return have[:rows]


def _cells_key(cells: Sequence[Any]) -> list[str]:
    return [k for k in (_fold(c) for c in cells if c is not None) if k]


def _text_rows(text: str, count: int, delimiter: str, file: str) -> list[tuple[int, list[str]]]:
    """The first `count` lines, each split on its own (detection and the preamble), within
    the table caps (a line no profile's header can be is not split a million ways 48 times)."""
    out = []
    start = 0
    for number in range(1, count + 1):
        if start >= len(text):
            break
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        start = len(text) if end < 0 else end + 1
        if len(line) > limits.MAX_LINE:
            raise limits.line_too_long(file, number, _REDOWNLOAD)
        try:
            cells = next(csv.reader([line.rstrip("\r")], delimiter=delimiter), [])
        except csv.Error:
            cells = [line]
        if len(cells) > limits.MAX_COLUMNS:
            raise limits.too_many_columns(len(cells), file, number, _REDOWNLOAD)
        out.append((number, cells))
    return out


def _line_offset(text: str, line: int) -> int:
    """Character offset of the start of 1-based `line`."""
    pos = 0
    for _ in range(line - 1):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return len(text)
    return pos


def _find_header(rows: list[tuple[int, list[Any]]], profile: Profile) -> int | None:
    """The index of the header row among `rows`; for a layout without one, of its first row."""
    if profile.width is not None:
        return _first_record(rows, profile)
    for i, (_, cells) in enumerate(rows[: profile.preamble + 1]):
        if profile.header_fits(_cells_key(cells)):
            return i
    return None


class _Parsed(NamedTuple):
    """A transaction as `_Reader.scan` parses it (texts "" for none, in normal form); a
    parsed table has these columns (`_PARSED`)."""

    line: int
    date: dt.date
    amount: int  # öre
    balance: int | None
    text: str
    value_date: dt.date | None
    reference: str
    counterparty: str
    counterparty_account: str
    currency: str
    transaction_code: str
    account: str
    key_text: str  # the text columns only: what the row's key takes


_PARSED = _Parsed._fields
_FRAMED = 1 << 62  # öre: |amounts| a row frame takes (its postings negate them in Int64)
# The roles a layout read by columns may have (`_Reader.by_columns`), and what a running
# balance is checked from.
_BY_COLUMNS = {
    "date",
    "amount",
    "text",
    "value_date",
    "balance",
    "counterparty",
    "counterparty_account",
    "sender",
    "receiver",
    "currency",
    "transaction_code",
}
_BALANCED = ("line", "amount", "balance", "account", "currency")


def _parsed_schema() -> dict[str, Any]:
    import polars as pl

    kinds = {"line": pl.Int64, "date": pl.Date, "amount": pl.Int64, "balance": pl.Int64}
    kinds["value_date"] = pl.Date
    return {name: kinds.get(name, pl.String) for name in _PARSED}


_HEADERLESS_PROBE = 5  # rows a layout without a header row must read as its own


def _first_record(rows: list[tuple[int, list[Any]]], profile: Profile) -> int | None:
    """Where a table without a header row starts: the first non-blank row within the
    preamble, when it and the rows after it (up to five) have the layout's width and a date
    and amounts in its format. Never raises: it decides detection."""
    first = next(
        (i for i, (_, cells) in enumerate(rows[: profile.preamble + 1]) if not _blank(cells)), None
    )
    if first is None:
        return None
    width = profile.width or 0
    date_at = [_position(c) for c in profile.columns["date"]]
    money_at = [
        _position(c)
        for role in ("amount", "money_in", "money_out", "balance")
        for c in profile.columns.get(role, ())
    ]
    parse = money_parser(profile)
    seen = 0
    for _, cells in rows[first:]:
        if _blank(cells):
            continue
        if len(cells) == width + 1 and not cells[-1]:
            cells = cells[:-1]
        if len(cells) != width:
            return None
        try:
            for i in date_at:
                _parse_date_text(str(cells[i]), profile.date_formats)
            for i in money_at:
                if str(cells[i]).strip():
                    parse(str(cells[i]).strip())
        except (ValueError, AmountError):
            return None
        seen += 1
        if seen == _HEADERLESS_PROBE:
            break
    return first


def _position(name: str) -> int:
    """The index of a layout's field named by position ("field 3" -> 2)."""
    return int(name.removeprefix("field ")) - 1


def _parse_date_text(text: str, formats: Sequence[str]) -> dt.date:
    """The date `text` holds in the first of `formats` that reads it; ValueError if none."""
    text = text.strip()
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _candidates(
    f: _File, profile: Profile
) -> Iterator[tuple[list[tuple[int, list[Any]]], str | None]]:
    """The rows a profile's header is looked for in (per delimiter for CSV: the profile's
    own first, then the others, as a spreadsheet re-saves a file with its own)."""
    depth = profile.preamble + (_HEADERLESS_PROBE if profile.width is not None else 1)
    if profile.file == "xlsx":
        if f.kind != "xlsx":
            return
        if profile.sheet is not None and profile.sheet not in f.sheet_names():
            return
        yield f.sheet_head(profile.sheet, depth), None
        return
    if f.kind != "text":
        return
    if profile.file == "html":
        if f.is_html():
            yield f.html(profile.encoding), None
        return
    if f.is_html():
        return
    text = f.text(profile.encoding)
    for delimiter in _delimiters(profile):
        yield _text_rows(text, depth, delimiter, f.file), delimiter


def _delimiters(profile: Profile) -> tuple[str, ...]:
    if profile.delimiter is None:
        return _DELIMITERS
    if profile.width is not None:  # no header to tell a wrong delimiter: the profile's only
        return (profile.delimiter,)
    return (profile.delimiter, *(d for d in _DELIMITERS if d != profile.delimiter))


def _stable(text: str, start_line: int, delimiter: str, width: int, file: str) -> int:
    """How many of the 20 rows after the header have the header's field count."""
    body = text[_line_offset(text, start_line) :]
    reader = Table(io.StringIO(body), delimiter, file, hint=_REDOWNLOAD, first_line=start_line)
    try:
        rows = list(itertools.islice(reader, 20))
    except csv.Error:
        return 0
    return sum(1 for r in rows if len(r) == width)


def _header_in_auto_text(f: _File, profile: Profile) -> bool:
    try:
        text = f.text("auto")
    except InputError:
        return False
    return any(
        _find_header(_text_rows(text, profile.preamble + 1, d, f.file), profile) is not None
        for d in _delimiters(profile)
    )


def _match(f: _File, profiles: Sequence[Profile]) -> tuple[Profile, int, str | None] | None:
    """(profile, index of the header row in its candidate rows, delimiter) of the first
    profile whose header is there. Decoding errors of a profile's encoding are raised only
    when no profile matches (the caller decides)."""
    for profile in profiles:
        hits = []
        try:
            for rows, delimiter in _candidates(f, profile):
                i = _find_header(rows, profile)
                if i is not None:
                    hits.append((i, delimiter, rows))
        except limits.LimitError:
            raise  # the file is too large a table whatever its layout
        except InputError:
            if profile.file == "xlsx" or profile.file == "html":
                raise
            if profile.encoding != "auto" and _header_in_auto_text(f, profile):
                raise  # the layout is this profile's; its encoding is what is wrong
            continue
        if not hits:
            continue
        if len(hits) > 1 and f.kind == "text" and not f.sniff:
            # Two delimiters split a row into the header: the one whose rows keep its width
            # (the profile's own first among equals: the sort is stable).
            text = f.text(profile.encoding)
            hits.sort(
                key=lambda h: (
                    -_stable(text, h[2][h[0]][0] + 1, h[1] or ",", len(h[2][h[0]][1]), f.file)
                )
            )
        i, delimiter, _ = hits[0]
        return profile, i, delimiter
    return None


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------


_PLAIN = {
    ".": re.compile(r"(-?)(\d{1,15})(?:\.(\d{0,6}))?"),
    ",": re.compile(r"(-?)(\d{1,15})(?:,(\d{0,6}))?"),
}
_PLAIN_MATCH = {mark: pattern.fullmatch for mark, pattern in _PLAIN.items()}


def plain_amounts(texts: Any, mark: str, parse: Callable[[str], int]) -> tuple[Any, Any]:
    """`parse` (a `money_parser`) of a column of amount texts: those of its fast path's
    shape with ASCII digits and at most two decimals by string expressions (the same
    value: sign, whole kronor × 100, decimals padded to öre), every other distinct text by
    `parse` itself; a value of 2^62 öre or more is refused too (a row frame does not take
    it). Returns (values, refused) as `frames.map_distinct` does."""
    import polars as pl

    from bokfor.frames import map_distinct

    def bounded(text: str) -> int:
        value = parse(text)
        if not -_FRAMED < value < _FRAMED:
            raise AmountError("too large an amount for a row frame")
        return value

    parts = texts.str.extract_groups(
        rf"^(?<sign>-?)(?<whole>[0-9]{{1,15}})(?:{re.escape(mark)}(?<frac>[0-9]{{0,2}}))?$"
    ).struct.unnest()
    ore = parts["whole"].cast(pl.Int64) * 100 + parts["frac"].fill_null("").str.pad_end(
        2, "0"
    ).cast(pl.Int64)
    fast = pl.select(pl.when(parts["sign"] == "-").then(-ore).otherwise(ore)).to_series()
    other = (texts.is_not_null() & parts["whole"].is_null()).fill_null(False)
    slow, refused = map_distinct(texts, other, bounded, pl.Int64, (ValueError, AmountError))
    return fast.fill_null(slow).alias(texts.name), refused


def parse_money(text: str, profile: Profile) -> int:
    """Öre of an amount text in the profile's number format; AmountError says why not."""
    return money_parser(profile)(text)


def money_parser(profile: Profile, number: tuple[str, str] | None = None) -> Callable[[str], int]:
    """`parse_money` for one profile, built once per file: the fast path's pattern bound,
    no look-ups per amount (a bank file has about one distinct amount per row). `number`:
    (decimal mark, thousands separators) instead of the profile's (a re-saved file)."""
    mark, thousands = number or (profile.decimal_mark, profile.thousands)
    match = _PLAIN_MATCH[mark]

    def parse(text: str) -> int:
        plain = match(text)
        if plain:  # fast path: "-1000.000", "419,65" (no separators, no suffix)
            sign, whole, frac = plain.groups()
            # One int() of the digits: `whole` and `frac` are decimal digits (\d), so
            # int(whole + frac[:2]) is int(whole) * 100 + int(frac[:2]).
            if not frac:
                value = int(whole) * 100
            elif len(frac) == 2:
                value = int(whole + frac)
            elif len(frac) == 1:
                value = int(whole + frac) * 10
            elif not frac[2:].strip("0"):  # SEB's "-1000.000"
                value = int(whole + frac[:2])
            else:  # a decimal beyond öre that is not 0: the general path says why
                return _parse_money_general(text, profile, mark, thousands)
            return -value if sign else value
        return _parse_money_general(text, profile, mark, thousands)

    return parse


def _parse_money_general(text: str, profile: Profile, mark: str, allowed: str) -> int:
    """Any amount text the fast path does not take: separators, a suffix, a sign of its own."""
    s = text.strip()
    if profile.suffix and s.casefold().endswith(profile.suffix):
        s = s[: -len(profile.suffix)].rstrip()
    if not s:
        raise AmountError("empty amount")
    if s[0] in "-+\u2212":
        s = s[0] + s[1:].lstrip(_SPACES)
    other = "," if mark == "." else "."
    for ch in _SPACES + other + "'":
        if ch in s and ch not in allowed:
            shown = {
                " ": "a space",
                "\u00a0": "a no-break space",
                "\u202f": "a narrow no-break space",
            }.get(ch, repr(ch))
            raise AmountError(
                f"{text!r} holds {shown}, which this layout uses neither as "
                f"decimal mark ({mark!r}) nor as thousands separator"
            )
    if mark in s and any(ch in s[s.rfind(mark) :] for ch in allowed):
        raise AmountError(
            f"{text!r} is ambiguous: a thousands separator follows the decimal mark {mark!r}"
        )
    for ch in allowed:
        if ch != other:
            s = s.replace(ch, other)
    try:
        return parse_amount(s, mark)
    except AmountError as exc:  # it quotes `s`: quote the cell as the file has it
        raise AmountError(str(exc).replace(repr(s), repr(text), 1)) from None


def _decimal_ore(value: Decimal | int) -> int:
    if isinstance(value, int):
        return value * 100
    try:
        cents = value * 100
        whole = cents.to_integral_value()
    except InvalidOperation:
        raise AmountError(f"{value} is not a number") from None
    if cents != whole:
        raise AmountError(f"{value} has more than 2 decimals; öre cannot hold it exactly")
    return int(whole)


def _excel_date(value: Decimal | int) -> dt.date:
    if value != int(value) or not 1 <= value <= 2958465:
        raise ValueError(value)
    return _EXCEL_EPOCH + dt.timedelta(days=int(value))


# ---------------------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------------------


class NetbankSource:
    """The `Source` for every net-bank layout profile (`format` = the profile's name)."""

    name = NAME
    title = TITLE
    section = bank.SECTION
    schema = bank.SCHEMA

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self.profiles = tuple(profiles)

    def with_profiles(self, user_profiles: Iterable[Profile]) -> "NetbankSource":
        """A source that tries the user's profiles first; a user profile named like a
        built-in replaces it."""
        user = tuple(user_profiles)
        names = {p.name for p in user}
        return NetbankSource(user + tuple(p for p in self.profiles if p.name not in names))

    def profile(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise KeyError(name)

    # -- detect -------------------------------------------------------------------------
    def detect(self, path: Path) -> bool:
        """True when a profile's header row is within its preamble. Never raises."""
        try:
            f = _File(Path(path), sniff=True)
            if not f.data or (f.kind == "text" and b"\x00" in f.data):
                return False
            return _match(f, self.profiles) is not None
        except Exception:  # unreadable, binary, a broken zip: not ours
            return False

    def layout(self, path: Path) -> Profile:
        """The profile that reads the file (InputError if none)."""
        f = _File(Path(path), sniff=False)
        return self._match_or_raise(f)[0]

    # -- read ---------------------------------------------------------------------------
    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        path = Path(path)
        if not path.is_file():
            raise InputError("no such file", file=str(path))
        return self._read(path)

    def read_frames(self, path: Path, tz: dt.tzinfo) -> Iterator[Any]:
        """The rows `read` gives as one row frame (bokfor.frames), its notices after it as
        `read` gives them after the rows: the file is parsed as `read` parses it."""
        path = Path(path)
        if not path.is_file():
            raise InputError("no such file", file=str(path))
        return self._read(path, framed=True)

    def _read(self, path: Path, *, framed: bool = False) -> Iterator[Any]:
        try:
            f = _File(path, sniff=False)
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror})", file=str(path)) from None
        if not f.data:
            raise InputError("the file is empty", file=f.file, hint=_REDOWNLOAD)
        profile, index, delimiter = self._match_or_raise(f)
        match = _open_table(f, profile, index, delimiter)
        reopen = lambda: _open_table(f, profile, index, delimiter).records  # noqa: E731
        reader = _Reader(f.file, match, reopen)
        if framed:
            table = reader.by_columns(f.data if _utf8(f, profile) else None)
            if table is not None:  # its notices made first, as `_Reader.frame` makes them
                balanced = table["balance"].null_count() < table.height
                notices = reader.balances(table.select(_BALANCED).iter_rows()) if balanced else []
                yield reader.row_frame(table)
                yield from notices
                return
        yield from reader.rows(framed=framed)

    def _match_or_raise(self, f: _File) -> tuple[Profile, int, str | None]:
        binary = _binary_workbook(f)
        if binary is not None:
            raise binary
        found = _match(f, self.profiles)
        if found is not None:
            return found
        if f.kind == "text" and not f.is_html():
            f.text("auto")  # an encoding problem explains it best
        error = _unknown_header(f, self.profiles)
        assert error is not None
        raise error

    def explain(self, path: Path) -> InputError | None:
        """Why no source reads a file that looks like a bank export (its header shares
        names with a profile's): the closest layout and how to add one; or the cap its table
        or workbook exceeds (`limits`). None otherwise."""
        try:
            f = _File(Path(path), sniff=True)
            return _binary_workbook(f) or _unknown_header(f, self.profiles, close_only=True)
        except limits.LimitError as exc:  # a table or workbook over a cap: that is why
            return exc
        except Exception:  # unreadable: the generic message says enough
            return None


_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file signature of .xls/.doc


def _utf8(f: _File, profile: Profile) -> bool:
    """Whether the file's bytes are UTF-8 that decodes to the text the layout reads: what
    Polars parses is then what the row reader parses."""
    if f.kind != "text" or profile.file != "csv":
        return False
    try:
        text = f.text(profile.encoding)
        return text in (f.data.decode("utf-8"), f.data.decode("utf-8-sig"))
    except (InputError, UnicodeDecodeError):
        return False


def _binary_workbook(f: _File) -> InputError | None:
    """The refusal of an Excel 97-2003 `.xls` (BIFF in an OLE2 compound file): no reader of
    bokfor's dependencies opens it (openpyxl reads xlsx only), and the bank or a
    spreadsheet gives the same table as CSV or xlsx."""
    if not f.data.startswith(_OLE2):
        return None
    book = "Workbook".encode("utf-16-le") in f.data or "Book".encode("utf-16-le") in f.data
    what = (
        "an Excel 97-2003 workbook (.xls: binary BIFF in an OLE2 compound file)"
        if book
        else "an OLE2 compound file (an old Microsoft Office document)"
    )
    return InputError(
        f"{what}, which bokfor does not read",
        file=f.file,
        hint="open it in Excel or LibreOffice and save it as .xlsx, "
        "or export CSV from the bank, and give bokfor that file.",
    )


def _open_table(f: _File, profile: Profile, index: int, delimiter: str | None) -> _Match:
    """The header row, the preamble above it and an iterator over the rows below it. A
    layout without a header row gets field names by position (`field 1`…) and its table
    starts at row `index`."""
    skip = index + 1 if profile.width is None else index
    head: list[tuple[int, list[Any]]]
    if profile.file == "xlsx":
        rows = tables.xlsx_rows(f.path, profile.sheet)
        head = list(itertools.islice(rows, skip))
        records: Iterator[tuple[int, list[Any]]] = rows
    elif profile.file == "html":
        all_rows = f.html(profile.encoding)
        head = all_rows[:skip]
        records = iter(all_rows[skip:])
    else:
        text = f.text(profile.encoding)
        assert delimiter is not None
        head = _text_rows(text, skip, delimiter, f.file)
        first = head[-1][0] + 1 if head else 1
        if profile.width is not None:  # the line the table starts on
            first = _text_rows(text, index + 1, delimiter, f.file)[index][0]
        records = _csv_records(text, first - 1, delimiter, f.file)
    if profile.width is not None:
        line = head[-1][0] if head else 0
        cells: list[Any] = [f"field {i}" for i in range(1, profile.width + 1)]
        return _Match(profile, line, cells, head, records, delimiter)
    line, cells = head[index]
    return _Match(profile, line, list(cells), head[:index], records, delimiter)


def _csv_records(
    text: str, header_line: int, delimiter: str, file: str
) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of each record after the header line."""
    body = io.StringIO(text[_line_offset(text, header_line + 1) :])
    reader = Table(body, delimiter, file, hint=_REDOWNLOAD, first_line=header_line + 1)
    prev = 0
    try:
        for row in reader:
            line = header_line + prev + 1
            prev = reader.line_num
            yield line, row
    except csv.Error as exc:
        raise InputError(
            f"the file is not valid CSV ({exc})",
            file=file,
            line=header_line + reader.line_num,
            hint=_REDOWNLOAD,
        ) from None


def _unknown_header(
    f: _File, profiles: Sequence[Profile], *, close_only: bool = False
) -> InputError | None:
    """The error for a file no profile reads: the header it found and its line, and the
    closest layout only when it is near (it shares at least half of the larger header).
    `close_only` (detection): None unless the file looks like a bank export, with a date and
    an amount column a layout knows (a Stripe export that lost a column shares "Amount" and
    "Currency" with Revolut's, and must not be told it is a bank file)."""
    found: dict[int, list[str]] = {}  # line -> its cells, as the delimiter that splits most
    depth = max((p.preamble for p in profiles), default=0) + 1
    for profile in profiles:
        try:
            for rows, _ in _candidates(f, profile):
                for line, cells in rows[:depth]:
                    shown = [
                        " ".join(str(c).split()) for c in cells if c is not None and str(c).strip()
                    ]
                    if len(shown) > len(found.get(line, ())):
                        found[line] = shown
        except limits.LimitError:
            raise
        except InputError:
            continue
    layouts = [p for p in profiles if p.width is None]
    # A header row: two or more cells and no digit in any (a preamble's account number,
    # period or balance has one); among those the one nearest a layout.
    headers = [
        (line, shown)
        for line, shown in sorted(found.items())
        if len(shown) >= 2 and not any(c.isdigit() for cell in shown for c in cell)
    ]
    best: tuple[float, int, list[str], Profile] | None = None
    for line, shown in headers:
        keys = set(_cells_key(shown))
        for profile in layouts:
            shared = len(keys & (profile.header_keys | profile.optional_keys))
            score = shared / max(len(keys), len(profile.header_keys))
            if shared and (best is None or score > best[0]):
                best = (score, line, shown, profile)
    add = (
        "describe the layout under sources.bank.profiles in the mapping: a name, "
        "header: [its header cells], columns: {date: …, amount: …, text: …}, "
        "decimal_mark: … (the built-in profiles in bokfor/sources/profiles/ are examples)"
    )
    if best is not None and best[0] >= 0.5 and (not close_only or _bank_like(best[2], layouts)):
        _, line, shown, profile = best
        keys = set(_cells_key(shown))
        missing = [h for h in profile.header if _fold(h) not in keys]
        if keys < profile.header_keys:
            return InputError(
                f"the header looks like {profile.title} ({profile.name}) but lacks the column"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(repr(m) for m in missing),
                file=f.file,
                line=line,
                hint="export again with all columns (columns removed in a spreadsheet cannot "
                f"be read), or {add}.",
            )
        return InputError(
            "the header matches no bank layout: found "
            + ", ".join(shown)
            + f"; the closest is {profile.name} ({profile.title}): "
            + ", ".join(profile.header),
            file=f.file,
            line=line,
            hint=f"if this is another bank's export, {add}.",
        )
    header = headers[0] if headers else min(found.items()) if found else None
    if close_only and (header is None or not _bank_like(header[1], layouts)):
        return None
    if header is None:
        return InputError(
            "no header row of a bank export: the file holds no table", file=f.file, hint=_REDOWNLOAD
        )
    line, shown = header
    return InputError(
        "the header matches no bank layout: found " + ", ".join(shown),
        file=f.file,
        line=line,
        hint=f"if this is a bank's export, {add}.",
    )


def _bank_like(cells: list[str], layouts: Sequence[Profile]) -> bool:
    """A header with a date column and an amount column some layout names so."""
    keys = set(_cells_key(cells))
    dates = {n for p in layouts for n in p.columns["date"]}
    amounts = {
        n
        for p in layouts
        for role in ("amount", "money_in", "money_out")
        for n in p.columns.get(role, ())
    }
    return bool(keys & dates) and bool(keys & amounts)


class _FormatError(InputError):
    """A date or amount the layout's own format does not read: the file may have been
    re-saved by a spreadsheet in another locale (`_Reader.refit` decides)."""


@dataclass
class _Scan:
    """One pass over a table: the transactions as tuples, and the rows left out."""

    parsed: list[_Parsed]
    pending: list[tuple[int, str]]  # (line, the value that marks it)
    void: list[tuple[int, str]]
    footer: list[int]  # rows without a date after the last transaction
    # Of those, the ones with a value in an amount column: (line, the value as written).
    undated: list[tuple[int, str]]
    contrary: list[tuple[int, str]]  # a negative value in the money-in column, as written


class _Reader:
    """One pass over the table's rows into tuples, then keys and bank rows. When the
    layout's own number or date format fails on a value, the table is read once more to
    find the one format a spreadsheet's re-save gives all its values, and then again in
    it (`refit`): a file is read in one format, never value by value in several."""

    def __init__(
        self,
        file: str,
        match: _Match,
        reopen: Callable[[], Iterator[tuple[int, list[Any]]]] | None = None,
    ) -> None:
        self.file = file
        self.m = match
        self.p = match.profile
        self.reopen = reopen
        self.text_mode = self.p.file != "xlsx"
        header = [_fold(c) if c is not None else "" for c in match.header_cells]
        index: dict[str, int] = {}
        for i, name in enumerate(header):
            if name:
                index.setdefault(name, i)
        self.index = index
        self.width = len(header)
        self.trailing_empty = bool(header) and header[-1] == ""
        self.parse_text = money_parser(self.p)
        self.date_formats = self.p.date_formats
        self.refitted: tuple[str, ...] = ()  # what a re-saved file was read as

    def col(self, role: str) -> int | None:
        """The column of a role; None when the profile has none or the file lacks it (an
        optional header cell)."""
        names = self.p.columns.get(role)
        return self.index.get(names[0]) if names else None

    def cols(self, role: str) -> tuple[int, ...]:
        return tuple(self.index[n] for n in self.p.columns.get(role, ()) if n in self.index)

    def title(self, i: int) -> str:
        cell = self.m.header_cells[i]
        return " ".join(str(cell).split())

    # -- preamble -----------------------------------------------------------------------
    def preamble_account(self) -> str:
        p = self.p
        rows = self.m.preamble
        if p.account_label is not None:
            for r, (_, cells) in enumerate(rows):
                for c, cell in enumerate(cells):
                    if cell is None or _fold(cell) != p.account_label:
                        continue
                    if p.account_at == "right":
                        value = next(
                            (x for x in cells[c + 1 :] if x is not None and str(x).strip()), None
                        )
                    else:
                        below = rows[r + 1][1] if r + 1 < len(rows) else []
                        value = below[c] if c < len(below) else None
                    if value is not None and str(value).strip():
                        return " ".join(str(value).split())
            raise InputError(
                f"the preamble has no account number at a cell {p.account_label!r}",
                file=self.file,
                line=self.m.header_line,
                hint=f"the {p.title} export writes it above the header; " + _REDOWNLOAD,
            )
        if p.account_regex is not None:
            for _, cells in rows:
                line = " ".join(" ".join(str(c).split()) for c in cells if c is not None)
                found = p.account_regex.search(line)
                if found:
                    return (found.group(1) if p.account_regex.groups else found.group()).strip()
            raise InputError(
                f"the preamble has no account number (nothing matches {p.account_regex.pattern!r})",
                file=self.file,
                line=self.m.header_line,
                hint=f"the {p.title} export writes it above the header; " + _REDOWNLOAD,
            )
        return ""

    # -- rows ---------------------------------------------------------------------------
    def rows(self, *, framed: bool = False) -> Iterator[Any]:
        """The bank rows and notices; `framed`: the rows as one row frame instead."""
        try:
            scan = self.scan(self.m.records, self.date, self.money)
        except _FormatError as exc:
            scan = self.refit(exc)
        if not scan.parsed:  # a quiet day's download: said, and the run goes on
            yield self.no_transactions(scan)
            yield from self.undated(scan)
            return
        self.one_currency(scan.parsed)
        yield from (self.frame if framed else self.emit)(scan.parsed)
        yield from self.left_out(scan)

    def one_currency(self, parsed: list[_Parsed]) -> None:
        """Refuse a file that names no bank account but holds rows in several currencies
        (Revolut's statement of a EUR and a SEK account): its rows would all be booked to
        the one ledger account its format maps to, amounts of two currencies mixed."""
        if self.col("currency") is None:
            return  # every row is in the profile's currency
        currencies = {t.currency for t in parsed if not t.account}
        if len(currencies) < 2:
            return
        first = next(t.currency for t in parsed if not t.account)
        line = next(t.line for t in parsed if not t.account and t.currency != first)
        raise InputError(
            f"the file names no bank account and holds rows in {len(currencies)} currencies "
            f"({', '.join(sorted(currencies))}): they would be booked to one ledger account",
            file=self.file,
            line=line,
            hint="export each currency's account separately and convert each file with "
            "--bank-account NAME (its own name, under sources.bank.bank_accounts in the "
            "mapping).",
        )

    def scan(
        self, records: Iterator[tuple[int, list[Any]]], parse_date: Callable, parse_money_: Callable
    ) -> _Scan:
        """Every row of the table into a tuple, values read by `parse_date` and
        `parse_money_` (called once per distinct text: the results are cached)."""
        p = self.p
        file = self.file
        account0 = self.preamble_account()
        i_date = self.col("date")
        assert i_date is not None
        i_value = self.col("value_date")
        i_amount = self.col("amount")
        i_in, i_out = self.col("money_in"), self.col("money_out")
        i_fee = self.col("fee")
        i_text = self.cols("text")
        i_ref = self.col("reference")
        i_cp = self.col("counterparty")
        i_cpa = self.col("counterparty_account")
        i_send, i_recv = self.col("sender"), self.col("receiver")
        i_bal = self.col("balance")
        i_cur = self.col("currency")
        i_code = self.col("transaction_code")
        i_acc = self.cols("account")
        pending_marks, void_marks = p.pending, p.void
        i_pend = self.index.get(pending_marks.column) if pending_marks else None
        i_void = self.index.get(void_marks.column) if void_marks else None
        width = self.width
        need = max(self.index.values()) + 1
        text_mode = self.text_mode
        currency = p.currency  # upper case: `profile_from_model` checks it is [A-Z]{3}

        dates: dict[object, dt.date] = {}
        money: dict[object, int] = {}
        parsed: list[_Parsed] = []
        pending: list[tuple[int, str]] = []
        void: list[tuple[int, str]] = []
        undated: list[tuple[int, list[Any]]] = []  # a footer, unless a transaction follows
        contrary: list[tuple[int, str]] = []
        footer: list[tuple[int, list[Any]]] = []
        if p.footer:
            records = _drop_last(records, p.footer, footer)
        # Bound once: the loop runs 100k times a file, every attribute look-up counts.
        csv_rows = text_mode and p.file == "csv"
        ragged = p.ragged
        dates_get, money_get, add = dates.get, money.get, parsed.append
        in_out = self.in_out
        for line, cells in records:
            n = len(cells)
            if csv_rows and n != width:
                if n == 0 or not any(cells):
                    continue
                if n == width + 1 and not cells[-1]:
                    cells = cells[:-1]  # a trailing delimiter the header lacks
                elif n == width - 1 and self.trailing_empty or n < width and ragged:
                    cells = cells + [""] * (width - n)
                else:
                    where = (
                        "the layout"
                        if p.width is not None
                        else f"the header (line {self.m.header_line})"
                    )
                    raise InputError(
                        f"the row has {n} fields but {where} has {width}",
                        file=file,
                        line=line,
                        hint=f"a value containing the delimiter {self.m.delimiter!r} "
                        "lost its quotes, or the row was cut; " + _REDOWNLOAD,
                    )
            if not any(cells):
                continue  # blank row
            if n < need:
                cells = list(cells) + [None] * (need - n)
            if i_pend is not None:
                mark = pending_marks.label(cells[i_pend])  # type: ignore[union-attr]
                if mark is not None:
                    pending.append((line, mark))
                    continue
            if i_void is not None:
                mark = void_marks.label(cells[i_void])  # type: ignore[union-attr]
                if mark is not None:
                    void.append((line, mark))
                    continue

            raw = cells[i_date]
            day = dates_get(raw)
            if day is None:
                if _blank(cells):
                    continue  # a row of spaces
                if _undated(raw):  # a balance or total under the table, or a broken row
                    undated.append((line, cells))
                    continue
                day = parse_date(dates, raw, line, i_date, required=True)
            if undated:  # a row without a date amid the transactions: broken, not a footer
                self.date({}, undated[0][1][i_date], undated[0][0], i_date, required=True)
            if i_amount is not None:
                raw = cells[i_amount]
                amount = money_get(raw)
                if amount is None:
                    amount = parse_money_(money, raw, line, i_amount)
            else:
                amount = in_out(money, cells, line, i_in, i_out, parse_money_, contrary)
            if i_fee is not None:
                raw = cells[i_fee]
                if raw is not None and raw != "":
                    fee = money_get(raw)
                    if fee is None:
                        fee = parse_money_(money, raw, line, i_fee)
                    amount -= fee
            balance = None
            if i_bal is not None:
                raw = cells[i_bal]
                if raw is not None and raw != "":
                    balance = money_get(raw)
                    if balance is None:
                        balance = parse_money_(money, raw, line, i_bal, empty_ok=True)
            value_day = None
            if i_value is not None:
                raw = cells[i_value]
                if raw is not None and raw != "":
                    value_day = dates_get(raw)
                    if value_day is None:
                        value_day = parse_date(dates, raw, line, i_value, required=False)

            # The texts are put in their normal form here (`" ".join(s.split())`), once:
            # `emit` hands them to `bank.normalised_row` as they are.
            parts = []
            for i in i_text:
                part = cells[i]
                if part is not None:
                    part = " ".join(str(part).split())
                    if part and part not in parts:
                        parts.append(part)
            # The key takes the text columns only: a reference a profile appends to the text
            # (not an OCR or RF number) must not change it when a profile leaves it out.
            key_text = " / ".join(parts)
            reference = ""
            if i_ref is not None:
                ref = cells[i_ref]
                ref = " ".join(str(ref).split()) if ref is not None else ""
                found = _reference(ref) if ref else ""
                if found:
                    reference = found
                elif ref and ref not in parts:
                    parts.append(ref)
            text = " / ".join(parts)
            if i_acc:
                account = " ".join(
                    " ".join(str(cells[i]).split())
                    for i in i_acc
                    if cells[i] is not None and str(cells[i]).strip()
                )
            else:
                account = account0
            if i_cpa is not None:
                cp_account = _s(cells[i_cpa])
            elif i_send is not None or i_recv is not None:
                side = i_send if amount > 0 else i_recv
                cp_account = _s(cells[side]) if side is not None else ""
            else:
                cp_account = ""
            add(
                _Parsed(
                    line,
                    day,
                    amount,
                    balance,
                    text,
                    value_day,
                    reference,
                    _s(cells[i_cp]) if i_cp is not None else "",
                    cp_account,
                    (_s(cells[i_cur]).upper() or currency) if i_cur is not None else currency,
                    _s(cells[i_code]) if i_code is not None else "",
                    account,
                    key_text,
                )
            )
        for line, cells in footer:  # a footer that holds a transaction is a wrong profile
            raw = cells[i_date] if i_date < len(cells) else None
            try:
                self.date({}, raw, line, i_date, required=True)
            except InputError:
                continue
            raise InputError(
                f"the row has a date ({_s(raw)}) where the {p.name} layout expects its "
                f"{p.footer}-row footer: it would be dropped",
                file=self.file,
                line=line,
                hint="check the profile's `footer:` against the file (a transaction is never "
                "dropped), or export the file again.",
            )
        amount_at = [i for i in (i_amount, i_in, i_out) if i is not None]
        with_amount = [
            (line, "/".join(shown))
            for line, cells in undated
            if (shown := [_s(cells[i]) for i in amount_at if _s(cells[i])])
        ]
        return _Scan(
            parsed,
            pending,
            void,
            [line for line, _ in undated] + [line for line, _ in footer],
            with_amount,
            contrary,
        )

    def left_out(self, scan: _Scan) -> Iterator[Notice]:
        """The notices of rows not booked (pending, void), and of a re-saved file's format."""
        for rows, kind, why in (
            (
                scan.pending,
                "pending ",
                "the bank has not booked {them} yet; export again later to book {them}",
            ),
            (scan.void, "", "the bank did not carry {them} out"),
        ):
            if not rows:
                continue
            them = "them" if len(rows) > 1 else "it"
            yield Notice(
                f"{len(rows)} {kind}row"
                + ("s" if len(rows) > 1 else "")
                + f" ({_marked(rows)}) left out: "
                + why.format(them=them),
                file=self.file,
                line=rows[0][0],
            )
        yield from self.undated(scan)
        if scan.contrary:
            rows = scan.contrary
            many = len(rows) > 1
            column = self.title(self.col("money_in"))  # type: ignore[arg-type]
            yield Caution(
                f"{len(rows)} row{'s have' if many else ' has'} a negative amount in "
                f"{column!r}, the money-in column ({_listed(rows)}): booked as money out, as "
                f"the bank wrote {'them' if many else 'it'}; check {'them' if many else 'it'} "
                "against the bank's statement",
                file=self.file,
                line=rows[0][0],
            )
        if self.refitted:
            yield Notice(
                "a spreadsheet re-saved this file ("
                + ", ".join(self.refitted)
                + f"): read in that format, not the {self.p.name} layout's own",
                file=self.file,
                line=self.m.header_line or None,
            )

    def undated(self, scan: _Scan) -> Iterator[Notice]:
        """Rows under the table with an amount but no date, named with their amounts: not
        booked (no date to book them on), but never dropped silently. A caution, not an
        error: a card purchase the bank has not dated yet is a normal night's input, which a
        later export dates (as a pending row); a caution because a row may be lost, so that
        --strict stops on it. A layout's balance or total row with an amount is its
        `footer:`, which says so for every file of the layout."""
        rows = scan.undated
        if not rows:
            return
        many = len(rows) > 1
        yield Caution(
            f"{len(rows)} row{'s' if many else ''} without a date left out although "
            + ("they hold an amount" if many else "it holds an amount")
            + f" ({_listed(rows)}): "
            + ("if they are transactions" if many else "if it is a transaction")
            + " the bank has not booked yet, export again later to book "
            + ("them" if many else "it"),
            file=self.file,
            line=rows[0][0],
        )

    def no_transactions(self, scan: _Scan) -> Notice:
        """What a table without a booked row holds instead (never "nothing new"): a warning,
        not an error, as a download of a day without payments is a normal night's input."""
        p = self.p
        parts = []
        if scan.pending:
            n = len(scan.pending)
            parts.append(
                f"{n} pending row{'s' if n > 1 else ''} ({_marked(scan.pending)}) "
                "the bank has not booked yet"
            )
        if scan.void:
            n = len(scan.void)
            parts.append(
                f"{n} row{'s' if n > 1 else ''} ({_marked(scan.void)}) the bank did not carry out"
            )
        if parts:
            what = "only " + " and ".join(parts)
        elif scan.footer:
            what = "only rows without a date" + ("" if scan.undated else " (a balance or a total)")
        else:
            what = "no row under the header" if p.width is None else "no row"
        return Notice(
            f"no transactions in this file: {what}; nothing to book from it"
            + ("; export again later to book the pending ones" if scan.pending else ""),
            file=self.file,
            line=self.m.header_line or None,
        )

    # -- a file a spreadsheet re-saved --------------------------------------------------
    def refit(self, first: _FormatError) -> _Scan:
        """Read the table in the one number and date format that fits all its values, when
        the layout's own does not; raise `first` (the layout's own error) if none fits."""
        if self.reopen is None:
            raise first
        seen_dates: set[object] = set()
        seen_money: set[object] = set()
        placeholder = dt.date(2000, 1, 1)

        def collect_date(cache: dict, raw: object, line: int, i: int, *, required: bool) -> dt.date:
            seen_dates.add(raw)
            cache[raw] = placeholder
            return placeholder

        def collect_money(
            cache: dict, raw: object, line: int, i: int, *, empty_ok: bool = False
        ) -> int:
            seen_money.add(raw)
            cache[raw] = 0
            return 0

        self.scan(self.reopen(), collect_date, collect_money)
        texts = sorted(v for v in seen_money if isinstance(v, str))
        dates = sorted(v for v in seen_dates if isinstance(v, str))
        if not _all_read(money_parser(self.p), texts):
            number = _one_fit(
                [(n, money_parser(self.p, n)) for n in _RESAVED_NUMBERS],
                texts,
                first,
                "amounts",
                self.file,
            )
            if number is None:
                raise first
            self.parse_text = money_parser(self.p, number)
            self.refitted += (f"amounts like {_RESAVED_NUMBERS[number]}",)
        if not _all_read(lambda t: _parse_date_text(t, self.p.date_formats), dates):
            fmt = _one_fit(
                [
                    ((f,), functools.partial(_parse_date_text, formats=(f,)))
                    for f in _RESAVED_DATES
                    if f not in self.p.date_formats
                ],
                dates,
                first,
                "dates",
                self.file,
            )
            if fmt is None:
                raise first
            self.date_formats = fmt
            self.refitted += ("dates " + _date_help(fmt),)
        if not self.refitted:
            raise first
        return self.scan(self.reopen(), self.date, self.money)

    def keys(self, parsed: list[_Parsed]) -> tuple[list[str], list[str]]:
        """Each row's key and former key (ledger schema 3 and older), counted in the order
        the bank booked them."""
        p = self.p
        order = p.order
        if order == "auto":
            order = (
                "newest_first" if parsed and parsed[0].date > parsed[-1].date else "oldest_first"
            )
        keys: list[str] = [""] * len(parsed)
        formers: list[str] = [""] * len(parsed)
        idless = bank.IdlessKeys()
        counters: dict[str, OccurrenceKeys] = {}  # the keys of ledger schema 3 and older
        positions = (
            range(len(parsed) - 1, -1, -1) if order == "newest_first" else range(len(parsed))
        )
        for i in positions:
            t = parsed[i]
            account = bank.account_id(t.account) or p.bank  # Swedbank names it per row
            keys[i] = idless.key(account, t.date, t.amount, t.key_text)
            counter = counters.get(account)
            if counter is None:
                counter = counters[account] = OccurrenceKeys(f"bank:{account}")
            formers[i] = counter.key(t.date, t.amount, t.text, t.balance, t.reference)
        return keys, formers

    def frame_keys(self, parsed: Any) -> tuple[Any, Any]:
        """`keys` by columns, for `row_frame`: the same digests (`domain.digest_texts` of the
        same joined values) and occurrences counted by `over` in the bank's order."""
        import polars as pl

        from bokfor.domain import digest_texts
        from bokfor.frames import map_distinct

        p = self.p
        order = p.order
        if order == "auto":
            dates = parsed["date"]
            order = "newest_first" if dates[0] > dates[-1] else "oldest_first"

        def each(name: str, f: Callable[[str], str]) -> pl.Series:
            return map_distinct(parsed[name], parsed[name].is_not_null(), f, pl.String)[0]

        # IdlessKeys: date, amount, text_key; OccurrenceKeys (ledger schema 3): date,
        # amount, text, balance, reference: as `digest` joins them.
        table = pl.DataFrame(
            [
                each("account", lambda a: bank.account_id(a) or p.bank).alias("account"),
                parsed["date"],
                parsed["amount"],
                each("key_text", bank.text_key).alias("text_key"),
                parsed["text"],
                parsed["balance"],
                parsed["reference"],
            ]
        ).select(
            "account",
            pl.concat_str(
                [pl.col(c).cast(pl.String).fill_null("") for c in ("date", "amount", "text_key")],
                separator="\x1f",
            ).alias("key"),
            pl.concat_str(
                [
                    pl.col(c).cast(pl.String).fill_null("")
                    for c in ("date", "amount", "text", "balance", "reference")
                ],
                separator="\x1f",
            ).alias("former"),
        )
        if order == "newest_first":
            table = table.reverse()
        table = table.with_columns(
            pl.Series("key", digest_texts(table["key"].to_list())),
            pl.Series("former", digest_texts(table["former"].to_list())),
        )
        prefix = pl.concat_str(pl.lit("bank:"), "account", pl.lit(":"))
        table = table.select(
            pl.concat_str(
                prefix,
                name,
                pl.lit("#"),
                (pl.int_range(pl.len()).over("account", name) + 1).cast(pl.String),
            ).alias(name)
            for name in ("key", "former")
        )
        if order == "newest_first":
            table = table.reverse()
        return table["key"], table["former"]

    def balances(self, rows: Iterable[tuple]) -> list[Notice]:
        """The running balance checked per account and currency (`emit` checks it as it
        makes the rows); `rows`: the `_BALANCED` values of each parsed row."""
        balances: dict[tuple[str, str], bank.RunningBalance] = {}
        for line, amount, value, account, currency in rows:
            if value is not None:
                balance = balances.get((account, currency))
                if balance is None:
                    balance = balances[account, currency] = bank.RunningBalance(self.file)
                balance.add(line, amount, value)
        return [n for balance in balances.values() for n in balance.notices()]

    def by_columns(self, data: bytes | None) -> Any:
        """The parsed table (`_PARSED` columns) as `scan` gives it, read by Polars
        (`csvframe.parse_table`), of `data`: a CSV file in UTF-8 whose header is its first
        line and whose layout's columns are `_BY_COLUMNS` (no reference, account, fee or
        money in/out; no mark of a pending or void row, no footer, no preamble). A file in
        several currencies and a cell that is not plain give None — a date or an amount the
        layout's own format does not read, an empty one, a blank, short or long row, a
        quote inside an unquoted cell, a value too large: the row reader reads such a file
        and words what it finds, as it always has."""
        p, m = self.p, self.m
        if (
            data is None
            or p.file != "csv"
            or p.width is not None
            or m.preamble
            or m.header_line != 1
            or m.delimiter is None
            or p.pending
            or p.void
            or p.footer
            or p.account_label is not None
            or p.account_regex is not None
            or self.trailing_empty
        ):
            return None
        present = {role for role, names in p.columns.items() if self.cols(role)}
        if not present <= _BY_COLUMNS or "date" not in present or "amount" not in present:
            return None
        import polars as pl

        from bokfor.frames import LINE, map_distinct
        from bokfor.sources import NotFramed, csvframe

        header = data.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
        try:
            cells = csvframe.parse_table(data, header.decode("utf-8"), self.width, m.delimiter)
        except NotFramed:
            return None
        if not cells.height:
            return None  # the row reader says what the table holds instead

        def cell(role: str) -> pl.Series:
            return cells[f"c{self.col(role)}"]

        def parsed(texts: pl.Series, money: bool, *, empty_ok: bool = False) -> pl.Series | None:
            """The row reader's dates or amounts of the texts; None when one is refused,
            or empty where a value is due."""
            if not empty_ok and texts.null_count():
                return None
            if money:
                values, refused = plain_amounts(texts, mark, self.parse_text)
            else:
                values, refused = map_distinct(texts, texts.is_not_null(), day, pl.Date)
            return None if refused.any() else values

        mark, formats = p.decimal_mark, self.date_formats
        day = lambda text: _parse_date_text(text, formats)  # noqa: E731
        dates = parsed(cell("date"), False)
        amounts = parsed(cell("amount"), True)
        value_dates = balances = None
        if "value_date" in present:
            value_dates = parsed(cell("value_date"), False, empty_ok=True)
            if value_dates is None:
                return None
        if "balance" in present:
            balances = parsed(cell("balance"), True, empty_ok=True)
            if balances is None:
                return None
        if dates is None or amounts is None:
            return None
        size = cells.height
        nothing = pl.repeat("", size, dtype=pl.String, eager=True)

        def normal(i: int | None, form: Callable[[str], str] = _s) -> pl.Series:
            """A column's cells as `scan` reads them (`_s`: white space collapsed), each
            distinct text once; "" where empty, or for a column the file lacks."""
            if i is None:
                return nothing
            texts = cells[f"c{i}"]
            return map_distinct(texts, texts.is_not_null(), form, pl.String)[0].fill_null("")

        currency = pl.repeat(p.currency, size, dtype=pl.String, eager=True)
        if "currency" in present:  # the row's own, upper case, else the layout's
            own = normal(self.col("currency"), lambda t: _s(t).upper())
            currency = pl.select(pl.when(own != "").then(own).otherwise(currency)).to_series()
            if currency.n_unique() > 1:
                return None  # `one_currency` refuses the file: the row reader says so
        cp_account = normal(self.col("counterparty_account"))
        if "counterparty_account" not in present and present & {"sender", "receiver"}:
            sender, receiver = normal(self.col("sender")), normal(self.col("receiver"))
            cp_account = pl.select(
                pl.when(amounts > 0).then(sender).otherwise(receiver)
            ).to_series()
        # The texts joined by " / " without repeats, as `scan` joins them.
        parts = [normal(i) for i in self.cols("text")]
        if len(parts) <= 1:
            text = parts[0] if parts else nothing
        else:
            joined = pl.DataFrame(parts).select(
                pl.concat_list(pl.all())
                .list.eval(pl.element().filter(pl.element() != "").unique(maintain_order=True))
                .list.join(" / ")
            )
            text = joined.to_series()
        table = pl.DataFrame(
            {
                "line": cells[LINE],
                "date": dates,
                "amount": amounts,
                "balance": balances
                if balances is not None
                else pl.repeat(None, size, dtype=pl.Int64, eager=True),
                "text": text,
                "value_date": value_dates
                if value_dates is not None
                else pl.repeat(None, size, dtype=pl.Date, eager=True),
                "reference": nothing,
                "counterparty": normal(self.col("counterparty")),
                "counterparty_account": cp_account,
                "currency": currency,
                "transaction_code": normal(self.col("transaction_code")),
                "account": nothing,
                "key_text": text,
            },
            schema=_parsed_schema(),
        )
        return table

    def frame(self, parsed: list[_Parsed]) -> Iterator[Any]:
        """`emit`'s rows as one row frame (bokfor.frames), then its notices. An amount a
        64-bit column cannot hold raises NotFramed: the plan reads the file by `emit`."""
        import polars as pl

        from bokfor.sources import NotFramed

        # raises as emit does, before any row is booked
        notices = self.balances(
            (t.line, t.amount, t.balance, t.account, t.currency) for t in parsed
        )
        amounts = [t.amount for t in parsed]
        balances = [t.balance for t in parsed if t.balance is not None]
        if any(
            max(v, default=0) >= _FRAMED or min(v, default=0) <= -_FRAMED
            for v in (amounts, balances)
        ):
            raise NotFramed(self.file)
        yield self.row_frame(pl.DataFrame(parsed, schema=_parsed_schema(), orient="row"))
        yield from notices

    def row_frame(self, table: Any) -> Any:
        """The row frame (bokfor.frames) of a parsed table (`_PARSED` columns, texts ""
        for none; amounts under 2^62 öre)."""
        import polars as pl

        from bokfor import frames

        keys, formers = self.frame_keys(table)
        size = table.height

        def text(name: str) -> pl.Series:  # "" is no value (normalised_row)
            return table[name].replace("", None)

        data = {
            frames.KEY: keys,
            frames.DATE_COL: table["date"],
            frames.FILE: pl.repeat(self.file, size, dtype=pl.String, eager=True),
            frames.LINE: table["line"],
            frames.ALIASES: pl.repeat([], size, dtype=pl.List(pl.String), eager=True),
            frames.FORMER: formers.reshape((size, 1)).arr.to_list(),
            "format": pl.repeat(self.p.name, size, dtype=pl.String, eager=True),
            "account": text("account"),
            "currency": text("currency"),
            "value_date": table["value_date"],
            "text": text("text"),
            "reference": text("reference"),
            "counterparty": text("counterparty"),
            "counterparty_account": text("counterparty_account"),
            "transaction_code": text("transaction_code"),
            "amount": table["amount"],
        }
        schema = frames.frame_schema(bank.SCHEMA)
        return pl.DataFrame(
            [
                data[name].alias(name)
                if name in data
                else pl.repeat(None, size, dtype=kind, eager=True).alias(name)
                for name, kind in schema.items()
            ]
        )

    def emit(self, parsed: list[_Parsed]) -> Iterator[Row | Notice]:
        p = self.p
        file = self.file
        keys, formers = self.keys(parsed)
        # One running balance per account and currency: a file may list several accounts
        # (Swedbank), each with its own balance.
        balances: dict[tuple[str, str], bank.RunningBalance] = {}
        last: tuple[str, str] | None = None
        balance: bank.RunningBalance | None = None
        # The tuple's texts are normal already (see `rows`), the currency upper case.
        make, origin, name = bank.normalised_row, Origin, p.name
        for t, key, former in zip(parsed, keys, formers, strict=True):
            (
                line,
                day,
                amount,
                bal,
                text,
                value_day,
                reference,
                counterparty,
                cp_account,
                currency,
                code,
                account,
                _,
            ) = t
            if bal is not None:
                if (account, currency) != last or balance is None:
                    last = (account, currency)
                    balance = balances.get(last)
                    if balance is None:
                        balance = balances[last] = bank.RunningBalance(file)
                balance.add(line, amount, bal)
            yield make(
                name,
                key,
                day,
                amount,
                origin(file, line),
                account,
                currency,
                value_day,
                text,
                reference,
                counterparty,
                cp_account,
                "",
                "",
                code,
                "",
                False,
                (former,),
            )
        for balance in balances.values():
            yield from balance.notices()

    # -- value parsers (cache misses) ---------------------------------------------------
    def date(self, cache: dict, raw: object, line: int, i: int, *, required: bool) -> dt.date:
        p = self.p
        day: dt.date | None = None
        if isinstance(raw, dt.datetime):
            day = raw.date()
        elif isinstance(raw, dt.date):
            day = raw
        elif isinstance(raw, (int, Decimal)) and not isinstance(raw, bool):
            try:
                day = _excel_date(raw)
            except (ValueError, ArithmeticError, OverflowError):
                day = None
        elif isinstance(raw, str):
            try:
                day = _parse_date_text(raw, self.date_formats)
            except ValueError:
                day = None
        if day is None:
            shown = "" if raw is None else raw if isinstance(raw, str) else str(raw)
            blank = not str(shown).strip()
            what = "an empty date" if blank else f"not a date: {shown!r}"
            error = InputError if blank or _undated(shown) else _FormatError
            raise error(
                f"{what}; the {p.name} layout writes dates as {p.date_help()}",
                file=self.file,
                line=line,
                column=self.title(i),
                hint=_REDOWNLOAD,
            )
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        cache[raw] = day
        return day

    def money(self, cache: dict, raw: object, line: int, i: int, *, empty_ok: bool = False) -> int:
        p = self.p
        try:
            if isinstance(raw, str):  # first: every cell of a CSV file is text
                value = self.parse_text(raw)
            elif isinstance(raw, (Decimal, int)) and not isinstance(raw, bool):
                value = _decimal_ore(raw)
            else:
                raise AmountError(f"{raw!r} is not an amount")
        except AmountError as exc:
            raise _FormatError(
                f"not an amount in the {p.name} layout: {exc}",
                file=self.file,
                line=line,
                column=self.title(i),
                hint=f"{p.title} writes amounts like {p.example_amount()}; " + _REDOWNLOAD,
            ) from None
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        cache[raw] = value
        return value

    def in_out(
        self,
        cache: dict,
        cells: list,
        line: int,
        i_in: int | None,
        i_out: int | None,
        money: Callable,
        contrary: list[tuple[int, str]],
    ) -> int:
        """The signed amount of a row with a money-in and a money-out column. Money out is out
        whatever sign the bank writes (Nordea and SpareBank 1 write it negative, others
        positive); a negative value in the money-in column keeps its sign (a returned deposit
        took money out) and is noted in `contrary`, as its sign contradicts its column."""
        assert i_in is not None and i_out is not None
        raw_in, raw_out = cells[i_in], cells[i_out]
        has_in = raw_in is not None and str(raw_in).strip() != ""
        has_out = raw_out is not None and str(raw_out).strip() != ""
        value_in = cache.get(raw_in) if has_in else 0
        if value_in is None:
            value_in = money(cache, raw_in, line, i_in)
        value_out = cache.get(raw_out) if has_out else 0
        if value_out is None:
            value_out = money(cache, raw_out, line, i_out)
        if has_in == has_out and (value_in or value_out or not has_in):
            raise InputError(
                "the row has " + ("both" if has_in else "neither") + " an amount in "
                f"{self.title(i_in)!r} " + ("and" if has_in else "nor") + f" in "
                f"{self.title(i_out)!r}",
                file=self.file,
                line=line,
                column=self.title(i_in),
                hint="each row moves money one way: exactly one of the two is filled; "
                + _REDOWNLOAD,
            )
        if value_in < 0:
            contrary.append((line, _s(raw_in)))
        return value_in - abs(value_out)


# "4000123456788", "RF18 5390 0754 7034", or Nordea's "<bankgiro> <payer reference>".
_BG_PREFIX = re.compile(r"\d{3,4}-\d{4}\s+")


def _reference(text: str) -> str:
    """The OCR/KID/RF reference a reference cell holds, or "" when it holds a message."""
    found = _BG_PREFIX.match(text)
    compact = (text[found.end() :] if found else text).replace(" ", "")
    if bank.is_ocr(compact) or bank.is_rf(compact):
        return compact
    return ""


def _blank(cells: Sequence[Any]) -> bool:
    return not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells)


def _marked(rows: list[tuple[int, str]]) -> str:
    """The marks of left-out rows, each once, as the file has them: "Reserverat/Varaus"."""
    return "/".join(dict.fromkeys(mark.strip() for _, mark in rows))


def _listed(rows: list[tuple[int, str]]) -> str:
    """Rows a warning names, with their values as written: "line 14: -500.000; line 16: …"."""
    return "; ".join(f"line {line}: {value}" for line, value in rows[:5]) + (
        "; …" if len(rows) > 5 else ""
    )


def _undated(raw: object) -> bool:
    """A date cell with no digit in it (empty, "Summa", "Utgående saldo"): no transaction's."""
    return raw is None or (isinstance(raw, str) and not any(c.isdigit() for c in raw))


# What a spreadsheet writes when it re-saves a bank's CSV in its own locale: a decimal comma
# with space or dot thousands (sv, fi, no, da, de), or a decimal point with comma thousands
# (en); dates in the locale's short form.
_SPACE_MARKS = " \u00a0\u202f"
_RESAVED_NUMBERS = {
    (",", _SPACE_MARKS): "-1 234,50",
    (",", _SPACE_MARKS + "."): "-1.234,50",
    (".", _SPACE_MARKS): "-1 234.50",
    (".", _SPACE_MARKS + ","): "-1,234.50",
}
_RESAVED_DATES = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%Y.%m.%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
)


def _all_read(parse: Callable[[str], object], texts: Iterable[str]) -> bool:
    try:
        for text in texts:
            parse(text.strip())
    except (ValueError, AmountError):
        return False
    return True


def _one_fit(
    candidates: list[tuple[Any, Callable[[str], object]]],
    texts: list[str],
    first: InputError,
    what: str,
    file: str,
) -> Any:
    """The candidate format that reads every text; None if none does. Two that read them all
    but differently (01/02/2026: 1 February or 2 January?) are refused, never guessed."""
    fits: list[tuple[Any, list[object]]] = []
    for fmt, parse in candidates:
        try:
            values = [parse(t.strip()) for t in texts]
        except (ValueError, AmountError):
            continue
        if fits and values != fits[0][1]:
            example = next(t for t, a, b in zip(texts, fits[0][1], values, strict=True) if a != b)
            raise InputError(
                f"the {what} of this file read two ways ({example!r}): a spreadsheet re-saved "
                "it in a format bokfor cannot tell",
                file=file,
                line=first.line,
                hint=_REDOWNLOAD,
            )
        fits.append((fmt, values))
    return fits[0][0] if fits else None


def _date_help(formats: Sequence[str]) -> str:
    return " or ".join(
        f.replace("%Y", "YYYY")
        .replace("%m", "MM")
        .replace("%d", "DD")
        .replace("%y", "YY")
        .replace("%H", "hh")
        .replace("%M", "mm")
        .replace("%S", "ss")
        for f in formats
    )


def _s(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _drop_last(
    items: Iterator[tuple[int, list[Any]]], n: int, dropped: list[tuple[int, list[Any]]]
) -> Iterator[tuple[int, list[Any]]]:
    """All but the last `n` non-blank rows (a footer); those go to `dropped`, for the
    caller to check that they are no transactions."""
    window: deque[tuple[int, list[Any]]] = deque()
    for item in items:
        if not any(c is not None and str(c).strip() for c in item[1]):
            continue
        window.append(item)
        if len(window) > n:
            yield window.popleft()
    dropped.extend(window)


SOURCE = NetbankSource(BUILTIN)
