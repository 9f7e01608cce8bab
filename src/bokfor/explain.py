"""The mapping in words: the systemdokumentation (BFNAR 2013:2) of how bokfor books a
company's files — for each source, which rows (their conditions in words) go to which
accounts, with what moms and kostnadsställe, how rows are grouped into verifikationer, what
happens to rows no rule matches, the company and its räkenskapsår. `bokfor mapping explain`.

Said from the compiled `Mapping` (what a run really uses: aliases resolved, account names
from the mapping or the BAS chart, defaults filled in), never from a second reading of the
YAML. One list of blocks, rendered as plain text for the terminal and as a self-contained
HTML page (bokfor.htmlpage), so the two always say the same.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from bokfor import bas
from bokfor.fileio import file_sha256
from bokfor.htmlpage import esc, page, table, write_page
from bokfor.mapping import Mapping, Posting, Rule, SourceRules

GROUPINGS = {
    "per_row": "one verifikation per row",
    "per_day": "one verifikation per day (the date in the company's time zone); lines with the "
    "same account, dimensions, text and side are added up",
    "per_payout": "one verifikation per payout, so that it matches the bank line; rows not "
    "yet paid out wait for their payout (reported, not booked)",
    "per_entry": "one verifikation per bank entry (a deposit of many payers is one)",
}
_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


@dataclass
class Block:
    """A heading (`h1`-`h3`), a paragraph (`p`), a list (`ul`) or a table."""

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    headers: tuple[str, ...] = ()
    rows: Sequence[tuple[str, ...]] = field(default_factory=list)


def blocks(mapping: Mapping) -> list[Block]:
    """The whole description, in order."""
    from bokfor import __version__

    company = mapping.company
    out = [
        Block("h1", f"Systemdokumentation: {company.name}"),
        Block(
            "p",
            f"How bokfor {__version__} books this company's files, said from the "
            f"mapping {mapping.file}{_digest(mapping.file)}. Each file's rows are read, "
            "each row is booked by the first rule of its source whose conditions all "
            "hold, and every verifikation must balance to the öre before anything is "
            "written. A row exported once is never booked again (the export ledger).",
        ),
    ]
    out += _company(mapping)
    out += _accounts(mapping)
    for rules in mapping.sources.values():
        out += _source(rules, mapping)
    if mapping.pos is not None:
        out += _pos(mapping)
    return out


def _digest(path: str) -> str:
    digest = file_sha256(Path(path))
    return f" (sha256 {digest})" if digest else ""


def _company(mapping: Mapping) -> list[Block]:
    company, (month, day) = mapping.company, mapping.fiscal_year_start
    start = f"{day} {_MONTHS[month - 1]}"
    year = "kalenderår" if (month, day) == (1, 1) else "brutet räkenskapsår"
    rows = [
        ("Företag", company.name),
        ("Organisationsnummer", company.orgnr or "–"),
        (
            "Räkenskapsår",
            f"from {start} ({year}); a run across a year end writes one file a räkenskapsår",
        ),
        ("Redovisningsvaluta", company.currency),
        ("Tidszon", f"{mapping.timezone} (decides a verifikation's date)"),
        (
            "Textlängd",
            f"at most {mapping.text_limit} characters" if mapping.text_limit else "no limit",
        ),
    ]
    rates = mapping.rates
    if rates.fixed or rates.quotes:
        said = [f"{r.currency} {r.text}" for r in rates.fixed.values()]
        said += [f"{c}: {len(q)} quotes from {rates.source}" for c, q in rates.quotes.items()]
        rows.append(
            (
                "Valutakurser",
                "; ".join(said) + f" (a quote is used up to {rates.max_age_days} days)",
            )
        )
    return [Block("h2", "Företaget"), Block("table", headers=("", ""), rows=rows)]


def _accounts(mapping: Mapping) -> list[Block]:
    rows = [
        (number, name, bas.CHART if bas.name(number) == name else "the mapping")
        for number, name in sorted(mapping.accounts.items())
    ]
    out = [
        Block("h2", "Konton"),
        Block(
            "p",
            "Every account the mapping may post to, with the name written in the "
            "SIE file (#KONTO).",
        ),
        Block("table", headers=("Konto", "Namn", "Name from"), rows=rows),
    ]
    if mapping.named_accounts:
        out.append(
            Block(
                "p",
                "Names the rules use for accounts: "
                + ", ".join(
                    f"{alias} = {number}" for alias, number in mapping.named_accounts.items()
                )
                + ".",
            )
        )
    if mapping.dimensions:
        out.append(Block("h3", "Dimensioner (kostnadsställe, projekt)"))
        out.append(
            Block(
                "table",
                headers=("Dimension", "Namn", "Objekt"),
                rows=[
                    (
                        str(n),
                        name,
                        ", ".join(
                            f"{o} {oname}"
                            for (d, o), oname in sorted(mapping.objects.items())
                            if d == n
                        )
                        or "–",
                    )
                    for n, name in sorted(mapping.dimensions.items())
                ],
            )
        )
    return out


def _source(rules: SourceRules, mapping: Mapping) -> Iterator[Block]:
    from bokfor.sources import all_sources

    titles = [s.title for s in all_sources(mapping.formats) if s.section == rules.source]
    yield Block("h2", f"Källa: {rules.source}")
    yield Block("p", "Files: " + "; ".join(titles) + ".")
    said = [
        f"Verifikationsserie {rules.series}.",
        f"Grouping ({rules.grouping}): {GROUPINGS.get(rules.grouping, rules.grouping)}.",
        "Verifikation text: "
        + (f"“{rules.voucher_text.source}”." if rules.voucher_text else "the rule's name."),
    ]
    yield Block("p", " ".join(said))
    if rules.bank_accounts is not None:
        bank = rules.bank_accounts
        rows = [(number, _account(ledger, mapping)) for number, ledger in bank.accounts.items()]
        rows += [
            (f"files of the format {fmt}", _account(ledger, mapping))
            for fmt, ledger in bank.formats.items()
        ]
        if bank.default:
            rows.append(("files that name no account", _account(bank.default, mapping)))
        yield Block(
            "p",
            "Bank accounts: the posting to `bank_account` goes to the ledger "
            "account of the row's own bank account:",
        )
        yield Block("table", headers=("Bankkonto", "Konto"), rows=rows)
    if rules.fx_difference is not None:
        clearings, gain, loss = rules.fx_difference
        yield Block(
            "p",
            "Kursdifferens: what a payout in another currency leaves on "
            f"{', '.join(_account(a, mapping) for a in clearings)} is booked to "
            f"{_account(gain, mapping)} (gain) or {_account(loss, mapping)} (loss).",
        )
    yield Block(
        "p",
        "The rules, in order; the first whose conditions all hold books the row. "
        "A negative amount books on the other side (a refund reverses a sale).",
    )
    for n, rule in enumerate(rules.rules, 1):
        yield from _rule(f"{n}. {rule.name}", rule, mapping)
    if rules.fallback is not None:
        yield from _rule(f"Otherwise ({rules.fallback.name})", rules.fallback, mapping)
    else:
        yield Block(
            "p",
            "Rows no rule matches stop the run: they are listed (`!` in the plan) "
            "with rules to paste into the mapping, and nothing is written.",
        )


def _rule(title: str, rule: Rule, mapping: Mapping) -> Iterator[Block]:
    yield Block("h3", f"{title} ({rule.where})")
    if rule.when:
        yield Block(
            "p", "When " + "; and ".join(_condition(f, spec) for f, spec in rule.when) + "."
        )
    else:
        yield Block("p", "Every row no rule above matches.")
    if rule.skip:
        yield Block("p", "Booked: nothing (skip). The rows are counted in the plan, never booked.")
        return
    if rule.text is not None:
        yield Block("p", f"Text of each row: “{rule.text.source}”.")
    yield Block(
        "table",
        headers=("", "Konto", "Belopp", "Moms", "Dimensioner", "Text"),
        rows=[_posting(p, mapping) for p in rule.postings],
    )


def _posting(p: Posting, mapping: Mapping) -> tuple[str, ...]:
    side = "Debet" if p.sign > 0 else "Kredit"
    account = (
        "the row's bank account (see above)"
        if p.account == "bank_account"
        else _account(p.account, mapping)
    )
    vat = ""
    if p.reverse_charge is not None:
        vat = (
            f"{p.vat_rate} % omvänd skattskyldighet on top: ingående "
            f"{_account(p.reverse_charge[0], mapping)}, utgående "
            f"{_account(p.reverse_charge[1], mapping)}"
        )
    elif p.vat_account is not None:
        vat = f"{p.vat_rate} % included, split out to {_account(p.vat_account, mapping)}"
    dims = ", ".join(_dimension(d, t.source, mapping) for d, t in p.dims)
    return (side, account, p.amount, vat, dims, p.text.source if p.text else "")


def _account(number: str, mapping: Mapping) -> str:
    name = mapping.accounts.get(number)
    return f"{number} {name}" if name else number


def _dimension(dim: int, value: str, mapping: Mapping) -> str:
    name = mapping.dimensions.get(dim, f"dimension {dim}")
    obj = mapping.objects.get((dim, value))
    return f"{name} {value}" + (f" ({obj})" if obj else "")


def _value(value: Any) -> str:
    return "(empty)" if value is None else f"“{value}”"


def _condition(name: str, spec: Any) -> str:
    """One condition of a rule in words, as written in the mapping."""
    if isinstance(spec, list):
        if len(spec) == 1:
            return f"{name} is {_value(spec[0])}"
        return f"{name} is one of " + ", ".join(_value(v) for v in spec)
    if not isinstance(spec, dict):
        return f"{name} is empty" if spec is None else f"{name} is {_value(spec)}"
    said = []
    for op, arg in spec.items():
        if op == "regex":
            said.append(f"matches the pattern “{arg}”")
        elif op == "not":
            values = arg if isinstance(arg, list) else [arg]
            said.append("is not " + " nor ".join(_value(v) for v in values))
        elif op == "min":
            said.append(f"is at least {arg}")
        elif op == "max":
            said.append(f"is at most {arg}")
        elif op == "sign":
            said.append(f"is {arg}")
        elif op == "from":
            said.append(f"is on or after {arg}")
        elif op == "to":
            said.append(f"is on or before {arg}")
        elif op == "empty":
            said.append("is empty" if str(arg).lower() in ("true", "yes", "1") else "is not empty")
    return f"{name} " + " and ".join(said)


def _pos(mapping: Mapping) -> list[Block]:
    pos = mapping.pos
    assert pos is not None

    def account(number: str | None) -> str:
        if number is None:
            return "–"
        return (
            "presentkort (gift card): " + _account(pos.gift_card, mapping)
            if number == "gift_card"
            else _account(number, mapping)
        )

    rows = [
        ("Verifikationsserie", pos.series),
        ("Grouping", "one verifikation per register and Z-dagrapport"),
        ("Verifikation text", f"“{pos.text}”"),
        ("Kassa", account(pos.cash)),
        ("Insättning av kontanter", account(pos.cash_deposit)),
        ("Öresavrundning", account(pos.rounding)),
        ("Presentkort", account(pos.gift_card)),
        ("Dricks", account(pos.tips)),
        (
            "Kassadifferens",
            f"brist {account(pos.cash_shortage)}, överskott {account(pos.cash_surplus)}",
        ),
    ]
    out = [
        Block("h2", "Källa: kassaregister (Z-dagrapporter)"),
        Block("table", headers=("", ""), rows=rows),
        Block("h3", "Betalsätt"),
        Block(
            "table",
            headers=("Betalsätt", "Konto"),
            rows=[(m, account(a)) for m, a in pos.payment_methods.items()],
        ),
        Block("h3", "Försäljning och moms per momssats"),
        Block(
            "table",
            headers=("Moms", "Försäljning", "Utgående moms"),
            rows=[
                (f"{rate} %", account(r.sales), account(r.vat)) for rate, r in pos.vat_rates.items()
            ],
        ),
    ]
    if pos.product_groups:
        out += [
            Block("h3", "Varugrupper"),
            Block(
                "table",
                headers=("Varugrupp", "Konto"),
                rows=[(g, account(a)) for g, a in pos.product_groups.items()],
            ),
        ]
    if pos.cost_centres:
        out += [
            Block("h3", "Kostnadsställen"),
            Block(
                "table",
                headers=("Kassa", "Kostnadsställe"),
                rows=[
                    (r, _dimension(pos.cost_centre_dimension, o, mapping))
                    for r, o in pos.cost_centres.items()
                ],
            ),
        ]
    return out


# -- rendering ---------------------------------------------------------------------------


def as_text(items: list[Block], width: int = 100) -> str:
    lines: list[str] = []
    for b in items:
        if b.kind in ("h1", "h2", "h3"):
            if lines:
                lines.append("")
            lines += [b.text, ("-" if b.kind == "h3" else "=") * len(b.text)]
        elif b.kind == "p":
            lines += textwrap.wrap(b.text, width) or [""]
        elif b.kind == "ul":
            lines += [f"  - {item}" for item in b.items]
        elif b.kind == "table":
            lines += _text_table(b)
    return "\n".join(lines) + "\n"


def _text_table(b: Block) -> list[str]:
    columns = [i for i in range(len(b.headers)) if any(row[i] for row in b.rows)]
    if not columns:
        return []
    shown = [b.headers] if any(b.headers[i] for i in columns) else []
    cells = [[row[i] for i in columns] for row in (*shown, *b.rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns) - 1)]
    # the last cell is not padded: widths stop one short of it
    return [
        (
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
        ).rstrip()
        if len(r) > 1
        else "  " + r[0]
        for r in cells
    ]


def as_html(items: list[Block]) -> str:
    body = []
    for b in items:
        if b.kind in ("h1", "h2", "h3"):
            body.append(f"<{b.kind}>{esc(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            body.append(table(b.headers, b.rows))
    title = next((b.text for b in items if b.kind == "h1"), "Systemdokumentation")
    return page(title, body)


def write_explained(path: Path, mapping: Mapping, own: dict[str, Path] | None = None) -> Path:
    """The systemdokumentation as a page at `path`, never over `own` (the mapping itself,
    its ledger and what the ledger records: `outputs.kept_files`)."""
    return write_page(path, as_html(blocks(mapping)), "--html", own)
