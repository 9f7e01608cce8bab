"""Write a SieDocument as a SIE 4 file that Fortnox and other programs import.

Everything that could make a file wrong is checked before a byte is produced: each voucher
balances to the öre, every used account has a name, dates lie in the fiscal year, texts fit
CP437. What has to be adapted (a transliterated '€', a text cut to 50 characters) is
reported as a Notice, never done silently.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gc
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO, Sequence

from stdnum.se import orgnr as se_orgnr

from bokfor import engine
from bokfor.domain import Dims, FiscalYear, Line, Notice, Voucher, VoucherColumns
from bokfor.errors import SieError
from bokfor.money import format_sie
from bokfor.sie import cp437
from bokfor.sie.ksumma import BLOCK_CLOSE, BLOCK_OPEN, Field, Record, Text
from bokfor.sie.ksumma import checksum as ksumma
from bokfor.sie.model import SieDocument

# Names of the dimensions SIE reserves (spec §8.17), used when the mapping names none.
DEFAULT_DIMENSIONS: dict[int, str] = {
    1: "Kostnadsställe",
    2: "Kostnadsbärare",
    6: "Projekt",
    7: "Anställd",
    8: "Kund",
    9: "Leverantör",
}

_DIGITS = re.compile(r"[0-9]+")
_KPTYP = re.compile(r"[A-Za-z0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


def render(
    doc: SieDocument, *, checksum: bool = False, text_limit: int | None = 50
) -> tuple[bytes, list[Notice]]:
    """The SIE 4 file for `doc` as CP437 bytes with CRLF line ends, plus the notices.

    `checksum` adds #KSUMMA; `text_limit` is the longest voucher or row text written
    (Fortnox refuses more than 50 characters); None writes texts whole.
    """
    out = io.BytesIO()
    notices = render_to(doc, out, checksum=checksum, text_limit=text_limit)
    return out.getvalue(), notices


_CHUNK = 512  # vouchers encoded and written at a time


def render_to(
    doc: SieDocument, out: BinaryIO, *, checksum: bool = False, text_limit: int | None = 50
) -> list[Notice]:
    """Write the file `render` makes to `out` in chunks, so a large file is never held
    whole (camt_100k: 20 MB of text, ~100 MiB as strings and bytes).

    A document of many voucher lines is rendered from its columns (`bokfor.sie.columns`,
    the same bytes and notices), a small one by the per-row path, which needs no Polars
    import. Write to a scratch file (`fileio.stage`) and use it only when this returns: a
    fault in a text is found when its voucher is written."""
    vouchers = doc.vouchers
    if isinstance(vouchers, VoucherColumns):  # held as columns: rendered from them
        lines = vouchers.line_count()
    else:
        lines = sum(len(v.lines) for v in vouchers)
    if engine.POLARS and lines >= COLUMNS_FROM:
        from bokfor.frames import voucher_frames
        from bokfor.sie.columns import render_frames_to

        try:
            frames = voucher_frames(doc.vouchers)
        except OverflowError:  # an amount no books hold: the per-row path writes it
            pass
        else:
            return render_frames_to(doc, frames, out, checksum=checksum, text_limit=text_limit)
    return _render_rows_to(doc, out, checksum=checksum, text_limit=text_limit)


# Voucher lines from which rendering from columns, the seam to them and Polars' import (about
# 0.4 s of CPU) included, beats the per-row path: with #KSUMMA the columns save ~15 µs a
# line, without it they spend about as much CPU but on two threads (issue 22, SIE item).
COLUMNS_FROM = 20_000


def _render_rows_to(
    doc: SieDocument, out: BinaryIO, *, checksum: bool = False, text_limit: int | None = 50
) -> list[Notice]:
    """`render_to` from `Voucher` objects, a few hundred vouchers at a time. The checks
    that need every voucher (balance, dates, numbering, chart) run before the first byte;
    a text fault is found when its voucher is written."""
    # No reference cycles are made: the cyclic collector is paused meanwhile (as
    # bokfor.ledger.paused_gc; output cannot change).
    enabled = gc.isenabled()
    gc.disable()
    try:
        writer = _Writer(text_limit, records=[] if checksum else None)
        head, *top = writer.top(doc)
        write = out.write
        write(_encode(head + "\r\n" + ("#KSUMMA\r\n" if checksum else "")))
        write(_encode("\r\n".join(top) + "\r\n"))
        voucher, chunk = writer.voucher, []
        for v in doc.vouchers:
            chunk.append(voucher(v))
            if len(chunk) == _CHUNK:
                write(_encode("\r\n".join(chunk) + "\r\n"))
                chunk.clear()
        if chunk:
            write(_encode("\r\n".join(chunk) + "\r\n"))
        if writer.records is not None:  # the records after #FLAGGA: what #KSUMMA covers
            crc = ksumma(writer.records[1:], cp437.ENCODING)
            write(_encode(_format(Record("#KSUMMA", (str(crc),))) + "\r\n"))
        return writer.notices
    finally:
        if enabled:
            gc.enable()


def _encode(text: str) -> bytes:
    """`text` in CP437. An all-ASCII text (str.isascii is a flag check) is its own CP437
    encoding, copied at C speed; other text goes through a charmap built once from the
    codec's own decoding table (the stdlib cp437 codec encodes through a dict, several
    times slower). Both give exactly the bytes `text.encode("cp437")` gives."""
    if text.isascii():
        return text.encode("ascii")
    return codecs.charmap_encode(text, "strict", _CP437_MAP)[0]


# SIE's code page is a one-byte charmap: its 256 characters, in byte order, give the map.
_CP437_MAP = codecs.charmap_build(bytes(range(256)).decode(cp437.ENCODING))


def _in_cp437(text: str) -> bool:
    """Whether `text` is NFC and every character of it is in CP437 (one C call each)."""
    if not unicodedata.is_normalized("NFC", text):
        return False
    try:
        codecs.charmap_encode(text, "strict", _CP437_MAP)
    except UnicodeEncodeError:
        return False
    return True


# --- records -> text ---------------------------------------------------------------------


def _format(record: Record) -> str:
    if record.label in (BLOCK_OPEN, BLOCK_CLOSE):
        return record.label
    return " ".join((record.label, *map(_format_field, record.fields)))


_NEEDS_QUOTES = re.compile(r'[ \t"{}]')
_needs_quotes = _NEEDS_QUOTES.search


def _format_field(value: Field) -> str:
    # The two common cases first, by exact type (same result as the general code below).
    if type(value) is Text:
        return '"' + value.replace('"', '\\"') + '"'
    if type(value) is str:
        return value if value and not _needs_quotes(value) else _quote(value)
    if isinstance(value, tuple):  # object list: dimension numbers bare, object ids quoted
        return "{" + " ".join(_quote(v) if i % 2 else v for i, v in enumerate(value)) + "}"
    if isinstance(value, Text) or not value or _NEEDS_QUOTES.search(value):
        return _quote(value)
    return value


def _quote(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


# --- document -> records -----------------------------------------------------------------


@dataclass
class _Writer:
    text_limit: int | None
    # The content records after the first line, for #KSUMMA; None when no checksum is asked.
    records: list[Record] | None = None
    notices: list[Notice] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)  # characters already reported
    # Texts and identifiers repeat (account names, series, cost centres, "Stripe-avgift"):
    # each distinct one is cleaned and checked once.
    _texts: dict[str, cp437.Transliterated] = field(default_factory=dict)
    _plain: set[str] = field(default_factory=set)
    _accounts: set[str] = field(default_factory=set)
    _in_year: set[dt.date] = field(default_factory=set)  # voucher dates found in a year
    # Formatted once per distinct value (see `voucher`): the `#VER <series>` start of a line,
    # the `#TRANS <account> {<objects>}` one, a voucher or row text as written and quoted.
    _ver: dict[str, str] = field(default_factory=dict)
    _trans: dict[tuple[str, Dims], tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    _quoted: dict[str, tuple[Text, str]] = field(default_factory=dict)

    def top(self, doc: SieDocument) -> list[str]:
        """The lines before the vouchers (header, chart, balances), every voucher checked
        first; `voucher` gives the rest."""
        vouchers = doc.vouchers
        for voucher in vouchers:
            self.check_voucher(voucher, doc.fiscal_years)
        self.check_numbers(vouchers)
        # One pass over the rows: accounts and object lists repeat, so few distinct pairs.
        return self.preamble(doc, {(line.account, line.dims) for v in vouchers for line in v.lines})

    def preamble(self, doc: SieDocument, used: set[tuple[str, Dims]]) -> list[str]:
        """The lines before the vouchers, their checks passed; `used` are the (account,
        objects) pairs of their lines."""
        if doc.sie_type == "4I" and doc.balances:
            raise SieError(
                "a SIE 4I file cannot hold balances (#IB/#UB/#RES)",
                hint="write the balances in a 4E file, or leave them out.",
            )
        records = self.header(doc)
        records += self.chart(doc, used)
        records += [
            Record(f"#{b.kind}", (str(b.year_index), b.account, format_sie(b.amount)))
            for b in doc.balances
        ]
        if self.records is not None:
            self.records += records
        return [_format(record) for record in records]

    # header

    def header(self, doc: SieDocument) -> list[Record]:
        if doc.generated is None:
            raise SieError(
                "the SIE file needs a generation date (#GEN) and none was given",
                hint="set the document's `generated` date (normally today).",
            )
        program, version = doc.program
        out = [
            Record("#FLAGGA", (str(doc.flag),)),
            Record("#FORMAT", ("PC8",)),
            Record("#SIETYP", ("4",)),
            Record("#PROGRAM", (self.plain(program, "program"), self.plain(version, "version"))),
            Record("#GEN", (_date(doc.generated),)),
            Record("#FNAMN", (self.text(doc.company.name, "the company name"),)),
        ]
        if not out[-1].fields[0]:
            raise SieError(
                "the company name is empty; SIE requires it (#FNAMN)",
                key="company.name",
                hint="set company.name in the mapping.",
            )
        if doc.company.orgnr:
            out.append(Record("#ORGNR", (_orgnr(doc.company.orgnr),)))
        if doc.company.currency != "SEK":
            if not _CURRENCY.fullmatch(doc.company.currency):
                raise SieError(
                    f"currency {doc.company.currency!r} is not an ISO 4217 code",
                    key="company.currency",
                    hint="use a three-letter code such as SEK or EUR.",
                )
            out.append(Record("#VALUTA", (doc.company.currency,)))
        if doc.kptyp:
            if not _KPTYP.fullmatch(doc.kptyp):
                raise SieError(
                    f"chart type (#KPTYP) {doc.kptyp!r} is not a single word",
                    hint="use BAS95, BAS96, EUBAS97, NE2007 or BAS20xx.",
                )
            out.append(Record("#KPTYP", (doc.kptyp,)))
        for year in sorted(doc.fiscal_years, key=lambda y: -y.index):
            out.append(Record("#RAR", (str(year.index), _date(year.start), _date(year.end))))
        return out

    # chart of accounts, dimensions, objects

    def chart(self, doc: SieDocument, used: set[tuple[str, Dims]]) -> list[Record]:
        used_accounts = {account for account, _ in used}
        used_accounts |= {b.account for b in doc.balances}
        used_objects = {pair for _, dims in used for pair in dims}
        out: list[Record] = []
        for number in sorted(used_accounts, key=lambda a: (len(a), a)):
            self.account(number)
            name = doc.accounts.get(number)
            if not name:
                raise SieError(
                    f"account {number} is used but has no name, and SIE needs one (#KONTO)",
                    key="accounts",
                    hint=f'add it under `accounts:` in the mapping, e.g. {number}: "<name>".',
                )
            out.append(Record("#KONTO", (number, self.text(name, f"account {number}"))))
        for dim in sorted({d for d, _ in used_objects}):
            name = doc.dimensions.get(dim) or DEFAULT_DIMENSIONS.get(dim, f"Dimension {dim}")
            out.append(Record("#DIM", (str(dim), self.text(name, f"dimension {dim}"))))
        for dim, obj in sorted(used_objects):
            name = doc.objects.get((dim, obj)) or obj
            where = f"object {dim} {obj!r}"
            out.append(
                Record("#OBJEKT", (str(dim), self.object_id(obj, where), self.text(name, where)))
            )
        return out

    # vouchers

    def voucher(self, v: Voucher) -> str:
        """The voucher's lines (#VER, `{`, its #TRANS, `}`) as one string.

        Fields are formatted as `_format` would format the voucher's records, but each
        distinct series, account with objects, and text only once, on first sight, by the
        same functions (`_format_field`, `_quote`); what is checked is checked then too, in
        the same order as the fields, so the same first fault is reported. The other fields
        never need quotes: numbers, dates, amounts and quantities are digits, '-' and '.'.
        """
        series = v.series
        ver = self._ver.get(series)
        if ver is None:
            ver = "#VER " + _format_field(self.plain(series, f"the series of {_Where(v)}"))
            if len(self._ver) < _TEXT_CACHE:
                self._ver[series] = ver
        number = "" if v.number is None else str(v.number)
        day = v.date
        date = _DATES.get(day) or _date(day)
        quoted = self._quoted
        text, text_field = quoted.get(v.text) or self.quoted(v.text, v)
        if v.reg_date is None:
            parts = [f"{ver} {number or _EMPTY} {date} {text_field}", BLOCK_OPEN]
        else:
            reg_date = _date(v.reg_date)
            parts = [f"{ver} {number or _EMPTY} {date} {text_field} {reg_date}", BLOCK_OPEN]
        records = self.records
        if records is not None:
            fields: tuple[Field, ...] = (series, number, date, text)
            records.append(Record("#VER", fields if v.reg_date is None else (*fields, reg_date)))
        trans = self._trans
        append = parts.append
        for line in v.lines:
            start = trans.get((line.account, line.dims)) or self.trans_start(line, v)
            amount = format_sie(line.amount)
            row_date = _date(line.date) if line.date is not None and line.date != day else ""
            row_text, row_field = quoted.get(line.text) or self.quoted(line.text, v)
            quantity = "" if line.quantity is None else _quantity(line.quantity, v)
            # The fields after the amount, empty ones at the end left out (as `_format`).
            if quantity:
                append(f"{start[0]} {amount} {row_date or _EMPTY} {row_field} {quantity}")
            elif row_text:
                append(f"{start[0]} {amount} {row_date or _EMPTY} {row_field}")
            elif row_date:
                append(f"{start[0]} {amount} {row_date}")
            else:
                append(f"{start[0]} {amount}")
            if records is not None:
                row: list[Field] = [line.account, start[1], amount, row_date, row_text, quantity]
                while len(row) > 3 and not row[-1]:
                    row.pop()
                records.append(Record("#TRANS", tuple(row)))
        append(BLOCK_CLOSE)
        return "\r\n".join(parts)

    def trans_start(self, line: Line, v: Voucher) -> tuple[str, tuple[str, ...]]:
        """`#TRANS <account> {<objects>}` for `line` of `v`, and its object list; checked,
        and kept for the next line with the same account and objects."""
        where = _Where(v)
        objects: tuple[str, ...] = ()
        for dim, obj in line.dims:
            if dim < 1:
                raise SieError(
                    f"{where}: dimension {dim} is not a SIE dimension number",
                    key="dimensions",
                    hint="use 1 for kostnadsställe, 6 for projekt, or 20 and up.",
                )
            objects += (str(dim), self.object_id(obj, where))
        account = self.account(line.account)
        start = f"#TRANS {_format_field(account)} {_format_field(objects)}", objects
        if len(self._trans) < _TEXT_CACHE:
            self._trans[(line.account, line.dims)] = start
        return start

    def quoted(self, value: str, v: Voucher) -> tuple[Text, str]:
        """`text(value, <v>, limit=v)` and that text as written in the file; kept for the
        next use when writing it again adds no notice (no cut, no backslash)."""
        text, again = self._text(value, _Where(v), v)
        result = text, _quote(text)
        if again and len(self._quoted) < _TEXT_CACHE:
            self._quoted[value] = result
        return result

    def check_voucher(self, v: Voucher, years: list[FiscalYear]) -> None:
        if not v.lines:
            raise SieError(
                f"{_describe(v)} has no rows",
                hint="check the postings of the rule that made it; a voucher needs rows.",
                details=_origins(v),
            )
        if v.balance:
            raise SieError(
                f"{_describe(v)} does not balance: debit {format_sie(v.debit)}, credit "
                f"{format_sie(v.credit)}, difference {format_sie(v.balance)}; "
                "it was not written",
                hint=_fix_rule(v),
                details=_origins(v),
            )
        if years and v.date not in self._in_year:
            if any(v.date in year for year in years):
                self._in_year.add(v.date)
                return
            spans = ", ".join(f"{y.start.isoformat()}..{y.end.isoformat()}" for y in years)
            raise SieError(
                f"{_describe(v)} is dated outside the fiscal year ({spans})",
                key="company.fiscal_year_start",
                hint="split the input with --from/--to so each file covers one fiscal year, "
                "or fix company.fiscal_year_start in the mapping.",
                details=_origins(v),
            )

    def check_numbers(self, vouchers: Sequence[Voucher]) -> None:
        last: dict[str, Voucher] = {}
        for v in vouchers:
            if v.number is None:
                continue
            before = last.get(v.series)
            if before is not None and before.number is not None and v.number <= before.number:
                raise SieError(
                    f"voucher numbers must ascend within series {v.series!r}: "
                    f"{_describe(v)} comes after number {before.number}",
                    hint="sort the vouchers by number, or leave numbers empty so the "
                    "receiving program assigns them.",
                )
            last[v.series] = v

    # fields

    def account(self, number: str) -> str:
        if number in self._accounts:  # checked before (account numbers repeat on every line)
            return number
        if not _DIGITS.fullmatch(number):
            raise SieError(
                f"account {number!r} is not a number; SIE account numbers are digits only",
                key="accounts",
                hint="use BAS account numbers such as 1930 in the mapping.",
            )
        self._accounts.add(number)
        return number

    def plain(self, value: str, what: str) -> str:
        """An identifier (series, program name, object id): written exactly as given, since
        changing it would change what it refers to; so it must be CP437, without control
        characters, and not end in a backslash (which would escape the closing quote)."""
        if value in self._plain:
            return value
        for char in value:
            if not cp437.encodable(char) or unicodedata.category(char) == "Cc":
                raise SieError(
                    f"{what} {value!r} cannot be written in SIE: character {cp437.describe(char)}",
                    hint="rename it in the mapping using letters, digits and spaces.",
                )
        if value.endswith("\\"):
            raise SieError(
                f"{what} {value!r} cannot be written in SIE: it ends with a backslash",
                hint="rename it in the mapping.",
            )
        self._plain.add(value)
        return value

    def object_id(self, obj: str, where: str | _Where) -> Text:
        if not obj:
            raise SieError(
                f"{where}: an object id is empty",
                key="dimensions",
                hint="give every cost centre / project an id, or leave the dimension out.",
            )
        if obj in self._plain:
            return Text(obj)
        return Text(self.plain(obj, f"{where}: object id"))

    def text(self, value: str, where: str, limit: Voucher | None = None) -> Text:
        """A name or text as SIE can hold it; notices for every change made.

        `limit` is the voucher whose text this is: voucher and row texts are cut to
        `text_limit`, names are not.
        """
        return self._text(value, where, limit)[0]

    def _text(self, value: str, where: str | _Where, limit: Voucher | None) -> tuple[Text, bool]:
        """`text`, and whether it needed no notice but those of replaced characters: then
        the same value gives the same text again, and no notice (each character is reported
        once)."""
        result = self._texts.get(value)
        if result is None:
            result = self._transliterated(value, where, limit)
            if len(self._texts) < _TEXT_CACHE:
                self._texts[value] = result
        for char, sub in result.replaced.items():
            if char not in self._seen:
                self._seen.add(char)
                self.notices.append(
                    Notice(
                        f"character {cp437.describe(char)} is not in code page 437 (the SIE "
                        f"character set); written as {sub!r} (first in {where})"
                    )
                )
        text = result.text
        unchanged = True
        if limit is not None and self.text_limit is not None and len(text) > self.text_limit:
            text = text[: self.text_limit].rstrip(" ")
            unchanged = False
            self.notices.append(
                Notice(
                    f"voucher {limit.date.isoformat()}: text {result.text[:20] + '...'!r} "
                    f"is {len(result.text)} characters; cut to {self.text_limit}"
                )
            )
        if text.endswith("\\"):
            stripped = text.rstrip("\\ ")
            self.notices.append(
                Notice(
                    f"{where}: text {text!r} ends with a backslash, which SIE would read as "
                    f"an escaped quote; written as {stripped!r}"
                )
            )
            text = stripped
            unchanged = False
        return Text(text), unchanged

    def _transliterated(
        self, value: str, where: str | _Where, voucher: Voucher | None
    ) -> cp437.Transliterated:
        try:
            return _transliterate(value)
        except cp437.UnencodableError as exc:
            origin = voucher.origins[0] if voucher is not None and voucher.origins else None
            raise SieError(
                f"{where}: character {cp437.describe(exc.char)} in text {value!r} cannot be "
                "written in SIE (code page 437) and has no replacement",
                file=origin.file if origin else None,
                line=origin.line if origin else None,
                hint="change the text in the mapping or in the source.",
            ) from None


def _transliterate(value: str) -> cp437.Transliterated:
    """`value` cleaned and in CP437 (`cp437.UnencodableError` if it cannot be)."""
    if (
        value.isprintable()
        and "  " not in value
        and value.strip(" ") == value
        and (value.isascii() or _in_cp437(value))
    ):
        # Nothing to clean, nothing to replace: the common case. (Printable: no control
        # characters and no spaces but ' '; NFC and CP437 checked over the whole text.)
        return cp437.Transliterated(value)
    return cp437.transliterate(cp437.clean(value))


_TEXT_CACHE = 100_000
_EMPTY = _quote("")  # an empty field before a filled one


def _date(day: dt.date) -> str:
    text = _DATES.get(day)
    if text is None:
        text = day.strftime("%Y%m%d")
        if len(_DATES) < _TEXT_CACHE:
            _DATES[day] = text
    return text


# A run's vouchers fall on few days: each date is formatted once. (A datetime never equals
# a date, so the two cannot share an entry.)
_DATES: dict[dt.date, str] = {}


def _quantity(value: Decimal, v: Voucher) -> str:
    if not value.is_finite():
        raise SieError(f"{_Where(v)}: quantity {value} is not a number")
    return format(value, "f")


def _orgnr(value: str) -> str:
    if not se_orgnr.is_valid(value):
        raise SieError(
            f"organisation number {value!r} is not valid (format or check digit)",
            key="company.orgnr",
            hint="write the company's 10-digit organisationsnummer as NNNNNN-NNNN, e.g. "
            "556677-8899, or remove it.",
        )
    return se_orgnr.format(value)


class _Where:
    """`_describe(v)`, made only when a message or notice formats it: every voucher needs
    one for its possible messages, few ever use it."""

    __slots__ = ("voucher", "_text")

    def __init__(self, voucher: Voucher):
        self.voucher = voucher
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _describe(self.voucher)
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _describe(v: Voucher) -> str:
    """How a message names a voucher: date, text, number and the source rows' keys."""
    parts = [f"{v.series} {v.number}"] if v.number is not None else []
    if v.source_keys:
        more = ", ..." if len(v.source_keys) > 3 else ""
        parts.append("from " + ", ".join(v.source_keys[:3]) + more)
    extra = f" ({'; '.join(parts)})" if parts else ""
    return f"voucher {v.date.isoformat()} {v.text!r}{extra}"


def _fix_rule(v: Voucher) -> str:
    rule = f"rule {v.rule!r}" if v.rule else "the posting rule"
    return f"fix {rule} in the mapping so that debit equals credit for every voucher."


def _origins(v: Voucher) -> list[str]:
    return [f"  source row: {origin}" for origin in v.origins]
