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
    assert [(p.payout_id, p.charges, p.fees, p.refunds, p.disputes, p.payout, p.difference)
            for p in result.payouts] == [
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
    report = SAMPLE.parent / ("Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_"
                              "Europe-Stockholm.csv")
    code, stdout, _ = run_cli(["reconcile", str(report)], capsys)
    assert code == 0
    assert "4 payouts (?) are not in this export: give the payouts export with --payouts" in stdout


def test_reconciliation_report_with_the_payouts_export_adds_up(capsys):
    stripe = SAMPLE.parent
    period = "SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
    code, stdout, err = run_cli(["reconcile", str(stripe / f"Itemized_payout_reconciliation_{period}"),
                                 "--payouts", str(stripe / "payouts.csv")], capsys)
    assert code == 0, err
    assert "All 4 payouts add up (difference 0,00)." in stdout
    assert "po_1QszKGSx4hKw9PzN013kQShJ │ 2026-01-07 │    5\u00a0153,33 │" in stdout


def test_activity_report_matches_the_balance_summary(capsys):
    stripe = SAMPLE.parent
    period = "SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
    code, stdout, err = run_cli(["reconcile", str(stripe / f"Itemized_balance_change_from_activity_{period}"),
                                 "--summary", str(stripe / f"Balance_Summary_{period}")], capsys)
    assert code == 0, err
    assert "(activity 20\u00a0904,30)" in stdout
