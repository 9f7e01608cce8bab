"""The command line as a user meets it: help, version, completion, colour, the words of the
plan's lines, and errors that come before anything is shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
STRIPE = REPO / "samples" / "stripe" / "balance_history.csv"
STRIPE_MAPPING = REPO / "mappings" / "stripe.yaml"
FORTNOX_ENV = ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID",
               "FORTNOX_REFRESH_TOKEN", "FORTNOX_TOKEN_FILE")


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in FORTNOX_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "bokfor" / "fortnox.json"


def test_push_without_credentials_stops_before_the_plan(tmp_path, capsys, no_credentials):
    """Not a page of vouchers and then a refusal: the refusal alone, naming the variables
    and the token file it looked for, and the command that makes one."""
    code, out, err = run_cli(["push", str(STRIPE), "-m", str(STRIPE_MAPPING), "--ledger",
                              str(tmp_path / "l.sqlite")], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "bokfor: error: no Fortnox client credentials: FORTNOX_CLIENT_ID and "
        "FORTNOX_CLIENT_SECRET are not set, and there is no token file "
        f"{no_credentials} Fix: run `bokfor fortnox login` once on a terminal (it checks them "
        f"and saves them in {no_credentials}), or set FORTNOX_CLIENT_ID and "
        "FORTNOX_CLIENT_SECRET (and FORTNOX_TENANT_ID for a service account); --token-file or "
        "$FORTNOX_TOKEN_FILE names another token file.\n")
    assert not (tmp_path / "l.sqlite").exists()


def test_push_names_the_variable_that_is_missing_and_a_token_file_without_them(
        tmp_path, capsys, no_credentials, monkeypatch):
    monkeypatch.setenv("FORTNOX_CLIENT_ID", "an-id")
    token_file = tmp_path / "fortnox.json"
    token_file.write_text("{}")
    token_file.chmod(0o600)
    code, out, err = run_cli(["push", str(STRIPE), "-m", str(STRIPE_MAPPING), "--ledger",
                              str(tmp_path / "l.sqlite"), "--token-file", str(token_file)],
                             capsys)
    assert (code, out) == (2, "")
    assert err.startswith("bokfor: error: no Fortnox client credentials: FORTNOX_CLIENT_SECRET "
                          f"is not set, and the token file {token_file} holds none Fix: ")


# -- the plan's lines count the same things ------------------------------------------------

UNMAPPED_SEB = REPO / "tests" / "errors" / "convert-bank-rows-match-no-rule" / "seb.csv"


def test_unmapped_is_counted_in_rows_on_every_line(tmp_path, capsys):
    """6 rows of 5 kinds match no rule: the input's line, the plan's line and the JSON all
    say 6 rows (the table lists the 5 kinds, each with its rows)."""
    args = ["plan", str(UNMAPPED_SEB), "-m", str(REPO / "mappings" / "bank.yaml"), "--ledger",
            str(tmp_path / "l.sqlite")]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and "6 rows of 5 kinds match no rule" in err
    lines = out.splitlines()
    assert f"{UNMAPPED_SEB}: netbank, 12 rows -> 6 new verifikationer (6 unmapped)" in lines
    assert lines[-1] == ("Plan: 6 verifikationer to add (+), 0 already exported (=); "
                         "0 rows changed (~), 6 rows unmapped (!)")
    assert sum(1 for line in lines if line.startswith("│ !")) == 5
    code, out, _ = run_cli([*args, "--format", "json"], capsys)
    plan = json.loads(out)
    assert plan["counts"]["unmapped"] == plan["inputs"][0]["unmapped"] == 6
    assert sum(1 for e in plan["entries"] if e["status"] == "unmapped") == 5


# -- a file with a header and no rows ----------------------------------------------------


def _header_only(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """One header-only file of every kind of source, made from the samples: name -> (file,
    mapping)."""
    samples, mappings = REPO / "samples", REPO / "mappings"
    made: dict[str, tuple[Path, Path]] = {}

    def head(name: str, sample: Path, lines: int, mapping: str, encoding: str = "utf-8"
             ) -> None:
        text = sample.read_bytes().decode(encoding).splitlines(keepends=True)[:lines]
        target = tmp_path / name / sample.name
        target.parent.mkdir()
        target.write_bytes("".join(text).encode(encoding))
        made[name] = (target, mappings / mapping)

    stripe = samples / "stripe"
    head("stripe-balance", stripe / "balance_history.csv", 1, "stripe.yaml")
    head("stripe-payments", stripe / "unified_payments.csv", 1, "stripe.yaml")
    head("stripe-payouts", stripe / "payouts.csv", 1, "stripe.yaml")
    for report in sorted(stripe.glob("Itemized_*.csv")):
        head(f"stripe-{report.name.split('_SEK')[0].lower()}", report, 1, "stripe.yaml")
    head("zettle-receipts", samples / "pos" / "zettle_receipts_sv.csv", 9, "pos.yaml")
    head("zettle-statement", samples / "pos" / "zettle_statement_sv.csv", 1, "pos.yaml")
    netbank = samples / "bank" / "netbank"
    head("netbank-seb", netbank / "seb.csv", 1, "bank.yaml")
    head("netbank-swedbank", netbank / "swedbank.csv", 2, "bank.yaml", "cp1252")
    head("netbank-nordea", netbank / "nordea.csv", 1, "bank.yaml")
    camt = tmp_path / "camt" / "camt053.xml"
    camt.parent.mkdir()
    camt.write_text(re.sub(r"<Ntry>.*?</Ntry>\s*", "", (samples / "bank" / "camt053_seb.xml")
                           .read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    made["camt"] = (camt, mappings / "bank.yaml")
    made["mt940"] = (REPO / "tests" / "errors" / "convert-bank-no-transactions" /
                     "statement.sta", mappings / "bank.yaml")
    return made


def test_a_header_only_file_of_every_source_is_said_to_be_empty(tmp_path, capsys):
    made = _header_only(tmp_path)
    assert len(made) == 13
    for name, (path, mapping) in made.items():
        code, out, err = run_cli(["convert", str(path), "-m", str(mapping), "--ledger",
                                  str(tmp_path / f"{name}.sqlite"), "-o",
                                  str(tmp_path / f"{name}.si")], capsys)
        assert (name, code) == (name, 3), err
        assert out.splitlines()[-1] == \
            f"Nothing to book: no transactions in {path}; nothing written.", name
        assert "exported before" not in out + err


def test_a_header_only_file_beside_one_exported_before_is_named(tmp_path, capsys):
    empty = _header_only(tmp_path)["stripe-balance"][0]
    common = ["-m", str(STRIPE_MAPPING), "--ledger", str(tmp_path / "l.sqlite")]
    assert run_cli(["convert", str(STRIPE), *common, "-o", str(tmp_path / "1.si")],
                   capsys)[0] == 0
    code, out, _ = run_cli(["convert", str(STRIPE), str(empty), *common, "-o",
                            str(tmp_path / "2.si")], capsys)
    assert code == 3
    assert out.splitlines()[-1] == ("Nothing new: every row was exported before (and there "
                                    f"are no transactions in {empty}); nothing written.")
