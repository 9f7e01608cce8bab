"""SWIFT MT940 customer statements (`.sta`, `.mt940`, `.txt`), as SEB, Handelsbanken,
Nordea and Danske deliver them through file transfer or the corporate net bank.

A file holds one or more statements, each `:20:` reference, `:25:` account, `:28C:`
number, `:60F:`/`:60M:` opening balance, any number of `:61:` statement lines each
followed by an optional `:86:` free text, `:62F:`/`:62M:` closing balance and optional
`:64:`/`:65:` available balances. What banks put around the statements is blanked before
parsing (`_blocks`): SWIFT blocks (`{1:...}{2:...}{4:` ... `-}`), `-` lines, SOH/ETX bytes
and header lines between messages (`940`, a BIC, `0000 01INGBNL2AXXXX00001`, `:940:`).
An MT942 (intraday, no balances: `:34F:`/`:13D:`) is refused by name: its entries are
provisional. A file without any `:61:` says "no transactions in this file".

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
- counterparty and its account only from structured `:86:` subfields (`_details`:
  German `NNN?00…` as the library splits it, Triodos `>20…>33`, Dutch `/NAME/…/IBAN/`),
  else empty. Structured subfields wrap anywhere and are joined without a space; a free-text
  line of the full 65 characters runs on into the next one without a space.
- amounts as banks write them (`mt940_library._AMOUNT`): no decimals, one, zero padding, or a decimal
  point; a customer reference longer than SWIFT's 16 (`mt940_library._Statement61`).

Keys: the bank's own reference (`//` part of `:61:`) when present and not `NONREF`, via
`bank.keyed`; a reference repeated within one file gets `#2`, `#3`… on its later
occurrences, so the first keeps its key. Without one: `bank.IdlessKeys` over the row's
content, counted in file order, which is chronological in MT940; the keys the text as read
before `_details` gave (`_flat_text`) stay former keys, so nothing exported is booked again.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import format_sek
from bokfor.sources import OccurrenceKeys, bank

if TYPE_CHECKING:  # the library is imported where a statement is read (`mt940_library`):
    from mt940 import models as mt940_models  # every run asks this source to `detect`

NAME = "mt940"
TITLE = "SWIFT MT940 bank statement"

_SNIFF_BYTES = 4096
_REDOWNLOAD = "download the statement again from the bank and give bokfor that file unchanged."
_TAG_LINE = re.compile(r"^:(?P<tag>\d\d[A-Z]?|NS):")
# The tags of a statement (a line starting with one belongs to the :20: before it).
_STATEMENT_TAGS = frozenset(
    {
        "21",
        "25",
        "28",
        "28C",
        "60F",
        "60M",
        "61",
        "62F",
        "62M",
        "64",
        "65",
        "86",
        "13D",
        "34F",
        "90D",
        "90C",
        "NS",
    }
)
_CONTROL = "\x01\x02\x03"  # SOH, STX, ETX: transmission framing, not text
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
    61: (
        "value date YYMMDD, optional entry date MMDD, mark C, D, RC or RD, amount with a "
        "decimal comma (1234,50) and a type code such as NTRF"
    ),
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
        text = re.sub(f"[{_CONTROL}]", "", text)
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
        text, _ = bank.decode(data, file, hint=_REDOWNLOAD, lost_ok=True)
        blocks = _blocks(text, file)
        if not blocks:
            raise InputError(
                "no MT940 statement in the file (no line starts with :20:)",
                file=file,
                hint=_REDOWNLOAD,
            )
        if bank.LOST in text:
            yield Notice(
                "the text holds '\ufffd' where letters were lost before the file got "
                "here (by the bank's software or a conversion); read as it is",
                file=file,
                line=text.count("\n", 0, text.index(bank.LOST)) + 1,
            )
        refs: Counter[str] = Counter()
        # Keys, those of schema 3, and those of the text as read before `_details`.
        keys = (bank.IdlessKeys(), OccurrenceKeys("mt940"), bank.IdlessKeys())
        rows = 0
        for block in blocks:
            for item in _statement_rows(block, file, refs, keys):
                rows += isinstance(item, Row)
                yield item
        if not rows:  # a day without payments: nothing to book, no error (cron)
            yield Notice(
                f"no transactions in this file: its {len(blocks)} statement"
                f"{'s have' if len(blocks) > 1 else ' has'} no :61: line",
                file=file,
            )


def _blocks(text: str, file: str) -> list[_Block]:
    """The statements of the file, split at each `:20:`.

    What banks put around the statements is blanked (its line numbers kept, so that no tag
    swallows it): SWIFT block headers `{1:...}{2:...}{4:` and the `-}` trailer, the `-` line
    that ends a message, transmission control bytes (SOH, STX, ETX), and between messages
    any line that is not a statement's tag — a bank's header (`BUNQNL2A`, `940`,
    `0000 01INGBNL2AXXXX00001`, `:940:`). A statement tag there (`:61:` with no `:20:`
    before it) means the statement lost its first line: refused."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r").strip(_CONTROL)
        stripped = line.strip()
        if stripped.startswith("{") and ("{4:" in stripped or stripped.startswith(("{1:", "{5:"))):
            line = ""
        elif stripped.startswith(("-}", "}")) or stripped == "-":
            current = None  # the message ends; a bank header may follow
            line = ""
        if line.startswith(":20:"):
            current = _Block()
            blocks.append(current)
        if current is None:
            tag = _TAG_LINE.match(line)
            if tag and tag.group("tag") in _STATEMENT_TAGS:
                raise InputError(
                    f"a :{tag.group('tag')}: line outside a statement (no :20: line before it)",
                    file=file,
                    line=number,
                    column=f":{tag.group('tag')}:",
                    hint="an MT940 statement starts with a :20: line; " + _REDOWNLOAD,
                )
            continue
        current.lines.append(line)
        current.numbers.append(number)
    return blocks


_Keys = tuple[bank.IdlessKeys, OccurrenceKeys, bank.IdlessKeys]


def _statement_rows(
    block: _Block, file: str, refs: Counter[str], keys: _Keys
) -> Iterator[Row | Notice]:
    """Parse one statement with the library and turn its lines into bank rows."""
    from bokfor.sources.mt940_library import Statement, mt940_models

    kept = [
        n
        for n, line in zip(block.numbers, block.lines, strict=True)
        if mt940_models.Transactions.strip([line])
    ]
    statement = Statement(kept or [block.numbers[0]])
    try:
        statement.parse("\n".join(block.lines))
    except _Failure as failure:
        raise _tag_error(failure, file) from None
    first, last = block.numbers[0], kept[-1] if kept else block.numbers[0]
    info = statement.data
    account = (info.get("account_identification") or "").strip()
    if not account:
        raise InputError(
            "the statement has no account (:25: line)",
            file=file,
            line=first,
            column=":25:",
            hint="every MT940 statement names its account in a :25: line after "
            "the :20: line; " + _REDOWNLOAD,
        )
    opening = _balance(info, _OPENING)
    if opening is None and {"13D", "34F"} & statement.tag_lines.keys():
        raise InputError(
            "an MT942 interim transaction report, not an MT940 statement: its entries are "
            "provisional and it has no balances to check them against",
            file=file,
            line=first,
            column=":20:",
            hint="book the day's MT940 statement (or camt.053), which lists the same entries "
            "once they are booked, with the opening and closing balance.",
        )
    if opening is None:
        raise InputError(
            "the statement has no opening balance (:60F: line)",
            file=file,
            line=first,
            column=":60F:",
            hint=_REDOWNLOAD,
        )
    closing = _balance(info, _CLOSING)
    if closing is None:
        raise InputError(
            "the statement ends without a closing balance (:62F: line): the file is cut off",
            file=file,
            line=last,
            column=":62F:",
            hint=_REDOWNLOAD,
        )
    opening_tag, opening_balance = opening
    closing_tag, closing_balance = closing
    currency = statement.currency or ""
    reference = (info.get("transaction_reference") or "").strip()
    total = 0
    for transaction, line in zip(statement.transactions, statement.lines, strict=True):
        row = _row(transaction.data, line, file, account, currency, refs, keys)
        total += row.amounts["amount"]
        yield row
    start = _ore(
        opening_balance.amount, file, statement.tag_lines.get(opening_tag[1:-1], first), opening_tag
    )
    end = _ore(
        closing_balance.amount, file, statement.tag_lines.get(closing_tag[1:-1], last), closing_tag
    )
    if start + total != end:
        yield Notice(
            f"statement {reference or '(no :20: reference)'} does not add up: opening balance "
            f"{format_sek(start)} + its rows {format_sek(total)} = {format_sek(start + total)}, "
            f"but the closing balance ({closing_tag}) is {format_sek(end)}; a row may be "
            "missing from the file",
            file=file,
            line=statement.tag_lines.get(closing_tag[1:-1], last),
        )


def _balance(
    info: dict[str, Any], names: tuple[str, ...]
) -> tuple[str, mt940_models.Balance] | None:
    from mt940 import models as mt940_models

    for name in names:
        value = info.get(name)
        if isinstance(value, mt940_models.Balance) and isinstance(
            value.amount, mt940_models.Amount
        ):
            return _BALANCE_TAGS[name], value
    return None


def _row(
    data: dict[str, Any],
    line: int,
    file: str,
    account: str,
    currency: str,
    refs: Counter[str],
    keys: _Keys,
) -> Row:
    amount = _ore(data["amount"], file, line, ":61:")
    value_date = _plain_date(data.get("date"))
    entry_date = _plain_date(data.get("entry_date"))
    date = entry_date or value_date
    assert date is not None  # the :61: pattern requires the value date
    mark = (data.get("status") or "").upper()
    code = (data.get("id") or "").strip().upper()
    customer_ref = _ref(data.get("customer_reference"))
    bank_ref = _ref(data.get("bank_reference"))
    text, counterparty, counterparty_account = _details(data)
    details = " ".join(text.split())
    former: tuple[str, ...] = ()
    if bank_ref:
        # With the booking date: banks reuse references across days (a daily "BGINS"), and a
        # reference that repeats within a day is numbered in file order.
        ref = f"{date.isoformat()}:{bank_ref}"
        refs[ref] += 1
        n = refs[ref]
        key = bank.keyed(account, ref if n == 1 else f"{ref}#{n}")
    else:
        idless, legacy, earlier = keys
        # The text is part of the key: the keys the text of bokfor before structured :86:
        # and wrapped lines were read (`_flat_text`) gave are kept as former keys, so that
        # rows exported then are not booked again.
        flat = _flat_text(data)
        key = idless.key(bank.account_id(account) or NAME, date, amount, details)
        former = (
            legacy.key(
                bank.account_id(account),
                date,
                value_date,
                amount,
                currency,
                mark,
                code,
                customer_ref,
                flat,
            ),
        )
        if flat != details:
            former += (earlier.key(bank.account_id(account) or NAME, date, amount, flat),)
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


def _details(data: dict[str, Any]) -> tuple[str, str, str]:
    """The row's text, counterparty and counterparty account, from `:86:`.

    Structured `:86:` (subfields that wrap anywhere, so their lines are joined without a
    space): German `NNN?00…?20…?34` (split by the library: posting text and purpose, the
    `EREF+` text when there is no `SVWZ+`; `?32`/`?33` the name, `?31` the account), Triodos
    `NNN>10…>20…>29>31>32` (`_ANGLE`) and the `/KEYWORD/value` form of Dutch banks
    (`/TRTP/…/IBAN/…/NAME/…/REMI/…`, `_KEYWORDS`). Free text: its lines, where a line of the
    full 65 characters runs on into the next without a space (a word wrapped mid-word).
    Without `:86:`, the bank's non-standard `:NS:` text, else the `:61:` supplementary
    details."""
    raw = data.get("transaction_details")
    if raw is None and "posting_text" in data:  # German structured :86:, split by the library
        purpose = data.get("purpose") or ""
        eref = (data.get("end_to_end_reference") or "").strip()
        parts = [
            data.get("posting_text"),
            purpose,
            data.get("additional_purpose"),
            "" if purpose or eref.upper() == "NOTPROVIDED" else eref,
        ]
        return (
            " ".join(" ".join(p.split()) for p in parts if p),
            (data.get("applicant_name") or "").strip(),
            (data.get("applicant_iban") or "").strip(),
        )
    if raw is None:
        raw = data.get("non_swift_text") or data.get("extra_details") or ""
    lines = str(raw).split("\n")
    joined = "".join(lines)
    structured = _angle_fields(joined) or _keyword_fields(joined)
    if structured is not None:
        return structured
    text = lines[0]
    for previous, line in pairwise(lines):
        text += ("" if len(previous) >= _LINE else " ") + line
    return " ".join(text.split()), "", ""


_LINE = 65  # characters in a line of :86: (6 x 65)
_ANGLE = re.compile(r">(\d\d)")
# The keywords of the Dutch structured :86: (ABN AMRO, ING, Rabobank, bunq) and SEPA
# remittance, as `/KEY/`: a value runs to the next known keyword.
_KEYWORDS = (
    "TRTP",
    "IBAN",
    "BIC",
    "NAME",
    "REMI",
    "EREF",
    "MARF",
    "CSID",
    "ORDP",
    "BENM",
    "ULTC",
    "ULTD",
    "ULTB",
    "PURP",
    "RTRN",
    "ISDT",
    "CDTRREFTP",
    "CDTRREF",
    "ISSR",
    "ADDR",
    "ID",
    "IREF",
    "PREF",
    "BUSP",
    "SVCL",
    "OCMT",
    "CHGS",
    "EXCH",
)
_KEYWORD = re.compile("(?=/(" + "|".join(_KEYWORDS) + ")/)")


def _angle_fields(text: str) -> tuple[str, str, str] | None:
    """Triodos: `000>100987654321>20ALGEMENE TUSSENREKENING KOS>21TEN VAN…>310390123456`:
    >20–>29 the text, >31 the counterparty's account, >32/>33 its name."""
    if not re.match(r"\d{3}>\d\d", text):
        return None
    fields: dict[str, str] = {}
    marks = list(_ANGLE.finditer(text))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        fields[mark.group(1)] = fields.get(mark.group(1), "") + text[mark.end() : end]
    words = "".join(v for k, v in sorted(fields.items()) if k.startswith("2"))
    name = " ".join(fields.get(k, "").strip() for k in ("32", "33")).strip()
    return " ".join(words.split()), " ".join(name.split()), fields.get("31", "").strip()


def _keyword_fields(text: str) -> tuple[str, str, str] | None:
    """Dutch `/TRTP/SEPA OVERBOEKING/IBAN/NL55…/BIC/…/NAME/P.C. Wacki/REMI/USTD//Factuur 12/`:
    the text is TRTP, NAME and REMI in the file's order, the counterparty NAME, its account
    IBAN. Needs the text to start with a keyword and hold two."""
    marks = list(_KEYWORD.finditer(text))
    if len(marks) < 2 or marks[0].start() != 0:
        return None
    values: dict[str, str] = {}
    texts: list[str] = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        key = mark.group(1)
        end = following.start() if following else len(text)
        value = text[mark.end() + len(key) + 2 : end].strip("/ ")
        if key == "REMI":
            value = re.sub(r"^(USTD//?|STRD/CUR/)", "", value).strip("/ ")
        values.setdefault(key, value)
        if key in ("TRTP", "NAME", "REMI") and value:
            texts.append(" ".join(value.split()))
    return " ".join(texts), values.get("NAME", ""), values.get("IBAN", "")


def _flat_text(data: dict[str, Any]) -> str:
    """The text as bokfor read it before `_details`: the lines joined with spaces, the
    German posting text and purpose. Only for the former keys of rows without a reference."""
    raw = data.get("transaction_details")
    if raw is None:
        parts = [data.get("posting_text"), data.get("purpose"), data.get("additional_purpose")]
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


def _ore(amount: mt940_models.Amount | str | None, file: str, line: int, tag: str) -> int:
    """The library's Decimal amount in öre; a third decimal that is not 0 is refused."""
    from mt940 import models as mt940_models

    assert isinstance(amount, mt940_models.Amount)  # the tags' patterns require an amount
    cents = amount.amount * 100
    if cents != cents.to_integral_value():
        raise InputError(
            bank.sub_cent(str(abs(amount.amount))),
            file=file,
            line=line,
            column=tag,
            hint=bank.SUB_CENT_HINT,
        )
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
