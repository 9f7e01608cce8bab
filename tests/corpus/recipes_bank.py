"""The corpus's bank statement files' own totals, from their raw bytes (never through
bokfor's readers): MT940, camt.05x, BgMax and Nets OCR; and a cash register's SIE file. Each recipe gives the file's net
movement in öre of its own currency (positive = money in), or a dict currency -> öre for a
file that holds statements in several currencies. See tests/corpus/harness.py."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

Total = "int | Fraction | dict[str, int | Fraction]"


def _ore(text: str) -> int | Fraction:
    """'1234,5' / '0.' / '18.150' -> öre (a Fraction when not whole)."""
    value = Fraction(Decimal(text.replace(",", ".").rstrip(".") or "0")) * 100
    return int(value) if value.denominator == 1 else value


# -- MT940: the sum of the :61: lines, each signed by its mark --------------------------

_MT940_BALANCE = re.compile(r"^(?::60[FM]?:[CD]\d{6}|:34F:)([A-Z]{3})", re.MULTILINE)
_MT940_LINE = re.compile(r"^:61:\d{6}(?:\d{4})?(R?[CD])[A-Z]?\n?(\d*[,.]?\d*)", re.MULTILINE)


def mt940(path: Path, case: dict) -> dict[str, int | Fraction]:
    """Per currency (of the statement's opening balance): C and RD add, D and RC subtract."""
    text = path.read_bytes().decode("latin-1").replace("\r", "")
    totals: dict[str, int | Fraction] = {}
    events = sorted(
        [(m.start(), "balance", m) for m in _MT940_BALANCE.finditer(text)]
        + [(m.start(), "line", m) for m in _MT940_LINE.finditer(text)],
        key=lambda e: e[0],
    )
    currency = None
    for _, what, match in events:
        if what == "balance":
            currency = match.group(1)
            continue
        mark, amount = match.groups()
        sign = 1 if mark in ("C", "RD") else -1
        assert currency is not None, "a :61: before any opening balance"
        totals[currency] = totals.get(currency, 0) + sign * _ore(amount)
    return totals


# -- camt.05x: the booked entries, signed by CdtDbtInd -----------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def camt(path: Path, case: dict) -> dict[str, int | Fraction]:
    """Σ Ntry/Amt of the entries with status BOOK (v02 `<Sts>BOOK`, v08 `<Sts><Cd>`), +
    for CRDT, - for DBIT, per entry currency. Entries of every statement, report or
    notification in the file."""
    root = ET.fromstring(path.read_bytes())
    totals: dict[str, int | Fraction] = {}
    for entry in root.iter():
        if _local(entry.tag) != "Ntry":
            continue
        status = _child(entry, "Sts")
        code = _child(status, "Cd") if status is not None else None
        text = code.text if code is not None else status.text if status is not None else ""
        if (text or "").strip() != "BOOK":
            continue
        amount = _child(entry, "Amt")
        sign = 1 if (_child(entry, "CdtDbtInd").text or "").strip() == "CRDT" else -1
        currency = amount.get("Ccy")
        totals[currency] = totals.get(currency, 0) + sign * _ore(amount.text.strip())
    return totals


# -- BgMax: the deposits (TK15), each the sum of its payments ----------------------------


def bgmax(path: Path, case: dict) -> dict[str, int]:
    """Σ of the TK15 deposit amounts (positions 51-68, öre), per currency (69-71)."""
    totals: dict[str, int] = {}
    for line in path.read_bytes().decode("latin-1").splitlines():
        if line.startswith("15"):
            currency = line[68:71]
            totals[currency] = totals.get(currency, 0) + int(line[50:68])
    return totals


# -- Nets OCR giro: the amount items (record 30) ------------------------------------------


def nets_ocr(path: Path, case: dict) -> int:
    """Σ of the amount items of OCR giro assignments (service code 09, record type 30):
    amount in positions 33-49 (øre), a '-' in position 32 makes it negative."""
    total = 0
    for line in path.read_bytes().decode("latin-1").splitlines():
        if line.startswith("NY09") and line[6:8] == "30":
            amount = int(line[32:49])
            total += -amount if line[31] == "-" else amount
    return total


# -- a cash register's SIE file: the #TRANS rows of one account ----------------------------

_SIE_TRANS = re.compile(r'^\s*#TRANS\s+"?(\d+)"?\s+\{[^}]*\}\s+"?(-?\d*(?:\.\d*)?)"?', re.MULTILINE)


def sie_trans(path: Path, case: dict) -> int | Fraction:
    """Σ of the #TRANS amounts on the account `sie_account` of the case (default: the
    total's account), as the file writes them (a file with #RTRANS/#BTRANS needs more)."""
    account = str(case.get("sie_account") or case["total"]["account"])
    text = path.read_bytes().decode("latin-1")
    assert "#RTRANS" not in text and "#BTRANS" not in text
    return sum(
        (_ore(amount) for acct, amount in _SIE_TRANS.findall(text) if acct == account), start=0
    )


RECIPES = {
    "mt940": mt940,
    "camt": camt,
    "bgmax": bgmax,
    "nets_ocr": nets_ocr,
    "sie_trans": sie_trans,
}
