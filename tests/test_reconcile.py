"""`bokfor reconcile`: every payout equals the activity it swept."""

from __future__ import annotations

from pathlib import Path

from bokfor.reconcile import reconcile
from bokfor.sources.stripe_balance import SOURCE
from zoneinfo import ZoneInfo

from .test_errors import run_cli

SAMPLE = Path(__file__).parent.parent / "samples" / "stripe" / "balance_history.csv"


def test_every_payout_of_the_sample_adds_up(capsys):
    result = reconcile(SOURCE.read(SAMPLE, ZoneInfo("Europe/Stockholm")), SOURCE.schema)
    assert [
        (p.payout_id, p.charges, p.fees, p.refunds, p.disputes, p.payout, p.difference)
        for p in result.payouts
    ] == [
        ("po_1QkB4ERb7qLmX2vT0pM42NQp", 294600, 5770, 0, 0, 288830, 0),
        ("po_1Q5L20Rb7qLmX2vT0om70CNI", 233996, 5832, -39900, 0, 188264, 0),
        ("po_1QoKz4Rb7qLmX2vT0kLsCLMd", 333500, 28453, -10000, -89500, 205547, 0),
        ("po_1Q3vubRb7qLmX2vT0ZpiL2PG", 329051, 6878, -33045, 0, 289128, 0),
    ]
    assert (result.unpaid, result.unpaid_net) == (4, 298325)
    code, stdout, _ = run_cli(["reconcile", str(SAMPLE)], capsys)
    assert code == 0 and "All 4 payouts add up (difference 0,00)." in stdout


def test_itemized_report_payouts_need_the_payouts_export(capsys):
    """The reconciliation report lists a payout's rows but not the payout: never a false
    difference, a clear "not in this export" instead."""
    report = SAMPLE.parent / (
        "Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
    )
    code, stdout, _ = run_cli(["reconcile", str(report)], capsys)
    assert code == 0
    assert "4 payouts (?) are not in this export: give the payouts export with --payouts" in stdout


def test_reconciliation_report_with_the_payouts_export_adds_up(capsys):
    stripe = SAMPLE.parent
    period = "SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
    code, stdout, err = run_cli(
        [
            "reconcile",
            str(stripe / f"Itemized_payout_reconciliation_{period}"),
            "--payouts",
            str(stripe / "payouts.csv"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "All 4 payouts add up (difference 0,00)." in stdout
    assert "po_1QszKGSx4hKw9PzN013kQShJ │ 2026-01-07 │    5\u00a0153,33 │" in stdout


def test_activity_report_matches_the_balance_summary(capsys):
    stripe = SAMPLE.parent
    period = "SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
    code, stdout, err = run_cli(
        [
            "reconcile",
            str(stripe / f"Itemized_balance_change_from_activity_{period}"),
            "--summary",
            str(stripe / f"Balance_Summary_{period}"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "(activity 20\u00a0904,30)" in stdout


# -- payouts against the bank --------------------------------------------------------------

STRIPE = SAMPLE.parent
PERIOD = "SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
RECONCILIATION = STRIPE / f"Itemized_payout_reconciliation_{PERIOD}"
BANK = Path(__file__).parent.parent / "samples" / "bank"


def test_each_payout_is_found_on_the_bank_statement(capsys):
    """The MT940 statement runs 2–23 January: the payouts of the 7th and 14th are on it;
    those of the 21st and 28th may arrive after its last day, so they are not judged."""
    code, stdout, err = run_cli(
        [
            "reconcile",
            str(RECONCILIATION),
            "--payouts",
            str(STRIPE / "payouts.csv"),
            "--bank",
            str(BANK / "mt940_seb.sta"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "2 payouts found in the bank file." in stdout
    assert (
        "2 payouts (–) were sent too close to the bank file's period (2026-01-02 – "
        "2026-01-23) to check."
    ) in stdout
    assert "mt940_seb.sta:31" in stdout and "mt940_seb.sta:69" in stdout


def test_a_payout_missing_from_the_bank_stops_and_is_named(capsys):
    """January's SEB export lacks the payout of the 14th; a customer paid the same amount
    that day, which must not pass for it. A Stripe line of December's payout is reported."""
    bank = Path(__file__).parent / "fixtures" / "reconcile" / "seb_january.csv"
    code, stdout, err = run_cli(
        [
            "reconcile",
            str(RECONCILIATION),
            "--payouts",
            str(STRIPE / "payouts.csv"),
            "--bank",
            str(bank),
        ],
        capsys,
    )
    assert code == 2
    assert "saknas" in stdout
    assert err.splitlines() == [
        f"bokfor: warning: {bank}:7: bank line from Stripe 747,78 on 2026-01-02 matches no "
        f"payout of {RECONCILIATION}",
        "bokfor: error: 1 check does not add up Fix: a payout the bank file should hold is not "
        "in it (same amount, a text naming Stripe, within a week): check in Stripe which bank "
        "account it went to, and give that account's statement.",
        f"  {RECONCILIATION}: po_1QCtSkSx4hKw9PzN0R82W8jo (2026-01-14, 4\u00a0392,62): no bank "
        "line",
    ]


def test_bank_option_needs_a_bank_statement(capsys):
    code, _, err = run_cli(
        ["reconcile", str(SAMPLE), "--bank", str(STRIPE / "payouts.csv")], capsys
    )
    assert code == 2
    assert err == (
        f"bokfor: error: {STRIPE / 'payouts.csv'}: --bank needs a bank statement, not "
        "a Stripe payouts (Dashboard payouts.csv or Reports itemized payouts) Fix: give "
        "the bank's camt.053, MT940 or net-bank export.\n"
    )


def test_match_bank_is_one_line_per_payout():
    """Two payouts of one amount in one week take two bank lines, earliest first."""
    import datetime as dt

    from bokfor.domain import Origin, Row
    from bokfor.reconcile import PayoutCheck, match_bank

    def line(day: int, n: int) -> Row:
        return Row(
            "bank",
            f"b{n}",
            dt.date(2026, 1, day),
            {"amount": 10000},
            {"text": "STRIPE"},
            Origin("b.csv", n),
        )

    first = PayoutCheck("po_1", dt.date(2026, 1, 5), payout=10000)
    second = PayoutCheck("po_2", dt.date(2026, 1, 6), payout=10000)
    rows = [line(1, 1), line(6, 2), line(7, 3), line(20, 4)]
    result = match_bank([second, first], rows)
    assert {p: r.key for p, r in result.matched.items()} == {"po_1": "b2", "po_2": "b3"}
    assert [r.key for r in result.unexplained] == ["b1", "b4"]
