"""No rule, YAML file or special file can hang bokfor or exhaust the machine (issue 19, items 1
and 2). Each case runs the real CLI in a child (tests/limits.py), as cron would, and asserts the
exit code, the exact message, and under 10 s and 300 MiB.

FIFOs cannot live in git: they are made here, in tmp_path. Nothing ever writes to them, so
a run that opens one the ordinary way blocks until it is killed."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from tests.limits import run_limited

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING_HEAD = """\
company: {name: Test AB}
defaults:
  accounts: {clearing: 1580}
accounts: {1580: Stripe, 3001: Försäljning, 2611: Moms, 6570: Avgifter}
"""
RULES = """\
sources:
  stripe_balance:
    rules:
      - name: Odd
        when: {type: charge, description: {regex: "PATTERN"}}
        post:
          - {account: clearing, debit: net}
          - {account: 6570, debit: fee}
          - {account: 3001, credit: gross, vat: {rate: 25, account: 2611}}
      - name: Sales
        when: {type: charge}
        post:
          - {account: clearing, debit: net}
          - {account: 6570, debit: fee}
          - {account: 3001, credit: gross, vat: {rate: 25, account: 2611}}
"""
SLOW = 20.0  # seconds before a child is killed: a hang fails on time, quickly


def mapping(tmp_path: Path, pattern: str = "^Order", extra: str = "") -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING_HEAD + RULES.replace("PATTERN", pattern) + extra, encoding="utf-8")
    return path


def hostile_export(tmp_path: Path) -> Path:
    """The sample's first charge, its description 40 `a` and a `!`: the issue's text."""
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        header, row = list(csv.reader(fh))[:2]
    row[header.index("Description")] = "a" * 40 + "!"
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, row])
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def check(tmp_path: Path, *args: str) -> tuple[int, str]:
    outcome = run_limited(list(args), cwd=tmp_path, timeout=SLOW)
    outcome.within_limits()
    return outcome.code, outcome.err


def dry_run(tmp_path: Path, export: Path | str, *more: str) -> tuple[int, str]:
    return check(
        tmp_path,
        "convert",
        str(export),
        "-m",
        "m.yaml",
        "-o",
        "out.si",
        "--dry-run",
        "--ledger",
        "l.sqlite",
        *more,
    )


# -- rules ---------------------------------------------------------------------------------


def test_a_catastrophic_regex_is_refused_by_mapping_check(tmp_path):
    mapping(tmp_path, "(a+)+$")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml:9: sources.stripe_balance.rules[0].when.description.regex: "
            "regular expression '(a+)+$' repeats a repeat: (a+)+ takes exponential time in a "
            "backtracking engine Fix: write 'a+$': it matches exactly the same text.\n"
        ),
    )


def test_the_issues_run_ends_at_once(tmp_path):
    """The issue's case: `(a+)+$` against 40 `a` and `!` took 10 CPU-minutes until killed."""
    mapping(tmp_path, "(a+)+$")
    code, err = dry_run(tmp_path, hostile_export(tmp_path))
    assert (code, err.splitlines()[0]) == (
        2,
        (
            "bokfor: error: m.yaml:9: sources.stripe_balance.rules[0].when.description.regex: "
            "regular expression '(a+)+$' repeats a repeat: (a+)+ takes exponential time in a "
            "backtracking engine Fix: write 'a+$': it matches exactly the same text."
        ),
    )


@pytest.mark.parametrize("pattern", [r"(a|aa)+$", r"^(a|a?)+$", r"(\\w+\\s?)+!x"])
def test_a_pattern_that_backtracks_runs_in_linear_time(tmp_path, pattern):
    """Accepted patterns that take Python's `re` minutes to years on this description: the
    row falls through to the next rule and is booked."""
    mapping(tmp_path, pattern)
    code, err = dry_run(tmp_path, hostile_export(tmp_path))
    assert (code, err) == (0, "")


# -- YAML ----------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    (tmp_path / "m.yaml").write_text(MAPPING_HEAD + "\n".join(levels) + "\n", encoding="utf-8")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml:10: the YAML expands to more than 100,000 values (with the alias "
            "*e) Fix: aliases that name aliases multiply (an alias bomb): write the values out.\n"
        ),
    )


def test_a_recursive_alias_is_refused_with_its_line(tmp_path):
    (tmp_path / "m.yaml").write_text(MAPPING_HEAD + "x: &r [*r]\n", encoding="utf-8")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml:5: the alias *r refers to a value that contains it (a recursive "
            "structure) Fix: a value cannot contain itself: write it out.\n"
        ),
    )


def test_deep_nesting_is_refused(tmp_path):
    (tmp_path / "m.yaml").write_text("x: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml:1: nested more than 64 levels deep Fix: a mapping needs a few "
            "levels: check the brackets.\n"
        ),
    )


def test_aliases_that_share_a_posting_list_still_work(tmp_path):
    """Aliases are limited, not refused: two rules may share their postings."""
    text = MAPPING_HEAD + RULES.replace("PATTERN", "^Order").replace(
        "    post:\n          - {account: clearing, debit: net}",
        "    post: &sales\n          - {account: clearing, debit: net}",
        1,
    )
    text = text.replace(
        "when: {type: charge}\n        post:\n          - {account: clearing, "
        "debit: net}\n          - {account: 6570, debit: fee}\n          - "
        "{account: 3001, credit: gross, vat: {rate: 25, account: 2611}}",
        "when: {type: charge}\n        post: *sales",
    )
    assert "post: *sales" in text
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (0, "")


# -- only regular files --------------------------------------------------------------------


def test_a_fifo_as_the_mapping(tmp_path):
    fifo(tmp_path / "m.yaml")
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml: is a FIFO (named pipe), not a file Fix: give the path of the "
            "mapping (YAML).\n"
        ),
    )


def test_a_fifo_as_the_rate_file(tmp_path):
    fifo(tmp_path / "rates.csv")
    mapping(tmp_path, extra="currency_rates: {file: rates.csv}\n")
    # Found beside the mapping itself (not a link to it): named by its whole path.
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            f"bokfor: error: {tmp_path.resolve() / 'rates.csv'}: currency_rates.file: is a FIFO "
            "(named pipe), not a file Fix: give the path of a rate file (date;currency;rate).\n"
        ),
    )


def test_dev_zero_as_the_mapping(tmp_path):
    assert check(tmp_path, "mapping", "check", "/dev/zero") == (
        2,
        (
            "bokfor: error: /dev/zero: is a device, not a file Fix: give the path of the mapping "
            "(YAML).\n"
        ),
    )


def test_a_directory_as_the_mapping(tmp_path):
    (tmp_path / "mappings").mkdir()
    assert check(tmp_path, "mapping", "check", "mappings") == (
        2,
        (
            "bokfor: error: mappings: is a directory, not a file Fix: give the path of the mapping "
            "(YAML).\n"
        ),
    )


def test_a_mapping_over_the_size_cap(tmp_path):
    with (tmp_path / "m.yaml").open("wb") as fh:  # sparse: 5 MiB that take no disk
        fh.write(b"company: {name: X}\n")
        fh.truncate(5 * 2**20)
    assert check(tmp_path, "mapping", "check", "m.yaml") == (
        2,
        (
            "bokfor: error: m.yaml: the file is larger than 4 MiB, the most bokfor reads as the "
            "mapping (YAML) Fix: check that this is the mapping (YAML).\n"
        ),
    )


@pytest.mark.parametrize(
    "source, book",
    [
        (None, "stripe"),
        ("stripe_balance", "stripe"),
        ("camt", "bank"),
        ("mt940", "bank"),
        ("bgmax", "bank"),
        ("nets_ocr", "bank"),
        ("netbank", "bank"),
        ("zreport", "pos"),
        ("zettle_receipts", "pos"),
        ("pos_sie", "pos"),
    ],
)
def test_a_fifo_as_an_input(tmp_path, source, book):
    """Detected, or forced with --source: no reader is handed the FIFO."""
    fifo(tmp_path / "export.csv")
    code, err = check(
        tmp_path,
        "convert",
        "export.csv",
        "-m",
        str(REPO / "mappings" / f"{book}.yaml"),
        "-o",
        "out.si",
        "--dry-run",
        "--ledger",
        "l.sqlite",
        *(["--source", source] if source else []),
    )
    assert (code, err) == (
        2,
        "bokfor: error: export.csv: is a FIFO (named pipe), not a file "
        "Fix: give the path of an export file (Stripe, bank or POS).\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["sie", "check", "books.si"],
        [
            "plan",
            str(SAMPLE),
            "-m",
            str(REPO / "mappings" / "stripe.yaml"),
            "--ledger",
            "l.sqlite",
            "--books",
            "books.si",
        ],
    ],
)
def test_a_fifo_as_a_sie_file(tmp_path, args):
    """`sie check FILE` and `--books FILE` read a SIE file: not a FIFO either."""
    fifo(tmp_path / "books.si")
    assert check(tmp_path, *args) == (
        2,
        "bokfor: error: books.si: is a FIFO (named pipe), not "
        "a file Fix: give the path of a SIE file.\n",
    )


def test_a_device_as_an_input(tmp_path):
    mapping(tmp_path)
    assert dry_run(tmp_path, "/dev/zero") == (
        2,
        "bokfor: error: /dev/zero: is a device, not a "
        "file Fix: give the path of an export file "
        "(Stripe, bank or POS).\n",
    )


def test_a_directory_as_an_input_stands_for_its_files(tmp_path):
    """`convert DIR` reads the input files in DIR (issue 21); none there is an error, and a
    device in it is never read."""
    mapping(tmp_path)
    (tmp_path / "downloads").mkdir()
    os.symlink("/dev/zero", tmp_path / "downloads" / "zero.csv")
    assert dry_run(tmp_path, "downloads") == (
        2,
        "bokfor: error: downloads holds no input "
        "files Fix: give the export files, or a "
        "directory holding them.\n",
    )
    shutil.copyfile(SAMPLE, tmp_path / "downloads" / "export.csv")
    code, err = dry_run(tmp_path, "downloads")  # read: rows the test mapping does not map
    assert (code, err.split(": ")[2:4]) == (
        2,
        ["downloads/export.csv:5", "sources.stripe_balance.rules"],
    ), err
