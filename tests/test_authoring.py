"""Writing a mapping (issue 21): from `bokfor init --kind bank` to a mapping that books the
README's bank sample, by applying what bokfor prints; the BAS 2025 chart built in; the
suggested rules' patterns; YAML syntax errors in words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bokfor import bas
from bokfor.errors import MappingError
from bokfor.mapping import load_mapping
from bokfor.patterns import compile_pattern
from bokfor.sie.reader import read as read_sie
from bokfor.suggest import KEYWORDS, suggest
from bokfor.yamlload import in_words
from tests.test_errors import REPO, run_cli

SEB = REPO / "samples" / "bank" / "netbank" / "seb.csv"
PASTE = "Paste at the end of sources.bank.rules in "


def _round(mapping: Path, inputs: list[Path], tmp: Path, capsys) -> str | None:
    """One round as a bookkeeper makes it: `mapping check`, then a dry run. None when the
    sample converts; else what bokfor printed."""
    code, _, err = run_cli(["mapping", "check", str(mapping)], capsys)
    if code != 0:
        return err
    code, _, err = run_cli(
        [
            "convert",
            *map(str, inputs),
            "-m",
            str(mapping),
            "--dry-run",
            "--ledger",
            str(tmp / "ledger.sqlite"),
        ],
        capsys,
    )
    return None if code == 0 else err


def _apply(mapping: Path, err: str) -> None:
    """The fix, mechanically: the printed YAML pasted at the end of the rules (the starter's
    last block), each `<konto>` filled in with the account the suggestion's comment names."""
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(PASTE)) + 1
    pasted, account = [], None
    for line in lines[start:]:
        named = re.match(r"\s*# (\d{4}) ", line)
        account = named.group(1) if named else account
        pasted.append(line.replace("<konto>", account or "<konto>"))
    with mapping.open("a", encoding="utf-8") as f:
        f.write("\n".join(pasted) + "\n")


def test_a_bank_mapping_from_init_books_the_readme_sample_within_3_rounds(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    mapping = tmp_path / "mapping.yaml"
    code, _, err = run_cli(["init", "--kind", "bank", str(mapping)], capsys)
    assert code == 0, err
    starter = mapping.read_text(encoding="utf-8")
    assert "{account: bank_account, debit: amount}" in starter
    assert "+ for money into the" in starter and "- for money out" in starter
    rounds = []
    while (err := _round(mapping, [SEB], tmp_path, capsys)) is not None:
        rounds.append(err)
        assert len(rounds) < 3, "\n\n".join(rounds)
        _apply(mapping, err)
    assert len(rounds) == 1  # the starter books 2 of the 12 rows; one paste books the rest
    assert "10 rows of 8 kinds match no rule" in rounds[0]

    out = tmp_path / "seb.si"
    code, _, err = run_cli(
        [
            "convert",
            str(SEB),
            "-m",
            str(mapping),
            "--out",
            str(out),
            "--ledger",
            str(tmp_path / "ledger.sqlite"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    doc = read_sie(out).document
    booked = {v.text: sorted(line.account for line in v.lines) for v in doc.vouchers}
    assert booked == {
        "AVGIFT FÖRETAGSPAKET": ["1930", "6570"],
        "LÖN JANUARI": ["1930", "2821"],
        "PRESSBYRÅN C/26-01-17": ["1930", "2999"],
        "46701234567": ["1930", "2999"],
        "STRIPE PAYMENTS EUROPE": ["1580", "1930"],
        "SKATTEVERKET": ["1630", "1930"],
        "FIKA & BULLAR HB": ["1510", "1930"],
        "KUNDEN I NORR AB": ["1510", "1930"],
        "ZETTLE PAYOUT": ["1580", "1930"],
        "KJELL & COMP/25-12-31": ["1930", "2999"],
    }
    assert len(doc.vouchers) == 12
    # The mapping names no account: every #KONTO name is the BAS chart's.
    assert doc.accounts == {
        n: bas.name(n) for n in ("1510", "1580", "1630", "1930", "2821", "2999", "6570")
    }

    # Next month's statement: new dates, months and references, the same payees.
    february = tmp_path / "seb-februari.csv"
    february.write_text(
        "Bokföringsdatum;Valutadatum;Verifikationsnummer;Text;Belopp;Saldo\n"
        "2026-02-25;2026-02-25;5484479990;LÖN FEBRUARI;-28500.000;1000.000\n"
        "2026-02-20;2026-02-20;5484479980;PRESSBYRÅN C/26-02-18;-45.000;29500.000\n"
        "2026-02-16;2026-02-16;5484479970;46709876543;-200.000;29545.000\n"
        "2026-02-12;2026-02-12;5484479960;STRIPE PAYMENTS EUROPE;5000.000;29745.000\n"
        "2026-02-10;2026-02-10;5484479950;KJELL & COMP/26-02-08;-399.000;24745.000\n"
        "2026-02-05;2026-02-05;5484479940;ZETTLE PAYOUT;1200.000;25144.000\n",
        encoding="utf-8-sig",
    )
    assert _round(mapping, [february], tmp_path, capsys) is None


def test_suggested_patterns_match_next_months_rows():
    from bokfor.domain import Origin, Row

    def rows(*items):
        out = {}
        for line, (text, amount) in enumerate(items, 2):
            out[(text,)] = [
                Row(
                    "bank",
                    f"k{line}",
                    None,
                    {"amount": amount},
                    {"text": text},
                    Origin("s.csv", line),
                )
            ]
        return out

    made = suggest(
        rows(
            ("Lön oktober", -2500000),
            ("KORTKÖP 260105 ICA NÄRA", -12900),
            ("Lön november", -2500000),
            ("BILTEMA (MALMÖ) *1234", -9900),
            ("Swish inbetalning ANNA 0701234567", 15000),
            ("Hyra kontor mars", -800000),
        ),
        "text",
        "amount",
    )
    by_text = {s.text: s for s in made}
    assert by_text["Lön oktober"].pattern == r"(?i)^lön\b"
    assert "Lön november" not in by_text  # the same rule: one suggestion for both months
    assert by_text["KORTKÖP 260105 ICA NÄRA"].pattern == "(?i)ica nära"
    assert by_text["BILTEMA (MALMÖ) *1234"].pattern == r"(?i)^biltema \(malmö\)"
    assert [(s.text, s.account) for s in made] == [  # grouped by account, in row order
        ("Lön oktober", "2821"),
        ("KORTKÖP 260105 ICA NÄRA", "2999"),
        ("BILTEMA (MALMÖ) *1234", "2999"),
        ("Swish inbetalning ANNA 0701234567", "3001"),
        ("Hyra kontor mars", "5010"),
    ]
    later = {
        "Lön oktober": "LÖN DECEMBER",
        "KORTKÖP 260105 ICA NÄRA": "KORTKÖP 260212 ICA NÄRA",
        "BILTEMA (MALMÖ) *1234": "BILTEMA (MALMÖ) *9876",
        "Swish inbetalning ANNA 0701234567": "SWISH INBETALNING BERTIL 0709999999",
        "Hyra kontor mars": "HYRA KONTOR APRIL",
    }
    for s in made:
        assert s.pattern is not None, s
        rule = compile_pattern(s.pattern)  # the rule engine's own compiler (RE2)
        assert rule.test(s.text) and rule.test(later[s.text]), (s.pattern, later[s.text])
    assert all(bas.name(k.account) for k in KEYWORDS)  # the table names chart accounts only


def test_the_chart_is_bas_2025_and_read_only_when_needed():
    bas.chart.cache_clear()
    load_mapping(REPO / "mappings" / "stripe.yaml")  # names every account it uses
    assert bas.chart.cache_info().currsize == 0
    chart = bas.chart()
    assert len(chart) == 1223
    assert all(re.fullmatch(r"\d{4}", n) for n in chart)
    assert {
        n: chart[n] for n in ("1580", "1630", "1930", "2611", "2821", "2999", "3001", "6570")
    } == {
        "1580": "Fordringar för kontokort och kuponger",
        "1630": "Avräkning för skatter och avgifter (skattekonto)",
        "1930": "Företagskonto/checkkonto/affärskonto",
        "2611": "Utgående moms på försäljning inom Sverige, 25 %",
        "2821": "Löneskulder",
        "2999": "OBS-konto",
        "3001": "Försäljning inom Sverige, 25 % moms",
        "6570": "Bankkostnader",
    }
    for name in chart.values():
        name.encode("cp437")  # SIE writes #KONTO names in CP437


def test_the_mappings_names_win_over_the_charts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "company: {name: Test AB}\naccounts: {1930: SEB företagskonto}\nsources:\n  bank:\n"
        "    bank_account: 1930\n    rules:\n      - when: {text: {regex: ''}}\n        post:\n"
        "          - {account: bank_account, debit: amount}\n"
        "          - {account: 2999, credit: amount}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            str(SEB),
            "-m",
            str(mapping),
            "--out",
            str(out),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    assert read_sie(out).document.accounts == {"1930": "SEB företagskonto", "2999": "OBS-konto"}


def test_every_problem_of_a_mapping_in_one_run(tmp_path):
    """Ten rules with a problem each, and an alias whose number is wrong: eleven problems,
    the postings that use the alias not reported again."""
    rules = "".join(
        f"      - name: r{i}\n        when: {{text: x{i}, amout: {{sign: negative}}}}\n"
        "        post: [{account: bank_account, debit: amount}, {account: fees, credit: amount}]\n"
        for i in range(10)
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "company: {name: Test AB}\ndefaults:\n  accounts: {fees: 657}\n"
        f"sources:\n  bank:\n    bank_account: 1930\n    rules:\n{rules}",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    err = caught.value
    assert (err.line, err.key) == (3, "defaults.accounts.fees")
    assert err.details[0] == f"10 more problems in {mapping}:"
    assert [d.split(": ")[1] for d in err.details[1:]] == [
        f"sources.bank.rules[{i}].when.amout" for i in range(10)
    ]
    assert "did you mean `amount`?" in err.details[1]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("a:\n\tb: 1\n", 2, "a tab where YAML needs spaces"),
        ("a:\n  b: 1\n    c: 2\n", 3, "indentation does not match the line above ('c: 2')"),
        ("a:\n  b: 1\n c: 2\n", 3, "indentation does not match the line above ('c: 2')"),
        (
            "rules:\n  - name: Lön: oktober\n",
            2,
            "a `:` inside a value needs quotes ('- name: Lön: oktober')",
        ),
        ("a:\n  b: 1\n  - c\n", 3, "a list item where a key was expected ('- c')"),
        (
            "rules:\n  - name: x\n    when: y\n  post:\n  - a\n",
            4,
            "a key where a list item was expected ('post:')",
        ),
        ("a: {b: 1\nc: 2\n", 1, "a `{` is not closed ('a: {b: 1')"),
        ("a: [1, 2\nb: 3\n", 1, "a `[` is not closed ('a: [1, 2')"),
        ("a: 'abc\nb: 1\n", 1, 'a quote is not closed ("a: \'abc")'),
        ("name: @home\n", 1, "a value starting with @ needs quotes ('name: @home')"),
        ("name: & Co\n", 1, "a value starting with & or * needs quotes ('name: & Co')"),
        ('a: "\\d"\n', 1, "a backslash in double quotes starts an escape, and this one is none"),
        ("a:\n  b\n  c: 1\n", 2, "a key without `:` ('b')"),
    ],
)
def test_a_yaml_syntax_error_in_words(text, line, words):
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.SafeLoader(text).get_single_node()
    said, at, hint = in_words(caught.value, text.splitlines())
    assert said.startswith(words) and at == line, (said, at)
    assert "found" not in said and "<" not in said and hint
