"""Booking by columns (bokfor.postings) books what booking row by row books: the same plan,
vouchers, ledger records, rows in no voucher and warnings, on generated Stripe exports and
mappings that use each of its parts (day and payout vouchers, VAT included and on top, fixed
dimensions and texts, skip, rows of 0.00, rows no rule matches, a backwards posting, rows in
another currency)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.gen_peers import write_peers
from bench.gen_stripe import generate
from bokfor import plan as plan_module
from bokfor import postings
from bokfor.errors import OutputError, UnbalancedError
from bokfor.ledger import Ledger
from bokfor.mapping import Posting, load_mapping
from bokfor.money import split_vat, vat_on
from bokfor.plan import make_plan
from bokfor.sources import csvframe
from bokfor.sie import writer as sie_writer
from bokfor.sie.writer import render_to
from bokfor.sources.stripe_balance import SCHEMA, StripeBalanceSource

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"
STRIPE = (REPO / "mappings" / "stripe.yaml").read_text(encoding="utf-8")

PER_PAYOUT = STRIPE.replace(
    "grouping: per_day             # per_row | per_day | per_payout\n    voucher_text: Stripe {date}",
    "grouping: per_payout\n    voucher_text: Stripe utbetalning {payout_id} ({count} rader)",
)
# A voucher a row, its text from fields: an amount, the date, a date field's absence, free
# text with runs of spaces, a metadata field most rows lack.
PER_ROW = STRIPE.replace(
    "grouping: per_day             # per_row | per_day | per_payout\n    voucher_text: Stripe {date}",
    "grouping: per_row\n    voucher_text: '  {type}   {description} {gross} {date}"
    " {metadata.order_id}'",
)

# Every part of booking by columns in one mapping: skip, rows of 0.00 (a stripe_fee row's fee
# posted both ways), VAT with decimals, reverse charge, a posting text, a backwards posting
# (revenue debited while money comes in: a warning), rows no rule matches (payments,
# adjustments) and a rate for rows in EUR.
ODD = """\
version: 1
company: {name: Exempelbutiken AB, orgnr: 556677-8899, fiscal_year_start: 01-01,
          currency: SEK, timezone: Europe/Stockholm}
defaults: {series: S, accounts: {clearing: 1580, bank: 1930, fees: 6570}}
currency_rates: {fixed: {EUR: "11.2345"}}
accounts: {1580: Stripe, 1930: Bank, 2614: Utg moms omv, 2645: Ing moms omv, 2621: Moms 12,
           3001: Försäljning, 3105: Export, 3960: Valutakursvinst, 6570: Bankkostnader,
           7960: Valutakursförlust}
dimensions: {1: {name: Kostnadsställe, objects: {WEB: Webbutik, APP: Appen}}}
sources:
  stripe_balance:
    grouping: per_day
    rules:
      - name: Export baklänges
        when: {type: charge, metadata.vat_country: [NO, GB]}
        post:
          - {account: 3105, debit: gross, dims: {1: WEB}, text: Export}
          - {account: clearing, credit: net}
          - {account: fees, credit: fee}
      - name: Försäljning 12,5 %
        when: {type: [charge, payment], metadata.vat_country: SE}
        post:
          - {account: clearing, debit: net}
          - {account: fees, debit: fee, text: Avgift kort}
          - {account: 3001, credit: gross, vat: {rate: "12.5", account: 2621}, dims: {1: WEB}}
      - name: Betalning 12,5 %
        when: {type: payment}
        post:
          - {account: clearing, debit: net, text: Betalning}
          - {account: fees, debit: fee, text: Avgift app}
          - {account: 3001, credit: gross, vat: {rate: "12.5", account: 2621}, dims: {1: APP}}
      - name: Återbetalning omvänd
        when: {type: refund}
        post:
          - {account: clearing, debit: net}
          - {account: fees, debit: fee}
          - {account: 3001, credit: gross,
             vat: {rate: 25, reverse_charge: {input: 2645, output: 2614}}}
      - name: Avgift noll
        when: {type: stripe_fee}
        post:
          - {account: fees, debit: fee}
          - {account: fees, credit: fee}
      - name: Utbetalning
        when: {type: payout}
        skip: true
"""


# Rows in EUR converted at a fixed rate: a payout's voucher books what the öre roundings leave
# on the clearing account (booking.fx_difference).
FX = ODD.replace(
    "grouping: per_day\n",
    "grouping: per_payout\n    fx_difference: {account: clearing, gain: 3960, loss: 7960}\n",
)
# ODD a voucher a row: a text that is empty for some rows (their rule's name instead).
ODD_ROWS = ODD.replace("grouping: per_day\n", "grouping: per_row\n    voucher_text: '{fee}'\n")
ODD_ROWS = ODD_ROWS.replace(
    "        when: {type: refund}\n", "        when: {type: refund}\n        text: ' '\n"
)


def _plan_of(inputs: list[Path], mapping, ledger: Path, framed: bool, monkeypatch):
    """Everything a plan says, made by columns (framed) or row by row; `mapping` a file, or
    one loaded already."""
    if isinstance(mapping, Path):
        mapping = load_mapping(mapping)
    with monkeypatch.context() as m:
        # Row by row: no file is large enough to be read into frames.
        m.setattr(plan_module, "FRAMES_FROM", 0 if framed else 1 << 62)
        plan = make_plan(inputs, mapping, Ledger.open(ledger))
    try:
        return {
            "entries": [(e.status, e.voucher, e.detail, e.previous) for e in plan.entries],
            "inputs": [dataclasses.replace(s, sha256="") for s in plan.inputs],
            "records": [plan.records_of(i) for i in range(len(plan.to_write))],
            "skipped": list(plan.spool.skipped()),
            "vouchers": plan.to_write,
            # Not part of a voucher's equality: each row's file and line, in voucher order.
            "origins": [[str(o) for o in v.origins] for v in plan.to_write],
            "tags": plan.tags,
            "notices": [str(n) for n in plan.notices],
            "errors": [str(e) for e in plan.errors],
        }
    finally:
        plan.close()


def _same_plans(tmp_path: Path, inputs: list[Path], mapping_text: str, monkeypatch) -> dict:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_text, encoding="utf-8")
    calls = []
    real = postings.book_frames

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(postings, "book_frames", spy)
    ledger = tmp_path / "ledger.sqlite"
    by_columns = _plan_of(inputs, mapping, ledger, True, monkeypatch)
    assert calls, "the plan did not book by columns"
    by_rows = _plan_of(inputs, mapping, ledger, False, monkeypatch)
    assert len(calls) == len(inputs)  # the row path never books by columns
    for part, value in by_columns.items():
        assert value == by_rows[part], part
    return by_columns


@pytest.mark.parametrize(
    "text", [STRIPE, PER_PAYOUT, PER_ROW], ids=["per_day", "per_payout", "per_row"]
)
def test_the_sample_is_booked_by_columns_as_by_rows(tmp_path, monkeypatch, text) -> None:
    plan = _same_plans(tmp_path, [SAMPLE], text, monkeypatch)
    assert plan["vouchers"] and plan["records"][0]


def test_a_sale_with_a_legacy_payouts_text_is_booked_by_columns_as_a_sale(
    tmp_path, monkeypatch
) -> None:
    """A charge described as an old payout ("STRIPE TRANSFER", a transfer's text before
    2017) beside such a transfer: by columns it was made a payout too, its sale booked to the
    bank account with no revenue or VAT (found by fuzzing)."""
    export = tmp_path / "balance.csv"
    export.write_text(
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description\n"
        "txn_1,transfer,tr_1,-10.00,0.00,-10.00,sek,2024-01-01 10:00,STRIPE TRANSFER\n"
        "txn_2,charge,ch_2,10.00,0.00,10.00,sek,2024-01-01 10:00,STRIPE TRANSFER\n",
        encoding="utf-8",
    )
    plan = _same_plans(tmp_path, [export], PER_ROW, monkeypatch)
    sale = next(r for rs in plan["records"] for r in rs if r.key == "stripe:txn_2")
    assert "type=charge" in sale.content


@pytest.mark.parametrize(
    "text",
    [STRIPE, PER_PAYOUT, ODD, PER_ROW, ODD_ROWS],
    ids=["per_day", "per_payout", "odd", "per_row", "odd_per_row"],
)
def test_a_generated_export_in_batches_is_booked_by_columns_as_by_rows(
    tmp_path, monkeypatch, text
) -> None:
    """2,000 rows in batches of ~16 KiB: days and payouts span batches."""
    path = tmp_path / "balance_history.csv"
    generate(2000, path, seed=11)
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    plan = _same_plans(tmp_path, [path], text, monkeypatch)
    summary = plan["inputs"][0]
    assert summary.rows == 2000 and summary.vouchers > 10
    if text is PER_PAYOUT:
        assert summary.pending  # the last days are not paid out yet
    if text in (ODD, ODD_ROWS):
        assert summary.zero and summary.skipped == {"Utbetalning": summary.skipped["Utbetalning"]}
        assert summary.unmapped and plan["errors"]
        assert any("Export baklänges" in n for n in plan["notices"])


@pytest.mark.parametrize("text", [STRIPE, PER_PAYOUT], ids=["per_day", "per_payout"])
def test_grouped_rows_keys_and_origins_read_back_from_their_files(
    tmp_path, monkeypatch, text
) -> None:
    """A grouped voucher's keys and origins live in temporary files a thousand rows each
    (postings._Spill); asked for one at a time, by slice, from the end, or all, they are
    what the row path holds in memory — also after the plan is closed."""
    path = tmp_path / "balance_history.csv"
    generate(2000, path, seed=5)
    monkeypatch.setattr(postings, "_SPILL_ROWS", 1000)
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    made = []
    real = postings.tempfile.TemporaryFile
    monkeypatch.setattr(
        postings.tempfile, "TemporaryFile", lambda **kw: made.append(1) or real(**kw)
    )
    plan = _same_plans(tmp_path, [path], text, monkeypatch)
    assert len(made) >= 2  # 2,000 rows a thousand a file, per plan by columns
    by_rows = _plan_of(
        [path], tmp_path / "mapping.yaml", tmp_path / "l2.sqlite", False, monkeypatch
    )
    assert len(plan["vouchers"]) == len(by_rows["vouchers"]) > 10
    for spilled, held in zip(plan["vouchers"], by_rows["vouchers"], strict=True):
        keys, origins = spilled.source_keys, spilled.origins
        assert type(keys).__name__ == "_SpilledKeys"
        assert len(keys) == len(held.source_keys) and len(origins) == len(held.origins)
        assert [keys[i] for i in range(len(keys))] == list(held.source_keys)
        assert [origins[i] for i in range(len(origins))] == list(held.origins)
        assert keys[-1] == held.source_keys[-1] and origins[-1] == held.origins[-1]
        assert keys[:3] == tuple(held.source_keys[:3]) and origins[1:3] == held.origins[1:3]
        assert hash(keys) == hash(tuple(held.source_keys))


def test_a_sie_file_of_grouped_rows_never_reads_their_keys_back(tmp_path, monkeypatch) -> None:
    """Ordering the vouchers and writing the SIE file ask for no grouped row's key or origin:
    they stay on disk (the point of postings._Spill; 10.5M rows: ~470 MB read back)."""
    path = tmp_path / "balance_history.csv"
    generate(2000, path, seed=3)
    mapping = load_mapping(REPO / "mappings" / "stripe.yaml")
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)
    monkeypatch.setattr(sie_writer, "COLUMNS_FROM", 0)  # the columns writer, as for large runs
    plan = make_plan([path], mapping, Ledger.open(tmp_path / "ledger.sqlite"))
    try:
        spills = {id(v.source_keys._spill): v.source_keys._spill for v in plan.to_write}
        assert len(spills) == 1 and len(plan.to_write) > 10
        for part in plan.parts:
            render_to(plan.document(mapping, dt.date(2026, 12, 7), part), io.BytesIO())
        assert all(spill._read is None for spill in spills.values())
        assert plan.to_write[0].origins[0].line > 1  # asked for: read back
        assert all(spill._read is not None for spill in spills.values())
    finally:
        plan.close()


def test_grouped_rows_that_cannot_be_written_aside_are_an_output_error(
    tmp_path, monkeypatch
) -> None:
    """A full temporary disk while grouped rows' keys are written aside: the message names
    the temporary directory and what to do, and nothing is exported."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(STRIPE, encoding="utf-8")

    def full(**kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(postings.tempfile, "TemporaryFile", full)
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)
    with pytest.raises(OutputError) as caught:
        make_plan([SAMPLE], load_mapping(mapping), Ledger.open(tmp_path / "ledger.sqlite"))
    assert str(caught.value) == (
        f"{tempfile.gettempdir()}: the plan's temporary file cannot be written ([Errno 28] "
        "No space left on device) Fix: free space in the temporary directory, or point TMPDIR "
        "at a disk with room (up to 0.4 KiB a row); nothing was written or recorded as exported."
    )


def test_vouchers_a_row_are_in_date_order_as_by_rows(tmp_path, monkeypatch) -> None:
    """A file whose rows are not in time order (shuffled): its vouchers sorted by date,
    time and line over every batch, tagged in file order, as booking does."""
    import random

    path = tmp_path / "balance_history.csv"
    generate(800, path, seed=5)
    head, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(5).shuffle(rows)
    path.write_text(head + "".join(rows), encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    plan = _same_plans(tmp_path, [path], PER_ROW, monkeypatch)
    dates = [v.date for v in plan["vouchers"]]
    assert dates == sorted(dates) and plan["tags"] != sorted(plan["tags"])


def test_rows_in_another_currency_are_converted_as_by_rows(tmp_path, monkeypatch) -> None:
    """Every third row in EUR: those batches go through `convert_row` and back to columns,
    and their payouts' vouchers get an FX difference."""
    path = tmp_path / "balance_history.csv"
    generate(600, path, seed=4)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1::3] = [line.replace(",sek,", ",eur,") for line in lines[1::3]]
    path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 8 << 10)
    plan = _same_plans(tmp_path, [path], FX, monkeypatch)
    assert any("eur" in r.content for records in plan["records"] for r in records)
    assert any(
        line.text == "Valutakursdifferens" for voucher in plan["vouchers"] for line in voucher.lines
    )


def test_rows_exported_before_are_not_booked_again(tmp_path, monkeypatch, capsys) -> None:
    """A ledger that holds the rows up to 15 December: the rest booked by columns as by rows,
    and nothing twice."""
    from .test_errors import run_cli

    path = tmp_path / "balance_history.csv"
    generate(800, path, seed=2)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(STRIPE, encoding="utf-8")
    code, _, err = run_cli(
        [
            *("convert", str(path), "--mapping", str(mapping), "--to", "2026-12-15"),
            *("--out", str(tmp_path / "first.si"), "--ledger", str(tmp_path / "ledger.sqlite")),
        ],
        capsys,
    )
    assert code == 0, err
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    plan = _same_plans(tmp_path, [path], STRIPE, monkeypatch)
    summary = plan["inputs"][0]
    assert summary.exported and summary.vouchers
    assert all(v.date > dt.date(2026, 12, 15) for v in plan["vouchers"])


def test_an_unbalanced_row_is_named_as_by_rows(tmp_path) -> None:
    """Rules that do not balance (the mapping check refuses them; here their fee postings are
    turned around after the check): the same error, naming the first row booked."""
    import zoneinfo

    from bokfor import frames
    from bokfor.booking import book
    from bokfor.classify import CONTENT

    mapping = load_mapping(REPO / "mappings" / "stripe.yaml")
    rules = mapping.sources["stripe_balance"]

    def broken(rule):  # its fee debited and credited the other way
        fee = dataclasses.replace(rule.postings[1], sign=-rule.postings[1].sign)
        return dataclasses.replace(rule, postings=(rule.postings[0], fee, *rule.postings[2:]))

    rules = dataclasses.replace(rules, rules=tuple(broken(r) for r in rules.rules))
    frame, _ = StripeBalanceSource().read_frame(SAMPLE, zoneinfo.ZoneInfo("Europe/Stockholm"))
    frame = frame.with_columns(pl.lit("").alias(CONTENT))
    sink = postings.FrameSink(lambda frame: None, lambda frame: None)
    with pytest.raises(UnbalancedError) as by_columns:
        postings.book_frames([frame], rules, mapping, SCHEMA, sink)
    with pytest.raises(UnbalancedError) as by_rows:
        book(frames.to_rows(frame.drop(CONTENT), "stripe_balance", SCHEMA), rules, mapping, SCHEMA)
    assert str(by_columns.value) == str(by_rows.value)
    assert by_rows.value.line


RATES = st.sampled_from(["25", "12", "6", "12.5", "0", "7.25", "100"])


@settings(max_examples=60, deadline=None)
@given(
    amounts=st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=40),
    rate=RATES,
    split=st.booleans(),
    sign=st.sampled_from([1, -1]),
    huge=st.booleans(),
)
def test_vat_by_columns_is_vat_by_rows(amounts, rate, split, sign, huge) -> None:
    """The VAT of each row as `split_vat` (included) or `vat_on` (on top) gives it, also for
    amounts so large that the columns fall back to Python's integers."""
    if huge:
        amounts = [a * 100 for a in amounts]  # up to 10^17 öre: past the Int64-safe bound
    posting = Posting(
        "3001",
        "gross",
        sign,
        rate,
        "2611" if split else None,
        None if split else ("1", "2"),
        (),
        None,
    )
    rows = pl.DataFrame({"gross": amounts}, schema={"gross": pl.Int64})
    got = rows.select(postings._vat(rows, posting, split=split)).to_series().to_list()
    exact = [split_vat(sign * a, rate)[1] if split else vat_on(sign * a, rate) for a in amounts]
    assert got == exact


def test_columnar_takes_only_what_it_books() -> None:
    """A field in a posting's text, a timestamp in a voucher a row's text and a bank account
    per file with vouchers a day stay with booking row by row."""
    from bokfor.mapping import load_mapping

    stripe = load_mapping(REPO / "mappings" / "stripe.yaml").sources["stripe_balance"]
    assert postings.columnar(stripe, SCHEMA)
    per_row = dataclasses.replace(stripe, grouping="per_row")
    assert postings.columnar(per_row, SCHEMA)
    timed = dataclasses.replace(per_row, voucher_text=_template("Stripe {created}"))
    assert not postings.columnar(timed, SCHEMA)
    assert postings.columnar(dataclasses.replace(timed, grouping="per_day"), SCHEMA)
    rule = stripe.rules[0]
    templated = dataclasses.replace(
        rule,
        postings=(dataclasses.replace(rule.postings[0], text=_template("{description}")),),
    )
    assert not postings.columnar(dataclasses.replace(stripe, rules=(templated,)), SCHEMA)


def _template(text: str):
    from bokfor.template import Template

    return Template.parse(text)


def _eur_frame(tmp_path: Path, rows: int, every: int) -> pl.DataFrame:
    """A generated export with every `every`-th row in EUR, as a row frame."""
    import zoneinfo

    path = tmp_path / "balance_history.csv"
    generate(rows, path, seed=8)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1::every] = [line.replace(",sek,", ",eur,") for line in lines[1::every]]
    path.write_text("".join(lines), encoding="utf-8")
    frame, _ = StripeBalanceSource().read_frame(path, zoneinfo.ZoneInfo("Europe/Stockholm"))
    return frame


@pytest.mark.parametrize("rates", ['{fixed: {EUR: "0.5"}}', '{fixed: {EUR: "11.2345"}}', "FILE"])
def test_a_frame_is_converted_as_convert_row_converts_its_rows(tmp_path, rates) -> None:
    """Amounts (halves rounded away from zero: a rate of 0.5 makes every odd amount one),
    derived amounts and the fx.* fields, at a fixed rate or a day's quote from a file."""
    from bokfor import frames
    from bokfor.booking import _in_currency, in_books_currency

    frame = _eur_frame(tmp_path, 400, 2)
    if rates == "FILE":
        days = sorted(set(frame[frames.DATE_COL].to_list()))
        quotes = "".join(f"{d.isoformat()};EUR;11.{i:04d}\n" for i, d in enumerate(days[::2]))
        (tmp_path / "rates.csv").write_text("date;currency;rate\n" + quotes, encoding="utf-8")
        rates = "{file: rates.csv, max_age_days: 3}"
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(ODD.replace('{fixed: {EUR: "11.2345"}}', rates), encoding="utf-8")
    loaded = load_mapping(mapping)
    converted = in_books_currency(frame, "stripe_balance", loaded, SCHEMA)
    got = list(frames.to_rows(converted, "stripe_balance", SCHEMA))
    want = [
        _in_currency(r, loaded, SCHEMA) for r in frames.to_rows(frame, "stripe_balance", SCHEMA)
    ]
    # A frame has no value where a row has None (fx.rate_date of a fixed rate): the same.
    assert got == [
        dataclasses.replace(r, fields={k: v for k, v in r.fields.items() if v is not None})
        for r in want
    ]
    assert sum("fx.rate" in row.fields for row in got) == 200


def test_a_day_without_a_rate_is_named_as_by_rows(tmp_path) -> None:
    """A rate file that lacks the days of some rows: the first such row's error, as
    `convert_row` words it."""
    from bokfor import frames
    from bokfor.booking import _in_currency, in_books_currency
    from bokfor.errors import InputError

    frame = _eur_frame(tmp_path, 200, 3)
    first = min(frame[frames.DATE_COL].to_list())
    (tmp_path / "rates.csv").write_text(
        f"date;currency;rate\n{first.isoformat()};EUR;11.25\n", encoding="utf-8"
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        ODD.replace('{fixed: {EUR: "11.2345"}}', "{file: rates.csv, max_age_days: 2}"),
        encoding="utf-8",
    )
    loaded = load_mapping(mapping)
    with pytest.raises(InputError) as by_columns:
        in_books_currency(frame, "stripe_balance", loaded, SCHEMA)
    with pytest.raises(InputError) as by_rows:
        for row in frames.to_rows(frame, "stripe_balance", SCHEMA):
            _in_currency(row, loaded, SCHEMA)
    assert str(by_columns.value) == str(by_rows.value)
    assert "EUR" in str(by_rows.value)


BALANCE_FILES = sorted((REPO / "tests" / "fixtures" / "stripe").glob("*.csv")) + [SAMPLE]


@pytest.mark.parametrize("path", BALANCE_FILES, ids=lambda p: p.name)
def test_each_balance_fixture_gives_the_same_plan_or_error(tmp_path, monkeypatch, path) -> None:
    """Every Stripe fixture (balance exports resaved with a BOM, semicolons, decimal commas;
    legacy columns; metadata; damaged ones; a Payments export beside them): the plan by
    columns is the plan by rows, or both stop with the same error."""
    from bokfor.errors import BokforError

    calls = []
    real = postings.book_frames
    monkeypatch.setattr(postings, "book_frames", lambda *a, **k: calls.append(1) or real(*a, **k))
    outcomes = []
    for framed in (True, False):
        try:
            outcomes.append(
                _plan_of([path], MAPPING, tmp_path / "ledger.sqlite", framed, monkeypatch)
            )
        except BokforError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    assert outcomes[0] == outcomes[1]
    if not isinstance(outcomes[0], str) and outcomes[0]["vouchers"]:
        # Booked, and by columns where the file is a balance export.
        assert bool(calls) == (outcomes[0]["inputs"][0].source == "stripe_balance")


# -- found by review: where booking by columns differs from booking by rows ---------------

_HEADER = (
    "id,Type,Source,Amount,Fee,Destination Platform Fee,Destination Platform Fee Currency,Net,"
    "Currency,Created (UTC),Available On (UTC),Description,Customer Facing Amount,"
    "Customer Facing Currency,Transfer,Transfer Date (UTC),Transfer Group,order_id (metadata),"
    "vat_country (metadata)\n"
)


def _charge(n: int, amount: str) -> str:
    """A charge of `amount` kr without a fee, on 5 January 2026."""
    return (
        f"txn_{n},charge,ch_{n},{amount},0.00,,,{amount},sek,2026-01-05 10:0{n},"
        f"2026-01-05 10:0{n},Order {n},{amount},sek,,,,{n},SE\n"
    )


def test_a_days_total_past_int64_is_booked_as_by_rows(tmp_path, monkeypatch) -> None:
    """Two charges that each fit an Int64 of öre, a day's total that does not: summed in
    Int128, never wrapped (it gave 1580 a debit of -8446744073709551616 öre)."""
    path = tmp_path / "balance_history.csv"
    amount = "50000000000000000.00"  # 5 × 10^18 öre: each row fits an Int64, their sum not
    path.write_text(_HEADER + _charge(1, amount) + _charge(2, amount), encoding="utf-8")
    plan = _same_plans(tmp_path, [path], STRIPE, monkeypatch)
    assert sum(line.amount for line in plan["vouchers"][0].lines if line.amount > 0) == 10**19


def test_an_amount_past_int64_is_read_as_by_rows(tmp_path, monkeypatch) -> None:
    """An amount a frame cannot hold: the plan starts over row by row (NotFramed) and books
    it as the row reader does, instead of refusing it as 'not an amount'."""
    path = tmp_path / "balance_history.csv"
    path.write_text(_HEADER + _charge(1, "920000000000000000.00"), encoding="utf-8")
    _same_plans(tmp_path, [path], STRIPE, monkeypatch)


def test_rows_outside_the_period_are_told_in_the_order_by_rows(tmp_path, monkeypatch) -> None:
    """Rows skipped (outside --from/--to, 0.00, skip: true) come back in file order, however
    the file was read (they were told a frame batch, or 2,000 rows, ahead)."""
    path = tmp_path / "balance_history.csv"
    generate(300, path, seed=3)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(ODD, encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 4 << 10)
    skipped = []
    for framed in (True, False):
        with monkeypatch.context() as m:
            m.setattr(plan_module, "FRAMES_FROM", 0 if framed else 1 << 62)
            plan = make_plan(
                [path],
                load_mapping(mapping),
                Ledger.open(tmp_path / f"ledger{framed}.sqlite"),
                date_from=dt.date(2026, 12, 5),
                date_to=dt.date(2026, 12, 20),
            )
        try:
            skipped.append(list(plan.spool.skipped()))
        finally:
            plan.close()
    assert sorted(skipped[0]) == sorted(skipped[1])  # the same rows, told
    assert skipped[0] == skipped[1]  # in the same order


def test_a_key_twice_in_a_batch_that_goes_row_by_row_is_named_as_by_rows(
    tmp_path, monkeypatch, capsys
) -> None:
    """A ledger that learned one of the file's keys sends its batch row by row
    (`Sorter._batch`); a txn id twice in that batch is the run's duplicate error, as by
    rows, not a crash."""
    import sqlite3

    from bokfor.errors import BokforError

    from .test_classify import with_a_twin
    from .test_errors import run_cli

    path = tmp_path / "balance_history.csv"
    twin = with_a_twin(path, 60, seed=12)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    ledger = tmp_path / "ledger.sqlite"
    code, _, err = run_cli(
        [
            *("convert", str(SAMPLE), "--mapping", str(MAPPING)),
            *("--out", str(tmp_path / "first.si"), "--ledger", str(ledger)),
        ],
        capsys,
    )
    assert code == 0, err
    with sqlite3.connect(ledger) as conn:
        conn.execute(
            "INSERT INTO renamed VALUES (?, 'stripe:txn_gone')",
            (f"stripe:{lines[5].split(',')[0]}",),
        )
    errors = []
    for framed in (True, False):
        with pytest.raises(BokforError) as info:
            _plan_of([path], MAPPING, ledger, framed, monkeypatch)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert twin in errors[0]


def test_a_time_in_year_0_is_refused_as_by_rows(tmp_path, monkeypatch) -> None:
    """'0000-01-05 10:00' parses as a time in Polars but names no date: the row reader's
    error (file, line, column), not a crash turning the time into a Python datetime."""
    from bokfor.errors import BokforError

    path = tmp_path / "balance_history.csv"
    generate(40, path, seed=2)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[6].split(",")
    cells[9] = "0000" + cells[9][4:]  # Created (UTC)
    lines[6] = ",".join(cells)
    path.write_text("".join(lines), encoding="utf-8")
    errors = []
    for framed in (True, False):
        with pytest.raises(BokforError) as info:
            _plan_of([path], MAPPING, tmp_path / "ledger.sqlite", framed, monkeypatch)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert ":7:" in errors[0] and "Created (UTC)" in errors[0]


def test_an_amount_past_int64_once_converted_is_booked_as_by_rows(tmp_path, monkeypatch) -> None:
    """40,000,000,000,000,000 EUR at 11.2345 is past an Int64 of öre in kronor: the plan goes
    row by row (NotFramed) and books it in Python's integers, instead of a crash."""
    path = tmp_path / "balance_history.csv"
    charge = _charge(1, "40000000000000000.00").replace(",sek,", ",eur,")
    path.write_text(_HEADER + charge + _charge(2, "10.00"), encoding="utf-8")
    plan = _same_plans(tmp_path, [path], ODD, monkeypatch)
    assert plan["vouchers"]


# -- bank files: a voucher a row, the row's bank account's ledger account ----------------

BANK = (REPO / "mappings" / "bank.yaml").read_text(encoding="utf-8")
# Every net-bank layout's rows booked (no file stops at its unmapped rows); files that name
# no account booked to 1930, the sample and corpus files' own accounts mapped, every currency
# they hold given a rate.
BANK_ALL = (
    BANK.replace(
        "    bank_accounts:\n",
        "    bank_account: 1930\n    bank_accounts:\n      612 345 678: 1930\n"
        "      9025 12 34567: 1930\n      FI38 1470 3500 9194 88: 1931\n"
        "      9150-123.456-7: 1930\n      8105-9 934 567 890-1: 1930\n      50000583982575: 1930\n"
        "      NL77ABNA0574908765: 1931\n      CH2801234000123456789: 1931\n",
    )
    .replace('DKK: "1.5010"}', 'DKK: "1.5010", USD: "10.5000", CHF: "11.9000"}')
    .replace(
        "    rules:\n",
        "    rules:\n      - name: Allt annat\n        when: {text: {regex: '(?i)^z'}}\n"
        "        post:\n          - {account: bank_account, debit: amount}\n"
        "          - {account: 2440, credit: amount}\n",
        1,
    )
)


def _bank_files() -> list[Path]:
    from tests.corpus import harness

    files = sorted(p for p in (REPO / "samples" / "bank").rglob("*") if p.is_file())
    for name in ("netbank", "camt", "mt940", "bgmax", "nets_ocr"):
        files += sorted(p for p in (REPO / "tests" / "fixtures" / name).iterdir() if p.is_file())
    if harness.available():
        files += sorted(p for p in harness.CORPUS.rglob("*") if p.is_file())
    return files


def _plan_or_error(inputs, mapping, ledger, framed, monkeypatch):
    from bokfor.errors import BokforError

    try:
        return _plan_of(inputs, mapping, ledger, framed, monkeypatch)
    except BokforError as exc:
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.parametrize("name", ["netbank", "camt", "mt940", "bgmax", "nets_ocr"])
def test_every_bank_file_is_booked_by_columns_as_by_rows(tmp_path, monkeypatch, name) -> None:
    """Each bank file of the samples, the fixtures and ../shared/corpus (when there), of
    every bank format: read as row frames (a net-bank export's own, the others' rows in
    batches), booked a voucher a row by columns, its plan (or error) is the plan by rows:
    vouchers, records with each row's money movement, notices, errors."""
    from bokfor.sources import all_sources

    source = next(s for s in all_sources() if s.name == name)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(BANK_ALL, encoding="utf-8")
    calls = []
    real = postings.book_frames
    monkeypatch.setattr(postings, "book_frames", lambda *a, **k: calls.append(1) or real(*a, **k))
    booked = errors = 0
    ledger = tmp_path / "ledger.sqlite"
    columns, rows = load_mapping(mapping), load_mapping(mapping)  # one each: no shared cache
    for path in _bank_files():
        if not source.detect(path):
            continue
        by_columns = _plan_or_error([path], columns, ledger, True, monkeypatch)
        by_rows = _plan_or_error([path], rows, ledger, False, monkeypatch)
        assert by_columns == by_rows, path
        if isinstance(by_rows, tuple):
            errors += 1
        elif by_rows["vouchers"]:
            booked += 1
            assert any(r.movement for r in by_rows["records"][0]), path
    # Booked without ../shared/corpus (a fresh clone): 33 net-bank, 4 camt, 4 MT940, 4 BgMax
    # and 3 Nets files; the corpus adds a few.
    assert booked >= {"netbank": 20, "camt": 3}.get(name, 1) and calls, (booked, errors)


PEERS = (REPO / "bench" / "mappings" / "peers.yaml").read_text(encoding="utf-8")


def test_a_generated_bank_file_is_booked_by_columns_as_by_rows(
    tmp_path, monkeypatch, capsys
) -> None:
    """The bench's peers' CSV (a user profile, `{text}` vouchers, a fallback) in a ledger
    that holds a camt.053 of the same account and the CSV's first half: the same plan by
    columns as by rows, the exported rows not booked again, and each new row whose money
    movement the camt file booked a doubt."""
    from .test_errors import run_cli

    path = tmp_path / "peers.csv"
    write_peers(path, 1200, seed=3)
    head, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    also = ["2026-01-02;STRIPE PAYMENTS EUROPE;12345,67\n", "2026-01-12;Skatt jan;-18500,00\n"]
    path.write_text(head + "".join(rows[:10] + also + rows[10:]), encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        PEERS.replace(
            "      peers: 1930\n", "      peers: 1930\n      SE4550000000058398257466: 1930\n"
        ),
        encoding="utf-8",
    )
    ledger = tmp_path / "ledger.sqlite"
    for args in (
        [str(REPO / "samples" / "bank" / "camt053_seb.xml"), "--out", str(tmp_path / "a.si")],
        [str(path), "--from", "2026-07-01", "--out", str(tmp_path / "b.si")],
    ):
        code, _, err = run_cli(
            ["convert", *args, "--mapping", str(mapping), "--ledger", str(ledger)], capsys
        )
        assert code == 0, err
    plan = _same_plans(tmp_path, [path], mapping.read_text(encoding="utf-8"), monkeypatch)
    summary = plan["inputs"][0]
    assert summary.exported > 400 and summary.vouchers == 1202 - summary.exported
    assert all(v.date < dt.date(2026, 7, 1) for v in plan["vouchers"])
    assert {v.text for v in plan["vouchers"]} > {"STRIPE PAYMENTS EUROPE", "Skatt jan"}
    assert all(r.movement.startswith("1930|") for rs in plan["records"] for r in rs)
    doubts = [n for n in plan["notices"] if "may be booked already" in n]
    assert len(doubts) == 2 and "camt" in doubts[0], plan["notices"]


def test_vouchers_a_row_are_held_as_columns_and_read_as_objects(tmp_path, monkeypatch) -> None:
    """A voucher a row booked as columns stays columns (`FramedVouchers`): what the ledger
    stores of each, the totals, the dates, a part's vouchers and the SIE writer's frames
    read from them equal what the same vouchers as objects give. A posting's objects and a
    text that JSON escapes ("quotes", a backslash, ä) go through the ledger's JSON."""
    from bokfor.frames import FramedVouchers, voucher_frames
    from bokfor.ledger import lines_to_json
    from bokfor.plan import totals

    path = tmp_path / "peers.csv"
    write_peers(path, 1200, seed=5)
    mapping = tmp_path / "mapping.yaml"
    text = PEERS.replace(
        "          - {account: 1580, credit: amount}",
        "          - {account: 1580, credit: amount, text: 'Kort \"Stripe\" \\ ä', "
        "dims: {1: S1, 6: Pä}}",
    ).replace(
        "accounts:\n",
        "dimensions:\n  1: {name: Kostnadsställe, objects: {S1: Butik}}\n"
        "  6: {name: Projekt, objects: {Pä: Projekt ä}}\naccounts:\n",
        1,
    )
    mapping.write_text(text, encoding="utf-8")
    vouchers = _plan_of([path], mapping, tmp_path / "l.sqlite", True, monkeypatch)["vouchers"]
    assert isinstance(vouchers, FramedVouchers) and len(vouchers) == 1200
    made = list(vouchers)
    stripe = [line for v in made for line in v.lines if line.account == "1580"]
    assert stripe and all(
        line.text == 'Kort "Stripe" \\ ä' and line.dims == ((1, "S1"), (6, "Pä")) for line in stripe
    )
    assert {line.account for v in made for line in v.lines} >= {"1930", "1580", "2999"}
    assert list(vouchers.ledger_rows()) == [
        (v.series, v.number, v.date.isoformat(), v.text, lines_to_json(v.lines)) for v in made
    ]
    assert vouchers.totals() == totals(made) and totals(vouchers) == totals(made)
    assert vouchers.dates() == [v.date for v in made]
    assert vouchers.line_count() == sum(len(v.lines) for v in made)
    picked = [7, 3, 1199, 0]
    assert vouchers.take(picked) == [made[i] for i in picked]
    assert list(vouchers.take(picked).take([2, 0])) == [made[1199], made[7]]
    assert vouchers.take(range(1200)) is vouchers
    assert vouchers.take([-1, -1200, 5]) == [made[-1], made[-1200], made[5]]  # as a list's
    assert vouchers[5] == made[5] and vouchers[-1] == made[-1] and vouchers[2:4] == made[2:4]
    with pytest.raises(IndexError):
        vouchers[1200]
    framed, built = voucher_frames(vouchers), voucher_frames(made)
    assert framed.vouchers.equals(built.vouchers) and framed.lines.equals(built.lines)


def test_a_bank_file_of_no_mapped_account_is_named_as_by_rows(tmp_path, monkeypatch) -> None:
    """The bank account's error names the first row a rule books (rows skipped before it
    are not asked), by columns as by rows."""
    path = tmp_path / "peers.csv"
    write_peers(path, 400, seed=42)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        PEERS.replace("      peers: 1930\n", "      SE4550000000058398257466: 1930\n").replace(
            "    rules:\n",
            "    rules:\n      - name: Kort\n        when: {text: {regex: '^KORTKOP'}}\n"
            "        skip: true\n",
        ),
        encoding="utf-8",
    )
    by_columns = _plan_or_error([path], mapping, tmp_path / "c", True, monkeypatch)
    assert by_columns == _plan_or_error([path], mapping, tmp_path / "r", False, monkeypatch)
    first = next(
        n
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if n > 1 and ";KORTKOP" not in line
    )
    assert by_columns[0] == "error" and f"peers.csv:{first}:" in by_columns[2], by_columns
    assert first > 2  # the file's first row is skipped


_TEXTS = st.text(alphabet="aAßSs Å\u00c5\uff11 \t\u00a0\x1cz-", max_size=6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.integers(1, 4), _TEXTS, st.integers(-300, 300)), min_size=1, max_size=30
    ),
    order=st.sampled_from(["oldest_first", "newest_first", "auto"]),
)
def test_a_bank_frame_has_the_keys_of_its_rows(tmp_path_factory, rows, order) -> None:
    """`read_frames` keys rows by columns (digests joined and counted by `over`) as `read`
    keys them one by one: the same key and former key for any texts (case, NFKC, white
    space), repeats and order of the file."""
    import zoneinfo

    from bokfor import frames
    from bokfor.domain import Row
    from bokfor.sources import all_sources

    tmp = tmp_path_factory.mktemp("keys")
    mapping = tmp / "mapping.yaml"
    mapping.write_text(PEERS.replace("order: oldest_first", f"order: {order}"), encoding="utf-8")
    path = tmp / "peers.csv"
    path.write_text(
        "date;text;amount\n"
        + "".join(f"2026-01-0{d};{t};{a // 100},{abs(a) % 100:02d}\n" for d, t, a in rows),
        encoding="utf-8",
    )
    source = next(s for s in all_sources(load_mapping(mapping).formats) if s.name == "netbank")
    tz = zoneinfo.ZoneInfo("Europe/Stockholm")
    try:
        read = list(source.read(path, tz))
    except Exception as exc:  # noqa: BLE001 - the frame reader must refuse it alike
        with pytest.raises(type(exc)):
            list(source.read_frames(path, tz))
        return
    by_rows = frames.from_rows([r for r in read if isinstance(r, Row)], source.schema)
    (frame,) = [f for f in source.read_frames(path, tz) if isinstance(f, pl.DataFrame)]
    assert frame.select(frames.KEY, frames.FORMER).equals(by_rows.select(frames.KEY, frames.FORMER))


def _camt(*statements: tuple[str, str]) -> str:
    """A camt.053 of statements (IBAN, entries); an entry per line, its line its row's."""
    body = "".join(
        f"<Stmt><Id>S{n}</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>SEK</Ccy></Acct>\n{entries}"
        "</Stmt>\n"
        for n, (iban, entries) in enumerate(statements)
    )
    return (
        '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt>\n{body}</BkToCstmrStmt></Document>\n"
    )


def _ntry(amount: str, sign: str = "CRDT", text: str = "zz", currency: str = "SEK") -> str:
    return (
        f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>2026-01-05</Dt></BookgDt><AddtlNtryInf>{text}</AddtlNtryInf></Ntry>\n"
    )


SEB = "SE4550000000058398257466"


@pytest.mark.parametrize(
    "amount, sign",
    [("92233720368547758.08", "DBIT"), ("92233720368547758.08", "CRDT"), ("1" + "0" * 20, "CRDT")],
    ids=["int64_min", "past_int64", "past_int128"],
)
def test_a_camt_amount_past_int64_is_booked_as_by_rows(tmp_path, monkeypatch, amount, sign):
    """An entry of -2^63 öre fits an Int64 but its posting's sign does not (the column path
    named a balanced row unbalanced), 2^63 öre and more do not fit (from_rows crashed): camt's
    frames give way to the row reader (NotFramed), as net-bank files' do from 2^62."""
    path = tmp_path / "huge.xml"
    path.write_text(_camt((SEB, _ntry("10.00") + _ntry(amount, sign))), encoding="utf-8")
    plan = _same_plans(tmp_path, [path], BANK_ALL, monkeypatch)
    assert len(plan["vouchers"]) == 2


def test_a_row_without_a_rate_after_an_unmapped_account_is_named_as_by_rows(tmp_path, monkeypatch):
    """booking converts a row when it comes to it: a row of a bank account the mapping lacks
    stops the run before a later row in a currency without a rate, by columns as by rows."""
    path = tmp_path / "two.xml"
    path.write_text(
        _camt(("SE1111111111111111111111", _ntry("10.00")), (SEB, _ntry("6.00", currency="JPY"))),
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(BANK_ALL, encoding="utf-8")
    by_columns = _plan_or_error([path], mapping, tmp_path / "c", True, monkeypatch)
    by_rows = _plan_or_error([path], mapping, tmp_path / "r", False, monkeypatch)
    assert by_rows[:2] == ("error", "MappingError") and "two.xml:4:" in by_rows[2], by_rows
    assert by_columns == by_rows


def test_a_row_without_a_rate_before_a_charge_booked_elsewhere_is_named_as_by_rows(
    tmp_path, monkeypatch, capsys
) -> None:
    """booking converts a row when it comes to it, and refuses a charge exported from the
    Payments export when it comes to that row: the first of the two stops the run, by columns
    as by rows (by columns the batch's aliases were checked before any row was booked)."""
    import csv
    import io
    import shutil

    from .test_errors import run_cli

    payments = REPO / "samples" / "stripe" / "unified_payments.csv"
    charges = {r["id"] for r in csv.DictReader(io.StringIO(payments.read_text(encoding="utf-8")))}
    head, *rows = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    assert rows[0].split(",")[2] in charges  # the first row's charge is in the Payments export
    other = next(r for r in rows if r.split(",")[2] not in charges)
    rows.remove(other)
    path = tmp_path / "balance_history.csv"
    path.write_text(head + other.replace(",sek,", ",jpy,", 1) + "".join(rows), encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite"
    code, _, err = run_cli(
        [
            "convert",
            str(payments),
            "-m",
            str(MAPPING),
            "--ledger",
            str(ledger),
            "-o",
            str(tmp_path / "x.si"),
        ],
        capsys,
    )
    assert code == 0, err
    shutil.copy(ledger, tmp_path / "again.sqlite")
    by_columns = _plan_or_error([path], MAPPING, ledger, True, monkeypatch)
    by_rows = _plan_or_error([path], MAPPING, tmp_path / "again.sqlite", False, monkeypatch)
    assert by_rows[:2] == ("error", "InputError") and "JPY" in by_rows[2], by_rows
    assert by_columns == by_rows
