import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bokfor.money import AmountError, format_sek, format_sie, parse_amount, split_vat, vat_on


@pytest.mark.parametrize(
    "text, mark, ore",
    [
        ("1 234,50", None, 123450),
        ("-1.234,50", None, -123450),
        ("1234.5", None, 123450),
        ("1\u00a0234,50 kr", None, 123450),
        ("1\u202f234,50", None, 123450),
        ("−12,00", None, -1200),  # U+2212 minus sign
        ("12,00-", None, -1200),  # trailing minus
        ("+7", None, 700),
        ("1.234.567", None, 123456700),
        ("1,234,567.89", None, 123456789),
        ("0,5", None, 50),
        ("12.500", ".", 1250),  # trailing zeros are exact
        ("1.500", ",", 150000),  # the format says '.' groups thousands
        ("-0.01", ".", -1),
        ("100 kr", None, 10000),
        ("99:-", None, 9900),
    ],
)
def test_parse_amount(text, mark, ore):
    assert parse_amount(text, mark) == ore


@pytest.mark.parametrize(
    "text, mark, message",
    [
        ("1.234", None, "'1.234' is ambiguous: '.' may be a decimal mark or a thousands separator"),
        ("1,234", None, "'1,234' is ambiguous: ',' may be a decimal mark or a thousands separator"),
        ("12.345", ".", "'12.345' has more than 2 decimals; öre cannot hold it exactly"),
        ("1,2,3", ",", "'1,2,3' has more than one decimal mark"),
        ("12 34,00", None, "'12 34,00' has misplaced thousands separators"),
        ("abc", None, "'abc' is not a number"),
        ("", None, "empty amount"),
        ("1e5", None, "'1e5' is not a number"),
    ],
)
def test_parse_amount_refuses(text, mark, message):
    with pytest.raises(AmountError) as exc:
        parse_amount(text, mark)
    assert str(exc.value) == message


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_sie_parses_back(ore):
    assert parse_amount(format_sie(ore), ".") == ore


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_swedish_display_parses_back(ore):
    assert parse_amount(format_sek(ore)) == ore
    assert parse_amount(format_sek(ore) + " kr", ",") == ore


def test_format():
    assert format_sie(-123450) == "-1234.50"
    assert format_sie(5) == "0.05"
    assert format_sek(123456789) == "1\u00a0234\u00a0567,89"


@pytest.mark.parametrize(
    "gross, rate, net, vat",
    [
        (125000, "25", 100000, 25000),
        (24900, "25", 19920, 4980),
        (-24900, "25", -19920, -4980),
        (11200, "12", 10000, 1200),
        (10600, "6", 10000, 600),
        (1, "25", 1, 0),
        (3, "25", 2, 1),
    ],
)
def test_split_vat(gross, rate, net, vat):
    assert split_vat(gross, rate) == (net, vat)


@given(
    st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["25", "12", "6", "12.5"])
)
def test_split_vat_is_exact_and_symmetric(gross, rate):
    net, vat = split_vat(gross, rate)
    assert net + vat == gross
    assert split_vat(-gross, rate) == (-net, -vat)


def test_vat_on_rounds_half_away_from_zero():
    assert vat_on(1240, "25") == 310
    assert vat_on(2, "25") == 1  # 0.5 öre rounds up
    assert vat_on(-2, "25") == -1


# --- a column of amounts (parse_amounts) equals parse_amount, text by text -------------------

_AMOUNT_CHARS = st.sampled_from(
    list("0123456789012345678901234567890.,.,- +'\u2212\u00a0\u202fkrsek:٣e")
)
_GROUPED = st.builds(
    lambda sign, head, groups, sep, mark, frac, tail: (
        sign + head + "".join(sep + g for g in groups) + (mark + frac if mark else "") + tail
    ),
    st.sampled_from(["", "-", "+", "\u2212", " "]),
    st.sampled_from(["0", "1", "12", "123", "1234", "007"]),
    st.lists(st.sampled_from(["000", "123", "907", "999", "050", "12", "1234"]), max_size=6),
    st.sampled_from([",", ".", " ", "\u00a0", "'", ""]),
    st.sampled_from(["", ".", ","]),
    st.from_regex(r"[0-9]{0,4}", fullmatch=True),
    st.sampled_from(["", "-", " kr", ":-", " "]),
)
_AMOUNT_TEXTS = st.one_of(
    _GROUPED, st.text(_AMOUNT_CHARS, max_size=14), st.integers(-(10**20), 10**20).map(str)
)


_EDGES = [
    "1234,567.89",
    "1234.567,89",
    "1,234",
    "1.234",
    "1,234,567.89",
    "1.234.567,89",
    "12,3,4",
    "+0.5",
    "-0,05",
    "007",
    "1.",
    ",5",
    "1234567890123456",
    "٣",
    "1.234.567",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(_AMOUNT_TEXTS, max_size=40), st.sampled_from([".", ",", None]))
@example(_EDGES, ".")
@example(_EDGES, ",")
@example(_EDGES, None)
def test_parse_amounts_equals_parse_amount(texts: list[str], mark: str | None) -> None:
    """Every text: the same öre where parse_amount reads it (within an Int64), refused where
    it refuses; a null stays null."""
    import polars as pl

    from bokfor.money import parse_amounts

    values, refused = parse_amounts(pl.Series("Amount", [*texts, None], pl.String), mark)
    assert (values[-1], refused[-1]) == (None, False)
    for text, value, bad in zip(texts, values.to_list(), refused.to_list(), strict=False):
        try:
            expected: int | None = parse_amount(text, mark)
        except AmountError:
            expected = None
        if expected is not None and not -(1 << 63) <= expected < 1 << 63:
            expected = None  # beyond an Int64 of öre: refused by the column parser
        assert (value, bad) == (expected, expected is None), text


def test_parse_amounts_machine_shapes_by_expression() -> None:
    import polars as pl

    from bokfor.money import parse_amounts

    values, refused = parse_amounts(
        pl.Series(["-1234.5", "1,234,567.89", "0.07", "12,3,4", "", "99:-"]), "."
    )
    assert values.to_list() == [-123450, 123456789, 7, None, None, 9900]
    assert refused.to_list() == [False, False, False, True, True, False]
