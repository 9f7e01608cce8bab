"""What the user sees: the plan as tables (rich) or JSON, and the unified diff."""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bokfor.domain import Line, Voucher, dates_of
from bokfor.ledger import Ledger
from bokfor.mapping import Mapping
from bokfor.money import format_sek, format_sie
from bokfor.outputs import year_label
from bokfor.plan import CHANGED, EXPORTED, NEW, UNMAPPED, Entry, InputSummary, Plan, totals
from bokfor.sie.model import SieDocument
from bokfor.sie.writer import render

if TYPE_CHECKING:  # rich is imported where a table is made: a --quiet run prints none
    from rich.console import Console, JustifyMethod
    from rich.table import Table

STATUS_WORDS = {NEW: "new", EXPORTED: "already exported", CHANGED: "changed", UNMAPPED: "unmapped"}


def counts_line(plan: Plan) -> str:
    """The plan in one line, saying what it counts: `+` and `=` verifikationer (the table's
    entries), `~` and `!` rows, as each input's line does (the table has an entry a changed
    row, and a `!` entry a kind of unmapped row that says how many rows it holds)."""
    corrections = len(plan.to_write) - plan.count(NEW)
    vouchers = [
        f"{plan.count(NEW)} verifikationer to add (+)",
        f"{plan.count(EXPORTED)} already exported (=)",
    ]
    if corrections:
        vouchers.append(f"{corrections} corrections")
    changed, unmapped = plan.count(CHANGED), unmapped_rows(plan)
    return (
        f"Plan: {', '.join(vouchers)}; {changed} {_rows(changed)} changed (~), "
        f"{unmapped} {_rows(unmapped)} unmapped (!)"
    )


def unmapped_rows(plan: Plan) -> int:
    """Rows no rule matches (a `!` entry is a kind of them)."""
    return sum(s.unmapped for s in plan.inputs)


def _rows(n: int) -> str:
    return "row" if n == 1 else "rows"


def nothing_new(plan: Plan | None) -> tuple[str, str]:
    """Why a run writes nothing, as a word for machines (`exported`, `no-transactions`,
    `no-bookable-rows`) and a sentence: every row exported before, or no row to book at all
    (an empty statement, a file of failed payments, an open settlement period, rows waiting
    for their payout) — never the first said of the second."""
    if plan is None or any(s.exported or s.changed for s in plan.inputs) or plan.count(EXPORTED):
        empty = ", ".join(s.path for s in plan.inputs if not s.rows) if plan else ""
        return "exported", "Nothing new: every row was exported before" + (
            f" (and there are no transactions in {empty})" if empty else ""
        ) + "; nothing written."
    files = ", ".join(s.path for s in plan.inputs)
    if not any(s.rows for s in plan.inputs):
        return "no-transactions", f"Nothing to book: no transactions in {files}; nothing written."
    why = [
        f"{n} {what}"
        for n, what in (
            (sum(s.pending for s in plan.inputs), "waiting for their payout"),
            (sum(s.outside for s in plan.inputs), "outside --from/--to"),
            (sum(s.zero for s in plan.inputs), "with amount 0.00"),
            (sum(sum(s.skipped.values()) for s in plan.inputs), "skipped by rules"),
            (sum(sum(s.also.values()) for s in plan.inputs), "also in an earlier input"),
        )
        if n
    ]
    return "no-bookable-rows", (
        f"Nothing to book: no bookable rows in {files} ({', '.join(why)}); nothing written."
    )


def show_plan(console: Console, plan: Plan, accounts: dict[str, str], limit: int | None) -> None:
    if limit is None:
        listed = plan.entries
        more = 0
    else:  # the first `limit` entries but `=`: the others are never made
        entries = (e for e in plan.iter_entries() if e.status != EXPORTED)
        listed = list(itertools.islice(entries, limit))
        more = len(plan.listed) + plan.count(NEW) - len(listed)
    if listed or more:  # --show 0: the table's title, and how many it holds
        console.print(_entries_table(listed, accounts))
        if more:
            console.print(f"… and {more} more (--show all lists them)")
    if plan.to_write:
        console.print(_totals_table(plan.to_write, accounts))
    for s in plan.inputs:
        console.print(input_line(s), markup=False)
    if len(plan.parts) > 1:
        console.print(
            "One file a fiscal year: "
            + ", ".join(
                f"{year_label(p.year)} ({len(p.indices)} verifikationer)" for p in plan.parts
            ),
            markup=False,
        )
    if plan.missing_accounts:
        console.print(
            f"Not in the books' chart of accounts: {', '.join(plan.missing_accounts)}", markup=False
        )
    console.print(counts_line(plan))


def input_line(s: InputSummary) -> str:
    """One input of the plan: its rows, and what became of them."""
    extra = [
        f"{n} {what}"
        for n, what in (
            (s.exported, "already exported"),
            (s.changed, "changed"),
            (s.unmapped, "unmapped"),
            (s.outside, "outside --from/--to"),
            (s.zero, "with amount 0.00"),
            (s.pending, "waiting for their payout"),
        )
        if n
    ]
    extra += [f"{n} skipped by rule {name!r}" for name, n in s.skipped.items()]
    extra += [f"{n} also in {path}" for path, n in s.also.items()]
    note = f" ({', '.join(extra)})" if extra else ""
    return f"{s.path}: {s.source}, {s.rows} rows -> {s.vouchers} new verifikationer{note}"


def _entries_table(entries: list[Entry], accounts: dict[str, str]) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Verifikationer", header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("", "left"),
        ("Datum", "left"),
        ("Text / konto", "left"),
        ("Debet", "right"),
        ("Kredit", "right"),
        ("Dimensioner", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for entry in entries:
        v = entry.voucher
        if entry.status == UNMAPPED or v is None:
            table.add_row(entry.status, "", escape(entry.detail), "", "", "")
            table.add_section()
            continue
        title = (
            f"[bold]{escape(f'{v.series} {v.text}')}[/bold]"
            if entry.status != CHANGED
            else f"[bold]{escape(entry.detail)}[/bold]"
        )
        if entry.possibly_booked:
            title += f"  [yellow]possibly booked by hand: {escape(entry.possibly_booked)}[/yellow]"
        table.add_row(entry.status, v.date.isoformat(), title, "", "", "")
        if entry.status == CHANGED:
            _add_lines(table, entry.previous, accounts, "före: ")
            _add_lines(table, v.lines, accounts, "nu:   ")
        else:
            _add_lines(table, v.lines, accounts, "")
        table.add_section()
    return table


def _add_lines(
    table: Table, lines: tuple[Line, ...], accounts: dict[str, str], prefix: str
) -> None:
    from rich.markup import escape

    for line in lines:
        label = f"  {prefix}{line.account} {accounts.get(line.account, '')}"[:48]
        if line.text:
            label += f" · {line.text}"
        table.add_row(
            "",
            "",
            escape(label),
            format_sek(line.amount) if line.amount > 0 else "",
            format_sek(-line.amount) if line.amount < 0 else "",
            escape(" ".join(f"{d}:{o}" for d, o in line.dims)),
        )


def _totals_table(vouchers: Sequence[Voucher], accounts: dict[str, str]) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Summa per konto (att skriva)", header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("Konto", "left"),
        ("Namn", "left"),
        ("Debet", "right"),
        ("Kredit", "right"),
        ("Netto", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    sums = totals(vouchers)
    for account, (d, c) in sums.items():
        table.add_row(
            account,
            escape(accounts.get(account, "")),
            format_sek(d),
            format_sek(c),
            format_sek(d - c),
        )
    td, tc = sum(d for d, _ in sums.values()), sum(c for _, c in sums.values())
    table.add_section()
    table.add_row("", "Summa", format_sek(td), format_sek(tc), format_sek(td - tc))
    return table


# -- JSON ------------------------------------------------------------------------------


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan for machines; amounts are exact decimal strings ("1234.50"), never floats.
    `counts` counts as the text does: new and exported verifikationer, changed and unmapped
    rows."""
    return {
        "counts": {
            "new": plan.count(NEW),
            "exported": plan.count(EXPORTED),
            "changed": plan.count(CHANGED),
            "unmapped": unmapped_rows(plan),
            "to_write": len(plan.to_write),
        },
        "entries": [_entry_json(e) for e in plan.entries],
        "to_write": [_voucher_json(v) for v in plan.to_write],
        "totals": {
            a: {"debit": format_sie(d), "credit": format_sie(c)}
            for a, (d, c) in totals(plan.to_write).items()
        },
        "inputs": [vars(s) for s in plan.inputs],
        "years": [
            {
                "year": year_label(p.year),
                "first": p.year.start.isoformat(),
                "last": p.year.end.isoformat(),
                "vouchers": len(p.indices),
            }
            for p in plan.parts
        ],
        "missing_accounts": plan.missing_accounts,
        "notices": [str(n) for n in plan.notices],
    }


def _entry_json(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"status": STATUS_WORDS[entry.status]}
    if entry.detail:
        out["detail"] = entry.detail
    if entry.voucher is not None:
        out["voucher"] = _voucher_json(entry.voucher)
    if entry.previous:
        out["previous_lines"] = [_line_json(line) for line in entry.previous]
    if entry.possibly_booked:
        out["possibly_booked"] = entry.possibly_booked
    return out


def _voucher_json(v: Voucher) -> dict[str, Any]:
    return {
        "series": v.series,
        "number": v.number,
        "date": v.date.isoformat(),
        "text": v.text,
        "lines": [_line_json(line) for line in v.lines],
        "source_keys": list(v.source_keys),
    }


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "account": line.account,
        "amount": format_sie(line.amount),
        "dims": {str(d): o for d, o in line.dims},
        "text": line.text,
    }


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


# -- diff ------------------------------------------------------------------------------


def period_diff(
    plan: Plan,
    mapping: Mapping,
    ledger_path: Path,
    generated: dt.date,
    first: dt.date | None,
    last: dt.date | None,
) -> str:
    """Unified diff of the period's SIE text: as exported before -> after this run."""
    dates = [e.voucher.date for e in plan.entries if e.voucher] + dates_of(plan.to_write)
    if not dates:
        return ""
    first, last = first or min(dates), last or max(dates)
    ledger = Ledger.open(ledger_path)
    try:
        before = ledger.vouchers_between(first, last)
    finally:
        ledger.close()
    after = sorted([*before, *plan.to_write], key=lambda v: v.date)

    def text(vouchers: Sequence[Voucher]) -> list[str]:
        doc = SieDocument(
            company=mapping.company,
            generated=generated,
            accounts=mapping.accounts,
            dimensions=mapping.dimensions,
            objects=mapping.objects,
            vouchers=vouchers,
        )
        data, _ = render(doc, text_limit=mapping.text_limit)
        return data.decode("cp437").replace("\r\n", "\n").splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(
            text(before), text(after), fromfile=f"exported {first}..{last}", tofile="after this run"
        )
    )
