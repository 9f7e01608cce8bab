"""Command line. Thin: parse options, call the library, show results.

Domain errors become one message and an exit code here, in `main`, and nowhere else:
0 success, 3 nothing new, 2 bad input / mapping / usage, 4 ledger busy, 1 anything else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional, cast

import typer
import typer.main

from bokfor import __version__
from bokfor.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_NOTHING_NEW,
    BokforError,
    OutputError,
    UsageError,
)
from bokfor.outputs import generated, resolved

if TYPE_CHECKING:  # imported where used: the CLI starts without them
    from rich.console import Console

    from bokfor.domain import Row
    from bokfor.ledger import Ledger

# Click's plain help (rich_markup_mode=None): it reflows every paragraph to the terminal,
# reads the same in a pipe, a cron mail and under NO_COLOR, and takes no "[...]" in a help
# text for markup. Completion: `bokfor --install-completion` (bash, zsh, fish, PowerShell).
app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Turn Stripe, bank and POS exports into balanced Swedish vouchers "
    "(SIE 4I files, or posted to Fortnox).",
)
sie_app = typer.Typer(no_args_is_help=True, help="Read and check SIE 4 files.")
mapping_app = typer.Typer(
    no_args_is_help=True, help="Check a YAML mapping, say it in words, or print its schema."
)
ledger_app = typer.Typer(
    no_args_is_help=True, help="Inspect the export ledger, mark imports, undo exports."
)
fortnox_app = typer.Typer(no_args_is_help=True, help="Log in to Fortnox.")
app.add_typer(sie_app, name="sie")
app.add_typer(mapping_app, name="mapping")
app.add_typer(ledger_app, name="ledger")
app.add_typer(fortnox_app, name="fortnox")


class _LazyConsole:
    """A rich Console made on first use: rich's import is ~50 ms of a small run's start,
    and a --quiet run prints nothing (issue 22)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
            if not self._options.get("stderr"):
                self._console.on_broken_pipe = _broken_pipe
        return getattr(self._console, name)


def _broken_pipe() -> None:
    """rich's hook for a reader that went away (`| head`, `less` quit early): the run stops
    with one message, where rich's own exits 1 with none."""
    # What is still buffered for stdout goes nowhere, not into a second error at exit.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise OutputError(
        "the output was closed before bokfor finished printing (a broken pipe): the run "
        "stopped there",
        hint="`bokfor ledger list` shows whether it exported anything; to read a long preview, "
        "send it to a file or through `less`.",
    )


# A cron job run with stdout closed (`>&-`): Python has no sys.stdout; what bokfor prints
# there goes nowhere, and errors still go to stderr.
if sys.stdout is None:
    sys.stdout = open(os.devnull, "w", encoding="utf-8")
# Not a terminal (a pipe, a cron log): rich would assume 80 columns and crush the tables.
_WIDTH = None if sys.stdout.isatty() else 150
out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True, width=_WIDTH))
err = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


def _version(value: bool) -> None:
    if value:
        out.print(f"bokfor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """bokfor: one command from exports to vouchers."""


def _date(text: Optional[str], option: str) -> Optional[dt.date]:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", hint="write YYYY-MM-DD.") from None


def _warn(notices: list) -> None:
    for notice in notices:
        err.print(f"bokfor: warning: {notice}", markup=False)


def _warn_strict(notices: list, strict: bool, warn: Any = _warn) -> None:
    from bokfor.steps import strict_check

    strict_check(notices, strict, warn)


# A metavar on every option that takes a value (FILE, DATE, N): Typer would print its Python
# type instead (`<str>`, `<path>`); see `command` for the rest.
_INPUTS = typer.Argument(
    ...,
    metavar="INPUT",
    help="Export files (Stripe's "
    "balance_history.csv, a bank statement, a Z report…) or directories "
    "holding them; one or more.",
)
_MAPPING = typer.Option(..., "--mapping", "-m", metavar="FILE", help="The YAML mapping.")
_FROM = typer.Option(
    None,
    "--from",
    metavar="DATE",
    help="Book only from this date on (YYYY-MM-DD); earlier rows are counted, not booked.",
)
_TO = typer.Option(
    None,
    "--to",
    metavar="DATE",
    help="Book only up to this date (YYYY-MM-DD); later rows are counted, not booked.",
)
_QUIET = typer.Option(False, "--quiet", "-q", help="Print only errors (cron).")
_JSON = typer.Option(
    False,
    "--json",
    help="Print the result as one JSON document on stdout instead of the tables (cron).",
)
_BANK_ACCOUNT = typer.Option(
    None,
    "--bank-account",
    metavar="NAME",
    help="The bank account of input files that name "
    "none (SEB's, Nordea's, ICA's CSV), as listed under sources.bank.bank_accounts.",
)
_OTHER_ACCOUNT = typer.Option(
    False,
    "--other-account",
    help="Book rows that were exported before under another name "
    "of their bank account (another --bank-account, or none) as another account's.",
)
_SOURCE = typer.Option(
    None,
    "--source",
    metavar="NAME",
    help="Read every input as this "
    "format instead of recognising it (e.g. stripe_balance, camt, netbank).",
)
_SHOW = typer.Option("20", "--show", metavar="N|all", help="How many vouchers to list.")
_LEDGER = typer.Option(
    None, "--ledger", metavar="FILE", help="The export ledger (default: beside the mapping)."
)
_BOOKS = typer.Option(
    None,
    "--books",
    metavar="FILE|fortnox",
    help="The books to compare with: a SIE 4E export, or 'fortnox' to fetch them (GET /3/sie/4).",
)
_TOKEN_FILE = typer.Option(
    None,
    "--token-file",
    metavar="FILE",
    help="Fortnox credentials (default: $FORTNOX_TOKEN_FILE, else ~/.config/bokfor/fortnox.json).",
)
_CORRECT = typer.Option(
    False,
    "--correct",
    help="Book rows changed since their export: a "
    "reversal of the earlier booking and the new booking.",
)
_NEW_ACCOUNTS = typer.Option(
    False, "--allow-new-accounts", help="Allow accounts the --books chart does not have."
)
_WAIT = typer.Option(
    60.0,
    "--wait",
    metavar="SECONDS",
    min=0,
    max=86400,
    help="How long to wait for another run's lock on the ledger (0 to 86400).",
)
_STRICT = typer.Option(
    False,
    "--strict",
    help="Treat the warnings that may mean wrong books "
    "as errors (exit 2), before anything is written or posted: a posting "
    "whose sign looks backwards, a row that may be booked already from "
    "another format of its bank account.",
)


@app.command()
def convert(
    inputs: List[Path] = _INPUTS,
    mapping: Path = _MAPPING,
    out_path: Optional[str] = typer.Option(
        None,
        "--out",
        "-o",
        metavar="FILE",
        help="The SIE file to write (a new directory "
        "with --format fortnox). It may name {from}, {to}, {year}, {run} and {source}, e.g. "
        "'out/bokfor-{run}.si'. A run that spans fiscal years writes one file a year "
        "(out-2025.si, out-2026.si).",
    ),
    out_format: str = typer.Option(
        "sie",
        "--format",
        metavar="sie|fortnox",
        help="What to write: one SIE 4I file, or "
        "a directory with SIE 4I for Fortnox's import and one POST /3/vouchers body per "
        "voucher.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write nothing; show the plan."),
    date_from: Optional[str] = _FROM,
    date_to: Optional[str] = _TO,
    checksum: bool = typer.Option(
        False, "--checksum", help="Add a #KSUMMA checksum to the SIE file."
    ),
    source: Optional[str] = _SOURCE,
    show: str = _SHOW,
    ledger: Optional[Path] = _LEDGER,
    books: Optional[Path] = _BOOKS,
    correct: bool = _CORRECT,
    allow_new_accounts: bool = _NEW_ACCOUNTS,
    wait: float = _WAIT,
    quiet: bool = _QUIET,
    json_out: bool = _JSON,
    token_file: Optional[Path] = _TOKEN_FILE,
    bank_account: Optional[str] = _BANK_ACCOUNT,
    other_account: bool = _OTHER_ACCOUNT,
    strict: bool = _STRICT,
) -> None:
    """Book exports into a SIE 4I file or a Fortnox batch.

    Prints the vouchers first. Rows exported before are never booked again: the export
    ledger remembers each one. Exit 3 when there is nothing new."""
    if out_format not in ("sie", "fortnox"):
        raise UsageError(f"--format {out_format!r} must be sie or fortnox")
    if not dry_run and out_path is None:
        raise UsageError("--out FILE is required (or use --dry-run to only preview)")
    if out_path is not None:
        from bokfor.outputs import fields_of

        fields_of(out_path)  # a bad template is refused before anything is read
    _run(
        inputs,
        mapping,
        out_path=out_path,
        write=not dry_run,
        date_from=date_from,
        date_to=date_to,
        checksum=checksum,
        source=source,
        show=show,
        ledger_path=ledger,
        books=books,
        correct=correct,
        allow_new_accounts=allow_new_accounts,
        wait=wait,
        quiet=quiet,
        json_out=json_out,
        fmt="table",
        diff=False,
        out_format=out_format,
        token_file=token_file,
        bank_account=bank_account,
        strict=strict,
        other_account=other_account,
    )


@app.command()
def plan(
    inputs: List[Path] = _INPUTS,
    mapping: Path = _MAPPING,
    date_from: Optional[str] = _FROM,
    date_to: Optional[str] = _TO,
    source: Optional[str] = _SOURCE,
    show: str = _SHOW,
    ledger: Optional[Path] = _LEDGER,
    books: Optional[Path] = _BOOKS,
    correct: bool = _CORRECT,
    allow_new_accounts: bool = _NEW_ACCOUNTS,
    wait: float = _WAIT,
    diff: bool = typer.Option(
        False,
        "--diff",
        help="Print a unified diff of the period's SIE text, as exported before -> after this run.",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the plan as one JSON document on stdout instead of the tables."
    ),
    html: Optional[Path] = typer.Option(
        None,
        "--html",
        metavar="FILE",
        help="Also write the "
        "plan as a review page: one self-contained HTML file "
        "(every voucher, the sums per account, payouts, "
        "charts) to open in a browser or print.",
    ),
    old_format: Optional[str] = typer.Option(
        None, "--format", hidden=True, help="Deprecated: `--format json` is --json."
    ),
    token_file: Optional[Path] = _TOKEN_FILE,
    bank_account: Optional[str] = _BANK_ACCOUNT,
    other_account: bool = _OTHER_ACCOUNT,
    strict: bool = _STRICT,
) -> None:
    """Show what convert would do, writing nothing.

    Every row is shown against the export ledger: + new, = already exported, ~ changed
    since its export, ! no rule matches. Exit 2 when a row is changed or unmapped."""
    fmt = "json" if json_out else "table"
    if old_format is not None:  # --format meant table|json here, sie|fortnox on convert
        if old_format not in ("table", "json"):
            raise UsageError(
                f"--format {old_format!r} must be table or json",
                hint="plan --json prints the plan as JSON; --format is going.",
            )
        err.print(
            f"bokfor: warning: plan --format {old_format} is deprecated: "
            f"{'use --json' if old_format == 'json' else 'the table is the default'}",
            markup=False,
        )
        if not json_out:
            fmt = old_format
    _run(
        inputs,
        mapping,
        out_path=None,
        write=False,
        date_from=date_from,
        date_to=date_to,
        checksum=False,
        source=source,
        show=show,
        ledger_path=ledger,
        books=books,
        correct=correct,
        allow_new_accounts=allow_new_accounts,
        wait=wait,
        quiet=False,
        json_out=False,
        fmt=fmt,
        diff=diff,
        token_file=token_file,
        bank_account=bank_account,
        strict=strict,
        other_account=other_account,
        html=html,
    )


def _inputs(paths: list[Path]) -> list[Path]:
    """A directory given as an input stands for the input files in it (sorted; hidden and
    half-downloaded files skipped)."""
    from bokfor.client import expand_inputs

    return expand_inputs(paths)


def _run(
    inputs: list[Path],
    mapping_path: Path,
    *,
    out_path: Optional[str],
    write: bool,
    date_from: Optional[str],
    date_to: Optional[str],
    checksum: bool,
    source: Optional[str],
    show: str,
    ledger_path: Optional[Path],
    books: Optional[Path],
    correct: bool,
    allow_new_accounts: bool,
    wait: float,
    quiet: bool,
    json_out: bool,
    fmt: str,
    diff: bool,
    out_format: str = "sie",
    token_file: Optional[Path] = None,
    bank_account: Optional[str] = None,
    strict: bool = False,
    other_account: bool = False,
    html: Optional[Path] = None,
) -> None:
    """plan and convert: the same steps, so a plan and the run after it agree; only
    convert writes (and plan its --html review page)."""
    from bokfor.convert import Job
    from bokfor.ledger import default_path, paused_gc
    from bokfor.mapping import load_mapping

    first, last, limit = _period_and_limit(date_from, date_to, show)
    rules = load_mapping(mapping_path)
    job = Job(
        _inputs(inputs),
        rules,
        mapping_path,
        resolved(ledger_path or default_path(mapping_path)),
        source=source,
        date_from=first,
        date_to=last,
        correct=correct,
        books=books,
        allow_new_accounts=allow_new_accounts,
        wait=wait,
        checksum=checksum,
        generated=generated(rules.timezone),
        fmt=out_format,
        bank_account=bank_account,
        strict=strict,
        other_account=other_account,
        command=_command_line(),
    )
    from bokfor.steps import wire

    client = wire(job, books, token_file)
    progress = _RowsRead() if not quiet and not json_out and err.is_terminal else None
    job.progress = progress
    try:
        with paused_gc():  # a job builds objects a row and frees them at its end
            _carry_out(
                job,
                rules,
                limit,
                out_path=out_path,
                write=write,
                quiet=quiet,
                json_out=json_out,
                fmt=fmt,
                diff=diff,
                first=first,
                last=last,
                strict=strict,
                html=html,
            )
    finally:
        if progress is not None:
            progress.stop()
        client.close()


class _RowsRead:
    """`reading FILE: 1,212,416 rows` on the terminal while a long input is read: shown from
    its first 16,384 rows on (a small file never shows it), gone when the job ends."""

    def __init__(self) -> None:
        self._status: Any = None

    def __call__(self, path: str, rows: int) -> None:
        from rich.text import Text

        text = Text(f"reading {path}: {rows:,} rows")  # a path is no markup
        if self._status is None:
            self._status = err.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _carry_out(
    job: Any,
    rules: Any,
    limit: Optional[int],
    *,
    out_path: Optional[str],
    write: bool,
    quiet: bool,
    json_out: bool,
    fmt: str,
    diff: bool,
    first: Optional[dt.date],
    last: Optional[dt.date],
    strict: bool = False,
    html: Optional[Path] = None,
) -> None:
    from bokfor.outputs import year_label
    from bokfor.report import dumps, period_diff, plan_json, show_plan
    from bokfor.steps import carry_out

    table = not quiet and not json_out and fmt == "table"
    warn = (lambda notices: None) if quiet else _warn

    def shown(plan: Any) -> None:
        if table:
            show_plan(out, plan, rules.accounts, limit)
        if fmt == "json":
            sys.stdout.write(dumps(plan_json(plan)) + "\n")
        if diff:
            sys.stdout.write(period_diff(plan, rules, job.ledger_path, job.generated, first, last))
        if html is not None:  # before the plan is checked: a plan with `!` rows is shown too
            from bokfor.review import write_review

            from bokfor.outputs import kept_files

            own = {**job.own_files(), **kept_files(job.ledger_path)}
            written = write_review(html, plan, rules, job.generated, own=own)
            if table:
                out.print(f"Review page: {written}", markup=False)

    done = carry_out(
        job,
        out_path if write else None,
        strict=strict,
        warn=warn,
        shown=shown,
        exported=limit is None or fmt == "json" or diff or html is not None,
    )
    plan = done.plan
    if done.nothing_new:
        _nothing_new(quiet or (fmt == "json" and not write), json_out, plan)
    if not write:
        if table:
            if out_path is not None:
                for part, path in zip(plan.parts, job.targets(plan, out_path, None), strict=True):
                    out.print(
                        f"Would write {len(part.indices)} verifikationer to {path} "
                        f"(räkenskapsår {year_label(part.year)})",
                        markup=False,
                    )
            out.print("Dry run: nothing written.")
        return
    export_ids, targets = done.export_ids, done.targets
    if json_out:
        outputs = [
            {
                "path": str(path),
                "year": year_label(part.year),
                "export": export_id,
                "vouchers": len(part.indices),
            }
            for part, path, export_id in zip(plan.parts, targets, export_ids, strict=True)
        ]
        sys.stdout.write(
            dumps(
                {
                    "status": "exported",
                    "vouchers": len(plan.to_write),
                    "output": outputs[0]["path"],
                    "export": export_ids[0],
                    "outputs": outputs,
                    "ledger": str(job.ledger_path),
                }
            )
            + "\n"
        )
    elif not quiet:
        for part, path, export_id in zip(plan.parts, targets, export_ids, strict=True):
            n = len(part.indices)
            what = (
                f"{path}: SIE 4I and {n} POST /3/vouchers bodies"
                if job.fmt == "fortnox"
                else str(path)
            )
            out.print(
                f"Wrote {n} verifikationer to {what} (export {export_id} in {job.ledger_path})",
                markup=False,
            )


@app.command()
def push(
    inputs: List[Path] = _INPUTS,
    mapping: Path = _MAPPING,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Plan and pre-flight against Fortnox; post nothing."
    ),
    date_from: Optional[str] = _FROM,
    date_to: Optional[str] = _TO,
    source: Optional[str] = _SOURCE,
    show: str = _SHOW,
    ledger: Optional[Path] = _LEDGER,
    correct: bool = _CORRECT,
    wait: float = _WAIT,
    quiet: bool = _QUIET,
    json_out: bool = _JSON,
    token_file: Optional[Path] = _TOKEN_FILE,
    bank_account: Optional[str] = _BANK_ACCOUNT,
    other_account: bool = _OTHER_ACCOUNT,
    strict: bool = _STRICT,
) -> None:
    """Post the vouchers to Fortnox, each exactly once.

    It makes the same plan as convert, checks that the credentials open the books of the
    mapping's company.orgnr, pre-flights every voucher against Fortnox's registers, then
    posts each voucher (pending -> POST /3/vouchers -> posted, in the ledger). Credentials
    come from the token file `bokfor fortnox login` writes or the FORTNOX_* variables (when
    there are none it says so before it shows the plan); the API's address comes from
    $BOKFOR_FORTNOX_URL."""
    from bokfor.convert import Job
    from bokfor.ledger import default_path
    from bokfor.mapping import load_mapping
    from bokfor.push import (
        base_url,
        bodies,
        prepare,
        push_plan,
        require_orgnr,
        token_provider,
    )
    from bokfor.report import dumps, show_plan
    from bokfor.steps import wire

    first, last, limit = _period_and_limit(date_from, date_to, show)
    rules = load_mapping(mapping)
    require_orgnr(rules.company.orgnr, mapping)  # before reading the inputs
    job = Job(
        _inputs(inputs),
        rules,
        mapping,
        resolved(ledger or default_path(mapping)),
        source=source,
        date_from=first,
        date_to=last,
        correct=correct,
        wait=wait,
        fmt="push",
        bank_account=bank_account,
        strict=strict,
        other_account=other_account,
        command=_command_line(),
    )
    client = wire(job, None, token_file)
    table = not quiet and not json_out
    warn = (lambda notices: None) if quiet else _warn
    where = f"Fortnox ({base_url()})"

    try:
        plan, state = job.plan(exported=limit is None)
        _warn_strict(job.notices + plan.notices, strict, warn)
        token_provider(token_file)  # no credentials: say where they come from, before the plan
        if table:
            show_plan(out, plan, rules.accounts, limit)
        registers = prepare(job, client, plan, where)
        if registers is None:
            _nothing_new(quiet, json_out, plan)
        assert registers is not None
        if dry_run:
            notices: list = []
            items = bodies(plan, registers, notices)
            warn(notices)
            if table:
                out.print(
                    f"Dry run: pre-flight against {where} passed; {len(items)} "
                    "verifikationer would be posted; nothing posted.",
                    markup=False,
                )
            return
        result = push_plan(job, client, plan, state, registers, where, warn)
        if result is None:
            _nothing_new(quiet, json_out)
        assert result is not None
    finally:
        client.close()
    numbers = [p for _, p in result.posted]
    span = (
        (
            f"{numbers[0].series} {numbers[0].number}"
            + (f"..{numbers[-1].number}" if len(numbers) > 1 else "")
        )
        if numbers
        else ""
    )
    rate = len(numbers) / result.seconds if result.seconds > 0 else 0.0
    if json_out:
        sys.stdout.write(
            dumps(
                {
                    "status": "posted",
                    "vouchers": len(numbers),
                    "numbers": [[p.series, p.number, p.year] for p in numbers],
                    "export": result.export_id,
                    "ledger": str(job.ledger_path),
                    "seconds": round(result.seconds, 3),
                    "requests": result.requests,
                }
            )
            + "\n"
        )
    elif not quiet:
        found = f", {result.reconciled} found after an unanswered POST" if result.reconciled else ""
        out.print(
            f"Posted {len(numbers)} verifikationer to {where}: {span} in "
            f"{result.seconds:.1f} s ({rate:.1f}/s, {result.requests} requests{found}) "
            f"(export {result.export_id} in {job.ledger_path})",
            markup=False,
        )


@fortnox_app.command("login")
def fortnox_login(token_file: Optional[Path] = _TOKEN_FILE) -> None:
    """Save Fortnox credentials in the token file and check them.

    The token file is written with mode 0600, after the credentials opened the API. A
    service account first: FORTNOX_CLIENT_ID, FORTNOX_CLIENT_SECRET and FORTNOX_TENANT_ID
    (client credentials); else the refresh-token flow with FORTNOX_REFRESH_TOKEN. Missing
    values are asked for on a terminal, never echoed."""
    from bokfor.fortnox import auth
    from bokfor.fortnox.client import FortnoxClient
    from bokfor.fortnox.errors import FortnoxCredentialsMissing
    from bokfor.fortnox.ratelimit import TokenBucket
    from bokfor.push import ENV_TOKEN_URL, base_url, default_token_file

    path = token_file or default_token_file()
    store = auth.TokenStore(path)
    saved = store.load()
    interactive = sys.stdin.isatty()

    def value(env: str, key: str, prompt: str, secret: bool, required: bool = True) -> str:
        found = os.environ.get(env) or saved.get(key)
        if not found and interactive:
            found = typer.prompt(
                prompt,
                hide_input=secret,
                default="" if not required else None,
                show_default=False,
                err=True,
            )
        if not found and required:
            raise FortnoxCredentialsMissing(
                f"no Fortnox {prompt.lower()}: {env} is not set",
                hint=f"set {env} (and the "
                f"other FORTNOX_* variables) or run `bokfor fortnox login` on a terminal.",
            )
        return str(found or "")

    client_id = value(auth.ENV_CLIENT_ID, "client_id", "Client id", False)
    client_secret = value(auth.ENV_CLIENT_SECRET, "client_secret", "Client secret", True)
    tenant_id = value(
        auth.ENV_TENANT_ID, "tenant_id", "TenantId (empty: refresh token)", False, required=False
    )
    token_url = os.environ.get(ENV_TOKEN_URL) or auth.TOKEN_URL
    provider: Any
    if tenant_id:
        provider = auth.ClientCredentials(client_id, client_secret, tenant_id, token_url=token_url)
        provider()  # refused credentials stop here, before anything is saved
        store.save({"client_id": client_id, "client_secret": client_secret, "tenant_id": tenant_id})
        how = f"a service account (TenantId {tenant_id})"
    else:
        refresh = value(auth.ENV_REFRESH_TOKEN, "refresh_token", "Refresh token", True)
        with store.lock:
            store.save(
                {"client_id": client_id, "client_secret": client_secret, "refresh_token": refresh}
            )
        provider = auth.RefreshToken(client_id, client_secret, store, token_url=token_url)
        provider()  # spends the refresh token; the rotated one is saved before use
        how = (
            "the refresh-token flow (the token rotates on every refresh; it lapses after "
            "45 days unused)"
        )
    with FortnoxClient(base_url(), provider, TokenBucket()) as api:
        years = api.financial_years()
    out.print(
        f"Logged in to Fortnox at {base_url()} with {how}: {len(years)} financial "
        f"years visible. Credentials saved in {path} (mode 0600).",
        markup=False,
    )


def _period_and_limit(
    date_from: Optional[str], date_to: Optional[str], show: str
) -> tuple[Optional[dt.date], Optional[dt.date], Optional[int]]:
    """--from/--to as dates (in order) and --show as a row limit (None: all)."""
    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    if first and last and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if show != "all" and not show.isdigit():
        raise UsageError(f"--show {show!r} must be a number or 'all'")
    return first, last, None if show == "all" else int(show)


def _nothing_new(quiet: bool, json_out: bool, plan: Any = None) -> None:
    """Exit 3, saying why nothing was written (report.nothing_new)."""
    from bokfor.report import nothing_new

    reason, text = nothing_new(plan)
    if json_out:
        sys.stdout.write(
            json.dumps({"status": "nothing-new", "vouchers": 0, "reason": reason}) + "\n"
        )
    elif not quiet:
        out.print(text, markup=False)
    raise typer.Exit(EXIT_NOTHING_NEW)


@app.command()
def reconcile(
    inputs: List[Path] = typer.Argument(
        ...,
        metavar="INPUT",
        help="Stripe exports with "
        "payout ids (the balance export, the payout "
        "reconciliation report).",
    ),
    mapping: Optional[Path] = typer.Option(
        None,
        "--mapping",
        "-m",
        metavar="FILE",
        help="A mapping, for the time zone of dates (default Europe/Stockholm).",
    ),
    source: Optional[str] = typer.Option(
        None,
        "--source",
        metavar="NAME",
        help="Read every "
        "input as this format instead of recognising it "
        "(stripe_balance, stripe_report or settlement).",
    ),
    payouts: Optional[Path] = typer.Option(
        None,
        "--payouts",
        metavar="FILE",
        help="The payouts export, for payout amounts the inputs lack (Reports).",
    ),
    summary: Optional[Path] = typer.Option(
        None,
        "--summary",
        metavar="FILE",
        help="The balance summary report: its activity and payouts must match.",
    ),
    bank: Optional[List[Path]] = typer.Option(
        None,
        "--bank",
        metavar="FILE",
        help="A bank statement (camt, MT940, net-bank CSV…) "
        "to find the bank line that received each payout in; may be given again.",
    ),
) -> None:
    """Check that every Stripe payout adds up, to the öre.

    It shows per payout the sales, fees, refunds, disputes, net, payout and the difference
    (which must be 0,00), and with --bank the bank line that received it. Exit 2 when any payout, or the
    balance summary, does not add up, or a payout that should be in the bank file is not."""
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from bokfor.errors import InputError
    from bokfor.mapping import load_mapping
    from bokfor.money import format_sek
    from bokfor.reconcile import match_bank, payout_amounts, summary_differences
    from bokfor.domain import Row
    from bokfor.reconcile import reconcile as run
    from bokfor.sources import detect_source, get_source, stripe_payouts
    from bokfor.sources.stripe_summary import read_summary

    rules = load_mapping(mapping) if mapping else None
    tz = rules.timezone if rules else ZoneInfo("Europe/Stockholm")
    amounts = payout_amounts(stripe_payouts.SOURCE.read(payouts, tz)) if payouts else None
    control = read_summary(summary) if summary else None
    bank_rows = _bank_rows(bank or [], tz, rules.formats if rules else None)
    failed: list[str] = []
    unbanked: list[str] = []  # payouts the bank file should hold but does not
    for path in inputs:
        src = get_source(source) if source else detect_source(path)
        if "per_payout" not in src.schema.group_keys:
            raise InputError(
                f"{src.title} has no payout ids to reconcile",
                file=str(path),
                hint="use the balance export or the payout reconciliation report.",
            )
        # The readers with payout ids yield no notices today; one would not be a row.
        result = run((r for r in src.read(path, tz) if isinstance(r, Row)), src.schema, amounts)
        matched = match_bank(result.payouts, bank_rows) if bank else None
        table = Table(title=f"Utbetalningar: {path}", header_style="bold")
        for name in (
            "Utbetalning",
            "Datum",
            "Försäljning",
            "Avgifter",
            "Återbet.",
            "Tvister",
            "Övrigt",
            "Netto",
            "Utbetalt",
            "Differens",
            *(["Bankrad"] if bank else []),
        ):
            table.add_column(
                name, justify="left" if name in ("Utbetalning", "Datum", "Bankrad") else "right"
            )
        for p in result.payouts:
            line = []
            if matched is not None:
                row = matched.matched.get(p.payout_id)
                line = [
                    f"{row.date} {Path(row.origin.file).name}:{row.origin.line}"
                    if row
                    else "saknas"
                    if p in matched.missing
                    else "–"
                ]
            table.add_row(
                p.payout_id,
                str(p.date or ""),
                format_sek(p.charges),
                format_sek(p.fees),
                format_sek(p.refunds),
                format_sek(p.disputes),
                format_sek(p.other),
                format_sek(p.net),
                "?" if p.payout is None else format_sek(p.payout + p.payout_fee),
                "?" if p.difference is None else format_sek(p.difference),
                *line,
            )
        out.print(table)
        if matched is not None:
            unbanked += [
                f"  {path}: {p.payout_id} ({p.date}, {format_sek(p.payout or 0)}): no bank line"
                for p in matched.missing
            ]
            if matched.outside:
                out.print(
                    f"{len(matched.outside)} payouts (–) were sent too close to the bank "
                    f"file's period ({matched.first} – {matched.last}) to check.",
                    markup=False,
                )
            for row in matched.unexplained:
                err.print(
                    f"bokfor: warning: {row.origin}: bank line from Stripe "
                    f"{format_sek(row.amounts['amount'])} on {row.date} matches no payout "
                    f"of {path}",
                    markup=False,
                )
            if not matched.missing:
                out.print(f"{len(matched.matched)} payouts found in the bank file.", markup=False)
        if result.unpaid:
            out.print(
                f"{result.unpaid} rows not yet paid out (net {format_sek(result.unpaid_net)})",
                markup=False,
            )
        failed += [
            f"  {path}: {p.payout_id}: net {format_sek(p.net)}, paid out "
            f"{format_sek((p.payout or 0) + p.payout_fee)}, difference "
            f"{format_sek(p.difference or 0)}"
            for p in result.off
        ]
        if result.unchecked:
            out.print(
                f"{len(result.unchecked)} payouts (?) are not in this export: give the "
                "payouts export with --payouts to check them.",
                markup=False,
            )
        elif not result.off:
            out.print(f"All {len(result.payouts)} payouts add up (difference 0,00).", markup=False)
        if control is not None:
            off = summary_differences(result, control.activity, control.payouts, amounts)
            failed += [f"  {path} vs {summary}: {line}" for line in off]
            if not off:
                out.print(
                    f"Matches the balance summary {summary} (activity "
                    f"{format_sek(control.activity)}).",
                    markup=False,
                )
    if failed or unbanked:
        hints = []
        if failed:
            hints.append(
                "rows are missing from the export or it was edited. A payout also "
                "sweeps rows from before a report's period: reconcile payouts with "
                "the payout reconciliation report."
            )
        if unbanked:
            hints.append(
                "a payout the bank file should hold is not in it (same amount, a "
                "text naming Stripe, within a week): check in Stripe which bank "
                "account it went to, and give that account's statement."
            )
        count = len(failed) + len(unbanked)
        raise InputError(
            f"{count} {'checks do' if count > 1 else 'check does'} not add up",
            hint=" ".join(hints),
            details=failed + unbanked,
        )


def _bank_rows(paths: list[Path], tz: Any, formats: Any = None) -> list[Row]:
    """The rows of bank statements (any bank format, the mapping's own layouts too); their
    warnings are printed."""
    from bokfor.domain import Notice
    from bokfor.errors import InputError
    from bokfor.sources import bank as bank_rows
    from bokfor.sources import detect_source

    rows: list[Row] = []
    notices: list[Notice] = []
    for path in paths:
        src = detect_source(path, formats)
        if src.section != bank_rows.SECTION:
            raise InputError(
                f"--bank needs a bank statement, not a {src.title}",
                file=str(path),
                hint="give the bank's camt.053, MT940 or net-bank export.",
            )
        for item in src.read(path, tz):
            if isinstance(item, Notice):
                notices.append(item)
            else:
                rows.append(item)
    _warn(notices)
    return rows


@sie_app.command("check")
def sie_check(
    file: Path = typer.Argument(..., metavar="FILE", help="A SIE 4 file (.se, .si)."),
) -> None:
    """Check a SIE 4 file and print a summary of it.

    Every voucher must balance and #KSUMMA, when there is one, must match."""
    from bokfor.money import format_sek
    from bokfor.sie.reader import read

    result = read(file)
    _warn(result.notices)
    doc = result.document
    out.print(
        f"{file}: SIE {doc.sie_type}, {result.encoding}, checksum {result.checksum}", markup=False
    )
    orgnr = f" ({doc.company.orgnr})" if doc.company.orgnr else ""
    out.print(f"Företag: {doc.company.name}{orgnr}", markup=False)
    for year in doc.fiscal_years:
        out.print(f"Räkenskapsår {year.index}: {year.start} – {year.end}", markup=False)
    out.print(f"Konton: {len(doc.accounts)}  Verifikationer: {len(doc.vouchers)}")
    sys.stdout.writelines(  # plain writes: a year of vouchers is tens of thousands of lines
        f"  {v.series} {'' if v.number is None else v.number} {v.date} {v.text!r}: debet "
        f"{format_sek(v.debit)}, kredit {format_sek(v.credit)}, balans {format_sek(v.balance)}\n"
        for v in doc.vouchers
    )
    out.print("OK")


@mapping_app.command("check")
def mapping_check(
    file: Path = typer.Argument(..., metavar="FILE", help="The YAML mapping."),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Treat a posting whose "
        "sign is backwards on every row its rule "
        "matches as an error (exit 2), not a warning.",
    ),
) -> None:
    """Check a mapping before it books anything.

    It checks keys, accounts, VAT, templates, the balance of every rule and whether it can
    match, and warns of a posting whose sign is backwards on every row its rule matches."""
    from bokfor.mapping import load_mapping
    from bokfor.plausibility import mapping_warnings

    m = load_mapping(file)
    _warn_strict(mapping_warnings(m), strict)
    rules = sum(len(s.rules) for s in m.sources.values())
    out.print(
        f"{file}: OK — {m.company.name}, {len(m.sources)} source(s), {rules} rule(s), "
        f"{len(m.accounts)} accounts",
        markup=False,
    )


@mapping_app.command("explain")
def mapping_explain(
    file: Path = typer.Argument(..., metavar="FILE", help="The YAML mapping."),
    html: Optional[Path] = typer.Option(
        None,
        "--html",
        metavar="OUT",
        help="Write it as a self-contained "
        "HTML page (the systemdokumentation to keep with the books) instead "
        "of printing it.",
    ),
) -> None:
    """Say the mapping in words: the systemdokumentation.

    For each source: which rows (the rules' conditions) go to which accounts, with what
    moms and kostnadsställe, how rows are grouped into verifikationer, what happens to rows
    no rule matches; and the company, its räkenskapsår and accounts."""
    from bokfor.explain import as_text, blocks, write_explained
    from bokfor.mapping import load_mapping

    m = load_mapping(file)
    if html is None:
        sys.stdout.write(as_text(blocks(m)))
        return
    from bokfor.ledger import default_path
    from bokfor.outputs import kept_files

    own = kept_files(default_path(file), file)
    out.print(f"Wrote {write_explained(html, m, own)}", markup=False)


@mapping_app.command("schema")
def mapping_schema() -> None:
    """Print the mapping's JSON Schema.

    Editors use it to complete and check a mapping while it is written."""
    from bokfor.mapping import json_schema

    sys.stdout.write(json_schema() + "\n")


def _ledger_at(ledger: Optional[Path], mapping: Optional[Path]) -> Ledger:
    from bokfor.ledger import Ledger, LedgerError, default_path

    if ledger is None:
        if mapping is None:
            raise UsageError("name the ledger with --ledger PATH or --mapping FILE")
        ledger = default_path(mapping)
    path = resolved(ledger)
    if not path.exists():
        raise LedgerError(
            "no ledger here yet: nothing has been exported with it",
            file=str(path),
            hint="check --ledger / --mapping.",
        )
    return Ledger.open(path)


_LEDGER_OPT = typer.Option(None, "--ledger", metavar="FILE", help="The export ledger.")
_LEDGER_MAPPING = typer.Option(
    None, "--mapping", "-m", metavar="FILE", help="The mapping whose ledger (beside it) to use."
)


@ledger_app.command("list")
def ledger_list(
    ledger: Optional[Path] = _LEDGER_OPT, mapping: Optional[Path] = _LEDGER_MAPPING
) -> None:
    """List the exports.

    One line each: id, time, state, period, vouchers, rows and the file written."""
    book = _ledger_at(ledger, mapping)
    for e in book.exports():
        state = "imported" if e.imported else e.state
        out.print(
            f"{e.id:>4}  {e.created}  {state:<8}  {e.first_date}..{e.last_date}  "
            f"{e.vouchers:>6} verifikationer  {e.rows:>8} rows  {e.target}",
            markup=False,
        )


@ledger_app.command("verify")
def ledger_verify(
    ledger: Optional[Path] = _LEDGER_OPT, mapping: Optional[Path] = _LEDGER_MAPPING
) -> None:
    """Check the ledger and the files bokfor wrote.

    The ledger must pass SQLite's integrity check; every file must be there with the sha256
    it was written with; exit 2 naming what is not. (Every run checks the recent files
    cheaply.)"""
    from bokfor.convert import file_notices
    from bokfor.errors import InputError
    from bokfor.ledger import LedgerError

    book = _ledger_at(ledger, mapping)
    damage = book.damage()
    if damage:
        raise LedgerError(
            "the ledger is damaged: SQLite's integrity check fails",
            file=str(book.path),
            hint="restore the ledger from a backup (an archive's copy, `bokfor archive pack`); "
            "a damaged ledger may hide rows already exported, which would be booked again.",
            details=[f"  {m}" for m in damage],
        )
    missing = book.missing_files(thorough=True)
    checked = [e for e in book.exports() if e.state == "done" and e.kind != "fortnox-push"]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(checked)} written files are not as bokfor wrote them",
            file=str(book.path),
            hint="a file deleted before it was imported: forget its export and "
            "convert again; a changed file: import only what bokfor wrote.",
            details=[f"  {n}" for n in file_notices(missing, book)],
        )
    out.print(f"{len(checked)} written files checked: each is there with its sha256.", markup=False)


@ledger_app.command("imported")
def ledger_imported(
    export_ids: List[int] = typer.Argument(
        ...,
        metavar="EXPORT",
        help="The ids of the exports whose files you imported (`bokfor ledger list`).",
    ),
    ledger: Optional[Path] = _LEDGER_OPT,
    mapping: Optional[Path] = _LEDGER_MAPPING,
) -> None:
    """Record that exports' files were imported into the books.

    bokfor then no longer warns when those files are moved or deleted (`ledger verify` and
    every run)."""
    from bokfor.ledger import Ledger

    book = _ledger_at(ledger, mapping)
    book.close()
    with Ledger.lock(book.path, 60):
        marked = Ledger.open(book.path, write=True).mark_imported(export_ids)
    for e in marked:
        out.print(
            f"Export {e.id} ({e.target}) is imported: its file may be archived.", markup=False
        )


@ledger_app.command("show")
def ledger_show(
    key: str = typer.Argument(..., metavar="KEY", help="A row's key, e.g. stripe:txn_…"),
    ledger: Optional[Path] = _LEDGER_OPT,
    mapping: Optional[Path] = _LEDGER_MAPPING,
) -> None:
    """Show how one source row was exported.

    Its content, the lines it was booked to, their voucher and the export."""
    from bokfor.ledger import LedgerError
    from bokfor.money import format_sie
    from bokfor.plan import content_dict
    from bokfor.sources import get_source

    book = _ledger_at(ledger, mapping)
    row = book.row(key)
    if row is None:
        skipped = book.skipped_reason(key)
        if skipped is not None:
            raise LedgerError(
                f"row {key!r} has not been exported: {skipped[0]} (read at {skipped[1]})",
                file=str(book.path),
                hint="`bokfor underlag` lists every row read and not booked, with why.",
            )
        raise LedgerError(
            f"row {key!r} has not been exported",
            file=str(book.path),
            hint="keys look like stripe:txn_…; `bokfor plan` shows a file's keys.",
        )
    export = book.export_of_row(key)
    voucher = book.vouchers([row.voucher_id])[row.voucher_id]
    out.print(f"{key}  from {row.origin}", markup=False)
    source = book.source_of(key)
    amounts = get_source(source).schema.amounts if source else {}
    out.print(
        "content: " + ", ".join(f"{k}={v}" for k, v in content_dict(row.content, amounts).items()),
        markup=False,
    )
    for line in row.lines:
        out.print(
            f"  {line.account} {format_sie(line.amount):>12} {dict(line.dims) or ''}", markup=False
        )
    out.print(f"in verifikation {voucher.series} {voucher.date} {voucher.text!r}", markup=False)
    rule, read = book.trail_of(key)
    out.print(f"rule: {rule or '(recorded before bokfor kept the trail)'}", markup=False)
    if read:
        out.print(f"read from {read[0]} (sha256 {read[1]})", markup=False)
    if export:
        out.print(
            f"export {export.id} ({export.state}) {export.created} -> {export.target} "
            f"sha256 {export.sha256[:16]}…",
            markup=False,
        )


@app.command()
def underlag(
    out_path: Path = typer.Option(
        ...,
        "--out",
        "-o",
        metavar="FILE",
        help="The HTML page to write; the CSV goes beside it (same name, .csv).",
    ),
    date_from: Optional[str] = typer.Option(
        None, "--from", metavar="DATE", help="Verifikationer dated from this day on."
    ),
    date_to: Optional[str] = typer.Option(
        None, "--to", metavar="DATE", help="Verifikationer dated up to this day."
    ),
    export: Optional[int] = typer.Option(
        None, "--export", metavar="N", help="Only this export's (`bokfor ledger list`)."
    ),
    verifikation: Optional[str] = typer.Option(
        None,
        "--verifikation",
        metavar="E:N",
        help="Only this verifikation: the N-th of export E (as the underlag names it).",
    ),
    pdf: Optional[Path] = typer.Option(
        None, "--pdf", metavar="FILE", help="Also print the page to PDF (needs Chromium)."
    ),
    mapping: Path = _MAPPING,
    ledger: Optional[Path] = _LEDGER_OPT,
) -> None:
    """Write the underlag: each verifikation with its source rows.

    Per verifikation its lines and the rows it holds (file, sha256, line, key, the rule that
    booked each) and whether they add up to it exactly; per run who ran which command with
    which mapping version on which files, and every row read and not booked with why; the
    mapping's versions with their diffs. A self-contained HTML page (prints on A4) and CSV."""
    from bokfor.mapping import load_mapping
    from bokfor.outputs import kept_files
    from bokfor.trail import read_trail
    from bokfor.underlag import write_underlag

    first, last, _ = _period_and_limit(date_from, date_to, "all")
    number = None
    if verifikation is not None:
        parts = verifikation.partition(":")
        if not (parts[0].isdigit() and parts[1] and parts[2].isdigit()):
            raise UsageError(
                f"--verifikation {verifikation!r} must be EXPORT:N, e.g. 3:17",
                hint="the underlag names each verifikation so (export 3, its 17th).",
            )
        export, number = int(parts[0]), int(parts[2])
    rules = load_mapping(mapping)
    book = _ledger_at(ledger, mapping)
    try:
        with book.snapshot():  # one state of the ledger, read as the files are written
            trail = read_trail(book, first=first, last=last, export=export, number=number)
            if not trail.count:
                raise UsageError(
                    "no exported verifikationer in that period"
                    + (f" of export {export}" if export is not None else "")
                    + (f" named {verifikation}" if verifikation is not None else ""),
                    file=str(book.path),
                    hint="`bokfor ledger list` shows the exports and their periods.",
                )
            scope = (
                f"verifikation {verifikation}"
                if verifikation is not None
                else f"export {export}"
                if export is not None
                else "alla exporter"
            )
            title = f"Period: {first or 'början'} – {last or 'slutet'}, {scope}"
            written = write_underlag(
                out_path, trail, rules, title, kept_files(book.path, mapping), pdf
            )
    finally:
        book.close()
    out.print(
        f"Wrote the underlag of {trail.count} verifikationer: "
        + ", ".join(str(p) for p in written),
        markup=False,
    )


archive_app = typer.Typer(
    help="Pack a räkenskapsår for the archive, or check an archive.",
    no_args_is_help=True,
)
app.add_typer(archive_app, name="archive")


@archive_app.command("pack")
def archive_pack(
    year: int = typer.Argument(
        ..., metavar="YEAR", help="The räkenskapsår that begins in this year, e.g. 2026."
    ),
    out_path: Path = typer.Option(..., "--out", "-o", metavar="FILE", help="The .zip to write."),
    inputs: List[Path] = typer.Option(
        [],
        "--inputs",
        metavar="DIR",
        help="A folder where received files are now (searched by sha256); may be repeated.",
    ),
    mapping: Path = _MAPPING,
    ledger: Optional[Path] = _LEDGER_OPT,
) -> None:
    """Pack a räkenskapsår for the seven-year archive.

    One zip: the files received, unchanged; the files written; the underlag; the mapping
    versions and the systemdokumentation; the ledger; and SHA256SUMS of them all."""
    from bokfor.archive import pack
    from bokfor.mapping import load_mapping
    from bokfor.outputs import kept_files

    rules = load_mapping(mapping)
    book = _ledger_at(ledger, mapping)
    try:
        packed = pack(book, rules, year, out_path, inputs, kept_files(book.path, mapping))
    finally:
        book.close()
    out.print(
        f"Wrote {packed.path}: {packed.files} files and their SHA256SUMS, {packed.size:,} bytes; "
        f"SHA256SUMS sha256 {packed.manifest_sha256}",
        markup=False,
    )


@archive_app.command("verify")
def archive_verify(
    archive: Path = typer.Argument(..., metavar="FILE", help="The .zip `bokfor archive` wrote."),
) -> None:
    """Check an archive against its SHA256SUMS.

    Every file must have the sha256 the manifest lists, and nothing else may be there; exit 2
    naming each file that differs."""
    from bokfor.archive import verify

    count = verify(archive)
    out.print(f"{archive}: {count} files, each with the sha256 its manifest lists.", markup=False)


@ledger_app.command("forget")
def ledger_forget(
    export_id: int = typer.Argument(
        ..., metavar="EXPORT", help="The export's id (`bokfor ledger list`)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Really forget it."),
    ledger: Optional[Path] = _LEDGER_OPT,
    mapping: Optional[Path] = _LEDGER_MAPPING,
) -> None:
    """Forget an export whose import was undone in the books.

    Once the import is undone in the books (e.g. with Fortnox's "Ångra SIE"), the export's
    rows count as new again and the next convert books them. Without --yes it only says
    what it would forget."""
    from bokfor.ledger import Ledger, LedgerError

    book = _ledger_at(ledger, mapping)
    record = next((e for e in book.exports() if e.id == export_id), None)
    if record is None:
        raise LedgerError(
            f"no export {export_id} in the ledger",
            file=str(book.path),
            hint="`bokfor ledger list` shows the exports.",
        )
    if not yes:
        out.print(
            f"Would forget export {export_id}: {record.vouchers} verifikationer, "
            f"{record.rows} rows, {record.target}. Add --yes to do it.",
            markup=False,
        )
        return
    book.close()
    with Ledger.lock(book.path, 60):
        _, (again, restored) = Ledger.open(book.path, write=True).forget(export_id)
    said = [f"{again} of its rows will be booked again by the next convert"] if again else []
    if restored:
        said.append(f"{restored} go back to their earlier booking (they show as changed, ~)")
    out.print(
        f"Forgot export {export_id}: "
        + "; ".join(
            said
            or [
                "a later correction holds its rows; forgetting that one too gives them back "
                "the booking they had before this export"
            ]
        )
        + ".",
        markup=False,
    )


@ledger_app.command("settle")
def ledger_settle(
    key: str = typer.Argument(..., metavar="KEY", help="The push's bokfor key (bokfor:…)."),
    series: str = typer.Argument(..., metavar="SERIES", help="The Fortnox voucher series."),
    number: int = typer.Argument(..., metavar="NUMBER", help="The Fortnox voucher number."),
    ledger: Optional[Path] = _LEDGER_OPT,
    mapping: Optional[Path] = _LEDGER_MAPPING,
) -> None:
    """Record a pending push as posted as SERIES NUMBER.

    Use it when Fortnox was found to hold several vouchers with the push's key and you
    decided which one counts."""
    from bokfor.ledger import Ledger, LedgerError

    book = _ledger_at(ledger, mapping)
    found = [p for p in book.pushes(state="pending") if p.key == key]
    book.close()
    if not found:
        raise LedgerError(
            f"no pending push with key {key!r}",
            file=str(book.path),
            hint="`bokfor ledger list` shows the exports; keys are in the "
            "error that sent you here.",
        )
    with Ledger.lock(book.path, 60):
        writer = Ledger.open(book.path, write=True)
        try:
            writer.push_posted(found[0].voucher_id, series, number, found[0].year_id)
            writer.finish_push(found[0].export_id)
        finally:
            writer.close()
    out.print(f"Recorded {key} as posted: {series} {number}.", markup=False)


@app.command()
def init(
    path: Path = typer.Argument(
        Path("mapping.yaml"),
        metavar="FILE",
        help="Where to write "
        "the starter mapping (not bokfor.yaml: that name is a client "
        "folder's config).",
    ),
    client: Optional[Path] = typer.Option(
        None,
        "--client",
        metavar="DIR",
        help="Make a client folder for `bokfor run` instead: "
        "bokfor.yaml, mapping.yaml and the folders inbox, out, archive, rejected and reports.",
    ),
    kind: Optional[str] = typer.Option(
        None,
        "--kind",
        metavar="stripe|bank|pos",
        help="The starter mapping: the example mapping of that kind.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a starter mapping, or make a client folder (--client)."""
    from bokfor.client import init_client, starter_text
    from bokfor.fileio import atomic_write

    if client is not None:
        written = init_client(client, kind, force=force)
        out.print(
            f"Made the client folder {client}: {written[0].name}, {written[1].name} "
            f"({kind or 'generic'} starter) and inbox/, out/, archive/, rejected/, "
            f"reports/. Next: edit {written[1]} (company, accounts, rules), then "
            f"`bokfor mapping check {written[1]}`; put the files to book in "
            f"{client / 'inbox'} and run `bokfor run {client}`.",
            markup=False,
        )
        return
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="choose another path or add --force.")
    atomic_write(path, starter_text(kind))
    out.print(f"Wrote {path}. Next: edit it, then `bokfor mapping check {path}`.", markup=False)


@app.command("run")
def run_clients(
    folders: List[Path] = typer.Argument(
        ...,
        metavar="DIR",
        help="Client folders, each with a bokfor.yaml (`bokfor init --client DIR` makes one).",
    ),
    jobs: Optional[int] = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        metavar="N",
        help="How many clients to run at once, each in a "
        "process of its own (default: the number of cores).",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print only what needs a person: errors and rejected files (cron mails only that).",
    ),
    json_out: bool = typer.Option(
        False,
        "--json",
        help="Print the summary as one JSON "
        "document (docs/run.schema.json), also when a client "
        "failed.",
    ),
) -> None:
    """Book what arrived in the inbox of each client folder.

    Each inbox is booked as convert (or push) would book it; the inputs are filed in
    archive/ or rejected/ (with a note why) and each client gets a run report. Exit 0 when every client ended well (nothing to
    do and nothing new are well), 2 when a client has something to fix, 1 on a bug."""
    from bokfor.nightly import run_clients as run_all

    if jobs is None:
        jobs = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    summary = run_all(folders, jobs)
    for c in summary["clients"]:
        _client_messages(c, quiet)
    if json_out:
        from bokfor.report import dumps

        sys.stdout.write(dumps(summary) + "\n")
    elif not quiet:
        _summary_table(summary)
    if summary["exit"]:
        raise typer.Exit(summary["exit"])


def _client_messages(c: dict, quiet: bool) -> None:
    """On stderr, what needs a person (always) and the warnings (unless quiet)."""
    name = c["client"]
    for error in c["errors"]:
        err.print(f"bokfor: error: {name}: {error}", markup=False)
    for f in c["files"]:
        if f["status"] == "rejected":
            why = "" if any(e.startswith(f["error"]) for e in c["errors"]) else f": {f['error']}"
            err.print(
                f"bokfor: error: {name}: {f['name']} rejected, moved to {f['to']} "
                f"(why: {Path(f['note']).name}){why}",
                markup=False,
            )
    if not quiet:
        for warning in c["warnings"]:
            err.print(f"bokfor: warning: {name}: {warning}", markup=False)


def _summary_table(summary: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold")
    for column in (
        "Client",
        "Status",
        "Files",
        "New vouchers",
        "Nothing new",
        "Rejected",
        "Errors",
        "Outputs",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("Files", "New vouchers", "Nothing new", "Rejected", "Errors")
            else "left",
        )
    for c in summary["clients"]:
        table.add_row(
            Text(c["client"]),
            c["status"],
            str(len(c["files"])),  # names: no markup
            str(c["vouchers"]),
            str(c["nothing_new"]),
            str(c["rejected"]),
            str(len(c["errors"])),
            Text(
                "\n".join(  # in the client's folder: short
                    os.path.relpath(o["path"], c["folder"])
                    if o["path"].startswith(c["folder"] + os.sep)
                    else o["path"]
                    for o in c["outputs"]
                )
            ),
        )
    out.print(table)
    t = summary["totals"]
    out.print(
        f"{t['clients']} clients, {t['files']} files: {t['vouchers']} new vouchers, "
        f"{t['nothing_new']} files with nothing new, {t['rejected']} rejected, "
        f"{t['errors']} errors ({summary['seconds']:.1f} s, {summary['jobs']} at once).",
        markup=False,
    )


def command() -> Any:
    """The click command tree of `app`, as `bokfor` runs it and its help shows it.

    Typer 0.29 prints every argument's Python type beside its name (`INPUT <list[Path]>`);
    the metavar says what to give, so the type is left out. An option that takes a value and
    names no metavar gets its name in capitals, as click does (`--kind KIND`)."""
    from typer.core import TyperArgument, TyperOption

    def polish(cmd: Any) -> None:
        for param in cmd.params:
            if isinstance(param, TyperArgument):
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            if param.metavar is None and (
                isinstance(param, TyperArgument)
                or (isinstance(param, TyperOption) and not param.is_flag)
            ):
                param.metavar = (param.name or "").upper()
        for sub in getattr(cmd, "commands", {}).values():
            polish(sub)

    root = typer.main.get_command(app)
    polish(root)
    return root


_ARGS: list[str] = []  # of this process's command (main), for the trail


def _command_line() -> str:
    """The command as run, for the ledger's record of the run (a secret never is an
    argument: tokens are read from files)."""
    import shlex

    return shlex.join(["bokfor", *_ARGS])


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: the one place that turns errors into messages and exit codes.

    Typer reports its own usage errors (unknown option, missing argument) with exit code 2;
    everything bokfor raises is caught here."""
    args = sys.argv[1:] if argv is None else argv
    _ARGS[:] = args
    debug = "--debug" in args
    # A terminal or cron job whose encoding cannot show every character (a Latin-1 or
    # ASCII locale, a Windows console) gets '?' for those, not an error after half a table;
    # stderr an escape (Python's default for it, made sure of where stderr was replaced:
    # a file name that is not UTF-8 text is named in messages as \udce5).
    for stream, errors in ((sys.stdout, "replace"), (sys.stderr, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=errors)
    try:
        command()(args=args, prog_name="bokfor")
    except BokforError as exc:
        if debug:
            raise
        err.print(f"bokfor: error: {exc.render()}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("bokfor: interrupted", markup=False)
        sys.exit(EXIT_FAILURE)
    except Exception as exc:  # a bug: say so, without a traceback unless asked
        if debug:
            raise
        sqlite3 = sys.modules.get("sqlite3")  # imported if any SQLite file was read
        # A damaged file, not a busy or full one (OperationalError: "database is locked",
        # "disk I/O error"), for which a backup is no answer.
        if (
            sqlite3 is not None
            and isinstance(exc, sqlite3.DatabaseError)
            and not isinstance(exc, sqlite3.OperationalError)
        ):
            err.print(
                f"bokfor: error: an SQLite file of the run cannot be read: {exc} Fix: "
                "`bokfor ledger verify` checks the export ledger; if it is damaged, restore it "
                "from a backup.",
                markup=False,
                soft_wrap=True,
            )
            sys.exit(EXIT_BAD_INPUT)
        err.print(
            f"bokfor: internal error: {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback and report it)",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_FAILURE)
