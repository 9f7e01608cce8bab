"""The fast SIE writer (issue 9) against the reader, on documents made to hit its caches.

The writer formats each distinct series, account-with-objects and text once and reuses the
result; a text that is cut or loses a trailing backslash is never reused, since each use
must give its own notice. So the documents here draw every text from a small pool (texts
repeat) with quotes, backslashes, characters CP437 lacks and texts longer than the limit,
zero and negative amounts, and dimensions. What the reader reads back, and the notices,
follow the SIE text rules modelled in test_sie_roundtrip, not the writer's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.sie.model import SieDocument
from bokfor.sie.reader import parse
from bokfor.sie.writer import render, render_to

from .test_sie_roundtrip import ALPHABET, amounts, cleaned_text, documents, expected_voucher
from .test_sie_writer import golden_doc

# Not in CP437, and what is written instead (docs/sie.md); none is or adds a space.
REPLACED = {"\u20ac": "EUR", "\u2013": "-", "\u2019": "'", "\u201c": '"', "\u0151": "o"}
# Pieces of texts: characters, and a word long enough to pass the limits.
PIECES = st.sampled_from(ALPHABET + list(REPLACED) + ['"', "\\", "x" * 30])
TEXTS = st.lists(PIECES, max_size=12).map("".join)
AMOUNTS = st.sampled_from([0, 1, -1, -100, 10**13]) | amounts


@settings(max_examples=50, deadline=None)
@given(data=st.data(), checksum=st.booleans(), limit=st.sampled_from([50, None, 12, 1]))
def test_repeated_awkward_texts_round_trip_with_a_notice_per_change(
    data: st.DataObject, checksum: bool, limit: int | None
) -> None:
    pool = data.draw(st.lists(TEXTS, min_size=1, max_size=4), label="texts")
    doc = data.draw(documents(st.sampled_from(pool), AMOUNTS, max_vouchers=8), label="doc")

    written, notices = render(doc, checksum=checksum, text_limit=limit)
    result = parse(written, "perf_writer.si")

    assert result.checksum == ("ok" if checksum else "absent")
    assert result.document.vouchers == [expected_voucher(v, limit, REPLACED) for v in doc.vouchers]
    # Each time a text is written: a notice if it is cut, another if it then ends with a
    # backslash (dropped). Each replaced character: one notice, the first time.
    raw = [t for v in doc.vouchers for t in (v.text, *(line.text for line in v.lines))]
    cut = backslash = 0
    for text in map(cleaned_text, raw, [REPLACED] * len(raw)):
        if limit is not None and len(text) > limit:
            cut += 1
            text = text[:limit].rstrip(" ")
        backslash += text.endswith("\\")
    messages = [n.message for n in notices]
    assert sum("characters; cut to" in m for m in messages) == cut
    assert (
        sum(m.startswith("voucher ") and "ends with a backslash" in m for m in messages)
        == backslash
    )  # (names, not counted here, can end in one too)
    replaced = sorted({c for t in raw for c in t if c in REPLACED})
    reported = [m for m in messages if "is not in code page 437" in m]
    assert sorted(m.split("(U+")[1][:4] for m in reported) == [f"{ord(c):04X}" for c in replaced]


def _many(n: int) -> SieDocument:
    """The golden document's header with `n` vouchers of repeating texts (the writer's
    caches stay small: what grows with `n` is the file alone)."""
    doc = golden_doc()
    lines = doc.vouchers[0].lines
    return dataclasses.replace(
        doc,
        vouchers=[
            dataclasses.replace(
                doc.vouchers[0],
                text=f"Utbetalning {i % 7}",
                date=dt.date(2026, 1 + i % 12, 1 + i % 28),
                lines=lines,
            )
            for i in range(n)
        ],
    )


@pytest.mark.parametrize("n", [0, 1, 512, 513, 1100])
@pytest.mark.parametrize("checksum", [False, True])
def test_render_to_writes_what_render_gives_at_every_chunk_boundary(
    tmp_path: Path, n: int, checksum: bool
) -> None:
    doc = _many(n)
    with open(tmp_path / "out.si", "wb") as fh:
        notices = render_to(doc, fh, checksum=checksum)
    written = (tmp_path / "out.si").read_bytes()
    result = parse(written, "out.si")
    assert result.document.vouchers == [expected_voucher(v, 50, REPLACED) for v in doc.vouchers]
    assert result.checksum == ("ok" if checksum else "absent")
    assert [n.message for n in notices] == [n.message for n in render(doc, checksum=checksum)[1]]
    assert written.endswith(b"}\r\n" if n and not checksum else b"\r\n")


def test_render_to_holds_a_few_hundred_vouchers_of_text_not_the_file(tmp_path: Path) -> None:
    """20,000 vouchers (3.5 MB of SIE) written to a file: the text of the whole file was
    held three times over before (lines, joined, encoded); now a chunk's."""
    doc = _many(20_000)
    tracemalloc.start()
    try:
        with open(tmp_path / "big.si", "wb") as fh:
            render_to(doc, fh)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    size = (tmp_path / "big.si").stat().st_size
    assert size > 3_000_000
    assert peak < size / 4, f"render_to peaked at {peak:,} B for a {size:,} B file"
