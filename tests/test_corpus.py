"""Real files from the wild (../shared/corpus): each is detected by content and converted
with a mapping written for it, the written SIE strict-valid, its voucher count as expected
and its bank or clearing account's total equal to the file's own total computed from the
raw bytes; or it is refused with its expected one-line message. The case files, mappings
and recipes are in tests/corpus/ (schema: tests/corpus/harness.py). Skips when
../shared/corpus is absent (a fresh clone has none).

    .venv/bin/python bench/corpus.py      # the same, as a table
"""

from __future__ import annotations

import pytest

from tests.corpus import harness

FILES = harness.manifest() if harness.available() else []
needs_corpus = pytest.mark.skipif(not harness.available(), reason=f"no corpus at {harness.CORPUS}")


@needs_corpus
@pytest.mark.parametrize(
    ("name", "digest"),
    FILES or [("(no corpus)", "")],
    ids=[name for name, _ in FILES] or ["no-corpus"],
)
def test_corpus_file(name: str, digest: str) -> None:
    if harness.load_case(name) is None and harness.partial():
        pytest.skip(f"case file not yet written ({harness.PARTIAL}=1)")
    outcome = harness.run(name, digest)
    assert outcome.ok, f"{name}:\n" + "\n".join(outcome.problems)


@needs_corpus
def test_every_case_names_a_corpus_file() -> None:
    """A case file whose corpus file is gone (renamed, removed) is stale."""
    names = {harness.case_file(name).name for name, _ in FILES}
    stale = sorted(p.name for p in harness.CASES.glob("*.yaml") if p.name not in names)
    assert not stale, f"case files for no corpus file: {stale}"


def test_every_mapping_is_used() -> None:
    """Each mapping in tests/corpus/mappings/ is some case's (no dead copies)."""
    used = {
        str((harness.load_case_file(p) or {}).get("mapping")) for p in harness.CASES.glob("*.yaml")
    }
    unused = sorted(p.name for p in harness.MAPPINGS.glob("*.yaml") if p.name not in used)
    assert not unused, f"mappings no case uses: {unused}"


# -- the harness itself, on a corpus of our own fixtures (runs without ../shared) ----------

FIXTURES = harness.REPO / "tests" / "fixtures"
MAPPING = """version: 1
company: {name: Egen AB, orgnr: 556677-8899, fiscal_year_start: 01-01, currency: SEK,
          timezone: Europe/Stockholm}
accounts: {1930: Företagskonto, 2990: Oklara poster}
sources:
  bank:
    bank_accounts: {"SE4550000000058398257466 SEK": 1930, "SE4550000000058398257466": 1930}
    fallback:
      post: [{account: bank_account, debit: amount}, {account: 2990, credit: amount}]
"""
CONVERTED = """file: bank/own.sta
detect: mt940
mapping: m.yaml
expect: converted
vouchers: 2
total: {account: "1930", recipe: mt940}
why: our framing fixture
"""
REFUSED = """file: bank/intraday.sta
detect: mt940
mapping: m.yaml
expect: refused
message: "bokfor: error: {corpus}/bank/intraday.sta:1: column ':20:': an MT942 interim \\
  transaction report, not an MT940 statement: its entries are provisional and it has no \\
  balances to check them against Fix: book the day's MT940 statement (or camt.053), which \\
  lists the same entries once they are booked, with the opening and closing balance."
exit: 2
why: our MT942 fixture
"""


@pytest.fixture
def own(tmp_path):
    """A corpus of two of our fixtures, their cases and a mapping."""
    import hashlib

    places = harness.Places(tmp_path / "corpus", tmp_path / "cases", tmp_path / "mappings")
    for directory in (places.corpus / "bank", places.cases, places.mappings):
        directory.mkdir(parents=True)
    lines = []
    for name, fixture in (
        ("bank/own.sta", "mt940/framing.sta"),
        ("bank/intraday.sta", "mt940/mt942.sta"),
    ):
        data = (FIXTURES / fixture).read_bytes()
        (places.corpus / name).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    (places.corpus / "MANIFEST.sha256").write_text("".join(lines), encoding="utf-8")
    (places.mappings / "m.yaml").write_text(MAPPING, encoding="utf-8")
    (places.cases / "bank__own.sta.yaml").write_text(CONVERTED, encoding="utf-8")
    (places.cases / "bank__intraday.sta.yaml").write_text(REFUSED, encoding="utf-8")
    return places


def test_the_harness_passes_a_file_that_meets_its_case(own) -> None:
    outcomes = [harness.run(name, digest, own) for name, digest in harness.manifest(own)]
    assert [(o.name, o.status, o.problems, o.detail) for o in outcomes] == [
        ("bank/own.sta", "converted", [], "vouchers 2, net of 1930 200.50 SEK"),
        (
            "bank/intraday.sta",
            "refused",
            [],
            harness.load_case("bank/intraday.sta", own)["message"],
        ),
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("vouchers: 2", "vouchers: 3"), "2 verifikationer, expected 3"),
        (
            ('account: "1930"', 'account: "2990"'),
            "net of 2990 is -200.50 SEK, the file's own total (mt940) gives 200.50 SEK",
        ),
        (("detect: mt940", "detect: camt"), "detected as mt940, expected camt"),
        (
            ("file: bank/own.sta", "file: bank/other.sta"),
            "case file says file: 'bank/other.sta', not 'bank/own.sta'",
        ),
    ],
)
def test_the_harness_fails_a_file_that_misses_its_case(own, change, problem) -> None:
    path = own.cases / "bank__own.sta.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(*change), encoding="utf-8")
    outcome = harness.run("bank/own.sta", None, own)
    assert (outcome.status, outcome.problems) == ("failing", [problem])


def test_the_harness_checks_every_account_a_case_totals(own) -> None:
    """`totals:` checks each account (a settlement's bank and clearing account); `total:` is
    one of them."""
    path = own.cases / "bank__own.sta.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'total: {account: "1930", recipe: mt940}',
            'totals:\n  - {account: "1930", recipe: mt940}\n  - {account: "2990", recipe: mt940}',
        ),
        encoding="utf-8",
    )
    outcome = harness.run("bank/own.sta", None, own)
    assert (outcome.problems, outcome.detail) == (
        ["net of 2990 is -200.50 SEK, the file's own total (mt940) gives 200.50 SEK"],
        "vouchers 2, net of 1930 200.50 SEK, net of 2990 -200.50 SEK",
    )


def test_the_harness_fails_a_warning_not_expected_and_one_expected_but_not_printed(own):
    path = own.cases / "bank__own.sta.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + 'warnings: ["does not add up"]\n', encoding="utf-8"
    )
    assert harness.run("bank/own.sta", None, own).problems == [
        "expected warning not printed: 'does not add up'"
    ]
    sta = own.corpus / "bank" / "own.sta"
    sta.write_text(
        sta.read_text(encoding="utf-8").replace(":62F:C260107SEK1200,50", ":62F:C260107SEK1200,70")
    )
    assert harness.run("bank/own.sta", None, own).problems == []  # expected and printed
    path.write_text(
        path.read_text(encoding="utf-8").replace("does not add up", "pending"), encoding="utf-8"
    )
    assert harness.run("bank/own.sta", None, own).problems == [
        "unexpected warning: bokfor: warning: {corpus}/bank/own.sta:29: statement "
        "BANKHDR260107 does not add up: opening balance 1\u00a0200,50 + its rows 0,00 = "
        "1\u00a0200,50, but the closing balance (:62F:) is 1\u00a0200,70; a row may be "
        "missing from the file",
        "expected warning not printed: 'pending'",
    ]


@needs_corpus
@pytest.mark.parametrize(
    ("profile", "name"),
    [
        ("vipps_xlsx", "pos/vippsas__vipps-developers__vipps-settlement-example.xlsx"),
        ("vipps_csv", "pos/vippsas__vipps-developers__settlement-report.csv"),
    ],
)
def test_a_settlement_profile_whose_fee_sign_is_flipped_fails_its_corpus_case(
    monkeypatch, profile, name
) -> None:
    """The payout to the bank is the same whatever the fees' sign; the clearing account the
    case checks too is not (and the rows' net checks warn, which the case does not expect)."""
    from bokfor.sources import settlement

    def flipped(p: settlement.Profile) -> settlement.Profile:
        if p.name != profile:
            return p
        data = p.model.model_dump()
        for table in data["tables"]:
            for row in table["rows"]:
                for entry in row["entries"]:
                    if entry["kind"] == "fee":
                        entry["sign"] = -entry["sign"]
        return settlement._check(p.name, settlement.ProfileModel.model_validate(data))

    profiles = tuple(flipped(p) for p in settlement.builtin())
    monkeypatch.setattr(settlement, "builtin", lambda: profiles)
    problems = harness.run(name).problems
    assert problems[0].startswith("net of 1589 is ")
    assert problems[1:] and all(p.startswith("unexpected warning: ") for p in problems[1:])


def test_the_harness_fails_a_refusal_with_another_message_and_a_file_without_a_case(own):
    path = own.cases / "bank__intraday.sta.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("exit: 2", "exit: 1"), encoding="utf-8"
    )
    assert harness.run("bank/intraday.sta", None, own).problems[0].startswith("exit 2, expected 1")
    (own.cases / "bank__own.sta.yaml").unlink()
    missing = harness.run("bank/own.sta", None, own)
    assert (missing.status, missing.ok) == ("missing", False)
    assert missing.problems == [
        "no expectation written for it: add tests/corpus/cases/bank__own.sta.yaml"
    ]
    assert harness.run("bank/intraday.sta", "0" * 64, own).problems == [
        "the corpus file differs from MANIFEST.sha256"
    ]
