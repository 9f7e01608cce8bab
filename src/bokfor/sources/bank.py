"""What every bank format becomes: one normalised bank row per transaction.

camt.05x, MT940, BgMax, Nets OCR and the net-bank CSV/XLSX exports all yield the same row
shape (`bank_row`), so one mapping section (`sources: {bank: ...}`) books them all: the
bank account's ledger account against whatever the rules say (1580 for a Stripe payout,
1630 for the tax account, 7210 for salaries). The format stays visible as the `format`
field, for rules that must tell a BgMax deposit from the statement line that carries it.

Shared here, so that no format module has its own copy: the schema, the row builder, the
decoding chain for bank text files, bank account normalisation, reference checks and the
running-balance check.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import format_sek
from bokfor.sources import DATE, TEXT, OccurrenceKeys, Schema

SECTION = "bank"  # the mapping section every bank format is booked by
BANK_ACCOUNT = "bank_account"  # posting pseudo-account: the row's bank account's ledger account

SCHEMA = Schema(
    fields={
        "format": TEXT,  # camt.053, camt.054, camt.052, mt940, bgmax, nets_ocr, or a CSV profile
        "account": TEXT,  # the bank account as the file writes it (IBAN, BBAN, bankgiro); may be empty
        "currency": TEXT,
        "value_date": DATE,
        "text": TEXT,  # free text / message, joined
        "reference": TEXT,  # structured creditor reference: OCR, KID or RF
        "counterparty": TEXT,
        "counterparty_account": TEXT,
        "bank_reference": TEXT,  # the bank's own id of the transaction (AcctSvcrRef, …)
        "end_to_end_id": TEXT,
        "transaction_code": TEXT,  # camt BkTxCd (PMNT/RCDT/DMCT), MT940 type (NTRF), BgMax channel
        "entry": TEXT,  # the bank entry a row belongs to (one camt entry = one deposit)
        "reversal": TEXT,  # "true" on a reversal (camt RvslInd, MT940 RC/RD), else empty
    },
    amounts={"amount": {"amount": 1}},
    group_keys={"per_entry": "entry"},
    unmapped_fields=("text",),
    currency_field="currency",
    # Not the account, reference or counterparty: whether a file or profile gives them is a
    # matter of how it was read, and the key already holds the account.
    content_fields=("currency",),
    snippet=((BANK_ACCOUNT, "debit", "amount"), ("<konto>", "credit", "amount")),
    bank_accounts=BANK_ACCOUNT,
    money="amount",
    free_text="text",
)


def bank_row(
    *,
    format: str,
    key: str,
    date: dt.date,
    amount: int,
    origin: Origin,
    account: str = "",
    currency: str = "SEK",
    value_date: dt.date | None = None,
    text: str = "",
    reference: str = "",
    counterparty: str = "",
    counterparty_account: str = "",
    bank_reference: str = "",
    end_to_end_id: str = "",
    transaction_code: str = "",
    entry: str = "",
    reversal: bool = False,
    former: tuple[str, ...] = (),
) -> Row:
    """One normalised bank row. `amount` is öre, positive = money into the account.

    `key` must be stable across re-downloads: the bank's reference where the file has one
    (see `keyed`), else an `OccurrenceKeys` digest of the row's content."""
    return normalised_row(
        format,
        key,
        date,
        amount,
        origin,
        account,
        currency.upper(),
        value_date,
        " ".join(text.split()),
        reference,
        " ".join(counterparty.split()),
        counterparty_account,
        bank_reference,
        end_to_end_id,
        transaction_code,
        entry,
        reversal,
        former,
    )


def normalised_row(
    format: str,
    key: str,
    date: dt.date,
    amount: int,
    origin: Origin,
    account: str,
    currency: str,
    value_date: dt.date | None,
    text: str,
    reference: str,
    counterparty: str,
    counterparty_account: str,
    bank_reference: str,
    end_to_end_id: str,
    transaction_code: str,
    entry: str,
    reversal: bool,
    former: tuple[str, ...] = (),
) -> Row:
    """`bank_row` of values already in their normal form: `currency` upper case, `text` and
    `counterparty` with single spaces and no outer space (`" ".join(s.split())` gives them
    back unchanged). Positional, for a reader that builds 100k rows a file: a call with 17
    keywords costs as much as building the row."""
    return Row(
        SECTION,
        key,
        date,
        {"amount": amount},
        {
            "format": format,
            "account": account or None,
            "currency": currency or None,
            "value_date": value_date,
            "text": text or None,
            "reference": reference or None,
            "counterparty": counterparty or None,
            "counterparty_account": counterparty_account or None,
            "bank_reference": bank_reference or None,
            "end_to_end_id": end_to_end_id or None,
            "transaction_code": transaction_code or None,
            "entry": entry or None,
            "reversal": "true" if reversal else None,
        },
        origin,
        former=former,
    )


class IdlessKeys:
    """Keys of bank rows that carry no transaction id of their own (every net-bank export;
    camt and MT940 entries without references): `bank:<account>:<digest>#<n>`.

    The digest covers only what the bank itself says of the transaction — the booking date,
    the amount and the text as `text_key` normalises it — and `n` counts identical ones in the
    order the file lists them (they are interchangeable, so the order cannot matter). Never the
    value date, the reference, the running balance or the format: a profile that leaves out a
    column, an Excel re-save, or the same account's xlsx instead of its CSV must give every row
    the key it had, or rows exported before would be booked again. `<account>` is the bank
    account as `account_id` writes it, or, for a file that names none, the bank's name (one for
    all of that bank's layouts) or the account `--bank-account` names."""

    def __init__(self) -> None:
        self._counters: dict[str, OccurrenceKeys] = {}

    def key(self, account: str, date: dt.date, amount: int, text: str) -> str:
        counter = self._counters.get(account)
        if counter is None:
            counter = self._counters[account] = OccurrenceKeys(f"bank:{account}")
        return counter.key(date, amount, text_key(text))


def text_key(text: str) -> str:
    """A transaction text as it takes part in a key: Unicode-normalised (NFKC: a re-save that
    composes å differently, full-width digits), case-folded, white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def with_account(key: str, account: str) -> str:
    """`key` of an id-less row of a file that names no account, as the key of `account`'s row
    (`--bank-account`): `bank:seb:<digest>#1` -> `bank:SE45…:<digest>#1`."""
    kind, _, rest = key.partition(":")
    return f"{kind}:{account_id(account)}:{rest.partition(':')[2]}"


def keyed(account: str, reference: str) -> str:
    """The key of a row the bank identifies: the same transaction in a camt.053 and a
    camt.054 (or two overlapping statements) gets the same key, so it is booked once."""
    return f"bank:{account_id(account)}:{reference}"


def account_id(text: str) -> str:
    """A bank account number in the one form mappings and files are compared in:
    upper case, without spaces, dashes, dots and slashes (`SE45 5000 0000 0583 9825 7466`,
    `5000-1234567`, `5000 12 34567` -> `SE4550000000058398257466`, `5000123 4567`...; an
    MT940 `:25:` of bank code and account, `50880050/0194774600888`)."""
    return re.sub(r"[\s.\-/]", "", text).upper()


# -- references -------------------------------------------------------------------------


# Swedish mobile numbers (Swish: 467xxxxxxxx, 07xxxxxxxx) and Swish-företag numbers
# (123xxxxxxx): one in ten passes a Luhn check by chance, and a Swish payment is no invoice.
_PHONE = re.compile(r"(?:46|0)7\d{8}|123\d{7}")


def is_ocr(reference: str) -> bool:
    """A Swedish OCR number (bankgiro/plusgiro): 2–25 digits, Luhn check digit last, and not
    a Swish phone or Swish-företag number that happens to pass the check."""
    from stdnum import luhn

    return (
        reference.isdigit()
        and 2 <= len(reference) <= 25
        and luhn.is_valid(reference)
        and not _PHONE.fullmatch(reference)
    )


def is_rf(reference: str) -> bool:
    """An ISO 11649 creditor reference (RF18 5390 0754 7034)."""
    from stdnum import iso11649

    return iso11649.is_valid(reference)


# -- amounts ----------------------------------------------------------------------------

# Bank formats that write three decimals (camt, MT940): 18.150 is 18.15 exactly and read as
# that; 18.155 holds a part of a cent that a booking in öre (cents) cannot hold, and bokfor
# never rounds what the bank booked: the entry is refused, naming its line.
SUB_CENT_HINT = "book this entry by hand, or ask the bank for the statement in two decimals."


def sub_cent(text: str) -> str:
    """The message for an amount whose decimals past the second are not all 0."""
    return (
        f"the amount {text} has a third decimal that is not 0: bokfor books whole cents "
        "and does not round what the bank booked"
    )


# -- decoding ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|ï»¿|\ufffd")
_MOJIBAKE_ONLY = re.compile("Ã[\u0080-\u00bf]|ï»¿")
LOST = "\ufffd"  # the replacement character: a letter lost before the file reached bokfor


def decode(data: bytes, file: str, *, hint: str, lost_ok: bool = False) -> tuple[str, str]:
    """Text of a bank file and the encoding it was read with.

    The order the banks' real files need: a BOM decides (UTF-8; UTF-16 from Excel's
    "Unicode text"), then strict UTF-8, then cp1252 (Swedbank, Danske: ISO-8859-1/15 in
    practice), chardet last. Text that is UTF-8 decoded twice ("Bokfï¿½ringsdag",
    "BokfÃ¶ringsdag") cannot be repaired with certainty and is refused. With `lost_ok`, a
    U+FFFD replacement character (a letter lost before the file got here, perhaps by the
    bank's own software: "Tranzakci\ufffds") is kept, for a format whose structure is ASCII
    and that reports where the text lost letters."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    text = None
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise InputError(
                f"not {encoding} text although the file starts with its byte-order mark",
                file=file,
                hint=hint,
            ) from None
    else:
        for encoding in ("utf-8", "cp1252"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            import chardet

            guess = chardet.detect(data[:65536])
            encoding = guess.get("encoding")
            if not encoding or (guess.get("confidence") or 0) < 0.5:
                raise InputError(
                    "cannot tell the file's text encoding (not UTF-8, not Windows-1252)",
                    file=file,
                    hint=hint,
                )
            try:
                text = data.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                raise InputError(f"not readable as {encoding} text", file=file, hint=hint) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            "the file holds a NUL byte: it is not a text export", file=file, line=line, hint=hint
        )
    bad = (_MOJIBAKE_ONLY if lost_ok else _MOJIBAKE).search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise InputError(
            f"the text is garbled ({bad.group()!r} where a letter such as ö should be): the "
            "file was converted between encodings before it got here",
            file=file,
            line=line,
            hint="download the export again from the bank and give bokfor that file unopened.",
        )
    return text.removeprefix("\ufeff"), encoding


# -- running balance --------------------------------------------------------------------


@dataclass
class RunningBalance:
    """Checks a file's running balance (Saldo) row by row: each balance must be the
    previous one plus the row's amount. Banks list newest first or oldest first, so both
    orders are tried and the one that fits better is reported. A break means a row is
    missing or altered (or the file was filtered): a warning naming the line, not a stop,
    because some banks leave gaps (Nordea writes no Saldo on pending rows)."""

    file: str
    rows: list[tuple[int, int, int]] = field(default_factory=list)  # (line, amount, balance)

    def add(self, line: int, amount: int, balance: int | None) -> None:
        if balance is not None:
            self.rows.append((line, amount, balance))

    def notices(self, limit: int = 3) -> list[Notice]:
        forward = self._breaks(self.rows)
        backward = self._breaks(self.rows[::-1])
        breaks = forward if len(forward) <= len(backward) else backward
        out = [
            Notice(
                f"running balance does not follow: {format_sek(bal)} where the row "
                f"before and this row's amount give {format_sek(want)}",
                file=self.file,
                line=line,
            )
            for line, bal, want in breaks[:limit]
        ]
        if len(breaks) > limit:
            out.append(
                Notice(
                    f"running balance breaks {len(breaks) - limit} more times; a row "
                    "may be missing from the export",
                    file=self.file,
                )
            )
        return out

    @staticmethod
    def _breaks(rows: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        out, previous = [], None
        for line, amount, balance in rows:
            if previous is not None and previous + amount != balance:
                out.append((line, balance, previous + amount))
            previous = balance
        return out
