"""`bokfor underlag`: the trail (bokfor.trail) as a revisor reads it.

One self-contained HTML page (bokfor.htmlpage: no network, prints on A4) with a section per
verifikation: its lines, the source rows it holds (file, line, key, values, the rule that
booked each, the row's own lines) and whether they add up to it exactly; then, per run, who
ran what with which mapping version on which files (sha256), and every row read and not
booked with why; last the mapping versions with the diff between them. And the same rows as
CSV (one line a source row or skipped row) for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Iterator

from bokfor.errors import OutputError, UsageError
from bokfor.htmlpage import esc, page_parts, table
from bokfor.mapping import Mapping
from bokfor.money import format_sek
from bokfor.review import lines_table
from bokfor.sources import get_source
from bokfor.trail import (
    BEFORE_TRAIL,
    NONE,
    OFF,
    OWN,
    SUMS,
    Export,
    Run,
    SourceRow,
    Trail,
    TrailVoucher,
)

CSV_HEADER = (
    "status",
    "verifikation",
    "export",
    "serie",
    "datum",
    "text",
    "fil",
    "sha256",
    "rad",
    "nyckel",
    "regel",
    "värden",
    "belopp",
    "orsak",
    "rader",  # the lines a row adds up, when more than its own (a day of receipts)
)


def underlag_page(
    trail: Trail,
    mapping: Mapping,
    title: str,
    link: Callable[[SourceRow], str | None] | None = None,
) -> Iterator[str]:
    """The page, a fragment at a time (deterministic: the same ledger gives the same page).
    `link`: a row's file as a link (default: where it was read; an archive links its copy)."""
    link = link or _file_url
    accounts = mapping.accounts
    rows, checks, off = 0, Counter[str](), []  # a first walk: what the page says first
    for v in trail.vouchers():
        rows += len(v.rows)
        checks[v.check] += 1
        if v.check == OFF:
            off.append(v.name)
    head = [
        f"<h1>Underlag: {esc(mapping.company.name)}"
        + (f" ({esc(mapping.company.orgnr)})" if mapping.company.orgnr else "")
        + "</h1>",
        '<p class="meta">'
        + "<br>".join(
            esc(line)
            for line in (
                title,
                f"Ledger: {trail.ledger.path}",
                f"{trail.count} verifikationer, {rows} källrader, "
                f"{trail.skipped_count()} rader lästa men inte bokförda",
            )
        )
        + "</p>",
        (
            f'<p class="off">{len(off)} verifikationer stämmer inte mot sina rader: '
            + esc(", ".join(off))
            + "</p>"
            if off
            else f'<p class="ok">{checks[SUMS]} verifikationer med flera rader: raderna summerar '
            f"exakt till konteringarna. {checks[OWN]} bokför en rad var, {checks[NONE]} "
            "är rättelser utan egna rader.</p>"
        ),
        "<h2>Verifikationer</h2>",
    ]
    body = itertools.chain(
        head,
        (_voucher(v, accounts, mapping, link) for v in trail.vouchers()),
        ["<h2>Körningar</h2>"],
        itertools.chain.from_iterable(
            _run(trail, run, exports) for run, exports in _runs(trail.exports)
        ),
        ["<h2>Mappningens versioner</h2>"],
        _versions(trail),
    )
    return page_parts(f"Underlag: {mapping.company.name}", body)


def _voucher(
    v: TrailVoucher,
    accounts: dict[str, str],
    mapping: Mapping,
    link: Callable[[SourceRow], str | None],
) -> str:
    where = (
        f"Fortnox {v.fortnox}"
        if v.fortnox
        else f"#VER {v.number} i {Path(v.export.target).name} (export {v.export.id})"
    )
    head = (
        f'<section class="voucher" id="v{v.export.id}-{v.number}">'
        f"<h3>Verifikation {esc(v.name)}: {esc(v.series)} {v.date.isoformat()} "
        f"{esc(v.text)}</h3>"
        f'<p class="meta">{esc(where)}; sha256 {esc(v.export.sha256[:16])}…</p>'
    )
    check = {
        SUMS: '<p class="ok">Raderna summerar exakt till verifikationen.</p>',
        OWN: '<p class="meta">Verifikationen bokför denna rad: radens kontering är '
        "verifikationens.</p>",
        NONE: '<p class="meta">Inga egna rader: en rättelse, som vänder det som bokfördes '
        "förut; raden bokförs på nytt i en annan verifikation.</p>",
        OFF: '<p class="off">Raderna summerar inte till verifikationen: '
        + esc(_difference(v, accounts))
        + "</p>",
    }[v.check]
    return (
        head
        + lines_table(v.lines, accounts, mapping)
        + f"<p><strong>Källrader ({len(v.rows)})</strong></p>"
        + _rows(v.rows, mapping, link)
        + check
        + "</section>"
    )


def _rows(rows: list[SourceRow], mapping: Mapping, link: Callable[[SourceRow], str | None]) -> str:
    if not rows:
        return '<p class="meta">Inga källrader (en rättelse: se texten).</p>'
    return table(
        ("Fil och rad", "Nyckel", "Regel", "Värden", "Belopp"),
        (
            (
                _where(r, link(r))
                if r.file
                else esc(r.origin) + f'<br><span class="meta">{esc(BEFORE_TRAIL)}</span>',
                esc(r.key),
                esc(r.rule or "–"),
                esc(_values(r, mapping)),
                esc(_amount(r)),
            )
            for r in rows
        ),
        numeric=(4,),
        raw=True,
    )


def _run(trail: Trail, run: Run, exports: list[Export]) -> Iterator[str]:
    """A run's section, its skipped rows a thousand at a time."""
    facts = [
        ("Körning", f"{run.id}, {run.started}"),
        ("Användare", f"{run.user or '?'} på {run.host or '?'}"),
        ("Kommando", run.command or "(inte registrerat)"),
        ("bokfor", run.version),
        ("Mappning", f"{run.mapping} (sha256 {run.mapping_sha256 or 'inte registrerad'})"),
        *(
            (
                f"Export {e.id}",
                f"{e.kind}: {e.target} (sha256 {e.sha256})"
                + (f", importerad {e.imported}" if e.imported else ""),
            )
            for e in exports
        ),
    ]
    inputs = table(
        ("Fil", "Källa", "Byte", "sha256"),
        ((i.path, i.source, str(i.size), i.sha256) for i in run.inputs),
        numeric=(2,),
    )
    count = trail.skipped_count(run.id)
    yield (
        f'<section class="run" id="run{run.id}"><h3>Körning {run.id}</h3>'
        + table(("", ""), facts)
        + "<p><strong>Lästa filer</strong></p>"
        + (inputs if run.inputs else f'<p class="meta">{esc(BEFORE_TRAIL)}</p>')
        + f"<p><strong>Lästa men inte bokförda ({count})</strong></p>"
    )
    if not count:
        yield '<p class="meta">Varje rad som lästes bokfördes (eller var bokförd förut).</p>'
    else:
        skipped = iter(trail.skipped(run.id))
        yield "<table><thead><tr><th>Fil och rad</th><th>Nyckel</th><th>Orsak</th></tr></thead><tbody>"
        while chunk := list(itertools.islice(skipped, 1000)):
            yield "".join(
                f"<tr><td>{esc(s.file)}:{s.line}</td><td>{esc(s.key)}</td>"
                f"<td>{esc(s.reason)}</td></tr>\n"
                for s in chunk
            )
        yield "</tbody></table>"
    yield "</section>"


def _versions(trail: Trail) -> list[str]:
    if not trail.mappings:
        return [f'<p class="meta">{esc(BEFORE_TRAIL)}</p>']
    out = []
    for m in trail.mappings:
        out.append(
            f"<h3>{esc(m.sha256[:16])}… {esc(m.path)}</h3>"
            f'<p class="meta">använd {esc(m.first_used)} – {esc(m.last_used)}</p>'
        )
        if m.diff:
            out.append(f"<pre>{esc(m.diff)}</pre>")
        elif m.previous is None:
            out.append(f"<pre>{esc(m.text)}</pre>")
    return out


def underlag_csv(trail: Trail, mapping: Mapping) -> Iterator[str]:
    """One line a source row under its verifikation, then one a row read and not booked."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")

    def line(cells: Iterable[object]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield line(CSV_HEADER)
    for v in trail.vouchers():
        for r in v.rows:
            yield line(
                (
                    "bokförd",
                    v.name,
                    v.export.id,
                    v.series,
                    v.date.isoformat(),
                    _text(v.text),
                    _text(r.file or r.origin.rpartition(":")[0]),
                    r.sha256 or "",
                    r.origin.rpartition(":")[2],
                    _text(r.key),
                    _text(r.rule or ""),
                    _text(_values(r, mapping)),
                    _amount(r),
                    "" if r.file else BEFORE_TRAIL,
                    r.parts,
                )
            )
    for s in trail.skipped():
        yield line(
            (
                "ej bokförd", "", "", "", "", "", _text(s.file), "", s.line, _text(s.key), "",
                "", "", _text(s.reason), "",
            )
        )  # fmt: skip


# What a spreadsheet takes for the start of a formula when a cell begins with it.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A text cell that a spreadsheet shows as text: one that begins like a formula (a bank
    text, a payer's message, a file name; anyone may write those) gets a leading `'`, which
    spreadsheets take to mean "text" and do not show (OWASP's CSV injection advice)."""
    return "'" + value if value.startswith(_FORMULA) else value


def _values(row: SourceRow, mapping: Mapping) -> str:
    """The row's values as read, amounts in kronor."""
    money = _amount_names(row.source, mapping)
    return ", ".join(
        f"{name}={format_sek(int(value)) if name in money and _int(value) else value}"
        for name, value in row.values.items()
        if value
    )


def _amount(row: SourceRow) -> str:
    """What the row itself debits (its own lines), in kronor."""
    return format_sek(sum(line.amount for line in row.lines if line.amount > 0))


def _amount_names(source: str, mapping: Mapping) -> frozenset[str]:
    """A source's amount names (asked once a row: kept per mapping and source)."""
    key = (id(mapping), source)
    names = _AMOUNTS.get(key)
    if names is None or names[0] is not mapping:
        try:
            found = frozenset(get_source(source, mapping.formats).schema.amounts)
        except Exception:  # a source this bokfor no longer has: values shown as stored
            found = frozenset()
        names = _AMOUNTS[key] = (mapping, found)
    return names[1]


# (id(mapping), source) -> (that mapping, its amount names): the mapping is held, so its
# id is never another's while it is here.
_AMOUNTS: dict[tuple[int, str], tuple[Mapping, frozenset[str]]] = {}


def _int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _difference(v: TrailVoucher, accounts: dict[str, str]) -> str:
    rows, lines = v.row_totals(), v.totals()
    return "; ".join(
        f"{account}: rader {format_sek(rows.get((account, dims), 0))}, "
        f"verifikation {format_sek(lines.get((account, dims), 0))}"
        for account, dims in sorted(set(rows) | set(lines))
        if rows.get((account, dims), 0) != lines.get((account, dims), 0)
    )


def _runs(exports: list[Export]) -> list[tuple[Run, list[Export]]]:
    runs: dict[int, tuple[Run, list[Export]]] = {}
    for e in exports:
        runs.setdefault(e.run.id, (e.run, []))[1].append(e)
    return list(runs.values())


def _where(row: SourceRow, href: str | None) -> str:
    origin = esc(row.origin)
    parts = (
        f'<br><span class="meta">adderar raderna {esc(row.parts.replace(",", ", "))}</span>'
        if row.parts
        else ""
    )
    return (
        (f'<a href="{esc(href)}">{origin}</a>' if href else origin)
        + parts
        + f'<br><span class="meta">sha256 {esc((row.sha256 or "")[:16])}…</span>'
    )


def _file_url(row: SourceRow) -> str | None:
    path = Path(row.file or "")
    return path.as_uri() if path.is_absolute() else None  # as_uri quotes # ? %


def write_underlag(
    html: Path,
    trail: Trail,
    mapping: Mapping,
    title: str,
    own: dict[str, Path],
    pdf: Path | None = None,
) -> list[Path]:
    """Write the page to `html` and the CSV beside it (same name, .csv), and with `pdf` the
    page printed; each atomically, never over a directory, FIFO or the run's own files
    (`own`), all checked before anything is written. Returns the paths written."""
    from bokfor.fileio import atomic_write
    from bokfor.outputs import check_not_own, check_writable, resolved

    page = resolved(html)
    if page.suffix.lower() == ".csv":
        raise UsageError(
            f"--out {html} names the CSV: --out is the HTML page, the CSV goes beside it",
            hint="give --out a name ending in .html.",
        )
    sheet = page.with_suffix(".csv")
    for target in (page, sheet):
        check_writable(target, option="--out")
    check_not_own(page, own)
    try:
        check_not_own(sheet, own, f"--out {html} writes its CSV beside it:")
    except UsageError as exc:
        raise UsageError(
            exc.message,
            hint="give --out another name: the CSV takes the page's name, ending in .csv.",
        ) from None
    pages = {"the underlag page (--out)": page, "the underlag's CSV": sheet}
    printer = _printer(pdf, {**own, **pages}) if pdf is not None else None
    atomic_write(page, (part.encode("utf-8") for part in underlag_page(trail, mapping, title)))
    atomic_write(
        sheet,
        itertools.chain(
            [b"\xef\xbb\xbf"], (x.encode("utf-8") for x in underlag_csv(trail, mapping))
        ),
    )
    return [page, sheet, *([printer(page)] if printer else [])]


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _printer(pdf: Path, own: dict[str, Path]) -> Callable[[Path], Path]:
    """What prints the page to `pdf` with a headless Chromium (the optional PDF renderer: a
    browser prints the page's own A4 print styles, and bokfor needs no PDF library) —
    checked before anything is written: the target writable (first: a PDF named over the
    ledger is refused as such on any machine), then the browser there."""
    from bokfor.outputs import check_not_own, check_writable, resolved

    target = resolved(pdf)
    check_writable(target, option="--pdf")
    check_not_own(target, own, "--pdf")
    if not target.parent.is_dir():
        raise UsageError(
            f"--pdf {pdf}: its folder {target.parent} does not exist",
            hint="name a file in an existing folder.",
        )
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if browser is None:
        raise UsageError(
            "--pdf needs Chromium to print the page, and none is installed",
            hint="install it (apt install chromium), or print the HTML page from any browser.",
        )

    def print_pdf(page: Path) -> Path:
        try:
            with tempfile.TemporaryDirectory(prefix=".bokfor-pdf-", dir=target.parent) as tmp:
                made = Path(tmp) / "underlag.pdf"
                subprocess.run(
                    [
                        browser,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--no-pdf-header-footer",
                        f"--user-data-dir={tmp}/profile",
                        f"--print-to-pdf={made}",
                        page.as_uri(),
                    ],
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
                if not made.exists() or made.stat().st_size == 0:
                    raise OutputError(
                        "Chromium printed no PDF",
                        file=str(pdf),
                        hint="print the HTML page by hand.",
                    )
                os.replace(made, target)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OutputError(
                f"Chromium could not print the page: {exc}",
                file=str(pdf),
                hint="print the HTML page from a browser.",
            ) from None
        return target

    return print_pdf
