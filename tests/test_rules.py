"""Rules as one Polars expression (bokfor.rules): the rule it picks for each row is the one
`SourceRules.match` picks, on every shipped sample with every shipped mapping and on generated
rows and rules; its regular expressions answer as RE2 does, character by character."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor import frames
from bokfor.booking import _in_currency, book
from bokfor.domain import Origin, Row
from bokfor.errors import BokforError
from bokfor.mapping import Rule, SourceRules, load_mapping
from bokfor.patterns import compile_pattern
from bokfor.rules import EQUALS, ONE_OF, RE2_UNICODE, Condition
from bokfor.sources import AMOUNT, DATE, DATETIME, TEXT, Schema, detect_source

ROOT = Path(__file__).parent.parent
MAPPINGS = sorted((ROOT / "mappings").glob("*.yaml"))
SAMPLES = sorted(
    p
    for p in (ROOT / "samples").rglob("*")
    if p.is_file() and p.suffix in {".csv", ".xml", ".sta", ".txt", ".si", ".xlsx"}
)


def _picked(rules: SourceRules, rows: list[Row], schema: Schema) -> tuple[list, list]:
    """(the expression's rule per row, `match`'s), as indices into `rules.candidates`."""
    frame = frames.from_rows(rows, schema)
    by_expression = frame.select(rules.first_match(dict(frame.schema))).to_series().to_list()
    index = {id(rule): i for i, rule in enumerate(rules.candidates)}
    by_row = [None if (rule := rules.match(row)) is None else index[id(rule)] for row in rows]
    return by_expression, by_row


def _pairs() -> list[tuple[Path, Path]]:
    out = []
    for mapping_path in MAPPINGS:
        mapping = load_mapping(mapping_path)
        for sample in SAMPLES:
            try:
                src = detect_source(sample, mapping.formats)
            except BokforError:
                continue
            if src.section in mapping.sources:
                out.append((mapping_path, sample))
    return out


PAIRS = _pairs()
IDS = [f"{m.stem}-{s.name}" for m, s in PAIRS]


def _read(mapping_path: Path, sample: Path) -> tuple[Any, Any, SourceRules, list[Row]]:
    """(mapping, source, its rules, the sample's rows)."""
    mapping = load_mapping(mapping_path)
    src = detect_source(sample, mapping.formats)
    rows = [r for r in src.read(sample, mapping.timezone) if isinstance(r, Row)]
    return mapping, src, mapping.for_source(src.section), rows


def test_every_source_a_mapping_books_has_a_sample():
    assert {m.name for m, _ in PAIRS} == {"bank.yaml", "stripe.yaml", "pos.yaml"}
    assert len(PAIRS) >= 10


@pytest.mark.parametrize("mapping_path, sample", PAIRS, ids=IDS)
def test_expression_picks_the_rule_match_picks_on_the_samples(mapping_path, sample):
    mapping, src, rules, rows = _read(mapping_path, sample)
    if src.schema.currency_field:
        rows = [_in_currency(r, mapping, src.schema) for r in rows]
    by_expression, by_row = _picked(rules, rows, src.schema)
    assert by_expression == by_row
    assert any(i is not None for i in by_row)


def _book_frames(rows: list[Row], src: Any, rules: SourceRules, mapping: Any) -> Any:
    """postings.book_frames on the rows as one frame (contents made as the plan makes them),
    and what it recorded: [(tag, key, rule)], [(line, key, why, rule)]."""
    from bokfor import postings
    from bokfor.classify import CONTENT, content_of

    content = content_of(src.schema, src.schema.amounts)
    frame = frames.from_rows(rows, src.schema).with_columns(
        pl.Series(CONTENT, [content(r) for r in rows], dtype=pl.String)
    )
    records: list[tuple] = []
    skipped: list[tuple] = []
    sink = postings.FrameSink(
        lambda f: records.extend(f.select("tag", "key", "rule").iter_rows()),
        lambda f: skipped.extend(f.iter_rows()),
    )
    return postings.book_frames([frame], rules, mapping, src.schema, sink), records, skipped


def _columnar_pairs() -> list[tuple[Path, Path]]:
    from bokfor import postings

    out = []
    for mapping_path, sample in PAIRS:
        _, src, rules, _ = _read(mapping_path, sample)
        if postings.columnar(rules, src.schema):
            out.append((mapping_path, sample))
    return out


COLUMNAR = _columnar_pairs()


@pytest.mark.parametrize(
    "mapping_path, sample", COLUMNAR, ids=[f"{m.stem}-{s.name}" for m, s in COLUMNAR]
)
def test_book_frames_books_as_book_does(mapping_path, sample):
    """Every shipped sample whose mapping's rules book by columns (bokfor.postings): the same
    vouchers, tags, counts, notices, pending and unmapped rows, and a record of each booked
    row, as `book` gives and tells `on_row`."""
    from bokfor.booking import PENDING, SKIPPED, ZERO

    mapping, src, rules, rows = _read(mapping_path, sample)
    seen: list[tuple] = []
    try:
        want = book(rows, rules, mapping, src.schema, lambda *a: seen.append(a))
    except BokforError as exc:
        with pytest.raises(type(exc)) as failed:
            _book_frames(rows, src, rules, mapping)
        assert str(failed.value) == str(exc)
        return
    got, records, skipped = _book_frames(rows, src, rules, mapping)
    assert got.vouchers == want.vouchers
    assert [v.origins for v in got.vouchers] == [v.origins for v in want.vouchers]
    assert (got.rows, got.zero_rows, got.skipped, got.tags) == (
        want.rows,
        want.zero_rows,
        want.skipped,
        want.tags,
    )
    assert [str(n) for n in got.notices] == [str(n) for n in want.notices]
    assert [r.key for r in got.pending] == [r.key for r in want.pending]
    assert {k: [r.key for r in v] for k, v in got.unmapped.items()} == {
        k: [r.key for r in v] for k, v in want.unmapped.items()
    }
    assert list(got.unmapped) == list(want.unmapped)
    assert records == [(tag, row.key, rule) for tag, row, _, _, rule in seen if tag >= 0]
    assert skipped == [
        (row.origin.line, row.key, tag, rule)
        for tag, row, _, _, rule in seen
        if tag in (PENDING, SKIPPED, ZERO)
    ]


def test_columnar_pairs_cover_three_sources():
    """Booking by columns is compared with booking by rows on more than the balance export."""
    assert {_read(m, s)[1].name for m, s in COLUMNAR} >= {
        "stripe_balance",
        "stripe_payments",
        "stripe_report",
    }


def test_the_benchmarks_bank_file_is_booked_alike(tmp_path):
    """The peers' bank CSV of the benchmark (bench/gen_peers.py, bench/mappings/peers.yaml),
    2,000 rows: the same rule per row."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_peers", ROOT / "bench/gen_peers.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.write_peers(tmp_path / "peers.csv", 2000)
    mapping = load_mapping(ROOT / "bench/mappings/peers.yaml")
    src = detect_source(tmp_path / "peers.csv", mapping.formats)
    rules = mapping.for_source(src.section)
    rows = [r for r in src.read(tmp_path / "peers.csv", mapping.timezone) if isinstance(r, Row)]
    by_expression, by_row = _picked(rules, rows, src.schema)
    assert by_expression == by_row and set(by_row) == {0, 1, 2, 3}  # 3: the fallback


def test_unmatched_rows_are_listed_by_kind_as_today(tmp_path):
    """A mapping with rules for charges only: the same kinds, counts, first lines and
    snippet as `book` gives."""
    from bokfor.booking import unmapped_error

    (tmp_path / "m.yaml").write_text(
        "company: {name: Exempelbutiken AB}\n"
        "sources:\n  stripe_balance:\n    grouping: per_day\n    rules:\n"
        "      - name: Sales\n        when: {type: charge}\n"
        "        post: [{account: 1580, debit: net}, {account: 6570, debit: fee},"
        " {account: 3001, credit: gross}]\n",
        encoding="utf-8",
    )
    mapping = load_mapping(tmp_path / "m.yaml")
    sample = ROOT / "samples/stripe/balance_history.csv"
    src = detect_source(sample)
    rules = mapping.for_source(src.section)
    rows = [r for r in src.read(sample, mapping.timezone) if isinstance(r, Row)]
    want = book(rows, rules, mapping, src.schema)
    got, _, _ = _book_frames(rows, src, rules, mapping)
    assert len(want.unmapped) >= 2
    assert str(unmapped_error(got.unmapped, rules, mapping, src.schema)) == str(
        unmapped_error(want.unmapped, rules, mapping, src.schema)
    )
    assert (
        unmapped_error(got.unmapped, rules, mapping, src.schema).details
        == unmapped_error(want.unmapped, rules, mapping, src.schema).details
    )


# -- generated rows and rules ------------------------------------------------------------

TZ = ZoneInfo("Europe/Stockholm")
SCHEMA = Schema(
    fields={"text": TEXT, "kind": TEXT, "created": DATETIME, "value_date": DATE},
    amounts={"net": {"net": 1}, "fee": {"fee": 1}, "gross": {"net": 1, "fee": 1}},
    open_prefixes=("metadata.",),
)
WORDS = [
    "",
    "Lön",
    "LÖN",
    "lön",
    "semesterlön",
    "Stripe AB",
    "STRIPE",
    "köp öl.",
    "ölen",
    "a\nb",
    "kr\n",
    "٣٤",
    "K",
    "\u212a",
    "ß",
    "ẞ",
    "ɤ",
    "\ua7cb",
    "x\u00a0y",
    "_",
    "årsavgift",
    "Faktura 12",
    "é",
    "aö",
    "\U0001f600",
    "ſ",
]
TEXTS = st.one_of(
    st.none(), st.sampled_from(WORDS), st.lists(st.sampled_from(WORDS), max_size=3).map(" ".join)
)
DAYS = st.dates(dt.date(2026, 3, 27), dt.date(2026, 3, 31))
STAMPS = st.datetimes(
    dt.datetime(2026, 3, 28, 20), dt.datetime(2026, 3, 30, 3), timezones=st.just(dt.timezone.utc)
)
ORE = st.integers(-300, 300)
PATTERNS = [
    r"(?i)lön",
    r"\blön",
    r"(?i)\blön\b",
    r"^Stripe",
    r"(?i)stripe",
    r"\w+",
    r"\d",
    r"^$",
    r"",
    r"a.b",
    r"(?s)a.b",
    r"(?m)^b",
    r"kr$",
    r"\bö",
    r"a\bö",
    r"k\Bö",
    r"(?i)k",
    r"(?i)ß",
    r"(?i)\u212a",
    r"(?i)ɤ",
    r"(?i)\ua7cb",
    r"[\w-]",
    r"\s",
    r"\S+$",
    r"(?i)[a-z]",
    r"ö\b",
    r"\B",
    r"(?a)\w",
    r"-\d",
    r"^2026-03-2",
    r"(öl|vin)\b",
    r"x*",
]

COMPILED = {p: compile_pattern(p) for p in PATTERNS}  # one object a pattern: built once


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    field, kind = draw(
        st.sampled_from(
            [
                ("text", TEXT),
                ("kind", TEXT),
                ("metadata.order", TEXT),
                ("metadata.none", TEXT),
                ("created", DATETIME),
                ("value_date", DATE),
                ("date", DATE),
                ("net", AMOUNT),
                ("gross", AMOUNT),
            ]
        )
    )
    values = {
        TEXT: TEXTS.filter(lambda t: t != ""),
        AMOUNT: ORE,
        DATE: st.one_of(st.none(), DAYS),
        DATETIME: st.one_of(st.none(), DAYS),
    }[kind]
    if kind == AMOUNT:
        values = ORE
    ops = [EQUALS, ONE_OF, "not", "empty", "regex"]
    ops += ["min", "max", "sign"] if kind == AMOUNT else []
    ops += ["from", "to"] if kind in (DATE, DATETIME) else []
    tests = []
    for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=3, unique=True)):
        if op == EQUALS:
            arg = draw(values)
        elif op in (ONE_OF, "not"):
            arg = frozenset(draw(st.lists(st.one_of(values, st.none()), min_size=1, max_size=3)))
        elif op == "empty":
            arg = draw(st.booleans())
        elif op == "regex":
            arg = COMPILED[draw(st.sampled_from(PATTERNS))]
        elif op == "sign":
            arg = draw(st.sampled_from(["positive", "negative", "zero", "nonzero"]))
        elif op in ("from", "to"):
            arg = draw(DAYS)
        else:
            arg = draw(ORE)
        tests.append((op, arg))
    if len(tests) > 1 and tests[0][0] in (EQUALS, ONE_OF):  # as the mapping writes them
        tests = tests[1:]
    return Condition(field, kind, tuple(tests), TZ)


@st.composite
def rows(draw: st.DrawFn) -> Row:
    net, fee = draw(ORE), draw(ORE)
    fields = {
        "text": draw(TEXTS),
        "kind": draw(TEXTS),
        "created": draw(st.one_of(st.none(), STAMPS)),
        "value_date": draw(st.one_of(st.none(), DAYS)),
    }
    if draw(st.booleans()):
        fields["metadata.order"] = draw(TEXTS)
    return Row(
        source="gen",
        key=f"k{draw(st.integers(0, 10**9))}",
        date=draw(DAYS),
        amounts={"net": net, "fee": fee, "gross": net + fee},
        fields={k: v for k, v in fields.items() if v is not None},
        origin=Origin("gen.csv", draw(st.integers(2, 99))),
    )


def _rule(i: int, conditions: tuple[Condition, ...]) -> Rule:
    return Rule(
        name=f"r{i}",
        conditions=conditions,
        postings=(),
        text=None,
        file="m.yaml",
        line=None,
        key=f"rules[{i}]",
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(conditions(), min_size=1, max_size=3), min_size=1, max_size=4),
    st.booleans(),
    st.lists(rows(), min_size=1, max_size=12),
)
def test_expression_picks_the_rule_match_picks_on_generated_rows(
    rule_conditions, fallback, generated
):
    rules = tuple(_rule(i, tuple(c)) for i, c in enumerate(rule_conditions))
    source = SourceRules(
        source="gen",
        grouping="per_row",
        series="A",
        voucher_text=None,
        rules=rules,
        fallback=_rule(99, ()) if fallback else None,
        key="sources.gen",
    )
    by_expression, by_row = _picked(source, generated, SCHEMA)
    assert by_expression == by_row


# -- regular expressions in both engines --------------------------------------------------


def _contains(pattern: str, texts: list[str]) -> tuple[list[bool], list[bool]]:
    """What the frame's expression answers for `pattern` in a text field, and what the
    condition answers row by row (an empty text is no text: never searched)."""
    condition = Condition("text", TEXT, (("regex", compile_pattern(pattern)),), TZ)
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    test = condition.predicate()
    by_row = [
        test(
            Row(
                source="gen",
                key="k",
                date=dt.date(2026, 1, 1),
                amounts={},
                fields={"text": t},
                origin=Origin("f", 2),
            )
        )
        for t in texts
    ]
    return frame.select(condition.expression(dict(frame.schema))).to_series().to_list(), by_row


CASES = [  # (pattern, texts): where RE2 and Rust's regex could answer differently
    (r"(?i)lön", ["LÖN", "Lön", "lon", "semesterlön"]),
    (r"(?i)\blön", ["Lön december", "semesterlön", "utbetald LÖN"]),
    (r"\bårsavgift\b", ["årsavgift", "bankens årsavgift.", "xårsavgift", "årsavgifter"]),
    (r"a\bö", ["aö", "a ö"]),
    (r"k\Bö", ["kö", "k ö"]),
    (r"\B", ["aéa", "a", "é", ""]),
    (r"x\B", ["xé", "xa", "x"]),
    (r"\b", ["", "é", "a"]),
    (r"é\b", ["é", "éa"]),
    (r"ö\b", ["köp öl", "öl"]),
    (r"\w+", ["åäö", "ÅÄÖ", " ", "_", "٣"]),
    (r"^\w{3}$", ["åäö", "abc", "ab"]),
    (r"\d", ["٣", "7", "x"]),
    (r"(?a)\d", ["٣", "7"]),
    (r"\s", ["\u00a0", "\u2028", "x"]),
    (r"^Chargeback", ["Chargeback x", "x Chargeback"]),
    (r"kr$", ["100 kr", "100 kr\n", "100 kr\n\n", "kr x"]),
    (r"(?m)^b$", ["a\nb\nc", "ab"]),
    (r"\Ax\Z", ["x", "x\n"]),
    (r"", ["", "x"]),
    (r"^$", ["", "\n", "x"]),
    (r"x*", [""]),
    (r"a.b", ["a\nb", "a-b", "a\u2028b"]),
    (r"(?s)a.b", ["a\nb"]),
    (r"(?i)k", ["\u212a", "K"]),
    (r"(?i)s", ["ſ", "S"]),
    (r"(?i)ß", ["ẞ", "ss"]),
    (r"(?i)ɤ", ["ɤ", "\ua7cb"]),
    (r"(?i)\ua7cb", ["ɤ", "\ua7cb"]),
    (r"(?i)[\ua7c0-\ua7cf]", ["ɤ", "\ua7cb"]),
    (r"(?i)[^\ua7cb]", ["ɤ", "\ua7cb"]),
    (r"\w", ["\ua7cb", "\u1c89", "\U00010d40"]),
    (r"\d", ["\U00010d40", "\U000116d0"]),
    (r"[\w-]+", ["a-ö", "—"]),
    (r"\w" * 300, ["a" * 300, "a" * 299]),  # too large for the regex crate: RE2 searches
]


@pytest.mark.parametrize("pattern, texts", CASES, ids=[c[0][:30] for c in CASES])
def test_regex_in_a_frame_answers_as_re2(pattern, texts):
    by_expression, by_row = _contains(pattern, texts)
    assert by_expression == by_row
    rx = compile_pattern(pattern)
    assert by_row == [bool(t) and rx.test(t) for t in texts]


def test_where_the_engines_differ_the_frame_asks_re2():
    """The differences the cases above cover, seen in the raw engines: \\b inside a pattern,
    letters of Unicode 16, and case partners of Unicode 16."""
    series = pl.Series(["aö", "\ua7cb", "ɤ"])
    assert series.str.contains(r"a\bö").to_list()[0] is False
    assert re2.search(r"a\bö", "aö")
    assert series.str.contains(r"\w").to_list()[1] is True
    assert not re2.search(r"\p{L}", "\ua7cb")
    assert series.str.contains(r"(?i)\x{a7cb}").to_list()[2] is True
    assert not re2.search(r"(?i)\x{a7cb}", "ɤ")


OLD = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def test_unicode_tables_agree_up_to_re2s_version():
    """Every character assigned by Unicode 15.1 is a letter, number or digit to both engines
    alike (the classes patterns.py writes); a newer one is searched by RE2 in a frame."""
    old = pl.Series(OLD).filter(pl.Series(OLD).str.contains(rf"\p{{Age:{RE2_UNICODE}}}"))
    text = "\n".join(old.to_list())
    options = re2.Options()
    options.log_errors = False
    for cls in (r"\p{L}", r"\p{N}", r"\p{Nd}"):
        theirs = set(old.filter(old.str.contains(cls)).to_list())
        ours = set(re2.compile(cls, options).findall(text))
        assert ours == theirs, cls


def test_case_partners_agree_up_to_re2s_version():
    """`(?i)c` matches the same characters of Unicode 15.1 in both engines, for every
    character that has a case mapping (and so case partners)."""
    old = pl.Series(OLD).filter(pl.Series(OLD).str.contains(rf"\p{{Age:{RE2_UNICODE}}}"))
    cased = old.filter(old.str.contains(r"\p{Changes_When_Casemapped}")).to_list()
    assert {"å", "Ö", "K", "\u212a", "ſ", "ß", "ẞ", "ɤ"} <= set(cased)
    text = "\n".join(cased)
    patterns = [rf"(?i)\x{{{ord(c):x}}}" for c in cased]
    theirs = (
        pl.DataFrame({"p": patterns, "t": [text] * len(patterns)})
        .select(pl.col("t").str.extract_all(pl.col("p")))
        .to_series()
        .to_list()
    )
    options = re2.Options()
    options.log_errors = False
    differ = [
        p
        for p, found in zip(patterns, theirs, strict=True)
        if set(re2.compile(p, options).findall(text)) != set(found)
    ]
    assert differ == []


def test_a_pattern_naming_a_newer_character_case_insensitively_is_searched_by_re2():
    from bokfor.rules import _rust_form

    assert _rust_form(compile_pattern(r"(?i)\ua7cb")) is None
    assert _rust_form(compile_pattern(r"(?i)ɤ")) is not None
    assert _rust_form(compile_pattern("\\w" * 300)) is None
    assert _rust_form(compile_pattern(r"a\bö")) == r"\x{61}(?-u:\b)\x{f6}"


def test_timestamps_compare_by_their_local_date():
    """23:30 UTC on the day DST begins is the next day in Stockholm: both engines agree."""
    stamp = dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.timezone.utc)
    row = Row(
        source="gen",
        key="k",
        date=dt.date(2026, 3, 28),
        amounts={"net": 0, "fee": 0, "gross": 0},
        fields={"created": stamp},
        origin=Origin("f", 2),
    )
    condition = Condition("created", DATETIME, ((EQUALS, dt.date(2026, 3, 29)),), TZ)
    rule = _rule(0, (condition,))
    rules = SourceRules(
        source="gen",
        grouping="per_row",
        series="A",
        voucher_text=None,
        rules=(rule,),
        fallback=None,
        key="k",
    )
    assert _picked(rules, [row], SCHEMA) == ([0], [0])
    later = dataclasses.replace(row, fields={"created": stamp - dt.timedelta(hours=1)})
    assert _picked(rules, [later], SCHEMA) == ([None], [None])
