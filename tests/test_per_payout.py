"""grouping: per_payout over exports of two periods (a Stripe balance export holds one period's
activity). A payout pays out exactly the net of the rows it sweeps; a payout whose rows are
not in the run, booked alone, leaves their revenue unbooked for good when they wait in the
ledger for it (a January charge not yet paid out, its payout in February's export). Every
case runs by rows and by columns (bokfor.plan.FRAMES_FROM = 0): both give the same."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from bokfor.sie.reader import read

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
JANUARY = REPO / "samples" / "stripe" / "balance_history.csv"
FEB_PAYOUT = "po_FEB_1"  # pays out January's four charges not yet paid out: 2 983,25 kr
FEBRUARY = (
    "id,Type,Source,Amount,Fee,Destination Platform Fee,Destination Platform Fee Currency,Net,"
    "Currency,Created (UTC),Available On (UTC),Description,Customer Facing Amount,"
    "Customer Facing Currency,Transfer,Transfer Date (UTC),Transfer Group,order_id (metadata),"
    "vat_country (metadata)\n"
    "txn_FEB_CH1,charge,ch_FEB1,500.00,10.00,,,490.00,sek,2026-02-05 10:00,2026-02-08 00:00,"
    "Order 1030 - X,500.00,sek,po_FEB_2,,,1030,SE\n"
    "txn_FEB_PO2,payout,po_FEB_2,-490.00,0.00,,,-490.00,sek,2026-02-09 03:00,"
    "2026-02-09 03:00,STRIPE PAYOUT,,,,,,,\n"
    "txn_FEB_PO1,payout,po_FEB_1,-2983.25,0.00,,,-2983.25,sek,2026-02-04 03:00,"
    "2026-02-04 03:00,STRIPE PAYOUT,,,,,,,\n"
)


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture(params=["rows", "columns"])
def path(request, monkeypatch):
    from bokfor import plan

    monkeypatch.setattr(plan, "FRAMES_FROM", 0 if request.param == "columns" else 1 << 62)
    return request.param


def cli(capsys, *args) -> tuple[int, str, str]:
    return run_cli([str(a) for a in args], capsys)


def mapping(tmp_path: Path) -> Path:
    out = tmp_path / "m.yaml"
    out.write_text(
        (REPO / "mappings/stripe.yaml")
        .read_text(encoding="utf-8")
        .replace("grouping: per_day", "grouping: per_payout", 1),
        encoding="utf-8",
    )
    return out


def files(tmp_path: Path) -> dict[str, Path]:
    """January as first downloaded (four charges not paid out yet), January downloaded again
    after the payout (they name it), and February."""
    rows = list(csv.reader(io.StringIO(JANUARY.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    at, kind = header.index("Transfer"), header.index("Type")
    assert sum(1 for r in body if not r[at] and r[kind] != "payout") == 4
    again = [
        r[:at] + [FEB_PAYOUT] + r[at + 1 :] if not r[at] and r[kind] != "payout" else r
        for r in body
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *again])
    paths = {"jan": JANUARY, "jan-again": tmp_path / "jan-again.csv", "feb": tmp_path / "feb.csv"}
    paths["jan-again"].write_text(out.getvalue(), encoding="utf-8")
    paths["feb"].write_text(FEBRUARY, encoding="utf-8")
    return paths


def convert(capsys, tmp_path: Path, *inputs: Path, extra: tuple[str, ...] = ()):
    return cli(
        capsys,
        "convert",
        *inputs,
        "-m",
        mapping(tmp_path),
        "--ledger",
        tmp_path / "l.sqlite",
        "-o",
        tmp_path / "out-{run}.si",
        *extra,
    )


def net(tmp_path: Path, account: str) -> int:
    """The account's net over every file written, in öre."""
    return sum(
        line.amount
        for si in sorted(tmp_path.glob("out-*.si"))
        for voucher in read(si).document.vouchers
        for line in voucher.lines
        if line.account == account
    )


def booked(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:
        return {k for (k,) in conn.execute("SELECT key FROM rows")}


def waiting_keys() -> set[str]:
    rows = list(csv.DictReader(io.StringIO(JANUARY.read_text(encoding="utf-8"))))
    return {"stripe:" + r["id"] for r in rows if not r["Transfer"] and r["Type"] != "payout"}


def test_a_payout_whose_rows_wait_in_the_ledger_is_refused(tmp_path, capsys, path):
    """The review's repro: before, February booked po_FEB_1 alone (D 1930 / C 1580), exit 0,
    and January's four charges were never booked."""
    paths = files(tmp_path)
    code, _, err = convert(capsys, tmp_path, paths["jan"])
    assert code == 0, err
    assert "4 rows are not yet paid out" in err
    code, _, err = convert(capsys, tmp_path, paths["feb"], extra=("--quiet",))
    assert code == 2, err
    assert err.splitlines() == [
        f"bokfor: error: {paths['feb']}:4: column 'Transfer': payout po_FEB_1 (2\u00a0983,25 kr)"
        " pays out rows that are not in this run: its rows in this run add up to 0,00 kr,"
        " 2\u00a0983,25 kr short; rows that wait for a payout may be its (below)"
        " Fix: download the export of the period that holds them again (it then names"
        " po_FEB_1 in their Transfer column) and give it with this file in one run; nothing"
        " was written.",
        f"  {JANUARY}: 4 rows left waiting for their payout by an earlier run (lines 2-4,6)",
    ]
    assert not (tmp_path / "out-2.si").exists()  # nothing written
    assert not booked(tmp_path) & waiting_keys()


def test_given_with_the_period_downloaded_again_the_rows_are_booked(tmp_path, capsys, path):
    """What the error says to do: January downloaded again (the charges name po_FEB_1) and
    February in one run books the four charges and the payout; 1580 comes back to 0."""
    paths = files(tmp_path)
    assert convert(capsys, tmp_path, paths["jan"])[0] == 0
    assert convert(capsys, tmp_path, paths["feb"])[0] == 2
    code, _, err = convert(capsys, tmp_path, paths["jan-again"], paths["feb"], extra=("--strict",))
    assert code == 0, err
    assert waiting_keys() <= booked(tmp_path)
    assert net(tmp_path, "1580") == 0


def test_a_payout_whose_rows_waiting_in_the_same_run_is_refused(tmp_path, capsys, path):
    """Both files in one run, January as first downloaded: its charges wait (no payout id),
    the payout misses them."""
    paths = files(tmp_path)
    code, _, err = convert(capsys, tmp_path, paths["jan"], paths["feb"])
    assert code == 2
    assert f"  {JANUARY}: 4 rows read in this run, not paid out (lines 2-4,6)" in err.splitlines()


def test_a_payout_whose_rows_an_earlier_export_booked_adds_up(tmp_path, capsys, path):
    """January downloaded after the payout: its charges name po_FEB_1 and are booked in
    January's run; February's payout alone adds up with them (the ledger records a row's
    payout), exit 0 without a warning, also with --strict."""
    paths = files(tmp_path)
    code, _, err = convert(capsys, tmp_path, paths["jan-again"])
    assert code == 0, err
    code, _, err = convert(capsys, tmp_path, paths["feb"], extra=("--strict",))
    assert code == 0, err
    assert "po_FEB_1" not in err
    assert net(tmp_path, "1580") == 0


def test_a_payout_none_of_whose_rows_bokfor_knows_is_a_warning(tmp_path, capsys, path):
    """Nothing waits: the rows may have been booked before bokfor was used. Booked as the
    export says, with a warning that --strict makes an error."""
    paths = files(tmp_path)
    code, _, err = convert(capsys, tmp_path, paths["feb"], extra=("--strict",))
    assert code == 2
    assert "payout po_FEB_1 (2\u00a0983,25 kr) pays out rows that are not in this run" in err
    code, _, err = convert(capsys, tmp_path, paths["feb"])
    assert code == 0, err
    assert f"{paths['feb']}:4: payout po_FEB_1 (2\u00a0983,25 kr)" in err
    assert "neither read nor booked by bokfor before" in err


def test_plan_shows_the_rows_an_earlier_run_left_waiting(tmp_path, capsys, path):
    paths = files(tmp_path)
    assert convert(capsys, tmp_path, paths["jan"])[0] == 0
    only_feb_2 = tmp_path / "feb2.csv"
    only_feb_2.write_text("".join(FEBRUARY.splitlines(True)[:3]), encoding="utf-8")
    code, _, err = cli(
        capsys, "plan", only_feb_2, "-m", mapping(tmp_path), "--ledger", tmp_path / "l.sqlite"
    )
    assert code == 0, err
    assert (
        f"bokfor: warning: {JANUARY}: 4 rows an earlier run left waiting for their payout are"
        " not booked yet (lines 2-4,6); they are booked with the payout that includes them,"
        " from an export that names it"
    ) in err


def test_rows_an_older_bokfor_booked_count_with_their_payout_when_read_again(
    tmp_path, capsys, path
):
    """An older bokfor recorded no payout with a row booked per payout. A payout whose
    earlier rows it booked read as short, and giving their file again did not help (its rows
    were exported, not counted): a run's rows exported before now count with their payout."""
    paths = files(tmp_path)
    december = tmp_path / "dec.csv"
    head = FEBRUARY.splitlines(True)[0]
    december.write_text(
        head + "txn_DEC_CH1,charge,ch_DEC1,100.00,0.00,,,100.00,sek,2025-12-30 10:00,"
        "2026-01-02 00:00,Order 999 - Y,100.00,sek,po_FEB_1,,,999,SE\n",
        encoding="utf-8",
    )
    february = tmp_path / "feb-legacy.csv"
    february.write_text(FEBRUARY.replace("-2983.25", "-3083.25"), encoding="utf-8")
    assert convert(capsys, tmp_path, december)[0] == 0
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:  # as an older bokfor left it
        conn.execute("UPDATE rows SET movement = NULL")
    assert convert(capsys, tmp_path, paths["jan"])[0] == 0
    code, _, err = convert(capsys, tmp_path, paths["jan-again"], february, extra=("--strict",))
    assert code == 2 and "100,00 kr short" in err, err  # December's row is not in the run
    code, _, err = convert(
        capsys, tmp_path, december, paths["jan-again"], february, extra=("--strict",)
    )
    assert code == 0, err
    assert waiting_keys() <= booked(tmp_path)
    assert net(tmp_path, "1580") == 0
