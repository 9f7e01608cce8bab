"""The error catalogue: one directory per error under tests/errors/.

Each case holds its input files, `args` (the bokfor command line, run from the case's
directory; `{repo}` is the repository root) and `expected`: first line `exit N`, then the exact
text bokfor prints on stderr. Regenerate a case's expected text only after reading the new
message: `BOKFOR_REGEN=1 pytest tests/test_errors.py -k NAME`.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from pathlib import Path

import pytest

from bokfor.cli import main

CASES = Path(__file__).parent / "errors"
REPO = Path(__file__).parent.parent


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    from tests.conftest import leaked

    assert not leaked(captured.out, captured.err), "a secret appears in bokfor's output"
    return code, captured.out, captured.err


def _command(line: str, tmp_path: Path) -> list[str]:
    return [
        a.replace("{tmp}", str(tmp_path)) for a in shlex.split(line.replace("{repo}", str(REPO)))
    ]


def _files(directory: Path) -> dict[Path, bytes | None]:
    """Every path below `directory`, with a file's bytes."""
    return {p: p.read_bytes() if p.is_file() else None for p in sorted(directory.rglob("*"))}


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_error_case(case: str, capsys, monkeypatch, tmp_path):
    """`before` (optional): commands that make the state the error needs (an earlier
    export), one a line, each of which must succeed; the error then leaves {tmp} as it was."""
    directory = CASES / case
    monkeypatch.chdir(directory)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("COLUMNS", "200")
    before = directory / "before"
    for line in before.read_text(encoding="utf-8").splitlines() if before.exists() else []:
        code, _, err = run_cli(_command(line, tmp_path), capsys)
        assert code == 0, f"before: {line}: {err}"
    state = _files(tmp_path)
    code, _, err = run_cli(
        _command((directory / "args").read_text(encoding="utf-8"), tmp_path), capsys
    )
    actual = f"exit {code}\n{err}".replace(str(REPO), "{repo}").replace(str(tmp_path), "{tmp}")
    for today in {dt.date.today(), dt.datetime.now(dt.timezone.utc).date()}:  # a ledger's dates
        actual = actual.replace(today.isoformat(), "{today}")
    expected_file = directory / "expected"
    if os.environ.get("BOKFOR_REGEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert code != 0, "an error case must exit non-zero"
    assert "Traceback" not in err
    assert actual == expected_file.read_text(encoding="utf-8")
    assert _files(tmp_path) == state, "an error must not leave output behind"


# -- docs/errors.md: the catalogue for people -------------------------------------------------

DOCS = REPO / "docs" / "errors.md"
_GROUPS = (
    ("convert-bank", "Bank files"),
    ("convert-camt", "Bank files"),
    ("convert-bgmax", "Bank files"),
    ("convert-mt940", "Bank files"),
    ("convert-nets", "Bank files"),
    ("pos-", "POS day closes"),
    ("plan-books", "The books (--books, a SIE file)"),
    ("plan-html", "Review pages"),
    ("ledger-", "The export ledger"),
    ("mapping-", "The mapping"),
    ("reconcile-", "Reconciliation"),
    ("fortnox-", "Fortnox"),
    ("push-", "Fortnox"),
    ("convert-", "Stripe exports and convert"),
    ("run-", "Client folders (bokfor run, init --client)"),
    ("init-", "Client folders (bokfor run, init --client)"),
    ("underlag-", "Underlag and archive"),
    ("archive-", "Underlag and archive"),
    ("", "Other"),
)


def catalogue_markdown() -> str:
    """docs/errors.md from tests/errors/: every error a user can meet, with its exact text,
    so a message can be looked up. Generated, never edited by hand."""
    sections: dict[str, list[str]] = {}
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        group = next(title for prefix, title in _GROUPS if case.name.startswith(prefix))
        expected = (case / "expected").read_text(encoding="utf-8").splitlines()
        command = (case / "args").read_text(encoding="utf-8").strip()
        before = case / "before"
        after = [
            f"After `bokfor {line}`:"
            for line in (before.read_text(encoding="utf-8").splitlines() if before.exists() else [])
        ]
        sections.setdefault(group, []).append(
            "\n".join(
                [
                    f"### {case.name}",
                    "",
                    *after,
                    *([""] if after else []),
                    f"`bokfor {command}` exits {expected[0].split()[1]}:",
                    "",
                    "```",
                    *expected[1:],
                    "```",
                    "",
                ]
            )
        )
    out = [
        "# Error catalogue",
        "",
        "Every error bokfor reports on purpose, one input per error (`tests/errors/<name>/`), "
        "with the exact text it prints and its exit code (2 bad input, 1 other, 3 nothing "
        "new, 4 busy). Generated from the test cases by `BOKFOR_REGEN=1 pytest "
        "tests/test_errors.py`; the suite fails when this file and the cases disagree. "
        "`{repo}` and `{tmp}` stand for the checkout and a scratch folder.",
        "",
    ]
    order = list(dict.fromkeys(title for _, title in _GROUPS))
    for title in order:
        if title in sections:
            out += [f"## {title}", "", *sections[title]]
    return "\n".join(out).rstrip() + "\n"


def test_docs_errors_md_is_the_catalogue():
    text = catalogue_markdown()
    if os.environ.get("BOKFOR_REGEN"):
        DOCS.write_text(text, encoding="utf-8")
    assert DOCS.read_text(encoding="utf-8") == text, (
        "docs/errors.md is out of date: BOKFOR_REGEN=1 pytest tests/test_errors.py"
    )
