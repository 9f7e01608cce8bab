"""Rule conditions, two ways: a test of one `Row`, and a Polars expression over a row frame
(bokfor.frames) giving the same yes/no for every row.

The mapping (bokfor.mapping) checks what the user wrote and hands each field's condition
here as a `Condition`: parsed values, one (operator, argument) pair each. Both forms of a
condition are made from it side by side, so an operator's meaning is written in one place
twice, once per engine, and tests/test_rules.py holds the two equal on every shipped sample
and on generated rows and rules. `first_match` is a source's rules as one expression: the
index of the first rule whose conditions all hold, the fallback's after them, null for a
row no rule books.

Regular expressions run in RE2 per row and in Rust's `regex` crate (Polars) on columns.
Both take linear time; patterns.py translates the user's Python syntax for each. They differ
where their Unicode tables do: RE2 knows Unicode 15.1, Polars' `regex` 16.0, so `\\w`,
`\\d` and case-insensitive matching disagree on characters assigned since 15.1. A text that
holds such a character is searched by RE2 (the reference) in the frame too, as is every text
for a pattern that names such a character case-insensitively, has a `\\B` inside (the crate
never matches it within a character or in an empty text) or is too large for the crate: a
row can never match differently in the two engines. (Python's own `re` knows Unicode of
its release; that difference is patterns.py's.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bokfor.domain import FieldValue, Row
from bokfor.patterns import Pattern
from bokfor.sources import AMOUNT, DATE, DATETIME

if TYPE_CHECKING:
    import polars as pl

# Operators of a field's condition; EQUALS and ONE_OF are the plain value and the list.
EQUALS, ONE_OF = "equals", "one_of"
SIGNS = ("positive", "negative", "zero", "nonzero")
# The Unicode version of RE2's tables (google-re2): characters assigned later are searched
# by RE2 in a frame too (tests/test_rules.py checks every character against both engines).
RE2_UNICODE = "15.1"
_BEYOND = rf"[^\p{{Age:{RE2_UNICODE}}}]"
_MOST_FOLDED = 200_000  # code points named case-insensitively that are checked one by one


@dataclass(frozen=True)
class Condition:
    """One field's condition as the mapping writes it: every (operator, argument) must
    hold. Arguments are parsed: öre for amounts, dates, a frozenset for ONE_OF and `not`
    (None in it: an empty field), a `Pattern` for `regex`."""

    field: str
    kind: str  # the field's kind in the source's Schema (AMOUNT, DATE, DATETIME, text)
    tests: tuple[tuple[str, Any], ...]
    tz: dt.tzinfo  # timestamps compare by their date here (company.timezone)

    def predicate(self) -> Callable[[Row], bool]:
        """The condition on one row."""
        get = _getter(self.field, self.kind, self.tz)
        if len(self.tests) == 1 and self.tests[0][0] in (EQUALS, ONE_OF):
            op, arg = self.tests[0]
            if op == EQUALS:
                return lambda row: get(row) == arg
            return lambda row: get(row) in arg
        tests = [_value_test(op, arg) for op, arg in self.tests]
        if len(tests) == 1:
            test = tests[0]
            return lambda row: test(get(row))

        def all_of(row: Row) -> bool:  # the field is read once for all its operators
            value = get(row)
            for t in tests:
                if not t(value):
                    return False
            return True

        return all_of

    def expression(self, columns: Mapping[str, Any]) -> pl.Expr:
        """The condition over a frame with these columns (name -> dtype): never null."""
        value = _column(self.field, self.kind, self.tz, columns)
        return _all([_op_expression(op, arg, value) for op, arg in self.tests])


def first_match(
    rules: Sequence[Sequence[Condition]], fallback: bool, columns: Mapping[str, Any]
) -> pl.Expr:
    """Each row's rule: the index of the first of `rules` (each its conditions) that holds,
    len(rules) when none does and there is a fallback, else null."""
    import polars as pl

    chain: Any = None
    for i, conditions in enumerate(rules):
        holds = _all([c.expression(columns) for c in conditions])
        chain = (pl.when(holds) if chain is None else chain.when(holds)).then(pl.lit(i, pl.UInt32))
    # As long as the frame, even when every condition is a constant (fields no row has).
    last = pl.repeat(len(rules) if fallback else None, pl.len(), dtype=pl.UInt32)
    return (last if chain is None else chain.otherwise(last)).alias("_rule")


# -- one row -----------------------------------------------------------------------------


def _getter(field: str, kind: str, tz: dt.tzinfo) -> Callable[[Row], FieldValue]:
    """Read a field the way conditions compare it: empty text is None, datetimes by local date."""
    if kind == AMOUNT:
        return lambda row: row.amounts[field]
    if field == "date":
        return lambda row: row.date
    if kind == DATETIME:

        def local_date(row: Row) -> FieldValue:
            v = row.fields.get(field)
            return v.astimezone(tz).date() if isinstance(v, dt.datetime) else v

        return local_date
    return lambda row: row.fields.get(field) or None


def _value_test(op: str, arg: Any) -> Callable[[Any], bool]:
    if op == EQUALS:
        return lambda v: v == arg
    if op == ONE_OF:
        return lambda v: v in arg
    if op == "regex":  # run in linear time: no pattern can hang a run (patterns.py)
        return lambda v: v is not None and arg.test(str(v))
    if op == "not":
        return lambda v: v not in arg
    if op == "empty":
        return lambda v: (v is None) == arg
    if op == "min":
        return lambda v: v >= arg
    if op == "max":
        return lambda v: v <= arg
    if op == "sign":
        return {
            "positive": lambda v: v > 0,
            "negative": lambda v: v < 0,
            "zero": lambda v: v == 0,
            "nonzero": lambda v: v != 0,
        }[arg]
    if op == "from":
        return lambda v: v is not None and v >= arg
    assert op == "to", op
    return lambda v: v is not None and v <= arg


# -- a frame -----------------------------------------------------------------------------


def _column(field: str, kind: str, tz: dt.tzinfo, columns: Mapping[str, Any]) -> pl.Expr:
    """The field as `_getter` reads it, for every row: null where it gives None."""
    import polars as pl

    from bokfor.frames import DATE_COL

    if field == "date" and kind != AMOUNT:
        return pl.col(DATE_COL)
    if field not in columns:  # a free-form field (metadata.*, fx.*) no row has
        return pl.repeat(
            None,
            pl.len(),
            dtype={AMOUNT: pl.Int64, DATE: pl.Date, DATETIME: pl.Date}.get(kind, pl.String),
        )
    col = pl.col(field)
    if kind == AMOUNT:
        return col
    if kind == DATETIME:
        return col.dt.convert_time_zone(getattr(tz, "key", None) or "UTC").dt.date()
    if kind == DATE:
        return col
    return pl.when(col != "").then(col)


def _op_expression(op: str, arg: Any, value: pl.Expr) -> pl.Expr:
    import polars as pl

    if op == EQUALS:
        return (value == arg).fill_null(False) if arg is not None else value.is_null()
    if op in (ONE_OF, "not"):
        known = [v for v in arg if v is not None]
        among = value.is_in(known).fill_null(False) if known else pl.lit(False)
        if None in arg:
            among = among | value.is_null()
        return among if op == ONE_OF else ~among
    if op == "regex":
        return _regex(value, arg)
    if op == "empty":
        return value.is_null() if arg else value.is_not_null()
    if op == "sign":
        test = {
            "positive": value > 0,
            "negative": value < 0,
            "zero": value == 0,
            "nonzero": value != 0,
        }[arg]
        return test.fill_null(False)
    bound = {"min": value >= arg, "max": value <= arg, "from": value >= arg, "to": value <= arg}[op]
    return bound.fill_null(False)


def _all(parts: list[pl.Expr]) -> pl.Expr:
    import polars as pl

    if not parts:
        return pl.lit(True)
    out = parts[0]
    for part in parts[1:]:
        out = out & part
    return out


def _regex(value: pl.Expr, pattern: Pattern) -> pl.Expr:
    """`pattern` found in the field's text (a date's ISO form, öre as digits), by Polars
    where it answers as RE2 does, else by RE2 (see the module's docstring)."""
    import polars as pl

    rust = _rust_form(pattern)

    def search(texts: pl.Series) -> pl.Series:
        if rust is None:
            return pl.Series([t is not None and pattern.test(t) for t in texts], dtype=pl.Boolean)
        found = texts.str.contains(rust).fill_null(False)
        # Texts with characters RE2's tables do not have: RE2 decides. Only texts beyond
        # ASCII can hold one (most bank texts are ASCII: one cheap test of all).
        wide = (texts.str.len_bytes() != texts.str.len_chars()).fill_null(False).arg_true()
        if len(wide):
            where = wide.filter(texts.gather(wide).str.contains(_BEYOND))
            if len(where):
                found = found.scatter(where, [pattern.test(t) for t in texts.gather(where)])
        return found

    return value.cast(pl.String).map_batches(search, return_dtype=pl.Boolean, is_elementwise=True)


@lru_cache(maxsize=256)
def _rust_form(pattern: Pattern) -> str | None:
    """The pattern for Polars, or None when RE2 must search every text: it names, under
    case-insensitivity, a character RE2's tables do not have (its case partners differ
    between the engines), it has a construct the crate answers otherwise (patterns.py),
    or it is too large for the crate (RE2's limits differ)."""
    import polars as pl

    if pattern.rust is None or sum(high - low + 1 for low, high in pattern.folded) > _MOST_FOLDED:
        return None
    if pattern.folded:
        named = pl.Series(
            [
                chr(c)
                for low, high in pattern.folded
                for c in range(low, high + 1)
                if not 0xD800 <= c <= 0xDFFF
            ],
            dtype=pl.String,
        )
        if named.str.contains(_BEYOND).any():
            return None
    try:
        pl.select(pl.lit("").str.contains(pattern.rust))
    except pl.exceptions.ComputeError:
        return None
    return pattern.rust
