"""What the Stripe sources share: Stripe's UTC timestamps, and the names one charge or payout
has in every export (aliases), so that it is booked from one export only."""

from __future__ import annotations

import datetime as dt

from bokfor.errors import InputError

CACHE_LIMIT = 1 << 16  # distinct texts kept per cache; cleared (not evicted) when full


def charge_alias(charge_id: str | None) -> tuple[str, ...]:
    """The name every Stripe export gives one charge (ch_/py_), whatever its own key: the
    balance export and the Reports know it as a balance transaction, the Payments export as a
    payment. Booking sales from two of them would book them twice; the alias prevents it."""
    return ("stripe-charge:" + charge_id,) if charge_id else ()


def payout_alias(payout_id: str | None) -> tuple[str, ...]:
    """A payout's name in every export: the key of the payouts export's row, an alias of the
    balance export's payout row. One payout is booked from one export only."""
    return ("stripe-payout:" + payout_id,) if payout_id else ()


def utc(text: str, file: str, line: int, column: str, hint: str) -> dt.datetime:
    """Stripe's `YYYY-MM-DD HH:MM[:SS]` as an aware UTC datetime.

    Only these two shapes: fromisoformat alone would also take a bare date or an offset,
    which Stripe never writes, so they signal a re-saved or foreign file.
    """
    if len(text) in (16, 19) and text[4] == "-" and text[10] == " " and text[13] == ":":
        try:
            # Appending the offset is ~7x faster than .replace(tzinfo=...) on CPython 3.11.
            return dt.datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass
    raise InputError(f"not a Stripe date and time: {text!r}", file=file, line=line,
                     column=column, hint=hint)


def created(cache: dict[str, tuple[dt.datetime, dt.date]], text: str, tz: dt.tzinfo,
            file: str, line: int, column: str, hint: str) -> tuple[dt.datetime, dt.date]:
    """A creation time and its date in the company's zone (the voucher date), parsed once
    per distinct text."""
    when = utc(text, file, line, column, hint)
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    result = cache[text] = (when, when.astimezone(tz).date())
    return result


def instant(cache: dict[str, dt.datetime], text: str, file: str, line: int, column: str,
            hint: str) -> dt.datetime:
    """Any other Stripe time (available on, payout date), parsed once per distinct text."""
    value = utc(text, file, line, column, hint)
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value
