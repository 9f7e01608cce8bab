"""The benchmark's instruments (bench/): the columnar floors do bokfor's job, and the targets
table judges issue 22's targets from the numbers of one run.

A floor is only a fair floor if it does the same job: its `#VER`/`#TRANS` text is compared
with bokfor's on the same generated file (byte for byte for the bank CSVs and Stripe; the
Zettle floor derives a mixed-rate receipt's split its own way, so there the vouchers and their
balance are compared). `--check` adds the file up with Decimal and must agree.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from bench import suite
from bench.floors.common import check_total
from bench.gen_peers import write_peers
from bench.gen_seb import write_seb
from bench.gen_stripe import generate
from bench.gen_zettle import write_zettle

from .test_errors import run_cli

REPO = Path(__file__).resolve().parent.parent


# Both run in this process (the job is compared, not the process; a floor's exit is tested
# by test_a_floor_refuses_an_amount_it_cannot_parse_exactly below).


def _bokfor(tmp_path: Path, data: Path, mapping: Path, capsys) -> bytes:
    out = tmp_path / "bokfor.si"
    args = [str(data), "--mapping", str(mapping), "--out", str(out)]
    code, _, err = run_cli(
        ["convert", *args, "--ledger", str(tmp_path / "ledger.sqlite"), "--quiet"], capsys
    )
    assert code == 0, err
    return out.read_bytes()


def _floor(tmp_path: Path, module: str, data: Path, capsys, monkeypatch) -> tuple[bytes, str]:
    """`python -m module DATA OUT --check`, called as its main() with that sys.argv."""
    out = tmp_path / "floor.si"
    monkeypatch.setattr(sys, "argv", [module, str(data), str(out), "--check"])
    importlib.import_module(module).main()
    return out.read_bytes(), capsys.readouterr().out


def _vouchers(sie: bytes) -> bytes:
    """From the first #VER on: the vouchers, without the file's head (#KONTO, #DIM, …)."""
    return sie[sie.index(b"#VER") :]


@pytest.mark.parametrize(
    "module, make, mapping",
    [
        (
            "bench.floors.peers",
            lambda p: write_peers(p, 300, 42),
            lambda w: REPO / "bench" / "mappings" / "peers.yaml",
        ),
        ("bench.floors.seb", lambda p: write_seb(p, 400, 1), suite._bank_mapping),
        (
            "bench.floors.stripe",
            lambda p: generate(600, p, 1),
            lambda w: REPO / "mappings" / "stripe.yaml",
        ),
    ],
)
def test_a_floor_writes_the_vouchers_bokfor_writes(
    tmp_path, module, make, mapping, capsys, monkeypatch
):
    data = tmp_path / "input.csv"
    make(data)
    expected = _bokfor(tmp_path, data, mapping(tmp_path), capsys)
    got, said = _floor(tmp_path, module, data, capsys, monkeypatch)
    assert _vouchers(got) == _vouchers(expected)
    assert "totals equal Decimal's" in said
    assert said.strip().endswith(f"{expected.count(b'#VER')} vouchers")


def test_the_zettle_floor_closes_the_same_days_in_balance(tmp_path, capsys, monkeypatch):
    data = tmp_path / "receipts.csv"
    write_zettle(data, 730, 1)
    expected = _bokfor(tmp_path, data, REPO / "mappings" / "pos.yaml", capsys)
    got, said = _floor(tmp_path, "bench.floors.zettle", data, capsys, monkeypatch)
    heads = [line for line in got.splitlines() if line.startswith(b"#VER")]
    assert heads == [line for line in expected.splitlines() if line.startswith(b"#VER")]
    assert said.strip().endswith("365 vouchers")
    for voucher in _vouchers(got).split(b"#VER")[1:]:
        amounts = [line.split()[3] for line in voucher.splitlines() if line.startswith(b"#TRANS")]
        assert sum(int(a.replace(b".", b"")) for a in amounts) == 0


def test_a_floor_refuses_an_amount_it_cannot_parse_exactly(tmp_path):
    data = tmp_path / "peers.csv"
    data.write_text(
        "date;text;amount\n2026-01-02;STRIPE;10,50\n2026-01-03;X;1.234,5\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.floors.peers", str(data), str(tmp_path / "out.si")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "line 3: amount '1.234,5' is not an exact amount"


def test_the_decimal_check_catches_a_total_that_is_off_by_one_ore(tmp_path):
    data = tmp_path / "peers.csv"
    data.write_text("date;text;amount\n2026-01-02;A;10,50\n2026-01-03;B;-0,01\n", encoding="utf-8")
    kwargs = dict(delimiter=";", encoding="utf-8", header_line="date;", comma=True)
    check_total(data, {"amount": 1049}, **kwargs)
    with pytest.raises(AssertionError):
        check_total(data, {"amount": 1050}, **kwargs)


def _result(label: str, rows: int, wall: float, peak: int = 100) -> suite.Result:
    return suite.Result(label, rows, [wall], [peak])


def _suite(tmp_path: Path, quick: bool = False) -> suite.Suite:
    s = suite.Suite(tmp_path, quick, 1, 90)
    floor = "columnar floor, Polars: the whole job (1 vouchers)"
    s.results["bank_peers"] = (
        suite.CASES["bank_peers"],
        _result("bokfor", 100_000, 1.0),
        [
            _result(floor, 100_000, 0.8),
            suite.Result(
                "beangulp extract (csvbase, 3 rules)",
                100_000,
                note="skipped: beangulp==0.2.0 not installable: no network",
            ),
            _result("hledger print (3 if rules)", 100_000, 14.0),
        ],
    )
    s.results["bank_100"] = (
        suite.CASES["bank_100"],
        _result("bokfor", 100, 0.3),
        [_result("beangulp extract (csvbase, 3 rules)", 100, 0.2)],
    )
    s.results["stripe_2g"] = (
        suite.CASES["stripe_2g"],
        suite.Result(
            "bokfor", 10, note="failed: the file is 2048 MiB, more than the 512 MiB allowed"
        ),
        [],
    )
    s.loads = {"bank_peers": 0.5, "bank_100": 0.5, "stripe_2g": 0.5}
    return s


def test_the_targets_table_judges_each_target_from_the_run(tmp_path):
    rows = {t[0]: t[1:] for t in suite.targets(_suite(tmp_path))}
    assert rows["100k peers bank CSV → SIE: ≥ 15× hledger's rows/s"] == (
        "14.00× (100,000 vs 7,143 rows/s)",
        "≥ 15×",
        "MISSED",
    )
    assert rows["100k peers bank CSV → SIE: ≤ 1.5× the columnar floor"] == (
        "1.25× (1.00 s vs 0.80 s)",
        "≤ 1.5×",
        "met",
    )
    assert rows["100k peers bank CSV → SIE: ≥ 4× beangulp's rows/s"] == (
        "beangulp extract (csvbase, 3 rules): skipped: beangulp==0.2.0 not installable: no network",
        "≥ 4×",
        "not judged",
    )
    assert rows["a 100-row file, whole process: ≤ 0.25 s"] == (
        "0.30 s, load 0.5 at its start",
        "≤ 0.25 s",
        "MISSED",
    )
    assert rows["a 100-row file, whole process: ≤ 2× beangulp"] == (
        "1.50× (0.30 s vs 0.20 s)",
        "≤ 2×",
        "met",
    )
    assert rows["2 GB Stripe export converts with peak memory under 1 GiB (not in CI)"] == (
        "failed: the file is 2048 MiB, more than the 512 MiB allowed",
        "< 1024 MiB",
        "MISSED",
    )
    assert rows["1M Stripe rows → SIE: peak ≤ 400 MiB"] == (
        "not run (--cases stripe_1m)",
        "≤ 400 MiB",
        "—",
    )
    quick = {t[0]: t[3] for t in suite.targets(_suite(tmp_path, quick=True))}
    assert quick["a 100-row file, whole process: ≤ 2× beangulp"] == "not judged (--quick)"


def test_a_case_that_may_fail_reports_the_failure_instead_of_ending_the_suite():
    said = suite.repeat(
        "bokfor convert",
        10,
        [
            sys.executable,
            "-c",
            "import sys; print('refused: the file is too large Fix: split it',"
            " file=sys.stderr);"
            " sys.exit(2)",
        ],
        3,
        90,
        tolerate=True,
    )
    assert (said.walls, said.note) == ([], "failed: refused: the file is too large")
    with pytest.raises(SystemExit):
        suite.repeat("bokfor convert", 10, [sys.executable, "-c", "raise SystemExit(2)"], 1, 90)
