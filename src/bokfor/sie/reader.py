"""Read SIE 4 files (4E and 4I) as real programs write them.

Tolerant where programs differ harmlessly (tabs or spaces, quoted or bare fields, CRLF, LF or
CR, unknown labels, a '"' inside a word, UTF-8 or Latin-1 instead of CP437 and YYYY-MM-DD
dates: the last two with a notice), strict where a guess could change the books: amounts,
dates, account numbers, balance of each voucher, and the #KSUMMA checksum.
Every error is a SieError naming the file and the 1-based line; `parse` raises nothing else,
whatever the bytes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from stdnum.se import orgnr

from bokfor.domain import Company, Dims, FiscalYear, Line, Notice, Origin, Voucher, make_dims
from bokfor.errors import SieError
from bokfor.fileio import open_regular, too_large
from bokfor.money import format_sie
from bokfor.sie.ksumma import BLOCK_CLOSE, BLOCK_OPEN, Field, Record, checksum
from bokfor.sie.model import Balance, SieDocument

# Amounts: digits with an optional '.' and decimals ("1000", "-47.2", ".50", "12.500000");
# decimals past the second must be zeros (the value has to be exact in öre).
_AMOUNT = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?")
_QUANTITY = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DASHED_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DIGITS = re.compile(r"[0-9]+")
_INT = re.compile(r"-?[0-9]+")
_LINE_END = re.compile(r"\r\n|\r|\n")
_WS = " \t"
# What each SIE type holds, for the message refusing it.
_OTHER_TYPES = {
    "1": "year-end balances",
    "2": "period balances",
    "3": "balances per object",
}

# Bytes of å ä ö Å Ä Ö in Latin-1 and in CP437: which set a file uses tells its encoding.
_LATIN1_SWEDISH = b"\xe5\xe4\xf6\xc5\xc4\xd6"
_CP437_SWEDISH = b"\x86\x84\x94\x8f\x8e\x99"
_C1 = re.compile(rb"[\x80-\x9f]")
_BOM = b"\xef\xbb\xbf"
_DEFAULT_HINT = (
    "this line does not follow the SIE 4 format; export the file again from the program "
    "that made it, or correct the line."
)


@dataclass
class SieReadResult:
    document: SieDocument
    notices: list[Notice] = field(default_factory=list)
    encoding: str = "cp437"  # "cp437", "utf-8", "latin-1" or "iso-8859-15"
    checksum: str = "absent"  # "absent" or "ok"
    removed_lines: int = 0  # #BTRANS rows (removed afterwards; not part of any voucher)


# Read whole and held as vouchers (~4x its size in memory): 256 MiB is some three million
# #TRANS lines, books far beyond a small business's, where 1 GiB of NUL bytes given as
# --books took 2 GB of memory and 13 s before it was found to be no SIE file.
MAX_SIE_BYTES = 256 * 1024 * 1024


def read(path: Path) -> SieReadResult:
    """Read and check the SIE file at `path`."""
    # Only a regular file: a FIFO given by mistake would block the read, a device never end.
    with open_regular(Path(path), "a SIE file", limit=MAX_SIE_BYTES, error=SieError) as fh:
        try:
            data = fh.read(MAX_SIE_BYTES + 1)
        except OSError as exc:
            raise SieError(
                f"cannot read the file: {exc.strerror or exc}",
                file=str(path),
                hint="check the path and that the file is readable.",
            ) from None
    if len(data) > MAX_SIE_BYTES:  # grew while it was read
        raise too_large(Path(path), "a SIE file", MAX_SIE_BYTES, SieError, None)
    return parse(data, str(path))


def parse(data: bytes, name: str) -> SieReadResult:
    """Parse SIE 4 bytes; `name` is used in messages."""
    text, encoding, notices = _decode(data, name)
    records = _records(text, name)
    markup = text.lstrip("\ufeff \t\r\n").startswith("<")  # no SIE file starts with '<'
    if markup or not records:
        raise _not_sie(markup, name)
    parser = _Parser(name, encoding, notices)
    parser.run(records)
    return parser.result()


def _not_sie(markup: bool, name: str) -> SieError:
    """The error for a file that is no SIE file at all."""
    if markup:
        message = (
            "the file is an HTML or XML document, not a SIE 4 file (SIE 5 files are XML; "
            "a saved web page is HTML)"
        )
    else:
        message = "the file holds no SIE records (lines starting with '#'): it is not a SIE file"
    return SieError(
        message,
        file=name,
        line=1,
        hint="export the bookkeeping as a SIE type 4 file (4E or 4I) and use that file.",
    )


# --- bytes -> text -----------------------------------------------------------------------


_NORDIC = re.compile("[åäöÅÄÖæøÆØéÉüÜ]")


def _decode(data: bytes, name: str) -> tuple[str, str, list[Notice]]:
    """CP437 unless the bytes clearly are UTF-8 or Latin-1 (which some programs write)."""
    notices: list[Notice] = []
    bom = data.startswith(_BOM)
    if bom:
        data = data[len(_BOM) :]
    if bom or not data.isascii():
        text: str | None = None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            # A CP437 file can be valid UTF-8 by chance ('╤₧' is 'ў'): UTF-8 only when a
            # BOM says so or the text then holds the Nordic letters an accounting file has.
            if not bom and not _NORDIC.search(text):
                text = None
        if text is not None:
            notices.append(
                Notice("file is UTF-8, not CP437 as SIE requires; read as UTF-8", file=name)
            )
            return text, "utf-8", notices
    latin1 = sum(data.count(b) for b in _LATIN1_SWEDISH)
    cp437 = sum(data.count(b) for b in _CP437_SWEDISH)
    # Bytes 0x80-0x9F are control codes in Latin-1, so real Latin-1 text never has them,
    # while CP437 keeps most accented letters there: one such byte settles it for CP437
    # (a CP437 text with box-drawing '─' or 'σ' would otherwise count as Latin-1 'Ä', 'å').
    if latin1 > cp437 and not _C1.search(data):
        # ISO-8859-15 differs from ISO-8859-1 in eight bytes, none a Swedish letter; the
        # one a bookkeeping file would hold is A4: '€' there, '¤' in ISO-8859-1.
        if b"\xa4" in data:
            notices.append(
                Notice(
                    "file is ISO-8859-15 (byte A4 is €), not CP437 as SIE "
                    "requires; read as ISO-8859-15",
                    file=name,
                )
            )
            return data.decode("iso-8859-15"), "iso-8859-15", notices
        notices.append(
            Notice(
                "file is Latin-1 (ISO-8859-1 or -15, the same for its letters), "
                "not CP437 as SIE requires; read as Latin-1",
                file=name,
            )
        )
        return data.decode("latin-1"), "latin-1", notices
    return data.decode("cp437"), "cp437", notices


# --- text -> records ---------------------------------------------------------------------


def _records(text: str, name: str) -> list[Record]:
    """One Record per label line or brace line; blank lines and stray text are skipped.

    Lines end in LF, CRLF or a lone CR (old Mac programs); a Ctrl-Z (0x1A, the end-of-file
    mark old DOS programs append) at the end of a line is dropped."""
    records: list[Record] = []
    for number, raw in enumerate(_LINE_END.split(text), start=1):
        line = raw.rstrip("\x1a").strip(_WS)
        if not line:
            continue
        if line[0] in (BLOCK_OPEN, BLOCK_CLOSE) and not line[1:].strip(_WS):
            records.append(Record(line[0], (), number))
        elif line[0] == "#":
            label, rest = _split_label(line)
            records.append(Record(label, tuple(_fields(rest, name, number)), number))
    return records


def _split_label(line: str) -> tuple[str, str]:
    end = 0
    while end < len(line) and line[end] not in _WS:
        end += 1
    return line[:end], line[end:]


def _fields(text: str, name: str, number: int) -> list[Field]:
    """Split the rest of a record into fields: bare words, "quoted text" (with \\" for a
    quote) and {object lists}."""
    fields: list[Field] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WS:
            i += 1
        elif ch == '"':
            value, i = _quoted(text, i)
            fields.append(value)
        elif ch == "{":
            items, i = _object_list(text, i + 1, name, number)
            fields.append(items)
        else:
            start = i
            while i < n and text[i] not in _WS:
                i += 1
            fields.append(text[start:i])
    return fields


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The field starting with the quote at `i`; an unclosed quote runs to the line end.

    A quote closes the field only where a field can end: before a space, a tab, a '}' or
    the line end. Any other quote is part of the text: some programs write a bare '"' for
    a letter they cannot encode ("F"rskott" for "Förskott")."""
    out: list[str] = []
    i += 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and text.startswith('"', i + 1):
            out.append('"')
            i += 2
        elif ch == '"' and (i + 1 == n or text[i + 1] in _WS or text[i + 1] == "}"):
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


def _object_list(text: str, i: int, name: str, number: int) -> tuple[tuple[str, ...], int]:
    items: list[str] = []
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _WS:
            i += 1
        elif ch == "}":
            return tuple(items), i + 1
        elif ch == '"':
            value, i = _quoted(text, i)
            items.append(value)
        else:
            start = i
            while i < n and text[i] not in _WS and text[i] != "}":
                i += 1
            items.append(text[start:i])
    raise SieError(
        "object list has no closing '}'",
        file=name,
        line=number,
        hint='write the object list as {dimension "object" ...} on one line, e.g. {1 "100"}.',
    )


# --- records -> document -----------------------------------------------------------------


@dataclass
class _OpenVoucher:
    record: Record
    series: str
    number: int | None
    date: dt.date
    text: str
    reg_date: dt.date | None
    lines: list[Line] = field(default_factory=list)
    block_opened: bool = False


# What identifies the #TRANS that repeats an #RTRANS: account, objects and amount. Programs
# differ in the copy's other fields (BL Administration gives it the voucher date and no
# sign), so only these are compared.
_RowKey = tuple[str, Dims, int]


class _Parser:
    """Walks the records once, building the document and checking as it goes."""

    def __init__(self, name: str, encoding: str, notices: list[Notice]) -> None:
        self.name = name
        self.encoding = encoding
        self.notices = notices
        self.vouchers: list[Voucher] = []
        self.doc = SieDocument(company=Company(name=""), vouchers=self.vouchers)
        self.company_name: str | None = None
        self.orgnr: str | None = None
        self.currency = "SEK"
        self.has_balances = False
        self.removed = 0
        self.checksum_state = "absent"
        self.voucher: _OpenVoucher | None = None
        self.rtrans: _RowKey | None = None  # the #RTRANS just read; its #TRANS copy is next
        self.dashed_dates = False  # a YYYY-MM-DD date was read (and reported once)

    # helpers

    def error(self, message: str, line: int, hint: str | None = None) -> SieError:
        return SieError(message, file=self.name, line=line, hint=hint or _DEFAULT_HINT)

    def notice(self, message: str, line: int) -> None:
        self.notices.append(Notice(message, file=self.name, line=line))

    def field(self, record: Record, index: int, what: str, required: bool = True) -> str:
        if index < len(record.fields):
            value = record.fields[index]
            if isinstance(value, tuple):
                raise self.error(
                    f"{record.label}: {what} is an object list {{...}}, expected a value",
                    record.line,
                    hint=f"check the field order of {record.label} in the SIE specification.",
                )
            return value
        if required:
            raise self.error(
                f"{record.label} has no {what}",
                record.line,
                hint=f"add the {what} to the {record.label} line.",
            )
        return ""

    def date(self, record: Record, index: int, what: str, required: bool = True) -> dt.date | None:
        value = self.field(record, index, what, required)
        if not value:
            if required:
                raise self.error(
                    f"{record.label}: {what} is empty",
                    record.line,
                    hint="SIE dates are written YYYYMMDD, e.g. 20250131.",
                )
            return None
        match = _DATE.fullmatch(value) or _DASHED_DATE.fullmatch(value)
        if match:
            year, month, day = (int(part) for part in match.groups())
            try:
                date = dt.date(year, month, day)
            except ValueError:
                pass
            else:
                if "-" in value and not self.dashed_dates:
                    self.dashed_dates = True
                    self.notice(
                        f"dates are written YYYY-MM-DD ({value}), not YYYYMMDD as SIE "
                        "requires; read as dates",
                        record.line,
                    )
                return date
        raise self.error(
            f"{record.label}: {what} {value!r} is not a valid date",
            record.line,
            hint="SIE dates are written YYYYMMDD, e.g. 20250131.",
        )

    def amount(self, record: Record, index: int, what: str = "amount") -> int:
        value = self.field(record, index, what)
        match = _AMOUNT.fullmatch(value)
        if match:
            sign, whole, frac = match.groups()
            frac = frac or ""
            if (whole or frac) and not frac[2:].strip("0"):
                ore = int(whole or "0") * 100 + int((frac + "00")[:2])
                return -ore if sign else ore
        if re.fullmatch(r"-?[0-9]+,[0-9]+", value):
            raise self.error(
                f"{record.label}: amount {value!r} has a comma as decimal mark",
                record.line,
                hint="SIE amounts use '.' as decimal mark (1220.50); correct the exporting "
                "program's settings or the file.",
            )
        raise self.error(
            f"{record.label}: {what} {value!r} is not a SIE amount",
            record.line,
            hint="SIE amounts are digits with '.' and whole öre (decimals past the second "
            "must be 0), a leading '-' for credit and no '+' or spaces, e.g. -1220.50.",
        )

    def account(self, record: Record, index: int) -> str:
        value = self.field(record, index, "account number")
        if not _DIGITS.fullmatch(value):
            raise self.error(
                f"{record.label}: account {value!r} is not a number",
                record.line,
                hint="SIE account numbers are digits only (BAS accounts such as 1930).",
            )
        return value

    def integer(self, record: Record, index: int, what: str) -> int:
        value = self.field(record, index, what)
        if not _INT.fullmatch(value):
            raise self.error(
                f"{record.label}: {what} {value!r} is not a whole number",
                record.line,
            )
        return int(value)

    # walk

    def run(self, records: list[Record]) -> None:
        self.check_type(records)
        opening: Record | None = None
        covered: list[Record] = []
        closed = False
        for record in records:
            label = record.label.upper()
            if closed:
                raise self.error(
                    f"{record.label} after the closing #KSUMMA is not covered by the checksum",
                    record.line,
                    hint="the file was changed after it was written; export it again.",
                )
            if label == "#KSUMMA":
                if not record.fields and opening is None:
                    opening = record
                    continue
                if record.fields and opening is not None:
                    self.verify_checksum(record, covered)
                    closed = True
                    continue
                if record.fields:
                    self.notice(
                        "closing #KSUMMA without an opening #KSUMMA; checksum not checked",
                        record.line,
                    )
                    continue
            if opening is not None:
                covered.append(record)
            self.handle(label, record)
        if opening is not None and not closed:
            raise self.error(
                f"the file opens a checksum (#KSUMMA) but has no closing #KSUMMA line; "
                f"it is truncated (ends at line {records[-1].line})",
                opening.line,
                hint="export or copy the file again; a checksummed file ends with "
                "'#KSUMMA <number>'.",
            )
        if self.voucher is not None:
            raise self.error(
                f"#VER at line {self.voucher.record.line} is not closed with '}}'",
                self.voucher.record.line,
                hint="the file is truncated or a '}' line is missing.",
            )

    def check_type(self, records: list[Record]) -> None:
        """Refuse anything but type 4 before reading a line of it (types 1-3 hold balances
        only; their other records need not follow the type 4 rules)."""
        hint = "export the file as SIE type 4 (4E or 4I) from the program that made it."
        for record in records:
            if record.label.upper() == "#SIETYP":
                value = self.field(record, 0, "type")
                if value == "4":
                    return
                kind = _OTHER_TYPES.get(value)
                what = (
                    f"a SIE type {value} file ({kind}, no vouchers)"
                    if kind
                    else (f"SIE type {value!r}")
                )
                raise self.error(f"{what}: only SIE type 4 is supported", record.line, hint)
        raise self.error(
            "no #SIETYP line (a SIE file without one is type 1, year-end balances only): "
            "only SIE type 4 is supported",
            records[0].line,
            hint,
        )

    def verify_checksum(self, record: Record, covered: list[Record]) -> None:
        stated = self.field(record, 0, "checksum")
        computed = checksum(covered, self.encoding)
        if not _DIGITS.fullmatch(stated) or int(stated) != computed:
            read_as = "" if self.encoding == "cp437" else f" (read as {self.encoding.upper()})"
            raise self.error(
                f"#KSUMMA checksum mismatch: the file states {stated}, its contents{read_as} "
                f"give {computed}; the file was changed or damaged after it was written",
                record.line,
                hint="export the file again from the program that made it.",
            )
        self.checksum_state = "ok"

    def handle(self, label: str, record: Record) -> None:
        if label in ("#TRANS", "#RTRANS", "#BTRANS"):
            self.row(label, record)
            return
        self.rtrans = None
        if label == BLOCK_OPEN:
            if self.voucher is None or self.voucher.block_opened:
                raise self.error("'{' without a #VER before it", record.line)
            self.voucher.block_opened = True
            return
        if label == BLOCK_CLOSE:
            if self.voucher is None or not self.voucher.block_opened:
                raise self.error("'}' without an open voucher block", record.line)
            self.close_voucher()
            return
        handler = _HANDLERS.get(label)
        if self.voucher is not None and (handler is not None or not self.voucher.block_opened):
            v = self.voucher.record.line
            expected = "'}'" if self.voucher.block_opened else "'{'"
            raise self.error(
                f"{record.label} where {expected} was expected (voucher #VER of line {v})",
                record.line,
                hint="each #VER is followed by a '{' line, its #TRANS rows and a '}' line.",
            )
        if handler is not None:
            handler(self, record)

    # header records

    def on_flagga(self, record: Record) -> None:
        self.doc.flag = self.integer(record, 0, "flag")

    def on_program(self, record: Record) -> None:
        self.doc.program = (
            self.field(record, 0, "program name", False),
            self.field(record, 1, "version", False),
        )

    def on_gen(self, record: Record) -> None:
        self.doc.generated = self.date(record, 0, "date")

    def on_fnamn(self, record: Record) -> None:
        # One field by the spec; a name written without quotes arrives as several words.
        self.company_name = " ".join(f for f in record.fields if isinstance(f, str) and f)

    def on_orgnr(self, record: Record) -> None:
        value = self.field(record, 0, "organisation number", False).strip()
        self.orgnr = orgnr.format(value) if orgnr.is_valid(value) else (value or None)

    def on_valuta(self, record: Record) -> None:
        self.currency = self.field(record, 0, "currency")

    def on_kptyp(self, record: Record) -> None:
        self.doc.kptyp = self.field(record, 0, "chart type", False) or None

    def on_rar(self, record: Record) -> None:
        index = self.integer(record, 0, "year index")
        if not self.field(record, 1, "start date", False) and not self.field(
            record, 2, "end date", False
        ):
            # BL Administration writes "#RAR 0" without dates into 4I files.
            self.notice(f"#RAR {index} gives no dates; that fiscal year is left out", record.line)
            return
        start = self.date(record, 1, "start date")
        end = self.date(record, 2, "end date")
        assert start is not None and end is not None
        self.doc.fiscal_years.append(FiscalYear(start, end, index))

    def on_konto(self, record: Record) -> None:
        self.doc.accounts[self.account(record, 0)] = self.field(record, 1, "account name", False)

    def on_dim(self, record: Record) -> None:
        self.doc.dimensions[self.integer(record, 0, "dimension number")] = self.field(
            record, 1, "dimension name", False
        )

    def on_objekt(self, record: Record) -> None:
        dim = self.integer(record, 0, "dimension number")
        obj = self.field(record, 1, "object id")
        self.doc.objects[(dim, obj)] = self.field(record, 2, "object name", False)

    def on_balance(self, record: Record) -> None:
        self.has_balances = True
        self.doc.balances.append(
            Balance(
                kind=record.label.upper()[1:],
                year_index=self.integer(record, 0, "year index"),
                account=self.account(record, 1),
                amount=self.amount(record, 2, "balance"),
            )
        )

    # vouchers

    def on_ver(self, record: Record) -> None:
        number = self.field(record, 1, "voucher number", False)
        if number and not _DIGITS.fullmatch(number):
            raise self.error(
                f"#VER: voucher number {number!r} is not a number",
                record.line,
                hint='write the number as digits, or "" to let the receiving program number it.',
            )
        date = self.date(record, 2, "voucher date")
        assert date is not None
        self.voucher = _OpenVoucher(
            record=record,
            series=self.field(record, 0, "series", False),
            number=int(number) if number else None,
            date=date,
            text=self.field(record, 3, "text", False),
            reg_date=self.date(record, 4, "registration date", False),
        )

    def row(self, label: str, record: Record) -> None:
        if self.voucher is None or not self.voucher.block_opened:
            raise self.error(
                f"{record.label} outside a voucher block",
                record.line,
                hint="rows belong between the '{' and '}' lines that follow a #VER.",
            )
        line = self.make_line(record)
        key = (line.account, line.dims, line.amount)
        pending, self.rtrans = self.rtrans, None
        if label == "#TRANS" and pending == key:
            return  # the copy of the #RTRANS before it, for programs that ignore #RTRANS
        if label == "#BTRANS":
            self.removed += 1
            return
        if label == "#RTRANS":
            self.rtrans = key
        self.voucher.lines.append(line)

    def make_line(self, record: Record) -> Line:
        account = self.account(record, 0)
        objects = record.fields[1] if len(record.fields) > 1 else None
        if not isinstance(objects, tuple):
            raise self.error(
                f"{record.label}: expected an object list {{...}} after the account",
                record.line,
                hint="write {} when the row has no objects: #TRANS 1930 {} 100.00",
            )
        if len(objects) % 2:
            raise self.error(
                f"{record.label}: object list {{{' '.join(objects)}}} is not pairs of "
                "dimension and object",
                record.line,
                hint='write each object as its dimension number and id: {1 "100" 6 "P1"}.',
            )
        dims: dict[int, str] = {}
        for dim, obj in zip(objects[::2], objects[1::2], strict=True):
            if not _DIGITS.fullmatch(dim):
                raise self.error(
                    f"{record.label}: dimension {dim!r} in the object list is not a number",
                    record.line,
                )
            dims[int(dim)] = obj
        quantity = self.field(record, 5, "quantity", False)
        if quantity and not _QUANTITY.fullmatch(quantity):
            raise self.error(f"{record.label}: quantity {quantity!r} is not a number", record.line)
        return Line(
            account=account,
            amount=self.amount(record, 2),
            dims=make_dims(dims),
            text=self.field(record, 4, "text", False),
            quantity=Decimal(quantity) if quantity else None,
            date=self.date(record, 3, "transaction date", False),
        )

    def close_voucher(self) -> None:
        v = self.voucher
        assert v is not None
        self.voucher = None
        self.rtrans = None
        number = "" if v.number is None else f" {v.number}"
        name = f"verifikation {v.series or '(no series)'}{number} of {v.date.isoformat()}"
        total = sum(line.amount for line in v.lines)
        if total:
            raise self.error(
                f"{name} does not balance: its rows sum to {format_sie(total)} kr, not 0",
                v.record.line,
                hint="correct the rows in the program that wrote the file so that debit "
                "equals credit, and export again.",
            )
        if not v.lines:
            self.notice(f"{name} has no rows", v.record.line)
        self.vouchers.append(
            Voucher(
                series=v.series,
                date=v.date,
                text=v.text,
                lines=tuple(v.lines),
                number=v.number,
                reg_date=v.reg_date,
                origins=(Origin(self.name, v.record.line),),
            )
        )

    def result(self) -> SieReadResult:
        if self.company_name is None:
            self.notices.append(Notice("no #FNAMN (company name) in the file", file=self.name))
        elif not self.company_name:
            self.notices.append(Notice("the company name (#FNAMN) is empty", file=self.name))
        self.doc.company = Company(
            name=self.company_name or "", orgnr=self.orgnr, currency=self.currency
        )
        self.doc.sie_type = "4E" if self.has_balances else "4I"
        return SieReadResult(
            document=self.doc,
            notices=self.notices,
            encoding=self.encoding,
            checksum=self.checksum_state,
            removed_lines=self.removed,
        )


# The records the reader uses, by label; every other label is skipped (SIE §7: readers
# ignore what they do not know). #SIETYP is checked before the walk (`check_type`).
_HANDLERS: dict[str, Callable[[_Parser, Record], None]] = {
    "#FLAGGA": _Parser.on_flagga,
    "#PROGRAM": _Parser.on_program,
    "#GEN": _Parser.on_gen,
    "#FNAMN": _Parser.on_fnamn,
    "#ORGNR": _Parser.on_orgnr,
    "#VALUTA": _Parser.on_valuta,
    "#KPTYP": _Parser.on_kptyp,
    "#RAR": _Parser.on_rar,
    "#KONTO": _Parser.on_konto,
    "#DIM": _Parser.on_dim,
    "#UNDERDIM": _Parser.on_dim,
    "#OBJEKT": _Parser.on_objekt,
    "#IB": _Parser.on_balance,
    "#UB": _Parser.on_balance,
    "#RES": _Parser.on_balance,
    "#VER": _Parser.on_ver,
}
