"""Self-contained HTML pages (the plan's review page, the mapping in words): one file that
opens from a USB stick or a mail years later, with no network, no script and no fonts to
fetch, and prints on A4.

The page forbids itself every external load with a Content-Security-Policy meta (styles
inline only), so a link that slips in is blocked, not fetched. Charts are inline SVG drawn
here: a bar chart is forty lines, and the chart libraries (pygal, plotly, matplotlib) bring
JavaScript, CDN links or a large dependency for what a bookkeeper glances at. Output is
deterministic: the same plan gives the same bytes (no clock; the date shown is the run's
#GEN date, which SOURCE_DATE_EPOCH fixes).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from bokfor.money import format_sek

# Nothing from outside: no script, no frame, no image, no font, no fetch; styles inline.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;
margin:2em auto;max-width:60em;padding:0 1em}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em;
border-bottom:1px solid #999}h3{font-size:1em;margin:.8em 0 .2em}
.meta{color:#444;margin:0 0 1em}
table{border-collapse:collapse;width:100%;margin:.3em 0 .8em}
th,td{padding:.15em .5em;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}
th{border-bottom:1px solid #666;font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.sum td{border-top:1px solid #666;font-weight:600}
table.lines{table-layout:fixed}.lines th:nth-child(1){width:3.5em}
.lines th:nth-child(2){width:40%}.lines th:nth-child(4),.lines th:nth-child(5){width:6.5em}
.lines th:nth-child(6){width:9em}
.sign{font:700 1.1em ui-monospace,monospace;display:inline-block;width:1.4em;text-align:center}
.s-new .sign{color:#06691f}.s-exported .sign{color:#666}.s-changed .sign{color:#9a5b00}
.s-unmapped .sign{color:#b00020}
section.voucher{border-left:4px solid #ccc;padding:.2em .8em;margin:.6em 0}
section.s-new{border-color:#2e9e4a}section.s-changed{border-color:#e0a000}
section.s-unmapped{border-color:#d0021b}section.s-exported{color:#555}
.note{background:#fff6d6;padding:.2em .5em}
pre{white-space:pre-wrap;background:#f4f4f4;padding:.5em;font-size:.9em}
svg{width:100%;height:auto;display:block}
.charts figure{margin:0 0 1em}figcaption{font-weight:600}
.key span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
.ok{color:#06691f}.off{color:#b00020;font-weight:600}
@page{size:A4;margin:14mm 12mm}
@media print{body{font-size:9pt;margin:0;max-width:none}h2{break-after:avoid}
section.voucher,figure,tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def page(title: str, body: Iterable[str], *, lang: str = "sv") -> str:
    """A whole HTML document around `body` (HTML fragments, joined)."""
    return "".join(page_parts(title, body, lang=lang))


def page_parts(title: str, body: Iterable[str], *, lang: str = "sv") -> Iterator[str]:
    """`page` a fragment at a time, for a page too large to hold whole."""
    yield (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="bokfor">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
    )
    for n, fragment in enumerate(body):
        yield ("\n" if n else "") + fragment
    yield "\n</body>\n</html>\n"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Iterable[int] = (),
    raw: bool = False,
    cls: str = "",
) -> str:
    """A table; columns in `numeric` right-aligned. Cells are text (escaped here) unless
    `raw` (already HTML)."""
    nums = set(numeric)

    def cell(tag: str, i: int, value: str) -> str:
        klass = ' class="num"' if i in nums else ""
        return f"<{tag}{klass}>{value if raw else esc(value)}</{tag}>"

    head = "".join(cell("th", i, esc(h) if raw else h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>\n" for row in rows
    )
    klass = f' class="{cls}"' if cls else ""
    head = f"<thead><tr>{head}</tr></thead>\n" if any(headers) else ""  # a list of key: value
    return f"<table{klass}>{head}<tbody>\n{body}</tbody></table>"


def kr(ore: int) -> str:
    """An amount as the terminal shows it ('1 234,50'), blank for 0 in debit/credit cells."""
    return format_sek(ore) if ore else ""


# -- inline SVG bar chart ---------------------------------------------------------------------

COLOURS = ("#2e7dd1", "#e0a000", "#2e9e4a", "#b00020")
_W, _H, _LEFT, _BOTTOM, _TOP = 720, 220, 78, 34, 10


def bar_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], caption: str
) -> str:
    """Grouped bars, one group a label, one bar a series; values in öre (a bar's <title>
    says its exact amount on hover). Empty when there is nothing to draw."""
    if not labels or not series:
        return ""
    values = [v for _, vs in series for v in vs]
    top, bottom = max(0, *values), min(0, *values)
    span = (top - bottom) or 1
    plot_h = _H - _BOTTOM - _TOP
    plot_w = _W - _LEFT - 8

    def y(v: int) -> float:
        return _TOP + (top - v) * plot_h / span

    group = plot_w / len(labels)
    bar = min(48.0, max(1.0, group * 0.8 / len(series)))  # a few groups: not a wall of colour
    parts = [f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-label="{esc(caption)}">']
    for v in _ticks(bottom, top):  # gridlines with amounts in kronor
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - 8}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="{"#666" if v == 0 else "#ddd"}" stroke-width="1"/>'
            f'<text x="{_LEFT - 4}" y="{y(v) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#444">{esc(format_sek(v)[:-3])}</text>'
        )
    every = max(1, -(-len(labels) * 46 // plot_w))  # a label every `every` groups: no overlap
    for i, label in enumerate(labels):
        x0 = _LEFT + (i + 0.5) * group - bar * len(series) / 2
        for j, (name, vs) in enumerate(series):
            v = vs[i]
            y0, y1 = sorted((y(0), y(v)))
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{y0:.1f}" width="{bar:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                f"<title>{esc(label)} {esc(name)}: {esc(format_sek(v))}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{_LEFT + (i + 0.5) * group:.1f}" y="{_H - _BOTTOM + 16}" '
                f'font-size="11" text-anchor="middle" fill="#444">{esc(label)}</text>'
            )
    parts.append("</svg>")
    key = "".join(
        f'<span style="background:{COLOURS[j % len(COLOURS)]}"></span>{esc(name)}'
        for j, (name, _) in enumerate(series)
    )
    return (
        f"<figure><figcaption>{esc(caption)}</figcaption>{''.join(parts)}"
        f'<div class="key">{key}</div></figure>'
    )


def _ticks(low: int, high: int) -> list[int]:
    """Gridline values: 0 and round steps (1, 2 or 5 times a power of ten kronor)."""
    span = max(high - low, 100)
    step, scale = 100, 100
    while span / step > 5:
        step = next(m * scale for m in (2, 5, 10) if m * scale > step)
        if step == 10 * scale:
            scale = step
    first = -(-low // step) * step
    return list(range(first, high + 1, step)) or [0]


# -- writing -------------------------------------------------------------------------------


def write_page(path: Path, text: str, option: str, own: dict[str, Path] | None = None) -> Path:
    """Write the page as every output is written: through a link to where the bytes go, never
    over a directory, FIFO or device (`outputs.check_writable`) or a file the run keeps or
    reads (`own`: outputs.check_not_own), to a temp file renamed into place
    (`fileio.atomic_write`). Returns the path written."""
    from bokfor.fileio import atomic_write
    from bokfor.outputs import check_not_own, check_writable, resolved

    target = resolved(path)
    check_writable(target, option=option)
    check_not_own(target, own or {}, option)
    atomic_write(target, text.encode("utf-8"))
    return target
