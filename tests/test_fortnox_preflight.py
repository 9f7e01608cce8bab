"""Pre-flight lists every problem of a batch at once, online (the fake) or from a SIE 4E."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bokfor.domain import Line, Voucher
from bokfor.fortnox.auth import ClientCredentials
from bokfor.fortnox.batch import voucher_body, voucher_key
from bokfor.fortnox.client import FortnoxClient
from bokfor.fortnox.preflight import check, fetch_registers, registers_from_sie, year_ids
from bokfor.fortnox.ratelimit import Unlimited
from tests.fortnox_fake import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.fortnox_fake import fortnox_fake  # noqa: F401  (the fixture)

FIXTURE = Path(__file__).parent / "fixtures" / "fortnox" / "export_4e.se"


def V(day, *lines, series="A", key="k"):
    return Voucher(series, dt.date.fromisoformat(day), f"v {key}", tuple(lines), (key,))


GOOD = V("2026-03-02", Line("1930", 100), Line("1580", -100), key="good")


def _client(fake):
    auth = ClientCredentials(CLIENT_ID, CLIENT_SECRET, TENANT_ID, token_url=fake.token_url)
    return FortnoxClient(fake.base_url, auth, Unlimited(), 5)


def test_five_different_problems_in_one_batch_are_five_problems(fortnox_fake):
    batch = [
        GOOD,
        V("2026-03-03", Line("6571", 100), Line("1580", -100), key="inactive"),
        V("2026-03-04", Line("5010", 100), Line("1580", -100), key="no-cost-centre"),
        V("2025-03-01", Line("1930", 100), Line("1580", -100), key="locked"),
        V("2026-03-05", Line("1930", 100), Line("1580", -100), series="F", key="not-manual"),
        V("2027-02-01", Line("1930", 100), Line("1580", -100), key="no-year"),
        V("2026-03-06", Line("6571", 500), Line("1580", -500), key="inactive-again"),
    ]
    with _client(fortnox_fake) as c:
        regs = fetch_registers(c, batch)
    problems = check(batch, regs)
    kinds = sorted(p.kind for p in problems)
    assert kinds == sorted(
        [
            "account-inactive",
            "cost-centre-required",
            "locked-period",
            "series-not-manual",
            "year-missing",
        ]
    )
    inactive = next(p for p in problems if p.kind == "account-inactive")
    assert inactive.count == 2 and "6571" in str(inactive) and "Fix:" in str(inactive)
    assert regs.unchecked == ["cost-centres", "projects"]  # no row uses them: not fetched
    # Each problem is one Fortnox would have refused: posting the good one works.
    assert check([GOOD], regs) == []


def test_every_kind_of_row_problem(fortnox_fake):
    batch = [
        V("2026-03-02", Line("1999", 100), Line("1580", -100), key="missing"),
        V("2026-03-02", Line("4010", 100), Line("1580", -100), key="project-required"),
        V("2026-03-02", Line("1510", 100), Line("1580", -100), key="text-required"),
        V(
            "2026-03-02",
            Line("2650", 100, dims=((1, "CAFE1"),)),
            Line("1580", -100),
            key="cc-not-allowed",
        ),
        V("2026-03-02", Line("1930", 100, dims=((1, "NOPE"),)), Line("1580", -100), key="cc"),
        V("2026-03-02", Line("1930", 100, dims=((1, "OLD"),)), Line("1580", -100), key="old"),
        V("2026-03-02", Line("1930", 100, dims=((6, "P99"),)), Line("1580", -100), key="pr"),
        V("2026-03-02", Line("1930", 100), Line("1580", -90), key="unbalanced"),
        V("2026-03-02", Line("1930", 0), Line("1580", 0), key="empty"),
        V("2026-03-02", Line("1930", 100), Line("1580", -100), series="X", key="series"),
    ]
    with _client(fortnox_fake) as c:
        regs = fetch_registers(c, batch)
    kinds = {p.kind for p in check(batch, regs)}
    assert kinds == {
        "account-missing",
        "project-required",
        "transaction-information-required",
        "cost-centre-not-allowed",
        "cost-centre-missing",
        "cost-centre-inactive",
        "project-missing",
        "unbalanced",
        "too-few-rows",
        "series-missing",
    }


def test_a_batch_that_passes_preflight_posts_cleanly(fortnox_fake):
    batch = [
        V("2026-03-02", Line("5010", 100, dims=((1, "CAFE1"),)), Line("1580", -100), key="a"),
        V(
            "2026-03-02",
            Line("4010", 100, dims=((6, "P12"),)),
            Line("1510", -100, text="Kund 1"),
            key="b",
        ),
    ]
    with _client(fortnox_fake) as c:
        regs = fetch_registers(c, batch)
        assert check(batch, regs) == []
        ids = year_ids(batch, regs)
        for v in batch:
            body = voucher_body(v, key=voucher_key(v), series="A", year_id=ids[v.date])
            c.post_voucher(body, year_id=ids[v.date])
    assert len(fortnox_fake.vouchers) == 2


def test_offline_registers_from_a_sie_export():
    regs = registers_from_sie(FIXTURE)
    assert [(y.id, y.start.year) for y in regs.years] == [(None, 2026), (None, 2025)]
    assert set(regs.unchecked) == {
        "account-settings",
        "series",
        "cost-centres",
        "projects",
        "locked-period",
    }
    batch = [
        GOOD,
        V("2026-05-01", Line("6570", 100), Line("1930", -100), key="no-acct"),
        V("2024-05-01", Line("1930", 100), Line("1580", -100), key="old-year"),
        V(
            "2026-05-02",
            Line("1930", 100, dims=((1, "ANY"),)),
            Line("1580", -100),
            series="ZZ",
            key="unknowable",
        ),
    ]
    assert sorted(p.kind for p in check(batch, regs)) == ["account-missing", "year-missing"]
