"""The corpus's Stripe exports' and settlement reports' own totals, from their raw bytes
(never through bokfor's readers). Each recipe gives the net movement of the account its case
checks, in öre of the file's own currency: for a Stripe export what reached the Stripe
balance (the clearing account); for a settlement report what was paid out to the bank, and
(`*_clearing`) what stays on the clearing account: every movement into the provider's
balance (sales, refunds, fees kept back, chargebacks, reserves, other postings) less the
payouts, 0 for a report whose settlements are all paid out, else the net of the movements
still waiting for their payout. See tests/corpus/harness.py."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

from tests.corpus.sheets import first_sheet


def _ore(text: str, decimal_mark: str = ".") -> int:
    """'1234.50' -> 123450 (the files here have two decimals at most)."""
    text = text.strip()
    if decimal_mark == ",":
        text = text.replace(".", "").replace(",", ".")
    value = Decimal(text or "0") * 100
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} has more than two decimals")
    return int(value)


def _csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


# -- Stripe ----------------------------------------------------------------------------


def stripe_payments(path: Path, case: dict) -> int:
    """Payments export: per charge that moved money (Paid, Refunded, succeeded; captured),
    the settlement amount less Stripe's fee and its tax, less what was refunded."""
    total = 0
    for row in _csv(path):
        if row["Status"].lower() not in ("paid", "refunded", "succeeded"):
            continue
        if row["Captured"].lower() != "true":
            continue
        gross = row.get("Converted Amount") or row["Amount"]
        refunded = row.get("Converted Amount Refunded") or row.get("Amount Refunded") or "0"
        tax = row.get("Taxes On Fee") or row.get("Tax") or "0"
        total += _ore(gross) - _ore(row["Fee"]) - _ore(tax) - _ore(refunded)
    return total


def stripe_report(path: Path, case: dict) -> int:
    """Itemized balance change report: the sum of `net` (every row is a balance movement)."""
    return sum(_ore(row["net"]) for row in _csv(path))


# -- settlements: what was paid out to the bank -----------------------------------------


def vipps_csv(path: Path, case: dict) -> int:
    """The SettlementInfo rows' Net. Vipps' example writes it `16450,62` without quotes, so
    the row has one field more than its header: Net is then the two fields before the
    NumberOfTransactions at the end, joined by the comma."""
    text = path.read_bytes().decode("utf-8")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("SettlementInfo,SalesUnitName"))
    names = header.split(",")
    total = 0
    for line in lines:
        if not line.startswith("SettlementInfo,") or line == header:
            continue
        fields = line.split(",")
        net = names.index("Net")
        if len(fields) == len(names):
            total += _ore(fields[net])
        elif len(fields) == len(names) + 1:
            total += _ore(f"{fields[net]}.{fields[net + 1]}")
        else:
            raise ValueError(f"unexpected SettlementInfo row: {line}")
    return total


def vipps_csv_clearing(path: Path, case: dict) -> int:
    """TransactionInfo rows: Gross + Fee + Refund, as the report writes them (its example's
    refund row has a Net that leaves the Refund out); less every SettlementInfo's Net."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"))))
    header = next(r for r in rows if r[:2] == ["TransactionInfo", "SalesDate"])
    at = {name: header.index(name) for name in ("Gross", "Fee", "Refund")}
    moved = sum(
        _ore(row[at[n]])
        for row in rows
        if row[:1] == ["TransactionInfo"] and row != header
        for n in at
    )
    return moved - vipps_csv(path, case)


def vipps_xml(path: Path, case: dict) -> int:
    """SettlementReport: the sum of every settlement's SettledAmount (the payout)."""
    root = ET.fromstring(path.read_bytes())
    return sum(
        _ore(node.text or "0")
        for node in root.iter()
        if node.tag.rsplit("}", 1)[-1] == "SettledAmount"
    )


def vipps_xml_clearing(path: Path, case: dict) -> int:
    """Every TransactionInfo's capture and refund, less its fee when the settlement is Net
    (kept back; a Gross settlement's fees are invoiced, outside the balance); less every
    SettledAmount."""

    def local(node: ET.Element) -> str:
        return node.tag.rsplit("}", 1)[-1]

    def value(node: ET.Element, name: str) -> int:
        return sum(_ore(c.text or "0") for c in node if local(c) == name)

    total = 0
    for settlement in ET.fromstring(path.read_bytes()).iter():
        if local(settlement) != "SettlementInfo":
            continue
        net = next(c.text for c in settlement if local(c) == "SettlementType").lower() == "net"
        for txn in settlement:
            if local(txn) == "TransactionInfo":
                total += (
                    value(txn, "TransactionCaptureAmount")
                    + value(txn, "TransactionRefundAmount")
                    - (value(txn, "TransactionFeeAmount") if net else 0)
                )
        total -= value(settlement, "SettledAmount")
    return total


def vipps_xlsx(path: Path, case: dict) -> int:
    """Oppgjørsrapport: the sum of Oppgjørssum on the "Til utbetaling netto" rows."""
    rows = first_sheet(path)
    header = next(row for row in rows if "Oppgjørssum" in row)
    at = header.index("Oppgjørssum")
    return sum(
        _ore(row[at])
        for row in rows
        if row and row[0] == "Til utbetaling netto" and len(row) > at and row[at]
    )


def vipps_xlsx_clearing(path: Path, case: dict) -> int:
    """Every transaction row's Brutto + Gebyr, less every "Til utbetaling netto" row's
    Oppgjørssum."""
    rows = first_sheet(path)
    header = next(row for row in rows if "Oppgjørssum" in row)
    gross, fee = header.index("Brutto"), header.index("Gebyr")
    moved = sum(
        _ore(row[gross]) + _ore(row[fee])
        for row in rows[rows.index(header) + 1 :]
        if len(row) > fee and row[0] != "Til utbetaling netto" and row[gross]
    )
    return moved - vipps_xlsx(path, case)


def mobilepay(path: Path, case: dict) -> int:
    """MyShop transfer overview: the sum of the Transfer events (written positive)."""
    return sum(_ore(row["Amount"], ",") for row in _csv(path, ";") if row["Event"] == "Transfer")


def mobilepay_clearing(path: Path, case: dict) -> int:
    """Every other event's Amount (Payment +, Refund and Retainable −), less the Transfers."""
    return sum(
        _ore(row["Amount"], ",") for row in _csv(path, ";") if row["Event"] != "Transfer"
    ) - mobilepay(path, case)


def clearhaus(path: Path, case: dict) -> int:
    """Clearhaus settlements: the payout of every settled period (the open one has none)."""
    return sum(_ore(row["payout_amount"]) for row in _csv(path) if row["settled"] == "true")


def clearhaus_clearing(path: Path, case: dict) -> int:
    """Each settled period's own net (summary_net: its sales, refunds, fees and other
    postings), less its reserve and its payout; the open period is not booked."""
    return sum(
        _ore(row["summary_net"])
        - _ore(row.get("reserve_amount") or "0")
        - _ore(row["payout_amount"])
        for row in _csv(path)
        if row["settled"] == "true"
    )


RECIPES = {
    "stripe_payments": stripe_payments,
    "stripe_report": stripe_report,
    "vipps_csv": vipps_csv,
    "vipps_csv_clearing": vipps_csv_clearing,
    "vipps_xml": vipps_xml,
    "vipps_xml_clearing": vipps_xml_clearing,
    "vipps_xlsx": vipps_xlsx,
    "vipps_xlsx_clearing": vipps_xlsx_clearing,
    "mobilepay": mobilepay,
    "mobilepay_clearing": mobilepay_clearing,
    "clearhaus": clearhaus,
    "clearhaus_clearing": clearhaus_clearing,
}
