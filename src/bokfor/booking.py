"""Rows + mapping -> balanced vouchers. Pure: no files, no printing.

Every row is booked by the first rule that matches it; the row's lines must sum to zero
(the mapping check proves this for every rule, and it is checked again per row, so a
voucher that does not balance can never reach a writer). Rows that no rule matches are
collected and reported together, with a YAML snippet per kind, before anything is written.
A posting whose sign looks backwards in the rows booked (money out, cost credited) is
reported as one warning per rule and posting (bokfor.plausibility), `--strict` refusing it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from bokfor.domain import Dims, Line, Notice, Origin, PackedKeys, PackedOrigins, Row, Voucher
from bokfor.errors import InputError, MappingError, UnbalancedError
from bokfor.mapping import Mapping, Rule, SourceRules
from bokfor.money import div_round_expr, format_sek, format_sie, format_sie_expr, split_vat, vat_on
from bokfor.plausibility import Checker
from bokfor.sources import Schema
from bokfor.template import Template

if TYPE_CHECKING:
    import polars as pl


@dataclass
class Booking:
    vouchers: Sequence[Voucher]  # a list, or VoucherColumns (bokfor.postings)
    rows: int = 0
    zero_rows: int = 0  # matched, but every amount is 0.00: nothing to book
    skipped: dict[str, int] = field(default_factory=dict)  # rule name -> rows (skip: true)
    pending: list[Row] = field(default_factory=list)  # per_payout: not yet paid out
    notices: list[Notice] = field(default_factory=list)
    # Rows no rule matched, by kind (the values of Schema.unmapped_fields).
    unmapped: dict[tuple[Any, ...], list[Row]] = field(default_factory=dict)
    # tags[i]: the tag `on_row` was given for the rows of vouchers[i] (0, 1, 2, … per
    # booking, in the order the vouchers were begun).
    tags: list[int] = field(default_factory=list)


# on_row(tag, row, lines, own, rule): a row was booked by `rule` into the voucher tagged
# `tag`, giving `lines`; `own` when they are that voucher's lines (it has no other row). A
# negative tag says why a row matched is in no voucher: PENDING, it waits for a payout
# (per_payout); SKIPPED, its rule says `skip: true`; ZERO, every amount is 0.00. What the
# ledger records per row is made from this as the row comes: a large input is never held
# whole.
RowSink = Callable[[int, Row, tuple[Line, ...], bool, str], None]
PENDING, SKIPPED, ZERO = -1, -2, -3


def _ignore(tag: int, row: Row, lines: tuple[Line, ...], own: bool, rule: str) -> None:
    pass


class _Group:
    """A grouped voucher as its rows come: their lines added up at once (what merge_lines
    would give, so the rows' own lines are not held), and per row only what the voucher
    names it by (key, origin), packed: see domain.PackedKeys."""

    __slots__ = (
        "tag",
        "totals",
        "date",
        "fx",
        "_keys",
        "_key_ends",
        "_ranks",
        "_rank_ends",
        "_files",
        "_file_of",
        "_lines",
    )

    def __init__(self, tag: int, date: dt.date) -> None:
        self.tag = tag
        self.totals: dict[tuple[str, Dims, str, bool], int] = defaultdict(int)
        self.date = date  # the latest row's
        self.fx = False  # a row was converted from another currency (fx_difference applies)
        # Row k: key and rank (the order rows are in, with the line: see book) as UTF-8
        # between ends[k] and ends[k + 1]; its origin as a file number and a line.
        self._keys, self._key_ends = bytearray(), array("q", (0,))
        self._ranks, self._rank_ends = bytearray(), array("q", (0,))
        self._files: dict[str, int] = {}
        self._file_of, self._lines = array("I"), array("q")

    def add(self, rank: str, row: Row, lines: tuple[Line, ...]) -> None:
        self._keys += row.key.encode()
        self._key_ends.append(len(self._keys))
        self._ranks += rank.encode()
        self._rank_ends.append(len(self._ranks))
        origin = row.origin
        files = self._files
        number = files.get(origin.file)
        if number is None:
            number = files[origin.file] = len(files)
        self._file_of.append(number)
        self._lines.append(origin.line)
        if row.date > self.date:
            self.date = row.date
        if not self.fx and "fx.currency" in row.fields:
            self.fx = True
        totals = self.totals
        for line in lines:  # as merge_lines adds them up
            amount = line.amount
            totals[(line.account, line.dims, line.text, amount > 0)] += amount

    def lines(self) -> list[Line]:
        return [
            Line(account, amount, dims, text)
            for (account, dims, text, _), amount in self.totals.items()
        ]

    def members(self) -> tuple[PackedKeys, PackedOrigins]:
        """The rows' keys and origins in (rank, line) order; stable: rows in one order keep
        the file's. (UTF-8 bytes sort as their texts do.) Called once: the buffers go to the
        voucher."""
        ranks, ends, lines = self._ranks, self._rank_ends, self._lines
        order = array(
            "I", sorted(range(len(lines)), key=lambda k: (ranks[ends[k] : ends[k + 1]], lines[k]))
        )
        keys = bytes(self._keys)
        self._keys = self._ranks = bytearray()  # not held twice while the others are made
        return (
            PackedKeys(keys, self._key_ends, order),
            PackedOrigins(tuple(self._files), self._file_of, lines, order),
        )

    def __len__(self) -> int:
        return len(self._lines)


def book(
    rows: Iterable[Row],
    rules: SourceRules,
    mapping: Mapping,
    schema: Schema,
    on_row: RowSink = _ignore,
) -> Booking:
    """Book `rows` (all of one source) with `rules`, reading them once: a row is done with
    when its lines are made and handed to `on_row` (per_row: its voucher is made too). Rows
    no rule matches are collected in `Booking.unmapped` (see `unmapped_error`); raises
    UnbalancedError naming rule and row, InputError for a row in a currency the company
    does not keep its books in."""
    return _book(_matched(rows, rules, mapping, schema), rules, mapping, schema, on_row)


def _matched(
    rows: Iterable[Row], rules: SourceRules, mapping: Mapping, schema: Schema
) -> Iterator[tuple[Row, Rule | None]]:
    """Each row in the books' currency, with the first rule that matches it (or None)."""
    match = rules.match
    if not schema.currency_field:
        for row in rows:
            yield row, match(row)
        return
    for row in rows:
        row = _in_currency(row, mapping, schema)
        yield row, match(row)


def _in_currency(row: Row, mapping: Mapping, schema: Schema) -> Row:
    """The row in the books' currency (`convert_row` when it is in another)."""
    assert schema.currency_field is not None
    row_currency = str(row.fields.get(schema.currency_field) or "").upper()
    if row_currency != mapping.company.currency:
        return convert_row(row, row_currency, mapping, schema)
    return row


def in_books_currency(
    frame: pl.DataFrame, source: str, mapping: Mapping, schema: Schema
) -> pl.DataFrame:
    """The frame with every row in the books' currency, as `convert_row` converts a row: a
    rate per currency and day, looked up once; the basis amounts converted by integer
    expressions, the others derived from them. A row without a rate raises `convert_row`'s
    error; amounts too large for Int64 arithmetic raise NotFramed (the plan goes row by
    row)."""
    import polars as pl

    from bokfor import frames

    field, currency = schema.currency_field, mapping.company.currency
    if not field:
        return frame
    raw = (
        frame.get_column(field)
        if field in frame.columns
        else pl.Series(field, [None] * frame.height, dtype=pl.String)
    )
    code = {c: str(c or "").upper() for c in raw.unique().to_list()}  # as _in_currency reads it
    other = [c for c, upper in code.items() if upper != currency]
    if not other:
        return frame
    is_other = raw.is_in([c for c in other if c is not None]).fill_null(None in other)
    pairs = frame.select(raw.alias("_code"), pl.col(frames.DATE_COL)).filter(is_other).unique()
    rates = {
        (c, day): mapping.rates.rate(code[c], day) if code[c] else None
        for c, day in pairs.iter_rows()
    }
    basis = sorted({b for expression in schema.amounts.values() for b in expression})
    missing = {pair for pair, rate in rates.items() if rate is None}
    num = max((r.num for r in rates.values() if r is not None), default=1)
    moved = frame.filter(is_other)
    nulls = moved.select(pl.any_horizontal(pl.col(b).is_null().any() for b in basis)).item()
    if largest_amount(moved, basis) * num >= 1 << 60:
        # Converted, an amount may not fit an Int64 (a derived amount adds converted ones):
        # the plan books the file row by row, in Python's integers.
        from bokfor.sources import NotFramed

        raise NotFramed
    if missing or nulls:
        # Through `Row`s: the first row without a rate raises convert_row's error.
        return frames.from_rows(
            (_in_currency(row, mapping, schema) for row in frames.to_rows(frame, source, schema)),
            schema,
        )
    table = pl.DataFrame(
        [
            (c, day, r.num, r.den, code[c], r.text, r.day.isoformat() if r.day else None)
            for (c, day), r in rates.items()
            if r is not None
        ],
        schema={
            "_code": pl.String,
            frames.DATE_COL: pl.Date,
            "_num": pl.Int64,
            "_den": pl.Int64,
            "fx.currency": pl.String,
            "fx.rate": pl.String,
            "fx.rate_date": pl.String,
        },
        orient="row",
    )
    joined = frame.with_columns(raw.alias("_code")).join(
        table, on=["_code", frames.DATE_COL], how="left", maintain_order="left"
    )
    converted = {  # Rate.convert
        b: div_round_expr(pl.col(b) * pl.col("_num"), pl.col("_den")) for b in basis
    }
    inside = pl.col("_num").is_null()  # a row in the books' currency: as read
    return joined.with_columns(
        *(
            pl.when(inside)
            .then(pl.col(name))
            .otherwise(pl.sum_horizontal(c * converted[b] for b, c in expression.items()))
            .alias(name)
            for name, expression in schema.amounts.items()
        ),
        *(
            pl.when(inside).then(None).otherwise(format_sie_expr(pl.col(name))).alias(f"fx.{name}")
            for name in schema.amounts
        ),
    ).drop("_code", "_num", "_den")


def largest_amount(frame: pl.DataFrame, columns: Iterable[str]) -> int:
    """The largest |amount| in these Int64 columns (as Python's integer: an Int64's abs
    wraps at its minimum)."""
    import polars as pl

    ends = frame.select(
        *(pl.col(c).max().alias(f"max{i}") for i, c in enumerate(columns)),
        *(pl.col(c).min().alias(f"min{i}") for i, c in enumerate(columns)),
    ).row(0)
    return max((abs(v) for v in ends if v is not None), default=0)


def _book(
    matched: Iterable[tuple[Row, Rule | None]],
    rules: SourceRules,
    mapping: Mapping,
    schema: Schema,
    on_row: RowSink,
) -> Booking:
    result = Booking(vouchers=[])
    bank, on_bank = rules.bank_accounts, schema.bank_accounts
    grouping, order_field = rules.grouping, schema.order_field
    key_field = schema.group_keys.get(grouping)
    singles: list[tuple[tuple[Any, ...], Voucher, int]] = []  # a voucher each: order, tag
    groups: dict[Any, _Group] = {}  # the grouped vouchers
    # Postings whose sign looks backwards, in the rows booked: warnings (bokfor.plausibility).
    checker = Checker(schema) if schema.money else None
    see = checker.see if checker is not None else None
    count = 0
    for row, rule in matched:
        count += 1
        if rule is None:
            add_unmapped(result, row, schema)
            continue
        if rule.skip:
            result.skipped[rule.name] = result.skipped.get(rule.name, 0) + 1
            on_row(SKIPPED, row, (), False, rule.name)
            continue
        lines = row_lines(row, rule)
        if see is not None:
            see(row, rule)
        if bank is not None:
            ledger = bank.ledger_account(row, mapping.file)
            # Line(ledger, *rest) is line._replace(account=ledger) without its overhead.
            lines = [Line(ledger, *line[1:]) if line.account == on_bank else line for line in lines]
        if not lines:
            result.zero_rows += 1
            on_row(ZERO, row, (), False, rule.name)
            continue
        booked = tuple(lines)
        # Rows are in (date, order field, line) order. Date and field as one text: the
        # date's isoformat is always 10 characters, so it compares as the pair would, and
        # a grouped row keeps one object for it instead of three.
        rank = (
            row.date.isoformat() + _sortable(row.fields.get(order_field))
            if order_field
            else row.date.isoformat()
        )
        if grouping == "per_row":
            tag = len(singles)
            on_row(tag, row, booked, True, rule.name)
            singles.append(
                (
                    (rank, row.origin.line),
                    _row_voucher(row, rule, booked, rules, rule.text or rules.voucher_text),
                    tag,
                )
            )
            continue
        group = _group_of(row, grouping, key_field)
        if group is not None:
            voucher = groups.get(group)
            if voucher is None:
                voucher = groups[group] = _Group(len(groups) + len(singles), row.date)
            on_row(voucher.tag, row, booked, False, rule.name)
            voucher.add(rank, row, booked)
        elif grouping == "per_payout":
            on_row(PENDING, row, booked, False, rule.name)
            result.pending.append(row)
        else:
            # The section's voucher text names group fields: the rule's own text, if any.
            tag = len(groups) + len(singles)
            on_row(tag, row, booked, True, rule.name)
            singles.append(
                ((rank, row.origin.line), _row_voucher(row, rule, booked, rules, rule.text), tag)
            )
    result.rows = count
    if checker is not None:
        result.notices += checker.notices()
    singles.sort(key=_first)  # stable: rows in one order keep the file's
    if grouping == "per_row":
        result.vouchers = [voucher for _, voucher, _ in singles]
        result.tags = [tag for _, _, tag in singles]
        return result
    if result.pending:
        result.notices.append(pending_notice(result.pending))
    tagged = [
        (_group_voucher(key, group, rules, key_field), group.tag) for key, group in groups.items()
    ]
    tagged += [(voucher, tag) for _, voucher, tag in singles]
    tagged.sort(key=voucher_order)
    result.vouchers = [voucher for voucher, _ in tagged]
    result.tags = [tag for _, tag in tagged]
    return result


def pending_notice(pending: list[Row]) -> Notice:
    """per_payout: the rows not booked because no payout includes them yet."""
    return Notice(
        f"{len(pending)} rows are not yet paid out and were not booked; "
        "they will be booked with the payout that includes them",
        file=pending[0].origin.file,
    )


def add_unmapped(result: Booking, row: Row, schema: Schema) -> None:
    kind = tuple(row.fields.get(f) for f in schema.unmapped_fields)
    result.unmapped.setdefault(kind, []).append(row)


def voucher_order(item: tuple[Voucher, int]) -> tuple[dt.date, int]:
    voucher = item[0]
    return voucher.date, voucher.origins[0].line if voucher.origins else 0


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _group_of(row: Row, grouping: str, key_field: str | None) -> Any:
    """The voucher a row goes into under `grouping`; None: a voucher of its own (or, for
    per_payout, not paid out yet)."""
    if grouping == "per_day":
        return row.date
    group = row.fields.get(key_field) if key_field else None
    if group and grouping == "per_entry":
        # A bank's entry reference is unique per account and day at best (NtryRef counts
        # 1, 2, 3 in each statement): never one voucher across accounts or days.
        return (row.fields.get("account"), row.date, group)
    return group or None


def convert_row(row: Row, currency: str, mapping: Mapping, schema: Schema) -> Row:
    """The row in the company's currency at the mapping's rate for the row's date.

    Only the basis amounts are converted (each rounded to the öre); the others are derived
    from them, so gross = fee + net still holds exactly and the voucher balances. The
    original amounts, currency and rate stay on the row as `fx.*` fields for texts."""
    rate = mapping.rates.rate(currency, row.date) if currency else None
    if rate is None:
        company = mapping.company.currency
        reason = (
            mapping.rates.describe_missing(currency, row.date)
            if currency
            else "the row names no currency"
        )
        raise InputError(
            f"amount in {currency or 'no currency'}, but the books are kept in {company}: {reason}",
            file=row.origin.file,
            line=row.origin.line,
            column=schema.currency_field,
            hint=f"add a rate under `currency_rates:` in the mapping ({{fixed: {{{currency or 'EUR'}:"
            f" '11.25'}}}} or a rate file), or export the {company} balance.",
        )
    basis = {b for expression in schema.amounts.values() for b in expression}
    converted = {b: rate.convert(row.amounts[b]) for b in basis}
    amounts = {
        name: sum(c * converted[b] for b, c in expression.items())
        for name, expression in schema.amounts.items()
    }
    fields = dict(row.fields)
    fields.update(
        {
            "fx.currency": currency,
            "fx.rate": rate.text,
            "fx.rate_date": rate.day.isoformat() if rate.day else None,
        }
    )
    fields.update({f"fx.{name}": format_sie(value) for name, value in row.amounts.items()})
    return dataclasses.replace(row, amounts=amounts, fields=fields)


def row_lines(row: Row, rule: Rule) -> list[Line]:
    """The voucher lines one row gives under `rule`; checks they balance."""
    amounts, get = row.amounts, _row_getter(row)
    lines: list[Line] = []
    for p in rule.postings:
        amount = p.sign * amounts[p.amount]
        if amount == 0:
            continue
        dims = p.fixed_dims
        if dims is None:
            dims = tuple(
                (dim, obj)
                for dim, template in p.dims
                if (
                    obj := template.constant
                    if template.constant is not None
                    else template.render(get)
                )
            )
        template = p.text
        text = (
            ""
            if template is None
            else template.constant
            if template.constant is not None
            else template.render(get)
        )
        if p.vat_rate is not None and p.vat_account is not None:
            net, vat = split_vat(amount, p.vat_rate)
            lines.append(Line(p.account, net, dims, text))
            if vat:
                lines.append(Line(p.vat_account, vat, (), text))
        elif p.vat_rate is not None and p.reverse_charge is not None:
            vat = vat_on(amount, p.vat_rate)
            lines.append(Line(p.account, amount, dims, text))
            if vat:
                lines.append(Line(p.reverse_charge[0], vat, (), text))
                lines.append(Line(p.reverse_charge[1], -vat, (), text))
        else:
            lines.append(Line(p.account, amount, dims, text))
    diff = sum(line.amount for line in lines)
    if diff:
        raise UnbalancedError(
            f"rule {rule.name!r} ({rule.where}) gives a voucher that does not balance:"
            f" debit − credit = {format_sek(diff)} kr",
            file=row.origin.file,
            line=row.origin.line,
            key=rule.key,
            hint="post every amount of the row on both sides (see docs/mapping.md).",
        )
    return lines


def _row_getter(row: Row) -> Callable[[str], object]:
    amounts = row.amounts

    def get(name: str) -> object:
        if name in amounts:
            return format_sie(amounts[name])
        return row.value(name)

    return get


# -- grouping into vouchers ------------------------------------------------------------


def _row_voucher(
    row: Row, rule: Rule, lines: tuple[Line, ...], rules: SourceRules, template: Template | None
) -> Voucher:
    # Empty fields leave gaps ("{counterparty} {text}"); a verifikation always has a text.
    text = " ".join(template.render(_row_getter(row)).split()) if template else ""
    return Voucher(
        series=rules.series,
        date=row.date,
        text=text or rule.name,
        lines=lines,
        source_keys=(row.key,),
        origins=(row.origin,),
        rule=rule.name,
    )


def _group_voucher(key: Any, group: _Group, rules: SourceRules, key_field: str | None) -> Voucher:
    source_keys, origins = group.members()
    return grouped_voucher(
        key, group.date, len(group), group.lines(), source_keys, origins, rules, key_field, group.fx
    )


def grouped_voucher(
    key: Any,
    date: dt.date,
    count: int,
    lines: list[Line],
    source_keys: Sequence[str],
    origins: Sequence[Origin],
    rules: SourceRules,
    key_field: str | None,
    fx: bool = False,
) -> Voucher:
    """The voucher of a group of rows (a day's, a payout's): `lines` their lines added up per
    account, dimensions, text and side, `fx` when a row was converted from another currency."""
    values = {"date": date, "source": rules.source, "count": count}
    if isinstance(key, tuple):
        key = key[-1]  # per_entry: (account, date, entry)
    if key_field:
        values[key_field] = key if rules.grouping != "per_day" else None
    if rules.voucher_text:
        text = rules.voucher_text.render(values.get)
    elif rules.grouping == "per_day":
        text = f"{rules.source} {date.isoformat()}"
    else:
        text = f"{rules.source} {key}"
    if rules.fx_difference and fx:
        lines = lines + fx_difference(lines, *rules.fx_difference)
    return Voucher(
        series=rules.series,
        date=date,
        text=text,
        lines=merge_lines(lines),
        source_keys=source_keys,
        origins=origins,
    )


def fx_difference(
    lines: list[Line], clearings: tuple[str, ...], gain: str, loss: str
) -> list[Line]:
    """What a payout leaves on its clearing account (of `clearings`: one a provider) when its
    rows were converted at their own days' rates, or at a fixed rate rounded row by row:
    booked against valutakursvinst (the payout was worth more) or -förlust."""
    text = "Valutakursdifferens"
    out: list[Line] = []
    for clearing in clearings:
        left = sum(line.amount for line in lines if line.account == clearing)
        if left:
            out += [
                Line(clearing, -left, (), text),
                Line(gain if left < 0 else loss, left, (), text),
            ]
    return out


def merge_lines(lines: Iterable[Line]) -> tuple[Line, ...]:
    """Add up lines with the same account, dimensions, text and side; debits stay apart
    from credits so a day's sales and refunds remain visible. Sorted by account."""
    totals: dict[tuple[str, Dims, str, bool], int] = defaultdict(int)
    for line in lines:
        totals[(line.account, line.dims, line.text, line.amount > 0)] += line.amount
    return tuple(
        Line(account, amount, dims, text)
        for (account, dims, text, debit), amount in sorted(
            totals.items(), key=lambda kv: (kv[0][0], not kv[0][3], kv[0][1], kv[0][2])
        )
        if amount
    )


def _sortable(value: object) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return "" if value is None else str(value)


# -- unmapped rows ----------------------------------------------------------------------


def unmapped_kinds(unmapped: dict[tuple[Any, ...], list[Row]], schema: Schema) -> list[str]:
    """One line per kind of unmapped row: `type=topup currency=sek: 2 rows, first at line 4`."""
    out = []
    for kind, rows in sorted(unmapped.items(), key=lambda kv: kv[1][0].origin.line):
        label = " ".join(f"{f}={v}" for f, v in zip(schema.unmapped_fields, kind, strict=True))
        out.append(
            f"{label}: {len(rows)} row{'s' if len(rows) > 1 else ''}, "
            f"first at line {rows[0].origin.line}"
        )
    return out


def unmapped_error(
    unmapped: dict[tuple[Any, ...], list[Row]], rules: SourceRules, mapping: Mapping, schema: Schema
) -> MappingError:
    total = sum(len(rows) for rows in unmapped.values())
    first = min((rows[0] for rows in unmapped.values()), key=lambda r: r.origin.line)
    details = [f"  {kind}" for kind in unmapped_kinds(unmapped, schema)]
    kinds = len(unmapped)
    if schema.free_text in schema.unmapped_fields:
        from bokfor.suggest import snippet, suggest

        at = schema.unmapped_fields.index(schema.free_text)
        suggestions = suggest(
            {(k[at],): rows for k, rows in unmapped.items()}, schema.free_text, schema.money
        )
        indent = _rules_indent(rules, mapping)
        details.append(
            f"Paste at the end of {rules.key}.rules in {mapping.file} (each account "
            'is a guess from the text: check it; docs/mapping.md, "Suggested '
            'rules"):'
        )
        details.extend(
            snippet(
                suggestions,
                schema.free_text,
                schema.money,
                schema.bank_accounts or schema.snippet[0][0],
                indent,
            )
        )
        hint = "paste the rules below, or add a `fallback:`."
    else:
        details.append(f"Paste under {rules.key}.rules in {mapping.file} and choose the accounts:")
        for kind in sorted(unmapped, key=lambda k: unmapped[k][0].origin.line):
            details.extend(_snippet(kind, schema))
        hint = "add a rule for each kind below, or a `fallback:`."
    return MappingError(
        f"{total} row{'s' if total > 1 else ''} of {kinds} kind{'s' if kinds > 1 else ''} "
        "match no rule",
        file=first.origin.file,
        line=first.origin.line,
        key=f"{rules.key}.rules",
        hint=hint,
        details=details,
    )


def _rules_indent(rules: SourceRules, mapping: Mapping) -> str:
    """The indentation of the section's rules in the mapping file (`- ` of its last rule),
    so the suggested rules paste as they are; two spaces when it has none to go by."""
    line = max((r.line for r in rules.rules if r.line), default=None)
    if line is not None:
        try:
            with open(mapping.file, encoding="utf-8-sig") as f:
                for number, text in enumerate(f, 1):
                    if number == line:
                        dash = text.find("- ")
                        if dash >= 0 and not text[:dash].strip():
                            return text[:dash]
                        break
        except OSError:
            pass
    return "  "


def _snippet(kind: tuple[Any, ...], schema: Schema) -> list[str]:
    when = ", ".join(
        f"{f}: {'~' if v is None else v}" for f, v in zip(schema.unmapped_fields, kind, strict=True)
    )
    name = " ".join(str(v) for v in kind if v)
    lines = [f"  - name: {name}", f"    when: {{{when}}}", "    post:"]
    for account, side, amount in schema.snippet:
        lines.append(f"      - {{account: {account}, {side}: {amount}}}")
    return lines


# -- POS day closes ---------------------------------------------------------------------


def book_pos(
    rows: Iterable[Row], mapping: Mapping, on_row: RowSink = _ignore, gaps: Any = None
) -> Booking:
    """Day-close rows (sources/pos.py) -> one voucher per register and Z, plus the cash
    vouchers asked for. Raises InputError for a close that does not tie or an X report,
    MappingError listing every payment method, VAT rate, product group and SIE account
    without account — of the whole run when the plan hands in its `gaps`
    (`posbook.RunGaps`, raised by the plan after the last input); the plan checks the Z
    series of the whole run (`dayclose.z_gaps`)."""
    from bokfor.dayclose import DayClose
    from bokfor.posbook import RunGaps, book_cash, book_dayclose, remap_sie_voucher
    from bokfor.sources.pos import CASH_DEPOSIT, CASH_DIFFERENCE, SIE, Z

    result = Booking(vouchers=[])
    if mapping.pos is None:
        raise MappingError(
            "the mapping has no `pos:` section for POS day closes",
            file=mapping.file,
            key="pos",
            hint="add `pos: {payment_methods: …, vat_rates: …}` (docs/pos.md).",
        )
    closes: list[DayClose] = []
    tagged: list[tuple[Voucher, int]] = []
    own = gaps is None
    gaps = gaps if gaps is not None else RunGaps()  # every account the closes lack: one error
    missing, missing_sie = gaps.closes, gaps.sie
    for row in rows:
        result.rows += 1
        close, part = row.detail, row.fields["part"]
        if part == Z:
            assert isinstance(close, DayClose)
            closes.append(close)
            _same_currency(close, mapping)
            voucher = book_dayclose(close, mapping.pos, missing)
            if voucher is None:
                continue
        elif part == SIE:
            assert isinstance(close, Voucher)  # a voucher of the register's own SIE file
            voucher = remap_sie_voucher(close, mapping.pos, mapping.accounts, missing_sie)
            if voucher is None:
                continue
        else:
            assert isinstance(close, DayClose)
            cash = book_cash(close, mapping.pos)
            suffix = {CASH_DIFFERENCE: ":diff", CASH_DEPOSIT: ":deposit"}[str(part)]
            voucher = next(v for v in cash if v.source_keys[0].endswith(suffix))
        voucher = dataclasses.replace(voucher, source_keys=(row.key,), origins=(row.origin,))
        on_row(len(tagged), row, voucher.lines, True, f"pos:{part}")
        tagged.append((voucher, len(tagged)))
    if own:
        gaps.raise_if_any()
    for close in closes:
        result.notices.extend(Notice(note, file=close.origin.file) for note in close.notes)
    tagged.sort(key=voucher_order)
    result.vouchers = [voucher for voucher, _ in tagged]
    result.tags = [tag for _, tag in tagged]
    return result


def _same_currency(close: Any, mapping: Mapping) -> None:
    """A day close is booked as it stands, never converted: one in another currency than the
    books' (a Z report saying Valuta EUR) is refused, naming its file."""
    currency = (close.currency or "").strip().upper()
    if currency and currency != mapping.company.currency:
        raise InputError(
            f"the day close is in {currency}, but the books are kept in {mapping.company.currency}",
            file=close.origin.file,
            line=close.line_of("currency"),
            key=close.label,
            hint="a day close is booked in the currency of the books; book this register's "
            "day closes in books of their own currency, or by hand at the day's rate.",
        )
