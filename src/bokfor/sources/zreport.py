"""Profile-driven reader for sectioned Z-dagrapport text exports (CSV and the like).

Every POS lays its Z report out differently, but they all share one shape: a header block
(register, Z number, dates), then sections (VAT, product groups, payments, cash, statistics)
of labelled rows with amounts in columns. A YAML profile (`zreport_profiles/*.yaml`) names
those sections by their heading text, the header fields by their labels and the amounts by
their columns, so a new POS needs a profile, not code (docs/pos.md shows how).

Two layouts:
- `column`: one table; a column names each row's section (`Moms;Försäljning 25 %;25;…`).
- `heading`: a line holding only a section's heading starts that section (`MOMS`), and the
  rows under it belong to it until the next heading.

A section the profile does not know is refused, not skipped: it could hold money (gift cards
sold, invoices) that would silently go unbooked. The profile lists what to ignore.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, overload

from bokfor.dayclose import DayClose, GroupTotal, RateTotal, sek_text, norm_rate
from bokfor.domain import Origin
from bokfor.errors import InputError, MappingError
from bokfor.money import AmountError, parse_amount
from bokfor.sources.bank import decode
from bokfor.sources.csvutil import Table
from bokfor import yamlload

PROFILE_DIR = Path(__file__).with_name("zreport_profiles")
_DETECT_LINES = 40

HEADER_FIELDS = (
    "report_type",
    "register",
    "z_number",
    "cost_centre",
    "org_nr",
    "created_at",
    "period_from",
    "period_to",
    "business_day",
    "currency",
)
SECTION_KINDS = (
    "rates",
    "groups",
    "sales_total",
    "payments",
    "tips",
    "rounding",
    "gift_cards_sold",
    "gift_cards_redeemed",
    "cash",
    "statistics",
    "ignore",
)
CASH_FIELDS = (
    "float_in",
    "float_out",
    "deposits",
    "withdrawals",
    "expected_cash",
    "counted_cash",
    "cash_difference",
    "cash_to_bank",
)
STAT_FIELDS = ("receipts", "open_sales")
COLUMN_NAMES = ("rate", "count", "net", "vat", "gross")
_PROFILE_KEYS = {
    "name",
    "title",
    "system",
    "delimiter",
    "decimal_mark",
    "encoding",
    "detect",
    "header",
    "report_types",
    "day_starts_at",
    "vat_tolerance",
    "cash_method",
    "table",
    "sections",
    "datetime_formats",
}
_DEFAULT_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y%m%d %H%M%S",
    "%Y%m%d",
)


@dataclass(frozen=True)
class SectionSpec:
    """What one section of the report holds."""

    heading: str
    kind: str
    amount: str = "gross"  # the column of a one-amount row
    total: str | None = None  # label of a total row to check against the sum of the rows
    rows: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # label -> (field, col)


@dataclass(frozen=True)
class Profile:
    """A parsed Z-report profile. Build one with `load_profile`."""

    name: str
    title: str
    system: str
    file: str
    delimiter: str
    decimal_mark: str | None
    encoding: str
    detect: tuple[str, ...]
    header: Mapping[str, str]  # field -> label
    z_types: tuple[str, ...]
    x_types: tuple[str, ...]
    day_starts_at: dt.time
    vat_tolerance: int
    cash_method: str | None
    layout: str
    table_header: str | None
    section_column: str | None
    label_column: str
    columns: Mapping[str, str]
    sections: Mapping[str, SectionSpec]  # casefolded heading -> spec
    datetime_formats: tuple[str, ...] = _DEFAULT_FORMATS


# -- profiles ---------------------------------------------------------------------------------


def shipped_profiles() -> list[Path]:
    return sorted(PROFILE_DIR.glob("*.yaml"))


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[Profile, ...]:
    """The shipped profiles, parsed once per process (every input is offered to detect)."""
    return tuple(load_profile(p) for p in shipped_profiles())


def load_profile(profile: "Profile | str | Path") -> Profile:
    """A Profile from itself, a shipped profile's name ('generic_sectioned') or a YAML path."""
    if isinstance(profile, Profile):
        return profile
    path = Path(profile)
    if not path.suffix and not path.exists():
        path = PROFILE_DIR / f"{profile}.yaml"
        if not path.is_file():
            names = ", ".join(p.stem for p in shipped_profiles())
            raise MappingError(
                f"no Z-report profile named {str(profile)!r}",
                hint=f"use one of: {names}, or the path of your own profile.",
            )
    data, positions = yamlload.load(path)
    return _parse_profile(data, positions, str(path))


def _perr(
    message: str, file: str, positions: dict, path: tuple, hint: str | None = None
) -> MappingError:
    return MappingError(
        message,
        file=file,
        line=yamlload.line_of(positions, path),
        key=yamlload.dotted(path),
        hint=hint,
    )


def _parse_profile(data: Any, positions: dict, file: str) -> Profile:
    if not isinstance(data, dict):
        raise _perr("a Z-report profile must be a mapping of keys", file, positions, ())
    unknown = sorted(set(data) - _PROFILE_KEYS)
    if unknown:
        raise _perr(
            f"unknown profile key {unknown[0]!r}",
            file,
            positions,
            (unknown[0],),
            hint="known keys: " + ", ".join(sorted(_PROFILE_KEYS)) + ".",
        )
    for key in ("name", "table", "sections"):
        if not data.get(key):
            raise _perr(f"the profile needs {key!r}", file, positions, ())
    header = data.get("header") or {}
    bad = [k for k in header if k not in HEADER_FIELDS]
    if bad:
        raise _perr(
            f"unknown header field {bad[0]!r}",
            file,
            positions,
            ("header", bad[0]),
            hint="header fields: " + ", ".join(HEADER_FIELDS) + ".",
        )
    table = data["table"]
    layout = table.get("layout", "column")
    if layout not in ("column", "heading"):
        raise _perr(
            "table.layout must be 'column' or 'heading'", file, positions, ("table", "layout")
        )
    if layout == "column" and not table.get("section"):
        raise _perr(
            "a column layout needs table.section (the column naming the section)",
            file,
            positions,
            ("table",),
        )
    columns = dict(table.get("columns") or {})
    bad = [k for k in columns if k not in COLUMN_NAMES]
    if bad:
        raise _perr(
            f"unknown column role {bad[0]!r}",
            file,
            positions,
            ("table", "columns", bad[0]),
            hint="roles: " + ", ".join(COLUMN_NAMES) + ".",
        )
    if "gross" not in columns:
        raise _perr(
            "table.columns needs 'gross' (the amount incl. VAT)",
            file,
            positions,
            ("table", "columns"),
        )
    sections: dict[str, SectionSpec] = {}
    for heading, spec in data["sections"].items():
        sections[heading.strip().casefold()] = _section(heading, spec, columns, file, positions)
    types = data.get("report_types") or {}
    mark = data.get("decimal_mark")
    if mark not in (None, ".", ","):
        raise _perr("decimal_mark must be ',' or '.'", file, positions, ("decimal_mark",))
    start = str(data.get("day_starts_at") or "00:00")
    try:
        day_start = dt.time.fromisoformat(start)
    except ValueError:
        raise _perr(
            f"day_starts_at {start!r} is not a time such as 04:00",
            file,
            positions,
            ("day_starts_at",),
        ) from None
    formats = data.get("datetime_formats")
    return Profile(
        name=str(data["name"]),
        title=str(data.get("title") or data["name"]),
        system=str(data.get("system") or data["name"]),
        file=file,
        delimiter=str(data.get("delimiter") or ";"),
        decimal_mark=mark,
        encoding=str(data.get("encoding") or "auto"),
        detect=tuple(str(s) for s in data.get("detect") or ()),
        header={k: str(v) for k, v in header.items() if v},
        z_types=tuple(s.casefold() for s in types.get("z") or ()),
        x_types=tuple(s.casefold() for s in types.get("x") or ()),
        day_starts_at=day_start,
        vat_tolerance=int(data.get("vat_tolerance") or 0),
        cash_method=data.get("cash_method"),
        layout=layout,
        table_header=table.get("header"),
        section_column=table.get("section"),
        label_column=str(table.get("label") or "1"),
        columns=columns,
        sections=sections,
        datetime_formats=tuple(formats) if formats else _DEFAULT_FORMATS,
    )


def _section(heading: str, spec: Any, columns: dict, file: str, positions: dict) -> SectionSpec:
    path = ("sections", heading)
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or spec.get("kind") not in SECTION_KINDS:
        raise _perr(
            f"section {heading!r} needs a kind",
            file,
            positions,
            path,
            hint="kinds: " + ", ".join(SECTION_KINDS) + ".",
        )
    amount = spec.get("amount", "gross")
    if amount not in columns:
        raise _perr(
            f"section {heading!r}: amount column {amount!r} is not in table.columns",
            file,
            positions,
            (*path, "amount"),
        )
    rows: dict[str, tuple[str, str]] = {}
    allowed = CASH_FIELDS if spec["kind"] == "cash" else STAT_FIELDS
    for label, target in (spec.get("rows") or {}).items():
        name, column = (
            (target, amount)
            if isinstance(target, str)
            else (target.get("field"), target.get("column", amount))
        )
        if name not in allowed:
            raise _perr(
                f"section {heading!r}: row {label!r} has unknown field {name!r}",
                file,
                positions,
                (*path, "rows", label),
                hint="fields: " + ", ".join(allowed),
            )
        if column not in columns:
            raise _perr(
                f"section {heading!r}: column {column!r} is not in table.columns",
                file,
                positions,
                (*path, "rows", label),
            )
        rows[label.strip().casefold()] = (name, column)
    return SectionSpec(
        heading=heading, kind=spec["kind"], amount=amount, total=spec.get("total"), rows=rows
    )


# -- detection --------------------------------------------------------------------------------


def detect(path: Path, extra: Sequence[Profile] = ()) -> Profile | None:
    """The profile whose `detect` texts all appear in the file's first lines: the user's
    (`extra`, from the mapping) first, then the shipped ones."""
    try:
        with open(path, "rb") as f:  # the head only: a large CSV of another source is no Z-report
            head = f.read(16384)
    except OSError:
        return None
    try:
        text, _ = decode(head, str(path), hint="")
    except InputError:
        return None
    first = "\n".join(text.splitlines()[:_DETECT_LINES])
    for profile in (*extra, *_shipped()):
        if profile.detect and all(s in first for s in profile.detect):
            return profile
    return None


# -- reading ----------------------------------------------------------------------------------


_HINT = "export the Z-dagrapport again from the register, or fix the profile (docs/pos.md)."


@dataclass
class _State:
    """What the reader has gathered so far (mutable while reading, frozen into DayClose)."""

    header: dict[str, tuple[str, int]] = field(default_factory=dict)
    rates: dict[str, RateTotal] = field(default_factory=dict)
    groups: dict[str, GroupTotal] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)  # tips, rounding, gift cards, cash
    stats: dict[str, dict[str, str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    totals: list[tuple[str, str, int, int]] = field(default_factory=list)  # kind, label, amt, line


def read_dayclose(path: Path | str, profile: Profile | str | Path) -> DayClose:
    """Read one Z (or X) report with a profile. The result is unchecked: run `check`."""
    path = Path(path)
    prof = load_profile(profile)
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=file) from None
    if prof.encoding == "auto":
        text, _ = decode(data, file, hint=_HINT)
    else:
        try:
            text = data.decode(prof.encoding).removeprefix("\ufeff")
        except (UnicodeDecodeError, LookupError):
            raise InputError(
                f"not {prof.encoding} text, as profile {prof.name} says", file=file, hint=_HINT
            ) from None
    rows = list(Table(text.splitlines(), prof.delimiter, file, hint=_HINT))
    state = _State()
    _walk(rows, prof, state, file)
    return _build(prof, state, file)


def _cells(row: list[str]) -> list[str]:
    return [c.strip() for c in row]


def _walk(rows: list[list[str]], prof: Profile, state: _State, file: str) -> None:
    index: dict[str, int] | None = None  # column name -> position, once the header is seen
    section: SectionSpec | None = None
    header_labels = {label.casefold(): name for name, label in prof.header.items()}
    for number, raw in enumerate(rows, 1):
        cells = _cells(raw)
        if not any(cells):
            continue
        first = cells[0]
        if index is None and prof.table_header and first.casefold() == prof.table_header.casefold():
            index = {name.casefold(): i for i, name in enumerate(cells) if name}
            continue
        if prof.layout == "heading" and _is_heading(cells, prof):
            section = prof.sections[first.casefold()]
            state.lines.setdefault(f"section:{section.kind}", number)
            continue
        if prof.layout == "column":
            if index is None:
                _header(cells, header_labels, state, number)
                continue
            heading = _cell(cells, prof.section_column, index, prof, file, number)
            spec = prof.sections.get(heading.casefold())
            if spec is None:
                raise _unknown_section(heading, prof, file, number)
        else:
            if section is None:
                _header(cells, header_labels, state, number)
                continue
            spec = section
        _row(spec, cells, index, prof, state, file, number)


def _header(cells: list[str], labels: dict[str, str], state: _State, line: int) -> None:
    label, value = _header_pair(cells)
    name = labels.get(label.casefold())
    if name:
        state.header[name] = (value, line)


def _is_heading(cells: list[str], prof: Profile) -> bool:
    return cells[0].casefold() in prof.sections and not any(cells[1:])


def _header_pair(cells: list[str]) -> tuple[str, str]:
    """'Z-nummer;412' or 'Z-nummer: 412' -> ('Z-nummer', '412')."""
    filled = [c for c in cells if c]
    if len(filled) >= 2:
        return filled[0].rstrip(":").strip(), filled[1]
    label, _, value = filled[0].partition(":")
    return label.strip(), value.strip()


def _unknown_section(heading: str, prof: Profile, file: str, line: int) -> InputError:
    known = ", ".join(s.heading for s in prof.sections.values())
    return InputError(
        f"section {heading!r} is not in Z-report profile {prof.name!r}",
        file=file,
        line=line,
        column=prof.section_column,
        hint=f"the profile knows: {known}. Add the section to the profile ({prof.file}), as "
        "'ignore' if it holds nothing to book.",
    )


def _position(name: str, index: dict[str, int] | None, prof: Profile, file: str, line: int) -> int:
    if name.isdigit():
        return int(name) - 1
    if index is None or name.casefold() not in index:
        raise InputError(
            f"the table has no column {name!r}",
            file=file,
            line=line,
            column=name,
            hint=f"fix table.columns in profile {prof.file}.",
        )
    return index[name.casefold()]


def _cell(
    cells: list[str],
    name: str | None,
    index: dict[str, int] | None,
    prof: Profile,
    file: str,
    line: int,
) -> str:
    position = _position(name or "1", index, prof, file, line)
    return cells[position] if position < len(cells) else ""


def _value(
    role: str, cells: list[str], index: dict[str, int] | None, prof: Profile, file: str, line: int
) -> str:
    return (
        _cell(cells, prof.columns.get(role), index, prof, file, line)
        if role in prof.columns
        else ""
    )


@overload
def _amount(
    role: str,
    cells: list[str],
    index: dict[str, int] | None,
    prof: Profile,
    file: str,
    line: int,
    required: Literal[True] = True,
) -> int: ...
@overload
def _amount(
    role: str,
    cells: list[str],
    index: dict[str, int] | None,
    prof: Profile,
    file: str,
    line: int,
    required: bool,
) -> int | None: ...
def _amount(
    role: str,
    cells: list[str],
    index: dict[str, int] | None,
    prof: Profile,
    file: str,
    line: int,
    required: bool = True,
) -> int | None:
    text = _value(role, cells, index, prof, file, line)
    column = prof.columns.get(role, role)
    if not text:
        if required:
            raise InputError(
                f"no amount in column {column!r}", file=file, line=line, column=column, hint=_HINT
            )
        return None
    try:
        return parse_amount(text, prof.decimal_mark)
    except AmountError as exc:
        mark = prof.decimal_mark or "either"
        raise InputError(
            f"not an amount: {exc}",
            file=file,
            line=line,
            column=column,
            hint=f"profile {prof.name} reads amounts with decimal mark {mark!r}; {_HINT}",
        ) from None


def _count(
    cells: list[str], index: dict[str, int] | None, prof: Profile, file: str, line: int
) -> int | None:
    text = _value("count", cells, index, prof, file, line)
    if not text:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise InputError(
            f"not a count: {text!r}",
            file=file,
            line=line,
            column=prof.columns.get("count"),
            hint=_HINT,
        )
    return int(text)


def _rate(
    cells: list[str], index: dict[str, int] | None, prof: Profile, file: str, line: int, label: str
) -> str | None:
    text = _value("rate", cells, index, prof, file, line)
    if not text:
        found = re.search(r"(\d+(?:[.,]\d+)?)\s*%", label)
        text = found.group(1) if found else ""
    if not text:
        return None
    try:
        return norm_rate(text)
    except ValueError:
        raise InputError(
            f"not a VAT rate: {text!r}",
            file=file,
            line=line,
            column=prof.columns.get("rate"),
            hint=_HINT,
        ) from None


def _row(
    spec: SectionSpec,
    cells: list[str],
    index: dict[str, int] | None,
    prof: Profile,
    state: _State,
    file: str,
    line: int,
) -> None:
    label = _cell(cells, prof.label_column, index, prof, file, line)
    kind = spec.kind
    if kind == "ignore":
        return
    if kind == "statistics":
        target = spec.rows.get(label.casefold())
        if target is not None:
            name, column = target
            value = (
                _count(cells, index, prof, file, line)
                if column == "count"
                else _amount(column, cells, index, prof, file, line, required=False)
            )
            state.sums[name] = value or 0
            state.lines[name] = line
        names = prof.columns
        state.stats[f"{spec.heading} / {label}"] = {
            role: _value(role, cells, index, prof, file, line)
            for role in names
            if _value(role, cells, index, prof, file, line)
        }
        return
    if spec.total and label.casefold() == spec.total.casefold():
        state.totals.append(
            (kind, label, _amount(spec.amount, cells, index, prof, file, line), line)
        )
        return
    if kind == "sales_total":
        state.totals.append(
            ("rates", label, _amount(spec.amount, cells, index, prof, file, line), line)
        )
        return
    if kind == "rates":
        rate = _rate(cells, index, prof, file, line, label)
        if rate is None:
            raise InputError(
                f"VAT row {label!r} has no VAT rate",
                file=file,
                line=line,
                column=prof.columns.get("rate"),
                hint=_HINT,
            )
        if rate in state.rates:
            raise InputError(
                f"VAT {rate} % appears twice (first on line {state.lines[f'rate:{rate}']})",
                file=file,
                line=line,
                hint=_HINT,
            )
        gross = _amount("gross", cells, index, prof, file, line)
        vat = _amount("vat", cells, index, prof, file, line)
        net = _amount("net", cells, index, prof, file, line, required=False)
        state.rates[rate] = RateTotal(net if net is not None else gross - vat, vat, gross)
        state.lines[f"rate:{rate}"] = line
        state.lines.setdefault("rates", line)
    elif kind == "groups":
        if label in state.groups:
            raise InputError(
                f"product group {label!r} appears twice", file=file, line=line, hint=_HINT
            )
        state.groups[label] = GroupTotal(
            gross=_amount("gross", cells, index, prof, file, line),
            rate=_rate(cells, index, prof, file, line, ""),
            net=_amount("net", cells, index, prof, file, line, required=False),
            vat=_amount("vat", cells, index, prof, file, line, required=False),
        )
        state.lines[f"group:{label}"] = line
        state.lines.setdefault("groups", line)
    elif kind == "payments":
        if label in state.payments:
            raise InputError(
                f"payment method {label!r} appears twice", file=file, line=line, hint=_HINT
            )
        state.payments[label] = _amount(spec.amount, cells, index, prof, file, line)
        count = _count(cells, index, prof, file, line)
        if count is not None:
            state.counts[label] = count
        state.lines[f"payment:{label}"] = line
        state.lines.setdefault("payments", line)
    elif kind == "cash":
        target = spec.rows.get(label.casefold())
        if target is None:
            known = ", ".join(spec.rows) or "none"
            raise InputError(
                f"cash row {label!r} is not in profile {prof.name!r}",
                file=file,
                line=line,
                hint=f"known cash rows: {known}; add it to the profile ({prof.file}).",
            )
        name, column = target
        state.sums[name] = _amount(column, cells, index, prof, file, line)
        state.lines[name] = line
        state.lines.setdefault("cash", line)
    else:  # tips, rounding, gift_cards_sold, gift_cards_redeemed: the sum of their rows
        state.sums[kind] = state.sums.get(kind, 0) + _amount(
            spec.amount, cells, index, prof, file, line
        )
        state.lines.setdefault(kind, line)


def _build(prof: Profile, state: _State, file: str) -> DayClose:
    head = state.header
    first_line = min([n for _, n in head.values()] or [1])

    def get(name: str) -> tuple[str | None, int]:
        value, line = head.get(name, (None, first_line))
        return (value or None), line

    report_type, type_line = get("report_type")
    is_x = False
    if "report_type" in prof.header:
        kind = (report_type or "").casefold()
        if kind in prof.x_types:
            is_x = True
        elif kind not in prof.z_types:
            raise InputError(
                f"report type {report_type!r} is neither a Z nor an X report for profile "
                f"{prof.name!r}",
                file=file,
                line=type_line,
                column=prof.header["report_type"],
                hint="give bokfor the Z-dagrapport; add the name to report_types.z in the "
                "profile if this is one.",
            )
    register, reg_line = get("register")
    if not register:
        raise InputError(
            "the report names no register (kassabeteckning)",
            file=file,
            line=reg_line,
            column=prof.header.get("register"),
            hint=_HINT,
        )
    z_text, z_line = get("z_number")
    z_number = None
    if z_text is not None:
        if not z_text.isdigit():
            raise InputError(
                f"Z number {z_text!r} is not a number",
                file=file,
                line=z_line,
                column=prof.header.get("z_number"),
                hint=_HINT,
            )
        z_number = int(z_text)
    elif not is_x:
        raise InputError(
            "the report has no Z number",
            file=file,
            line=z_line,
            column=prof.header.get("z_number"),
            hint=_HINT,
        )
    times = {
        name: _datetime(prof, *get(name), file)
        for name in ("created_at", "period_from", "period_to")
    }
    day_text, day_line = get("business_day")
    if day_text:
        moment = _datetime(prof, day_text, day_line, file)
        assert moment is not None  # the text is not empty
        day = moment.date()
    else:
        end = times["period_to"] or times["created_at"]
        if end is None:
            raise InputError(
                "the report gives no business day, period end or creation time",
                file=file,
                line=first_line,
                hint=_HINT,
            )
        start = dt.timedelta(hours=prof.day_starts_at.hour, minutes=prof.day_starts_at.minute)
        day = (end - start).date()
    _check_totals(prof, state, file)
    lines = dict(state.lines)
    lines.setdefault("z_number", z_line)
    lines.setdefault("report_type", type_line)
    sums = state.sums
    tolerance = {rate: prof.vat_tolerance for rate in state.rates} if prof.vat_tolerance else {}
    cash: dict[str, Any] = {name: sums.get(name) for name in CASH_FIELDS}  # int | None each
    return DayClose(
        system=prof.system,
        register=register,
        z_number=z_number,
        business_day=day,
        origin=Origin(file, first_line),
        sales_by_rate=state.rates,
        payments=state.payments,
        sales_by_group=state.groups,
        cost_centre=get("cost_centre")[0],
        tips=sums.get("tips", 0),
        rounding=sums.get("rounding", 0),
        gift_cards_sold=sums.get("gift_cards_sold", 0),
        gift_cards_redeemed=sums.get("gift_cards_redeemed", 0),
        **cash,
        cash_method=prof.cash_method,
        receipts=sums.get("receipts"),
        payment_counts=state.counts,
        open_sales=sums.get("open_sales") or 0,
        statistics=state.stats,
        is_x_report=is_x,
        vat_tolerance=tolerance,
        currency=get("currency")[0],
        org_nr=get("org_nr")[0],
        lines=lines,
        created_at=times["created_at"],
        period_from=times["period_from"],
        period_to=times["period_to"],
    )


def _datetime(prof: Profile, text: str | None, line: int, file: str) -> dt.datetime | None:
    if not text:
        return None
    for fmt in prof.datetime_formats:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InputError(
        f"not a date and time: {text!r}",
        file=file,
        line=line,
        hint=f"profile {prof.name} reads: "
        + ", ".join(prof.datetime_formats)
        + " (datetime_formats).",
    )


def _check_totals(prof: Profile, state: _State, file: str) -> None:
    """A report's own total rows must equal the sum of the rows they total."""
    sums = {
        "rates": sum(r.gross for r in state.rates.values()),
        "payments": sum(state.payments.values()),
    }
    for kind, label, amount, line in state.totals:
        have = sums.get(kind)
        if have is not None and have != amount:
            raise InputError(
                f"{label!r} says {sek_text(amount)} but its rows add up to {sek_text(have)} "
                f"(difference {sek_text(amount - have)})",
                file=file,
                line=line,
                hint=_HINT,
            )
