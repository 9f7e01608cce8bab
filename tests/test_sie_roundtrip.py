"""Property: what the writer writes, the reader reads back unchanged.

Texts are drawn from code page 437 (control characters, quotes, backslashes, åäö
included); the expected result applies SIE's text rules, modelled here independently of the
writer: control characters and NBSP -> space, runs of spaces collapse, ends trimmed, cut to
the limit, no trailing backslash.
"""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.domain import Company, FiscalYear, Line, Voucher, make_dims
from bokfor.sie.model import SieDocument
from bokfor.sie.reader import parse
from bokfor.sie.writer import render

CP437 = bytes(range(256)).decode("cp437")
YEAR = FiscalYear(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
DIM_NAMES = {1: "Kostnadsställe", 6: "Projekt", 20: "Dimension 20"}


def cleaned_text(raw: str, replace: dict[str, str] | None = None) -> str:
    """`raw` cleaned, before the cut; `replace`: characters outside CP437 (none in ALPHABET)
    and what is written instead."""
    text = re.sub(r"[\x00-\x1f\x7f\xa0]", " ", raw)
    text = re.sub(" +", " ", text).strip(" ")
    if replace:
        text = "".join(replace.get(c, c) for c in text)
    return text


def expected_text(raw: str, limit: int | None, replace: dict[str, str] | None = None) -> str:
    text = cleaned_text(raw, replace)
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip(" ")
    while text.endswith(("\\", " ")):
        text = text[:-1]
    return text


# Without σ Σ ÷ ┼ ─ ╓: their CP437 bytes are Latin-1's å ä ö Å Ä Ö, which the reader's
# encoding guess counts; a file whose only non-ASCII characters are these is read as
# Latin-1 (see test_sie_reader.test_cp437_box_drawing_with_swedish_letters_stays_cp437).
ALPHABET = [c for c in CP437 if c not in "σΣ÷┼─╓"] + list('"\\åäöÅÄÖ ')
texts = st.text(alphabet=st.sampled_from(ALPHABET), max_size=70)
names = texts.filter(lambda t: expected_text(t, None) != "")
OBJECT_ID = r'[A-Za-z0-9åäö]([A-Za-z0-9_"\- ]{0,6}[A-Za-z0-9])?'  # ids are written verbatim
object_ids = st.from_regex(OBJECT_ID, fullmatch=True)
accounts = st.integers(1000, 99999).map(str)
days = st.dates(YEAR.start, YEAR.end)
amounts = st.integers(-(10**13), 10**13)
quantities = st.none() | st.decimals(-(10**6), 10**6, places=2, allow_infinity=False)


DIMS = st.dictionaries(st.sampled_from([1, 6, 20]), object_ids, max_size=3)
MAYBE_DAY = st.none() | days


@st.composite
def lines(
    draw: st.DrawFn,
    account: st.SearchStrategy[str],
    day: dt.date,
    text: st.SearchStrategy[str] = texts,
    amount: st.SearchStrategy[int] = amounts,
) -> tuple[Line, ...]:
    def one(amount: int) -> Line:
        other_day = draw(MAYBE_DAY)
        return Line(
            account=draw(account),
            amount=amount,
            dims=make_dims(draw(DIMS)),
            text=draw(text),
            quantity=draw(quantities),
            date=None if other_day == day else other_day,  # transdat = voucher date: omitted
        )

    rows = [one(a) for a in draw(st.lists(amount, min_size=1, max_size=4))]
    rows.append(one(-sum(r.amount for r in rows)))
    return tuple(rows)


@st.composite
def documents(
    draw: st.DrawFn,
    text: st.SearchStrategy[str] = texts,
    amount: st.SearchStrategy[int] = amounts,
    max_vouchers: int = 4,
) -> SieDocument:
    pool = st.sampled_from(draw(st.lists(accounts, min_size=1, max_size=6, unique=True)))
    vouchers = []
    numbers: dict[str, int] = {}
    for _ in range(draw(st.integers(1, max_vouchers))):
        series = draw(st.sampled_from(["A", "B", "LEV1", "", "X Y"]))
        number = None
        if draw(st.booleans()):
            number = numbers[series] = numbers.get(series, 0) + draw(st.integers(1, 1000))
        day = draw(days)
        vouchers.append(
            Voucher(
                series=series,
                number=number,
                date=day,
                text=draw(text),
                lines=draw(lines(pool, day, text, amount)),
                reg_date=draw(MAYBE_DAY),
            )
        )
    used = {line.account for v in vouchers for line in v.lines}
    return SieDocument(
        company=Company(draw(names), orgnr=draw(st.sampled_from([None, "5566778899"]))),
        program=("bokfor", "1.2.3"),
        generated=dt.date(2026, 12, 31),
        fiscal_years=[YEAR],
        accounts={a: draw(names) for a in sorted(used)},
        objects={
            pair: draw(names)
            for pair in sorted({p for v in vouchers for line in v.lines for p in line.dims})
            if draw(st.booleans())
        },
        vouchers=vouchers,
    )


def expected_voucher(
    v: Voucher, limit: int | None, replace: dict[str, str] | None = None
) -> Voucher:
    return Voucher(
        series=v.series,
        number=v.number,
        date=v.date,
        text=expected_text(v.text, limit, replace),
        reg_date=v.reg_date,
        lines=tuple(
            Line(
                account=line.account,
                amount=line.amount,
                dims=line.dims,
                text=expected_text(line.text, limit, replace),
                quantity=line.quantity,
                date=line.date,
            )
            for line in v.lines
        ),
    )


@settings(max_examples=80, deadline=None)
@given(doc=documents(), checksum=st.booleans(), limit=st.sampled_from([50, None, 12]))
def test_render_then_parse_gives_the_document_back(
    doc: SieDocument, checksum: bool, limit: int | None
) -> None:
    data, _ = render(doc, checksum=checksum, text_limit=limit)
    result = parse(data, "roundtrip.si")
    back = result.document

    assert result.encoding == "cp437"
    assert result.checksum == ("ok" if checksum else "absent")
    assert back.vouchers == [expected_voucher(v, limit) for v in doc.vouchers]
    assert back.accounts == {a: expected_text(n, None) for a, n in doc.accounts.items()}
    used_objects = {p for v in doc.vouchers for line in v.lines for p in line.dims}
    assert back.objects == {
        p: expected_text(doc.objects.get(p) or p[1], None) for p in used_objects
    }
    assert back.dimensions == {d: DIM_NAMES[d] for d, _ in used_objects}
    assert back.company == doc.company.__class__(
        expected_text(doc.company.name, None),
        orgnr="556677-8899" if doc.company.orgnr else None,
    )
    assert back.fiscal_years == [YEAR]
    assert back.generated == doc.generated
    assert back.program == doc.program


def test_amount_extremes_round_trip() -> None:
    for ore, written in [
        (0, "0.00"),
        (1, "0.01"),
        (-1, "-0.01"),
        (-100, "-1.00"),
        (10**15 + 7, "10000000000000.07"),
        (-(10**15) - 7, "-10000000000000.07"),
    ]:
        v = Voucher("A", dt.date(2026, 5, 5), "x", (Line("1930", ore), Line("3001", -ore)))
        doc = SieDocument(
            company=Company("AB"),
            generated=dt.date(2026, 5, 5),
            accounts={"1930": "Bank", "3001": "Sales"},
            vouchers=[v],
        )
        data, _ = render(doc)
        assert f"#TRANS 1930 {{}} {written}\r\n".encode() in data
        assert parse(data, "x").document.vouchers == [v]
