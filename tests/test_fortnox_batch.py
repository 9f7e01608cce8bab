"""Fortnox POST bodies and batch files: shape, exact amounts, text rules, the official schema."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.domain import Line, Voucher
from bokfor.fortnox.batch import (
    DESCRIPTION_MAX,
    MANIFEST,
    allowed,
    amount,
    clean_text,
    credit_total,
    debit_total,
    key_of,
    to_json,
    voucher_body,
    voucher_key,
    write_batch,
)

SPEC = Path(__file__).resolve().parents[2] / "shared" / "fortnox" / "fortnox-openapi.json"


def _voucher(text="Stripe payout po_1", lines=None, keys=("stripe:po_1",), day=(2026, 3, 2)):
    lines = lines or (
        Line("1930", 123456),
        Line("6570", 1544, dims=((1, "CAFE1"), (6, "P12")), text="Avgift"),
        Line("1580", -125000),
    )
    return Voucher("A", dt.date(*day), text, tuple(lines), tuple(keys))


@pytest.fixture(scope="module")
def schema():
    if not SPEC.exists():
        pytest.skip(f"{SPEC} not present")
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    schemas = copy.deepcopy(spec["components"]["schemas"])
    voucher = schemas["fortnox_Voucher"]
    voucher["required"] = [r for r in voucher["required"] if r != "Year"]  # read-only in fact
    # Resolve "#/components/schemas/..." refs inside one document.
    return {
        "type": "object",
        "required": ["Voucher"],
        "properties": {"Voucher": {"$ref": "#/components/schemas/fortnox_Voucher"}},
        "components": {"schemas": schemas},
    }


def _validate(body, schema):
    import jsonschema

    # Validate what goes over the wire: the JSON text parsed back (Decimals kept exact).
    wire = json.loads(to_json(body), parse_float=Decimal)
    jsonschema.validate(wire, schema)


def test_body_shape_amounts_and_dimensions():
    v = _voucher()
    key = voucher_key(v)
    body = voucher_body(v, key=key, series="A", year_id=2)["Voucher"]
    assert body["TransactionDate"] == "2026-03-02"
    assert body["VoucherSeries"] == "A"
    assert body["Description"] == f"Stripe payout po_1 {key}"
    assert key in body["Comments"] and "stripe:po_1" in body["Comments"]
    assert "Year" not in body
    rows = body["VoucherRows"]
    assert rows[0] == {"Account": 1930, "Debit": Decimal("1234.56")}
    assert rows[1] == {
        "Account": 6570,
        "Debit": Decimal("15.44"),
        "CostCenter": "CAFE1",
        "Project": "P12",
        "TransactionInformation": "Avgift",
    }
    assert rows[2] == {"Account": 1580, "Credit": Decimal("1250.00")}
    assert all(r.get("Debit", 0) >= 0 and r.get("Credit", 0) >= 0 for r in rows)
    assert debit_total({"Voucher": body}) == credit_total({"Voucher": body}) == Decimal("1250.00")


def test_amounts_are_exact_two_decimal_numbers_in_json():
    assert str(amount(5)) == "0.05"
    assert str(amount(100)) == "1.00"
    assert str(amount(123456789012345)) == "1234567890123.45"
    v = _voucher(lines=(Line("1930", 10), Line("1580", -10)))
    text = to_json(voucher_body(v, key=voucher_key(v), series="A", year_id=None))
    assert '"Debit":0.10' in text and '"Credit":0.10' in text
    with pytest.raises(TypeError):
        to_json({"x": 0.1})


def test_key_is_stable_short_and_distinguishes_reversals():
    v = _voucher()
    key = voucher_key(v)
    assert key == voucher_key(_voucher()) and len(key) == len("bokfor:") + 12
    reversal = _voucher(lines=tuple(l._replace(amount=-l.amount) for l in v.lines))
    assert voucher_key(reversal) != key
    assert voucher_key(v, context="export 7") != key
    assert key_of(voucher_body(v, key=key, series="A", year_id=1)) == key


def test_disallowed_characters_are_replaced_with_one_warning_each():
    notices = []
    v = _voucher(
        text='Kvitto "Café" <nr 5> [x] {y} |z| ~w McDonald\'s \u2014 \U0001f600 \t ok',
        lines=(Line("1930", 100, text="a\u2019b\nc"), Line("1580", -100, text="'q'")),
    )
    body = voucher_body(v, key=voucher_key(v), series="A", year_id=1, notices=notices)["Voucher"]
    for text in [
        body["Description"],
        body["Comments"],
        *(r.get("TransactionInformation", "") for r in body["VoucherRows"]),
    ]:
        assert all(allowed(c) for c in text), text
    assert body["Description"].startswith("Kvitto ´Café´ (nr 5) (x) (y) /z/ -w McDonald´s - ok")
    assert body["VoucherRows"][0]["TransactionInformation"] == "a´b c"
    messages = [n.message for n in notices]
    assert sum("U+0022" in m for m in messages) == 1  # reported once, though used twice
    assert any("U+1F600" in m for m in messages)
    assert "åäöÅÄÖéü 1-2 = 3: 50% & co." == clean_text("åäöÅÄÖéü 1-2 = 3: 50% & co.")


def test_texts_are_cut_to_fortnox_limits_keeping_the_key():
    notices = []
    v = _voucher(text="x" * 500, lines=(Line("1930", 100, text="y" * 300), Line("1580", -100)))
    key = voucher_key(v)
    body = voucher_body(v, key=key, series="A", year_id=1, notices=notices)["Voucher"]
    assert len(body["Description"]) == DESCRIPTION_MAX and body["Description"].endswith(key)
    assert len(body["VoucherRows"][0]["TransactionInformation"]) == 100
    assert sum("cut to" in n.message for n in notices) == 2


def test_zero_rows_are_left_out():
    v = _voucher(lines=(Line("1930", 100), Line("3001", 0), Line("1580", -100)))
    rows = voucher_body(v, key=voucher_key(v), series="A", year_id=1)["Voucher"]["VoucherRows"]
    assert [r["Account"] for r in rows] == [1930, 1580]


def test_contract_body_validates_against_official_schema(schema):
    v = _voucher()
    _validate(voucher_body(v, key=voucher_key(v), series="A", year_id=2), schema)
    import jsonschema

    bad = voucher_body(v, key=voucher_key(v), series="A", year_id=2)
    bad["Voucher"]["Description"] = "x" * 201
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad, schema)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=260)


@st.composite
def vouchers(draw):
    n = draw(st.integers(1, 6))
    debits = draw(st.lists(st.integers(1, 10**11), min_size=n, max_size=n))
    lines = [
        Line(
            str(draw(st.integers(1000, 9999))),
            d,
            dims=tuple(
                draw(
                    st.dictionaries(st.sampled_from([1, 6]), st.sampled_from(["CAFE1", "P12"]))
                ).items()
            ),
            text=draw(_text),
        )
        for d in debits
    ]
    lines.append(Line("1580", -sum(debits), text=draw(_text)))
    return Voucher(
        "A",
        draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
        draw(_text),
        tuple(lines),
        tuple(draw(st.lists(_text, max_size=3))),
    )


@settings(max_examples=150, deadline=None)
@given(vouchers())
def test_every_body_validates_balances_and_keeps_the_whitelist(schema, v):
    body = voucher_body(v, key=voucher_key(v), series="A", year_id=1)
    _validate(body, schema)
    assert debit_total(body) == credit_total(body) == amount(v.debit)
    inner = body["Voucher"]
    for text in [
        inner["Description"],
        inner["Comments"],
        *(r.get("TransactionInformation", "") for r in inner["VoucherRows"]),
    ]:
        assert all(allowed(c) for c in text)
    assert key_of(body) == voucher_key(v)


def test_write_batch_files_and_manifest(tmp_path):
    vs = [_voucher(keys=(f"stripe:po_{i}",)) for i in range(3)]
    result = write_batch(vs, tmp_path / "batch", series="A", year_for=lambda d: 2)
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"), parse_float=Decimal)
    assert manifest["count"] == 3 and len(result.files) == 3
    names = sorted(p.name for p in (tmp_path / "batch").iterdir())
    assert names == sorted([MANIFEST, *(e["file"] for e in manifest["vouchers"])])  # no temps
    first = manifest["vouchers"][0]
    assert first["financialyear"] == 2 and first["debit"] == Decimal("1250.00")
    body = json.loads(
        (tmp_path / "batch" / first["file"]).read_text(encoding="utf-8"), parse_float=Decimal
    )
    assert key_of(body) == first["key"] == voucher_key(vs[0])
    import hashlib

    assert (
        hashlib.sha256((tmp_path / "batch" / first["file"]).read_bytes()).hexdigest()
        == first["sha256"]
    )


def test_write_batch_refuses_duplicate_keys(tmp_path):
    from bokfor.errors import OutputError

    with pytest.raises(OutputError):
        write_batch([_voucher(), _voucher()], tmp_path)
