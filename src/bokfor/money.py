"""Money as integer öre, parsed exactly from the text people and banks write.

No float ever touches an amount: text is split into digits and converted with integer
arithmetic. A value that cannot be represented in öre (1.234 kr) or whose decimal mark is
ambiguous ("1.500": one and a half, or fifteen hundred?) is refused, never guessed.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# Characters people and spreadsheets put between thousands: space, no-break space,
# narrow no-break space, thin space, apostrophe (Swiss style seen in some exports).
_GROUP_SPACES = " \u00a0\u202f\u2009'"
_SIGNS = {"-": -1, "\u2212": -1, "+": 1}
_SUFFIXES = ("kr.", "kr", "sek", ":-")

_SIMPLE_DOT = re.compile(r"-?\d+(?:\.\d{1,2})?")
_DIGITS = re.compile(r"\d+")
# Longer than any amount with its spaces, signs and currency: refused before Python's int()
# (which stops at 4,300 digits with its own ValueError) ever sees it.
_LONGEST = 100


class AmountError(ValueError):
    """The text is not an exact amount. The message says why, for the user."""


def parse_amount(text: str, decimal_mark: str | None = None) -> int:
    """Return the amount in öre.

    `decimal_mark` is "." or "," when the format fixes it (the other character is then a
    thousands separator); None lets the text decide and refuses it when it cannot.
    """
    if len(text) > _LONGEST:
        raise AmountError(f"{len(text)} characters: longer than any amount")
    if decimal_mark == "." and _SIMPLE_DOT.fullmatch(text):
        # Fast path for machine exports such as Stripe's "-1234.5".
        whole, _, frac = text.partition(".")
        negative = whole.startswith("-")
        value = int(whole.lstrip("-")) * 100 + int((frac + "00")[:2])
        return -value if negative else value
    return _parse_general(text, decimal_mark)


# The shapes `parse_amounts` converts by expressions (ASCII digits only: `\\d` would take
# other scripts' digits, which `parse_amount` reads too, so those go to it). At most 15
# digits before the mark, so that öre fit an Int64. Each is a subset of what `parse_amount`
# reads, with the same value (a property test holds them equal).
_COLUMN_SHAPES = {
    ".": r"^(?<sign>[-+]?)(?<whole>[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,15})"
    r"(?:\.(?<frac>[0-9]{1,2}))?$",
    ",": r"^(?<sign>[-+]?)(?<whole>[0-9]{1,3}(?:\.[0-9]{3}){1,4}|[0-9]{1,15})"
    r"(?:,(?<frac>[0-9]{1,2}))?$",
    None: r"^(?<sign>[-+]?)(?<whole>[0-9]{1,15})(?:[.,](?<frac>[0-9]{1,2}))?$",
}
_INT64 = 1 << 63


def parse_amounts(texts: pl.Series, decimal_mark: str | None = None) -> tuple[pl.Series, pl.Series]:
    """A column of amount texts as Int64 öre, exactly as `parse_amount` reads each, and the
    mask of the texts it refuses (a null text is null, not refused).

    The shapes machine exports write are converted by string expressions (digits cast to
    integers, never a float); any other text goes to `parse_amount` once per distinct text.
    An amount beyond an Int64 of öre is refused too.
    """
    import polars as pl

    from bokfor.frames import by_distinct

    if decimal_mark not in _COLUMN_SHAPES:
        raise ValueError(f"decimal_mark must be '.' or ',' (got {decimal_mark!r})")
    return by_distinct(texts.cast(pl.String), lambda t: _parse_column(t, decimal_mark))


def _parse_column(texts: pl.Series, decimal_mark: str | None) -> tuple[pl.Series, pl.Series]:
    import polars as pl

    from bokfor.frames import map_distinct

    parts = texts.str.extract_groups(_COLUMN_SHAPES[decimal_mark]).struct.unnest()
    whole = parts["whole"].str.replace_all(r"[.,]", "").cast(pl.Int64)
    frac = parts["frac"].fill_null("").str.pad_end(2, "0").cast(pl.Int64)
    ore = whole * 100 + frac
    fast = pl.select(pl.when(parts["sign"] == "-").then(-ore).otherwise(ore)).to_series()
    other = (texts.is_not_null() & parts["whole"].is_null()).fill_null(False)
    slow, refused = map_distinct(
        texts, other, lambda t: _in_int64(parse_amount(t, decimal_mark)), pl.Int64
    )
    return fast.fill_null(slow).alias(texts.name), refused.alias(texts.name)


def _in_int64(ore: int) -> int:
    if not -_INT64 <= ore < _INT64:
        raise AmountError("too large an amount")
    return ore


def _parse_general(text: str, decimal_mark: str | None) -> int:
    s = text.strip()
    low = s.lower()
    for suffix in _SUFFIXES:
        if low.endswith(suffix):
            s = s[: -len(suffix)].rstrip()
            break
    if not s:
        raise AmountError("empty amount")
    sign = 1
    if s[0] in _SIGNS:
        sign = _SIGNS[s[0]]
        s = s[1:].lstrip()
    elif s[-1] in "-\u2212":  # trailing minus, as some Nordic banks write it
        sign = -1
        s = s[:-1].rstrip()
    for ch in _GROUP_SPACES:
        if ch in s:
            s = s.replace(ch, "_" if decimal_mark is None else "")
    if decimal_mark is None:
        s = _decide_mark(s, text)
    elif decimal_mark in ".,":
        thousands = "," if decimal_mark == "." else "."
        s = s.replace(thousands, "_")
        s = s.replace(decimal_mark, ".")
    else:
        raise ValueError(f"decimal_mark must be '.' or ',' (got {decimal_mark!r})")
    whole, dot, frac = s.partition(".")
    if dot and not frac:
        frac = "0"
    if not whole:
        whole = "0"
    if "." in frac:
        raise AmountError(f"{text!r} has more than one decimal mark")
    groups = whole.split("_")
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        raise AmountError(f"{text!r} has misplaced thousands separators")
    whole = "".join(groups)
    if not _DIGITS.fullmatch(whole) or (frac and not _DIGITS.fullmatch(frac)):
        raise AmountError(f"{text!r} is not a number")
    if len(frac) > 2:
        if frac[2:].strip("0"):
            raise AmountError(f"{text!r} has more than 2 decimals; öre cannot hold it exactly")
        frac = frac[:2]
    return sign * (int(whole) * 100 + int((frac + "00")[:2]))


def _decide_mark(s: str, original: str) -> str:
    """Turn `s` into digits with '_' for group marks and '.' for the decimal mark."""
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        mark = "." if s.rfind(".") > s.rfind(",") else ","
        other = "," if mark == "." else "."
        if s.count(mark) > 1:
            raise AmountError(f"{original!r} has more than one decimal mark")
        return s.replace(other, "_").replace(mark, ".")
    if not dots and not commas:
        return s
    mark = "." if dots else ","
    if s.count(mark) > 1:
        return s.replace(mark, "_")  # only thousands separators: "1.234.567"
    whole, _, frac = s.partition(mark)
    if len(frac) == 3 and whole.strip("_-") and "_" not in whole:
        raise AmountError(
            f"{original!r} is ambiguous: {mark!r} may be a decimal mark or a thousands separator"
        )
    return s.replace(mark, ".")


def format_sie(ore: int) -> str:
    """SIE amount: '.' decimal point, always two decimals, leading '-' when negative."""
    # One %-format of divmod's pair: the fastest spelling (called for every voucher row).
    if ore < 0:
        return "-%d.%02d" % divmod(-ore, 100)
    return "%d.%02d" % divmod(ore, 100)


def format_sek(ore: int) -> str:
    """Display amount the Swedish way: '1 234,50'."""
    sign = "-" if ore < 0 else ""
    whole, cents = divmod(abs(ore), 100)
    return f"{sign}{whole:,}".replace(",", "\u00a0") + f",{cents:02d}"


def split_vat(gross: int, rate_percent: str) -> tuple[int, int]:
    """Split a VAT-inclusive amount into (net, vat), VAT rounded half away from zero.

    `rate_percent` is text such as "25" or "12.5" so the rate stays exact. net + vat == gross
    always holds, so a VAT split never unbalances a voucher.
    """
    num, den = _rate_fraction(rate_percent)
    # vat = gross * r / (100 + r), with r = num/den  ->  gross*num / (100*den + num)
    vat = _div_round(gross * num, 100 * den + num)
    return gross - vat, vat


def vat_on(amount: int, rate_percent: str) -> int:
    """VAT on top of a VAT-exclusive amount (reverse charge), rounded half away from zero."""
    num, den = _rate_fraction(rate_percent)
    return _div_round(amount * num, 100 * den)


def _div_round(n: int, d: int) -> int:
    """n / d rounded to the nearest integer, halves away from zero (d > 0)."""
    q, r = divmod(abs(n), d)
    if 2 * r >= d:
        q += 1
    return -q if n < 0 else q


def div_round_expr(n: pl.Expr, d: int | pl.Expr) -> pl.Expr:
    """`_div_round` as a Polars expression over Int64 columns (d > 0): the caller keeps n
    within Int64."""
    import polars as pl

    q = n.abs() // d + (2 * (n.abs() % d) >= d).cast(pl.Int64)
    return pl.when(n < 0).then(-q).otherwise(q)


def format_sie_expr(ore: pl.Expr) -> pl.Expr:
    """`format_sie` as a Polars expression: '-12.50'."""
    import polars as pl

    whole = ore.abs()
    return pl.concat_str(
        pl.when(ore < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (whole // 100).cast(pl.String),
        pl.lit("."),
        (whole % 100).cast(pl.String).str.zfill(2),
    )


@functools.lru_cache(maxsize=64)
def _rate_fraction(rate: str) -> tuple[int, int]:
    whole, _, frac = rate.strip().partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"VAT rate {rate!r} is not a number")
    den = 10 ** len(frac)
    return int(whole) * den + (int(frac) if frac else 0), den
