"""The SIE writer's render from columns (issue 22) against its per-row path, byte for byte.

`render_to` builds the #VER/#TRANS text from the voucher and line frames; the per-row path
(`_render_rows_to`) is what wrote every SIE file before, and the golden files pin it. Here
the two write generated documents meant to reach every rule of the text: quotes, backslashes,
tabs and other control characters, åäö and characters CP437 lacks, texts past the limit,
zero and negative amounts, object lists, quantities, transdat, registration dates, empty
series, numbered and unnumbered vouchers; and faults each path must refuse with the same
message. Chunks are made a few lines long, so voucher and chunk boundaries meet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor import frames
from bokfor.domain import Line, Voucher
from bokfor.errors import SieError
from bokfor.sie import columns, writer
from bokfor.sie.model import SieDocument

from .test_perf_writer import AMOUNTS, TEXTS
from .test_sie_roundtrip import documents
from .test_sie_writer import golden_doc

# Texts whose end is cut or dropped: spaces and backslashes before the end or the limit.
ENDINGS = st.sampled_from(["a \\", "a\\ \\", 'b " \\', " åäö\t\\ ", "x" * 11 + " \\y"])

# Faults, each applied to the first voucher (or its first line): what both paths refuse.
FAULTS = {
    "unbalanced": lambda v: dataclasses.replace(
        v, lines=(v.lines[0]._replace(amount=v.lines[0].amount + 1), *v.lines[1:])
    ),
    "no rows": lambda v: dataclasses.replace(v, lines=()),
    "outside the year": lambda v: dataclasses.replace(v, date=dt.date(2027, 1, 1)),
    "no cp437 form": lambda v: dataclasses.replace(v, text=v.text + "\u2615"),
    "row text without cp437 form": lambda v: dataclasses.replace(
        v, lines=(v.lines[0]._replace(text="\u2615"), *v.lines[1:])
    ),
    "series ending in a backslash": lambda v: dataclasses.replace(v, series="A\\"),
    "series with a control character": lambda v: dataclasses.replace(v, series="A\tB"),
    "dimension 0": lambda v: dataclasses.replace(
        v, lines=(v.lines[0]._replace(dims=((0, "X"),)), *v.lines[1:])
    ),
    "quantity not a number": lambda v: dataclasses.replace(
        v, lines=(v.lines[0]._replace(quantity=Decimal("NaN")), *v.lines[1:])
    ),
    "numbers descending": lambda v: dataclasses.replace(v, series="N", number=5),
    # Int64 arithmetic wrapped (found by fuzzing): abs(-2^63) is -2^63, and -2^63 twice
    # sums to 0; lines each within the bound can add up to exactly 2^64.
    "the smallest Int64 twice": lambda v: dataclasses.replace(
        v, lines=(v.lines[0]._replace(amount=-(2**63)), v.lines[0]._replace(amount=-(2**63)))
    ),
    "lines adding up to 2^64": lambda v: dataclasses.replace(
        v,
        lines=(v.lines[0]._replace(amount=10**15),) * 18446
        + (v.lines[0]._replace(amount=2**64 - 18446 * 10**15),),
    ),
}


def _both(
    doc: SieDocument, checksum: bool, limit: int | None
) -> tuple[tuple[bytes, list[str]] | str, tuple[bytes, list[str]] | str]:
    """What each path writes and notices, or the message it refuses the document with."""
    results = []
    for render in (writer.render_to, writer._render_rows_to):
        out = io.BytesIO()
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(writer, "COLUMNS_FROM", 0)  # render_to: from columns
                notices = render(doc, out, checksum=checksum, text_limit=limit)
        except SieError as exc:
            results.append(exc.render())
        else:
            results.append((out.getvalue(), [str(n) for n in notices]))
    return results[0], results[1]


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    checksum=st.booleans(),
    limit=st.sampled_from([50, None, 12, 1]),
    chunk=st.sampled_from([1, 2, 3, 5, 1 << 16]),
    piece=st.sampled_from([1, 2, 7, 1 << 12]),
)
def test_columns_write_what_the_per_row_path_writes(
    data: st.DataObject, checksum: bool, limit: int | None, chunk: int, piece: int
) -> None:
    pool = data.draw(st.lists(TEXTS, min_size=1, max_size=4), label="texts")
    text = st.sampled_from(pool) | TEXTS | ENDINGS
    doc = data.draw(documents(text, AMOUNTS, max_vouchers=8), label="doc")
    fault = data.draw(st.none() | st.sampled_from(list(FAULTS)), label="fault")
    if fault:
        first = FAULTS[fault](doc.vouchers[0])
        later = [v for v in doc.vouchers[1:] if fault != "numbers descending"]
        extra = (
            [dataclasses.replace(first, series="N", number=9)]
            if fault == "numbers descending"
            else []
        )
        doc = dataclasses.replace(
            doc, vouchers=[*extra, first, *later], accounts={**doc.accounts, **{"1930": "Bank"}}
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns, "_CHUNK_LINES", chunk)
        patch.setattr(columns, "_PIECE", piece)
        written, rows = _both(doc, checksum, limit)
    assert written == rows
    if fault:  # the fault was refused, not written
        assert isinstance(rows, str), fault


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 1 << 16])
@pytest.mark.parametrize("checksum", [False, True])
def test_golden_document_at_every_chunk_size(
    chunk: int, checksum: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columns, "_CHUNK_LINES", chunk)
    monkeypatch.setattr(columns, "_PIECE", max(1, chunk - 1))
    doc = golden_doc()
    many = dataclasses.replace(doc, vouchers=[*doc.vouchers[:1] * 3, *doc.vouchers[1:]])
    for d in (doc, many):
        written, rows = _both(d, checksum, 50)
        assert isinstance(written, tuple) and written == rows


def test_an_amount_past_int64_is_written_by_the_per_row_path() -> None:
    ore = 2**70
    doc = dataclasses.replace(
        golden_doc(),
        vouchers=[Voucher("A", dt.date(2026, 5, 5), "x", (Line("1930", ore), Line("3001", -ore)))],
    )
    with pytest.raises(OverflowError):
        frames.voucher_frames(doc.vouchers)
    written, rows = _both(doc, True, 50)
    assert isinstance(written, tuple) and written == rows
    assert b"#TRANS 1930 {} 11805916207174113034.24\r\n" in written[0]


def test_voucher_frames_hold_the_vouchers_columns() -> None:
    doc = golden_doc()
    f = frames.voucher_frames(doc.vouchers)
    assert f.vouchers.schema == pl.Schema(frames.VOUCHER_COLUMNS)
    assert f.lines.schema == pl.Schema(frames.LINE_COLUMNS)
    assert f.vouchers.rows() == [
        (i, v.series, v.number, v.date, v.text, v.reg_date) for i, v in enumerate(doc.vouchers)
    ]
    assert f.lines.rows() == [
        (
            i,
            line.account,
            line.amount,
            [{"dim": d, "object": o} for d, o in line.dims],
            line.text,
            None if line.quantity is None else format(line.quantity, "f"),
            line.date,
        )
        for i, v in enumerate(doc.vouchers)
        for line in v.lines
    ]
    assert f.described is doc.vouchers


def test_a_small_document_is_written_without_importing_polars() -> None:
    """Importing Polars costs more than the columns save on a few hundred lines."""
    code = (
        "import sys; from tests.test_sie_writer import golden_doc; "
        "from bokfor.sie.writer import render; render(golden_doc(), checksum=True); "
        "print('polars' in sys.modules)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert run.stdout.strip() == "False"


@pytest.mark.parametrize("fault", ["the smallest Int64 twice", "lines adding up to 2^64"])
def test_an_amount_that_wraps_int64_is_refused_as_by_rows(fault: str) -> None:
    """Both paths refuse the voucher with the same message (by columns, it was written)."""
    doc = golden_doc()
    doc = dataclasses.replace(doc, vouchers=[FAULTS[fault](doc.vouchers[0]), *doc.vouchers[1:]])
    written, rows = _both(doc, False, 50)
    assert isinstance(rows, str) and "does not balance" in rows
    assert written == rows
