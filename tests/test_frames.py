"""The row frame (bokfor.frames): every shipped sample's rows survive the trip to columns
and back, so a stage moved onto frames sees exactly what the per-row stage saw."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from bokfor import frames
from bokfor.domain import Row
from bokfor.sources import detect_source

SAMPLES = sorted(
    p
    for p in (Path(__file__).parent.parent / "samples").rglob("*")
    if p.is_file() and p.suffix in {".csv", ".xml", ".sta", ".txt", ".si", ".xlsx"}
)
TZ = dt.timezone(dt.timedelta(hours=1))


def _rows(path: Path) -> tuple[str, object, list[Row]]:
    try:
        src = detect_source(path)
    except Exception as exc:  # a sample that is not an input (a SIE file of books)
        pytest.skip(f"{path.name}: {exc}")
    rows = [item for item in src.read(path, TZ) if isinstance(item, Row)]
    return src.name, src.schema, rows


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_rows_round_trip(path: Path) -> None:
    name, schema, rows = _rows(path)
    frame = frames.from_rows(rows, schema)
    assert frame.height == len(rows)
    back = list(frames.to_rows(frame, name, schema))
    assert len(back) == len(rows)
    for before, after in zip(rows, back, strict=True):
        assert (
            after.key,
            after.date,
            dict(after.amounts),
            after.origin,
            after.aliases,
            after.former,
        ) == (
            before.key,
            before.date,
            dict(before.amounts),
            before.origin,
            before.aliases,
            before.former,
        )
        for field in {*before.fields, *after.fields}:
            assert after.value(field) == before.value(field), (before.origin, field)
        assert after.detail is before.detail


def test_columns_are_typed() -> None:
    path = Path(__file__).parent.parent / "samples/stripe/balance_history.csv"
    _, schema, rows = _rows(path)
    frame = frames.from_rows(rows, schema)
    assert frame.schema[frames.DATE_COL] == pl.Date
    assert all(frame.schema[n] == pl.Int64 for n in schema.amounts)
    assert frame.schema["created"] == pl.Datetime("us", "UTC")
    assert frame[frames.KEY].n_unique() == frame.height


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sources_read_frame_is_the_rows_of_read(path: Path) -> None:
    """`sources.read_frame`: a source's own frame reader where it has one, else the frame of
    its rows; either way what `read` gives, notices apart."""
    from polars.testing import assert_frame_equal

    from bokfor.domain import Notice
    from bokfor.sources import read_frame

    try:
        src = detect_source(path)
    except Exception as exc:
        pytest.skip(f"{path.name}: {exc}")
    items = list(src.read(path, TZ))
    frame, notices = read_frame(src, path, TZ)
    assert notices == [i for i in items if isinstance(i, Notice)]
    expected = frames.from_rows((i for i in items if isinstance(i, Row)), src.schema)
    if DETAIL_COLUMN in expected.columns:  # a POS day close's record: compared by identity
        assert frame[DETAIL_COLUMN].len() == expected[DETAIL_COLUMN].len()
        frame, expected = frame.drop(DETAIL_COLUMN), expected.drop(DETAIL_COLUMN)
    assert_frame_equal(frame, expected)


DETAIL_COLUMN = frames.DETAIL


def test_aliases_and_former_keys_keep_their_order() -> None:
    """Several names to a row, in the order given; none for most rows."""
    from bokfor.domain import Origin
    from bokfor.sources.stripe_balance import SCHEMA

    names = [("b", "a", "c"), (), ("z",), (), ("x", "x")]
    rows = [
        Row("stripe_balance", f"k{i}", dt.date(2026, 1, 1), {}, {}, Origin("f", i), n, n[::-1])
        for i, n in enumerate(names)
    ]
    back = list(frames.to_rows(frames.from_rows(rows, SCHEMA), "stripe_balance", SCHEMA))
    assert [(r.aliases, r.former) for r in back] == [(n, n[::-1]) for n in names]


def test_a_readers_rows_in_batches_are_its_frame_with_its_notices_in_place() -> None:
    """`batched`: frames of at most `size` rows that add up to the reader's whole frame,
    each notice where the reader gave it."""
    from bokfor.domain import Notice

    path = Path(__file__).parent.parent / "samples" / "bank" / "camt053_seb.xml"
    name, schema, rows = _rows(path)
    note = Notice("a warning", file=str(path))
    items: list[object] = [*rows[:2], note, *rows[2:]]
    out = list(frames.batched(items, schema, size=3))
    assert [type(x).__name__ for x in out[:3]] == ["Notice", "DataFrame", "DataFrame"]
    parts = [x for x in out if isinstance(x, pl.DataFrame)]
    assert [p.height for p in parts] == [3] * (len(rows) // 3) + [len(rows) % 3] * (
        len(rows) % 3 > 0
    )
    assert pl.concat(parts).equals(frames.from_rows(rows, schema))


def test_map_distinct_gives_values_only_where_asked() -> None:
    """A text inside and outside `which`: its value only inside. The legacy-payout check of
    Stripe's reader asks about transfers only, and a charge with a transfer's text was made
    a payout when the value reached it too (found by fuzzing)."""
    texts = pl.Series(["STRIPE TRANSFER", "STRIPE TRANSFER", "x", None])
    which = pl.Series([True, False, True, False])
    values, refused = frames.map_distinct(
        texts, which, lambda t: t == "STRIPE TRANSFER", pl.Boolean
    )
    assert values.to_list() == [True, None, False, None]
    assert refused.to_list() == [False, False, False, False]
    values, refused = frames.map_distinct(texts, which, int, pl.Int64)
    assert values.to_list() == [None, None, None, None]
    assert refused.to_list() == [True, False, True, False]
