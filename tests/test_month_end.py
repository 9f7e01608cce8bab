"""A month end as cron lives it (issue 18): nightly runs over growing, overlapping downloads.

`test_forty_nights_across_the_year_end` runs bokfor every night for 40 nights, 1 December to
9 January (but the two holidays of the year end), on the bank's "last 30 days" and Stripe's
"last 14 days" downloads (each with the day's rows so far), with one fixed `--out` template; half way the bank profile is edited (it stops reading the value date, the
reference and the balance), one night's bank file was re-saved by a spreadsheet, one night
gives yesterday's download beside today's. At the end every row is in exactly one written
file, every written file is on disk with its recorded sha256, and the per-account totals of
the files equal those computed here from the raw rows.

`test_any_split_of_a_statement_books_each_row_once` is the property behind it: any split of
a statement into overlapping files, in any order, over any number of runs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.sie.reader import read

from .test_errors import run_cli

ACCOUNT = "8901-2 345 678 901-2"
COMPANY = """version: 1
company: {name: Simulering AB, orgnr: 556677-8899, fiscal_year_start: 01-01, currency: SEK,
          timezone: Europe/Stockholm}
"""
BANK_MAPPING = (
    COMPANY
    + """defaults: {series: B}
accounts: {1930: Företagskonto, 2990: Ej utredda bankposter}
sources:
  bank:
    profiles:
      sparbanken:
        title: Sparbanken (CSV)
        file: csv
        header: [Datum, Valutadag, Text, Referens, Belopp, Saldo]
        preamble: 4
        delimiter: ";"
        columns: {date: Datum, amount: Belopp, text: Text%s}
        date_format: "%%Y-%%m-%%d"
        decimal_mark: ","
        thousands: [space]
        currency: SEK
        account: {preamble_label: Kontonummer, at: right}
        order: oldest_first
    bank_accounts: {"%s": 1930}
    voucher_text: "{text}"
    fallback:
      post:
        - {account: bank_account, debit: amount}
        - {account: 2990, credit: amount}
"""
)
FULL = ", value_date: Valutadag, reference: Referens, balance: Saldo"
STRIPE_MAPPING = (
    COMPANY
    + """defaults: {series: S}
accounts: {1580: Fordran Stripe, 3001: Försäljning, 6570: Bankkostnader}
sources:
  stripe_balance:
    voucher_text: "{id}"
    fallback:
      post:
        - {account: 1580, debit: net}
        - {account: 6570, debit: fee}
        - {account: 3001, credit: gross}
"""
)
STRIPE_HEADER = (
    "id,Type,Source,Amount,Fee,Destination Platform Fee,Destination Platform Fee "
    "Currency,Net,Currency,Created (UTC),Available On (UTC),Description,Customer "
    "Facing Amount,Customer Facing Currency,Transfer,Transfer Date (UTC),"
    "Transfer Group\n"
)
TEXTS = (
    "Kortköp ICA NÄRA",
    "Swish inbetalning",
    "Bankgiro LEVERANTÖR AB",
    "Hyra",
    "Kortköp Pressbyrån",
    "Inbetalning faktura",
)


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


# -- the raw data ------------------------------------------------------------------------

BankRow = tuple[dt.date, int, str, str]  # date, öre, text, reference


def bank_rows(first: dt.date, last: dt.date, rng: random.Random) -> list[BankRow]:
    """A statement, oldest first: 0-3 rows a day, now and then two the same."""
    rows: list[BankRow] = []
    day = first
    while day <= last:
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            text = rng.choice(TEXTS)
            ore = rng.choice((-9900, -3900, 50000, -125000, 240000, -600000, 35000))
            rows.append((day, ore, text, str(rng.randrange(1000, 9999))))
            if rng.random() < 0.15:  # the same purchase twice (two coffees)
                rows.append((day, ore, text, ""))
        day += dt.timedelta(days=1)
    return rows


def _sek(ore: int) -> str:
    """`-1 250,00`: a space between thousands, a decimal comma."""
    sign, ore = ("-" if ore < 0 else ""), abs(ore)
    return f"{sign}{ore // 100:,}".replace(",", " ") + f",{ore % 100:02d}"


def write_bank(path: Path, rows: list[BankRow], *, resaved: bool = False) -> Path:
    """The rows as the bank writes them (UTF-8, `;`), or as a spreadsheet saves them again
    (Windows-1252, CRLF, every text quoted, no thousands separators)."""
    lines = [f"Kontonummer;{ACCOUNT}", "Period;", "", "Datum;Valutadag;Text;Referens;Belopp;Saldo"]
    balance = 1_000_000
    for day, ore, text, ref in rows:
        balance += ore
        amount, saldo = _sek(ore), _sek(balance)
        if resaved:
            text, amount, saldo = f'"{text}"', amount.replace(" ", ""), saldo.replace(" ", "")
        lines.append(f"{day};{day};{text};{ref};{amount};{saldo}")
    end = "\r\n" if resaved else "\n"
    path.write_bytes((end.join(lines) + end).encode("cp1252" if resaved else "utf-8"))
    return path


StripeRow = tuple[str, str, dt.date, int, int]  # id, type, date, gross, fee


def stripe_rows(first: dt.date, last: dt.date, rng: random.Random) -> list[StripeRow]:
    rows: list[StripeRow] = []
    day, n = first, 0
    while day <= last:
        for _ in range(rng.choice((1, 2, 3))):
            n += 1
            gross = rng.choice((24900, 34900, 129000))
            if rng.random() < 0.1:
                rows.append((f"txn_sim{n:06d}", "refund", day, -gross, 0))
            else:
                rows.append((f"txn_sim{n:06d}", "charge", day, gross, gross * 29 // 1000 + 180))
        day += dt.timedelta(days=1)
    return rows


def write_stripe(path: Path, rows: list[StripeRow]) -> Path:
    lines = [STRIPE_HEADER]
    for txn, kind, day, gross, fee in reversed(rows):  # newest first, as Stripe lists
        lines.append(
            f"{txn},{kind},ch_{txn[4:]},{gross / 100:.2f},{fee / 100:.2f},,,"
            f"{(gross - fee) / 100:.2f},sek,{day} 10:00,{day} 10:00,Order {txn},,,,,\n"
        )
    path.write_text("".join(lines), encoding="utf-8")
    return path


# -- what the written files hold -------------------------------------------------------------


def written(directory: Path) -> tuple[list, Counter[str]]:
    """Every voucher in the SIE files under `directory`, and the net per account."""
    vouchers, totals = [], Counter()
    for path in sorted(directory.glob("*.si")):
        for v in read(path).document.vouchers:
            vouchers.append(v)
            for line in v.lines:
                totals[line.account] += line.amount
    return vouchers, totals


def cli(capsys, *args) -> tuple[int, str, str]:
    return run_cli([str(a) for a in args], capsys)


def test_forty_nights_across_the_year_end(tmp_path, capsys):
    rng = random.Random(18)
    first_night = dt.date(2025, 12, 1)
    bank = bank_rows(first_night - dt.timedelta(days=30), dt.date(2026, 1, 9), rng)
    stripe = stripe_rows(first_night - dt.timedelta(days=14), dt.date(2026, 1, 9), rng)
    full, lean = tmp_path / "bank-full.yaml", tmp_path / "bank-lean.yaml"
    full.write_text(BANK_MAPPING % (FULL, ACCOUNT), encoding="utf-8")
    lean.write_text(BANK_MAPPING % ("", ACCOUNT), encoding="utf-8")
    (tmp_path / "stripe.yaml").write_text(STRIPE_MAPPING, encoding="utf-8")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    codes: Counter[tuple[str, int]] = Counter()
    seen_bank: set[int] = set()  # the rows some night's download held
    seen_stripe: set[int] = set()
    yesterday: Path | None = None
    for night in range(40):
        today = first_night + dt.timedelta(days=night)
        if today in (dt.date(2025, 12, 31), dt.date(2026, 1, 1)):
            continue  # the office is closed: 2 January's runs book three days, two years
        # The last 30 days, and today's rows so far (a download in the evening).
        window = [i for i, r in enumerate(bank) if today - dt.timedelta(days=30) <= r[0] < today]
        todays = [i for i, r in enumerate(bank) if r[0] == today]
        window += todays[: rng.randint(0, len(todays))]
        seen_bank.update(window)
        window = [bank[i] for i in window]
        download = write_bank(inbox / f"bank-{today}.csv", window, resaved=night == 12)
        inputs = [yesterday, download] if night == 25 and yesterday else [download]
        mapping = full if night < 20 else lean  # the profile edited half way
        code, _, err = cli(
            capsys,
            "convert",
            *inputs,
            "-m",
            mapping,
            "--ledger",
            tmp_path / "bank.sqlite",
            "-o",
            out / "bank-{run}.si",
            "--quiet",
            "--strict",
        )
        assert code in (0, 3), (night, err)
        codes["bank", code] += 1
        yesterday = download
        recent = [i for i, r in enumerate(stripe) if today - dt.timedelta(days=14) <= r[2] < today]
        todays = [i for i, r in enumerate(stripe) if r[2] == today]
        recent += todays[: rng.randint(0, len(todays))]
        seen_stripe.update(recent)
        recent = [stripe[i] for i in recent]
        code, _, err = cli(
            capsys,
            "convert",
            write_stripe(inbox / f"stripe-{today}.csv", recent),
            "-m",
            tmp_path / "stripe.yaml",
            "--ledger",
            tmp_path / "stripe.sqlite",
            "-o",
            out / "stripe-{run}.si",
            "--quiet",
            "--strict",
        )
        assert code in (0, 3), (night, err)
        codes["stripe", code] += 1
    booked_bank = [bank[i] for i in sorted(seen_bank)]
    booked_stripe = [stripe[i] for i in sorted(seen_stripe)]

    # Every row in exactly one written file.
    vouchers, totals = written(out)
    bank_vouchers = [v for v in vouchers if v.series == "B"]
    # (The full profile reads the reference column: a reference that is no OCR number is
    # kept in the text, "Hyra / 4711".)
    assert Counter(
        (v.date, v.text.split(" / ")[0], sum(l.amount for l in v.lines if l.account == "1930"))
        for v in bank_vouchers
    ) == Counter((d, t, o) for d, o, t, _ in booked_bank)
    assert sorted(v.text for v in vouchers if v.series == "S") == sorted(
        txn for txn, *_ in booked_stripe
    )
    # The totals per account, from the raw rows.
    assert totals == Counter(
        {
            "1930": sum(o for _, o, _, _ in booked_bank),
            "2990": -sum(o for _, o, _, _ in booked_bank),
            "1580": sum(g - f for _, _, _, g, f in booked_stripe),
            "6570": sum(f for _, _, _, _, f in booked_stripe),
            "3001": -sum(g for _, _, _, g, _ in booked_stripe),
        }
    )
    # Every written file is on disk with its recorded sha256; 2 January gave two files each.
    for ledger in ("bank.sqlite", "stripe.sqlite"):
        code, stdout, err = cli(capsys, "ledger", "verify", "--ledger", tmp_path / ledger)
        assert code == 0, err
    assert len(list(out.glob("*-2025.si"))) == 2 and len(list(out.glob("*-2026.si"))) == 2
    assert codes["bank", 0] > 25 and codes["stripe", 0] > 25 and sum(codes.values()) == 76
    # And one more night on the last downloads: nothing new.
    assert (
        cli(
            capsys,
            "convert",
            yesterday,
            "-m",
            lean,
            "--ledger",
            tmp_path / "bank.sqlite",
            "-o",
            out / "bank-{run}.si",
        )[0]
        == 3
    )


# -- the property: any split, any order, any number of runs --------------------------------


@st.composite
def splits(draw: st.DrawFn) -> tuple[list[BankRow], list[list[tuple[int, int]]]]:
    """A statement (oldest first) and runs, each a list of windows [start, end) into it: a
    window starts at the first row of a day (a download is of whole days) and may end
    anywhere (today's download holds today's rows so far)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    rows = bank_rows(dt.date(2026, 3, 1), dt.date(2026, 3, 12), rng)
    starts = [i for i, r in enumerate(rows) if i == 0 or rows[i - 1][0] != r[0]]
    windows = st.tuples(st.sampled_from(starts), st.integers(0, len(rows))).map(
        lambda w: (w[0], max(w[0], w[1]))
    )
    runs = draw(st.lists(st.lists(windows, min_size=1, max_size=3), min_size=1, max_size=4))
    return rows, runs


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=splits())
def test_any_split_of_a_statement_books_each_row_once(tmp_path_factory, case, capsys):
    rows, runs = case
    tmp = tmp_path_factory.mktemp("split")
    mapping = tmp / "bank.yaml"
    mapping.write_text(BANK_MAPPING % ("", ACCOUNT), encoding="utf-8")
    covered: set[int] = set()
    for n, windows in enumerate(runs):
        paths = [write_bank(tmp / f"run{n}-{k}.csv", rows[a:b]) for k, (a, b) in enumerate(windows)]
        code, _, err = cli(
            capsys,
            "convert",
            *paths,
            "-m",
            mapping,
            "--ledger",
            tmp / "l.sqlite",
            "-o",
            tmp / "out" / "{run}.si",
            "--quiet",
        )
        assert code in (0, 3), err
        covered |= {i for a, b in windows for i in range(a, b)}
    vouchers, _ = written(tmp / "out")
    assert Counter((v.date, v.text, v.lines[0].amount) for v in vouchers) == Counter(
        (rows[i][0], rows[i][2], rows[i][1]) for i in covered
    )
