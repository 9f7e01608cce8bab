"""The plan as a review page: `bokfor plan --html FILE`, and `bokfor run` beside each
client's outputs. The same plan the terminal shows (bokfor.report), read from the same
`Plan` and with the same words: every verifikation with its sign (`+` new, `=` exported,
`~` changed with what was booked before, `!` unmapped with the fix), its lines on named
accounts, the sums per account, the inputs and the warnings; and what a table says less
well: payout reconciliation (bokfor.reconcile, for inputs with payout ids) and small charts
of sales and moms per day and fees per payout. One self-contained file (bokfor.htmlpage).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

from bokfor.domain import Line, Row, Voucher
from bokfor.htmlpage import bar_chart, esc, kr, page, table, write_page
from bokfor.mapping import Mapping
from bokfor.money import format_sek
from bokfor.outputs import year_label
from bokfor.plan import CHANGED, EXPORTED, NEW, UNMAPPED, Entry, Plan, totals
from bokfor.reconcile import Reconciliation
from bokfor.report import STATUS_WORDS, counts_line, input_line

CLASSES = {NEW: "new", EXPORTED: "exported", CHANGED: "changed", UNMAPPED: "unmapped"}


def payouts(plan: Plan, mapping: Mapping) -> list[tuple[str, Reconciliation]]:
    """Payout reconciliation of each input whose rows carry payout ids, as `bokfor
    reconcile` computes it (its inputs are read once more); payout amounts the rows lack
    come from a payouts export among the inputs."""
    from bokfor.reconcile import payout_amounts, reconcile
    from bokfor.sources import get_source, stripe_payouts

    def rows(path: str, src) -> Iterator[Row]:  # type: ignore[no-untyped-def]
        return (r for r in src.read(Path(path), mapping.timezone) if isinstance(r, Row))

    sources = [(s.path, get_source(s.source, mapping.formats)) for s in plan.inputs]
    amounts = {
        k: v
        for path, src in sources
        if src.name == stripe_payouts.SOURCE.name
        for k, v in payout_amounts(rows(path, src)).items()
    } or None
    return [
        (path, reconcile(rows(path, src), src.schema, amounts))
        for path, src in sources
        if "per_payout" in src.schema.group_keys and src.schema.unmapped_fields
    ]


def review_page(
    plan: Plan,
    mapping: Mapping,
    generated: dt.date,
    reconciliations: list[tuple[str, Reconciliation]],
) -> str:
    """The page, as text (deterministic: the same plan gives the same page)."""
    company = mapping.company
    orgnr = f" ({company.orgnr})" if company.orgnr else ""
    accounts = mapping.accounts
    body = [
        f"<h1>Plan: {esc(company.name)}{esc(orgnr)}</h1>",
        '<p class="meta">'
        + "<br>".join(
            esc(line)
            for line in (
                f"Mapping: {mapping.file}",
                f"Upprättad: {generated.isoformat()} (written by bokfor; nothing is booked "
                "until convert runs)",
                *(
                    f"Räkenskapsår {year_label(p.year)}: {p.year.start} – {p.year.end}, "
                    f"{len(p.indices)} verifikationer"
                    for p in plan.parts
                ),
            )
        )
        + "</p>",
        f'<p class="counts"><strong>{esc(counts_line(plan))}</strong></p>',
        _legend(),
    ]
    body += _problems(plan)
    body += _charts(plan.to_write, reconciliations)
    entries = plan.entries  # made once: new vouchers held as columns are made here
    body.append(f'<h2 id="verifikationer">Verifikationer ({len(entries)})</h2>')
    body += [_entry(n, e, accounts, mapping) for n, e in enumerate(entries, 1)]
    if plan.to_write:
        body += [
            '<h2 id="konton">Summa per konto (att skriva)</h2>',
            _totals(plan.to_write, accounts),
        ]
    if reconciliations:
        body.append('<h2 id="utbetalningar">Utbetalningar</h2>')
        body += [_payouts(path, r) for path, r in reconciliations]
    body.append(
        '<h2 id="indata">Indata</h2><ul>'
        + "".join(f"<li>{esc(input_line(s))}</li>" for s in plan.inputs)
        + "</ul>"
    )
    return page(f"Plan: {company.name}", body)


def write_review(
    path: Path,
    plan: Plan,
    mapping: Mapping,
    generated: dt.date,
    option: str = "--html",
    own: dict[str, Path] | None = None,
) -> Path:
    """Write the review page of `plan` to `path` (atomically; never over a directory, a
    FIFO or the run's own files `own`); returns where it went."""
    return write_page(
        path, review_page(plan, mapping, generated, payouts(plan, mapping)), option, own
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        + " ".join(
            f'<span class="s-{CLASSES[s]}"><span class="sign">{esc(s)}</span>{esc(w)}</span>'
            for s, w in STATUS_WORDS.items()
        )
        + "</p>"
    )


def _problems(plan: Plan) -> list[str]:
    """What stops the run (rows no rule matches, with the rules to paste; renamed bank
    accounts) and the warnings, first: they are what a person must act on."""
    out = []
    if plan.errors:
        out.append('<h2 id="att-rätta">Att rätta</h2>')
        for error in plan.errors:
            out.append(
                f'<div class="error"><p><span class="sign s-unmapped">!</span>'
                f"{esc(str(error))}</p>"
                + (f"<pre>{esc(chr(10).join(error.details))}</pre>" if error.details else "")
                + "</div>"
            )
    if plan.notices:
        out.append(
            '<h2 id="varningar">Varningar</h2><ul>'
            + "".join(f"<li>{esc(str(n))}</li>" for n in plan.notices)
            + "</ul>"
        )
    if plan.missing_accounts:
        out.append(
            f'<p class="note">Not in the books\' chart of accounts: '
            f"{esc(', '.join(plan.missing_accounts))}</p>"
        )
    return out


def _charts(
    vouchers: Sequence[Voucher], reconciliations: list[tuple[str, Reconciliation]]
) -> list[str]:
    """Sales (class 3 accounts) and moms (26xx) per day of the verifikationer to write,
    net of reversals; Stripe's fees per payout."""
    sales: dict[dt.date, int] = defaultdict(int)
    vat: dict[dt.date, int] = defaultdict(int)
    for v in vouchers:
        for line in v.lines:
            if line.account.startswith("3"):
                sales[v.date] -= line.amount
            elif line.account.startswith("26"):
                vat[v.date] -= line.amount
    charts = []
    days = sorted(set(sales) | set(vat))
    if any(sales.values()) or any(vat.values()):
        charts.append(
            bar_chart(
                [d.isoformat()[5:] for d in days],
                [("Försäljning", [sales[d] for d in days]), ("Moms", [vat[d] for d in days])],
                "Försäljning och moms per dag (att skriva)",
            )
        )
    paid = [p for _, r in reconciliations for p in r.payouts]
    if paid:
        charts.append(
            bar_chart(
                [p.date.isoformat()[5:] if p.date else p.payout_id[-6:] for p in paid],
                [("Avgifter", [p.fees for p in paid])],
                "Avgifter per utbetalning",
            )
        )
    return (
        ['<h2 id="diagram">Diagram</h2><div class="charts">' + "".join(charts) + "</div>"]
        if charts
        else []
    )


def _entry(n: int, entry: Entry, accounts: dict[str, str], mapping: Mapping) -> str:
    klass = CLASSES.get(entry.status, "new")
    sign = f'<span class="sign">{esc(entry.status)}</span> '
    v = entry.voucher
    if entry.status == UNMAPPED or v is None:
        return (
            f'<section class="voucher s-{klass}" id="v{n}" data-status="{esc(entry.status)}">'
            f"<h3>{sign}{esc(entry.detail)}</h3><p>No rule matches these rows: see "
            '<a href="#att-rätta">Att rätta</a> for the rules to add.</p></section>'
        )
    title = entry.detail if entry.status == CHANGED else f"{v.series} {v.text}"
    rows = len(v.source_keys)
    meta = [STATUS_WORDS[entry.status], f"{rows} {'rad' if rows == 1 else 'rader'}"]
    if v.rule:
        meta.append(f"regel {v.rule}")
    head = (
        f'<section class="voucher s-{klass}" id="v{n}" data-status="{esc(entry.status)}" '
        f'data-date="{v.date.isoformat()}" data-series="{esc(v.series)}">'
        f"<h3>{sign}{v.date.isoformat()} · {esc(title)}</h3>"
        f'<p class="meta">{esc(", ".join(meta))}</p>'
    )
    if entry.possibly_booked:
        head += f'<p class="note">possibly booked by hand: {esc(entry.possibly_booked)}</p>'
    if entry.status == CHANGED:
        now = (
            lines_table(v.lines, accounts, mapping)
            if v.lines
            else "<p>Not booked again unless the run is given --correct (a reversal of what was "
            "booked, then the new booking).</p>"
        )
        return (
            head
            + "<p>före (as exported):</p>"
            + lines_table(entry.previous, accounts, mapping)
            + "<p>nu (as booked now):</p>"
            + now
            + "</section>"
        )
    return head + lines_table(v.lines, accounts, mapping) + "</section>"


def lines_table(lines: tuple[Line, ...], accounts: dict[str, str], mapping: Mapping) -> str:
    rows = [
        (
            line.account,
            accounts.get(line.account, ""),
            line.text,
            kr(line.amount) if line.amount > 0 else "",
            kr(-line.amount) if line.amount < 0 else "",
            _dims(line, mapping),
        )
        for line in lines
    ]
    debit = sum(line.amount for line in lines if line.amount > 0)
    credit = -sum(line.amount for line in lines if line.amount < 0)
    body = table(
        ("Konto", "Namn", "Text", "Debet", "Kredit", "Dimensioner"),
        rows,
        numeric=(3, 4),
        cls="lines",
    )
    return body.replace(
        "</tbody>",
        f'<tr class="sum"><td></td><td>Summa</td><td></td>'
        f'<td class="num">{format_sek(debit)}</td>'
        f'<td class="num">{format_sek(credit)}</td><td></td></tr></tbody>',
    )


def _dims(line: Line, mapping: Mapping) -> str:
    return " ".join(
        f"{d}:{o}" + (f" ({mapping.objects[(d, o)]})" if (d, o) in mapping.objects else "")
        for d, o in line.dims
    )


def _totals(vouchers: Sequence[Voucher], accounts: dict[str, str]) -> str:
    sums = totals(vouchers)
    rows = [
        f'<tr data-account="{esc(a)}" data-debit="{d}" data-credit="{c}"><td>{esc(a)}</td>'
        f'<td>{esc(accounts.get(a, ""))}</td><td class="num">{format_sek(d)}</td>'
        f'<td class="num">{format_sek(c)}</td><td class="num">{format_sek(d - c)}</td></tr>'
        for a, (d, c) in sums.items()
    ]
    td, tc = sum(d for d, _ in sums.values()), sum(c for _, c in sums.values())
    return (
        '<table class="totals"><thead><tr><th>Konto</th><th>Namn</th>'
        '<th class="num">Debet</th><th class="num">Kredit</th><th class="num">Netto</th>'
        "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + f'\n<tr class="sum"><td></td><td>Summa</td><td class="num">{format_sek(td)}</td>'
        f'<td class="num">{format_sek(tc)}</td><td class="num">{format_sek(td - tc)}</td>'
        "</tr></tbody></table>"
    )


def _payouts(path: str, result: Reconciliation) -> str:
    rows = [
        (
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
        )
        for p in result.payouts
    ]
    out = [
        f"<h3>{esc(path)}</h3>",
        table(
            (
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
            ),
            rows,
            numeric=range(2, 10),
            cls="payouts",
        ),
    ]
    if result.off:
        out.append(
            f'<p class="off">{len(result.off)} payouts do not add up: rows are missing '
            "from the export or it was edited (bokfor reconcile says more).</p>"
        )
    elif result.unchecked:
        out.append(
            f"<p>{len(result.unchecked)} payouts (?) are not in this export: give the "
            "payouts export too to check them.</p>"
        )
    else:
        out.append(f'<p class="ok">All {len(result.payouts)} payouts add up (difference 0,00).</p>')
    if result.unpaid:
        out.append(
            f"<p>{result.unpaid} rows not yet paid out (net {format_sek(result.unpaid_net)})</p>"
        )
    return "".join(out)
