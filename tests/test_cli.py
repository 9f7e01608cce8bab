"""The command line as a user meets it: help, version, completion, colour, the words of the
plan's lines, and errors that come before anything is shown."""

from __future__ import annotations

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
