"""Norwegian Nets OCR giro files ("OCR-fil", KID payments), as DNB, Nordea Norge and the
other Norwegian banks deliver them for an OCR giro agreement.

Fixed 80-character records (ISO-8859-1), each starting `NY`, then the service code (00
transmission, 09 OCR giro, 21 AvtaleGiro), the transaction type and the record type:
10 transmission start, 20 assignment start ("oppdrag", one settlement credited to the
payee's account), 30/31/32 the amount items of one transaction (30: settlement date,
amount, sign and KID; 31: form number, Nets' archive reference, the payer's bank date and
debit account; 32: free text for types 20/21), 88 assignment end and 89 transmission end,
both with counts and totals.

Each record is parsed by the `netsgiro` library (2.0.1), one line at a time so that a
record it refuses is named by its line; its objects API then groups the records into
transactions. This module adds what netsgiro leaves out: the structure checks (a cut-off
file, a transaction without its second record, a repeated number, which would otherwise
surface as an AssertionError or be merged silently), the counts and totals of the end
records, the KID check digit (netsgiro does not check it: a KID passes MOD10 (Luhn) or
MOD11, Nets' two KID schemes, or the file is refused), and the account check (11 digits,
MOD11, `stdnum.no.kontonr`).

Rows: one per OCR giro transaction, amount positive = money in (the sign position of
record 30 makes a reversal negative), currency NOK, account = the assignment account.
`date` is the settlement date of record 30 ("oppgjørsdato", what netsgiro calls
`nets_date`): the day Nets settles the amount to the payee's account, so the day the
bank statement shows the credit; the payer's bank date of record 31 is earlier and says
when the payer paid, not when the money arrived. `entry` is the assignment number: one
assignment is one credit on the bank statement, so `per_entry` books it as one voucher.
`transaction_code` is the transaction type number ("10"), and `text` starts with its
short name ("Giro debited account").

Key: `bank.keyed(account, "nets:<agreement>:<assignment>:<transaction>")`. Nets numbers
assignments per agreement and transactions from 1 within each assignment, so account +
agreement id + assignment number + transaction number names one payment however often the
file is downloaded; the agreement id is included because one account may have several
agreements. An assignment number seen twice in one file is refused.

AvtaleGiro assignments (service code 21: agreement lists, payment claims) carry no money
received and are left out with a Notice; a file of nothing else is refused: "no payments in
this file", naming what it holds (the payments come in the OCR giro file, type 15).

Transaction types Nets does not define: Vipps's OCR file of invoice payments writes type 50,
with KIDs of its own (one starts with '-', most pass no check digit). Such an amount item is
parsed by netsgiro as a copy with type 10 and a blank KID; the row keeps the type and the
KID as the line writes them, and the KID is not checked (it is not one Nets checked). Under
the types Nets defines the KID stays digits with a valid MOD10 or MOD11 check digit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import functools
from typing import TYPE_CHECKING

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.sources import bank

if TYPE_CHECKING:  # netsgiro and stdnum are imported where a file is read: every run
    from netsgiro import Assignment, RecordType  # asks this source to `detect` (issue 22)
    from netsgiro import records as nets_records

NAME = "nets_ocr"
TITLE = "Nets OCR giro file (Norwegian KID payments)"

_REDOWNLOAD = (
    "download the OCR file again from the bank (or Nets) and give bokfor that file unchanged."
)


@functools.cache
def _record_names() -> dict[RecordType, str]:
    """netsgiro's record types, named for messages."""
    from netsgiro import RecordType

    return {
        RecordType.TRANSMISSION_START: "transmission start",
        RecordType.ASSIGNMENT_START: "assignment start",
        RecordType.TRANSACTION_AMOUNT_ITEM_1: "amount item 1",
        RecordType.TRANSACTION_AMOUNT_ITEM_2: "amount item 2",
        RecordType.TRANSACTION_AMOUNT_ITEM_3: "amount item 3",
        RecordType.TRANSACTION_SPECIFICATION: "specification",
        RecordType.TRANSACTION_AGREEMENTS: "AvtaleGiro agreement",
        RecordType.ASSIGNMENT_END: "assignment end",
        RecordType.TRANSMISSION_END: "transmission end",
    }


# Transaction types of OCR giro (Nets' names, in English as netsgiro has them).
_TYPES = {
    10: "Giro debited account",
    11: "Standing order",
    12: "Direct remittance",
    13: "Business terminal giro",
    14: "Counter giro",
    15: "AvtaleGiro",
    16: "Telegiro",
    17: "Cash giro",
    18: "Reversing with KID",
    19: "Purchase with KID",
    20: "Reversing with text",
    21: "Purchase with text",
}
_REVERSALS = frozenset({18, 20})
_KID_COLUMN = "KID (positions 50-74)"
_END_COLUMNS = {
    "transactions": "number of transactions (positions 9-16)",
    "records": "number of records (positions 17-24)",
    "amount": "total amount (positions 25-41)",
}


@dataclass
class _Assignment:
    """The records of one assignment with their lines, for the structure checks."""

    start: nets_records.AssignmentStart
    line: int
    records: list[nets_records.Record] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # transaction number -> line of item 1
    # transaction number -> (transaction type, KID) as the line writes them
    kinds: dict[int, tuple[int, str]] = field(default_factory=dict)
    amounts: list[int] = field(default_factory=list)  # signed öre per transaction
    last: nets_records.Record | None = None


class NetsOcrSource:
    """The `Source` for Nets OCR giro files."""

    name = NAME
    title = TITLE
    section = bank.SECTION
    schema = bank.SCHEMA

    def detect(self, path: Path) -> bool:
        """True when the first line is an 80-character transmission start record."""
        try:
            with open(path, "rb") as f:
                head = f.read(84)
        except OSError:
            return False
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        first = head.split(b"\n", 1)[0].rstrip(b"\r")
        return len(first) == 80 and first.startswith(b"NY000010") and first[2:].isdigit()

    def read(self, path: Path, tz: dt.tzinfo) -> Iterator[Row | Notice]:
        """Yield one bank row per OCR giro transaction; raise InputError naming the line
        and the record."""
        file = str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read the file ({exc.strerror})", file=file) from None
        text, _ = bank.decode(data, file, hint=_REDOWNLOAD)
        raw = dict(_lines(text))
        parsed = [(number, _record(line, number, file)) for number, line in raw.items()]
        if not parsed:
            raise InputError("the file is empty", file=file, hint=_REDOWNLOAD)
        assignments = _check_structure(parsed, raw, file)
        yield from _rows([r for _, r in parsed], assignments, file)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, record) for each non-blank line."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _record(line: str, number: int, file: str) -> nets_records.Record:
    """One record, parsed by netsgiro; its ValueError becomes an InputError for the line."""
    from netsgiro import RecordType
    from netsgiro import records as nets_records

    if len(line) != 80:
        raise InputError(
            f"the record is {len(line)} characters long; Nets records are exactly 80",
            file=file,
            line=number,
            hint=_REDOWNLOAD,
        )
    if not line.startswith("NY"):
        raise InputError(
            f"not a Nets record: it starts with {line[:2]!r}, not 'NY'",
            file=file,
            line=number,
            column="format code (positions 1-2)",
            hint=_REDOWNLOAD,
        )
    kind = line[6:8]
    if not (kind.isascii() and kind.isdigit()) or int(kind) not in set(RecordType):
        known = ", ".join(f"{t.value} ({name})" for t, name in _record_names().items())
        raise InputError(
            f"unknown record type {kind!r}",
            file=file,
            line=number,
            column="record type (positions 7-8)",
            hint=f"Nets OCR records are of type {known}; " + _REDOWNLOAD,
        )
    name = _record_names()[RecordType(int(kind))]
    own_type = _own_type(line)
    if own_type:
        # netsgiro knows the transaction types Nets defines (10-21): a copy of the record
        # with type 10, and a KID field of the sender's own blanked, is parsed for the other
        # fields; the type and KID are taken from the line itself (`_Assignment.kinds`).
        line = line[:4] + "10" + line[6:49] + (" " * 25 + line[74:] if kind == "30" else line[49:])
    elif kind == "30" and line[2:4] == "09":
        _check_kid_characters(line[49:74], number, file)
    try:
        # parse() is typed `-> List[R]` with R in no argument: mypy solves it to Never.
        records: list[nets_records.Record] = nets_records.parse(line)
        (record,) = records
    except (ValueError, TypeError, KeyError) as exc:
        bad_date = _bad_date(line, int(kind))
        if bad_date is not None:
            start, text = bad_date
            raise InputError(
                f"not a valid {name} record (type {kind}): {text!r} is not a date (DDMMYY)",
                file=file,
                line=number,
                column=f"date (positions {start}-{start + 5})",
                hint=_REDOWNLOAD,
            ) from None
        raise InputError(
            f"not a valid {name} record (type {kind}): {_reason(exc)}",
            file=file,
            line=number,
            hint=_REDOWNLOAD,
        ) from None
    if isinstance(record, nets_records.TransactionAmountItem1) and not own_type:
        _check_kid(record.kid, number, file)
    return record


def _own_type(line: str) -> int | None:
    """The transaction type of an OCR giro amount item that Nets does not define (10-21):
    Vipps writes 50 in its OCR file of invoice payments, with KIDs of its own (one starts
    with '-'). Such a row keeps its type and its KID as written, unchecked."""
    kind, code = line[6:8], line[4:6]
    if line[2:4] != "09" or kind not in ("30", "31", "32") or not code.isdigit():
        return None
    return None if int(code) in _known_types() else int(code)


@functools.cache
def _known_types() -> frozenset[int]:
    """The transaction types Nets defines, as netsgiro knows them."""
    from netsgiro import TransactionType

    return frozenset(t.value for t in TransactionType)


def _check_kid_characters(field: str, line: int, file: str) -> None:
    """A KID of a transaction type Nets defines is digits: name any other character
    (netsgiro would only say that the record does not match)."""
    bad = next((c for c in field if not (c.isdigit() or c == " ")), None)
    if bad is not None:
        raise InputError(
            f"the KID {field.strip()!r} holds {bad!r}: a KID is digits",
            file=file,
            line=line,
            column=_KID_COLUMN,
            hint=_REDOWNLOAD,
        )


# 1-based start of each DDMMYY date of an OCR giro record type (all zeros = no date).
_DATES = {30: (16,), 31: (42,), 88: (42, 48, 54), 89: (42,)}


def _bad_date(line: str, kind: int) -> tuple[int, str] | None:
    """The first date of the record that is not a calendar date: netsgiro's strptime
    message ("unconverted data remains: 26") does not say which field it was."""
    for start in _DATES.get(kind, ()):
        text = line[start - 1 : start + 5]
        if text == "000000" and kind != 30:
            continue
        try:
            dt.datetime.strptime(text, "%d%m%y")
        except ValueError:
            return start, text
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "did not match" in text:
        return "a field has the wrong length or a letter where digits belong"
    return text


def _check_kid(kid: str | None, line: int, file: str) -> None:
    if kid is None:
        return
    if not (kid.isascii() and kid.isdigit()):
        raise InputError(
            f"the KID {kid!r} has a space inside",
            file=file,
            line=line,
            column=_KID_COLUMN,
            hint=_REDOWNLOAD,
        )
    from stdnum import luhn

    if not (luhn.is_valid(kid) or _mod11_valid(kid)):
        raise InputError(
            f"the KID {kid} fails both the MOD10 and the MOD11 check digit",
            file=file,
            line=line,
            column=_KID_COLUMN,
            hint="Nets only passes KIDs with a valid check digit, so the file was "
            "altered; " + _REDOWNLOAD,
        )


def _mod11_valid(kid: str) -> bool:
    """Nets' MOD11 KID: weights 2, 3, 4, 5, 6, 7, 2… from the right, check digit last
    (11 - sum mod 11; 11 gives 0; 10 would be '-', which the record layout cannot hold)."""
    if len(kid) < 2:
        return False
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(kid[:-1])))
    check = 11 - total % 11
    return kid[-1] == ("0" if check == 11 else str(check) if check < 10 else "-")


def _check_structure(
    parsed: list[tuple[int, nets_records.Record]], raw: dict[int, str], file: str
) -> list[_Assignment]:
    """Start and end records in place, each transaction complete, counts and totals right."""
    from netsgiro import ServiceCode
    from netsgiro import records as nets_records

    first_line, first = parsed[0]
    if not isinstance(first, nets_records.TransmissionStart):
        raise InputError(
            "the file does not start with a transmission start record (NY000010)",
            file=file,
            line=first_line,
            hint=_REDOWNLOAD,
        )
    assignments: list[_Assignment] = []
    current: _Assignment | None = None
    numbers: set[str] = set()
    end: tuple[int, nets_records.TransmissionEnd] | None = None
    for line, record in parsed[1:]:
        if end is not None:
            raise InputError(
                "a record after the transmission end record", file=file, line=line, hint=_REDOWNLOAD
            )
        if isinstance(record, nets_records.TransmissionEnd):
            if current is not None:
                raise _cut_off(current, file, line)
            end = (line, record)
        elif isinstance(record, nets_records.AssignmentStart):
            if current is not None:
                raise _cut_off(current, file, line)
            # netsgiro groups assignments by number alone, so a repeat would be merged.
            ident = record.assignment_number
            if ident in numbers:
                raise InputError(
                    f"assignment {record.assignment_number} appears twice in the file",
                    file=file,
                    line=line,
                    hint=_REDOWNLOAD,
                )
            numbers.add(ident)
            if record.service_code == ServiceCode.OCR_GIRO:
                _check_account(record.assignment_account, line, file)
            current = _Assignment(record, line, [record])
        elif isinstance(record, nets_records.AssignmentEnd):
            if current is None:
                raise InputError(
                    "an assignment end record without its assignment start record",
                    file=file,
                    line=line,
                    hint=_REDOWNLOAD,
                )
            current.records.append(record)
            _check_assignment_end(current, record, line, file)
            assignments.append(current)
            current = None
        elif isinstance(record, nets_records.TransmissionStart):
            raise InputError(
                "a second transmission start record",
                file=file,
                line=line,
                hint="a Nets file holds one transmission; " + _REDOWNLOAD,
            )
        else:
            if current is None:
                raise InputError(
                    "a transaction record outside an assignment",
                    file=file,
                    line=line,
                    hint=_REDOWNLOAD,
                )
            _add_transaction_record(current, record, line, raw[line], file)
    if end is None:
        last_line = parsed[-1][0]
        raise InputError(
            "the file ends without a transmission end record (NY000089): it is cut off",
            file=file,
            line=last_line,
            hint=_REDOWNLOAD,
        )
    _check_transmission_end(assignments, len(parsed), *end, file)
    return assignments


def _cut_off(current: _Assignment, file: str, line: int) -> InputError:
    return InputError(
        f"assignment {current.start.assignment_number} (line {current.line}) has "
        "no assignment end record",
        file=file,
        line=line,
        hint=_REDOWNLOAD,
    )


def _check_account(account: str, line: int, file: str) -> None:
    from stdnum.no import kontonr

    if not kontonr.is_valid(account):
        raise InputError(
            f"the assignment account {account} is not a valid Norwegian account "
            "number (MOD11 check digit)",
            file=file,
            line=line,
            column="assignment account (positions 25-35)",
            hint=_REDOWNLOAD,
        )


def _add_transaction_record(
    current: _Assignment, record: nets_records.Record, line: int, text: str, file: str
) -> None:
    """A transaction is amount item 1, then 2 with the same number, then optionally 3."""
    from netsgiro import ServiceCode
    from netsgiro import records as nets_records

    if current.start.service_code != ServiceCode.OCR_GIRO:
        current.records.append(record)  # AvtaleGiro: left out as a whole later
        return
    number = getattr(record, "transaction_number", None)
    if record.service_code != ServiceCode.OCR_GIRO or number is None:
        raise InputError(
            "a record that does not belong in an OCR giro assignment",
            file=file,
            line=line,
            hint=_REDOWNLOAD,
        )
    last = current.last
    if isinstance(record, nets_records.TransactionAmountItem1):
        if isinstance(last, nets_records.TransactionAmountItem1):
            raise _incomplete(last, file, line)
        if number in current.lines:
            raise InputError(
                f"transaction number {number} appears twice in assignment "
                f"{current.start.assignment_number}",
                file=file,
                line=line,
                column="transaction number (positions 9-15)",
                hint=_REDOWNLOAD,
            )
        current.lines[number] = line
        current.kinds[number] = (int(text[4:6]), text[49:74].strip())
        current.amounts.append(-record.amount if record.sign == "-" else record.amount)
    elif isinstance(
        record, (nets_records.TransactionAmountItem2, nets_records.TransactionAmountItem3)
    ):
        wanted = (
            nets_records.TransactionAmountItem1
            if isinstance(record, nets_records.TransactionAmountItem2)
            else nets_records.TransactionAmountItem2
        )
        if not isinstance(last, wanted) or last.transaction_number != number:
            item = 2 if wanted is nets_records.TransactionAmountItem1 else 3
            raise InputError(
                f"amount item {item} of transaction {number} does not follow its "
                f"amount item {item - 1}",
                file=file,
                line=line,
                hint=_REDOWNLOAD,
            )
    else:
        raise InputError(
            "a record that does not belong in an OCR giro assignment",
            file=file,
            line=line,
            hint=_REDOWNLOAD,
        )
    current.records.append(record)
    current.last = record


def _incomplete(item1: nets_records.TransactionAmountItem1, file: str, line: int) -> InputError:
    return InputError(
        f"transaction {item1.transaction_number} has no amount item 2 record",
        file=file,
        line=line,
        hint=_REDOWNLOAD,
    )


def _check_assignment_end(
    current: _Assignment, end: nets_records.AssignmentEnd, line: int, file: str
) -> None:
    from netsgiro import ServiceCode
    from netsgiro import records as nets_records

    if current.start.service_code != ServiceCode.OCR_GIRO:
        return  # AvtaleGiro assignments are not booked; their counts are not checked
    if isinstance(current.last, nets_records.TransactionAmountItem1):
        raise _incomplete(current.last, file, line)
    what = f"assignment {current.start.assignment_number}"
    _compare(
        "assignment end",
        what,
        end,
        len(current.amounts),
        len(current.records),
        current.amounts,
        line,
        file,
    )


def _check_transmission_end(
    assignments: list[_Assignment],
    count: int,
    line: int,
    end: nets_records.TransmissionEnd,
    file: str,
) -> None:
    from netsgiro import ServiceCode

    if any(a.start.service_code != ServiceCode.OCR_GIRO for a in assignments):
        return  # how Nets counts AvtaleGiro records in the totals is not documented here
    amounts = [amount for a in assignments for amount in a.amounts]
    _compare("transmission end", "the file", end, len(amounts), count, amounts, line, file)


def _compare(
    record: str,
    what: str,
    end: nets_records.AssignmentEnd | nets_records.TransmissionEnd,
    transactions: int,
    records: int,
    amounts: list[int],
    line: int,
    file: str,
) -> None:
    """The counts and the total of an end record against what the file holds. Whether
    the total nets out reversals is not known here, so the gross and the net sum pass."""
    checks = [
        ("transactions", end.num_transactions, transactions),
        ("records", end.num_records, records),
    ]
    for name, says, has in checks:
        if says != has:
            raise InputError(
                f"the {record} record says {says} {name}, but {what} has {has}",
                file=file,
                line=line,
                column=_END_COLUMNS[name],
                hint="the file is incomplete or was altered; " + _REDOWNLOAD,
            )
    total = end.total_amount
    if total is not None and total not in (sum(amounts), sum(abs(a) for a in amounts)):
        raise InputError(
            f"the {record} record says a total of {_nok(total)} NOK, but the "
            f"transactions of {what} add up to {_nok(sum(amounts))} NOK",
            file=file,
            line=line,
            column=_END_COLUMNS["amount"],
            hint="the file is incomplete or was altered; " + _REDOWNLOAD,
        )


def _nok(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def _rows(
    records: list[nets_records.Record], assignments: list[_Assignment], file: str
) -> Iterator[Row | Notice]:
    """Group the (checked) records with netsgiro's objects API and yield the rows."""
    from netsgiro import ServiceCode, Transaction, Transmission

    try:
        transmission = Transmission.from_records(records)
    except (ValueError, TypeError, KeyError, AssertionError) as exc:  # not after the checks
        raise InputError(
            f"netsgiro could not group the records ({exc})", file=file, hint=_REDOWNLOAD
        ) from None
    if all(a.service_code != ServiceCode.OCR_GIRO for a in transmission.assignments):
        raise _no_payments(transmission.assignments, file)
    if not any(
        a.transactions for a in transmission.assignments if a.service_code == ServiceCode.OCR_GIRO
    ):
        yield Notice(
            "no transactions in this file: its OCR giro assignments are empty "
            "(nothing was paid in on the days it covers)",
            file=file,
        )
        return
    for assignment, checked in zip(transmission.assignments, assignments, strict=True):
        if assignment.service_code != ServiceCode.OCR_GIRO:
            yield Notice(
                f"AvtaleGiro assignment {assignment.number} left out: it holds "
                "agreements or payment claims, not payments received",
                file=file,
                line=checked.line,
            )
            continue
        account = assignment.account
        for txn in assignment.transactions:
            assert isinstance(txn, Transaction)  # an OCR giro assignment holds payments only
            kind, kid = checked.kinds[txn.number]
            amount = txn.amount_in_cents
            if txn.sign == "-":
                amount = -amount
            texts = [_TYPES.get(kind, f"Transaction type {kind}"), txn.text or ""]
            archive = txn.reference or ""  # Nets' archive reference; zeros when none
            debit = txn.debit_account or ""
            yield bank.bank_row(
                format=NAME,
                key=bank.keyed(
                    account,
                    f"nets:{assignment.agreement_id or ''}:{assignment.number}:{txn.number}",
                ),
                date=txn.date,
                amount=amount,
                origin=Origin(file, checked.lines[txn.number]),
                account=account,
                currency="NOK",
                text=" ".join(t for t in texts if t),
                reference=kid,
                counterparty_account=debit if debit.strip("0") else "",
                bank_reference=archive if archive.strip("0") else "",
                transaction_code=str(kind),
                entry=assignment.number,
                reversal=kind in _REVERSALS,
            )


def _no_payments(assignments: list[Assignment], file: str) -> InputError:
    """The error for a file of AvtaleGiro assignments only: what it holds instead."""
    from netsgiro import AssignmentType

    kinds = {a.type for a in assignments}
    what = " and ".join(
        name
        for kind, name in (
            (AssignmentType.AVTALEGIRO_AGREEMENTS, "agreements (payers signing up or leaving)"),
            (AssignmentType.TRANSACTIONS, "payment claims (what the payers' banks are to charge)"),
            (AssignmentType.AVTALEGIRO_CANCELLATIONS, "cancelled payment claims"),
        )
        if kind in kinds
    )
    return InputError(
        f"no payments in this file: it holds AvtaleGiro {what}, not payments received",
        file=file,
        hint="the payments come in the OCR giro file the bank delivers after the "
        "due date (transaction type 15, AvtaleGiro); book that file.",
    )


SOURCE = NetsOcrSource()
