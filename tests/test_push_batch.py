"""`bokfor convert --format fortnox --out DIR`: the SIE 4I file with Fortnox's import rules
plus one `POST /3/vouchers` body per voucher and a manifest, recorded as one export,
crash-safe (SIGKILL at every step, then a re-run), and the offline pre-flight `--books`."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bokfor import faults
from bokfor.domain import Company, FiscalYear
from bokfor.sie.model import Balance, SieDocument
from bokfor.sie.reader import read
from bokfor.sie.writer import render

from .test_errors import run_cli
from .test_push import per_row, stripe_csv

SPEC = Path(__file__).resolve().parents[2] / "shared" / "fortnox" / "fortnox-openapi.json"
EPOCH = "1767225600"


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def long_texts(tmp_path: Path) -> Path:
    """per_row, voucher texts from the row description (long, with characters Fortnox
    does not allow), no text limit in the mapping."""
    path = per_row(tmp_path)
    text = (
        path.read_text(encoding="utf-8")
        .replace(
            "voucher_text: Stripe {type} {id}",
            'voucher_text: "Stripe {id} <{description}> mycket lång text som fortsätter"',
            1,
        )
        .replace("text_limit: 50", "text_limit: ~", 1)
    )
    path.write_text(text, encoding="utf-8")
    return path


def batch(tmp_path, capsys, n=4, mapping=None, extra=()):
    csv = stripe_csv(tmp_path / "b.csv", n)
    out = tmp_path / "batch"
    code, stdout, err = run_cli(
        [
            "convert",
            str(csv),
            "-m",
            str(mapping or per_row(tmp_path)),
            "--format",
            "fortnox",
            "--out",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            *extra,
        ],
        capsys,
    )
    return code, stdout, err, out


def test_batch_directory_holds_sie_bodies_and_manifest(tmp_path, capsys):
    code, stdout, err, out = batch(tmp_path, capsys)
    assert code == 0, err
    assert f"Wrote 4 verifikationer to {out}: SIE 4I and 4 POST /3/vouchers bodies" in stdout
    manifest = json.loads((out / "manifest.json").read_text(), parse_float=Decimal)
    assert manifest["count"] == 4 and manifest["sie"]["file"] == "vouchers.si"
    sie = (out / "vouchers.si").read_bytes()
    assert hashlib.sha256(sie).hexdigest() == manifest["sie"]["sha256"]
    doc = read(out / "vouchers.si").document
    assert [v.series for v in doc.vouchers] == ["S"] * 4  # the mapping's series
    assert len(doc.fiscal_years) == 1
    for entry in manifest["vouchers"]:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        body = json.loads(data, parse_float=Decimal)["Voucher"]
        assert body["VoucherSeries"] == "S" and body["Description"].endswith(entry["key"])
        assert entry["debit"] == entry["credit"] and entry["financialyear"] is None
    # Fortnox's import reads the header values unquoted (quotes break its date parsing).
    head = sie.decode("cp437").splitlines()[:7]
    assert head[:3] == ["#FLAGGA 0", "#FORMAT PC8", "#SIETYP 4"]
    assert "#ORGNR 556677-8899" in head
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:
        assert conn.execute(
            "SELECT kind, state, target, vouchers, rows FROM exports"
        ).fetchall() == [("fortnox-batch", "done", str((out / "manifest.json").resolve()), 4, 4)]
    code, stdout, _, _ = batch(tmp_path, capsys)
    assert code == 3 and "Nothing new" in stdout


def test_a_second_batch_needs_a_directory_of_its_own(tmp_path, capsys):
    assert batch(tmp_path, capsys, 2)[0] == 0
    code, _, err, out = batch(tmp_path, capsys, 3)
    assert code == 2 and f"{out} already holds a batch (manifest.json)" in err
    assert "e.g. --out 'batches/{run}'" in err


def test_texts_fit_fortnox_and_replaced_characters_are_warnings(tmp_path, capsys):
    code, _, err, out = batch(tmp_path, capsys, 2, mapping=long_texts(tmp_path))
    assert code == 0, err
    doc = read(out / "vouchers.si").document
    assert all(len(v.text) <= 50 for v in doc.vouchers)  # even with text_limit: ~
    assert "cut to 50" in err
    assert "is not allowed by Fortnox; written as '('" in err
    body = json.loads(next(out.glob("00001-*.json")).read_text())["Voucher"]
    assert "<" not in body["Description"] and "(Order 0)" in body["Description"]


def test_bodies_match_the_official_spec(tmp_path, capsys):
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not present")
    import jsonschema

    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    schemas = copy.deepcopy(spec["components"]["schemas"])
    schemas["fortnox_Voucher"]["required"] = [
        r for r in schemas["fortnox_Voucher"]["required"] if r != "Year"
    ]  # read-only
    schema = {
        "type": "object",
        "required": ["Voucher"],
        "properties": {"Voucher": {"$ref": "#/components/schemas/fortnox_Voucher"}},
        "components": {"schemas": schemas},
    }
    code, _, err, out = batch(tmp_path, capsys, 3, mapping=long_texts(tmp_path))
    assert code == 0, err
    for path in out.glob("0*.json"):
        jsonschema.validate(json.loads(path.read_text(), parse_float=Decimal), schema)


def _books(tmp_path: Path, accounts: dict[str, str], year: int = 2026) -> Path:
    data, _ = render(
        SieDocument(
            Company("Exempelbutiken AB"),
            sie_type="4E",
            generated=dt.date(2026, 2, 1),
            fiscal_years=[FiscalYear(dt.date(year, 1, 1), dt.date(year, 12, 31))],
            accounts=accounts,
            balances=[Balance("UB", 0, a, 0) for a in accounts],
        )
    )
    path = tmp_path / "books.se"
    path.write_bytes(data)
    return path


def test_offline_preflight_lists_every_problem_and_writes_nothing(tmp_path, capsys):
    books = _books(tmp_path, {"1580": "Fordringar", "1930": "Bank"}, year=2025)
    code, _, err, out = batch(tmp_path, capsys, 3, extra=("--books", str(books)))
    assert code == 2
    assert f"pre-flight against the books {books}: 4 problems" in err
    for what in (
        "[year-missing] no financial year covers 2026 dates",
        "[account-missing] account 3001",
        "[account-missing] account 2611",
        "[account-missing] account 6570",
    ):
        assert what in err
    assert not out.exists() and not (tmp_path / "l.sqlite").exists()


def test_offline_preflight_passes_and_new_accounts_can_be_allowed(tmp_path, capsys):
    books = _books(tmp_path, {"1580": "Fordringar", "3001": "Försäljning", "2611": "Moms"})
    code, _, err, out = batch(
        tmp_path, capsys, 2, extra=("--books", str(books), "--allow-new-accounts")
    )
    assert code == 0, err
    assert (out / "manifest.json").exists()


def _run(args, **env):
    return subprocess.run(
        [sys.executable, "-m", "bokfor", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **env},
        timeout=120,
    )


@pytest.mark.parametrize("point", faults.POINTS)
def test_sigkill_at_each_step_then_rerun_writes_the_batch_once(tmp_path, point, capsys):
    """Only the killed run is a process of its own; the re-runs go through the CLI here."""
    csv = stripe_csv(tmp_path / "b.csv", 5)
    out, ledger = tmp_path / "batch", tmp_path / "l.sqlite"
    args = [
        "convert",
        csv,
        "-m",
        per_row(tmp_path),
        "--format",
        "fortnox",
        "--out",
        out,
        "--ledger",
        ledger,
    ]
    killed = _run(args, BOKFOR_FAULT=point)
    assert killed.returncode == -9, killed.stderr
    code, _, err = run_cli([str(a) for a in args], capsys)
    assert code in (0, 3), err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 5 and len(list(out.glob("0*.json"))) == 5
    keys = {k for e in manifest["vouchers"] for k in e["source_keys"]}
    assert len(keys) == 5
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT state, rows FROM exports").fetchall() == [("done", 5)]
        assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] == 5
    assert not list(out.glob(".*.tmp"))
    assert run_cli([str(a) for a in args], capsys)[0] == 3
