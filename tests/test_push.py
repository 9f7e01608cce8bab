"""`bokfor push` against the local Fortnox fake (in-process, on a simulated clock shared by
the fake's rate limit and bokfor's limiter): exactly once per voucher through re-runs and
every fault the fake can inject, pre-flight listing every problem, no 429 over 200 vouchers,
`plan --books fortnox`, `fortnox login`, ledger migration and settling."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from bokfor import push as push_module
from bokfor.fortnox.auth import ClientCredentials
from bokfor.fortnox.batch import key_of
from bokfor.fortnox.client import FortnoxClient
from bokfor.fortnox.ratelimit import TokenBucket
from bokfor.ledger import MIGRATIONS, Ledger

from .fortnox_fake import CLIENT_ID, CLIENT_SECRET, TENANT_ID, FortnoxFake, VirtualClock
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
MAPPING = REPO / "mappings" / "stripe.yaml"
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
HEADER = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
ACCOUNTS = (
    1515,
    1580,
    1680,
    1930,
    2611,
    2614,
    2621,
    2631,
    2645,
    2890,
    3001,
    3105,
    3990,
    6570,
    6990,
)


def company(**kwargs) -> FortnoxFake:
    """The fake's standard company, with what the Stripe mapping books into: series S,
    every account it uses, cost centre WEB."""
    fake = FortnoxFake.standard(**kwargs)
    fake.add_series("S", True, "Stripe")
    for number in ACCOUNTS:
        if number not in fake.accounts[2]:
            fake.add_account(number)
    fake.add_cost_center("WEB")
    return fake


def stripe_csv(path: Path, n: int, first: dt.date = dt.date(2026, 1, 2), start: int = 0) -> Path:
    """A balance export of `n` charges, one per row (ids from `start`), on successive days."""
    lines = [HEADER]
    for i in range(start, start + n):
        day = first + dt.timedelta(days=i % 300)
        gross = 10000 + i
        fee = 300
        lines.append(
            f"txn_{i:024d},charge,ch_{i:024d},{gross // 100}.{gross % 100:02d},3.00,,,"
            f"{(gross - fee) // 100}.{(gross - fee) % 100:02d},sek,{day} 12:00,"
            f"{day} 12:00,Order {i},{gross // 100}.{gross % 100:02d},sek,,,,{i},SE"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def per_row(tmp_path: Path) -> Path:
    text = MAPPING.read_text(encoding="utf-8").replace("grouping: per_day", "grouping: per_row", 1)
    text = text.replace("voucher_text: Stripe {date}", "voucher_text: Stripe {type} {id}", 1)
    path = tmp_path / "stripe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def fortnox_env(fake: FortnoxFake, tmp_path: Path) -> dict[str, str]:
    return {
        "FORTNOX_CLIENT_ID": CLIENT_ID,
        "FORTNOX_CLIENT_SECRET": CLIENT_SECRET,
        "FORTNOX_TENANT_ID": TENANT_ID,
        "BOKFOR_FORTNOX_URL": fake.base_url,
        "BOKFOR_FORTNOX_TOKEN_URL": fake.token_url,
        "FORTNOX_TOKEN_FILE": str(tmp_path / "no-token-file.json"),
        "BOKFOR_FORTNOX_RECONCILE_DELAY": "0.05",
        "SOURCE_DATE_EPOCH": "1767225600",
    }


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock):
    fake = company(clock=clock).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def env(fake, clock, tmp_path, monkeypatch):
    """The CLI in this process talks to the fake, its limiter and backoff on the clock."""
    for name, value in fortnox_env(fake, tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in ("FORTNOX_REFRESH_TOKEN",):
        monkeypatch.delenv(name, raising=False)

    def make_client(token_file=None, timeout=5.0):
        auth = ClientCredentials(CLIENT_ID, CLIENT_SECRET, TENANT_ID, token_url=fake.token_url)
        return FortnoxClient(
            fake.base_url,
            auth,
            TokenBucket(clock=clock, sleep=clock.sleep),
            timeout=float(os.environ.get("BOKFOR_FORTNOX_TIMEOUT", timeout)),
            sleep=clock.sleep,
        )

    monkeypatch.setattr(push_module, "make_client", make_client)
    return fake


def push(args, capsys, *extra):
    return run_cli(["push", *map(str, args), "--show", "0", *extra], capsys)


def assert_exactly_once(fake: FortnoxFake, ledger: Path, rows: int) -> None:
    """Every row's voucher is in Fortnox once, and every row recorded once as posted."""
    keys = [key_of(v) for v in fake.vouchers]
    assert len(keys) == len(set(keys)) == rows, keys
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] == rows
        pushed = conn.execute(
            "SELECT state, key, fortnox_series, fortnox_number FROM pushes"
        ).fetchall()
        assert (
            conn.execute("SELECT count(*) FROM exports WHERE state = 'pending'").fetchone()[0] == 0
        )
    assert sorted(p[1] for p in pushed) == sorted(keys)
    assert {p[0] for p in pushed} == {"posted"}
    numbers = {(v["VoucherSeries"], v["VoucherNumber"]) for v in fake.vouchers}
    assert {(p[2], p[3]) for p in pushed} == numbers


@pytest.fixture
def job(tmp_path):
    csv = stripe_csv(tmp_path / "balance.csv", 6)
    return [csv, "-m", per_row(tmp_path), "--ledger", tmp_path / "l.sqlite"]


# --- the push --------------------------------------------------------------------------


def test_push_twice_posts_each_voucher_once(env, job, tmp_path, capsys):
    code, out, err = push(job, capsys)
    assert code == 0, err
    assert "Posted 6 verifikationer to Fortnox" in out and "S 1..6" in out
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)
    body = env.vouchers[0]
    assert body["VoucherSeries"] == "S" and body["Year"] == 2
    assert body["Description"].startswith("Stripe charge txn_") and key_of(body)
    code, out, _ = push(job, capsys)
    assert code == 3 and "Nothing new" in out
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)
    assert env.count("POST", "/3/vouchers") == 6
    # The ledger knows Fortnox's numbers.
    code, out, _ = run_cli(
        [
            "ledger",
            "show",
            "stripe:txn_000000000000000000000003",
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert code == 0 and "in verifikation S" in out and "fortnox:" in out
    # and the trail: the rule that booked it, the file read, Fortnox's number per voucher
    assert "rule: (recorded" not in out and "\nrule: " in out
    assert f"read from {job[0]} (sha256 " in out
    from bokfor.ledger import Ledger
    from bokfor.trail import read_trail

    trail = read_trail(Ledger.open(tmp_path / "l.sqlite"))

    vouchers = list(trail.vouchers())
    assert [v.fortnox for v in vouchers] == [f"S {n}, räkenskapsår-id 2" for n in range(1, 7)]
    assert all(r.rule and r.file == str(job[0]) for v in vouchers for r in v.rows)
    assert sum(len(v.rows) for v in vouchers) == 6


def test_rows_added_later_post_only_those(env, tmp_path, capsys):
    csv, mapping, ledger = tmp_path / "b.csv", per_row(tmp_path), tmp_path / "l.sqlite"
    stripe_csv(csv, 3)
    assert push([csv, "-m", mapping, "--ledger", ledger], capsys)[0] == 0
    stripe_csv(csv, 5)
    code, out, _ = push([csv, "-m", mapping, "--ledger", ledger], capsys)
    assert code == 0 and "Posted 2 verifikationer" in out and "S 4..5" in out
    assert_exactly_once(env, ledger, 5)


def test_dry_run_runs_the_preflight_and_posts_nothing(env, job, tmp_path, capsys):
    code, out, err = push(job, capsys, "--dry-run")
    assert code == 0, err
    assert "pre-flight against Fortnox" in out and "6 verifikationer would be posted" in out
    assert env.count("POST", "/3/vouchers") == 0 and not env.vouchers
    assert not (tmp_path / "l.sqlite").exists()


def test_replaced_characters_are_warned_about_in_a_push_and_its_dry_run(env, tmp_path, capsys):
    mapping = per_row(tmp_path)
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace(
            "voucher_text: Stripe {type} {id}", 'voucher_text: "Stripe <{id}>"', 1
        ),
        encoding="utf-8",
    )
    args = [stripe_csv(tmp_path / "b.csv", 2), "-m", mapping, "--ledger", tmp_path / "l.sqlite"]
    warning = "bokfor: warning: character '<' (U+003C LESS-THAN SIGN) is not allowed by Fortnox"
    for extra in (["--dry-run"], []):
        code, _, err = push(args, capsys, *extra)
        assert code == 0 and warning in err, err
    assert env.vouchers[0]["Description"].startswith("Stripe (txn_000000000000000000000000) ")


def test_json_summary(env, job, capsys):
    code, out, _ = push(job, capsys, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "posted" and summary["vouchers"] == 6
    assert summary["numbers"][0] == ["S", 1, 2]


def test_a_sie_export_after_a_push_books_nothing_twice(env, job, tmp_path, capsys):
    assert push(job, capsys)[0] == 0
    code, out, _ = run_cli(["convert", *map(str, job), "-o", str(tmp_path / "o.si")], capsys)
    assert code == 3 and not (tmp_path / "o.si").exists()


# --- whose books: the company's organisation number ------------------------------------


def _fortnox_requests(fake: FortnoxFake) -> list[str]:
    return [f"{m} {p}" for m, p, _ in fake.log if p != "/oauth-v1/token"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_token_of_another_company_is_refused_before_anything_else(
    env, job, tmp_path, capsys, dry_run
):
    env.orgnr = "559900-1236"  # the token belongs to another client's Fortnox
    code, _, err = push(job, capsys, *(["--dry-run"] if dry_run else []))
    assert code == 2
    assert err == (
        f"bokfor: error: {job[2]}: company.orgnr: the Fortnox credentials (TenantId "
        "1234567) are for Fakebolaget AB, 559900-1236, not for the mapping's company "
        "Exempelbutiken AB, 556677-8899; nothing was posted or recorded Fix: use the credentials of 556677-8899 "
        "(the token file `bokfor fortnox login --token-file FILE` wrote for that company, "
        "given as --token-file or $FORTNOX_TOKEN_FILE), or correct company.orgnr in the "
        "mapping if it is the wrong number.\n"
    )
    # The company is read first: no register, no voucher, no ledger.
    assert _fortnox_requests(env) == ["GET /3/companyinformation"]
    assert not env.vouchers and not (tmp_path / "l.sqlite").exists()


@pytest.mark.parametrize(
    "written", ["5566778899", "16556677-8899", "165566778899", " 556677-8899 "]
)
def test_org_numbers_are_compared_however_fortnox_writes_them(env, job, capsys, written):
    env.orgnr = written
    code, out, err = push(job, capsys)
    assert code == 0, err
    assert "Posted 6 verifikationer" in out
    assert env.count("GET", "/3/companyinformation") == 1  # once a run


def test_orgnr_digits():
    assert {
        push_module.orgnr_digits(t)
        for t in ("556677-8899", "5566778899", "16556677-8899", "165566778899", "556677 8899")
    } == {"5566778899"}
    assert push_module.orgnr_digits("19811218-9876") == "8112189876"  # a sole trader
    for bad in ("", "556677-8898", "17556677-8899", "556677-889", "SE556677889901"):
        assert push_module.orgnr_digits(bad) is None, bad


def test_a_fortnox_company_without_a_valid_orgnr_is_refused(env, job, capsys):
    env.orgnr = ""
    code, _, err = push(job, capsys)
    assert code == 2
    assert (
        "company.orgnr: the Fortnox company Fakebolaget AB (credentials: TenantId 1234567) "
        "has no valid organisation number (''), so bokfor cannot check that it is the "
        "mapping's company Exempelbutiken AB, 556677-8899; nothing was posted" in err
    )
    assert not env.vouchers


def test_a_mapping_without_orgnr_cannot_push(env, tmp_path, capsys):
    mapping = per_row(tmp_path)
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("  orgnr: 556677-8899\n", "", 1), encoding="utf-8")
    csv = stripe_csv(tmp_path / "b.csv", 2)
    for extra in ([], ["--dry-run"]):
        code, _, err = push([csv, "-m", mapping, "--ledger", tmp_path / "l.sqlite"], capsys, *extra)
        assert code == 2
        assert err == (
            f"bokfor: error: {mapping}: company.orgnr: the mapping names no organisation "
            "number, so bokfor cannot check whose books the Fortnox credentials open; "
            "nothing was posted Fix: add `orgnr: NNNNNN-NNNN` (the company's "
            "organisationsnummer, as Fortnox shows it) under company: in the mapping.\n"
        )
    assert not env.log and not (tmp_path / "l.sqlite").exists()


def test_settling_an_interrupted_push_checks_the_company_first(env, job, tmp_path, capsys):
    """A pending push is looked up in Fortnox; in another company's books it would be "not
    found" and its rows posted again."""
    env.inject("drop-after-commit", "POST", "/3/vouchers")
    env.inject("500", "GET", "/3/vouchers/sublist", times=100)
    assert push(job, capsys)[0] == 1
    env.faults.clear()
    env.orgnr = "559900-1236"
    code, _, err = run_cli(["plan", *map(str, job)], capsys)
    assert code == 2 and "are for Fakebolaget AB, 559900-1236, not for the mapping's" in err
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:
        assert conn.execute("SELECT state FROM pushes").fetchall() == [("pending",)]
    env.orgnr = "556677-8899"
    assert push(job, capsys)[0] == 0
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)


def test_a_token_without_the_companyinformation_scope_says_which_scope(env, job, capsys):
    env.inject(
        "error",
        "GET",
        "/3/companyinformation",
        times=5,
        status=403,
        code=2001101,
        message="Har inte behörighet för scope",
    )
    code, _, err = push(job, capsys)
    assert code == 2
    assert "Fortnox refused the company information (HTTP 403, code 2001101)" in err
    assert "companyinformation" in err.split("Fix:")[1]
    assert not env.vouchers


# --- pre-flight --------------------------------------------------------------------------


def test_preflight_reports_every_problem_before_posting_anything(env, tmp_path, capsys):
    env.add_series("S", manual=False)  # 1. series not manual
    env.add_account(6570, active=False)  # 2. fees account inactive
    del env.accounts[2][2611]  # 3. VAT account missing
    env.add_account(1580, transaction_information="MANDATORY")  # 4. row text required
    env.add_account(3001, project="MANDATORY")  # 5. project required
    env.locked_until = dt.date(2026, 1, 3)  # 6. two vouchers in the locked period
    env.cost_centers.pop("WEB")  # 7. cost centre missing
    csv = stripe_csv(tmp_path / "b.csv", 6)
    code, out, err = push([csv, "-m", per_row(tmp_path), "--ledger", tmp_path / "l.sqlite"], capsys)
    assert code == 2
    kinds = [
        "series-not-manual",
        "account-inactive",
        "account-missing",
        "transaction-information-required",
        "project-required",
        "locked-period",
        "cost-centre-missing",
    ]
    assert f"{len(kinds)} problems Fortnox would refuse; nothing was posted" in err
    for kind in kinds:
        assert f"] [{kind}]" in err.replace("  1. [", "] [").replace(". [", "] ["), kind
    assert "locked in 2 vouchers" in err
    assert env.count("POST", "/3/vouchers") == 0 and not (tmp_path / "l.sqlite").exists()


def test_preflight_without_the_settings_scope_leaves_the_locked_period_to_fortnox(
    env, job, tmp_path, capsys
):
    env.inject(
        "error",
        "GET",
        "/3/settings/lockedperiod",
        times=5,
        status=403,
        code=2001101,
        message="Saknar behörighet för scope settings",
    )
    env.locked_until = dt.date(2026, 1, 4)
    code, _, err = push(job, capsys)
    assert code == 2
    assert (
        "Fortnox refused the voucher (HTTP 400, code 2000401): Administratör har låst "
        "perioden t.o.m. 2026-01-04" in err
    )
    assert "Fix: the voucher date lies in a locked period" in err
    assert "voucher 1 of 6" in err and "0 posted before it" in err
    assert not env.vouchers
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:  # nothing pending, nothing exported
        assert conn.execute("SELECT count(*) FROM pushes").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM exports").fetchone()[0] == 0


def test_a_refusal_midway_keeps_what_was_posted(env, job, tmp_path, capsys):
    env.inject(
        "error",
        "POST",
        "/3/vouchers",
        status=400,
        code=2001304,
        message="Kunde inte hitta konto 1580",
    )
    env.faults[-1].times = 0
    assert push(job, capsys, "--to", "2026-01-04")[0] == 0  # 3 vouchers
    env.faults[-1].times = 1
    code, _, err = push(job, capsys)
    assert code == 2 and "code 2001304" in err and "3 posted before it" not in err
    assert "voucher 1 of 3" in err
    assert push(job, capsys)[0] == 0
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)


# --- faults of the fake ------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "drop-after-commit", "drop-before-commit", "slow", "401"])
def test_faults_end_with_every_voucher_once(env, job, tmp_path, capsys, monkeypatch, fault):
    if fault == "slow":
        monkeypatch.setenv("BOKFOR_FORTNOX_TIMEOUT", "0.3")
        monkeypatch.setenv("BOKFOR_FORTNOX_RECONCILE_DELAY", "0.6")
    # Two faulty answers (one for 401: the client refreshes the token once per request).
    env.inject(fault, "POST", "/3/vouchers", times=1 if fault == "401" else 2, delay=0.5)
    code, out, err = push(job, capsys)
    assert code == 0, err
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)
    if fault in ("500", "drop-after-commit", "drop-before-commit", "slow"):
        assert env.count("GET", "/3/vouchers/sublist/S") >= 2  # looked up, never re-sent blind
    if fault in ("drop-after-commit", "slow"):
        assert "2 found after an unanswered POST" in out


def test_expired_token_between_and_during_runs(env, job, tmp_path, capsys):
    assert push(job, capsys, "--to", "2026-01-03")[0] == 0
    env.expire_tokens()
    env.inject("401", "POST", "/3/vouchers")
    assert push(job, capsys)[0] == 0
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)


def test_fortnox_down_leaves_a_pending_voucher_the_next_run_settles(env, job, tmp_path, capsys):
    env.inject("500", "POST", "/3/vouchers", times=100)
    env.inject("500", "GET", "/3/vouchers/sublist", times=100)
    code, _, err = push(job, capsys)
    assert code == 1 and "the push stopped after 0 of 6 vouchers" in err
    assert "never books it twice" in err
    env.faults.clear()
    with sqlite3.connect(tmp_path / "l.sqlite") as conn:
        assert conn.execute("SELECT state FROM pushes").fetchall() == [("pending",)]
    code, _, err = push(job, capsys)
    assert code == 0, err
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)


def test_several_vouchers_with_one_key_stop_the_run_until_the_user_decides(
    env, job, tmp_path, capsys
):
    env.inject("drop-after-commit", "POST", "/3/vouchers")
    env.inject("500", "GET", "/3/vouchers/sublist", times=100)
    assert push(job, capsys)[0] == 1  # first voucher booked, its answer lost, lookup failed
    env.faults.clear()
    copy = dict(env.vouchers[0], VoucherNumber=99)  # someone posted it again by hand
    env.vouchers.append(copy)
    code, _, err = push(job, capsys)
    assert code == 2 and "Fortnox holds several vouchers with bokfor key" in err
    assert "S 1, S 99" in err
    key = key_of(copy)
    code, out, _ = run_cli(
        ["ledger", "settle", key, "S", "1", "--ledger", str(tmp_path / "l.sqlite")], capsys
    )
    assert code == 0 and "Recorded" in out
    env.vouchers.remove(copy)
    assert push(job, capsys)[0] == 0
    assert_exactly_once(env, tmp_path / "l.sqlite", 6)


# --- the rate limit ----------------------------------------------------------------------


def test_200_vouchers_never_draw_a_429(env, clock, tmp_path, capsys):
    csv = stripe_csv(tmp_path / "b.csv", 200)
    start = clock.now
    code, out, err = push([csv, "-m", per_row(tmp_path), "--ledger", tmp_path / "l.sqlite"], capsys)
    assert code == 0, err
    assert env.rate_limited == 0
    assert_exactly_once(env, tmp_path / "l.sqlite", 200)
    elapsed = clock.now - start  # simulated seconds
    rate = 200 / elapsed
    assert 3.5 < rate <= 4.0 + 1e-9, rate  # the limiter's 4/s (24 per 5 s), not slower


@pytest.mark.skipif(
    not os.environ.get("BOKFOR_FORTNOX_REALTIME"),
    reason="real-time 200-voucher push (~50 s): BOKFOR_FORTNOX_REALTIME=1",
)
def test_200_vouchers_at_real_pace(tmp_path, capsys, monkeypatch):
    fake = company().start()
    try:
        for name, value in fortnox_env(fake, tmp_path).items():
            monkeypatch.setenv(name, value)
        csv = stripe_csv(tmp_path / "b.csv", 200)
        start = time.monotonic()
        code, out, err = push(
            [csv, "-m", per_row(tmp_path), "--ledger", tmp_path / "l.sqlite"], capsys
        )
        elapsed = time.monotonic() - start
        assert code == 0, err
        assert fake.rate_limited == 0
        assert_exactly_once(fake, tmp_path / "l.sqlite", 200)
        print(f"200 vouchers in {elapsed:.1f} s: {200 / elapsed:.2f} vouchers/s")
    finally:
        fake.stop()


@pytest.mark.parametrize(
    ("limit", "per_5s", "burst"),
    [
        (None, 24, 4),
        ("", 24, 4),
        ("10", 9, 1),
        ("1", 2, 1),
        ("many", 24, 4),
        ("100000", 99999, 19999),
    ],
)
def test_the_client_paces_to_fortnoxs_limit_unless_told_another(
    fake, tmp_path, monkeypatch, limit, per_5s, burst
):
    """$BOKFOR_FORTNOX_RATE_LIMIT (requests per 5 s, at least 3) sets the client's bucket;
    unset or not a number, it is Fortnox's 25 with a request of margin."""
    for name, value in fortnox_env(fake, tmp_path).items():
        monkeypatch.setenv(name, value)
    if limit is None:
        monkeypatch.delenv(push_module.ENV_RATE_LIMIT, raising=False)
    else:
        monkeypatch.setenv(push_module.ENV_RATE_LIMIT, limit)
    bucket = push_module.make_client().limiter
    assert isinstance(bucket, TokenBucket)
    assert (bucket.max_in(5.0), bucket.burst) == (per_5s, burst)


# --- plan --books fortnox ----------------------------------------------------------------


def test_plan_compares_with_the_books_fetched_from_fortnox(env, job, tmp_path, capsys):
    code, out, _ = run_cli(["plan", *map(str, job), "--json"], capsys)
    first = json.loads(out)["to_write"][0]
    # The same voucher, booked by hand in Fortnox: same date, same amounts per account.
    rows = [
        {
            "Account": int(l["account"]),
            **(
                {"Debit": l["amount"]}
                if not l["amount"].startswith("-")
                else {"Credit": l["amount"][1:]}
            ),
        }
        for l in first["lines"]
    ]
    env.vouchers.append(
        {
            "Description": "Handbokad",
            "TransactionDate": first["date"],
            "VoucherSeries": "A",
            "VoucherNumber": 7,
            "Year": 2,
            "VoucherRows": rows,
        }
    )
    code, out, err = run_cli(
        ["plan", *map(str, job), "--books", "fortnox", "--format", "json"], capsys
    )
    assert code == 0, err
    assert env.count("GET", "/3/sie/4") == 1
    flagged = [e["possibly_booked"] for e in json.loads(out)["entries"] if e.get("possibly_booked")]
    assert flagged == ["A 7"]


# --- interrupted pushes are settled by plan and convert too ------------------------------


def test_plan_settles_a_pending_push_first(env, job, tmp_path, capsys):
    env.inject("drop-after-commit", "POST", "/3/vouchers")
    env.inject("500", "GET", "/3/vouchers/sublist", times=100)
    assert push(job, capsys)[0] == 1
    env.faults.clear()
    code, out, err = run_cli(["plan", *map(str, job)], capsys)
    assert code == 0
    assert "an interrupted push had booked bokfor:" in err
    assert "1 already exported (=)" in out and "5 verifikationer to add (+)" in out


def test_a_pending_push_without_credentials_stops_convert(env, job, tmp_path, capsys, monkeypatch):
    env.inject("drop-after-commit", "POST", "/3/vouchers")
    env.inject("500", "GET", "/3/vouchers/sublist", times=100)
    assert push(job, capsys)[0] == 1
    monkeypatch.setattr(
        push_module, "make_client", lambda token_file=None: push_module.token_provider(token_file)
    )
    for name in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
        monkeypatch.delenv(name)
    code, _, err = run_cli(["convert", *map(str, job), "-o", str(tmp_path / "o.si")], capsys)
    assert code == 2 and "no Fortnox client credentials" in err
    assert not (tmp_path / "o.si").exists()


# --- login -------------------------------------------------------------------------------


def test_login_with_a_service_account_saves_a_private_token_file(env, tmp_path, capsys):
    path = tmp_path / "cfg" / "fortnox.json"
    code, out, err = run_cli(["fortnox", "login", "--token-file", str(path)], capsys)
    assert code == 0, err
    assert "service account (TenantId 1234567)" in out and "2 financial years" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant_id": TENANT_ID}
    assert CLIENT_SECRET not in out + err


def test_login_with_a_refresh_token_rotates_and_saves_it(env, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FORTNOX_TENANT_ID")
    first = env.issue_refresh_token()
    monkeypatch.setenv("FORTNOX_REFRESH_TOKEN", first)
    path = tmp_path / "fortnox.json"
    code, out, err = run_cli(["fortnox", "login", "--token-file", str(path)], capsys)
    assert code == 0, err
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] != first and saved["refresh_token"] in env.refresh_tokens
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for secret in (first, saved["refresh_token"], CLIENT_SECRET, saved["access_token"]):
        assert secret not in out + err


def test_login_refused_says_so_without_the_secret(env, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FORTNOX_CLIENT_SECRET", "wrong-secret-123")
    path = tmp_path / "fortnox.json"
    code, out, err = run_cli(["fortnox", "login", "--token-file", str(path)], capsys)
    assert code == 1 and "Fortnox refused the token request (HTTP 401" in err
    assert "wrong-secret-123" not in out + err and not path.exists()


def test_push_uses_the_token_file_login_wrote(env, job, tmp_path, capsys, monkeypatch):
    path = tmp_path / "fortnox.json"
    assert run_cli(["fortnox", "login", "--token-file", str(path)], capsys)[0] == 0
    for name in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID"):
        monkeypatch.delenv(name)
    provider = push_module.token_provider(path)
    assert isinstance(provider, ClientCredentials) and provider.tenant_id == TENANT_ID


# --- the ledger schema -------------------------------------------------------------------


def test_an_older_ledger_is_migrated_and_keeps_its_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    ledger = tmp_path / "l.sqlite"
    conn = sqlite3.connect(ledger)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
    conn.close()
    csv = stripe_csv(tmp_path / "b.csv", 3)
    args = [str(csv), "-m", str(per_row(tmp_path)), "--ledger", str(ledger)]
    assert run_cli(["convert", *args, "-o", str(tmp_path / "o.si")], capsys)[0] == 0
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 5
        assert conn.execute("SELECT kind, state FROM exports").fetchall() == [("sie", "done")]
    # A reader (plan) upgrades a version-1 file too, under the lock.
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    conn.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
    conn.close()
    book = Ledger.open(tmp_path / "old.sqlite")
    assert book.state() == (0, 0, 0, 0)
    book.close()
