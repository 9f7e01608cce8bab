"""What the user sees: voucher previews and per-account totals (rich tables)."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.table import Table

from bokfor.convert import Conversion
from bokfor.domain import Voucher
from bokfor.money import format_sek


def _dims(voucher_dims: tuple[tuple[int, str], ...]) -> str:
    return " ".join(f"{d}:{o}" for d, o in voucher_dims)


def vouchers_table(vouchers: list[Voucher], accounts: dict[str, str], limit: int | None) -> Table:
    table = Table(title="Verifikationer", show_lines=False, header_style="bold")
    table.add_column("Datum")
    table.add_column("Text / konto")
    table.add_column("Debet", justify="right")
    table.add_column("Kredit", justify="right")
    table.add_column("Dimensioner")
    shown = vouchers if limit is None else vouchers[:limit]
    for v in shown:
        table.add_row(v.date.isoformat(), f"[bold]{v.series} {v.text}[/bold]", "", "", "",
                      end_section=False)
        for line in v.lines:
            name = accounts.get(line.account, "")
            label = f"  {line.account} {name}"[:48]
            if line.text:
                label += f" · {line.text}"
            debit = format_sek(line.amount) if line.amount > 0 else ""
            credit = format_sek(-line.amount) if line.amount < 0 else ""
            table.add_row("", label, debit, credit, _dims(line.dims))
        table.add_section()
    return table


def totals_table(vouchers: list[Voucher], accounts: dict[str, str]) -> Table:
    debit: dict[str, int] = defaultdict(int)
    credit: dict[str, int] = defaultdict(int)
    for v in vouchers:
        for line in v.lines:
            if line.amount > 0:
                debit[line.account] += line.amount
            else:
                credit[line.account] -= line.amount
    table = Table(title="Summa per konto", header_style="bold")
    table.add_column("Konto")
    table.add_column("Namn")
    table.add_column("Debet", justify="right")
    table.add_column("Kredit", justify="right")
    table.add_column("Netto", justify="right")
    for account in sorted(set(debit) | set(credit)):
        d, c = debit[account], credit[account]
        table.add_row(account, accounts.get(account, ""), format_sek(d), format_sek(c),
                      format_sek(d - c))
    td, tc = sum(debit.values()), sum(credit.values())
    table.add_section()
    table.add_row("", "Summa", format_sek(td), format_sek(tc), format_sek(td - tc))
    return table


def show_conversion(console: Console, conversion: Conversion, accounts: dict[str, str],
                    limit: int | None) -> None:
    vouchers = conversion.vouchers
    if vouchers:
        console.print(vouchers_table(vouchers, accounts, limit))
        if limit is not None and len(vouchers) > limit:
            console.print(f"… and {len(vouchers) - limit} more verifikationer (--show all lists them)")
        console.print(totals_table(vouchers, accounts))
    for s in conversion.inputs:
        extra = []
        if s.outside:
            extra.append(f"{s.outside} outside --from/--to")
        if s.zero:
            extra.append(f"{s.zero} with amount 0.00")
        if s.pending:
            extra.append(f"{s.pending} waiting for their payout")
        note = f" ({', '.join(extra)}; not booked)" if extra else ""
        console.print(f"{s.path}: {s.source}, {s.rows} rows -> {s.vouchers} verifikationer{note}")
