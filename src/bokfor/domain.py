"""The data that flows through bokfor: source rows in, vouchers out.

Amounts are integer öre everywhere (debit positive, credit negative, as in SIE). Dimensions
are SIE object references: dimension number -> object id, e.g. {1: "CAFE1", 6: "P12"}
(1 = kostnadsställe, 6 = projekt).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, NamedTuple

FieldValue = str | int | dt.date | dt.datetime | None
Dims = tuple[tuple[int, str], ...]


def digest(values: Iterable[object]) -> str:
    """A short, stable digest of some values (keys for rows without an id of their own).

    Called once per row of a bank file: a list comprehension (not a generator), and the
    exact-type tests first, since most values are texts and öre; `str(v)` of a `str` is `v`
    and an `int` is no date, so the text hashed is the same as by the plain rule
    (None -> "", a date -> its isoformat, anything else -> str)."""
    text = "\x1f".join(
        [
            v
            if type(v) is str
            else ""
            if v is None
            else str(v)
            if type(v) is int
            else (_ISO.get(v) or _iso(v))
            if type(v) is dt.date
            else v.isoformat()
            if isinstance(v, dt.date)
            else str(v)
            for v in values
        ]
    )
    return _blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def digest_texts(texts: Iterable[str]) -> list[str]:
    """`digest` of values already joined as it joins them (a frame's column of texts)."""
    return [_blake2b(text.encode("utf-8"), digest_size=12).hexdigest() for text in texts]


_blake2b = hashlib.blake2b
# isoformat() of plain dates (exactly `dt.date`: a datetime's text depends on more than
# what its == compares): a file's rows share few days, and the look-up is 5x cheaper.
_ISO: dict[dt.date, str] = {}


def _iso(day: dt.date) -> str:
    if len(_ISO) > 4096:
        _ISO.clear()
    text = _ISO[day] = day.isoformat()
    return text


def make_dims(dims: Mapping[int, str] | None) -> Dims:
    """Canonical, hashable form of a dimension mapping (sorted by dimension number)."""
    return tuple(sorted((int(k), str(v)) for k, v in (dims or {}).items()))


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a row came from: the file and its 1-based physical line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Packed:
    """A grouped voucher's per-row values (its rows' keys, their origins), held outside
    Python objects and read in `order`: item i is the `order[i]`-th row added. As tuples of
    objects they took ~300 B a row, most of a 1M-row Stripe run's memory. Immutable;
    compares and hashes as the tuple of its items, so a voucher equals one made with tuples.
    Subclasses say where item k is (`_item`): packed in arrays here, in a file for rows
    booked as columns (`bokfor.postings`)."""

    __slots__ = ("_order",)

    def __init__(self, order: Any) -> None:  # ints: an array("I"), or a Polars UInt32 Series
        self._order = order

    def _item(self, k: int) -> object:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, i: Any) -> Any:  # an item; a tuple for a slice
        if isinstance(i, slice):
            return tuple(self._item(k) for k in self._order[i])
        return self._item(self._order[i])  # IndexError and negative indices as a tuple's

    def __iter__(self) -> Iterator:
        item = self._item
        return (item(k) for k in self._order)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, Packed)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[type[tuple[object, ...]], tuple[tuple[object, ...]]]:
        return tuple, (tuple(self),)


class PackedKeys(Packed, Sequence[str]):
    """Keys as UTF-8 in one buffer: key k is `data[ends[k]:ends[k + 1]]` (`ends[0]` is 0)."""

    __slots__ = ("_data", "_ends")

    def __init__(self, data: bytes | bytearray, ends: array, order: array) -> None:
        super().__init__(order)
        self._data, self._ends = data, ends

    def _item(self, k: int) -> str:
        ends = self._ends
        return self._data[ends[k] : ends[k + 1]].decode()


class PackedOrigins(Packed, Sequence["Origin"]):
    """Origins as a file number and a line each: origin k is
    `Origin(files[file_of[k]], lines[k])`."""

    __slots__ = ("_files", "_file_of", "_lines")

    def __init__(self, files: tuple[str, ...], file_of: array, lines: array, order: array) -> None:
        super().__init__(order)
        self._files, self._file_of, self._lines = files, file_of, lines

    def _item(self, k: int) -> Origin:
        return Origin(self._files[self._file_of[k]], self._lines[k])


@dataclass(frozen=True, slots=True)
class Row:
    """One normalised source row.

    `key` is the row's stable identity (e.g. "stripe:txn_1Nx..."): it never depends on dates
    or amounts, so a re-run recognises the row. `amounts` holds the named amounts a mapping
    can post (for Stripe: gross, fee, net); `fields` the values rules can test.
    """

    source: str
    key: str
    date: dt.date
    amounts: Mapping[str, int]
    fields: Mapping[str, FieldValue]
    origin: Origin
    # Other names of the same money movement in other exports (a Stripe charge is a balance
    # transaction in one export and a payment in another): booked under one name only.
    aliases: tuple[str, ...] = ()
    # The keys this row had under earlier key schemes of bokfor (a ledger written by an older
    # release knows the row by one of them): looked up when `key` is not known, never
    # recorded for new exports.
    former: tuple[str, ...] = ()
    # A structured source's whole record (a POS day close), for a booking of its own.
    detail: object = field(default=None, compare=False)

    def value(self, name: str) -> FieldValue:
        """A field or amount by name; `date` is the voucher date."""
        if name in self.amounts:
            return self.amounts[name]
        if name == "date":
            return self.date
        return self.fields.get(name)


class Line(NamedTuple):
    """One voucher row (#TRANS). A NamedTuple, not a frozen dataclass: vouchers of a
    million-row export make millions of lines, and tuple construction is several times
    cheaper than a frozen dataclass's __init__."""

    account: str
    amount: int
    dims: Dims = ()
    text: str = ""
    quantity: Decimal | None = None
    date: dt.date | None = None  # transdat; None = the voucher date

    @property
    def dimensions(self) -> dict[int, str]:
        return dict(self.dims)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A verifikation. `number` is None when the receiving system assigns it (SIE 4I)."""

    series: str
    date: dt.date
    text: str
    lines: tuple[Line, ...]
    source_keys: Sequence[str] = ()  # a tuple, or PackedKeys (grouped vouchers)
    number: int | None = None
    reg_date: dt.date | None = None
    origins: Sequence[Origin] = field(default=(), compare=False)  # or PackedOrigins
    rule: str | None = field(default=None, compare=False)

    @property
    def balance(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def debit(self) -> int:
        return sum(line.amount for line in self.lines if line.amount > 0)

    @property
    def credit(self) -> int:
        return -sum(line.amount for line in self.lines if line.amount < 0)


class VoucherColumns(Sequence[Voucher]):
    """Vouchers held as columns (`bokfor.frames.FramedVouchers`, a voucher a row booked as
    columns): a `Voucher` is made only when one is asked for (a message, the preview, a
    Fortnox batch). What reads every voucher of a run — its fiscal years, the SIE file, the
    ledger, the totals — reads the columns through these methods instead. Compares equal to
    a sequence of the same vouchers."""

    __slots__ = ()

    def dates(self) -> list[dt.date]:
        """Each voucher's date, in order."""
        raise NotImplementedError

    def take(self, indices: Sequence[int]) -> "VoucherColumns":
        """The vouchers at `indices`, in that order."""
        raise NotImplementedError

    def ledger_rows(self) -> Iterator[tuple[str, int | None, str, str, str]]:
        """Per voucher what the ledger stores of it: series, number, ISO date, text and its
        lines as `ledger.lines_to_json` writes them (byte for byte)."""
        raise NotImplementedError

    def totals(self) -> dict[str, tuple[int, int]]:
        """account -> (debit, credit) in öre over every line, accounts sorted."""
        raise NotImplementedError

    def line_count(self) -> int:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, VoucherColumns)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as a list


def dates_of(vouchers: Iterable[Voucher]) -> list[dt.date]:
    """Each voucher's date, in order (from the columns where vouchers are held so)."""
    if isinstance(vouchers, VoucherColumns):
        return vouchers.dates()
    return [v.date for v in vouchers]


@dataclass(frozen=True, slots=True)
class FiscalYear:
    """A räkenskapsår: #RAR index (0 = current, -1 = previous) with its first and last day."""

    start: dt.date
    end: dt.date
    index: int = 0

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    orgnr: str | None = None
    currency: str = "SEK"


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning the user must see but that does not stop the run (e.g. a truncated text)."""

    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = (
            f"{self.file}:{self.line}: "
            if self.file and self.line
            else (f"{self.file}: " if self.file else "")
        )
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class Caution(Notice):
    """A warning that may mean wrong books (a row booked twice or lost, a posting the wrong
    way round): `--strict` (cron) makes it an error before anything is written."""
