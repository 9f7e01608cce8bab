"""Day close checks and booking: the shared worked example line by line, the balance identity,
mapping gaps in one error, gift cards, tips, rounding, cost centres, cash vouchers, Z series."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.dayclose import DayClose, GroupTotal, RateTotal, check, norm_rate, z_gaps
from bokfor.domain import Line, Origin
from bokfor.errors import InputError, MappingError
from bokfor.money import split_vat
from bokfor.posbook import PosAccounts, RateAccounts, book_cash, book_dayclose
from bokfor.sources.zreport import read_dayclose

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "pos"
SHARED = Path(__file__).resolve().parents[2] / "shared"
EXAMPLE = SHARED / "examples" / "pos" / "authored_generic_z-dagrapport_K1_412.csv"
K1 = SAMPLES / "z-dagrapport_K1_1001.csv"
K2 = SAMPLES / "z-dagrapport_K2_57.csv"
CAFE = ((1, "CAFE1"),)

MAPPING = {
    "payment_methods": {
        "Kort": "1580",
        "Swish": "1930",
        "Presentkort": "gift_card",
        "Kontant": "1910",
    },
    "vat_rates": {
        "25": {"sales": "3001", "vat": "2611"},
        "12": {"sales": "3002", "vat": "2621"},
        "6": {"sales": "3003", "vat": "2631"},
    },
    "product_groups": {"Presentkort": "gift_card"},
    "gift_card": "2421",
    "tips": "2829",
    "rounding": "3740",
    "cash_difference": {"shortage": "7960", "surplus": "3990"},
    "cost_centres": {"K2": "BAR1"},
    "series": "K",
}
ACCOUNTS = PosAccounts.from_dict(MAPPING)


def example() -> DayClose:
    if not EXAMPLE.is_file():
        pytest.skip("shared/ (the worked example) is not beside the repo")
    return read_dayclose(EXAMPLE, "generic_sectioned")


def close(**changes) -> DayClose:
    """A small valid close to vary: 25 % sales of 125,00 paid by card and cash."""
    base = DayClose(
        system="test",
        register="R1",
        z_number=7,
        business_day=dt.date(2026, 3, 2),
        origin=Origin("z.csv", 1),
        sales_by_rate={"25": RateTotal(10000, 2500, 12500)},
        payments={"Kort": 10000, "Kontant": 2500},
        lines={"payments": 9},
    )
    return dataclasses.replace(base, **changes)


# --- the shared worked example --------------------------------------------------------------


def test_example_books_exactly_the_readme_voucher() -> None:
    voucher = book_dayclose(example(), ACCOUNTS)
    assert (voucher.series, voucher.date, voucher.text) == ("K", dt.date(2026, 11, 20), "Z 412 K1")
    assert voucher.source_keys == ("pos:generic:K1:412",)
    assert [(l.account, l.amount, l.dims) for l in voucher.lines] == [
        ("1580", 930000, ()),
        ("1930", 210000, ()),
        ("2421", 40000, ()),
        ("1910", 291960, ()),
        ("3001", -300000, CAFE),
        ("2611", -75000, ()),
        ("3002", -800000, CAFE),
        ("2621", -96000, ()),
        ("3003", -100000, CAFE),
        ("2631", -6000, ()),
        ("2421", -50000, ()),
        ("2829", -45000, ()),
        ("3740", 40, CAFE),
    ]
    assert voucher.debit == voucher.credit == 1472000
    assert voucher.balance == 0


def test_example_readme_table_as_a_set() -> None:
    """The README's table (debet/kredit per konto), order aside."""
    readme = sorted(
        [
            ("1910", 291960),
            ("1580", 930000),
            ("1930", 210000),
            ("2421", 40000),
            ("3740", 40),
            ("3002", -800000),
            ("2621", -96000),
            ("3001", -300000),
            ("2611", -75000),
            ("3003", -100000),
            ("2631", -6000),
            ("2421", -50000),
            ("2829", -45000),
        ]
    )
    assert sorted((l.account, l.amount) for l in book_dayclose(example(), ACCOUNTS).lines) == readme


def test_example_cash_vouchers_bring_the_till_back_to_the_float() -> None:
    diff, deposit = book_cash(example(), ACCOUNTS)
    assert diff.text == "Kassadifferens Z 412 K1"
    assert diff.lines == (
        Line("7960", 1000, CAFE, "Kassadifferens"),
        Line("1910", -1000, (), "Kassadifferens"),
    )
    assert deposit.text == "Dagskassa till bank Z 412 K1"
    assert deposit.lines == (
        Line("1930", 290960, (), "Dagskassa till bank"),
        Line("1910", -290960, (), "Dagskassa till bank"),
    )
    assert diff.source_keys == ("pos:generic:K1:412:diff",)
    till = sum(
        l.amount
        for v in (book_dayclose(example(), ACCOUNTS), diff, deposit)
        for l in v.lines
        if l.account == "1910"
    )
    assert 200000 + till == 200000  # float in + the day's cash movements = float out


def test_example_check_warns_only_about_tips() -> None:
    assert [n.message for n in check(example())] == [
        "Z 412 K1: tips of 450,00 booked as the mapping says; paying them to staff is a "
        "payroll matter outside bokfor"
    ]


# --- authored samples: two registers, cost centres, surplus --------------------------------


def test_two_registers_get_their_cost_centres() -> None:
    k1 = book_dayclose(read_dayclose(K1, "generic_sectioned"), ACCOUNTS)
    k2 = book_dayclose(read_dayclose(K2, "generic_sectioned"), ACCOUNTS)
    assert {l.dims for l in k1.lines if l.account.startswith("3")} == {CAFE}
    assert {l.dims for l in k2.lines if l.account.startswith("3")} == {((1, "BAR1"),)}
    assert k2.date == dt.date(2026, 12, 4)  # Z taken 01:40 on the 5th: the 4th's business day
    assert [(l.account, l.amount) for l in k2.lines] == [
        ("1580", 900000),
        ("1910", 186000),
        ("3001", -800000),
        ("2611", -200000),
        ("3002", -50000),
        ("2621", -6000),
        ("2829", -30000),
    ]


def test_mapping_cost_centre_overrides_the_report() -> None:
    accounts = dataclasses.replace(ACCOUNTS, cost_centres={"K1": "C9"})
    voucher = book_dayclose(read_dayclose(K1, "generic_sectioned"), accounts)
    assert {l.dims for l in voucher.lines if l.account == "3002"} == {((1, "C9"),)}


def test_cash_surplus_goes_to_the_surplus_account() -> None:
    diff, deposit = book_cash(read_dayclose(K1, "generic_sectioned"), ACCOUNTS)
    assert [(l.account, l.amount) for l in diff.lines] == [("3990", -600), ("1910", 600)]
    assert [(l.account, l.amount) for l in deposit.lines] == [("1930", 150580), ("1910", -150580)]


def test_no_cash_vouchers_when_nothing_moved() -> None:
    dc = read_dayclose(K2, "generic_sectioned")
    assert [v.text for v in book_cash(dc, ACCOUNTS)] == ["Dagskassa till bank Z 57 K2"]


def test_cash_difference_without_account_is_a_mapping_error() -> None:
    accounts = dataclasses.replace(ACCOUNTS, cash_shortage=None, cash_surplus=None)
    with pytest.raises(MappingError) as err:
        book_cash(read_dayclose(K1, "generic_sectioned"), accounts)
    assert err.value.message == "Z 1001 K1: a cash surplus of 6,00 has no account"


def test_inconsistent_cash_lines_refuse_the_cash_vouchers() -> None:
    dc = dataclasses.replace(read_dayclose(K1, "generic_sectioned"), counted_cash=300000)
    notices = [n.message for n in check(dc)]
    assert (
        "Z 1001 K1: cash lines do not agree: counted 3 000,00 − expected 2 999,80 = 0,20, "
        "but the report's cash difference is 6,00"
    ) in notices
    with pytest.raises(InputError) as err:
        book_cash(dc, ACCOUNTS)
    assert err.value.message.startswith("Z 1001 K1: the cash lines do not agree: counted")


# --- checks ---------------------------------------------------------------------------------


def test_payments_that_do_not_tie() -> None:
    dc = close(payments={"Kort": 10000, "Kontant": 2400})
    with pytest.raises(InputError) as err:
        check(dc)
    e = err.value
    assert e.message == (
        "payments 124,00 ≠ sales incl. VAT 125,00 + tips 0,00 + rounding 0,00 "
        "= 125,00 (difference -1,00)"
    )
    assert (e.file, e.line, e.key) == ("z.csv", 9, "Z 7 R1")


def test_payments_tie_with_tips_and_rounding() -> None:
    dc = close(payments={"Kort": 13000, "Kontant": 2460}, tips=3000, rounding=-40)
    check(dc)
    voucher = book_dayclose(
        dc,
        PosAccounts.from_dict({**MAPPING, "payment_methods": {"Kort": "1580", "Kontant": "1910"}}),
    )
    assert voucher.balance == 0
    assert ("3740", 40) in [(l.account, l.amount) for l in voucher.lines]


def test_net_plus_vat_not_gross() -> None:
    with pytest.raises(InputError) as err:
        check(close(sales_by_rate={"25": RateTotal(10000, 2400, 12500)}))
    assert err.value.message == (
        "VAT 25 %: ex VAT 100,00 + VAT 24,00 = 124,00, not the 125,00 incl. VAT the report states"
    )


def test_vat_not_the_rate() -> None:
    with pytest.raises(InputError) as err:
        check(close(sales_by_rate={"25": RateTotal(10001, 2499, 12500)}))
    assert err.value.message == (
        "VAT 25 %: VAT 24,99 is not 25 % of 125,00 incl. VAT (25,00 "
        "rounded to the öre), off by -0,01"
    )


def test_vat_tolerance_when_the_source_says_so() -> None:
    check(close(sales_by_rate={"25": RateTotal(10001, 2499, 12500)}, vat_tolerance={"25": 1}))


def test_x_report_refused() -> None:
    dc = read_dayclose(SAMPLES / "x-dagrapport_K1.csv", "generic_sectioned")
    assert dc.is_x_report and dc.z_number is None
    with pytest.raises(InputError) as err:
        check(dc)
    assert err.value.message == (
        "this is an X-dagrapport (a reading during the day), not a "
        "Z-dagrapport: it cannot be booked"
    )
    assert err.value.line == 1
    with pytest.raises(InputError):
        book_dayclose(dc, ACCOUNTS)


def test_groups_must_add_up_to_the_rates() -> None:
    dc = close(sales_by_group={"A": GroupTotal(12000, "25")})
    with pytest.raises(InputError) as err:
        check(dc)
    assert err.value.message == (
        "the product groups add up to 120,00 but the VAT-rate sales to 125,00 (difference -5,00)"
    )


def test_unfinished_sales_and_receipt_counts_warn() -> None:
    dc = close(open_sales=5000, receipts=3, payment_counts={"Kort": 1, "Kontant": 1})
    assert [n.message for n in check(dc)] == [
        "Z 7 R1: 50,00 in unfinished sales on the report; they are not booked",
        "Z 7 R1: 3 receipts but 2 payments counted per method",
    ]


# --- mapping gaps ---------------------------------------------------------------------------


def test_every_gap_in_one_mapping_error() -> None:
    accounts = PosAccounts.from_dict(
        {"payment_methods": {"Kort": "1580"}, "vat_rates": {"25": {"sales": "3001"}}}
    )
    with pytest.raises(MappingError) as err:
        book_dayclose(example(), accounts)
    e = err.value
    assert e.message == (
        "Z 412 K1: the pos mapping has no account for 8 item(s): payment "
        "methods Swish, Presentkort, Kontant; product group Presentkort; VAT "
        "rates 25, 12, 6; tips"
    )
    assert e.details == [
        "pos:",
        "  payment_methods:",
        "    Swish: <konto>",
        "    Presentkort: gift_card",
        "    Kontant: <konto>",
        "  product_groups:",
        "    Presentkort: gift_card   # or a sales account",
        "  vat_rates:",
        '    "25": {sales: <konto>, vat: <konto>}',
        '    "12": {sales: <konto>, vat: <konto>}',
        '    "6": {sales: <konto>, vat: <konto>}',
        "  tips: <konto>   # 2829 (debt to staff) or an income account",
    ]


def test_unknown_payment_method() -> None:
    dc = close(payments={"Kort": 10000, "Faktura": 2500})
    with pytest.raises(MappingError) as err:
        book_dayclose(dc, PosAccounts.from_dict({**MAPPING}))
    assert err.value.message == (
        "Z 7 R1: the pos mapping has no account for 1 item(s): payment method Faktura"
    )
    assert err.value.details == ["pos:", "  payment_methods:", "    Faktura: <konto>"]


def test_missing_vat_account() -> None:
    accounts = PosAccounts.from_dict({**MAPPING, "vat_rates": {"25": {"sales": "3001"}}})
    with pytest.raises(MappingError) as err:
        book_dayclose(close(), accounts)
    assert err.value.message == (
        "Z 7 R1: the pos mapping has no account for 1 item(s): VAT rate 25"
    )
    assert err.value.details[-1] == '    "25": {sales: <konto>, vat: <konto>}'


def test_gift_card_group_with_vat_is_refused() -> None:
    dc = close(sales_by_group={"Presentkort": GroupTotal(12500, "25", 10000, 2500)})
    with pytest.raises(MappingError) as err:
        book_dayclose(dc, ACCOUNTS)
    assert err.value.message == (
        "product group 'Presentkort' is mapped to gift_card but carries "
        "VAT (25,00): a multi-purpose gift card has none"
    )


def test_group_override_moves_net_not_vat() -> None:
    dc = close(
        sales_by_rate={"25": RateTotal(20000, 5000, 25000)},
        payments={"Kort": 25000},
        sales_by_group={
            "Vin": GroupTotal(12500, "25", 10000, 2500),
            "Öl": GroupTotal(12500, "25", 10000, 2500),
        },
    )
    accounts = PosAccounts.from_dict({**MAPPING, "product_groups": {"vin": "3011"}})
    lines = [(l.account, l.amount) for l in book_dayclose(dc, accounts).lines]
    assert lines == [("1580", 25000), ("3001", -10000), ("2611", -5000), ("3011", -10000)]


def test_presentartiklar_is_not_taken_for_a_gift_card() -> None:
    dc = close(sales_by_group={"Presentartiklar": GroupTotal(12500, "25", 10000, 2500)})
    assert book_dayclose(dc, ACCOUNTS).balance == 0


def test_norm_rate() -> None:
    assert [norm_rate(r) for r in ("25", "25.0", "25,00 %", "12.50", "0")] == [
        "25",
        "25",
        "25",
        "12.5",
        "0",
    ]
    with pytest.raises(ValueError):
        norm_rate("abc")


# --- Z series -------------------------------------------------------------------------------


def test_z_gap_is_a_notice() -> None:
    closes = [close(z_number=n) for n in (7, 8, 11)] + [close(register="R2", z_number=3)]
    assert [n.message for n in z_gaps(closes)] == [
        "register R1: Z 9, 10 missing between Z 7 and Z 11: 2 day close(s) without a voucher"
    ]


def test_duplicate_z_is_an_error() -> None:
    first = close()
    second = dataclasses.replace(first, origin=Origin("again.csv", 1))
    with pytest.raises(InputError) as err:
        z_gaps([first, second])
    assert err.value.message == "Z 7 of register R1 appears twice (first in z.csv:1)"
    assert err.value.file == "again.csv"


def test_same_z_on_two_registers_is_fine() -> None:
    assert z_gaps([close(), close(register="R2")]) == []


# --- properties -----------------------------------------------------------------------------


rates = st.sampled_from(["25", "12", "6", "0"])


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(rates, st.integers(0, 10**9), min_size=1),
    st.lists(st.integers(0, 10**8), min_size=1, max_size=3),
    st.integers(0, 10**6),
    st.integers(-49, 49),
)
def test_any_consistent_close_books_balanced(gross, split, tips, rounding) -> None:
    sales = {}
    for rate, amount in gross.items():
        net, vat = split_vat(amount, rate)
        sales[rate] = RateTotal(net, vat, amount)
    due = sum(gross.values()) + tips + rounding
    payments = {f"M{i}": part for i, part in enumerate(split[:-1])}
    payments["Kontant"] = due - sum(payments.values())
    accounts = PosAccounts(
        payment_methods={name: "1910" for name in payments},
        vat_rates={
            "25": RateAccounts("3001", "2611"),
            "12": RateAccounts("3002", "2621"),
            "6": RateAccounts("3003", "2631"),
            "0": RateAccounts("3004", None),
        },
        tips="2829",
    )
    voucher = book_dayclose(
        close(sales_by_rate=sales, payments=payments, tips=tips, rounding=rounding), accounts
    )
    assert voucher.balance == 0
    assert voucher == book_dayclose(
        close(sales_by_rate=sales, payments=payments, tips=tips, rounding=rounding), accounts
    )  # pure


def test_bad_rate_key_in_the_mapping() -> None:
    with pytest.raises(MappingError) as err:
        PosAccounts.from_dict({"payment_methods": {}, "vat_rates": {"moms": {"sales": "3001"}}})
    assert err.value.message == "vat_rates: 'moms' is not a VAT rate"
