"""The error catalogue's Fortnox cases that need a Fortnox to talk to: like tests/errors/
(`args`, `expected`: `exit N` then the exact stderr; `BOKFOR_REGEN=1` rewrites it after you
read it), plus `company.json`, what differs in the fake's standard company:

    {"series_not_manual": ["S"], "inactive": [6570], "missing": [2611],
     "transaction_information_required": [1580], "locked_until": "2026-01-02",
     "cost_centres_missing": ["WEB"], "faults": [{"action": "error", ...}],
     "orgnr": "559900-1236", "company_name": "...", "token_file": "acme.json"}

`token_file` writes the fake's credentials to that file in {tmp} (mode 0600) and takes them
out of the environment, so bokfor reads them from the file as after `bokfor fortnox login`.

They live in tests/errors_fortnox/ because tests/test_errors.py runs its cases without a
fake. `{fortnox}` in the expected text stands for the fake's base URL."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from pathlib import Path

import pytest

from bokfor import push as push_module
from bokfor.fortnox.auth import TokenStore
from bokfor.fortnox.client import FortnoxClient
from bokfor.fortnox.ratelimit import TokenBucket

from .fortnox_fake import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from .test_errors import run_cli
from .test_push import VirtualClock, company, fortnox_env

CASES = Path(__file__).parent / "errors_fortnox"
REPO = Path(__file__).parent.parent


def _setup(fake, spec: dict) -> None:
    fake.orgnr = spec.get("orgnr", fake.orgnr)
    fake.company_name = spec.get("company_name", fake.company_name)
    for code in spec.get("series_not_manual", []):
        fake.add_series(code, manual=False)
    for number in spec.get("inactive", []):
        fake.add_account(number, active=False)
    for number in spec.get("missing", []):
        for accounts in fake.accounts.values():
            accounts.pop(number, None)
    for number in spec.get("transaction_information_required", []):
        fake.add_account(number, transaction_information="MANDATORY")
    if spec.get("locked_until"):
        fake.locked_until = dt.date.fromisoformat(spec["locked_until"])
    for code in spec.get("cost_centres_missing", []):
        fake.cost_centers.pop(code, None)
    for fault in spec.get("faults", []):
        fake.inject(
            fault["action"],
            fault.get("method", "POST"),
            fault.get("path", "/3/vouchers"),
            fault.get("times", 1),
            status=fault.get("status", 400),
            code=fault.get("code", 0),
            message=fault.get("message", ""),
        )


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_fortnox_error_case(case, capsys, monkeypatch, tmp_path):
    directory = CASES / case
    clock = VirtualClock()
    fake = company(clock=clock)
    spec = json.loads((directory / "company.json").read_text(encoding="utf-8"))
    _setup(fake, spec)
    fake.start()
    try:
        for name, value in fortnox_env(fake, tmp_path).items():
            monkeypatch.setenv(name, value)
        if spec.get("token_file"):
            TokenStore(tmp_path / spec["token_file"]).save(
                {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant_id": TENANT_ID}
            )
            for name in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("COLUMNS", "200")
        # The credentials as bokfor finds them; the limiter and backoff on the fake's clock.
        monkeypatch.setattr(
            push_module,
            "make_client",
            lambda token_file=None: FortnoxClient(
                fake.base_url,
                push_module.token_provider(token_file),
                TokenBucket(clock=clock, sleep=clock.sleep),
                sleep=clock.sleep,
            ),
        )
        args = shlex.split((directory / "args").read_text(encoding="utf-8"))
        args = [a.replace("{tmp}", str(tmp_path)).replace("{repo}", str(REPO)) for a in args]
        monkeypatch.chdir(directory)
        code, _, err = run_cli(args, capsys)
    finally:
        fake.stop()
    actual = (
        f"exit {code}\n{err}".replace(fake.base_url, "{fortnox}")
        .replace(str(tmp_path), "{tmp}")
        .replace(str(REPO), "{repo}")
    )
    expected_file = directory / "expected"
    if os.environ.get("BOKFOR_REGEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert code != 0 and "Traceback" not in err
    assert actual == expected_file.read_text(encoding="utf-8")
    assert not fake.vouchers, "an error case must book nothing"
