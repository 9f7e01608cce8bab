"""SWIFT MT940 customer statements (`.sta`, `.mt940`, `.txt`), as SEB, Handelsbanken,
Nordea and Danske deliver them through file transfer or the corporate net bank.

A file holds one or more statements, each `:20:` reference, `:25:` account, `:28C:`
number, `:60F:`/`:60M:` opening balance, any number of `:61:` statement lines each
followed by an optional `:86:` free text, `:62F:`/`:62M:` closing balance and optional
`:64:`/`:65:` available balances. Bank delivery may wrap each message in SWIFT blocks
(`{1:...}{2:...}{4:` ... `-}`), which are blanked before parsing.

Parsing is the `mt-940` library's (5.1.1); this module adds what booking needs:
- amounts in öre, positive = money in. The mark decides the sign: C and RD (reversal of a
  debit, i.e. a credit entry) are money in, D and RC (reversal of a credit, a debit entry)
  money out; SWIFT defines RC as "Reversal of credit (debit entry)" and RD as "Reversal of
  debit (credit entry)". `Options(reversal_sign=True)` makes the library sign RC so.
- the line of each `:61:` (and of whatever tag the library chokes on) in the file, by
  hooking the library's per-tag step (`Transactions._process_match`): its match offsets
  are into the text it parses, whose dropped blank lines are mapped back here.
- the opening + Σ rows = closing check per statement, as a `Notice` when it fails.
- references from `:86:`. Nordic banks carry OCR numbers only in the free text, so a
  Swedish OCR reference is taken **only** from a token that directly follows an `OCR` or
  `REF` marker word (`OCR 4000123456785`, `OCR-NR: …`, `REF: …`) and passes the Luhn
  check of `bank.is_ocr`; a bare number elsewhere is never taken for one (an invoice
  number or a phone number passes Luhn one time in ten). An ISO 11649 reference
  (`RF18 5390 0754 7034`) is taken from anywhere in the text, because its mod-97 check
  makes a false match practically impossible.
- counterparty and its account only from structured `:86:` subfields (`?32`/`?33` name,
  `?31` account, German-style `NNN?00…`, parsed by the library), else empty.

Keys: the bank's own reference (`//` part of `:61:`) when present and not `NONREF`, via
`bank.keyed`; a reference repeated within one file gets `#2`, `#3`… on its later
occurrences, so the first keeps its key. Without one: `OccurrenceKeys` over the row's
content, counted in file order, which is chronological in MT940.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import mt940
from mt940 import models as mt940_models

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import format_sek
from bokfor.sources import OccurrenceKeys, bank

# The library logs every tag it cannot match at ERROR level, before raising; bokfor reports
# that as one InputError, so without a handler of its own the log records would reach
# Python's last-resort handler and print the regex dump to stderr.
logging.getLogger("mt940").addHandler(logging.NullHandler())

NAME = "mt940"
TITLE = "SWIFT MT940 bank statement"

_SNIFF_BYTES = 4096
_REDOWNLOAD = "download the statement again from the bank and give bokfor that file unchanged."
_OPTIONS = mt940.Options(
    reversal_sign=True,  # RC is a debit entry (SWIFT), not +
    case_insensitive_marks=True,
    merge_keeps_values=True,
    unbounded_details=True,  # banks write more than 6 x 65 characters of :86:
    applicant_iban=True,  # ?31 is the counterparty account, not part of the name
    strip_bom=True,
)
_TAG_LINE = re.compile(r"^:(?P<tag>\d\d[A-Z]?|NS):")
_DETECT_TAG = re.compile(r"^:(20|25|28C?|60[FM]|61):", re.MULTILINE)
_OCR_MARKED = re.compile(
    r"(?<![A-Z0-9])(?:OCR|REF)(?:[ .-]?(?:NR|NUMMER|NO))?[.:]?\s*(\d{2,25})(?![0-9])",
    re.IGNORECASE,
)
_RF_START = re.compile(r"(?<![A-Z0-9])RF\d\d", re.IGNORECASE)
_RF_BODY = re.compile(r"[0-9A-Za-z ]{0,30}")

# What each balance tag is called in messages.
_BALANCE_TAGS = {
    "final_opening_balance": ":60F:",
    "intermediate_opening_balance": ":60M:",
    "opening_balance": ":60:",
    "final_closing_balance": ":62F:",
    "intermediate_closing_balance": ":62M:",
    "closing_balance": ":62:",
}
_OPENING = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
_CLOSING = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")
_TAG_HINTS = {
    61: ("value date YYMMDD, optional entry date MMDD, mark C, D, RC or RD, amount with a "
         "decimal comma (1234,50) and a type code such as NTRF"),
    60: "mark C or D, date YYMMDD, currency and amount with a decimal comma (C260101SEK1234,50)",
    62: "mark C or D, date YYMMDD, currency and amount with a decimal comma (C260131SEK1234,50)",
    64: "mark C or D, date YYMMDD, currency and amount with a decimal comma",
    65: "mark C or D, date YYMMDD, currency and amount with a decimal comma",
    28: "the statement number, such as 1/1 or 00001/001",
}


class _Failure(Exception):
    """A tag the library could not read, with where it is (raised out of the hook)."""

    def __init__(self, line: int, tag: str, value: str, cause: BaseException) -> None:
        super().__init__(tag)
        self.line, self.tag, self.value, self.cause = line, tag, value, cause


class _NoTypeCode(Exception):
    """A :61: without its mandatory transaction type code."""


class _Statement(mt940_models.Transactions):
    """The library's statement, remembering the file line of every tag it processes.

    `lines[i]` is the line of the `:61:` of `transactions[i]`; `tag_lines` maps a
    statement-level tag id (`'25'`, `'62F'`) to its line."""

    def __init__(self, kept: list[int]) -> None:
        super().__init__(options=_OPTIONS)
        self.kept = kept  # file line of each line of the text the library parses
        self.lines: list[int] = []
        self.tag_lines: dict[str, int] = {}

    def _process_match(self, match: re.Match[str], i: int, valid_matches: list[re.Match[str]],
                       data: str) -> None:
        line = self.kept[min(data.count("\n", 0, match.start()), len(self.kept) - 1)]
        tag = match.group("full_tag")
        try:
            super()._process_match(match, i, valid_matches, data)
        except Exception as exc:  # the library raises RuntimeError, ValueError, Decimal errors
            end = valid_matches[i + 1].start() if i + 1 < len(valid_matches) else len(data)
            raise _Failure(line, tag, data[match.end():end].strip(), exc) from None
        self.tag_lines.setdefault(tag, line)
        if tag == "61":
            # SWIFT makes the type code mandatory, and the library would merge the next
            # :61: into one without it: refuse it here.
            if not self.transactions[-1].data.get("id"):
                raise _Failure(line, tag, "", _NoTypeCode())
            self.lines.append(line)


@dataclass
class _Block:
    """One statement's text and the file line of each of its lines."""

    lines: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)


class Mt940Source:
    """The `Source` for MT940 statements."""

    name = NAME
    title = TITLE
    section = bank.SECTION
    schema = bank.SCHEMA

    def detect(self, path: Path) -> bool:
        """True when the first few KiB hold `:20:`, `:25:` and a `:60F:`/`:61:` tag at the
        start of lines (after optional SWIFT block headers)."""
        try:
            with open(path, "rb") as f:
                head = f.read(_SNIFF_BYTES)
        except OSError:
            return False
        if not head or b"\x00" in head:
            return False
        text = head.decode("latin-1").replace("\r", "").removeprefix("\u00ef\u00bb\u00bf")
        text = re.sub(r"(?m)^\{1:[^\n]*?\{4:", "", text)
        found = {m.group(1)[:2] for m in _DETECT_TAG.finditer(text)}
        return {"20", "25"} <= found and bool(found & {"60", "61"})

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        """Yield one bank row per `:61:`, and a Notice per statement whose balances do not
        add up; raise InputError naming file, line and tag."""
        file = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror})", file=file) from None
        text, _ = bank.decode(data, file, hint=_REDOWNLOAD)
        blocks = _blocks(text, file)
        if not blocks:
            raise InputError("no MT940 statement in the file (no line starts with :20:)",
                             file=file, hint=_REDOWNLOAD)
        refs: Counter[str] = Counter()
        keys = (bank.IdlessKeys(), OccurrenceKeys("mt940"))  # and the keys of schema 3
        for block in blocks:
            yield from _statement_rows(block, file, refs, keys)


def _blocks(text: str, file: str) -> list[_Block]:
    """The statements of the file, split at each `:20:`; SWIFT block headers and the `-}`
    trailer are blanked (their line numbers kept) so that no tag swallows them."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped.startswith("{") and ("{4:" in stripped or stripped.startswith(("{1:", "{5:"))):
            line = ""
        elif stripped.startswith("-}") or stripped.startswith("}"):
            line = ""
        if line.startswith(":20:"):
            current = _Block()
            blocks.append(current)
        if current is None:
            if line.strip():
                raise InputError(
                    f"text before the first statement: {line.strip()[:40]!r}", file=file,
                    line=number, hint="an MT940 statement starts with a :20: line; " + _REDOWNLOAD)
            continue
        current.lines.append(line)
        current.numbers.append(number)
    return blocks


_Keys = tuple[bank.IdlessKeys, OccurrenceKeys]


def _statement_rows(block: _Block, file: str, refs: Counter[str],
                    keys: _Keys) -> Iterator[Row | Notice]:
    """Parse one statement with the library and turn its lines into bank rows."""
    kept = [n for n, line in zip(block.numbers, block.lines)
            if mt940_models.Transactions.strip([line])]
    statement = _Statement(kept or [block.numbers[0]])
    try:
        statement.parse("\n".join(block.lines))
    except _Failure as failure:
        raise _tag_error(failure, file) from None
    first, last = block.numbers[0], kept[-1] if kept else block.numbers[0]
    info = statement.data
    account = (info.get("account_identification") or "").strip()
    if not account:
        raise InputError("the statement has no account (:25: line)", file=file, line=first,
                         column=":25:",
                         hint="every MT940 statement names its account in a :25: line after "
                              "the :20: line; " + _REDOWNLOAD)
    opening = _balance(info, _OPENING)
    if opening is None:
        raise InputError("the statement has no opening balance (:60F: line)", file=file,
                         line=first, column=":60F:", hint=_REDOWNLOAD)
    closing = _balance(info, _CLOSING)
    if closing is None:
        raise InputError("the statement ends without a closing balance (:62F: line): the file "
                         "is cut off", file=file, line=last, column=":62F:", hint=_REDOWNLOAD)
    opening_tag, opening_balance = opening
    closing_tag, closing_balance = closing
    currency = statement.currency or ""
    reference = (info.get("transaction_reference") or "").strip()
    total = 0
    for transaction, line in zip(statement.transactions, statement.lines):
        row = _row(transaction.data, line, file, account, currency, refs, keys)
        total += row.amounts["amount"]
        yield row
    start = _ore(opening_balance.amount, file, statement.tag_lines.get(opening_tag[1:-1], first),
                 opening_tag)
    end = _ore(closing_balance.amount, file, statement.tag_lines.get(closing_tag[1:-1], last),
               closing_tag)
    if start + total != end:
        yield Notice(
            f"statement {reference or '(no :20: reference)'} does not add up: opening balance "
            f"{format_sek(start)} + its rows {format_sek(total)} = {format_sek(start + total)}, "
            f"but the closing balance ({closing_tag}) is {format_sek(end)}; a row may be "
            "missing from the file",
            file=file, line=statement.tag_lines.get(closing_tag[1:-1], last))


def _balance(info: dict[str, Any], names: tuple[str, ...]
             ) -> tuple[str, mt940_models.Balance] | None:
    for name in names:
        value = info.get(name)
        if isinstance(value, mt940_models.Balance) and isinstance(value.amount,
                                                                   mt940_models.Amount):
            return _BALANCE_TAGS[name], value
    return None


def _row(data: dict[str, Any], line: int, file: str, account: str, currency: str,
         refs: Counter[str], keys: _Keys) -> Row:
    amount = _ore(data["amount"], file, line, ":61:")
    value_date = _plain_date(data.get("date"))
    entry_date = _plain_date(data.get("entry_date"))
    date = entry_date or value_date
    mark = (data.get("status") or "").upper()
    code = (data.get("id") or "").strip().upper()
    customer_ref = _ref(data.get("customer_reference"))
    bank_ref = _ref(data.get("bank_reference"))
    text = _text(data)
    details = " ".join(text.split())
    counterparty = (data.get("applicant_name") or "").strip()
    counterparty_account = (data.get("applicant_iban") or "").strip()
    former: tuple[str, ...] = ()
    if bank_ref:
        # With the booking date: banks reuse references across days (a daily "BGINS"), and a
        # reference that repeats within a day is numbered in file order.
        ref = f"{date.isoformat()}:{bank_ref}"
        refs[ref] += 1
        n = refs[ref]
        key = bank.keyed(account, ref if n == 1 else f"{ref}#{n}")
    else:
        idless, legacy = keys
        key = idless.key(bank.account_id(account) or NAME, date, amount, details)
        former = (legacy.key(bank.account_id(account), date, value_date, amount, currency,
                             mark, code, customer_ref, details),)
    return bank.bank_row(
        format=NAME,
        key=key,
        date=date,
        amount=amount,
        origin=Origin(file, line),
        account=account,
        currency=currency,
        value_date=value_date,
        text=text,
        reference=creditor_reference(details),
        counterparty=counterparty,
        counterparty_account=counterparty_account,
        bank_reference=bank_ref or customer_ref,
        transaction_code=code,
        reversal=mark.startswith("R"),
        former=former,
    )


def _text(data: dict[str, Any]) -> str:
    """The `:86:` text (structured: posting text and purpose), else the `:61:` details."""
    raw = data.get("transaction_details")
    if raw is None:  # structured :86: (NNN?00...), split into subfields by the library
        parts = [data.get("posting_text"), data.get("purpose"),
                 data.get("additional_purpose")]
        raw = " ".join(p for p in parts if p)
    raw = " ".join(str(raw).split())
    return raw or " ".join(str(data.get("extra_details") or "").split())


def creditor_reference(text: str) -> str:
    """The OCR or RF reference in a `:86:` text, or "" (see the module docstring)."""
    for match in _OCR_MARKED.finditer(text):
        if bank.is_ocr(match.group(1)):
            return match.group(1)
    for match in _RF_START.finditer(text):
        body = _RF_BODY.match(text, match.end())
        tail = body.group(0) if body else ""
        # The longest candidate that ends at a word boundary and passes the mod-97 check.
        for end in range(len(tail), -1, -1):
            if end < len(tail) and tail[end] not in " ":
                continue
            candidate = (match.group(0) + tail[:end]).replace(" ", "").upper()
            if 5 <= len(candidate) <= 25 and bank.is_rf(candidate):
                return candidate
    return ""


def _ref(value: object) -> str:
    text = str(value or "").strip()
    return "" if text.upper() == "NONREF" else text


def _plain_date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    return None


def _ore(amount: mt940_models.Amount, file: str, line: int, tag: str) -> int:
    """The library's Decimal amount in öre; more than two decimals are refused."""
    cents = amount.amount * 100
    if cents != cents.to_integral_value():
        raise InputError(f"the amount {amount.amount} has more than 2 decimals", file=file,
                         line=line, column=tag, hint=_REDOWNLOAD)
    return int(cents)


def _tag_error(failure: _Failure, file: str) -> InputError:
    """The InputError for a tag the library could not read."""
    tag, cause = failure.tag, failure.cause
    column = f":{tag}:"
    shown = failure.value.split("\n")[0][:60]
    tag_id = int(tag[:2]) if tag[:2].isdigit() else 0
    expected = _TAG_HINTS.get(tag_id)
    hint = (f"a {column} line holds {expected}; " if expected else "") + _REDOWNLOAD
    if isinstance(cause, decimal.DecimalException):
        message = f"not an amount in the {column} line {shown!r}"
    elif isinstance(cause, _NoTypeCode):
        message = f"the {column} line has no transaction type code (such as NTRF)"
        hint = "a :61: line ends with a type code such as NTRF or NMSC; " + _REDOWNLOAD
    elif isinstance(cause, ValueError) and tag_id in (60, 61, 62, 64, 65):
        message = f"not a date in the {column} line {shown!r} ({cause})"
    else:
        message = f"cannot read the {column} line {shown!r}"
    return InputError(message, file=file, line=failure.line, column=column, hint=hint)


SOURCE = Mt940Source()
