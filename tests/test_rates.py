"""Rows in another currency: booked in SEK at the mapping's rate, never at a guessed one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bokfor.booking import book
from bokfor.errors import InputError
from bokfor.mapping import load_mapping
from bokfor.rates import load_rate_file, parse_rate
from bokfor.sources.stripe_balance import SOURCE

from .test_booking import stripe_row

REPO = Path(__file__).parent.parent


def eur_mapping(tmp_path: Path, rates: str) -> Path:
    text = (REPO / "mappings" / "stripe.yaml").read_text(encoding="utf-8")
    text = text.replace("grouping: per_day", "grouping: per_row").replace(
        "voucher_text: Stripe {date}", 'voucher_text: "{id} {fx.gross} {fx.currency} @ {fx.rate}"'
    )
    path = tmp_path / "m.yaml"
    path.write_text(text + "\ncurrency_rates:\n" + rates, encoding="utf-8")
    return path


def test_fixed_rate_converts_basis_amounts_and_keeps_the_voucher_balanced(tmp_path):
    m = load_mapping(eur_mapping(tmp_path, "  fixed: {EUR: '11.2345'}\n"))
    # 49.99 EUR, fee 1.03 EUR: net 48.96 -> 550.04 SEK, fee -> 11.57; gross = 561.61
    row = stripe_row(2, "charge", 4999, 103, currency="eur")
    [voucher] = book([row], m.sources["stripe_balance"], m, SOURCE.schema).vouchers
    assert voucher.text == "txn_2 49.99 EUR @ 11.2345"
    assert [(l.account, l.amount) for l in voucher.lines] == [
        ("1580", 55004),
        ("6570", 1157),
        ("3001", -44929),
        ("2611", -11232),
    ]
    assert voucher.balance == 0


def test_rate_file_uses_the_latest_quote_within_max_age(tmp_path):
    (tmp_path / "rates.csv").write_text(
        "date;currency;rate;unit\n2026-01-02;EUR;11,20\n2026-01-05;EUR;11,30\n"
        "2026-01-02;JPY;7,10;100\n",
        encoding="utf-8",
    )
    table = load_rate_file(tmp_path / "rates.csv", max_age_days=7)
    assert table.rate("eur", dt.date(2026, 1, 4)).text == "11,20"  # weekend: Friday's quote
    assert table.rate("EUR", dt.date(2026, 1, 5)).text == "11,30"
    assert table.rate("EUR", dt.date(2026, 1, 13)) is None  # 8 days after the last quote
    assert table.rate("EUR", dt.date(2026, 1, 1)) is None  # before the first quote
    assert table.rate("JPY", dt.date(2026, 1, 2)).convert(150000) == 10650  # ¥1500 -> 106.50
    assert table.describe_missing("EUR", dt.date(2026, 1, 13)) == (
        f"the latest EUR rate before 2026-01-13 is from 2026-01-05, more than 7 days earlier "
        f"({tmp_path / 'rates.csv'})"
    )


def test_row_without_a_usable_rate_stops_the_run(tmp_path):
    (tmp_path / "rates.csv").write_text(
        "date,currency,rate\n2026-01-02,EUR,11.20\n", encoding="utf-8"
    )
    m = load_mapping(eur_mapping(tmp_path, "  file: rates.csv\n  max_age_days: 2\n"))
    with pytest.raises(InputError) as exc:
        book(
            [stripe_row(2, "charge", 4999, 103, day=5, currency="eur")],
            m.sources["stripe_balance"],
            m,
            SOURCE.schema,
        )
    assert str(exc.value).startswith(
        "day.csv:2: column 'currency': amount in EUR, but the books are kept in SEK: the latest "
        "EUR rate before 2026-01-05 is from 2026-01-02, more than 2 days earlier"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "date;currency;rate\n2026-13-01;EUR;11.2\n",
            "rates.csv:2: column 'date': not a date: '2026-13-01' Fix: write YYYY-MM-DD.",
        ),
        (
            "date;currency;rate\n2026-01-02;EUR;-11\n",
            "rates.csv:2: column 'rate': '-11' is not a "
            "rate Fix: write SEK per unit, e.g. 11.2345.",
        ),
        (
            "datum;valuta;kurs\n",
            "rates.csv:1: rate file header lacks date, currency, rate Fix: the "
            "header must be `date;currency;rate` (optionally `;unit`).",
        ),
    ],
)
def test_bad_rate_files(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    Path("rates.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_rate_file(Path("rates.csv"), 7)
    assert str(exc.value) == message


def test_parse_rate_is_exact():
    assert parse_rate("11.2345") == (112345, 10000)
    assert parse_rate("0,5") == (5, 10)
    for bad in ("", "abc", "1.2.3", "0", "٣"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_payout_in_another_currency_books_its_fx_difference(tmp_path, capsys):
    """EUR balance: sales converted at 11.00 and 11.10, the payout at 11.50. What the payout
    leaves on 1580 (68.60 SEK) is a valutakursvinst on 3960, not work for the bookkeeper."""
    from bokfor.sie.reader import read

    from .test_errors import run_cli

    fixtures = Path(__file__).parent / "fixtures" / "fx"
    text = (REPO / "mappings" / "stripe.yaml").read_text(encoding="utf-8")
    text = (
        text.replace(
            "grouping: per_day",
            "grouping: per_payout\n    fx_difference: {account: clearing, gain: 3960, loss: 7960}",
            1,
        )
        .replace("voucher_text: Stripe {date}", "voucher_text: Stripe {payout_id}", 1)
        .replace(
            "  6570: Bankkostnader",
            "  3960: Valutakursvinster\n  7960: Valutakursförluster\n  6570: Bankkostnader",
        )
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        text + f"\ncurrency_rates:\n  file: {fixtures / 'rates.csv'}\n", encoding="utf-8"
    )
    code, _, err = run_cli(
        [
            "convert",
            str(fixtures / "balance_eur.csv"),
            "-m",
            str(mapping),
            "-o",
            str(tmp_path / "o.si"),
            "--ledger",
            str(tmp_path / "l"),
        ],
        capsys,
    )
    assert code == 0, err
    [voucher] = read(tmp_path / "o.si").document.vouchers
    assert voucher.text == "Stripe po_1FxPayout00000000000001"
    assert [(l.account, l.amount, l.text) for l in voucher.lines] == [
        ("1580", 162190, ""),  # 98.00 EUR at 11.00 + 49.00 EUR at 11.10
        ("1580", 6860, "Valutakursdifferens"),  # what the payout leaves on 1580
        ("1580", -169050, ""),  # the payout, 147.00 EUR at 11.50
        ("1930", 169050, ""),
        ("2611", -33100, ""),  # 220.00 + 111.00
        ("3001", -132400, ""),  # 880.00 + 444.00
        ("3960", -6860, "Valutakursdifferens"),
        ("6570", 3310, ""),  # 22.00 + 11.10
    ]


def test_fx_difference_needs_per_payout_grouping(tmp_path):
    from bokfor.errors import MappingError

    text = (
        (REPO / "mappings" / "stripe.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "grouping: per_day",
            "grouping: per_day\n    fx_difference: {account: clearing, gain: 3960, loss: 7960}",
        )
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, encoding="utf-8")
    line = next(
        n
        for n, text_line in enumerate(text.splitlines(), start=1)
        if text_line.startswith("    fx_difference:")
    )
    with pytest.raises(MappingError) as exc:
        load_mapping(mapping)
    assert str(exc.value) == (
        f"{mapping}:{line}: sources.stripe_balance.fx_difference: fx_difference needs grouping: "
        "per_payout Fix: a payout's difference is known only when its rows are booked together;"
        " set `grouping: per_payout`."
    )
