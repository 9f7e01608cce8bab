"""BgMax (Bankgirot's "Bankgiro Inbetalningar" file): incoming bankgiro payments, per deposit.

A fixed-record file: 80-character records, ISO-8859-1, each starting with a two-digit
transaction code (TK). The layout (1-based positions, Bankgirot's technical manual):

    01 start        3–22 "BGMAX", 23–24 version 01, 25–44 written, 45 P production / T test
    05 opening      3–12 payee bankgiro, 13–22 payee plusgiro, 23–25 currency   (one deposit)
    20 payment      3–12 payer bankgiro, 13–37 reference, 38–55 amount (öre), 56 reference
    21 deduction       code, 57 payment channel, 58–69 BGC serial number, 70 image; 21: 71
                       deduction code. A deduction (credit note) reduces the deposit.
    22/23 extra ref  same layout as 20: more references of the payment above (23: credit notes)
    25 information  3–52 free text;  26 name 3–37 (+ 38–72);  27/28 address;  29 org number
    15 deposit      3–37 receiving bank account, 38–45 payment date, 46–50 deposit serial,
                       51–68 deposit amount, 69–71 currency, 72–79 number of payments
    70 end          3–10 / 11–18 / 19–26 / 27–34: counts of TK20, TK21, TK22+23 and TK15

Why the file is checked before any row leaves it: a BgMax file is a bank's statement of
money received, so a file that does not add up (a deposit amount that is not its payments,
end-record counts that do not match, no end record at all) is refused as a whole rather
than booked in part. A test file (`T` in the start record) is refused too: its payments
never happened.

Decoding: BgMax is ISO-8859-1 by specification, and every byte is a Latin-1 character, so
the file is decoded as Latin-1 and nothing else (not `bank.decode`, whose UTF-8 → cp1252 →
chardet chain would let a guess decide). What Latin-1 cannot tell apart is refused: a UTF-8
byte-order mark, and UTF-8 text ("PlÃ¥t" where "Plåt" should be) that an editor re-saved.

Records may come right-trimmed (trailing spaces cut by a transfer program): they are padded
back to 80. A TAB inside a record is refused, never expanded: where it stood for spaces the
fields after it would shift and be read wrongly.

Rows: one per TK20 (money in) and per TK21 (negative), dated by the TK15 payment date of its
deposit; `entry` names the deposit, so one deposit of many payers can be one voucher. The key
is `bgmax:<payee bankgiro>:<payment date>:<BGC serial number>`: the serial is Bankgirot's
number of the payment, but nothing published says it is unique across files, and Bankgirot's
own example file repeats one within a deposit. So the payment date is part of the key, and a
repeat within one file gets `#2`, `#3` in file order: a re-download is the same file, so the
same payment gets the same key again.

The reference code (position 56) decides what the payer's reference becomes:
    0/1  no reference (0 may still have TK22/23 records: then as for 3)
    2    an OCR number Bankgirot checked under the OCR agreement -> `reference`
    3    references in TK22/23 -> `text`; the first, when it is an OCR number, -> `reference`
    4    registered from a paper form -> `text`, and `reference` when it is an OCR/RF number
    5    failed the check -> `text` only, with a Notice
TK25 information texts follow in `text`; TK26 names are the `counterparty`. Addresses
(TK27/28) and the organisation number (TK29) are checked for their place in the file but not
carried: the bank row has no field for them, and in `text` they would only disturb rules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import format_sek
from bokfor.sources import bank

NAME = "bgmax"
TITLE = "BgMax bankgiro payments file (Bankgiro Inbetalningar)"
WIDTH = 80

_SNIFF_BYTES = 4096
_MAGIC = b"01BGMAX"
_REDOWNLOAD = "download the BgMax file again from the bank and give bokfor that file unopened."
_LATIN1_HINT = (
    "Bankgirot writes BgMax as ISO-8859-1 (Latin-1) text and an editor re-saved "
    "this one; " + _REDOWNLOAD
)
_RECORD_TYPES = "01, 05, 20, 21, 22, 23, 25, 26, 27, 28, 29, 15 and 70"

# Reference code (position 56), per Bankgirot's technical manual.
NO_REFERENCE = ("0", "1")  # 0: none (extra references may follow); 1: none, no agreement
OCR = "2"  # correct OCR number, checked under the payee's OCR agreement
SEVERAL = "3"  # one or more references, the correct ones in TK22/TK23 records
FORM = "4"  # reference registered from a paper form (extended form registration)
FAILED = "5"  # a reference that failed the check
_REFERENCE_CODES = frozenset("012345")

# Payment channel (position 57) -> transaction_code.
CHANNELS = {
    "1": "bgmax:1:bank",  # electronic payment from a bank (internet bank, app)
    "2": "bgmax:2:supplier-payments",  # Bankgirot's Leverantörsbetalningar (LB) file
    "3": "bgmax:3:paper-form",  # inbetalnings-/girokort on paper
    "4": "bgmax:4:autogiro",
}

_DIGITS = re.compile(r"[0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Latin-1 decoding of UTF-8 text: a lead byte Ã/Â followed by a continuation byte.
_UTF8_AS_LATIN1 = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class BgMaxSource:
    """The `Source` for BgMax files."""

    name = NAME
    title = TITLE
    section = bank.SECTION
    schema = bank.SCHEMA

    def detect(self, path: Path) -> bool:
        """True when the file starts with the BgMax start record (`01BGMAX`, layout name in
        positions 3–22). A UTF-8 BOM before it still counts, so that `read` can say what is
        wrong with the file instead of "no known format"."""
        try:
            with open(path, "rb") as f:
                head = f.read(_SNIFF_BYTES)
        except OSError:
            return False
        head = head.removeprefix(b"\xef\xbb\xbf")
        first = head.split(b"\n", 1)[0].rstrip(b"\r")
        return first.startswith(_MAGIC) and first[2:22].rstrip(b" ") == b"BGMAX"

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        """Rows and notices of the whole file, once every check has passed (`tz` is unused:
        BgMax has dates only)."""
        yield from _Parser(str(path)).parse(_records(Path(path)))


# -- text and records ------------------------------------------------------------------------


def _records(path: Path) -> list[tuple[int, str]]:
    """(line number, 80-character record) for every record of the file."""
    file = str(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError("not a file but a directory", file=file) from None
    except FileNotFoundError:
        raise InputError("no such file", file=file) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", file=file) from None
    if not data.strip():
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD)
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError(
            "the file starts with a UTF-8 byte-order mark: it is not the BgMax "
            "file Bankgirot wrote",
            file=file,
            line=1,
            hint=_LATIN1_HINT,
        )
    text = data.decode("latin-1")  # total: every byte is a Latin-1 character
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            "the file holds a NUL byte: it is not a BgMax text file",
            file=file,
            line=line,
            hint=_REDOWNLOAD,
        )
    bad = _UTF8_AS_LATIN1.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise InputError(
            _converted(data, text, bad.start()), file=file, line=line, hint=_LATIN1_HINT
        )
    lines = text.split("\n")
    while lines and not lines[-1].strip("\r \x1a"):  # trailing blank lines, a DOS Ctrl-Z
        lines.pop()
    if not lines:
        raise InputError("the file is empty", file=file, hint=_REDOWNLOAD)
    first = lines[0]
    if first[:2] != "01" or cut(first, 3, 22).rstrip() != "BGMAX":
        raise InputError(
            "not a BgMax file: the first record is not the start record (01BGMAX)",
            file=file,
            line=1,
            column="1-22",
            hint=_REDOWNLOAD,
        )
    out: list[tuple[int, str]] = []
    for number, record in enumerate(lines, 1):
        out.append((number, _record(record.removesuffix("\r"), file, number)))
    return out


# Code pages an ISO-8859-1 file is wrongly decoded with before being saved as UTF-8: the
# Swedish letters become other characters ("Plåt" read as Mac Roman is "PlÂt").
_WRONG_CODE_PAGES = (
    ("mac_roman", "Mac Roman"),
    ("cp437", "CP437 (PC8)"),
    ("cp850", "CP850"),
    ("cp1252", "Windows-1252"),
)
_NORDIC = frozenset("åäöÅÄÖéÉüÜæøÆØ")


def _converted(data: bytes, latin1: str, at: int) -> str:
    """What happened to a BgMax file that is UTF-8 text: saved as UTF-8 from the Latin-1 it
    was ("Café" where "Café" should be), or first decoded with a wrong code page and then
    saved ("PlÂt" where "Plåt" should be: read as Mac Roman). Names the word it shows."""
    line_start = latin1.rfind("\n", 0, at) + 1
    line_end = latin1.find("\n", at)
    raw = data[line_start : line_end if line_end >= 0 else len(data)]
    try:
        shown = raw.decode("utf-8")
    except UnicodeDecodeError:
        shown = raw.decode("latin-1")
    shown = shown[2:]  # after the record type
    word = next((w for w in shown.split() if not w.isascii()), shown.strip())
    for codec, name in _WRONG_CODE_PAGES:
        try:
            meant = word.encode(codec).decode("latin-1")
        except UnicodeError:
            continue
        if meant != word and all(c.isascii() or c in _NORDIC for c in meant):
            return (
                f"the text was decoded as {name} and saved as UTF-8 ({word!r} where "
                f"{meant!r} should be): the file was converted before it got here"
            )
    return (
        f"the text is UTF-8, not ISO-8859-1 ({word!r}): the file was converted before it got here"
    )


def _record(record: str, file: str, line: int) -> str:
    """One record checked and padded to 80 characters."""
    tab = record.find("\t")
    if tab >= 0:
        raise InputError(
            f"the fixed-width record is broken: a tab character at column {tab + 1}; nothing "
            "is booked from this file",
            file=file,
            line=line,
            column=str(tab + 1),
            hint="BgMax records are 80 characters padded with spaces, and a tab would shift "
            "every field after it; " + _REDOWNLOAD,
        )
    control = _CONTROL.search(record)
    if control:
        column = control.start() + 1
        raise InputError(
            f"record holds a control character (U+{ord(control.group()):04X}) at column {column}",
            file=file,
            line=line,
            column=str(column),
            hint=_REDOWNLOAD,
        )
    if len(record) > WIDTH:
        raise InputError(
            f"record is {len(record)} characters long; BgMax records are {WIDTH}",
            file=file,
            line=line,
            column=str(WIDTH + 1),
            hint="two records may have been joined, or text added; " + _REDOWNLOAD,
        )
    if not record.strip():
        raise InputError(
            "empty line where a BgMax record should be", file=file, line=line, hint=_REDOWNLOAD
        )
    return record.ljust(WIDTH)


def cut(record: str, first: int, last: int) -> str:
    """Positions first..last (1-based, inclusive) of a record."""
    return record[first - 1 : last]


def bankgiro(digits: str) -> str:
    """A bankgiro number as people write it: `0054026380` -> `5402-6380`, `0003783511` ->
    `378-3511`; empty for an all-zero field (a payer without a bankgiro number)."""
    number = digits.lstrip("0")
    if len(number) in (7, 8):
        return f"{number[:-4]}-{number[-4:]}"
    return number


# -- the parser ------------------------------------------------------------------------------


@dataclass
class _Payment:
    """A TK20/TK21 with the records that follow it."""

    line: int
    kind: str  # "20" or "21"
    payer: str
    reference: str  # positions 13–37, stripped
    amount: int  # öre, positive as written
    code: str
    channel: str
    serial: str
    extra: list[tuple[str, str]] = field(default_factory=list)  # (reference, code) of 22/23
    info: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


@dataclass
class _Deposit:
    line: int
    payee: str  # bankgiro as people write it
    currency: str
    payments: list[_Payment] = field(default_factory=list)


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.out: list[Row | Notice] = []
        self.counts: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()
        self.deposit: _Deposit | None = None
        self.payment: _Payment | None = None
        self.end_line: int | None = None

    def error(
        self, message: str, line: int, column: str | None = None, hint: str = _REDOWNLOAD
    ) -> InputError:
        return InputError(message, file=self.file, line=line, column=column, hint=hint)

    def parse(self, records: list[tuple[int, str]]) -> list[Row | Notice]:
        first_line, first = records[0]
        self.start(first_line, first)
        handlers = {
            "05": self.opening,
            "15": self.closing,
            "20": self.pay,
            "21": self.pay,
            "22": self.extra,
            "23": self.extra,
            "25": self.information,
            "26": self.name,
            "27": self.detail,
            "28": self.detail,
            "29": self.detail,
            "70": self.end,
            "01": self.second_start,
        }
        for line, record in records[1:]:
            if self.end_line is not None:
                raise self.error(
                    f"record after the end record (TK70) on line {self.end_line}",
                    line,
                    hint="the end record must be the "
                    "last, and two files may have been joined; " + _REDOWNLOAD,
                )
            tk = record[:2]
            handler = handlers.get(tk)
            if handler is None:
                raise self.error(
                    f"unknown record type {tk!r}",
                    line,
                    "1-2",
                    hint=f"BgMax has the record types {_RECORD_TYPES}; " + _REDOWNLOAD,
                )
            self.counts[tk] += 1
            handler(line, record)
        if self.end_line is None:
            last = records[-1][0]
            raise InputError(
                f"the file ends after line {last} without the end record (TK70): it is cut short",
                file=self.file,
                hint=_REDOWNLOAD,
            )
        return self.out

    # -- envelope ---------------------------------------------------------------------------

    def start(self, line: int, record: str) -> None:
        """The start record (its "01BGMAX" is checked by `_records`)."""
        version = cut(record, 23, 24)
        if version != "01":
            raise self.error(
                f"BgMax version {version!r} is not one bokfor reads (only 01)", line, "23-24"
            )
        mark = cut(record, 45, 45)
        if mark == "T":
            raise self.error(
                "this is a BgMax test file (test mark 'T' in the start record): its payments "
                "never happened and must not be booked",
                line,
                "45",
                hint="book the production file (test mark 'P') the bank delivers.",
            )
        if mark != "P":
            raise self.error(
                f"the start record's test mark is {mark!r}, neither P (production) nor T (test)",
                line,
                "45",
            )

    def second_start(self, line: int, record: str) -> None:
        raise self.error(
            "a second start record (TK01): two BgMax files were joined into one",
            line,
            "1-2",
            hint="give bokfor each BgMax file on its own.",
        )

    def end(self, line: int, record: str) -> None:
        if self.deposit is not None:
            raise self.error(
                f"the end record (TK70) comes before the deposit opened on line "
                f"{self.deposit.line} has its deposit record (TK15)",
                line,
                "1-2",
            )
        self.end_line = line
        have = {
            "20": self.counts["20"],
            "21": self.counts["21"],
            "22": self.counts["22"] + self.counts["23"],
            "15": self.counts["15"],
        }
        for (first, last), tk, what in (
            ((3, 10), "20", "payment records (TK20)"),
            ((11, 18), "21", "deduction records (TK21)"),
            ((19, 26), "22", "extra reference records (TK22/23)"),
            ((27, 34), "15", "deposit records (TK15)"),
        ):
            count = self.number(record, first, last, line, f"the count of {what}")
            if count != have[tk]:
                raise self.error(
                    f"the end record counts {count} {what} but the file has {have[tk]}",
                    line,
                    f"{first}-{last}",
                    hint="the file is incomplete or was edited; " + _REDOWNLOAD,
                )

    # -- deposits ---------------------------------------------------------------------------

    def opening(self, line: int, record: str) -> None:
        if self.deposit is not None:
            raise self.error(
                f"a new deposit (TK05) starts before the deposit opened on line "
                f"{self.deposit.line} has its deposit record (TK15)",
                line,
                "1-2",
            )
        payee = bankgiro(self.digits(record, 3, 12, line, "the payee bankgiro number"))
        if not payee:
            raise self.error("the opening record (TK05) has no payee bankgiro number", line, "3-12")
        currency = cut(record, 23, 25)
        if currency.strip() and not _CURRENCY.fullmatch(currency):
            raise self.error(f"the currency {currency!r} is not a three-letter code", line, "23-25")
        self.deposit = _Deposit(line, payee, currency.strip())
        self.payment = None

    def closing(self, line: int, record: str) -> None:
        deposit = self.deposit
        if deposit is None:
            raise self.error(
                "deposit record (TK15) without an opening record (TK05) before it", line, "1-2"
            )
        text = cut(record, 38, 45)
        try:
            if not _DIGITS.fullmatch(text):
                raise ValueError(text)
            date = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise self.error(
                f"the payment date {text!r} is not a date (YYYYMMDD)", line, "38-45"
            ) from None
        serial = self.digits(record, 46, 50, line, "the deposit serial number")
        amount = self.number(record, 51, 68, line, "the deposit amount")
        currency = cut(record, 69, 71)
        if not _CURRENCY.fullmatch(currency):
            raise self.error(f"the currency {currency!r} is not a three-letter code", line, "69-71")
        if deposit.currency and deposit.currency != currency:
            raise self.error(
                f"the deposit's currency {currency} differs from {deposit.currency} "
                f"in its opening record (line {deposit.line})",
                line,
                "69-71",
            )
        count = self.number(record, 72, 79, line, "the number of payments")
        payments = deposit.payments
        if count != len(payments):
            raise self.error(
                f"the deposit record counts {count} payments but the deposit has "
                f"{len(payments)} (TK20 and TK21 records)",
                line,
                "72-79",
                hint="the file is incomplete or was edited; " + _REDOWNLOAD,
            )
        paid = sum(p.amount for p in payments if p.kind == "20")
        deducted = sum(p.amount for p in payments if p.kind == "21")
        if amount != paid - deducted:
            raise self.error(
                f"the deposit amount {format_sek(amount)} is not the sum of its payments: "
                f"Σ TK20 − Σ TK21 = {format_sek(paid)} − {format_sek(deducted)} = "
                f"{format_sek(paid - deducted)}",
                line,
                "51-68",
                hint="the file is incomplete or was edited; " + _REDOWNLOAD,
            )
        entry = f"bgmax:{bank.account_id(deposit.payee)}:{date.isoformat()}:{serial}"
        for payment in payments:
            self.out.extend(self.row(deposit, payment, date, currency, entry))
        self.deposit = None
        self.payment = None

    # -- payments ---------------------------------------------------------------------------

    def pay(self, line: int, record: str) -> None:
        tk = record[:2]
        deposit = self.deposit
        if deposit is None:
            what = "payment" if tk == "20" else "deduction"
            raise self.error(
                f"{what} record (TK{tk}) outside a deposit: no opening record (TK05) before it",
                line,
                "1-2",
            )
        payment = self.reference_record(line, record)
        deposit.payments.append(payment)
        self.payment = payment

    def reference_record(self, line: int, record: str) -> _Payment:
        """A TK20/21/22/23: the fields they share."""
        payer = bankgiro(self.digits(record, 3, 12, line, "the payer bankgiro number"))
        amount = self.number(record, 38, 55, line, "the amount")
        code = cut(record, 56, 56)
        if code not in _REFERENCE_CODES:
            raise self.error(
                f"unknown reference code {code!r} (Bankgirot's codes are 0–5)", line, "56"
            )
        channel = cut(record, 57, 57)
        if not _DIGITS.fullmatch(channel):
            raise self.error(f"the payment channel {channel!r} is not a digit", line, "57")
        serial = self.digits(record, 58, 69, line, "the BGC serial number")
        return _Payment(
            line, record[:2], payer, cut(record, 13, 37).strip(), amount, code, channel, serial
        )

    def current(self, line: int, record: str, what: str) -> _Payment:
        if self.payment is None:
            raise self.error(
                f"{what} (TK{record[:2]}) without a payment record (TK20/TK21) "
                "before it in the deposit",
                line,
                "1-2",
            )
        return self.payment

    def extra(self, line: int, record: str) -> None:
        payment = self.current(line, record, "extra reference record")
        extra = self.reference_record(line, record)
        if extra.reference:
            payment.extra.append((extra.reference, extra.code))

    def information(self, line: int, record: str) -> None:
        self.current(line, record, "information record").info.append(cut(record, 3, 52))

    def name(self, line: int, record: str) -> None:
        payment = self.current(line, record, "name record")
        payment.names += [cut(record, 3, 37), cut(record, 38, 72)]

    def detail(self, line: int, record: str) -> None:
        """TK27/28 (address) and TK29 (organisation number): the payer's details, which the
        bank row has no field for; an address in `text` would only disturb the rules."""
        what = "organisation number record" if record[:2] == "29" else "address record"
        self.current(line, record, what)

    # -- rows -------------------------------------------------------------------------------

    def row(
        self, deposit: _Deposit, p: _Payment, date: dt.date, currency: str, entry: str
    ) -> list[Row | Notice]:
        notices: list[Row | Notice] = []
        reference = ""
        texts: list[str] = []
        if p.code == OCR:
            reference = p.reference
            if reference and not bank.is_ocr(reference):
                notices.append(
                    Notice(
                        f"reference {reference!r} is marked as a checked OCR number (reference "
                        "code 2) but its check digit does not match; it is kept as the reference",
                        file=self.file,
                        line=p.line,
                    )
                )
        elif p.code == FAILED:
            if p.reference:
                texts.append(p.reference)
                notices.append(
                    Notice(
                        f"the payment's reference {p.reference!r} failed Bankgirot's check "
                        "(reference code 5): it is kept in the text, not as a reference",
                        file=self.file,
                        line=p.line,
                    )
                )
        elif p.code == FORM:
            texts.append(p.reference)
            if bank.is_ocr(p.reference) or bank.is_rf(p.reference):
                reference = p.reference
        elif p.code == SEVERAL and not p.extra:
            texts.append(p.reference)
        if p.extra:
            texts.extend(ref for ref, _ in p.extra)
            first, code = p.extra[0]
            if not reference and code != FAILED and bank.is_ocr(first):
                reference = first
        texts.extend(p.info)
        payee = bank.account_id(deposit.payee)
        base = f"bgmax:{payee}:{date.isoformat()}:{p.serial}"
        self.keys[base] += 1
        key = base if self.keys[base] == 1 else f"{base}#{self.keys[base]}"
        row = bank.bank_row(
            format=NAME,
            key=key,
            date=date,
            amount=p.amount if p.kind == "20" else -p.amount,
            origin=Origin(self.file, p.line),
            account=deposit.payee,
            currency=currency,
            text=" ".join(texts),
            reference=reference,
            counterparty=" ".join(p.names),
            counterparty_account=p.payer,
            bank_reference=p.serial,
            transaction_code=CHANNELS.get(p.channel, f"bgmax:{p.channel}"),
            entry=entry,
        )
        return [*notices, row]

    # -- fields -----------------------------------------------------------------------------

    def digits(self, record: str, first: int, last: int, line: int, what: str) -> str:
        text = cut(record, first, last)
        if not _DIGITS.fullmatch(text):
            raise self.error(
                f"{what} {text!r} is not a number (digits, zero-padded)", line, f"{first}-{last}"
            )
        return text

    def number(self, record: str, first: int, last: int, line: int, what: str) -> int:
        return int(self.digits(record, first, last, line, what))


SOURCE = BgMaxSource()
