"""ISO 20022 camt.052/053/054 reader: the samples row by row, versions, detection, every
bad-input error with its exact message, untrusted XML, keys, streaming."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Row
from bokfor.errors import InputError
from bokfor.sources import bank
from bokfor.sources.camt import SOURCE

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_053 = ROOT / "samples" / "bank" / "camt053_seb.xml"
SAMPLE_054 = ROOT / "samples" / "bank" / "camt054_bankgiro.xml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "camt"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
IBAN = "SE4550000000058398257466"
REDOWNLOAD = "download the file again from the bank and give bokfor that file unchanged."
BATCH_HINT = (
    " Fix: the bank's file was altered or cut: "
    + REDOWNLOAD
    + " If it still does not add up, ask the bank for a corrected statement."
)
ENTITY_HINT = " Fix: banks never send entities; use the file exactly as the bank delivered it."


def read_all(path: Path) -> list[Row | Notice]:
    return list(SOURCE.read(path, STOCKHOLM))


def rows(path: Path) -> list[Row]:
    return [r for r in read_all(path) if isinstance(r, Row)]


def notices(path: Path) -> list[str]:
    return [str(r) for r in read_all(path) if isinstance(r, Notice)]


def error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_all(path)
    return str(info.value)


def key(ref: str) -> str:
    """`ref` is the booking date and the bank's reference: `2026-01-05:2026010590004711001`."""
    return f"bank:{IBAN}:{ref}"


# --- the camt.053 sample -------------------------------------------------------------------


def test_sample_053_rows() -> None:
    got = rows(SAMPLE_053)
    assert [(r.key, r.date, r.amounts["amount"], r.origin.line) for r in got] == [
        (key("2026-01-02:2026010250001234"), dt.date(2026, 1, 2), 1234567, 75),
        (key("2026-01-05:2026010590004711001"), dt.date(2026, 1, 5), 125000, 121),
        (key("2026-01-05:2026010590004711002"), dt.date(2026, 1, 5), 340000, 140),
        (key("2026-01-05:2026010590004711003"), dt.date(2026, 1, 5), 87550, 159),
        (key("2026-01-08:2026010850002210"), dt.date(2026, 1, 8), 432100, 181),
        (key("2026-01-12:2026011240000981"), dt.date(2026, 1, 12), -1850000, 207),
        (key("2026-01-15:2026011570015533"), dt.date(2026, 1, 15), -124900, 233),
        (key("2026-01-18:2026011860007788"), dt.date(2026, 1, 18), 45000, 247),
        (key("2026-01-20:2026012040003301"), dt.date(2026, 1, 20), -230000, 274),
        (key("2026-01-21:2026012140003302"), dt.date(2026, 1, 21), 230000, 308),
        (key("2026-01-23:2026012340009120"), dt.date(2026, 1, 23), -3200000, 335),
        (key("2026-01-30:2026013010000042"), dt.date(2026, 1, 30), -12500, 362),
    ]
    assert all(r.source == bank.SECTION and r.origin.file == str(SAMPLE_053) for r in got)
    assert {r.fields["format"] for r in got} == {"camt.053"}
    assert {r.fields["account"] for r in got} == {IBAN}
    assert {r.fields["currency"] for r in got} == {"SEK"}
    # Opening 85 000,00 + the booked rows = closing 55 768,17: no balance notice.
    assert 8500000 + sum(r.amounts["amount"] for r in got) == 5576817
    assert [r.fields["text"] for r in got] == [
        "STRIPE PAYMENTS EUROPE",
        "BG 5402-6380 INSÄTTNING",
        "BG 5402-6380 INSÄTTNING",
        "BG 5402-6380 INSÄTTNING",
        "ZETTLE UTBETALNING 2026-01-07 ZETTLE",
        "Skatt januari 2026 SKATTEKONTO",
        "CLAS OHLSON/26-01-13",
        "Faktura 1042 Swish inbetalning ANNA LINDQVIST",
        "Nordiska Kök AB",
        "Mottagarens bankgiro är avslutat RETUR Nordiska Kök AB",
        "Lön januari LÖN",
        "PRIS ENL SPEC",
    ]


def test_sample_053_the_bankgiro_batch() -> None:
    batch = rows(SAMPLE_053)[1:4]
    assert [r.fields["reference"] for r in batch] == ["10026102", "47112073", "202601142"]
    assert all(bank.is_ocr(str(r.fields["reference"])) for r in batch)
    assert [r.fields["counterparty"] for r in batch] == [
        "Kafé Söder AB",
        "Bröd & Bönor HB",
        "Ängens Trädgård AB",
    ]
    assert [r.fields["counterparty_account"] for r in batch] == [
        "5402-9936",
        "5877-1203",
        "5133-4410",
    ]
    assert {r.fields["entry"] for r in batch} == {"2026010590004711"}
    assert sum(r.amounts["amount"] for r in batch) == 552550  # the statement line
    assert {r.fields["end_to_end_id"] for r in batch} == {None}  # NOTPROVIDED
    assert {r.fields["transaction_code"] for r in batch} == {"PMNT/RCDT/DMCT"}


def test_sample_053_fields_of_single_entries() -> None:
    by_ref = {r.fields["bank_reference"]: r for r in rows(SAMPLE_053)}
    stripe = by_ref["2026010250001234"]
    assert dict(stripe.fields) == {
        "format": "camt.053",
        "account": IBAN,
        "currency": "SEK",
        "value_date": dt.date(2026, 1, 2),
        "text": "STRIPE PAYMENTS EUROPE",
        "reference": None,
        "counterparty": "Stripe Technology Europe Ltd",
        "counterparty_account": "IE29AIBK93115212345678",
        "bank_reference": "2026010250001234",
        "end_to_end_id": "po_1QszKGSx4hKw9PzN013kQShJ",
        "transaction_code": "PMNT/RCDT/ESCT",
        "entry": "2026010250001234",
        "reversal": None,
    }
    card = by_ref["2026011570015533"]  # an entry without TxDtls is one row
    assert card.fields["value_date"] == dt.date(2026, 1, 13)  # the purchase day
    assert card.fields["counterparty"] is None
    assert card.fields["transaction_code"] == "PMNT/CCRD/POSD"
    swish = by_ref["2026011860007788"]
    assert swish.fields["counterparty"] == "Anna Lindqvist"
    assert swish.fields["counterparty_account"] == "46701234567"
    salary = by_ref["2026012340009120"]
    assert (salary.fields["counterparty"], salary.fields["value_date"]) == (
        "Märta Sjöberg",
        dt.date(2026, 1, 25),
    )
    assert by_ref["2026011240000981"].fields["counterparty"] == "Skatteverket"
    assert by_ref["2026012040003301"].fields["reference"] == "3001880"


def test_reversal_keeps_the_sign_of_its_credit_debit_mark() -> None:
    by_ref = {r.fields["bank_reference"]: r for r in rows(SAMPLE_053)}
    paid, returned = by_ref["2026012040003301"], by_ref["2026012140003302"]
    assert (paid.amounts["amount"], paid.fields["reversal"]) == (-230000, None)
    # CRDT + RvslInd=true: a debit reversed, money back into the account.
    assert (returned.amounts["amount"], returned.fields["reversal"]) == (230000, "true")
    # The parties are those of the payment it reverses: the creditor.
    assert returned.fields["counterparty"] == "Nordiska Kök AB"


def test_sample_053_pending_entry_left_out_with_one_notice() -> None:
    assert notices(SAMPLE_053) == [
        f"{SAMPLE_053}:376: 1 entry not booked by the bank left out (PDNG 1); only booked "
        "(BOOK) entries are read"
    ]
    assert not any("SPOTIFY" in str(r.fields["text"]) for r in rows(SAMPLE_053))


# --- the camt.054 sample -------------------------------------------------------------------


def test_sample_054_rows() -> None:
    got = rows(SAMPLE_054)
    assert notices(SAMPLE_054) == []
    assert [
        (
            r.key,
            r.date,
            r.amounts["amount"],
            r.fields["reference"],
            r.fields["entry"],
            r.origin.line,
        )
        for r in got
    ] == [
        (
            key("2026-01-05:2026010590004711001"),
            dt.date(2026, 1, 5),
            125000,
            "10026102",
            "2026010590004711",
            44,
        ),
        (
            key("2026-01-05:2026010590004711002"),
            dt.date(2026, 1, 5),
            340000,
            "47112073",
            "2026010590004711",
            58,
        ),
        (
            key("2026-01-05:2026010590004711003"),
            dt.date(2026, 1, 5),
            87550,
            "202601142",
            "2026010590004711",
            72,
        ),
        (
            key("2026-01-16:2026011690005120001"),
            dt.date(2026, 1, 16),
            199000,
            "5500129",
            "2026011690005120",
            106,
        ),
        (
            key("2026-01-16:2026011690005120002"),
            dt.date(2026, 1, 16),
            92400,
            "RF18539007547034",
            "2026011690005120",
            120,
        ),
        (
            key("2026-01-19:2026011990001007001"),
            dt.date(2026, 1, 19),
            78000,
            "77001238",
            "2026011990001007",
            136,
        ),
    ]
    assert {r.fields["format"] for r in got} == {"camt.054"}
    assert bank.is_rf("RF18539007547034")
    assert [r.fields["counterparty"] for r in got] == [
        "Kafé Söder AB",
        "Bröd & Bönor HB",
        "Ängens Trädgård AB",
        "Örebro Catering AB",
        "Göran Falk",
        "Hälsokost i Malmö AB",
    ]
    assert got[3].fields["end_to_end_id"] == "INV-5500129"


def test_the_same_deposit_in_053_and_054_has_the_same_keys() -> None:
    in_053 = {r.key: r for r in rows(SAMPLE_053) if r.fields["entry"] == "2026010590004711"}
    in_054 = {r.key: r for r in rows(SAMPLE_054) if r.fields["entry"] == "2026010590004711"}
    assert in_053.keys() == in_054.keys() and len(in_053) == 3
    for k, row in in_053.items():
        assert (row.amounts, row.fields["reference"]) == (
            in_054[k].amounts,
            in_054[k].fields["reference"],
        )


# --- versions, prefixes, balances ----------------------------------------------------------


def test_v08_with_prefix_status_code_party_and_own_transaction_amounts() -> None:
    path = FIXTURES / "v08_prefixed.xml"
    got = rows(path)
    assert [(r.key, r.date, r.amounts["amount"], r.origin.line) for r in got] == [
        ("bank:50000583982575:2026-01-15:EU-20260115-0001/1", dt.date(2026, 1, 15), 26025, 36),
        ("bank:50000583982575:2026-01-15:EU-20260115-0001/2", dt.date(2026, 1, 15), -1000, 50),
    ]
    first, second = got
    # BookgDt/DtTm 23:30 UTC on the 14th is the 15th in Stockholm.
    assert first.fields["currency"] == "EUR"
    assert first.fields["counterparty"] == "Müller GmbH"  # Dbtr/Pty/Nm
    assert first.fields["counterparty_account"] == "DE89370400440532013000"
    assert first.fields["text"] == "Rechnung 2026-17 Danke"
    assert first.fields["reference"] == "RF18539007547034"
    assert first.fields["transaction_code"] == "SEPA-IN"  # BkTxCd/Prtry/Cd
    assert first.fields["end_to_end_id"] == "E2E-A"
    assert second.fields["counterparty"] == "SEB Avgifter"  # Cdtr/Pty/Nm of a debit
    assert {r.fields["entry"] for r in got} == {"EU-20260115-0001"}
    assert notices(path) == [
        f"{path}:61: 1 entry not booked by the bank left out (INFO 1); "
        "only booked (BOOK) entries are read"
    ]


def test_balance_and_summary_mismatch_are_notices() -> None:
    path = FIXTURES / "balance_mismatch.xml"
    assert [r.amounts["amount"] for r in rows(path)] == [120000, 20000]
    assert notices(path) == [
        f"{path}:5: the balances of statement 'FIX-20260131' do not add up: opening balance "
        "(PRCD) -500,00 + booked entries 1\u00a0400,00 = 900,00, but the closing balance (CLBD) "
        "is 1\u00a0000,00; an entry may be missing from the file",
        f"{path}:5: the summary of statement 'FIX-20260131' (TxsSummry/TtlNtries) says 3 "
        "entries, but the file holds 2",
        f"{path}:5: the summary of statement 'FIX-20260131' (TxsSummry/TtlCdtNtries) says 2 "
        "entries of 1\u00a0200,00, but the file holds 2 of 1\u00a0400,00",
    ]


def _statement(entries: str, stmt_id: str = "S1", balances: str = "") -> str:
    return (
        f"<Stmt><Id>{stmt_id}</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>{balances}"
        f"{entries}</Stmt>"
    )


def _entry(
    amount: str, ref: str = "", sign: str = "CRDT", text: str = "x", day: str = "2026-01-10"
) -> str:
    refs = f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""
    return (
        f'<Ntry><Amt Ccy="SEK">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{day}</Dt></BookgDt>{refs}<AddtlNtryInf>{text}</AddtlNtryInf></Ntry>"
    )


def _bal(code: str, amount: str) -> str:
    return (
        f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="SEK">{amount}</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-01-10</Dt></Dt></Bal>"
    )


def _document(body: str, message: str = "BkToCstmrStmt", version: str = "camt.053.001.02") -> str:
    return (
        f'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}">'
        f"<{message}>{body}</{message}></Document>\n"
    )


def test_each_stmt_block_is_checked_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "pages.xml"
    path.write_text(
        _document(
            _statement(_entry("10.00", "A"), "P1", _bal("OPBD", "0.00") + _bal("CLBD", "10.00"))
            + _statement(_entry("5.00", "B"), "P2", _bal("OPBD", "10.00") + _bal("CLBD", "16.00"))
        )
    )
    assert [r.key for r in rows(path)] == [key("2026-01-10:A"), key("2026-01-10:B")]
    assert notices(path) == [
        f"{path}:2: the balances of statement 'P2' do not add up: opening balance (OPBD) "
        "10,00 + booked entries 5,00 = 15,00, but the closing balance (CLBD) is 16,00; an "
        "entry may be missing from the file"
    ]


def test_camt052_report_and_occurrence_keys_without_references(tmp_path: Path) -> None:
    path = tmp_path / "intraday.xml"
    body = _statement(_entry("99.00", text="KORTKÖP") * 2).replace("Stmt>", "Rpt>")
    path.write_text(_document(body, "BkToCstmrAcctRpt", "camt.052.001.02"))
    got = rows(path)
    assert [r.fields["format"] for r in got] == ["camt.052", "camt.052"]
    # No reference: keyed like every id-less bank row (bank.IdlessKeys), the account first.
    assert got[0].key.startswith("bank:SE4550000000058398257466:") and got[0].key.endswith("#1")
    assert got[1].key == got[0].key[:-1] + "2"  # two identical rows stay two rows
    assert got[0].former[0].startswith("camt:")  # its key in a ledger of schema 3
    assert got[0].fields["entry"] == got[0].key


# --- keys ----------------------------------------------------------------------------------


def test_keys_are_stable_and_an_added_transaction_keeps_the_old_ones(tmp_path: Path) -> None:
    assert [r.key for r in rows(SAMPLE_053)] == [r.key for r in rows(SAMPLE_053)]
    entries = _entry("10.00", text="a") + _entry("10.00", text="a") + _entry("20.00", "R9")
    before, after = tmp_path / "before.xml", tmp_path / "after.xml"
    before.write_text(_document(_statement(entries)))
    after.write_text(
        _document(
            _statement(
                entries + _entry("10.00", text="a", day="2026-01-10") + _entry("30.00", "R10")
            )
        )
    )
    old, new = [r.key for r in rows(before)], [r.key for r in rows(after)]
    assert new[:3] == old and len(set(new)) == 5


def test_repeated_bank_references_still_give_unique_keys(tmp_path: Path) -> None:
    path = tmp_path / "repeated.xml"
    tx = (
        "<TxDtls><Refs><AcctSvcrRef>SAME</AcctSvcrRef></Refs><AmtDtls><TxAmt>"
        '<Amt Ccy="SEK">{}</Amt></TxAmt></AmtDtls></TxDtls>'
    )
    batch = (
        f'<Ntry><Amt Ccy="SEK">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-01-10</Dt></BookgDt><AcctSvcrRef>SAME</AcctSvcrRef><NtryDtls>"
        f"{tx.format('1.00')}{tx.format('2.00')}</NtryDtls></Ntry>"
    )
    path.write_text(_document(_statement(batch + _entry("5.00", "SAME") * 2)))
    got = [r.key for r in rows(path)]
    assert got[:3] == [key("2026-01-10:SAME/1"), key("2026-01-10:SAME/2"), key("2026-01-10:SAME")]
    assert len(set(got)) == 4 and got[3].endswith("#1")  # the fourth has no ref of its own


# --- detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [SAMPLE_053, SAMPLE_054, *sorted(FIXTURES.glob("*.xml"))], ids=lambda p: p.name
)
def test_detect_by_content(path: Path, tmp_path: Path) -> None:
    expected = path.name != "pain001.xml"
    assert SOURCE.detect(path) is expected
    renamed = tmp_path / "statement.NDA"  # Nordea's extension; the name never matters
    renamed.write_bytes(path.read_bytes())
    assert SOURCE.detect(renamed) is expected


def _others() -> list[Path]:
    files = sorted((ROOT / "samples" / "stripe").glob("*"))
    files += [
        p
        for p in sorted((ROOT / "samples" / "bank").rglob("*"))
        if p.is_file() and p.suffix != ".xml"
    ]
    return files


@pytest.mark.parametrize("path", _others(), ids=lambda p: p.name)
def test_detect_false_for_other_formats(path: Path) -> None:
    assert SOURCE.detect(path) is False


def test_detect_false_for_empty_binary_missing_and_non_camt_xml(tmp_path: Path) -> None:
    empty, binary, other = tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "c.xml"
    empty.write_bytes(b"")
    binary.write_bytes(b"\x00\x01<Document><BkToCstmrStmt>")
    other.write_text('<?xml version="1.0"?><Document><pain/></Document>')
    assert not any(SOURCE.detect(p) for p in (empty, binary, other, tmp_path / "none.xml"))


def test_source_contract() -> None:
    assert (SOURCE.name, SOURCE.section, SOURCE.schema) == ("camt", bank.SECTION, bank.SCHEMA)
    assert "camt.053" in SOURCE.title


# --- bad input: one InputError each, exact messages ---------------------------------------


def test_error_broken_batch_sum() -> None:
    path = FIXTURES / "batch_sum.xml"
    assert error(path) == (
        f"{path}:8: column 'Ntry/Amt': the batch entry 'BG20260112' does not add up: its "
        "transactions (TxDtls) sum to 2\u00a0999,00 SEK, the entry (Ntry/Amt) is 3\u00a0000,00 SEK"
        + BATCH_HINT
    )


def test_error_batch_count() -> None:
    path = FIXTURES / "batch_count.xml"
    assert error(path) == (
        f"{path}:8: column 'Ntry/NtryDtls/Btch/NbOfTxs': the batch entry 'BG20260113' says it "
        "holds 3 transactions (Btch/NbOfTxs) but lists 2" + BATCH_HINT
    )


def test_error_malformed_xml() -> None:
    path = FIXTURES / "malformed.xml"
    assert error(path) == (
        f"{path}:13: column '29': the file is not well-formed XML (mismatched tag) Fix: the "
        "file was cut off or edited; " + REDOWNLOAD
    )


def test_error_entity_expansion_is_refused_before_expanding() -> None:
    path = FIXTURES / "billion_laughs.xml"
    assert error(path) == (
        f"{path}:3: the XML declares entities (entity 'lol'): bokfor refuses them, as they can "
        "expand to gigabytes or read other files" + ENTITY_HINT
    )


def test_error_external_entity() -> None:
    path = FIXTURES / "external_entity.xml"
    assert error(path) == (
        f"{path}:3: the XML declares entities (external entity 'xxe' (file:///etc/passwd)): "
        "bokfor refuses them, as they can expand to gigabytes or read other files" + ENTITY_HINT
    )


def test_error_missing_amount() -> None:
    path = FIXTURES / "missing_amount.xml"
    assert error(path) == (
        f"{path}:8: column 'Ntry/Amt': the entry 'R-NO-AMOUNT' has no amount Fix: " + REDOWNLOAD
    )


def test_error_bad_amount() -> None:
    path = FIXTURES / "bad_amount.xml"
    assert error(path) == (
        f"{path}:9: column 'Ntry/Amt': not an amount: '1 250,00' Fix: ISO 20022 amounts are "
        "written 1234.50 (decimal point, no sign, no thousands separator); " + REDOWNLOAD
    )


def test_three_decimals_are_read_exactly_and_a_part_of_a_cent_is_refused(tmp_path: Path) -> None:
    """8.850 EUR is 8.85 EUR; balances written with five decimals check out. 8.855 cannot be
    booked in cents without rounding: refused, naming the line (issue 20)."""
    path = FIXTURES / "three_decimals.xml"
    out = read_all(path)
    assert [(r.amounts["amount"], r.fields["currency"]) for r in out] == [(-885, "EUR")]
    bad = tmp_path / "bad.xml"
    bad.write_text(path.read_text(encoding="utf-8").replace(">8.850<", ">8.855<"), encoding="utf-8")
    assert error(bad) == (
        f"{bad}:11: column 'Ntry/Amt': the amount 8.855 has a third decimal that is not 0: "
        "bokfor books whole cents and does not round what the bank booked Fix: book this "
        "entry by hand, or ask the bank for the statement in two decimals."
    )


def test_a_batch_in_another_currency_is_one_row_of_its_entry() -> None:
    """A SEK entry whose batch lists EUR payments (and a EUR Btch/TtlAmt): what moved on the
    account is the entry; the SEK split is unknown, so one row, with a notice."""
    path = FIXTURES / "foreign_batch.xml"
    out = read_all(path)
    assert [str(r) for r in out if isinstance(r, Notice)] == [
        f"{path}:16: the 2 transactions of the batch entry 'FXB1-E1' are in EUR, the entry in "
        "SEK: booked as one row of the entry's 2\u00a0310,00 SEK"
    ]
    (row,) = [r for r in out if isinstance(r, Row)]
    assert (
        row.key,
        row.amounts["amount"],
        row.fields["currency"],
        row.fields["text"],
        row.origin.line,
    ) == (key("2026-02-02:FXB1-E1"), -231000, "SEK", "Rechnung 4711 Facture 815", 8)


def test_one_line_document_datetimes_othr_account_and_a_signed_summary_sum() -> None:
    """Wise: the document on one line, DtTm booking dates with an offset (the day in the
    mapping's time zone), an Othr/Id account, and TtlDbtNtries/Sum written -2.00: a summary
    sum is a magnitude, and it checks out."""
    out = read_all(FIXTURES / "one_line_datetimes.xml")
    assert all(isinstance(r, Row) for r in out)
    assert [(r.date, r.amounts["amount"], r.fields["account"], r.origin.line) for r in out] == [
        (dt.date(2026, 2, 4), 750, "70012345", 1),  # 23:35 UTC is 00:35 in Stockholm
        (dt.date(2026, 2, 3), -200, "70012345", 1),
    ]


def test_a_file_without_booked_entries_says_so(tmp_path: Path) -> None:
    """Never "every row was exported before": a file with nothing booked says what it holds,
    as a warning (a day without payments is no error for a nightly job)."""
    text = (FIXTURES / "three_decimals.xml").read_text(encoding="utf-8")
    pending = tmp_path / "pending.xml"
    pending.write_text(text.replace("<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>"), encoding="utf-8")
    read = read_all(pending)
    assert not [r for r in read if isinstance(r, Row)]
    assert (
        f"{pending}: no transactions in this file: its 1 entry is not booked by the bank "
        "(PDNG 1): book the statement that holds them once the bank has booked them"
        in [str(n) for n in read]
    )
    empty = tmp_path / "empty.xml"
    start, end = text.index("<Ntry>"), text.index("</Ntry>") + len("</Ntry>")
    empty.write_text(text[:start] + text[end:], encoding="utf-8")
    read = read_all(empty)
    assert not [r for r in read if isinstance(r, Row)]
    assert f"{empty}: no transactions in this file" in [str(n) for n in read]


def test_error_bad_date() -> None:
    path = FIXTURES / "bad_date.xml"
    assert error(path) == (
        f"{path}:12: column 'Ntry/BookgDt/Dt': not a date: '2026-01-32' Fix: ISO 20022 dates "
        "are written YYYY-MM-DD (times YYYY-MM-DDThh:mm:ss); " + REDOWNLOAD
    )


def test_error_other_iso20022_message() -> None:
    path = FIXTURES / "pain001.xml"
    assert error(path) == (
        f"{path}:3: not a bank statement or notification: the ISO 20022 message is "
        "<CstmrCdtTrfInitn> Fix: bokfor reads camt.053 (BkToCstmrStmt), camt.054 "
        "(BkToCstmrDbtCdtNtfctn), camt.052 (BkToCstmrAcctRpt); ask the bank for one of those."
    )


def test_error_bad_credit_debit_mark_and_empty_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "mark.xml"
    path.write_text(_document(_statement(_entry("1.00", "M1", sign="CR"))))
    assert error(path) == (
        f"{path}:2: column 'Ntry/CdtDbtInd': the entry 'M1' has no valid credit/debit mark "
        "('CR') Fix: CdtDbtInd must be CRDT or DBIT; " + REDOWNLOAD
    )
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    assert error(empty) == (
        f"{empty}:1: column '1': the file is not well-formed XML (no "
        "element found) Fix: the file was cut off or edited; " + REDOWNLOAD
    )
    assert error(tmp_path / "none.xml") == (
        f"{tmp_path / 'none.xml'}: cannot read the file (No such file or directory)"
    )


# --- robustness and memory -----------------------------------------------------------------

_SAMPLE_BYTES = SAMPLE_053.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_samples_give_rows_or_input_error(data: st.DataObject) -> None:
    raw = bytearray(_SAMPLE_BYTES)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        choice = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if choice == "flip":
            raw[i] = data.draw(st.integers(0, 255))
        elif choice == "cut":
            del raw[i : i + data.draw(st.integers(1, 200))]
        else:
            raw[i:i] = data.draw(
                st.sampled_from(
                    [
                        b"<",
                        b"&",
                        b"</Ntry>",
                        b"<Ntry>",
                        b"<TxDtls>",
                        b"-",
                        b"\xc3",
                        b"DBIT",
                        b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
                        b"<Amt Ccy='SEK'>1.001</Amt>",
                    ]
                )
            )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mutated.xml"
        path.write_bytes(bytes(raw))
        SOURCE.detect(path)
        try:
            for item in SOURCE.read(path, STOCKHOLM):
                assert isinstance(item, (Row, Notice))
        except InputError:
            pass


@settings(max_examples=100, deadline=None)
@given(
    blob=st.one_of(
        st.binary(max_size=400), st.binary(max_size=200).map(lambda b: _SAMPLE_BYTES[:300] + b)
    )
)
def test_arbitrary_bytes_give_rows_or_input_error(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.xml"
        path.write_bytes(blob)
        assert SOURCE.detect(path) in (True, False)
        try:
            list(SOURCE.read(path, STOCKHOLM))
        except InputError:
            pass


def test_generated_statement_streams_and_checks_out(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gen_camt import write_camt053
    finally:
        sys.path.pop(0)
    path = tmp_path / "gen.xml"
    write_camt053(path, 300, seed=3)
    items = read_all(path)
    assert not [i for i in items if isinstance(i, Notice)]  # balances and summary add up
    got = [i for i in items if isinstance(i, Row)]
    assert len({r.key for r in got}) == len(got) > 300
    assert all(r.key.startswith(f"bank:{IBAN}:") for r in got)
    # Rows are handed out as the file is read, not after the whole file.
    iterator = SOURCE.read(path, STOCKHOLM)
    assert isinstance(next(iterator), Row)


def test_an_encoding_expat_does_not_know_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(
        b'<?xml version="1.0" encoding="windows-1257x"?><Document xmlns="urn:iso:'
        b'std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
    )
    with pytest.raises(InputError) as exc:
        list(SOURCE.read(path, STOCKHOLM))
    assert str(exc.value).startswith(f"{path}:1: the XML cannot be read: ")


def test_every_structured_reference_is_kept(tmp_path: Path) -> None:
    """A payment of two invoices: the first OCR is the row's reference, the second is in
    its text, never dropped."""
    tx = (
        '<TxDtls><AmtDtls><TxAmt><Amt Ccy="SEK">5.00</Amt></TxAmt></AmtDtls><RmtInf>'
        "<Strd><CdtrRefInf><Ref>4000123456788</Ref></CdtrRefInf></Strd>"
        "<Strd><CdtrRefInf><Ref>12345674</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>"
    )
    entry = (
        '<Ntry><Amt Ccy="SEK">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-01-10</Dt></BookgDt><NtryDtls>{tx}</NtryDtls></Ntry>"
    )
    path = tmp_path / "two_refs.xml"
    path.write_text(_document(_statement(entry)))
    [row] = rows(path)
    assert (row.fields["reference"], row.fields["text"]) == ("4000123456788", "Ref 12345674")


# --- lines: what the parser skips must not shift them ----------------------------------------

_NS = 'xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"'
_SKIPPED = [  # line 1 onwards: comments, a processing instruction, CDATA, prefixed names
    '<?xml version="1.0" encoding="UTF-8"?>',
    "<!-- a comment that shows <c:Ntry> and",
    "     spans <c:TxDtls> lines -->",
    '<?bank-export version="7"?>',
    f"<c:Document {_NS}><c:BkToCstmrStmt>",
    "<c:Stmt><c:Id>S1</c:Id>",
    f"<c:Acct><c:Id><c:IBAN>{IBAN}</c:IBAN></c:Id></c:Acct><!-- <c:Ntry>",
    "</c:Ntry> commented out --><?pi <c:Ntry>?>",
    '<c:Ntry><c:Amt Ccy="SEK">3.00</c:Amt><![CDATA[<c:Ntry>',  # line 9
    "]]><c:CdtDbtInd>CRDT</c:CdtDbtInd><c:Sts>BOOK</c:Sts>",
    "<c:BookgDt><c:Dt>2026-01-10</c:Dt></c:BookgDt><c:AcctSvcrRef>E1</c:AcctSvcrRef>",
    "<c:NtryDtls><!-- <c:TxDtls>",
    "--><c:TxDtls><c:Refs><c:AcctSvcrRef>T1</c:AcctSvcrRef></c:Refs>",  # line 13
    '<c:Amt Ccy="SEK">1.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd></c:TxDtls><?pi x?>',
    "<!--",
    "-->",
    "<c:TxDtls><c:Refs><c:AcctSvcrRef>T2</c:AcctSvcrRef></c:Refs>",  # line 17
    '<c:Amt Ccy="SEK">2.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd>',
    "<c:AddtlTxInf><![CDATA[Faktura <1042>",
    "]]></c:AddtlTxInf></c:TxDtls></c:NtryDtls></c:Ntry>",
    '<c:Ntry><c:Amt Ccy="SEK">5.00</c:Amt><c:CdtDbtInd>DBIT</c:CdtDbtInd>',  # line 21
    "<c:Sts>BOOK</c:Sts><c:BookgDt><c:Dt>2026-01-11</c:Dt></c:BookgDt>",
    "<c:AcctSvcrRef>E2</c:AcctSvcrRef></c:Ntry>",
    "</c:Stmt></c:BkToCstmrStmt></c:Document>",
]


def test_lines_are_exact_across_comments_cdata_processing_instructions_and_prefixes(
    tmp_path: Path,
) -> None:
    """A row's line is its `Ntry` start (its `TxDtls` start in a batch): what the parser
    skips (comments and processing instructions holding `<c:Ntry>`, CDATA, multi-line
    comments between transactions) shifts nothing."""
    path = tmp_path / "skipped.xml"
    path.write_text("\n".join(_SKIPPED) + "\n", encoding="utf-8")
    got = rows(path)
    assert [(r.key, r.amounts["amount"], r.origin.line) for r in got] == [
        (key("2026-01-10:T1"), 100, 13),
        (key("2026-01-10:T2"), 200, 17),
        (key("2026-01-11:E2"), -500, 21),
    ]
    assert got[1].fields["text"] == "Faktura <1042>"


def test_a_bad_value_is_reported_at_its_line_after_comments_and_cdata(tmp_path: Path) -> None:
    lines = list(_SKIPPED)
    lines[20] = lines[20].replace(">5.00<", "><![CDATA[5,00]]><")  # line 21, in CDATA
    path = tmp_path / "bad.xml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert error(path) == (
        f"{path}:21: column 'Ntry/Amt': not an amount: '5,00' Fix: ISO 20022 amounts are "
        "written 1234.50 (decimal point, no sign, no thousands separator); " + REDOWNLOAD
    )
    lines = list(_SKIPPED)
    lines[17] = lines[17].replace("2.00", "2.001")  # line 18
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert error(path) == (
        f"{path}:18: column 'TxDtls/Amt': the amount 2.001 has a third decimal that is not "
        "0: bokfor books whole cents and does not round what the bank booked Fix: book this "
        "entry by hand, or ask the bank for the statement in two decimals."
    )


def test_an_entity_declared_after_a_large_comment_is_refused_before_expanding(
    tmp_path: Path,
) -> None:
    """The declaration sits in a later chunk than the file's start: still refused at its
    line, before the reference that would expand it is read."""
    path = tmp_path / "late.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!--' + "x" * 200_000 + "\n-->\n"
        '<!DOCTYPE Document [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;">\n]>\n'
        + _document(_statement(_entry("1.00", "R1", text="&b;"))).split("\n", 1)[1],
        encoding="utf-8",
    )
    assert error(path) == (
        f"{path}:5: the XML declares entities (entity 'a'): bokfor refuses them, as they can "
        "expand to gigabytes or read other files" + ENTITY_HINT
    )
