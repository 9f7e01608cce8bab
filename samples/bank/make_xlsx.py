"""Author the xlsx net-bank samples in samples/bank/netbank/ (run from anywhere):

    python samples/bank/make_xlsx.py

Each workbook copies one bank's layout as bokfor's notes describe it (see the profile
YAML files in src/bokfor/sources/profiles/): January 2026 for Exempelbolaget i Sverige AB,
the same transactions as the CSV samples. The archives are rewritten with fixed member
times, so running the script again gives byte-identical files.

- handelsbanken.xlsx: eight rows above the header, dates as text, amounts as numbers, and
  the sheet size declared as A1:A1 as Handelsbanken's files do since 2026.
- skandia.xlsx: sheet Kontoutdrag, period in B1, the account right of a Kontonummer label,
  dates as date cells, amounts as text with no-break-space thousands and a decimal comma.
- seb.xlsx: SEB's six columns on row 1, dates as date cells, amounts as numbers.
- nordea_old.xlsx: Nordea's old export.xls as LibreOffice saves it as xlsx: sheet
  Transactions, dates and Swedish amounts ("-1.249,00") as text, two pending rows.
- banknorwegian.xlsx: Bank Norwegian's short layout (a Finnish account, EUR), sheet
  `transactions`, dates as date cells, amounts as numbers, oldest first.
- banknorwegian_card.xlsx: the Swedish card statement's long layout: a purchase in USD
  with its own amount and rate, the amount in the card's SEK.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl

OUT = Path(__file__).resolve().parent / "netbank"
OPENING = 5231417  # öre, 1 January 2026

# (booking date, transaction date, amount in öre, kind), oldest first.
TRANSACTIONS = [
    ("2026-01-02", "2025-12-31", -124900, "card_kjell"),
    ("2026-01-07", "2026-01-07", 804646, "stripe"),
    ("2026-01-09", "2026-01-09", 341250, "zettle"),
    ("2026-01-12", "2026-01-12", 1250000, "bg_a"),
    ("2026-01-12", "2026-01-12", 625000, "bg_b"),
    ("2026-01-12", "2026-01-12", -1843000, "skatt"),
    ("2026-01-14", "2026-01-14", 439262, "stripe"),
    ("2026-01-16", "2026-01-16", -35000, "swish"),
    ("2026-01-19", "2026-01-17", -3900, "card_press"),
    ("2026-01-19", "2026-01-17", -3900, "card_press"),
    ("2026-01-23", "2026-01-23", -2850000, "lon"),
    ("2026-01-30", "2026-01-30", -9500, "fee"),
]

HANDELSBANKEN = {
    "card_kjell": "KJELL & COMPANY",
    "stripe": "STRIPE PAYMENTS EUROPE",
    "zettle": "ZETTLE",
    "bg_a": "BG-INB KUNDEN I NORR AB",
    "bg_b": "BG-INB FIKA & BULLAR HB",
    "skatt": "SKATTEVERKET",
    "swish": "SWISH ANNA SVENSSON",
    "card_press": "PRESSBYRÅN CENTRAL",
    "lon": "LÖN JANUARI",
    "fee": "AVGIFT",
}
SKANDIA = {
    "card_kjell": "Kortköp KJELL & COMPANY",
    "stripe": "Insättning STRIPE PAYMENTS EUROPE",
    "zettle": "Insättning ZETTLE",
    "bg_a": "Bankgiro Kunden i Norr AB",
    "bg_b": "Bankgiro Fika & Bullar HB",
    "skatt": "Skatteverket",
    "swish": "Swish Anna Svensson",
    "card_press": "Kortköp PRESSBYRÅN CENTRAL",
    "lon": "Lön januari",
    "fee": "Avgift",
}
SEB = {
    "card_kjell": "KJELL & COMP/25-12-31",
    "stripe": "STRIPE PAYMENTS EUROPE",
    "zettle": "ZETTLE PAYOUT",
    "bg_a": "KUNDEN I NORR AB",
    "bg_b": "FIKA & BULLAR HB",
    "skatt": "SKATTEVERKET",
    "swish": "46701234567",
    "card_press": "PRESSBYRÅN C/26-01-17",
    "lon": "LÖN JANUARI",
    "fee": "AVGIFT FÖRETAGSPAKET",
}
SEB_BATCH = {
    "2026-01-02": "5484381424",
    "2026-01-07": "5484392211",
    "2026-01-09": "5484401187",
    "2026-01-12": "5484412095",
    "2026-01-14": "5484420033",
    "2026-01-16": "5484431560",
    "2026-01-19": "5484440318",
    "2026-01-23": "5484452277",
    "2026-01-30": "5484479904",
}


def newest_first() -> list[tuple[str, str, int, str, int]]:
    """(booking, transaction date, amount, kind, balance after), newest first."""
    rows, balance = [], OPENING
    for booking, day, amount, kind in TRANSACTIONS:
        balance += amount
        rows.append((booking, day, amount, kind, balance))
    return rows[::-1]


def kronor(ore: int) -> float:
    """The float Excel stores for an amount (as a bank's export writes it)."""
    return ore / 100


def swedish(ore: int) -> str:
    """'-1 249,00' with a no-break space between thousands (Skandia's text cells)."""
    whole = f"{abs(ore) // 100:,}".replace(",", "\u00a0")
    return ("-" if ore < 0 else "") + f"{whole},{abs(ore) % 100:02d}"


def handelsbanken() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kontotransaktioner"
    ws["A1"] = "Handelsbanken"
    ws["A2"] = "2026-02-01, 09:12"
    ws["A4"] = "Allkonto Företag 612 345 678"
    ws["A6"] = "Kontoform: Företagskonto"
    ws["A7"] = "Period: 2026-01-01 - 2026-01-31"
    ws.append([])  # row 8 stays empty
    ws.append(["Reskontradatum", "Transaktionsdatum", "Text", "Belopp", "Saldo"])
    for booking, day, amount, kind, balance in newest_first():
        ws.append([booking, day, HANDELSBANKEN[kind], kronor(amount), kronor(balance)])
    return wb


def skandia() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kontoutdrag"
    ws["A1"] = "Period"
    ws["B1"] = "2026-01-01 - 2026-01-31"
    ws["A2"] = "Kontonummer"
    ws["B2"] = "9150-123.456-7"
    ws["A3"] = "Kontonamn"
    ws["B3"] = "Företagskonto"
    ws.append([])
    ws.append(["Bokf. datum", "Beskrivning", "Belopp", "Saldo"])
    for booking, _day, amount, kind, balance in newest_first():
        ws.append(
            [dt.datetime.fromisoformat(booking), SKANDIA[kind], swedish(amount), swedish(balance)]
        )
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd"
    return wb


def sheet(title: str, header: list[str]) -> tuple[openpyxl.Workbook, object]:
    """A workbook whose one sheet has `title` and the header row `header`."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    return wb, ws


def seb() -> openpyxl.Workbook:
    wb, ws = sheet(
        "Kontohändelser",
        ["Bokföringsdatum", "Valutadatum", "Verifikationsnummer", "Text", "Belopp", "Saldo"],
    )
    for booking, _day, amount, kind, balance in newest_first():
        day = dt.datetime.fromisoformat(booking)
        ws.append([day, day, SEB_BATCH[booking], SEB[kind], kronor(amount), kronor(balance)])
        for column in (1, 2):
            ws.cell(ws.max_row, column).number_format = "yyyy-mm-dd"
    return wb


NORDEA_OLD = {
    "card_kjell": "Kortköp 251231 KJELL & COMPANY",
    "stripe": "Insättning STRIPE PAYMENTS",
    "zettle": "Insättning ZETTLE",
    "bg_a": "Bankgiro Kunden i Norr AB",
    "bg_b": "Bankgiro Fika & Bullar HB",
    "skatt": "Betalning BG 5050-1055 Skatteverket",
    "swish": "Swish betalning ANNA SVENSSON",
    "card_press": "Kortköp 260117 PRESSBYRÅN",
    "lon": "Lön januari",
    "fee": "Vardagspaket Månadspris kort",
}


def swedish_dot(ore: int) -> str:
    """'-1.249,00': dot thousands, decimal comma (Nordea's old export)."""
    return swedish(ore).replace("\u00a0", ".")


def nordea_old() -> openpyxl.Workbook:
    wb, ws = sheet("Transactions", ["Datum", "Transaktion", "Kategori", "Belopp", "Saldo"])
    ws.append(["2026-01-31", "Reservation Kortköp ICA NÄRA ÖSTERMALM", None, "-212,40", None])
    ws.append(["2026-01-31", "Reservation Kortköp SJ AB", None, "-89,00", None])
    for booking, _day, amount, kind, balance in newest_first():
        ws.append([booking, NORDEA_OLD[kind], None, swedish_dot(amount), swedish_dot(balance)])
    return wb


BANK_NORWEGIAN = {
    "card_kjell": ("KJELL & COMPANY", "Köp"),
    "stripe": ("STRIPE PAYMENTS EUROPE", "Insättning"),
    "zettle": ("ZETTLE PAYOUT", "Insättning"),
    "bg_a": ("KUNDEN I NORR AB", "Insättning"),
    "bg_b": ("FIKA & BULLAR HB", "Insättning"),
    "skatt": ("SKATTEVERKET", "Betalning"),
    "swish": ("SWISH ANNA SVENSSON", "Köp"),
    "card_press": ("PRESSBYRAN NEWARK", "Köp"),
    "lon": ("LÖN JANUARI", "Betalning"),
    "fee": ("AVGIFT KORT", "Avgift"),
}
BANK_NORWEGIAN_FI = {
    "card_kjell": "VERKKOKAUPPA.COM",
    "stripe": "STRIPE PAYMENTS EUROPE",
    "zettle": "ZETTLE PAYOUT",
    "bg_a": "ASIAKAS OY",
    "bg_b": "KAHVILA HELMI",
    "skatt": "VEROHALLINTO",
    "swish": "MOBILEPAY ANNA",
    "card_press": "R-KIOSKI",
    "lon": "PALKKA TAMMIKUU",
    "fee": "PALVELUMAKSU",
}


def banknorwegian() -> openpyxl.Workbook:
    wb, ws = sheet(
        "transactions",
        ["TransactionDate", "Text", "Type", "Currency", "Amount", "BookDate", "ValueDate"],
    )
    for booking, day, amount, kind in TRANSACTIONS:
        kind_fi = "Maksu" if amount > 0 else "Osto"
        ws.append(
            [
                dt.datetime.fromisoformat(day),
                BANK_NORWEGIAN_FI[kind],
                kind_fi,
                "EUR",
                kronor(amount),
                dt.datetime.fromisoformat(booking),
                dt.datetime.fromisoformat(booking),
            ]
        )
    return wb


def banknorwegian_card() -> openpyxl.Workbook:
    wb, ws = sheet(
        "transactions",
        [
            "TransactionDate",
            "Text",
            "Type",
            "Currency Amount",
            "Currency Rate",
            "Currency",
            "Amount",
            "Merchant Area",
            "Merchant Category",
            "BookDate",
            "ValueDate",
        ],
    )
    for booking, day, amount, kind in TRANSACTIONS:
        text, kind_se = BANK_NORWEGIAN[kind]
        # The Pressbyrån purchases were made in the US: 3.90 USD at 10 SEK each.
        own, rate, currency = (
            (amount / 1000, 10, "USD") if kind == "card_press" else (kronor(amount), 1, "SEK")
        )
        ws.append(
            [
                dt.datetime.fromisoformat(day),
                text,
                kind_se,
                own,
                rate,
                currency,
                kronor(amount),
                "Stockholm",
                "",
                dt.datetime.fromisoformat(booking),
                dt.datetime(2026, 2, 28),
            ]
        )
    return wb


_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')


def save(wb: openpyxl.Workbook, path: Path, *, declare_a1: bool = False) -> None:
    """Save with fixed metadata and member times; optionally declare the size A1:A1."""
    fixed = dt.datetime(2026, 2, 1, 9, 12)
    wb.properties.creator = "Exempelbolaget i Sverige AB"
    wb.properties.created = wb.properties.modified = fixed
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if declare_a1 and info.filename.startswith("xl/worksheets/sheet"):
                data, count = _DIMENSION.subn(b'<dimension ref="A1:A1"/>', data)
                assert count == 1, "openpyxl no longer writes <dimension>"
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>",
                    b'<dcterms:modified xsi:type="dcterms:W3CDTF">'
                    b"2026-02-01T09:12:00Z</dcterms:modified>",
                    data,
                )
            member = zipfile.ZipInfo(info.filename, date_time=(2026, 2, 1, 9, 12, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, data)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    save(handelsbanken(), OUT / "handelsbanken.xlsx", declare_a1=True)
    save(skandia(), OUT / "skandia.xlsx")
    save(seb(), OUT / "seb.xlsx")
    save(nordea_old(), OUT / "nordea_old.xlsx")
    save(banknorwegian(), OUT / "banknorwegian.xlsx")
    save(banknorwegian_card(), OUT / "banknorwegian_card.xlsx")
    for name in (
        "handelsbanken.xlsx",
        "skandia.xlsx",
        "seb.xlsx",
        "nordea_old.xlsx",
        "banknorwegian.xlsx",
        "banknorwegian_card.xlsx",
    ):
        print(OUT / name)


if __name__ == "__main__":
    main()
