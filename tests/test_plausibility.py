"""Postings whose sign is backwards (bokfor.plausibility): the rule, the shipped mappings on
their samples (no warning), a rule and its mirror image on bank rows (never both pass), and
`mapping check`, `convert`, `plan`, `push` with and without `--strict`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.booking import book
from bokfor.domain import Origin, Row
from bokfor.errors import InputError, MappingError
from bokfor.mapping import Rule, SourceRules, load_mapping
from bokfor.plausibility import (
    BANK,
    COST,
    IN,
    OUT,
    REVENUE,
    Implausible,
    fixed_sign,
    implausible,
    kind_of,
    mapping_warnings,
    refuse,
    rule_warnings,
)
from bokfor.sources import detect_source
from bokfor.sources.bank import SCHEMA as BANK_SCHEMA
from bokfor.sources.bank import bank_row

from .test_errors import run_cli

REPO = Path(__file__).parent.parent


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "account, kind",
    [
        ("bank_account", BANK),
        ("3001", REVENUE),
        ("3999", REVENUE),
        ("4000", COST),
        ("5010", COST),
        ("7999", COST),
        ("1930", None),
        ("2611", None),
        ("8310", None),
        ("2999", None),
    ],
)
def test_account_kinds(account, kind):
    assert kind_of(account, "bank_account") == kind


@pytest.mark.parametrize(
    "kind, effect, money, wrong",
    [
        (BANK, 1, IN, False),
        (BANK, -1, OUT, False),  # the bank moves with the money
        (BANK, -1, IN, True),
        (BANK, 1, OUT, True),
        (COST, 1, OUT, False),  # rent paid
        (COST, -1, OUT, True),  # rent paid, booked as if refunded
        (COST, -1, IN, False),  # a cost refunded
        (COST, 1, IN, False),  # a fee debited on a sale
        (REVENUE, -1, IN, False),  # a sale
        (REVENUE, 1, IN, True),  # a sale booked as a refund
        (REVENUE, 1, OUT, False),  # a refund
        (REVENUE, -1, OUT, False),
        (None, 1, IN, False),
        (None, -1, OUT, False),
    ],
)
def test_the_rule(kind, effect, money, wrong):
    assert implausible(kind, effect, money) is wrong


@pytest.mark.parametrize(
    "spec, sign",
    [
        ({"sign": "negative"}, OUT),
        ({"sign": "positive"}, IN),
        ({"sign": "nonzero"}, None),
        ({"min": "0"}, IN),
        ({"min": "0.01", "max": "100"}, IN),
        ({"max": "-5"}, OUT),
        ({"max": "0"}, OUT),
        ({"min": "-5"}, None),
        ({"max": "100"}, None),
        ("-500.00", OUT),
        (["10", "20"], IN),
        (["10", "-20"], None),
        ({"regex": "^-"}, None),
        (None, None),
    ],
)
def test_sign_fixed_by_conditions(spec, sign):
    assert fixed_sign(spec) == sign


# -- the shipped mappings on their samples: no warning ----------------------------------------

SHIPPED = sorted((REPO / "mappings").glob("*.yaml")) + [REPO / "src" / "bokfor" / "starter.yaml"]
# The settlement reports' samples are the regression samples of tests/fixtures/settlement.
SAMPLES = sorted(
    p
    for d in (REPO / "samples", REPO / "tests" / "fixtures" / "settlement")
    for p in d.rglob("*")
    if p.is_file() and p.suffix != ".py"
)


def _sections(mapping_path: Path):
    """(sample, source, its rules) for every sample a section of the mapping books."""
    mapping = load_mapping(mapping_path)
    out = []
    for sample in SAMPLES:
        try:
            src = detect_source(sample, mapping.formats)
        except InputError:
            continue  # the balance summary: a control total, not rows
        if src.section in mapping.sources:
            # Bank accounts the example company does not have: left as `bank_account`.
            out.append(
                (sample, src, dataclasses.replace(mapping.sources[src.section], bank_accounts=None))
            )
    return mapping, out


@pytest.mark.parametrize("mapping_path", SHIPPED, ids=lambda p: p.name)
def test_shipped_mappings_give_no_warning_on_their_samples(mapping_path):
    mapping, sections = _sections(mapping_path)
    assert mapping_warnings(mapping) == []
    booked = {}
    for sample, src, rules in sections:
        rows = [r for r in src.read(sample, mapping.timezone) if isinstance(r, Row)]
        booking = book(rows, rules, mapping, src.schema)
        assert [str(n) for n in booking.notices if isinstance(n, Implausible)] == [], sample
        unmapped = sum(len(r) for r in booking.unmapped.values())
        booked[sample.name] = (
            len(rows) - unmapped - sum(booking.skipped.values()) - booking.zero_rows
            if src.schema.money
            else 0
        )
    # Not vacuous: the rows checked, per mapping.
    assert (
        sum(booked.values())
        == {
            "bank.yaml": 192,
            "stripe.yaml": 141,
            "pos.yaml": 0,
            "settlement.yaml": 60,
            "starter.yaml": 35,
        }[mapping_path.name]
    ), booked


def _mirrored(rule: Rule) -> Rule:
    """The rule with debit and credit swapped in every posting."""
    return dataclasses.replace(
        rule, postings=tuple(dataclasses.replace(p, sign=-p.sign) for p in rule.postings)
    )


def test_the_shipped_bank_rules_mirrored_warn_for_every_row():
    """The same samples, every bank rule written the wrong way round: each rule that books a
    row warns, and names it."""
    mapping, sections = _sections(REPO / "mappings" / "bank.yaml")
    for sample, src, rules in sections:
        mirrored = dataclasses.replace(
            rules, rules=tuple(_mirrored(r) if r.postings else r for r in rules.rules)
        )
        rows = [r for r in src.read(sample, mapping.timezone) if isinstance(r, Row)]
        booked = {}
        for row in rows:
            rule = rules.match(row)
            if rule is not None and rule.postings and row.amounts["amount"]:
                booked[rule.name] = booked.get(rule.name, 0) + 1
        notices = [
            n
            for n in book(rows, mirrored, mapping, src.schema).notices
            if isinstance(n, Implausible)
        ]
        bank_warnings = {n.rule: n.message for n in notices if "bank account" in n.message}
        assert set(bank_warnings) == set(booked), sample
        for name, count in booked.items():
            assert f", on {count} row{'s' if count > 1 else ''} (" in bank_warnings[name]
        assert {n.rule for n in rule_warnings_of(mirrored)} == {
            r.name for r in mirrored.rules if r.postings
        }


def rule_warnings_of(rules: SourceRules) -> list[Implausible]:
    return [w for r in rules.rules for w in rule_warnings(r, BANK_SCHEMA)]


# -- a rule and its mirror image never both pass (bank rows) ----------------------------------

_OTHER = st.sampled_from(["5010", "6570", "4010", "3001", "3990", "2440", "1510", "8310"])


@st.composite
def bank_rules(draw) -> list[tuple[str, str, bool]]:
    """A balanced rule for bank rows: the bank account and one or three other postings,
    (account, side, VAT split)."""
    bank_side = draw(st.sampled_from(["debit", "credit"]))
    other = "credit" if bank_side == "debit" else "debit"
    sides = [other] if draw(st.booleans()) else [other, other, bank_side]
    postings = [("bank_account", bank_side, False)]
    postings += [(draw(_OTHER), side, draw(st.booleans())) for side in sides]
    return draw(st.permutations(postings))


def _mapping_text(postings: list[tuple[str, str, bool]], swap: bool) -> str:
    flip = {"debit": "credit", "credit": "debit"}
    lines = []
    for account, side, vat in postings:
        side = flip[side] if swap else side
        lines.append(
            f"          - {{account: {account}, {side}: amount"
            f"{', vat: {rate: 25}' if vat else ''}}}"
        )
    accounts = "".join(
        f"  {a}: Konto {a}\n"
        for a in ("1930", "2611", "5010", "6570", "4010", "3001", "3990", "2440", "1510", "8310")
    )
    return (
        "version: 1\ncompany: {name: Test AB}\ndefaults: {vat_accounts: {'25': 2611}}\n"
        f"accounts:\n{accounts}sources:\n  bank:\n    bank_account: 1930\n    rules:\n"
        "      - name: R\n        when: {text: X}\n        post:\n" + "\n".join(lines) + "\n"
    )


def _passes(mapping, amount: int) -> tuple[bool, bool]:
    """(the row books without a warning, `mapping check` has none for the rule)."""
    row = bank_row(
        format="seb",
        key="k",
        date=dt.date(2026, 1, 5),
        amount=amount,
        origin=Origin("f.csv", 2),
        text="X",
    )
    booking = book([row], mapping.sources["bank"], mapping, BANK_SCHEMA)
    assert booking.rows == 1 and len(booking.vouchers) == 1
    return (
        not any(isinstance(n, Implausible) for n in booking.notices),
        not mapping_warnings(mapping),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank_rules(), st.integers(1, 10**9), st.sampled_from([IN, OUT]))
def test_a_rule_and_its_mirror_never_both_pass(postings, size, money):
    with tempfile.TemporaryDirectory() as directory:
        found = []
        for swap in (False, True):
            path = Path(directory) / f"m{swap}.yaml"
            path.write_text(_mapping_text(postings, swap), encoding="utf-8")
            found.append(_passes(load_mapping(path), money * size))
    (rule_books, rule_checks), (mirror_books, mirror_checks) = found
    assert not (rule_books and mirror_books)
    assert rule_checks != mirror_checks  # mapping check flags the bank posting of one
    if len(postings) == 2:  # bank and one other: the one that moves the bank with the money
        assert rule_books != mirror_books


# -- --strict ---------------------------------------------------------------------------------


def test_refuse_lists_every_warning_and_names_the_rules():
    warnings = [
        Implausible("rule 'A': x", file="m.yaml", line=3, rule="A", key="k.0"),
        Implausible("rule 'B': y", file="m.yaml", line=9, rule="B", key="k.1"),
        Implausible("rule 'A': z", file="m.yaml", line=3, rule="A", key="k.0"),
    ]
    refuse([])
    with pytest.raises(MappingError) as exc:
        refuse(warnings)
    assert exc.value.render() == (
        "m.yaml:3: k.0: --strict: rules 'A', 'B' have postings whose sign looks backwards "
        "Fix: swap debit and credit as each line below says; if a posting is right as it is, "
        "run without --strict (it is then a warning).\n"
        "  m.yaml:3: rule 'A': x\n  m.yaml:9: rule 'B': y\n  m.yaml:3: rule 'A': z"
    )


# -- the command line -------------------------------------------------------------------------

F = "tests/fixtures/plausibility/seb_reversed.yaml"
STATIC = [
    f"bokfor: warning: {F}:17: rule 'Bankavgift': {{account: bank_account, credit: amount}} "
    "debits the bank account while money goes out (amount is negative in every row the rule "
    "matches) Fix: swap debit and credit: {account: bank_account, debit: amount}",
    f"bokfor: warning: {F}:17: rule 'Bankavgift': {{account: 6570, debit: amount}} credits "
    "cost account 6570 while money goes out (amount is negative in every row the rule "
    "matches) Fix: swap debit and credit: {account: 6570, credit: amount}",
    f"bokfor: warning: {F}:22: rule 'Försäljning': {{account: bank_account, credit: amount}} "
    "books the bank account against the money: it credits it when money comes in and debits "
    "it when money goes out Fix: swap debit and credit: {account: bank_account, debit: amount}",
]
S = "samples/bank/netbank/seb.csv"
RUN = [
    f"bokfor: warning: {F}:17: rule 'Bankavgift': {{account: bank_account, credit: amount}} "
    f"debits the bank account while money goes out, on 1 row ({S}:2) Fix: swap debit and "
    "credit: {account: bank_account, debit: amount}",
    f"bokfor: warning: {F}:17: rule 'Bankavgift': {{account: 6570, debit: amount}} credits "
    f"cost account 6570 while money goes out, on 1 row ({S}:2) Fix: swap debit and credit: "
    "{account: 6570, credit: amount}",
    f"bokfor: warning: {F}:22: rule 'Försäljning': {{account: 3001, debit: amount, …}} debits "
    f"revenue account 3001 while money comes in, on 2 rows ({S}:9, {S}:10) Fix: swap debit and "
    "credit: {account: 3001, credit: amount, …}",
    f"bokfor: warning: {F}:22: rule 'Försäljning': {{account: bank_account, credit: amount}} "
    f"credits the bank account while money comes in, on 2 rows ({S}:9, {S}:10) Fix: swap debit "
    "and credit: {account: bank_account, debit: amount}",
]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("COLUMNS", "200")


def test_mapping_check_warns_and_passes(in_repo, capsys):
    code, out, err = run_cli(["mapping", "check", F], capsys)
    assert code == 0
    assert err.splitlines() == STATIC
    assert out == f"{F}: OK — Exempelbutiken AB, 1 source(s), 2 rule(s), 5 accounts\n"


def test_mapping_check_strict_refuses(in_repo, capsys):
    code, out, err = run_cli(["mapping", "check", "--strict", F], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"bokfor: error: {F}:17: sources.bank.rules[0]: --strict: rules 'Bankavgift', "
        "'Försäljning' have postings whose sign looks backwards Fix: swap debit and credit as "
        "each line below says; if a posting is right as it is, run without --strict (it is "
        "then a warning).",
        *[f"  {line.removeprefix('bokfor: warning: ')}" for line in STATIC],
    ]


def test_a_run_warns_once_per_rule_and_posting(in_repo, capsys, tmp_path):
    code, out, err = run_cli(
        ["convert", S, "-m", F, "--dry-run", "--show", "0", "--ledger", str(tmp_path / "l.sqlite")],
        capsys,
    )
    assert code == 0
    assert err.splitlines() == RUN
    assert "Dry run: nothing written." in out


@pytest.mark.parametrize(
    "command",
    [
        ["convert", "--out", "{tmp}/out.si"],
        ["convert", "--dry-run"],
        ["plan"],
        ["plan", "--json"],
        ["convert", "--out", "{tmp}/out.si", "--quiet", "--json"],
    ],
)
def test_strict_refuses_before_anything_is_written(command, in_repo, capsys, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    code, out, err = run_cli(
        [args[0], S, "-m", F, *args[1:], "--strict", "--ledger", str(tmp_path / "l.sqlite")], capsys
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"bokfor: error: {F}:17: sources.bank.rules[0]: --strict: rules 'Bankavgift', "
        "'Försäljning' have postings whose sign looks backwards Fix: swap debit and credit as "
        "each line below says; if a posting is right as it is, run without --strict (it is "
        "then a warning).",
        *[f"  {line.removeprefix('bokfor: warning: ')}" for line in RUN],
    ]
    assert list(tmp_path.iterdir()) == []


def test_push_strict_refuses_before_asking_fortnox(in_repo, capsys, tmp_path, monkeypatch):
    """No credentials, no Fortnox: the refusal comes first."""
    monkeypatch.setenv("BOKFOR_FORTNOX_URL", "http://127.0.0.1:9")
    code, out, err = run_cli(
        [
            "push",
            S,
            "-m",
            F,
            "--strict",
            "--show",
            "0",
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--token-file",
            str(tmp_path / "none.json"),
        ],
        capsys,
    )
    assert (code, out) == (2, "")
    assert err.startswith(f"bokfor: error: {F}:17: sources.bank.rules[0]: --strict: rules ")
    assert list(tmp_path.iterdir()) == []


def test_strict_lets_a_plausible_run_through(in_repo, capsys, tmp_path):
    """The shipped mapping on its sample: written, and its other warnings shown once."""
    out_file = tmp_path / "out.si"
    code, out, err = run_cli(
        [
            "convert",
            "samples/bank/camt053_seb.xml",
            "-m",
            "mappings/bank.yaml",
            "--out",
            str(out_file),
            "--strict",
            "--ledger",
            str(tmp_path / "l.sqlite"),
        ],
        capsys,
    )
    assert (code, err) == (
        0,
        "bokfor: warning: samples/bank/camt053_seb.xml:376: 1 entry not "
        "booked by the bank left out (PDNG 1); only booked (BOOK) entries "
        "are read\n",
    )
    assert out_file.is_file()
