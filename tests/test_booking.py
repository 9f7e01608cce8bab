"""Booking: rows + the shipped mapping -> vouchers. Pins the worked example in docs/mapping.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import pickle
from array import array
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.booking import PENDING, book, fx_difference, merge_lines, unmapped_error
from bokfor.domain import Line, Origin, PackedKeys, PackedOrigins, Row
from bokfor.errors import InputError, UnbalancedError
from bokfor.mapping import load_mapping
from bokfor.sources.stripe_balance import SOURCE

REPO = Path(__file__).parent.parent
UTC = dt.timezone.utc


def stripe_row(
    line: int,
    type_: str,
    gross: int,
    fee: int,
    *,
    day: int = 5,
    payout: str | None = None,
    description: str = "",
    currency: str = "sek",
    **metadata: str,
) -> Row:
    fields = {
        "id": f"txn_{line}",
        "type": type_,
        "currency": currency,
        "description": description,
        "created": dt.datetime(2026, 1, day, 10, line % 60, tzinfo=UTC),
        "payout_id": payout,
    }
    fields.update({f"metadata.{k}": v for k, v in metadata.items()})
    return Row(
        "stripe_balance",
        f"stripe:txn_{line}",
        dt.date(2026, 1, day),
        {"gross": gross, "fee": fee, "net": gross - fee},
        fields,
        Origin("day.csv", line),
    )


def mapping(grouping: str | None = None):
    m = load_mapping(REPO / "mappings" / "stripe.yaml")
    if grouping:
        rules = dataclasses.replace(
            m.sources["stripe_balance"], grouping=grouping, voucher_text=None
        )
        m = dataclasses.replace(m, sources={"stripe_balance": rules})
    return m


DAY = [
    stripe_row(2, "charge", 125000, 2055, payout="po_1"),
    stripe_row(3, "refund", -24900, 0, payout="po_1"),
    stripe_row(4, "stripe_fee", -1240, 0, payout="po_1"),
    stripe_row(5, "payout", -200000, 0, payout="po_1"),
]


def lines_of(voucher) -> list[tuple[str, int, dict[int, str]]]:
    return [(line.account, line.amount, line.dimensions) for line in voucher.lines]


def test_worked_example_per_day():
    m = mapping()
    result = book(DAY, m.sources["stripe_balance"], m, SOURCE.schema)
    [voucher] = result.vouchers
    assert voucher.text == "Stripe 2026-01-05"
    assert voucher.series == "S"
    assert voucher.source_keys == ("stripe:txn_2", "stripe:txn_3", "stripe:txn_4", "stripe:txn_5")
    assert lines_of(voucher) == [
        ("1580", 122945, {}),
        ("1580", -226140, {}),
        ("1930", 200000, {}),
        ("2611", 4980, {}),
        ("2611", -25000, {}),
        ("3001", 19920, {1: "WEB"}),
        ("3001", -100000, {1: "WEB"}),
        ("6570", 3295, {}),
    ]
    assert voucher.balance == 0


def test_per_row_books_each_row_balanced():
    m = mapping("per_row")
    result = book(DAY, m.sources["stripe_balance"], m, SOURCE.schema)
    assert [v.text for v in result.vouchers] == [
        "Försäljning 25 %",
        "Återbetalning",
        "Stripe-avgifter",
        "Utbetalning",
    ]
    assert all(v.balance == 0 for v in result.vouchers)
    assert lines_of(result.vouchers[1]) == [
        ("1580", -24900, {}),
        ("3001", 19920, {1: "WEB"}),
        ("2611", 4980, {}),
    ]


def test_per_payout_holds_back_rows_not_yet_paid_out():
    m = mapping("per_payout")
    rows = [*DAY, stripe_row(9, "charge", 10000, 300, day=6)]
    result = book(rows, m.sources["stripe_balance"], m, SOURCE.schema)
    [voucher] = result.vouchers
    assert voucher.text == "stripe_balance po_1"
    assert [r.key for r in result.pending] == ["stripe:txn_9"]
    assert "1 rows are not yet paid out" in str(result.notices[0])


def test_export_rule_matches_metadata_before_swedish_sales():
    m = mapping("per_row")
    [voucher] = book(
        [stripe_row(2, "charge", 50000, 1000, vat_country="NO")],
        m.sources["stripe_balance"],
        m,
        SOURCE.schema,
    ).vouchers
    assert voucher.rule == "Försäljning export"
    assert lines_of(voucher) == [
        ("1580", 49000, {}),
        ("6570", 1000, {}),
        ("3105", -50000, {1: "WEB"}),
    ]


def test_unmapped_rows_are_listed_with_a_snippet():
    m = mapping()
    rows = [
        *DAY,
        stripe_row(7, "issuing_transaction", 5000, 0),
        stripe_row(8, "issuing_transaction", 7000, 0),
        stripe_row(9, "advance", 100, 0),
    ]
    booking = book(rows, m.sources["stripe_balance"], m, SOURCE.schema)
    assert len(booking.vouchers) == 1  # the mapped rows are still booked (a plan shows both)
    text = unmapped_error(booking.unmapped, m.sources["stripe_balance"], m, SOURCE.schema).render()
    assert text.splitlines()[0] == (
        "day.csv:7: sources.stripe_balance.rules: 3 rows of 2 kinds match no rule "
        "Fix: add a rule for each kind below, or a `fallback:`."
    )
    assert "  type=issuing_transaction currency=sek: 2 rows, first at line 7" in text
    assert "  type=advance currency=sek: 1 row, first at line 9" in text
    assert "    when: {type: issuing_transaction, currency: sek}" in text


def test_foreign_currency_row_is_refused():
    m = mapping()
    with pytest.raises(InputError) as exc:
        book(
            [stripe_row(2, "charge", 1000, 30, currency="eur")],
            m.sources["stripe_balance"],
            m,
            SOURCE.schema,
        )
    assert str(exc.value) == (
        "day.csv:2: column 'currency': amount in EUR, but the books are kept in SEK: no rate "
        f"for EUR in {m.file} currency_rates Fix: add a rate under `currency_rates:` in the "
        "mapping ({fixed: {EUR: '11.25'}} or a rate file), or export the SEK balance."
    )


def test_row_that_breaks_its_own_identity_cannot_unbalance_a_voucher():
    """gross − fee ≠ net is refused by the reader; if such a row reached booking anyway, the
    per-row balance check names the rule and the row instead of writing a bad voucher."""
    m = mapping()
    bad = dataclasses.replace(DAY[0], amounts={"gross": 125000, "fee": 2055, "net": 122900})
    with pytest.raises(UnbalancedError) as exc:
        book([bad], m.sources["stripe_balance"], m, SOURCE.schema)
    rule = m.sources["stripe_balance"].rules[1]
    assert rule.where == f"{m.file}:65"
    assert str(exc.value) == (
        "day.csv:2: sources.stripe_balance.rules[1]: rule 'Försäljning 25 %' "
        f"({rule.where}) gives a voucher that does not balance: "
        "debit − credit = -0,45 kr "
        "Fix: post every amount of the row on both sides (see docs/mapping.md)."
    )


def test_merge_keeps_debit_and_credit_apart():
    merged = merge_lines(
        [Line("3001", -100), Line("3001", 40), Line("3001", -50), Line("1580", 110)]
    )
    assert [(l.account, l.amount) for l in merged] == [("1580", 110), ("3001", 40), ("3001", -150)]


# -- grouped vouchers are added up as their rows come ---------------------------------------

_mapping = functools.cache(mapping)
_KINDS = st.sampled_from([("charge", 1), ("refund", -1), ("stripe_fee", -1), ("payout", -1)])


@st.composite
def stripe_rows(draw) -> list[Row]:
    rows = []
    for line in range(2, 2 + draw(st.integers(1, 40))):
        kind, sign = draw(_KINDS)
        gross = sign * draw(st.integers(1, 500_000))
        fee = draw(st.integers(0, 3_000)) if kind == "charge" else 0
        row = stripe_row(
            line,
            kind,
            gross,
            fee,
            day=draw(st.integers(1, 4)),
            payout=draw(st.sampled_from(["po_1", "po_2", None])),
        )
        # Two files of one source, keys that are not ASCII (what a voucher packs: PackedKeys),
        # rows created in the same minute (their lines decide)
        created = row.fields["created"].replace(minute=draw(st.integers(0, 2)))
        rows.append(
            dataclasses.replace(
                row,
                key=row.key + draw(st.sampled_from(["", "-å", "-€"])),
                fields={**row.fields, "created": created},
                origin=Origin(draw(st.sampled_from(["day.csv", "dag två.csv"])), line),
            )
        )
    return draw(st.permutations(rows))  # any file order


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stripe_rows(), st.sampled_from(["per_day", "per_payout"]))
def test_grouped_vouchers_are_the_merged_lines_of_their_rows(rows, grouping):
    """A grouped voucher adds its rows' lines up as they come (booking._Group); it must be
    what merge_lines gives over the lines each row is booked to on its own (per_row), with
    its rows in date, created, line order — and every row reported to on_row once, with the
    tag of the voucher that holds it."""
    m = _mapping(grouping)
    rules = m.sources["stripe_balance"]
    own = {
        v.source_keys[0]: v.lines
        for v in book(
            rows, _mapping("per_row").sources["stripe_balance"], m, SOURCE.schema
        ).vouchers
    }
    seen: dict[str, int] = {}
    pending: list[str] = []

    def on_row(tag, row, lines, is_own, rule):
        assert row.key not in seen and not is_own and lines == own[row.key]
        if tag == PENDING:
            pending.append(row.key)
        else:
            seen[row.key] = tag

    result = book(rows, rules, m, SOURCE.schema, on_row)
    assert len(result.tags) == len(set(result.tags)) == len(result.vouchers)
    by_key = {row.key: row for row in rows}
    for voucher, tag in zip(result.vouchers, result.tags, strict=True):
        members = [by_key[k] for k in voucher.source_keys]
        assert members == sorted(
            members, key=lambda r: (r.date, r.fields["created"], r.origin.line)
        )
        assert voucher.origins == tuple(r.origin for r in members)
        lines = [line for r in members for line in own[r.key]]
        if rules.fx_difference:
            lines += fx_difference(lines, *rules.fx_difference)
        assert voucher.lines == merge_lines(lines)
        assert voucher.date == max(r.date for r in members)
        assert all(seen[k] == tag for k in voucher.source_keys)
    assert sorted(seen) == sorted(k for v in result.vouchers for k in v.source_keys)
    assert pending == [row.key for row in result.pending]


@given(
    st.lists(
        st.tuples(st.text(max_size=6), st.sampled_from(["a.csv", "b.csv"]), st.integers(1, 10**9)),
        max_size=12,
    ),
    st.randoms(),
)
def test_packed_members_are_their_tuples(members, random):
    """What a grouped voucher holds in place of tuples reads, compares, hashes and pickles
    as the tuples would."""
    order = list(range(len(members)))
    random.shuffle(order)
    keys = [k for k, _, _ in members]
    data = b"".join(k.encode() for k in keys)
    ends = array("q", [0])
    for k in keys:
        ends.append(ends[-1] + len(k.encode()))
    files = ("a.csv", "b.csv")
    packed = PackedKeys(data, ends, array("I", order))
    origins = PackedOrigins(
        files,
        array("I", [files.index(f) for _, f, _ in members]),
        array("q", [n for _, _, n in members]),
        array("I", order),
    )
    want = tuple(keys[k] for k in order)
    want_origins = tuple(Origin(members[k][1], members[k][2]) for k in order)
    assert packed == want and want == packed and tuple(packed) == want
    assert hash(packed) == hash(want) and len(packed) == len(want) and repr(packed) == repr(want)
    assert origins == want_origins and list(origins) == list(want_origins)
    for i in range(-len(want), len(want)):
        assert packed[i] == want[i] and origins[i] == want_origins[i]
    for i in (len(want), -len(want) - 1):
        with pytest.raises(IndexError):
            packed[i]
    assert packed[1:3] == want[1:3] and packed[::-2] == want[::-2] and packed[:3] == want[:3]
    assert pickle.loads(pickle.dumps(packed)) == want
    assert packed != want + ("x",) and (packed != list(want)) is True
