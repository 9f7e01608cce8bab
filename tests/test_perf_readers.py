"""The fast paths of the net-bank and Stripe balance readers (issue 9) give what was written.

Rows are generated, written as a file in a layout (a built-in net-bank profile, a user
profile, the Stripe balance export) with every spelling the layout allows (thousands
separators, a suffix, one or three decimals, quotes, empty cells, columns in any order),
read back, and compared with what was written. The keys are recomputed here from their
definition (a blake2b digest of date, öre and normalised text, counted per equal content in
time order; the former key also of the balance and reference), not with the code under
test, so a reader or `digest` that drifts by one character fails.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tracemalloc
import unicodedata
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Origin, digest
from bokfor.sources import OccurrenceKeys, all_sources, bank, netbank
from bokfor.sources.netbank import ProfileModel, profile_from_model
from bokfor.sources.stripe_balance import SOURCE as STRIPE

TZ = ZoneInfo("Europe/Stockholm")
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# A user profile shaped like the peers' benchmark file: oldest first, decimal comma.
PEERS = profile_from_model(
    "peers",
    ProfileModel.model_validate(
        {
            "title": "Peers",
            "file": "csv",
            "header": ["date", "text", "amount"],
            "delimiter": ";",
            "encoding": "utf-8",
            "columns": {"date": "date", "amount": "amount", "text": "text"},
            "date_format": "%Y-%m-%d",
            "decimal_mark": ",",
            "order": "oldest_first",
        }
    ),
)
NETBANK = netbank.SOURCE.with_profiles([PEERS])

# Texts as banks write them: letters, Nordic letters, spaces of three kinds, the
# delimiters, quotes and a line break inside a quoted cell.
TEXT = st.text(alphabet="AbcÅÄÖåäö 0/-;,.\"'\u00a0\t\n", max_size=12)
ORE = st.integers(-(10**9), 10**9)


def ref_key(
    prefix: str, day: dt.date, ore: int, text: str, balance: int | None, reference: str = ""
) -> str:
    """The digest base of a bank row, from its definition (not `bokfor.domain.digest`):
    date, öre and the text NFKC-normalised, case-folded, its white space collapsed. Not the
    balance or the reference (a profile may leave them out); they are in its former key."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    parts = [day.isoformat(), str(ore), folded]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).hexdigest()


def former_key(
    prefix: str, day: dt.date, ore: int, text: str, balance: int | None, reference: str = ""
) -> str:
    """The digest base of ledger schema 3 (date, öre, text, balance, reference)."""
    parts = [day.isoformat(), str(ore), text, "" if balance is None else str(balance), reference]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).hexdigest()


def keys_in_time_order(prefix: str, bases: list[str], newest_first: bool) -> list[str]:
    seen: Counter[str] = Counter()
    keys = [""] * len(bases)
    for i in range(len(bases) - 1, -1, -1) if newest_first else range(len(bases)):
        seen[bases[i]] += 1
        keys[i] = f"{prefix}:{bases[i]}#{seen[bases[i]]}"
    return keys


def spell(ore: int, mark: str, thousands: str, decimals: int, suffix: str, sign: str) -> str:
    """`ore` written with the decimal mark, a thousands separator ("" = none), 0-3
    decimals (0 and 1 only when the öre allow it) and a suffix; `sign` is how a minus is
    written (-, U+2212 or '- ')."""
    whole, cents = divmod(abs(ore), 100)
    digits = f"{whole:,}".replace(",", thousands) if thousands else str(whole)
    if decimals == 0 and cents == 0:
        frac = ""
    elif decimals == 1 and cents % 10 == 0:
        frac = mark + str(cents // 10)
    elif decimals == 3:
        frac = f"{mark}{cents:02d}0"
    else:
        frac = f"{mark}{cents:02d}"
    return (sign if ore < 0 else "") + digits + frac + suffix


def write_csv(
    path: Path,
    header: list[str],
    rows: list[dict[str, str]],
    delimiter: str,
    *,
    quote_all: bool,
    bom: bool,
    preamble: list[str] = (),
) -> list[int]:
    """Write the file; return the first physical line of each row."""
    out = io.StringIO()
    for line in preamble:
        out.write(line + "\r\n")
    writer = csv.writer(
        out,
        delimiter=delimiter,
        lineterminator="\r\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(header)
    lines = []
    line = len(preamble) + 2
    for row in rows:
        lines.append(line)
        cells = [row.get(name, "") for name in header]
        line += sum(c.count("\n") for c in cells) + 1
        writer.writerow(cells)
    path.write_bytes(("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8"))
    return lines


def norm(text: str) -> str:
    return " ".join(text.split())


# --- net-bank profiles --------------------------------------------------------------------

# profile -> (decimal mark, thousands separators it allows, suffix)
LAYOUTS = {
    "seb": (".", [""], ""),
    "danske": (",", ["", "."], ""),
    "ica": (",", ["", " ", "\u00a0"], " kr"),
    "peers": (",", [""], ""),
}


@st.composite
def bank_file(draw):
    name = draw(st.sampled_from(sorted(LAYOUTS)))
    profile = PEERS if name == "peers" else netbank.SOURCE.profile(name)
    mark, seps, suffix = LAYOUTS[name]
    n = draw(st.integers(0, 12))
    start = draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)))
    steps = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    days = []
    for s in steps:
        start += dt.timedelta(days=s)
        days.append(start)
    if profile.order == "newest_first":
        days.reverse()
    # Repeated amounts and texts, so that equal rows (#1, #2) and cache hits happen.
    ores = draw(
        st.lists(st.sampled_from([0, -5, 123450, -123450, 100000000]) | ORE, min_size=n, max_size=n)
    )
    texts = draw(
        st.lists(st.sampled_from(["", " ", "ICA  NÄRA", "Lön"]) | TEXT, min_size=n, max_size=n)
    )
    with_balance = "balance" in profile.columns and draw(st.booleans())
    spellings = [
        draw(
            st.tuples(
                st.sampled_from(seps),
                st.sampled_from([0, 1, 2, 3]),
                st.sampled_from(["-", "\u2212"] if suffix or seps != [""] else ["-"]),
                st.booleans(),
            )
        )
        for _ in range(2 * n)
    ]
    return (
        profile,
        days,
        ores,
        texts,
        with_balance,
        spellings,
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.permutations(list(profile.header))),
    )


@SETTINGS
@given(bank_file())
def test_netbank_rows_are_what_was_written(tmp_path_factory, case) -> None:
    profile, days, ores, texts, with_balance, spellings, quote_all, bom, header = case
    mark, _, suffix = LAYOUTS[profile.name]
    col = {role: profile.column_titles[names[0]] for role, names in profile.columns.items()}
    balances: list[int | None] = []
    running = 0
    for ore in reversed(ores) if profile.order == "newest_first" else ores:
        running += ore
        balances.append(running)
    if profile.order == "newest_first":
        balances.reverse()
    rows = []
    for i, (day, ore, text) in enumerate(zip(days, ores, texts, strict=True)):
        sep, decimals, sign, with_suffix = spellings[2 * i]
        row = {
            col["date"]: day.strftime(profile.date_formats[0]),
            col["text"]: text,
            col["amount"]: spell(ore, mark, sep, decimals, suffix if with_suffix else "", sign),
        }
        if "balance" in col:
            bal = balances[i] if with_balance else None
            sep, decimals, sign, with_suffix = spellings[2 * i + 1]
            row[col["balance"]] = (
                ""
                if bal is None
                else spell(bal, mark, sep, decimals, suffix if with_suffix else "", sign)
            )
        if "value_date" in col:
            row[col["value_date"]] = day.strftime(profile.date_formats[0]) if i % 2 else ""
        rows.append(row)
    path = tmp_path_factory.mktemp("nb") / "export.csv"
    lines = write_csv(
        path,
        header,
        rows,
        profile.delimiter or ";",
        quote_all=quote_all,
        bom=bom and profile.encoding == "auto",
    )

    if not rows:  # a table without a transaction says so, never "nothing new"
        assert [str(n) for n in NETBANK.read(path, TZ)] == [
            f"{path}:1: no transactions in this file: no row under the header; nothing to "
            "book from it"
        ]
        return
    got = list(NETBANK.read(path, TZ))
    read = [r for r in got if not isinstance(r, Notice)]
    assert not [n for n in got if isinstance(n, Notice)]  # the balances follow
    prefix = f"bank:{profile.bank}"
    for key, want in ((ref_key, [r.key for r in read]), (former_key, [r.former[0] for r in read])):
        bases = [
            key(prefix, d, o, norm(t), (balances[i] if with_balance else None))
            for i, (d, o, t) in enumerate(zip(days, ores, texts, strict=True))
        ]
        assert want == keys_in_time_order(prefix, bases, profile.order == "newest_first")
    assert [r.origin for r in read] == [Origin(str(path), line) for line in lines]
    assert [r.date for r in read] == days
    assert [r.amounts for r in read] == [{"amount": o} for o in ores]
    for i, r in enumerate(read):
        assert r.source == "bank"
        assert r.fields == {
            "format": profile.name,
            "account": None,
            "currency": profile.currency,
            "value_date": days[i] if "value_date" in col and i % 2 else None,
            "text": norm(texts[i]) or None,
            "reference": None,
            "counterparty": None,
            "counterparty_account": None,
            "bank_reference": None,
            "end_to_end_id": None,
            "transaction_code": None,
            "entry": None,
            "reversal": None,
        }


@SETTINGS
@given(
    st.sampled_from(sorted(LAYOUTS)),
    st.lists(
        st.tuples(ORE, st.sampled_from(["", " "]), st.integers(0, 3), st.booleans()), max_size=20
    ),
)
def test_parse_money_fast_path_is_the_general_rule(name, amounts) -> None:
    """Every spelling of an amount gives its öre; a plain one (the fast path) and the same
    amount with separators or a suffix (the general path) agree."""
    profile = PEERS if name == "peers" else netbank.SOURCE.profile(name)
    mark, seps, suffix = LAYOUTS[name]
    parse = netbank.money_parser(profile)
    for ore, sep, decimals, with_suffix in amounts:
        sep = sep if sep in seps else ""
        for text in (
            spell(ore, mark, "", decimals, "", "-"),
            spell(ore, mark, sep, decimals, suffix if with_suffix else "", "-"),
        ):
            assert parse(text) == netbank.parse_money(text, profile) == ore, text


def test_awkward_amounts_in_each_layout() -> None:
    cases = {
        "danske": {
            "-1.234,50": -123450,
            "1.234,50": 123450,
            "-0,5": -50,
            "5,": 500,
            "1234,500": 123450,
            "\u22121.234,50": -123450,
        },
        "ica": {
            "-1 234,50 kr": -123450,
            "1\u00a0234,50": 123450,
            "-1 234,50": -123450,
            "+12,00 kr": 1200,
            "-0,05 kr": -5,
        },
        "seb": {
            "-1000.000": -100000,
            "419.650": 41965,
            "-0.5": -50,
            "12": 1200,
            "0.000": 0,
            "-0": 0,
        },
    }
    for name, texts in cases.items():
        profile = netbank.SOURCE.profile(name)
        for text, ore in texts.items():
            assert netbank.parse_money(text, profile) == ore, (name, text)


def test_digest_and_keys_of_every_value_kind() -> None:
    """`digest` hashes None as "", a date or datetime as its isoformat, anything else (an int,
    a bool, a str subclass) as str(): the keys users' ledgers hold."""

    class Tag(str):
        def __str__(self) -> str:
            return "tag"

    values = (
        dt.date(2026, 1, 31),
        -123450,
        "Lön",
        None,
        "",
        True,
        1.5,
        dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.timezone.utc),
        Tag("x"),
    )
    text = "2026-01-31\x1f-123450\x1fLön\x1f\x1f\x1fTrue\x1f1.5\x1f2026-01-31T12:00:00+00:00\x1ftag"
    want = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    assert digest(values) == want
    keys = OccurrenceKeys("bank:x")
    assert [keys.key(*values), keys.key(*values), keys.key(1)] == [
        f"bank:x:{want}#1",
        f"bank:x:{want}#2",
        f"bank:x:{hashlib.blake2b(b'1', digest_size=12).hexdigest()}#1",
    ]


@SETTINGS
@given(
    st.lists(st.tuples(TEXT, TEXT, st.sampled_from(["", "sek", "Sek "]), st.booleans()), max_size=6)
)
def test_bank_row_is_normalised_row_of_normal_values(values) -> None:
    """`bank_row` (every bank reader) and `normalised_row` (the net-bank fast path) build
    the same row once the texts are in their normal form."""
    origin = Origin("f", 1)
    for text, counterparty, currency, reversal in values:
        kwargs = dict(
            format="seb",
            key="k",
            date=dt.date(2026, 1, 1),
            amount=5,
            origin=origin,
            account="SE1",
            currency=currency,
            value_date=None,
            text=text,
            reference="",
            counterparty=counterparty,
            counterparty_account="",
            bank_reference="b",
            end_to_end_id="",
            transaction_code="",
            entry="e",
            reversal=reversal,
        )
        want = bank.bank_row(**kwargs)
        assert want.fields["text"] == (norm(text) or None)
        assert want.fields["currency"] == (currency.upper() or None)
        got = bank.normalised_row(
            "seb",
            "k",
            dt.date(2026, 1, 1),
            5,
            origin,
            "SE1",
            currency.upper(),
            None,
            norm(text),
            "",
            norm(counterparty),
            "",
            "b",
            "",
            "",
            "e",
            reversal,
        )
        assert got == want and got.fields == want.fields


# --- Stripe balance export ----------------------------------------------------------------

STRIPE_HEADER = [
    "id",
    "Type",
    "Source",
    "Amount",
    "Fee",
    "Net",
    "Currency",
    "Created (UTC)",
    "Available On (UTC)",
    "Description",
    "Customer Facing Amount",
    "Customer Facing Currency",
    "Transfer",
    "Transfer Date (UTC)",
    "Transfer Group",
    "order_id (metadata)",
]


@st.composite
def stripe_row(draw, n: int):
    amount = draw(st.sampled_from([159000, 24900, -5000, 0]) | st.integers(-(10**7), 10**7))
    fee = draw(st.sampled_from([2565, 0, 554]) | st.integers(0, 10**5))
    when = draw(st.datetimes(dt.datetime(2025, 1, 1), dt.datetime(2027, 1, 1)))
    when = when.replace(microsecond=0, second=draw(st.sampled_from([0, when.second])))
    return {
        "id": f"txn_{n:04d}",
        "Type": draw(st.sampled_from(["charge", "payment", "payout", "transfer", "refund"])),
        "Source": draw(st.sampled_from(["", f"ch_{n}", f"po_{n}"])),
        "amount": amount,
        "fee": fee,
        "created": when,
        "Currency": draw(st.sampled_from(["sek", "SEK", "eur"])),
        "Description": draw(TEXT),
        "Transfer": draw(st.sampled_from(["", "po_1"])),
        "order_id (metadata)": draw(st.sampled_from(["", "1055", "a,b"])),
        "seconds": draw(st.booleans()),
    }


def money_text(ore: int) -> str:
    return ("-" if ore < 0 else "") + f"{abs(ore) // 100}.{abs(ore) % 100:02d}"


@SETTINGS
@given(
    st.integers(0, 10).flatmap(lambda n: st.tuples(*[stripe_row(i) for i in range(n)])),
    st.permutations(STRIPE_HEADER),
    st.booleans(),
)
def test_stripe_rows_are_what_was_written(tmp_path_factory, written, header, quote_all) -> None:
    rows = []
    for w in written:
        fmt = "%Y-%m-%d %H:%M:%S" if w["seconds"] else "%Y-%m-%d %H:%M"
        rows.append(
            {
                **{k: v for k, v in w.items() if isinstance(v, str)},
                "Amount": money_text(w["amount"]),
                "Fee": money_text(w["fee"]),
                "Net": money_text(w["amount"] - w["fee"]),
                "Created (UTC)": w["created"].strftime(fmt),
            }
        )
    path = tmp_path_factory.mktemp("stripe") / "balance_history.csv"
    lines = write_csv(path, list(header), rows, ",", quote_all=quote_all, bom=False)
    got = list(STRIPE.read(path, TZ))
    assert [r.key for r in got] == ["stripe:" + w["id"] for w in written]
    assert [r.origin for r in got] == [Origin(str(path), line) for line in lines]
    for r, w in zip(got, written, strict=True):
        created = w["created"].replace(
            second=w["created"].second if w["seconds"] else 0, tzinfo=dt.timezone.utc
        )
        assert r.date == created.astimezone(TZ).date()
        assert r.amounts == {"gross": w["amount"], "fee": w["fee"], "net": w["amount"] - w["fee"]}
        source = w["Source"] or None
        payout = w["Transfer"] or (source if w["Type"] in ("payout", "transfer") else None)
        assert r.fields == {
            "id": w["id"],
            "type": w["Type"],
            "source_id": source,
            "currency": w["Currency"].lower(),
            "created": created,
            "available_on": None,
            "description": w["Description"] or None,
            "customer_facing_amount": None,
            "customer_facing_currency": None,
            "payout_id": payout,
            "payout_date": None,
            "transfer_group": None,
            "metadata.order_id": w["order_id (metadata)"] or None,
        }
        assert r.aliases == (
            ("stripe-charge:" + source,)
            if source and w["Type"] in ("charge", "payment")
            else ("stripe-payout:" + source,)
            if source and w["Type"] == "payout"
            else ()
        )


# -- detection reads the head of a file only -----------------------------------------------

# A header of every kind of file bokfor detects, each followed by 256 MiB of a sparse file
# (no disk used): a detector that reads the whole file (a Z-report detector once did, 0.3 s
# and 209 MiB for a 1M-row Stripe export) shows it in the traced peak.
HEADS = {
    "stripe": b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n",
    "camt": b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
    "peers": b"date;text;amount\n2026-01-01;Kaffe;-12,50\n",
    "zreport": b"Z-RAPPORT\nKassa: 1\n",
    "blank": b"",
}


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_every_detector_reads_the_head_only(tmp_path, kind) -> None:
    path = tmp_path / f"{kind}.txt"
    with open(path, "wb") as f:
        f.write(HEADS[kind])
        f.truncate(256 << 20)
    sources = all_sources()
    tracemalloc.start()
    try:
        for source in sources:
            source.detect(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"detecting {kind} held {peak >> 20} MiB"
