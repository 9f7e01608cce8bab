"""The plan's review page (`bokfor plan --html`) and the mapping in words (`bokfor mapping
explain`): golden HTML for the Stripe sample, every verifikation of the plan on the page, its
sums per account equal to the SIE file a convert of the same input writes, nothing external.

Regenerate the golden page only after reading the diff: `BOKFOR_REGEN=1 pytest
tests/test_review.py`. The page in a real browser: tests/test_review_browser.py."""

from __future__ import annotations

import difflib
import os
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bokfor import __version__
from bokfor.mapping import load_mapping
from bokfor.money import format_sek
from bokfor.sie.reader import read

from .golden_sie import GOLDEN
from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLE = "samples/stripe/balance_history.csv"
MAPPING = "mappings/stripe.yaml"
ERRORS = REPO / "tests" / "errors"
EPOCH = "1767225600"  # 2026-01-01: fixes the page's date (#GEN)


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    """Paths on the page as the README gives them, the date fixed: the page is the same on
    every machine."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


class Page(HTMLParser):
    """What the tests read off a page: the voucher sections (their attributes, text and
    table rows as lists of cells), the rows of the sums per account, the whole text, and
    every tag and attribute."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[dict[str, str], list[str]]] = []
        self.rows: list[list[list[str]]] = []  # per section, its table rows
        self.totals: dict[str, tuple[int, int]] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._in: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "section":
            self._in = []
            self.sections.append((a, self._in))
            self.rows.append([])
        if tag == "tr" and "data-account" in a:
            self.totals[a["data-account"]] = (int(a["data-debit"]), int(a["data-credit"]))
        if self._in is not None and tag in ("p", "h3", "tr", "td", "th", "pre", "div"):
            self._in.append(" ")  # blocks and cells apart, as a browser shows them
        if self._in is not None and tag == "tr":
            self.rows[-1].append([])
        if self._in is not None and tag in ("td", "th"):
            self._cell = []
            self.rows[-1][-1].append("")

    def handle_endtag(self, tag):
        if tag == "section":
            self._in = None
        if tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in is not None:
            self._in.append(data)
        if self._cell is not None:
            self.rows[-1][-1][-1] += data


def plan_html(
    capsys, tmp_path: Path, *args: str, ledger: Path | None = None
) -> tuple[int, str, str, Path]:
    page = tmp_path / "plan.html"
    code, out, err = run_cli(
        ["plan", *args, "--ledger", str(ledger or tmp_path / "l.sqlite"), "--html", str(page)],
        capsys,
    )
    return code, out, err, page


def sie_totals(path: Path) -> tuple[list, dict[str, tuple[int, int]]]:
    doc = read(path).document
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in doc.vouchers:
        for t in v.lines:
            sums[t.account][0 if t.amount > 0 else 1] += abs(t.amount)
    return doc.vouchers, {a: (d, c) for a, (d, c) in sums.items()}


def test_the_stripe_samples_page_is_golden(capsys, tmp_path):
    code, out, err, page = plan_html(capsys, tmp_path, SAMPLE, "-m", MAPPING)
    assert code == 0, err
    assert f"Review page: {page}" in out
    golden = GOLDEN / "review" / "stripe_plan.html"
    data = page.read_bytes()
    if os.environ.get("BOKFOR_REGEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    want = golden.read_bytes()
    if data != want:
        diff = difflib.unified_diff(
            want.decode().splitlines(),
            data.decode().splitlines(),
            str(golden),
            str(page),
            lineterm="",
        )
        raise AssertionError("\n".join(list(diff)[:80]))


def test_every_voucher_is_on_the_page_and_its_sums_are_the_sie_files(capsys, tmp_path):
    code, _, err, page = plan_html(capsys, tmp_path, SAMPLE, "-m", MAPPING)
    assert code == 0, err
    sie = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            SAMPLE,
            "-m",
            MAPPING,
            "-o",
            str(sie),
            "--ledger",
            str(tmp_path / "other.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    vouchers, sums = sie_totals(sie)
    parsed = Page(page.read_text(encoding="utf-8"))
    shown = [
        (a["data-date"], a["data-series"], " ".join("".join(t).split())) for a, t in parsed.sections
    ]
    assert len(shown) == len(vouchers) == 29
    names = load_mapping(REPO / MAPPING).accounts
    for (day, series, text), rows, v in zip(shown, parsed.rows, vouchers, strict=True):
        assert (day, series) == (v.date.isoformat(), v.series)
        assert f"{v.series} {v.text}" in text
        assert rows[0] == ["Konto", "Namn", "Text", "Debet", "Kredit", "Dimensioner"]
        assert [r[:5] for r in rows[1:]] == [  # each line on its side, then the sums
            *(
                [
                    t.account,
                    names[t.account],
                    "",
                    format_sek(t.amount) if t.amount > 0 else "",
                    format_sek(-t.amount) if t.amount < 0 else "",
                ]
                for t in v.lines
            ),
            ["", "Summa", "", format_sek(v.debit), format_sek(v.debit)],
        ]
    assert parsed.totals == sums
    assert {a["data-status"] for a, _ in parsed.sections} == {"+"}


def test_the_page_loads_nothing_and_runs_nothing(capsys, tmp_path):
    code, _, err, page = plan_html(capsys, tmp_path, SAMPLE, "-m", MAPPING)
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    parsed = Page(text)
    assert not re.search(r"(?i)https?:|//[a-z]", text)  # no URL at all, not even a namespace
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "link", "iframe", "img", "object", "embed", "base", "form"}
    assert not any(
        k.startswith("on") or k in ("src", "href") and not v.startswith("#")
        for _, a in parsed.tags
        for k, v in a.items()
    )
    csp = [
        a["content"]
        for tag, a in parsed.tags
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and csp[0].startswith("default-src 'none'")
    assert "@media print" in text and "size:A4" in text
    assert len([t for t, _ in parsed.tags if t == "svg"]) == 2  # sales and moms, fees


def test_charts_and_payouts_are_the_plans_and_reconciles(capsys, tmp_path):
    code, _, err, page = plan_html(capsys, tmp_path, SAMPLE, "-m", MAPPING)
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    titles = re.findall(r"<title>([^<]*)</title>", text)[1:]  # the first is the page's
    sie = tmp_path / "out.si"
    code, _, err = run_cli(
        [
            "convert",
            SAMPLE,
            "-m",
            MAPPING,
            "-o",
            str(sie),
            "--ledger",
            str(tmp_path / "other.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    sales: dict = defaultdict(int)  # class 3 and 26xx, credit - debit, per day of the SIE file
    vat: dict = defaultdict(int)
    for v in read(sie).document.vouchers:
        for t in v.lines:
            if t.account[0] == "3" or t.account[:2] == "26":
                (sales if t.account[0] == "3" else vat)[v.date] -= t.amount
                (vat if t.account[0] == "3" else sales)[v.date] += 0
    assert [t for t in titles if " Avgifter: " not in t] == [
        f"{d:%m-%d} {what}: {format_sek(sums[d])}"
        for d in sorted(sales)
        for what, sums in (("Försäljning", sales), ("Moms", vat))
    ]
    assert "01-02 Försäljning: 1\u00a0319,20" in titles  # 3001's credit that day
    fees = [t for t in titles if " Avgifter: " in t]
    code, out, err = run_cli(["reconcile", SAMPLE], capsys)
    assert code == 0, err
    payouts = re.findall(
        r"(po_\w+) +│ (\d{4}-\d\d-\d\d) +│ +[\d\u00a0 ,]+│ +([\d\u00a0 ,]+?) +│", out
    )
    assert len(payouts) == len(fees) == 4
    assert [f"{day[5:]} Avgifter: {fee}" for _, day, fee in payouts] == fees
    assert all(f"<td>{po}</td>" in text for po, _, _ in payouts)
    assert "All 4 payouts add up (difference 0,00)." in text


def test_changed_and_unmapped_rows_are_on_the_page_with_what_to_do(capsys, tmp_path):
    """The page is written before the plan is refused (exit 2): it is what a person reads
    to fix it."""
    case = ERRORS / "convert-row-changed"
    ledger = tmp_path / "l.sqlite"
    code, _, err = run_cli(
        [
            "convert",
            str(case / "january.csv"),
            "-m",
            MAPPING,
            "-o",
            str(tmp_path / "1.si"),
            "--ledger",
            str(ledger),
        ],
        capsys,
    )
    assert code == 0, err
    code, _, err, page = plan_html(
        capsys,
        tmp_path,
        str(case / "january-again.csv"),
        str(ERRORS / "convert-unknown-type" / "export.csv"),
        "-m",
        MAPPING,
        ledger=ledger,
    )
    assert code == 2 and "match no rule" in err
    parsed = Page(page.read_text(encoding="utf-8"))
    by_status = defaultdict(list)
    for (a, t), rows in zip(parsed.sections, parsed.rows, strict=True):
        by_status[a["data-status"]].append((" ".join("".join(t).split()), rows))
    [(changed, rows)] = by_status["~"]
    assert "gross 1290.00 -> 1390.00, net 1268.85 -> 1368.85" in changed
    assert "före (as exported):" in changed
    assert [[r[0], *r[3:5]] for r in rows] == [  # what was booked; no new booking without
        ["Konto", "Debet", "Kredit"],
        ["1580", "1\u00a0268,85", ""],  # --correct
        ["6570", "21,15", ""],
        ["3001", "", "1\u00a0032,00"],
        ["2611", "", "258,00"],
        ["", "1\u00a0290,00", "1\u00a0290,00"],
    ]
    assert "nu (as booked now): Not booked again unless the run is given --correct" in changed
    assert [text for text, _ in by_status["!"]] == [
        f"! {ERRORS}/convert-unknown-type/export.csv: type=issuing_transaction currency=sek: 2 "
        "rows, first at line 4 No rule matches these rows: see Att rätta for the rules to add.",
        f"! {ERRORS}/convert-unknown-type/export.csv: type=advance currency=sek: 1 row, first "
        "at line 6 No rule matches these rows: see Att rätta for the rules to add.",
    ]
    words = "".join(parsed.text)
    assert "3 rows of 2 kinds match no rule Fix: add a rule for each kind below" in words
    assert (
        "  - name: issuing_transaction sek\n    when: {type: issuing_transaction, "
        "currency: sek}" in words
    )  # the rules to paste, as the terminal gives them


def test_a_plan_after_the_export_shows_every_voucher_as_exported(capsys, tmp_path):
    ledger = tmp_path / "l.sqlite"
    code, _, err = run_cli(
        ["convert", SAMPLE, "-m", MAPPING, "-o", str(tmp_path / "1.si"), "--ledger", str(ledger)],
        capsys,
    )
    assert code == 0, err
    code, _, err, page = plan_html(capsys, tmp_path, SAMPLE, "-m", MAPPING, ledger=ledger)
    assert code == 3
    parsed = Page(page.read_text(encoding="utf-8"))
    assert [a["data-status"] for a, _ in parsed.sections] == ["="] * 29
    assert "Plan: 0 verifikationer to add (+), 29 already exported (=)" in "".join(parsed.text)
    assert parsed.totals == {}  # nothing to write: no sums


def test_the_page_goes_through_a_link_and_never_over_a_directory_or_fifo(capsys, tmp_path):
    real = tmp_path / "real.html"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "current.html"
    link.symlink_to(real)
    code, _, err = run_cli(
        [
            "plan",
            SAMPLE,
            "-m",
            MAPPING,
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--html",
            str(link),
        ],
        capsys,
    )
    assert code == 0, err
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    code, _, err = run_cli(
        [
            "plan",
            SAMPLE,
            "-m",
            MAPPING,
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--html",
            str(fifo),
        ],
        capsys,
    )
    assert code == 2
    assert err == (
        f"bokfor: error: --html {fifo} is a named pipe (FIFO); bokfor writes a "
        "regular file and replaces nothing else Fix: name a new file.\n"
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


# -- bokfor mapping explain --------------------------------------------------------------


def test_explain_says_each_rule_in_words(capsys):
    code, out, err = run_cli(["mapping", "explain", MAPPING], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == [
        "Systemdokumentation: Exempelbutiken AB",
        "======================================",
    ]
    assert "  Organisationsnummer  556677-8899" in lines
    assert (
        "  Räkenskapsår         from 1 januari (kalenderår); a run across a year end "
        "writes one file a räkenskapsår" in lines
    )
    assert "  1          Kostnadsställe  WEB Webbutik" in lines
    start = lines.index("2. Försäljning 25 % (mappings/stripe.yaml:65)")
    assert lines[start : start + 7] == [
        "2. Försäljning 25 % (mappings/stripe.yaml:65)",
        "---------------------------------------------",
        "When type is one of “charge”, “payment”.",
        "          Konto                                       Belopp  Moms"
        + " " * 78
        + "Dimensioner",
        "  Debet   1580 Fordringar för kontokort och kuponger  net",
        "  Debet   6570 Bankkostnader                          fee",
        "  Kredit  3001 Försäljning inom Sverige, 25 % moms    gross   25 % included, split out "
        "to 2611 Utgående moms på försäljning inom Sverige, 25 %  Kostnadsställe WEB (Webbutik)",
    ]
    assert (
        "When type is “adjustment”; and description matches the pattern “^Chargeback "
        "withdrawal”." in lines
    )
    assert "When type is “adjustment”; and gross is positive." in lines
    assert "Booked: nothing (skip). The rows are counted in the plan, never booked." in lines
    assert out.count("Rows no rule matches stop the run") == 4  # no fallback in any source
    assert f"How bokfor {__version__} books" in out


def test_explain_html_says_the_same_as_the_text(capsys, tmp_path):
    code, text, err = run_cli(["mapping", "explain", "mappings/pos.yaml"], capsys)
    assert code == 0, err
    code, out, err = run_cli(
        ["mapping", "explain", "mappings/pos.yaml", "--html", str(tmp_path / "system.html")], capsys
    )
    assert code == 0, err
    assert out == f"Wrote {tmp_path / 'system.html'}\n"
    html = (tmp_path / "system.html").read_text(encoding="utf-8")
    page = Page(html)
    words = " ".join(" ".join(page.text).split())
    lines = text.splitlines()
    for i, line in enumerate(lines):  # every heading a heading, every cell and line there
        if line and set(line) <= set("=-"):
            tag = "h3" if line[0] == "-" else "h1" if i == 1 else "h2"
            assert f"<{tag}>{lines[i - 1]}</{tag}>" in html
            continue
        for cell in re.split(r"\s{2,}", line.strip()):
            assert cell in words, cell
    assert (
        "<h3>Betalsätt</h3>" in html
        and "<td>kort</td><td>1580 Fordringar för kontokort och kuponger</td>" in html
    )
    assert not any(tag == "script" for tag, _ in page.tags)


def test_explain_says_operators_fallbacks_and_bank_accounts(capsys, tmp_path):
    mapping = tmp_path / "bank.yaml"
    mapping.write_text(
        """\
company: {name: Test AB, fiscal_year_start: 07-01}
sources:
  bank:
    bank_accounts: {"SE45 5000 0000 0583 9825 7466": 1930}
    grouping: per_row
    rules:
      - name: Stora insättningar
        when: {text: {regex: "^BG ", not: [BG 123]}, amount: {min: "10000.00", sign: positive}}
        post: [{account: bank_account, debit: amount}, {account: 3001, credit: amount,
                vat: {rate: 25}, dims: {1: '{text}'}}]
      - name: Tomma
        when: {text: {empty: true}, date: {from: 2026-01-01, to: 2026-06-30}}
        skip: true
    fallback:
      post: [{account: bank_account, debit: amount}, {account: 2890, credit: amount}]
defaults:
  vat_accounts: {"25": 2611}
""",
        encoding="utf-8",
    )
    code, out, err = run_cli(["mapping", "explain", str(mapping)], capsys)
    assert code == 0, err
    assert "  SE4550000000058398257466  1930 Företagskonto" in out
    out = " ".join(out.split())  # as the words go, wherever the lines wrap
    assert "from 1 juli (brutet räkenskapsår)" in out
    assert "Grouping (per_row): one verifikation per row." in out
    assert (
        "When text matches the pattern “^BG ” and is not “BG 123”; and amount is at least "
        "10000.00 and is positive." in out
    )
    assert (
        "When text is empty; and date is on or after 2026-01-01 and is on or before "
        "2026-06-30." in out
    )
    assert "Otherwise (fallback)" in out and "Every row no rule above matches." in out
    assert "Rows no rule matches stop the run" not in out
    assert "the row's bank account (see above)" in out
    assert "dimension 1 {text}" in out
