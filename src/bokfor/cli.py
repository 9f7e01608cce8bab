"""Command line. Thin: parse options, call the library, show results.

Domain errors become one message and an exit code here, in `main`, and nowhere else:
0 success, 2 bad input / mapping / usage, 1 anything else (I/O failure, bug).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from importlib import resources
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from bokfor import __version__
from bokfor.errors import EXIT_FAILURE, BokforError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Stripe, bank and POS files -> balanced Swedish vouchers (SIE 4).")
sie_app = typer.Typer(no_args_is_help=True, help="Read and check SIE 4 files.")
mapping_app = typer.Typer(no_args_is_help=True, help="Check the YAML mapping; print its schema.")
app.add_typer(sie_app, name="sie")
app.add_typer(mapping_app, name="mapping")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"bokfor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version."),
) -> None:
    """bokfor: one command from exports to vouchers."""


def _date(text: Optional[str], option: str) -> Optional[dt.date]:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", hint="write YYYY-MM-DD.") from None


def _generated(tz: dt.tzinfo) -> dt.date:
    """#GEN date: SOURCE_DATE_EPOCH when set (reproducible output), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date()
        except ValueError:
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    return dt.datetime.now(tz).date()


def _warn(notices: list) -> None:
    for notice in notices:
        err.print(f"bokfor: warning: {notice}", markup=False)


@app.command()
def convert(
    inputs: List[Path] = typer.Argument(..., help="Export files (Stripe balance_history.csv …)."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="YAML mapping file."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="SIE file to write."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write nothing; show the vouchers."),
    date_from: Optional[str] = typer.Option(None, "--from", help="First voucher date (YYYY-MM-DD)."),
    date_to: Optional[str] = typer.Option(None, "--to", help="Last voucher date (YYYY-MM-DD)."),
    checksum: bool = typer.Option(False, "--checksum", help="Add #KSUMMA to the SIE file."),
    source: Optional[str] = typer.Option(None, "--source", help="Force the input format."),
    show: str = typer.Option("20", "--show", help="Vouchers to list: a number or 'all'."),
) -> None:
    """Convert exports into a SIE 4I file, showing the vouchers first."""
    from bokfor.convert import convert as run
    from bokfor.fileio import atomic_write
    from bokfor.mapping import load_mapping
    from bokfor.report import show_conversion
    from bokfor.sie.writer import render

    if not dry_run and out_path is None:
        raise UsageError("--out FILE is required (or use --dry-run to only preview)")
    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    if first and last and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    if show != "all" and not show.isdigit():
        raise UsageError(f"--show {show!r} must be a number or 'all'")
    limit = None if show == "all" else int(show)

    rules = load_mapping(mapping)
    conversion = run(inputs, rules, source=source, date_from=first, date_to=last)
    _warn(conversion.notices)
    document = conversion.document(rules, _generated(rules.timezone))
    data, notices = render(document, checksum=checksum, text_limit=rules.text_limit)
    _warn(notices)
    show_conversion(out, conversion, rules.accounts, limit)
    if dry_run:
        out.print("Dry run: nothing written.")
        return
    assert out_path is not None
    if not conversion.vouchers:
        out.print("Nothing to book: no file written.")
        return
    atomic_write(out_path, data)
    out.print(f"Wrote {len(conversion.vouchers)} verifikationer to {out_path}")


@sie_app.command("check")
def sie_check(file: Path = typer.Argument(..., help="SIE 4 file (.se / .si).")) -> None:
    """Read a SIE 4 file, check every voucher balances and #KSUMMA matches; print a summary."""
    from bokfor.money import format_sek
    from bokfor.sie.reader import read

    result = read(file)
    _warn(result.notices)
    doc = result.document
    out.print(f"{file}: SIE {doc.sie_type}, {result.encoding}, checksum {result.checksum}")
    orgnr = f" ({doc.company.orgnr})" if doc.company.orgnr else ""
    out.print(f"Företag: {doc.company.name}{orgnr}")
    for year in doc.fiscal_years:
        out.print(f"Räkenskapsår {year.index}: {year.start} – {year.end}")
    out.print(f"Konton: {len(doc.accounts)}  Verifikationer: {len(doc.vouchers)}")
    for v in doc.vouchers:
        number = "" if v.number is None else v.number
        out.print(f"  {v.series} {number} {v.date} {v.text!r}: debet {format_sek(v.debit)}, "
                  f"kredit {format_sek(v.credit)}, balans {format_sek(v.balance)}", markup=False)
    out.print("OK")


@mapping_app.command("check")
def mapping_check(file: Path = typer.Argument(..., help="YAML mapping file.")) -> None:
    """Validate a mapping: keys, accounts, VAT, templates, rule balance and reachability."""
    from bokfor.mapping import load_mapping

    m = load_mapping(file)
    rules = sum(len(s.rules) for s in m.sources.values())
    out.print(f"{file}: OK — {m.company.name}, {len(m.sources)} source(s), {rules} rule(s), "
              f"{len(m.accounts)} accounts")


@mapping_app.command("schema")
def mapping_schema() -> None:
    """Print the mapping's JSON Schema (for editor completion and checks)."""
    from bokfor.mapping import json_schema

    sys.stdout.write(json_schema() + "\n")


@app.command()
def init(
    path: Path = typer.Argument(Path("bokfor.yaml"), help="Where to write the starter mapping."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter mapping."""
    from bokfor.fileio import atomic_write

    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="choose another path or add --force.")
    text = resources.files("bokfor").joinpath("starter.yaml").read_bytes()
    atomic_write(path, text)
    out.print(f"Wrote {path}. Next: edit it, then `bokfor mapping check {path}`.")


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: the one place that turns errors into messages and exit codes.

    Typer reports its own usage errors (unknown option, missing argument) with exit code 2;
    everything bokfor raises is caught here."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, prog_name="bokfor")
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
        err.print(f"bokfor: internal error: {type(exc).__name__}: {exc} "
                  "(run again with --debug for the traceback and report it)", markup=False,
                  soft_wrap=True)
        sys.exit(EXIT_FAILURE)
