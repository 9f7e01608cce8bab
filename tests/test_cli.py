"""The command line as a user meets it: help, version, completion, colour, the words of the
plan's lines, and errors that come before anything is shown."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
STRIPE = REPO / "samples" / "stripe" / "balance_history.csv"
STRIPE_MAPPING = REPO / "mappings" / "stripe.yaml"
FORTNOX_ENV = (
    "FORTNOX_CLIENT_ID",
    "FORTNOX_CLIENT_SECRET",
    "FORTNOX_TENANT_ID",
    "FORTNOX_REFRESH_TOKEN",
    "FORTNOX_TOKEN_FILE",
)


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in FORTNOX_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "bokfor" / "fortnox.json"


def test_push_without_credentials_stops_before_the_plan(tmp_path, capsys, no_credentials):
    """Not a page of vouchers and then a refusal: the refusal alone, naming the variables
    and the token file it looked for, and the command that makes one."""
    code, out, err = run_cli(
        ["push", str(STRIPE), "-m", str(STRIPE_MAPPING), "--ledger", str(tmp_path / "l.sqlite")],
        capsys,
    )
    assert (code, out) == (2, "")
    assert err == (
        "bokfor: error: no Fortnox client credentials: FORTNOX_CLIENT_ID and "
        "FORTNOX_CLIENT_SECRET are not set, and there is no token file "
        f"{no_credentials} Fix: run `bokfor fortnox login` once on a terminal (it checks them "
        f"and saves them in {no_credentials}), or set FORTNOX_CLIENT_ID and "
        "FORTNOX_CLIENT_SECRET (and FORTNOX_TENANT_ID for a service account); --token-file or "
        "$FORTNOX_TOKEN_FILE names another token file.\n"
    )
    assert not (tmp_path / "l.sqlite").exists()


def test_push_names_the_variable_that_is_missing_and_a_token_file_without_them(
    tmp_path, capsys, no_credentials, monkeypatch
):
    monkeypatch.setenv("FORTNOX_CLIENT_ID", "an-id")
    token_file = tmp_path / "fortnox.json"
    token_file.write_text("{}")
    token_file.chmod(0o600)
    code, out, err = run_cli(
        [
            "push",
            str(STRIPE),
            "-m",
            str(STRIPE_MAPPING),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--token-file",
            str(token_file),
        ],
        capsys,
    )
    assert (code, out) == (2, "")
    assert err.startswith(
        "bokfor: error: no Fortnox client credentials: FORTNOX_CLIENT_SECRET "
        f"is not set, and the token file {token_file} holds none Fix: "
    )


# -- the plan's lines count the same things ------------------------------------------------

UNMAPPED_SEB = REPO / "tests" / "errors" / "convert-bank-rows-match-no-rule" / "seb.csv"


def test_unmapped_is_counted_in_rows_on_every_line(tmp_path, capsys):
    """6 rows of 5 kinds match no rule: the input's line, the plan's line and the JSON all
    say 6 rows (the table lists the 5 kinds, each with its rows)."""
    args = [
        "plan",
        str(UNMAPPED_SEB),
        "-m",
        str(REPO / "mappings" / "bank.yaml"),
        "--ledger",
        str(tmp_path / "l.sqlite"),
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 2 and "6 rows of 5 kinds match no rule" in err
    lines = out.splitlines()
    assert f"{UNMAPPED_SEB}: netbank, 12 rows -> 6 new verifikationer (6 unmapped)" in lines
    assert lines[-1] == (
        "Plan: 6 verifikationer to add (+), 0 already exported (=); "
        "0 rows changed (~), 6 rows unmapped (!)"
    )
    assert sum(1 for line in lines if line.startswith("│ !")) == 5
    code, out, _ = run_cli([*args, "--json"], capsys)
    plan = json.loads(out)
    assert plan["counts"]["unmapped"] == plan["inputs"][0]["unmapped"] == 6
    assert sum(1 for e in plan["entries"] if e["status"] == "unmapped") == 5


# -- a file with a header and no rows ----------------------------------------------------


def _header_only(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """One header-only file of every kind of source, made from the samples: name -> (file,
    mapping)."""
    samples, mappings = REPO / "samples", REPO / "mappings"
    made: dict[str, tuple[Path, Path]] = {}

    def head(name: str, sample: Path, lines: int, mapping: str, encoding: str = "utf-8") -> None:
        text = sample.read_bytes().decode(encoding).splitlines(keepends=True)[:lines]
        target = tmp_path / name / sample.name
        target.parent.mkdir()
        target.write_bytes("".join(text).encode(encoding))
        made[name] = (target, mappings / mapping)

    stripe = samples / "stripe"
    head("stripe-balance", stripe / "balance_history.csv", 1, "stripe.yaml")
    head("stripe-payments", stripe / "unified_payments.csv", 1, "stripe.yaml")
    head("stripe-payouts", stripe / "payouts.csv", 1, "stripe.yaml")
    for report in sorted(stripe.glob("Itemized_*.csv")):
        head(f"stripe-{report.name.split('_SEK')[0].lower()}", report, 1, "stripe.yaml")
    head("zettle-receipts", samples / "pos" / "zettle_receipts_sv.csv", 9, "pos.yaml")
    head("zettle-statement", samples / "pos" / "zettle_statement_sv.csv", 1, "pos.yaml")
    netbank = samples / "bank" / "netbank"
    head("netbank-seb", netbank / "seb.csv", 1, "bank.yaml")
    head("netbank-swedbank", netbank / "swedbank.csv", 2, "bank.yaml", "cp1252")
    head("netbank-nordea", netbank / "nordea.csv", 1, "bank.yaml")
    camt = tmp_path / "camt" / "camt053.xml"
    camt.parent.mkdir()
    camt.write_text(
        re.sub(
            r"<Ntry>.*?</Ntry>\s*",
            "",
            (samples / "bank" / "camt053_seb.xml").read_text(encoding="utf-8"),
            flags=re.S,
        ),
        encoding="utf-8",
    )
    made["camt"] = (camt, mappings / "bank.yaml")
    made["mt940"] = (
        REPO / "tests" / "errors" / "convert-bank-no-transactions" / "statement.sta",
        mappings / "bank.yaml",
    )
    return made


def test_a_header_only_file_of_every_source_is_said_to_be_empty(tmp_path, capsys):
    made = _header_only(tmp_path)
    assert len(made) == 13
    for name, (path, mapping) in made.items():
        code, out, err = run_cli(
            [
                "convert",
                str(path),
                "-m",
                str(mapping),
                "--ledger",
                str(tmp_path / f"{name}.sqlite"),
                "-o",
                str(tmp_path / f"{name}.si"),
            ],
            capsys,
        )
        assert (name, code) == (name, 3), err
        assert (
            out.splitlines()[-1] == f"Nothing to book: no transactions in {path}; nothing written."
        ), name
        assert "exported before" not in out + err


def test_a_header_only_file_beside_one_exported_before_is_named(tmp_path, capsys):
    empty = _header_only(tmp_path)["stripe-balance"][0]
    common = ["-m", str(STRIPE_MAPPING), "--ledger", str(tmp_path / "l.sqlite")]
    assert run_cli(["convert", str(STRIPE), *common, "-o", str(tmp_path / "1.si")], capsys)[0] == 0
    code, out, _ = run_cli(
        ["convert", str(STRIPE), str(empty), *common, "-o", str(tmp_path / "2.si")], capsys
    )
    assert code == 3
    assert out.splitlines()[-1] == (
        "Nothing new: every row was exported before (and there "
        f"are no transactions in {empty}); nothing written."
    )


# -- help, version, completion, colour -------------------------------------------------


def _commands() -> list[list[str]]:
    """Every command path of the app, sub-apps' commands included: ["ledger", "list"]…"""
    from bokfor.cli import command

    def walk(cmd, path):
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(command(), []))


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "bokfor")
def test_help_reads_as_sentences(path, capsys, monkeypatch):
    """No Python types (`<bool>`, `<list[Path]>`, `<str>`) beside a flag, an option or an
    argument, and paragraphs filled to the width: a line ends early only where a paragraph
    or an entry does (a docstring's own line breaks are not kept)."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_cli([*path, "--help"], capsys)
    assert (code, err) == (0, "")
    assert not re.search(r"<[a-z][\w\[\], ]*>", out), out
    assert "╭" not in out and "\x1b" not in out
    width = 78  # click's: the terminal's width less 2, at most 78
    lines = out.splitlines()
    in_section = False  # the description until "Arguments:", "Options:" or "Commands:"
    for line, after in zip(lines, lines[1:], strict=False):
        in_section = in_section or line in ("Arguments:", "Options:", "Commands:")
        # `after` goes on with `line`'s text: the description's next line, or an entry's help
        # on a further line (indented deeper than an entry starts).
        indent, indent_after = (len(x) - len(x.lstrip()) for x in (line, after))
        goes_on = indent_after > 2 if in_section else indent_after == indent == 2
        if line.strip() and after.strip() and goes_on:
            assert len(line) + 1 + len(after.split()[0]) > width, f"{line!r} ends early:\n{out}"
    # The commands' one-line summaries are whole sentences, not cut off with "...".
    summaries = out.partition("\nCommands:\n")[2]
    for line in summaries.splitlines():
        assert line.rstrip().endswith(".") and not line.rstrip().endswith("..."), line


def test_version_has_a_short_flag(capsys):
    from bokfor import __version__

    assert run_cli(["--version"], capsys)[:2] == (0, f"bokfor {__version__}\n")
    assert run_cli(["-V"], capsys)[:2] == (0, f"bokfor {__version__}\n")


def test_shell_completion_completes_commands_and_options(capsys, monkeypatch):
    monkeypatch.setenv("_BOKFOR_COMPLETE", "complete_bash")
    for words, cword, expected in (
        ("bokfor ledger f", "2", "forget"),
        ("bokfor plan --js", "2", "--json"),
        ("bokfor con", "1", "convert"),
    ):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", cword)
        code, out, err = run_cli([], capsys)
        assert (code, out.split(), err) == (0, [expected], ""), words


def test_install_completion_writes_the_shells_script(tmp_path, capsys, monkeypatch):
    """For the shell bokfor runs in, which typer asks shellingham for: the nearest shell among
    this process's parents. Pinned to bash here, else the test depends on how pytest was
    started (under `sh -c` it finds dash: "Shell sh is not supported.", exit 1). With
    shellingham installed `--install-completion` is a flag: a shell named after it is unread."""
    import shellingham

    monkeypatch.setattr(shellingham, "detect_shell", lambda *args, **kw: ("bash", "/bin/bash"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = run_cli(["--install-completion"], capsys)
    assert code == 0, err
    assert "bash completion installed" in out
    script = (tmp_path / ".bash_completions" / "bokfor.sh").read_text()
    assert "_BOKFOR_COMPLETE=complete_bash" in script
    assert ".bash_completions/bokfor.sh" in (tmp_path / ".bashrc").read_text()


def test_no_color_is_honoured_on_stdout_and_stderr(tmp_path):
    """FORCE_COLOR makes rich colour the progress shown on stderr (and would colour stdout);
    NO_COLOR takes every colour away, as https://no-color.org asks."""
    from .test_progress import MAPPING, peers_file

    path = peers_file(tmp_path, 20_000)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    colour = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7])(?:;[0-9;]*)?m")
    runs = {}
    for name, extra in (
        ("forced", {"FORCE_COLOR": "1"}),
        ("no colour", {"FORCE_COLOR": "1", "NO_COLOR": "1"}),
    ):
        runs[name] = subprocess.run(
            [
                sys.executable,
                "-m",
                "bokfor",
                "plan",
                str(path),
                "-m",
                str(MAPPING),
                "--show",
                "3",
                "--ledger",
                str(tmp_path / f"{name}.sqlite"),
            ],
            capture_output=True,
            text=True,
            env={**env, **extra},
            cwd=REPO,
        )
        assert runs[name].returncode == 0, runs[name].stderr
    assert colour.search(runs["forced"].stderr)  # the test can fail
    assert not colour.search(runs["no colour"].stdout + runs["no colour"].stderr)
    assert "reading " not in runs["no colour"].stdout


def test_plan_format_json_still_works_and_says_it_is_now_json(tmp_path, capsys):
    """`--format` is sie|fortnox on convert; on plan it was table|json, now --json."""
    args = ["plan", str(STRIPE), "-m", str(STRIPE_MAPPING), "--ledger", str(tmp_path / "l.sqlite")]
    code, new, err = run_cli([*args, "--json"], capsys)
    assert (code, err) == (0, "")
    code, old, err = run_cli([*args, "--format", "json"], capsys)
    assert (code, old) == (0, new)
    assert err == "bokfor: warning: plan --format json is deprecated: use --json\n"
    code, out, err = run_cli([*args, "--format", "xml"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "bokfor: error: --format 'xml' must be table or json Fix: plan --json "
        "prints the plan as JSON; --format is going.\n"
    )
    assert "--format" not in run_cli(["plan", "--help"], capsys)[1]


@pytest.mark.parametrize("show", ["0", "2", "all"])
def test_show_lists_that_many_entries_and_counts_the_rest(tmp_path, capsys, show) -> None:
    """--show N lists the first N entries and says how many more there are; --show 0 too
    (a cron run's log still says how many vouchers the run holds)."""
    args = ["plan", str(STRIPE), "-m", str(STRIPE_MAPPING), "--ledger", str(tmp_path / "l.sqlite")]
    code, out, err = run_cli([*args, "--show", show], capsys)
    assert (code, err) == (0, "")
    listed = out.count("│ + │")
    if show == "all":
        assert listed == 29 and "more (--show all lists them)" not in out
    else:
        assert listed == int(show)
        assert f"… and {29 - int(show)} more (--show all lists them)" in out
    assert "Verifikationer" in out
