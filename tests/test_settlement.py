"""Settlement reports (Vipps, MobilePay, Clearhaus): each authored sample is detected as a
settlement, read into its movements (kind, amount, the provider's ids as keys) and converted
with mappings/settlement.yaml into its golden SIE, one verifikation a settlement (payout).
The traps of the real files have samples of their own: a decimal comma that splits a field,
a workbook whose stylesheet openpyxl refuses, an open settlement period, a payout with no
row of its own. Regenerate a golden file only after reading the diff:
`BOKFOR_REGEN=1 pytest tests/test_settlement.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.domain import Notice, Row
from bokfor.errors import InputError
from bokfor.sie.reader import read as read_sie
from bokfor.sources import detect_source, settlement

from .golden_sie import GOLDEN, assert_golden
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "settlement"
MAPPING = REPO / "mappings" / "settlement.yaml"
SAMPLES = sorted(
    p.name for p in FIXTURES.iterdir() if p.suffix != ".py" and p.name != "__pycache__"
)


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def read(path: Path) -> tuple[list[Row], list[str]]:
    rows, notices = [], []
    for item in settlement.SOURCE.read(path, dt.timezone.utc):
        if isinstance(item, Notice):
            notices.append(str(item))
        else:
            rows.append(item)
    return rows, notices


def refused(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        read(path)
    return caught.value


def movements(rows: list[Row]) -> list[tuple[str, str, int, str]]:
    return [(r.key, r.date.isoformat(), r.amounts["amount"], r.fields["kind"]) for r in rows]


def convert(paths: list[Path], tmp_path: Path, capsys, mapping: Path = MAPPING):
    out = tmp_path / "out.si"
    code, stdout, err = run_cli(
        [
            "convert",
            *map(str, paths),
            "-m",
            str(mapping),
            "-o",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    convert.stdout = stdout  # type: ignore[attr-defined]
    return code, out, err


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_is_detected_as_a_settlement(sample):
    assert detect_source(FIXTURES / sample).name == "settlement"


@pytest.mark.parametrize("sample", sorted(set(SAMPLES) - {"mobilepay_sales.csv"}))
def test_golden_sie(sample, tmp_path, capsys):
    code, out, err = convert([FIXTURES / sample], tmp_path, capsys)
    assert code == 0, err
    golden = GOLDEN / "settlement" / (sample.rsplit(".", 1)[0] + ".si")
    assert_golden(out, golden)
    assert all(v.balance == 0 for v in read_sie(out).document.vouchers)
    code, _, _ = convert([FIXTURES / sample], tmp_path, capsys)
    assert code == 3  # the same settlements again: nothing new


def test_rows_waiting_for_their_payout_are_not_called_exported(tmp_path, capsys):
    """The sales overview has no transfer: with per_payout every row waits for it. The run
    says so, and never that every row was exported before."""
    path = FIXTURES / "mobilepay_sales.csv"
    code, out, err = convert([path], tmp_path, capsys)
    assert code == 3 and not out.exists()
    assert err == (
        f"bokfor: warning: {path}: 3 rows are not yet paid out and were not booked; "
        "they will be booked with the payout that includes them\n"
    )
    assert convert.stdout.splitlines()[-1] == (  # type: ignore[attr-defined]
        f"Nothing to book: no bookable rows in {path} (3 waiting for their payout); nothing "
        "written."
    )


def test_vipps_csv_sections_and_the_split_decimal_comma():
    """The SettlementInfo row's Net written `1037,70` without quotes is one field too many:
    read as 1037.70 with a warning; the transactions keep the provider's ids."""
    rows, notices = read(FIXTURES / "vipps_report.csv")
    assert movements(rows) == [
        ("vipps:3000101:payout", "2026-02-03", -103770, "payout"),
        ("vipps:4100000001:sale", "2026-02-01", 80000, "sale"),
        ("vipps:4100000001:fee", "2026-02-01", -790, "fee"),
        ("vipps:4100000002:sale", "2026-02-01", 45000, "sale"),
        ("vipps:4100000002:fee", "2026-02-01", -440, "fee"),
        ("vipps:4100000003:refund", "2026-02-02", -20000, "refund"),
    ]
    assert rows[1].fields["reference"] == "ORD-1" and rows[1].fields["currency"] == "NOK"
    assert notices == [
        f"{FIXTURES / 'vipps_report.csv'}:6: Net 1037,70 is written with a "
        "decimal comma and no quotes, which splits it in two fields: read as "
        "1037.70"
    ]


def test_a_row_that_does_not_add_up_to_its_net_is_booked_as_written_with_a_warning(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(
        (FIXTURES / "vipps_report.csv")
        .read_text(encoding="utf-8")
        .replace("0.00,NOK,0.00,-200.00,-200.00", "0.00,NOK,0.00,-200.00,0.00"),
        encoding="utf-8",
    )
    rows, notices = read(path)
    assert movements(rows)[-1] == ("vipps:4100000003:refund", "2026-02-02", -20000, "refund")
    assert notices[1] == (
        f"{path}:11: the row's movements add up to -200,00 but its Net is "
        "0,00: booked as written; the difference stays on the clearing account"
    )


def test_a_row_two_fields_too_wide_is_refused(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(
        (FIXTURES / "vipps_report.csv")
        .read_text(encoding="utf-8")
        .replace("-200.00,1037,70,3", "-200,00,1037,70,3"),
        encoding="utf-8",
    )
    assert str(refused(path)) == (
        f"{path}:6: the row has 14 fields but its header has 12 Fix: a value holding the "
        "delimiter lost its quotes, or the row was cut; give bokfor the settlement report "
        "exactly as it was downloaded from the provider."
    )


def test_vipps_xlsx_and_the_generator_workbook_openpyxl_refuses():
    plain, notices = read(FIXTURES / "vipps_oppgjor.xlsx")
    assert notices == []
    assert movements(plain) == [
        ("vipps:5700000001:sale", "2026-02-02", 50000, "sale"),
        ("vipps:5700000001:fee", "2026-02-02", -750, "fee"),
        ("vipps:5700000002:sale", "2026-02-03", 12990, "sale"),
        ("vipps:5700000002:fee", "2026-02-03", -195, "fee"),
        ("vipps:3000401:payout", "2026-02-04", -62045, "payout"),
        ("vipps:5700000003:sale", "2026-02-04", 7500, "sale"),
        ("vipps:5700000003:fee", "2026-02-04", -113, "fee"),
        ("vipps:3000402:payout", "2026-02-05", -7387, "payout"),
    ]
    generator, _ = read(FIXTURES / "vipps_oppgjor_generator.xlsx")
    assert movements(generator) == movements(plain)  # a date cell read as its day number


def test_vipps_xml_net_and_gross_settlements():
    net, notices = read(FIXTURES / "vipps_net.xml")
    assert notices == []
    assert movements(net) == [
        ("vipps:5100000001:sale", "2026-03-02", 39900, "sale"),
        ("vipps:5100000001:fee", "2026-03-02", -598, "fee"),
        ("vipps:5100000002:refund", "2026-03-02", -9900, "refund"),  # the time as written
        ("vipps:3000201:payout", "2026-03-03", -29402, "payout"),
        ("vipps:5100000003:sale", "2026-03-03", 125000, "sale"),
        ("vipps:5100000003:fee", "2026-03-03", -1875, "fee"),
        ("vipps:3000202:payout", "2026-03-04", -123125, "payout"),
    ]
    assert net[0].fields["settlement_type"] == "net"
    gross, _ = read(FIXTURES / "vipps_gross.xml")
    # Gross: the whole gross is paid out and the fees are invoiced, outside the balance.
    assert [(r.fields["kind"], r.amounts["amount"]) for r in gross] == [
        ("sale", 50000),
        ("fee_invoiced", -750),
        ("sale", 20000),
        ("fee_invoiced", -300),
        ("payout", -70000),
    ]


def test_a_settlement_the_same_in_csv_and_xml_has_the_same_keys(tmp_path):
    """The keys are Vipps' ids, not the format's: one settlement is booked once."""
    xml = tmp_path / "same.xml"
    xml.write_text(
        (FIXTURES / "vipps_net.xml")
        .read_text(encoding="utf-8")
        .replace("5100000001", "4100000001"),
        encoding="utf-8",
    )
    csv_keys = {r.key for r in read(FIXTURES / "vipps_report.csv")[0]}
    xml_keys = {r.key for r in read(xml)[0]}
    assert csv_keys & xml_keys == {"vipps:4100000001:sale", "vipps:4100000001:fee"}


def test_mobilepay_transfer_overview_and_sales_overview_share_keys():
    transfers, notices = read(FIXTURES / "mobilepay_transfers.csv")
    assert notices == []
    assert movements(transfers)[:3] == [
        ("mobilepay:03000555000000000001:payout", "2026-03-03", -28650, "payout"),
        ("mobilepay:900E000000000003:refund", "2026-03-02", -6000, "refund"),
        ("mobilepay:900E000000000002:sale", "2026-03-02", 20000, "sale"),
    ]
    assert sum(r.amounts["amount"] for r in transfers) == 0  # the transfer pays it all out
    sales, _ = read(FIXTURES / "mobilepay_sales.csv")
    assert {r.key for r in sales} <= {r.key for r in transfers}
    assert all(r.fields["payout_id"] is None for r in sales)


def test_mobilepay_transferred_transactions_get_a_payout_per_transfer_reference():
    rows, _ = read(FIXTURES / "mobilepay_transactions.csv")
    payouts = [
        (r.key, r.date.isoformat(), r.amounts["amount"])
        for r in rows
        if r.fields["kind"] == "payout"
    ]
    assert payouts == [
        ("mobilepay:00020260402000000001:payout", "2026-04-02", -19849),
        ("mobilepay:00020260403000000002:payout", "2026-04-03", -2500),
    ]


def test_an_unknown_event_is_refused_never_keyed_by_a_guessed_kind(tmp_path):
    """A kind guessed for a label bokfor does not know would key the movement unlike the
    provider's other formats (`:other` here, `:refund` there) and book it twice."""
    path = tmp_path / "transfers.csv"
    path.write_text(
        (FIXTURES / "mobilepay_transfers.csv")
        .read_text(encoding="utf-8")
        .replace("Retainable;DKK;-2,00", "Adjustment;DKK;-2,00"),
        encoding="utf-8",
    )
    assert str(refused(path)) == (
        f"{path}:5: column 'Event': 'Adjustment' is not a movement bokfor knows (Payment, "
        "Refund, Retainable): its kind is not guessed Fix: a kind guessed for it would key it "
        "unlike the provider's other formats of the same report, which would book it twice; "
        "book this settlement by hand, and tell bokfor's maintainers the label (its profile is "
        "bokfor/sources/settlement_profiles/mobilepay_transfers.yaml)."
    )


def _vipps_xlsx(path: Path, rows: list[list]) -> Path:
    """An Oppgjørsrapport as the portal writes it (tests/fixtures/settlement/make_xlsx.py),
    with these transaction rows and a payout of their net."""
    import openpyxl

    from tests.fixtures.settlement.make_xlsx import HEADER

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Oppgjørsrapport"])
    ws.append(["Bedriften", None, "Eksempelbutikken AS"])
    ws.append([])
    ws.append(HEADER)
    for txn, gross, fee, kind in rows:
        ws.append(
            [
                "02.02.2026",
                "Eksempelbutikken",
                "44556",
                "Vipps Bedrift",
                txn,
                "",
                gross,
                fee,
                gross + fee,
                kind,
                "3000101",
                "03.02.2026",
                None,
                None,
                None,
            ]
        )
    ws.append(
        [
            "Til utbetaling netto",
            "Eksempelbutikken",
            "44556",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "3000101",
            "03.02.2026",
            sum(g + f for _, g, f, _ in rows),
            12345678903,
            None,
        ]
    )
    wb.save(path)
    return path


@pytest.mark.parametrize("label", ["Refundering", "Refusjon"])
def test_a_vipps_refund_is_keyed_alike_in_xlsx_csv_and_xml(tmp_path, label):
    """Vipps names a refund "Refundering" in the Oppgjørsrapport (vipps-developers, settlement
    CSV/xlsx columns: "Salg (Sale), Refundering (Refund)"); "Refusjon" is the same word. A
    refund given in xlsx and in CSV is one movement, booked once."""
    path = _vipps_xlsx(
        tmp_path / "oppgjor.xlsx",
        [("4100000001", 800, -7.9, "Salg"), ("4100000003", -200, 0, label)],
    )
    rows, notices = read(path)
    assert notices == []
    assert movements(rows)[-2:] == [
        ("vipps:4100000003:refund", "2026-02-02", -20000, "refund"),
        ("vipps:3000101:payout", "2026-02-03", -59210, "payout"),
    ]
    csv_keys = {r.key for r in read(FIXTURES / "vipps_report.csv")[0]}
    assert {"vipps:4100000001:sale", "vipps:4100000001:fee", "vipps:4100000003:refund"} <= {
        r.key for r in rows
    } & csv_keys


def test_a_vipps_xlsx_row_of_an_unknown_kind_is_refused(tmp_path):
    path = _vipps_xlsx(tmp_path / "oppgjor.xlsx", [("4100000003", -200, 0, "Justering")])
    assert str(refused(path)) == (
        f"{path}:5: column 'Transaksjonstype': 'Justering' is not a movement bokfor knows "
        "(Salg, Refundering, Refusjon): its kind is not guessed Fix: a kind guessed for it "
        "would key it unlike the provider's other formats of the same report, which would "
        "book it twice; book this settlement by hand, and tell bokfor's maintainers the label "
        "(its profile is bokfor/sources/settlement_profiles/vipps_xlsx.yaml)."
    )


def test_clearhaus_open_period_is_counted_and_the_reserve_is_a_movement():
    rows, notices = read(FIXTURES / "clearhaus.csv")
    assert notices == [
        f"{FIXTURES / 'clearhaus.csv'}:2: 1 row not booked: an unsettled period "
        "(not paid out yet; it is booked once it is settled) (line 2)"
    ]
    first = [(r.fields["kind"], r.date.isoformat(), r.amounts["amount"]) for r in rows[:6]]
    assert first == [
        ("sale", "2026-03-15", 500000),
        ("refund", "2026-03-15", -25000),
        ("chargeback", "2026-03-15", -10000),
        ("fee", "2026-03-15", -9850),
        ("reserve", "2026-03-18", -22758),
        ("payout", "2026-03-18", -432392),
    ]
    assert sum(r.amounts["amount"] for r in rows) == 0


def test_a_payout_that_does_not_match_its_movements_is_a_warning(tmp_path):
    path = tmp_path / "clearhaus.csv"
    path.write_text(
        (FIXTURES / "clearhaus.csv")
        .read_text(encoding="utf-8")
        .replace('"3139.20","2026-03-11"', '"3130.20","2026-03-11"'),
        encoding="utf-8",
    )
    _, notices = read(path)
    assert notices[-1] == (
        f"{path}:4: payout 0b1e0000-0000-4000-8000-000000000001: its "
        "movements add up to 3 139,20 DKK but 3 130,20 was paid out "
        "(difference 9,00): it stays on the clearing account"
    )


def test_a_fee_info_section_is_refused_not_guessed(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(
        (FIXTURES / "vipps_report.csv")
        .read_text(encoding="utf-8")
        .replace(
            "FeeInfo,SettlementDate,SaleUnitName,SaleUnitNumber,FeeAccount,Fee,Currency\n",
            "FeeInfo,SettlementDate,SaleUnitName,SaleUnitNumber,FeeAccount,Fee,Currency\n"
            "FeeInfo,03.02.2026,Eksempelbutikken,123456,1503,-12.30,NOK\n",
        ),
        encoding="utf-8",
    )
    error = refused(path)
    assert error.line == 8 and error.message.startswith("a FeeInfo row")


def test_nok_and_dkk_are_booked_in_sek_at_the_mappings_rate(tmp_path, capsys):
    code, out, err = convert([FIXTURES / "mobilepay_transfers.csv"], tmp_path, capsys)
    assert code == 0, err
    bank = sum(
        line.amount
        for v in read_sie(out).document.vouchers
        for line in v.lines
        if line.account == "1930"
    )
    assert bank == 43004  # 286,50 DKK at 1.5010


def test_the_profiles_are_valid_and_each_has_a_sample():
    profiles = settlement.builtin()
    assert [p.name for p in profiles] == list(settlement.BUILTIN_ORDER)
    read_by = set()
    for sample in SAMPLES:
        kind, rows = settlement._cells(FIXTURES / sample, head=True)
        found = settlement._match(rows, kind, profiles)
        if found is not None:
            read_by.add(found.name)
    assert read_by == set(settlement.BUILTIN_ORDER)


def test_a_profile_naming_a_column_outside_its_header_is_refused():
    model = settlement.ProfileModel.model_validate(
        {
            "title": "x",
            "provider": "x",
            "decimal_mark": ".",
            "date_format": "%Y-%m-%d",
            "tables": [
                {
                    "header": ["id", "date"],
                    "rows": [
                        {
                            "id": "id",
                            "date": "date",
                            "entries": [{"kind": "sale", "amount": "amount"}],
                        }
                    ],
                }
            ],
        }
    )
    with pytest.raises(ValueError, match="column 'amount' is not in the header"):
        settlement._check("x", model)


def test_a_comment_over_two_lines_keeps_the_lines_of_the_rows_after_it(tmp_path):
    path = tmp_path / "transfers.csv"
    path.write_text(
        (FIXTURES / "mobilepay_transfers.csv")
        .read_text(encoding="utf-8")
        .replace(";Kunde To;xxxx 2222;;", ';Kunde To;xxxx 2222;"Tak for\nkaffen";'),
        encoding="utf-8",
    )
    rows, _ = read(path)
    assert [(r.key, r.origin.line) for r in rows[2:5]] == [
        ("mobilepay:900E000000000002:sale", 4),
        ("mobilepay:900E000000000002:fee", 6),
        ("mobilepay:900E000000000001:sale", 7),
    ]
    assert rows[2].fields["text"] == "Tak for\nkaffen"


def test_a_file_of_only_an_open_period_has_no_transactions(tmp_path, capsys):
    path = tmp_path / "clearhaus.csv"
    path.write_text(
        "".join(
            (FIXTURES / "clearhaus.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:2]
        ),
        encoding="utf-8",
    )
    code, out, err = convert([path], tmp_path, capsys)
    assert code == 3 and not out.exists()
    assert convert.stdout.splitlines()[-1] == (  # type: ignore[attr-defined]
        f"Nothing to book: no transactions in {path}; nothing written."
    )
    assert err == (
        f"bokfor: warning: {path}:2: 1 row not booked: an unsettled period (not paid "
        "out yet; it is booked once it is settled) (line 2)\n"
    )


def test_daily_rates_leave_no_residue_on_the_clearing_account(tmp_path, capsys):
    """A sale at 1.40 SEK/DKK, paid out two days later at 1.60: the payout clears the
    provider's balance in DKK, not in SEK. The residue is an exchange difference, booked by
    the mapping's fx_difference (before: -19.85 SEK left on 1583 without a word)."""
    (tmp_path / "transfers.csv").write_text(
        "Event;Currency;Amount;Date and time;Customer name;MP-number;Comment;TransactionID;"
        "TransferID;Payment point;MyShop-Number;Bank account;Date;Time\n"
        "Transfer;DKK;99,25;2026-03-03T04:02:11.1234567+01:00;;;;;T1;Kafé;55501;98600000000001;"
        "2026-03-03;04.02.11\n"
        "Payment;DKK;100,00;2026-03-01T15:20:41.7654321+01:00;Kund;xxxx 2222;;P1;T1;Kafé;55501;"
        "98600000000001;2026-03-01;15.20.41\n"
        "Retainable;DKK;-0,75;2026-03-01T15:20:41.7654321+01:00;;;;P1;T1;Kafé;55501;"
        "98600000000001;2026-03-01;15.20.41\n",
        encoding="utf-8",
    )
    (tmp_path / "rates.csv").write_text(
        "date;currency;rate\n2026-03-01;DKK;1,40\n2026-03-02;DKK;1,50\n2026-03-03;DKK;1,60\n",
        encoding="utf-8",
    )
    mapping = (REPO / "mappings" / "settlement.yaml").read_text(encoding="utf-8")
    start = mapping.index("currency_rates:")
    end = mapping.index("\naccounts:")
    (tmp_path / "m.yaml").write_text(
        mapping[:start] + "currency_rates:\n  file: rates.csv\n" + mapping[end:], encoding="utf-8"
    )
    code, _, err = run_cli(
        [
            "convert",
            str(tmp_path / "transfers.csv"),
            "-m",
            str(tmp_path / "m.yaml"),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "-o",
            str(tmp_path / "out.si"),
        ],
        capsys,
    )
    assert code == 0, err
    [voucher] = read_sie(tmp_path / "out.si").document.vouchers
    net: dict[str, int] = {}
    for line in voucher.lines:
        net[line.account] = net.get(line.account, 0) + line.amount
    assert net["1583"] == 0  # the clearing account, back at 0
    assert net["1930"] == 15880  # 99.25 DKK at 1.60
    assert net["3960"] == -1985  # 100.00 at 1.40 - 0.75 at 1.40 = 138.95; paid 158.80
