"""lines_to_json's direct encoding and cache give exactly json.dumps's text (what older
ledgers hold), and lines_from_json reads it back."""

import json
from decimal import Decimal

from bokfor.domain import Line
from bokfor.ledger import _JSON_CACHE, lines_from_json, lines_to_json


def reference(lines):
    return json.dumps(
        [[l.account, l.amount, [list(d) for d in l.dims], l.text] for l in lines],
        ensure_ascii=False,
        separators=(",", ":"),
    )


CASES = [
    (),
    (Line("1930", 12345, (), "Stripe"), Line("3001", -12345, (), "")),
    (Line("6570", -55, ((1, 'A"b'), (6, "P\\12")), 'avgift é ü € \u2028 \x01 \t "q"'),),
    (Line("1580", 0, (), "x", Decimal("1.5")), Line("1580", 1, (), "x", None, None)),
    (Line("1930", 10**20, (), "big"), Line("2999", -(10**20), (), "\ud800")),
]


def test_same_text_as_json_dumps():
    for lines in CASES:
        assert lines_to_json(lines) == reference(lines)
        assert lines_to_json(lines) == reference(lines)  # second time from the cache
        assert lines_to_json(list(lines)) == reference(lines)
        assert lines_to_json(iter(lines)) == reference(lines)


def test_unusual_types_fall_back_to_json():
    odd = (Line("1930", 5, [[1, "A"]], "t"),)  # type: ignore[arg-type]  unhashable dims
    assert lines_to_json(odd) == reference(odd)
    flt = (Line("1930", 1.5, (), "t"),)  # type: ignore[arg-type]
    assert lines_to_json(flt) == reference(flt)


def test_reads_back():
    for lines in CASES[:3]:
        back = lines_from_json(lines_to_json(lines))
        assert [(l.account, l.amount, l.dims, l.text) for l in back] == [
            (l.account, l.amount, l.dims, l.text) for l in lines
        ]


def test_cache_is_bounded():
    from bokfor import ledger

    assert len(_JSON_CACHE) <= ledger._JSON_CACHE_SIZE
