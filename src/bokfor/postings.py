"""Rows booked as columns (issue 22): a batch of new rows -> each rule's postings as integer
expressions -> a voucher per day or payout by `group_by`, or a voucher a row.

`book_frames` books what `booking.book` books, for the rules `columnar` accepts (a voucher a
row, a day or a payout; every posting's account, dimensions and text fixed by the mapping; a
bank account per file only with a voucher a row): the same vouchers, tags, ledger records and
skipped rows, byte for byte (tests/test_postings.py, and the plans by frames and by rows in
tests/test_classify.py). Nothing of a grouped row becomes a Python object but what the ledger
stores of it, a rule's plausibility warnings and the rare row in another currency or without a
rule; vouchers of a row each stay columns (`frames.FramedVouchers`: a voucher frame and its
lines by slot), which the plan, the SIE writer and the ledger read as they are.

A batch's rows are numbered and each gets its rule (`SourceRules.first_match`). Rules that
post alike (a `_shape`: the same amounts, signs and VAT) book their rows in one pass: per
posting a line slot (an account, dimensions and text: a `_Spec`, picked by the row's rule)
and its amount, the VAT split out exactly as `money.split_vat` splits it. What a row records
is its lines as the ledger's JSON, built from each slot's JSON around its amount. The
vouchers' lines are the slots' amounts summed by voucher, slot and side; their members are
the rows sorted by (date, order field, line), as `booking` orders them. A voucher a row gets
its text from its template as string expressions (`_rendered`) and the bank account's
placeholder account its bank's ledger account (`_bank_ledgers`).
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import polars as pl

from bokfor import frames
from bokfor.booking import (
    PENDING,
    SKIPPED,
    ZERO,
    Booking,
    _in_currency,
    add_unmapped,
    grouped_voucher,
    in_books_currency,
    largest_amount,
    pending_notice,
)
from bokfor.classify import CONTENT
from bokfor.domain import Dims, Line, Origin, Packed, Voucher
from bokfor.errors import BokforError, MappingError, UnbalancedError
from bokfor.ledger import SAME_LINES, lines_to_json
from bokfor.mapping import Mapping, Posting, Rule, SourceRules
from bokfor.money import (
    _rate_fraction,
    div_round_expr,
    format_sek,
    format_sie_expr,
    split_vat,
    vat_on,
)
from bokfor.plausibility import Checker
from bokfor.sources import DATE, DATETIME, Schema
from bokfor.spool import temp_file_error
from bokfor.template import Template

# Columns of a batch being booked (a row frame's own names start with `_` too: not these).
_ROW, _RULE, _TAG, _GROUP = "_row", "_rule", "_tag", "_group"
_LINES, _NAME, _WHY = "_lines", "_rule_name", "_why"
_BANK, _TEXT = "_bank", "_text"  # a row's bank ledger account; its voucher's text (per_row)
_FX = "fx.currency"  # booking.convert_row's: the row was in another currency
# A bound on |amount| × a VAT rate's numerator within which the split's integer arithmetic
# fits an Int64; a batch with a larger amount splits its VAT with Python's integers instead.
_SAFE = 1 << 62


def columnar(rules: SourceRules, schema: Schema) -> bool:
    """Whether `book_frames` books with these rules (`booking.book` otherwise): a voucher a
    row, a day, or a payout where the source names one; every posting's account, dimensions
    and text fixed; a bank account per file only with a voucher a row; a voucher a row's text
    naming no timestamp (`_rendered`)."""
    grouped = rules.grouping == "per_day" or (
        rules.grouping == "per_payout" and "per_payout" in schema.group_keys
    )
    per_row = rules.grouping == "per_row"
    return (
        (grouped and rules.bank_accounts is None or per_row)
        and all(
            p.fixed_dims is not None and (p.text is None or p.text.constant is not None)
            for rule in rules.candidates
            for p in rule.postings
        )
        and not (
            per_row
            and any(
                schema.fields.get(name) == DATETIME
                and name not in schema.amounts
                and name != "date"
                for rule in rules.candidates
                for template in (rule.text or rules.voucher_text,)
                if template is not None
                for name in template.fields
            )
        )
    )


@dataclass
class FrameSink:
    """Where booked rows go as columns (the plan's record spool), in file order: `records`
    gets per booked row tag, key, content, origin, lines (JSON), rule, aliases; `skipped` per
    row in no voucher its line, key, why (`booking`'s PENDING, SKIPPED or ZERO) and rule."""

    records: Callable[[pl.DataFrame], None]
    skipped: Callable[[pl.DataFrame], None]


@dataclass(frozen=True)
class _Spec:
    """A line slot: account, dimensions and text, and its lines' JSON around the amount."""

    account: str
    dims: Dims
    text: str
    before: str
    after: str


@dataclass
class _Slots:
    """The run's line slots, numbered as first met."""

    specs: list[_Spec] = field(default_factory=list)
    _ids: dict[tuple[str, Dims, str], int] = field(default_factory=dict)

    def id(self, account: str, dims: Dims, text: str) -> int:
        key = (account, dims, text)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.specs)
            self.specs.append(_Spec(account, dims, text, *_json_around(account, dims, text)))
        return found


def _json_around(account: str, dims: Dims, text: str) -> tuple[str, str]:
    """The JSON `lines_to_json` gives a line of this slot, as the text before and after its
    amount: found from the encoder itself, so the two never disagree."""
    zero = lines_to_json((Line(account, 0, dims, text),))[1:-1]
    one = lines_to_json((Line(account, 1, dims, text),))[1:-1]
    at = next(i for i, (a, b) in enumerate(zip(zero, one, strict=True)) if a != b)
    before, after = zero[:at], zero[at + 1 :]
    for amount in (-123456789, 7):
        line = lines_to_json((Line(account, amount, dims, text),))[1:-1]
        assert line == f"{before}{amount}{after}", (line, before, after)
    return before, after


@dataclass
class _Slot:
    spec: pl.Expr  # the slot's id (`_Slots`) for the row's rule
    amount: pl.Expr
    present: pl.Expr


def book_frames(
    batches: Iterable[pl.DataFrame],
    rules: SourceRules,
    mapping: Mapping,
    schema: Schema,
    sink: FrameSink,
) -> Booking:
    """Book the new rows of `batches` (row frames with a CONTENT column, in file order) as
    `booking.book` books them, for rules `columnar` accepts. Raises as it does."""
    assert columnar(rules, schema)
    book = _Book(rules, mapping, schema, sink)
    for batch in batches:
        if batch.height:
            book.add(batch)
    return book.result()


class _Book:
    def __init__(
        self, rules: SourceRules, mapping: Mapping, schema: Schema, sink: FrameSink
    ) -> None:
        self.rules, self.mapping, self.schema, self.sink = rules, mapping, schema, sink
        self.key_field = schema.group_keys.get(rules.grouping)
        self.booking = Booking(vouchers=[])
        self.checker = Checker(schema) if schema.money else None
        self.slots = _Slots()
        self.tags: dict[Any, int] = {}  # a voucher's group value -> its tag, as first met
        self.files: dict[str, int] = {}
        self.totals: list[pl.DataFrame] = []  # per batch: tag, spec, debit, amount
        # Per batch: tag, date, order, line of each grouped row; its place in `packed` is its
        # row's number in them all (both are appended to together). And per batch and tag:
        # its rows, their last date, whether one was converted from another currency.
        self.members: list[pl.DataFrame] = []
        self.per_tag: list[pl.DataFrame] = []
        self.packed = _Spill()  # the grouped rows' keys and origins, in the order they came
        # A voucher a row (per_row): the vouchers by tag, and per batch their sort columns.
        self.per_row = rules.grouping == "per_row"
        self.singles = 0  # vouchers so far
        self.heads: list[pl.DataFrame] = []  # per batch: tag, date, text, key, origin, rule
        self.lines: list[pl.DataFrame] = []  # per batch: tag, spec, amount
        self.ranks: list[pl.DataFrame] = []  # per batch: date, order, line

    def add(self, batch: pl.DataFrame) -> None:
        rules, schema, result = self.rules, self.schema, self.booking
        content = batch[CONTENT]
        try:
            converted = in_books_currency(batch.drop(CONTENT), rules.source, self.mapping, schema)
        except BokforError:
            # booking converts a row when it comes to it: a row before the first it cannot
            # convert (a bank account the mapping lacks) stops it first.
            at = self._convertible(batch.drop(CONTENT))
            if at:
                self.add(batch.head(at))
            raise
        batch = converted
        batch = batch.with_columns(content, pl.int_range(pl.len()).alias(_ROW))
        picked = batch.select(rules.first_match(dict(batch.schema)).alias(_RULE)).to_series()
        result.rows += batch.height
        batch = batch.with_columns(picked)
        if picked.null_count():
            for row in frames.to_rows(batch.filter(picked.is_null()), rules.source, schema):
                add_unmapped(result, row, schema)
            batch = batch.filter(picked.is_not_null())
        failed: list[tuple[int, int, Exception]] = []  # a row, 0 (its lines) or 1, the error
        if rules.bank_accounts is not None:
            batch = self._bank_ledgers(batch, failed)
        if self.per_row:
            batch = batch.with_columns(self._voucher_text(batch).alias(_TEXT))
        lines: list[pl.DataFrame] = []  # _row, spec, amount
        booked: list[pl.DataFrame] = []  # _row, lines (JSON), rule
        idle: list[pl.DataFrame] = []  # _row, why (SKIPPED, ZERO or PENDING), rule
        shapes: dict[tuple[Any, ...], list[int]] = {}  # rules that post alike, by _shape
        for index in batch[_RULE].unique().sort().to_list():
            rule = rules.candidates[index]
            if self.checker is not None and not rule.skip and self.checker.checks(rule):
                self.checker.see_frame(batch.filter(pl.col(_RULE) == index), rule)
            shapes.setdefault(("skip",) if rule.skip else _shape(rule), []).append(index)
        amounts = batch.select(_ROW, _RULE, *(a for a in schema.amounts if a in batch.columns))
        for shape, indices in shapes.items():
            rows = amounts.filter(pl.col(_RULE).is_in(indices))  # what postings read of a row
            name = _by_rule(indices, [rules.candidates[i].name for i in indices], pl.String)
            if shape == ("skip",):
                idle.append(rows.select(_ROW, pl.lit(SKIPPED).alias(_WHY), name.alias(_NAME)))
                continue
            slots = self._slots([rules.candidates[i] for i in indices], indices, rows)
            out = rows.select(pl.col(_ROW), pl.col(_RULE), name.alias(_NAME), *self._posted(slots))
            bad = out.filter(pl.col("present") & (pl.col("diff") != 0))
            if bad.height:
                at, index = bad[_ROW][0], bad[_RULE][0]
                failed.append((at, 0, self._unbalanced(batch, at, index, bad["diff"][0])))
            idle.append(
                out.filter(~pl.col("present")).select(_ROW, pl.lit(ZERO).alias(_WHY), _NAME)
            )
            out = out.filter(pl.col("present"))
            booked.append(out.select(_ROW, _LINES, _NAME))
            lines += [
                out.filter(pl.col(f"p{i}")).select(
                    pl.col(_ROW),
                    pl.lit(i, pl.UInt16).alias("slot"),  # a row's lines in booking's order
                    pl.col(f"s{i}").alias("spec"),
                    pl.col(f"a{i}").alias("amount"),
                )
                for i in range(len(slots))
            ]
        if failed:  # the first row booking would fail at, as it fails there
            raise min(failed, key=lambda f: f[:2])[2]
        self._group(batch, booked, lines, idle)

    def _convertible(self, batch: pl.DataFrame) -> int:
        """How many of the batch's first rows `booking` converts to the books' currency."""
        mapping, schema = self.mapping, self.schema
        for at, row in enumerate(frames.to_rows(batch, self.rules.source, schema)):
            try:
                _in_currency(row, mapping, schema)
            except BokforError:
                return at
        return 0

    def _unbalanced(self, batch: pl.DataFrame, at: int, index: int, diff: int) -> UnbalancedError:
        rule = self.rules.candidates[index]
        where = batch.filter(pl.col(_ROW) == at)
        return UnbalancedError(
            f"rule {rule.name!r} ({rule.where}) gives a voucher that does not balance:"
            f" debit − credit = {format_sek(diff)} kr",
            file=where[frames.FILE][0],
            line=where[frames.LINE][0],
            key=rule.key,
            hint="post every amount of the row on both sides (see docs/mapping.md).",
        )

    def _bank_ledgers(
        self, batch: pl.DataFrame, failed: list[tuple[int, int, Exception]]
    ) -> pl.DataFrame:
        """The ledger account of each booked row's bank account (_BANK), as booking asks
        `BankAccounts.ledger_account`: once per (account, format), with the first row of
        the pair a rule books (skipped rows are not asked); a pair it refuses adds its
        first row and the error to `failed`."""
        rules, bank = self.rules, self.rules.bank_accounts
        assert bank is not None
        booking = [i for i, rule in enumerate(rules.candidates) if not rule.skip]
        pair = pl.concat_str(
            *(
                (
                    pl.col(name).cast(pl.String)
                    if name in batch.columns
                    else pl.lit(None, pl.String)
                ).fill_null("")
                for name in ("account", "format")
            ),
            separator="\x00",
        )
        firsts = (
            batch.filter(pl.col(_RULE).is_in(booking))
            .group_by(pair.alias("pair"), maintain_order=True)
            .agg(pl.col(_ROW).first())
        )
        ledgers: dict[str, str] = {}
        for value, at in firsts.iter_rows():
            (row,) = frames.to_rows(batch.filter(pl.col(_ROW) == at), rules.source, self.schema)
            try:
                ledgers[value] = bank.ledger_account(row, self.mapping.file)
            except MappingError as exc:
                failed.append((at, 1, exc))
        return batch.with_columns(
            pair.replace_strict(
                list(ledgers), list(ledgers.values()), default=None, return_dtype=pl.String
            ).alias(_BANK)
        )

    def _voucher_text(self, batch: pl.DataFrame) -> pl.Expr:
        """booking's per_row voucher text: the rule's text or the section's voucher_text,
        its white space collapsed; the rule's name when that leaves nothing."""
        rules = self.rules
        by_template: dict[Template | None, list[int]] = {}
        for index, rule in enumerate(rules.candidates):
            by_template.setdefault(rule.text or rules.voucher_text, []).append(index)
        text: Any = pl.lit("")
        for template, indices in by_template.items():
            if template is not None:
                text = (
                    pl.when(pl.col(_RULE).is_in(indices))
                    .then(_rendered(template, batch, self.schema))
                    .otherwise(text)
                )
        text = text.str.replace_all(_SPACES, " ").str.strip_chars(" ")
        names = [rule.name for rule in rules.candidates]
        name = pl.col(_RULE).replace_strict(list(range(len(names))), names, default=None)
        return pl.when(text == "").then(name).otherwise(text)

    def _slots(self, rules: list[Rule], indices: list[int], rows: pl.DataFrame) -> list[_Slot]:
        """The line slots of rules of one `_shape` over their `rows`, as `booking.row_lines`
        makes a row's lines: the amounts are the shape's, the slot (account, dimensions,
        text) each rule's own, picked by the row's rule."""
        ids = self.slots.id
        specs: list[list[int]] = []  # per rule, its slots' ids
        for rule in rules:
            mine: list[int] = []
            for p in rule.postings:
                dims, text = p.fixed_dims or (), p.text.constant if p.text is not None else ""
                assert text is not None
                mine.append(ids(p.account, dims, text))
                kind = _kind(p)
                if kind == _SPLIT:
                    assert p.vat_account is not None
                    mine.append(ids(p.vat_account, (), text))
                elif kind == _ON_TOP:
                    assert p.reverse_charge is not None
                    mine += [ids(p.reverse_charge[0], (), text), ids(p.reverse_charge[1], (), text)]
            specs.append(mine)
        out: list[_Slot] = []
        for p in rules[0].postings:  # the shape's amounts
            kind, at = _kind(p), len(out)
            spec = [
                _by_rule(indices, [mine[at + k] for mine in specs], pl.Int32)
                for k in range(_SLOTS[kind])
            ]
            amount = p.sign * pl.col(p.amount)
            present = amount != 0
            if kind == _SPLIT:
                vat = _vat(rows, p, split=True)
                out.append(_Slot(spec[0], amount - vat, present))
                out.append(_Slot(spec[1], vat, present & (vat != 0)))
            elif kind == _ON_TOP:
                vat = _vat(rows, p, split=False)
                out.append(_Slot(spec[0], amount, present))
                out.append(_Slot(spec[1], vat, present & (vat != 0)))
                out.append(_Slot(spec[2], -vat, present & (vat != 0)))
            else:
                out.append(_Slot(spec[0], amount, present))
        return out

    def _posted(self, slots: list[_Slot]) -> list[pl.Expr]:
        """Per row: whether it has a line (`present`: else every amount is 0.00), debit −
        credit (`diff`), its lines as the ledger's JSON, and each slot's id, amount and
        presence (s0, a0, p0, s1, …)."""
        if not slots:
            return [
                pl.lit(False).alias("present"),
                pl.lit(0, pl.Int64).alias("diff"),
                pl.lit("[]").alias(_LINES),
            ]
        if self.per_row:  # a row that is its voucher: the ledger stores its lines once
            lines = pl.lit(SAME_LINES)
        else:
            specs = self.slots.specs
            ids = list(range(len(specs)))
            before = [s.before for s in specs]
            after = [s.after for s in specs]
            json = [
                pl.when(s.present).then(
                    pl.concat_str(
                        s.spec.replace_strict(ids, before, return_dtype=pl.String),
                        s.amount.cast(pl.String),
                        s.spec.replace_strict(ids, after, return_dtype=pl.String),
                    )
                )
                for s in slots
            ]
            lines = pl.concat_str(
                pl.lit("["), pl.concat_str(json, separator=",", ignore_nulls=True), pl.lit("]")
            )
        return [
            pl.any_horizontal(s.present for s in slots).alias("present"),
            pl.sum_horizontal(
                pl.when(s.present).then(s.amount.cast(pl.Int128)).otherwise(0) for s in slots
            ).alias("diff"),
            lines.alias(_LINES),
            *(s.spec.alias(f"s{i}") for i, s in enumerate(slots)),
            *(s.amount.alias(f"a{i}") for i, s in enumerate(slots)),
            *(s.present.alias(f"p{i}") for i, s in enumerate(slots)),
        ]

    def _group(
        self,
        batch: pl.DataFrame,
        booked: list[pl.DataFrame],
        lines: list[pl.DataFrame],
        idle: list[pl.DataFrame],
    ) -> None:
        """The batch's booked rows into their vouchers (tags as first met), recorded."""
        rules, schema, result = self.rules, self.schema, self.booking
        # What the records, the grouping and the members read of a row (not all its fields).
        wanted = [_ROW, CONTENT, frames.KEY, frames.DATE_COL, frames.FILE, frames.LINE]
        wanted += [frames.ALIASES, _FX, self.key_field or "", schema.order_field or ""]
        wanted += [_BANK, _TEXT, schema.money or ""]
        wanted += [schema.payout_row[0] if schema.payout_row else ""]
        rows = (
            pl.concat(booked)
            .sort(_ROW)
            .join(
                batch.select(c for c in batch.columns if c in wanted),
                on=_ROW,
                how="left",
                maintain_order="left",
            )
            if booked
            else None
        )
        if rows is not None and not self.per_row:
            if rules.grouping == "per_day":
                group = pl.col(frames.DATE_COL)
            else:
                assert self.key_field is not None
                group = (
                    pl.col(self.key_field)
                    if self.key_field in rows.columns
                    else pl.lit(None, pl.String)
                )
                group = pl.when(group != "").then(group)
            rows = rows.with_columns(group.alias(_GROUP))
            pending = rows.filter(pl.col(_GROUP).is_null())
            if pending.height:  # per_payout: not paid out yet
                idle.append(pending.select(_ROW, pl.lit(PENDING).alias(_WHY), _NAME))
                result.pending += frames.to_rows(
                    batch.filter(pl.col(_ROW).is_in(pending[_ROW].implode())),
                    rules.source,
                    schema,
                )
                rows = rows.filter(pl.col(_GROUP).is_not_null())
        if idle:
            self._skip(pl.concat(idle).sort(_ROW), batch)
        if rows is None or not rows.height:
            return
        if self.per_row:
            self._singles(rows, lines)
            return
        tags = self.tags
        values = rows[_GROUP].unique(maintain_order=True).to_list()
        for value in values:
            tags.setdefault(value, len(tags))
        rows = rows.with_columns(
            pl.col(_GROUP)
            .replace_strict(values, [tags[v] for v in values], return_dtype=pl.UInt32)
            .alias(_TAG)
        )
        self._record(rows)
        files = self.files
        for name in rows[frames.FILE].unique(maintain_order=True).to_list():
            files.setdefault(name, len(files))
        self.packed.add(
            rows[frames.KEY],
            rows[frames.FILE].replace_strict(
                list(files), list(files.values()), return_dtype=pl.UInt32
            ),
            rows[frames.LINE],
        )
        members = rows.select(
            pl.col(_TAG),
            pl.col(frames.DATE_COL).alias("date"),
            _order(rows, schema).alias("order"),
            pl.col(frames.LINE).cast(pl.UInt32).alias("line"),  # as the spilled lines
            # Converted from another currency (fx_difference applies to its voucher).
            (pl.col(_FX).is_not_null() if _FX in rows.columns else pl.lit(False)).alias("fx"),
        )
        self.members.append(members.drop("fx"))  # what orders the vouchers' rows
        self.per_tag.append(
            members.group_by(_TAG).agg(
                pl.len().alias("count"), pl.col("date").max(), pl.col("fx").any()
            )
        )
        self.totals.append(
            pl.concat(lines)
            .join(rows.select(_ROW, _TAG), on=_ROW, how="inner")
            .group_by(_TAG, "spec", (pl.col("amount") > 0).alias("debit"))
            .agg(pl.col("amount").cast(pl.Int128).sum())  # a day's total may pass Int64
        )

    def _record(self, rows: pl.DataFrame) -> None:
        """The booked rows' records (a key seen twice in the run has no content: none)."""
        money, payout_row = self.schema.money, self.schema.payout_row
        per_payout = self.rules.grouping == "per_payout" and _GROUP in rows.columns
        self.sink.records(
            rows.filter(pl.col(CONTENT).is_not_null()).select(
                pl.col(_TAG).alias("tag"),
                pl.col(frames.KEY).alias("key"),
                pl.col(CONTENT).alias("content"),
                pl.concat_str(pl.col(frames.FILE), pl.lit(":"), pl.col(frames.LINE)).alias(
                    "origin"
                ),
                pl.col(_LINES).alias("lines"),
                pl.col(_NAME).alias("rule"),
                pl.col(frames.ALIASES).alias("aliases"),
                pl.col(frames.FILE).alias("file"),
                pl.col(frames.LINE).alias("line"),
                # A bank row's money movement (plan._Movements): its bank's ledger account,
                # date and amount.
                (pl.col(_BANK) if _BANK in rows.columns else pl.lit(None, pl.String)).alias("bank"),
                pl.col(frames.DATE_COL).alias("date"),
                (
                    pl.col(money) if money and money in rows.columns else pl.lit(None, pl.Int64)
                ).alias("money"),
                # per_payout: the row's payout, and whether it is the payout itself
                # (plan._Payouts).
                (pl.col(_GROUP) if per_payout else pl.lit(None, pl.String)).alias("group"),
                (
                    (pl.col(payout_row[0]) == payout_row[1]).fill_null(False)
                    if payout_row and payout_row[0] in rows.columns
                    else pl.lit(False)
                ).alias("payout"),
            )
        )

    def _singles(self, rows: pl.DataFrame, lines: list[pl.DataFrame]) -> None:
        """A voucher each booked row (per_row), tagged in file order as booking tags them,
        kept as columns (`frames.FramedVouchers`); the bank account's placeholder account
        is the row's own bank's (_BANK)."""
        start, schema = self.singles, self.schema
        self.singles += rows.height
        rows = rows.with_columns((pl.int_range(pl.len(), dtype=pl.UInt32) + start).alias(_TAG))
        self._record(rows)
        self.ranks.append(
            rows.select(
                pl.col(frames.DATE_COL).alias("date"),
                _order(rows, schema).alias("order"),
                pl.col(frames.LINE).alias("line"),
            )
        )
        bank = _BANK in rows.columns
        posted = (
            pl.concat(lines)
            .join(
                rows.select(_ROW, _TAG, *([_BANK] if bank else [])),
                on=_ROW,
                how="inner",
            )
            .sort(_TAG, "slot")
        )
        if bank:  # the placeholder's slot becomes its bank's: a slot of its own
            specs, placeholder = self.slots.specs, schema.bank_accounts
            swap = posted.filter(
                pl.col("spec").is_in([i for i, s in enumerate(specs) if s.account == placeholder])
                & pl.col(_BANK).is_not_null()  # none that is booked (_bank_ledgers)
            ).unique(["spec", _BANK], maintain_order=True)
            old, new = [], []
            for spec, ledger in swap.select("spec", _BANK).iter_rows():
                s = specs[spec]
                old.append(f"{spec}\x00{ledger}")
                new.append(self.slots.id(ledger, s.dims, s.text))
            if old:
                key = pl.concat_str(pl.col("spec").cast(pl.String), pl.lit("\x00"), pl.col(_BANK))
                posted = posted.with_columns(
                    key.replace_strict(
                        old, new, default=pl.col("spec"), return_dtype=pl.Int32
                    ).alias("spec")
                )
        self.lines.append(posted.select(_TAG, "spec", "amount"))
        self.heads.append(
            rows.select(
                _TAG,
                pl.col(frames.DATE_COL).alias("date"),
                pl.col(_TEXT).alias("text"),
                pl.col(frames.KEY).alias("key"),
                pl.col(frames.FILE).alias("file"),
                pl.col(frames.LINE).alias("line"),
                pl.col(_NAME).alias("rule"),
            )
        )

    def _framed(self, by_rank: pl.Series) -> frames.FramedVouchers:
        """The singles in voucher order (`by_rank`: each place's tag) as columns; their
        lines name the run's line slots."""
        specs = self.slots.specs
        slots = pl.DataFrame(
            {
                frames.SLOT: range(len(specs)),
                "account": [s.account for s in specs],
                "dims": [[{"dim": k, "object": o} for k, o in s.dims] for s in specs],
                "text": [s.text for s in specs],
                "before": [s.before for s in specs],
                "after": [s.after for s in specs],
            },
            schema=frames.SLOT_COLUMNS,
        )
        # A permutation of the tags, so sorted is the identity: a file already in booking
        # order (a bank's statement, oldest first) is neither gathered nor sorted. The
        # batches' frames are let go as they are taken, so the vouchers are held once.
        in_order = by_rank.is_sorted()
        voucher = pl.col(_TAG)
        if not in_order:  # each tag's place in voucher order (by_rank's inverse)
            voucher = pl.lit(by_rank.arg_sort()).gather(voucher)
        batches, self.lines = self.lines, []
        lines = pl.concat(batches, rechunk=False).select(  # in tag order
            voucher.cast(pl.Int64).alias(frames.VOUCHER),
            pl.col("spec").cast(pl.Int32).alias(frames.SLOT),
            "amount",
        )
        if not in_order:
            lines = lines.sort(frames.VOUCHER, maintain_order=True)
        batches, self.heads = self.heads, []
        heads = pl.concat(batches, rechunk=False).drop(_TAG)  # row i is tag i
        del batches
        if not in_order:
            heads = heads[by_rank]
        heads = heads.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias(frames.VOUCHER),
            pl.lit(self.rules.series).alias("series"),
            pl.lit(None, pl.Int64).alias("number"),
            "date",
            "text",
            pl.lit(None, pl.Date).alias("reg_date"),
            "key",
            "file",
            pl.col("line").cast(pl.Int64),
            "rule",
        )
        return frames.FramedVouchers(heads, lines, slots)

    def _skip(self, idle: pl.DataFrame, batch: pl.DataFrame) -> None:
        """Rows in no voucher, in file order: counted, and recorded with why."""
        result = self.booking
        skipped = idle.filter(pl.col(_WHY) == SKIPPED).group_by(_NAME, maintain_order=True).len()
        for rule, count in skipped.iter_rows():  # in the order first met, as booking counts
            result.skipped[rule] = result.skipped.get(rule, 0) + count
        result.zero_rows += idle.filter(pl.col(_WHY) == ZERO).height
        self.sink.skipped(
            idle.join(batch.select(_ROW, frames.LINE, frames.KEY), on=_ROW, how="left").select(
                pl.col(frames.LINE).alias("line"),
                pl.col(frames.KEY).alias("key"),
                pl.col(_WHY).alias("why"),
                pl.col(_NAME).alias("rule"),
            )
        )

    def result(self) -> Booking:
        rules, result = self.rules, self.booking
        if self.checker is not None:
            result.notices += self.checker.notices()
        if result.pending:
            result.notices.append(pending_notice(result.pending))
        if self.per_row:  # by (date, order field, line), as booking sorts its singles
            if self.ranks:
                by_rank = (
                    pl.concat(self.ranks)
                    .select(
                        pl.arg_sort_by(
                            "date", "order", "line", maintain_order=True, nulls_last=False
                        )
                    )
                    .to_series()
                )
                result.vouchers = self._framed(by_rank)
                result.tags = by_rank.to_list()
            return result
        if not self.tags:
            return result
        members = pl.concat(self.members, rechunk=False)
        self.members = []
        per_tag = (  # added up a batch at a time: no hash table of every row
            pl.concat(self.per_tag)
            .group_by(_TAG)
            .agg(pl.col("count").sum(), pl.col("date").max(), pl.col("fx").any())
            .sort(_TAG)
        )
        self.per_tag = []
        # Voucher order: each row's place in `packed` (its number in `members`), sorted; a
        # voucher's rows are a slice of it (a view: nothing copied a voucher).
        places = members.select(
            pl.arg_sort_by(_TAG, "date", "order", "line", maintain_order=True, nulls_last=False)
        ).to_series()
        # Each voucher's first row's line, which orders vouchers of a day (`voucher_order`)
        # without reading every row's origin back from the spill.
        firsts = members["line"].gather(
            places.gather(per_tag["count"].cum_sum() - per_tag["count"])
        )
        del members
        packed, self.packed = self.packed, _Spill()
        packed.flush()
        files, at = tuple(self.files), 0
        totals = (
            pl.concat(self.totals).group_by(_TAG, "spec", "debit").agg(pl.col("amount").sum())
            if self.totals
            else pl.DataFrame()
        )
        by_tag: dict[int, list[Line]] = {}
        specs = self.slots.specs
        for tag, spec, amount in totals.select(_TAG, "spec", "amount").iter_rows():
            s = specs[spec]
            by_tag.setdefault(tag, []).append(Line(s.account, amount, s.dims, s.text))
        values = list(self.tags)
        tagged: list[tuple[Voucher, int, int]] = []
        for (tag, count, date, fx), first in zip(
            per_tag.select(_TAG, "count", "date", "fx").iter_rows(), firsts.to_list(), strict=True
        ):
            place = places.slice(at, count)
            at += count
            tagged.append(
                (
                    grouped_voucher(
                        values[tag],
                        date,
                        count,
                        by_tag.get(tag, []),
                        _SpilledKeys(packed, place),
                        _SpilledOrigins(packed, files, place),
                        rules,
                        self.key_field,
                        fx,
                    ),
                    tag,
                    first,
                )
            )
        tagged.sort(key=lambda t: (t[0].date, t[2]))  # voucher_order's (date, first line)
        result.vouchers = [voucher for voucher, _, _ in tagged]
        result.tags = [tag for _, tag, _ in tagged]
        return result


class _Spill:
    """Grouped rows' keys, file numbers and lines, in the order they came (a row's place
    is its number among them), in anonymous temporary files (Arrow IPC, 2^18 rows
    each) rather than in memory: converting a file to SIE never reads them back, and
    in memory they were more than half of a large run's peak (10.5M Stripe rows: ~50 B a
    row). Read back whole the first time a voucher's keys or origins are asked for (a
    Fortnox batch, the JSON report, a message naming its rows). The files have no name, so
    nothing is left behind, even by a killed run."""

    def __init__(self) -> None:
        self._parts: list[IO[bytes]] = []
        self._pending: list[pl.DataFrame] = []
        self._held = 0  # rows in _pending
        self._read: pl.DataFrame | None = None
        weakref.finalize(self, _close_all, self._parts)

    def add(self, keys: pl.Series, files: pl.Series, lines: pl.Series) -> None:
        self._pending.append(
            pl.DataFrame({"key": keys, "file": files, "line": lines.cast(pl.UInt32)})
        )
        self._held += len(keys)
        if self._held >= _SPILL_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the rows held to a file of their own."""
        if not self._pending:
            return
        part = pl.concat(self._pending, rechunk=False)
        self._pending, self._held = [], 0
        try:
            f = tempfile.TemporaryFile(prefix="bokfor-keys-")
            self._parts.append(f)
            part.write_ipc(f, compression="uncompressed")
        except (OSError, pl.exceptions.ComputeError) as exc:
            raise temp_file_error("written", exc, tempfile.gettempdir()) from None

    def rows(self) -> pl.DataFrame:
        """Every row, read back once (and kept: whoever asks for one voucher's rows asks
        for the others' next)."""
        if self._read is None:
            self.flush()
            read = []
            try:
                for f in self._parts:
                    f.seek(0)
                    read.append(pl.read_ipc(f))
            except (OSError, pl.exceptions.ComputeError) as exc:
                raise temp_file_error("read", exc, tempfile.gettempdir()) from None
            self._read = pl.concat(read) if read else pl.DataFrame()
        return self._read


_SPILL_ROWS = 1 << 18


def _close_all(parts: list[IO[bytes]]) -> None:
    for f in parts:
        f.close()


class _SpilledKeys(Packed, Sequence[str]):
    """A grouped voucher's keys, as the `_Spill` of its run holds them."""

    __slots__ = ("_spill",)

    def __init__(self, spill: _Spill, order: pl.Series) -> None:
        super().__init__(order)
        self._spill = spill

    def _item(self, k: int) -> str:
        return self._spill.rows()["key"][k]

    def __iter__(self) -> Iterator[str]:
        rows = self._spill.rows()
        return iter(rows["key"].gather(self._order).to_list())


class _SpilledOrigins(Packed, Sequence[Origin]):
    """A grouped voucher's origins, as the `_Spill` of its run holds them; `files` names
    the file numbers."""

    __slots__ = ("_spill", "_files")

    def __init__(self, spill: _Spill, files: tuple[str, ...], order: pl.Series) -> None:
        super().__init__(order)
        self._spill, self._files = spill, files

    def _item(self, k: int) -> Origin:
        rows = self._spill.rows()
        return Origin(self._files[rows["file"][k]], rows["line"][k])

    def __iter__(self) -> Iterator[Origin]:
        at = self._order
        chosen = self._spill.rows().select(pl.col("file").gather(at), pl.col("line").gather(at))
        files = self._files
        return iter([Origin(files[f], line) for f, line in chosen.iter_rows()])


def _shape(rule: Rule) -> tuple[Any, ...]:
    """What a rule's lines are made of, but for their accounts, dimensions and texts: rules
    of one shape are booked together."""
    return tuple((p.amount, p.sign, p.vat_rate, _kind(p)) for p in rule.postings)


_PLAIN, _SPLIT, _ON_TOP = "plain", "split", "on top"  # a posting's kind of VAT (`row_lines`)
_SLOTS = {_PLAIN: 1, _SPLIT: 2, _ON_TOP: 3}  # its lines: the amount, the VAT, reverse charge


def _kind(p: Posting) -> str:
    if p.vat_rate is not None and p.vat_account is not None:
        return _SPLIT  # VAT included: split out to its account
    if p.vat_rate is not None and p.reverse_charge is not None:
        return _ON_TOP  # VAT on top, in and out (omvänd skattskyldighet)
    return _PLAIN


def _by_rule(indices: list[int], values: list[Any], dtype: Any) -> pl.Expr:
    """values[k] for the rows of rule indices[k]."""
    if len(set(values)) == 1:
        return pl.lit(values[0], dtype)
    return pl.col(_RULE).replace_strict(indices, values, return_dtype=dtype)


def _order(rows: pl.DataFrame, schema: Schema) -> pl.Expr:
    """Orders a day's rows as `booking` does (by the order field's text), for sorting."""
    name = schema.order_field
    if not name or name not in rows.columns:
        return pl.lit("")
    kind = schema.fields.get(name)
    if kind in (DATE, DATETIME):
        return pl.col(name)  # ISO text sorts as the instant; no value sorts first
    return pl.col(name).cast(pl.String).fill_null("")


def _vat(rows: pl.DataFrame, p: Posting, *, split: bool) -> pl.Expr:
    """The posting's VAT of each row as `money.split_vat` (VAT included) or `money.vat_on`
    (on top) gives it, rounded half away from zero in integers."""
    rate = p.vat_rate
    assert rate is not None
    num, den = _rate_fraction(rate)
    amount = p.sign * pl.col(p.amount)
    divisor = 100 * den + num if split else 100 * den
    if largest_amount(rows, [p.amount]) * num < _SAFE:
        return div_round_expr(amount * num, divisor)
    # Python's integers for amounts so large that amount × rate could overflow an Int64.
    exact = (lambda a: split_vat(a, rate)[1]) if split else (lambda a: vat_on(a, rate))
    values = [None if a is None else exact(p.sign * a) for a in rows[p.amount].to_list()]
    return pl.lit(pl.Series(values, dtype=pl.Int64))


# Python's str.split() white space: Unicode's White_Space (the regex's \s) and \x1c-\x1f.
_SPACES = r"[\s\x1c-\x1f]+"


def _rendered(template: Template, batch: pl.DataFrame, schema: Schema) -> pl.Expr:
    """`template` rendered as `booking` renders it from a row (`_row_getter`, `Row.value`,
    `template._text`): an amount as SIE writes it, `date` the row's date, a date field ISO,
    other fields their text; a value the row lacks is empty. (`columnar` keeps timestamps
    out: Python's strftime writes a year before 1000 otherwise.)"""
    parts: list[pl.Expr] = []
    for part in template.parts:
        if isinstance(part, str):
            parts.append(pl.lit(part))
            continue
        (name,) = part
        if name in schema.amounts and name in batch.columns:
            value = format_sie_expr(pl.col(name))
        elif name == "date" and name not in schema.amounts:
            value = pl.col(frames.DATE_COL).cast(pl.String)
        elif name in batch.columns and not name.startswith("_"):
            value = pl.col(name).cast(pl.String)
        else:
            value = pl.lit(None, pl.String)
        parts.append(value.fill_null(""))
    return pl.concat_str(parts) if parts else pl.lit("")
