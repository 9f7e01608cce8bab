"""What the Stripe sources share: Stripe's UTC timestamps, and the names one charge or payout
has in every export (aliases), so that it is booked from one export only."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bokfor.errors import InputError

if TYPE_CHECKING:
    import polars as pl

CACHE_LIMIT = 1 << 16  # distinct texts kept per cache; cleared (not evicted) when full
CHARGE_ALIAS, PAYOUT_ALIAS = "stripe-charge:", "stripe-payout:"
# The shape Stripe writes; anything else is decided by `utc` itself (once per text).
_TIME_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(?::[0-9]{2})?$"


def charge_alias(charge_id: str | None) -> tuple[str, ...]:
    """The name every Stripe export gives one charge (ch_/py_), whatever its own key: the
    balance export and the Reports know it as a balance transaction, the Payments export as a
    payment. Booking sales from two of them would book them twice; the alias prevents it."""
    return (CHARGE_ALIAS + charge_id,) if charge_id else ()


def payout_alias(payout_id: str | None) -> tuple[str, ...]:
    """A payout's name in every export: the key of the payouts export's row, an alias of the
    balance export's payout row. One payout is booked from one export only."""
    return (PAYOUT_ALIAS + payout_id,) if payout_id else ()


def utc(text: str, file: str, line: int, column: str, hint: str) -> dt.datetime:
    """Stripe's `YYYY-MM-DD HH:MM[:SS]` as an aware UTC datetime.

    Only these two shapes: fromisoformat alone would also take a bare date or an offset,
    which Stripe never writes, so they signal a re-saved or foreign file.
    """
    if len(text) in (16, 19) and text[4] == "-" and text[10] == " " and text[13] == ":":
        try:
            # Appending the offset is ~7x faster than .replace(tzinfo=...) on CPython 3.11.
            when = dt.datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass
        else:
            # Year 9999 is a day or two from the end of what a date holds: no time zone,
            # fiscal year or following day can be made of it (no Stripe file has one).
            if when.year < 9999:
                return when
    raise InputError(
        f"not a Stripe date and time: {text!r}", file=file, line=line, column=column, hint=hint
    )


def utc_column(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A column of Stripe times as UTC datetimes, exactly as `utc` reads each, and the mask
    of the texts it refuses (a null text is null, not refused). Stripe's own shape is
    parsed by `strptime` (times are nearly all distinct: no gain in parsing distinct texts);
    any other text by `utc`, once per distinct text."""
    import polars as pl

    from bokfor.frames import map_distinct

    # One parse: a time without seconds gets ":00" (two strptimes, one for each shape, each
    # parsed the whole column).
    seconds = pl.when(texts.str.len_bytes() == 16).then(texts + ":00").otherwise(texts)
    parsed = seconds.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    # Only what reads back as the text: strptime takes a leap second (23:59:60) as the next
    # minute, where `utc` refuses it; year 0 parses, but no datetime has it, and `utc`
    # refuses year 9999. Such a text is left to `utc` below, which refuses it.
    exact = parsed.dt.strftime("%Y-%m-%d %H:%M:%S") == seconds
    values = pl.select(
        pl.when(
            texts.str.contains(_TIME_SHAPE).fill_null(False)
            & exact
            & parsed.dt.year().is_between(1, 9998)
        )
        .then(parsed)
        .dt.replace_time_zone("UTC")
    ).to_series()
    other = texts.is_not_null() & values.is_null()
    slow, refused = map_distinct(
        texts,
        other,
        lambda t: utc(t, "", 0, "", ""),
        pl.Datetime("us", "UTC"),
        refuse=(InputError,),
    )
    return values.fill_null(slow).alias(texts.name), refused.alias(texts.name)


def created(
    cache: dict[str, tuple[dt.datetime, dt.date]],
    text: str,
    tz: dt.tzinfo,
    file: str,
    line: int,
    column: str,
    hint: str,
) -> tuple[dt.datetime, dt.date]:
    """A creation time and its date in the company's zone (the voucher date), parsed once
    per distinct text."""
    when = utc(text, file, line, column, hint)
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    result = cache[text] = (when, when.astimezone(tz).date())
    return result


def instant(
    cache: dict[str, dt.datetime], text: str, file: str, line: int, column: str, hint: str
) -> dt.datetime:
    """Any other Stripe time (available on, payout date), parsed once per distinct text."""
    value = utc(text, file, line, column, hint)
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value


def missing_columns(
    kind: str, missing: list[str], required: tuple[str, ...], where: str, file: str
) -> InputError:
    """A Stripe export whose user chose columns without one bokfor needs: said as what it
    is, with what to select when exporting again (never "not a Stripe export")."""

    def listed(names: list[str]) -> str:
        return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)

    if len(missing) == len(required):  # nothing of it: a file given with --source
        return InputError(
            f"not a {kind}: none of its columns is in the header",
            file=file,
            line=1,
            hint=f"{where}; bokfor needs the columns " + ", ".join(required) + ".",
        )
    shown, names = listed([f"`{m}`" for m in missing]), listed(missing)
    return InputError(
        f"a {kind} without its {shown} column{'s' if len(missing) > 1 else ''}: export again "
        f"with {names} selected",
        file=file,
        line=1,
        hint=f"{where}; bokfor needs the columns " + ", ".join(required) + ".",
    )


# What a header must hold to be recognised as a Stripe export although columns bokfor needs
# are missing (`explain`): names only that export writes, at least two of them; the export
# whose names it holds most is the one it is. Names other Stripe exports share prove nothing:
# generic ones (id, Amount, Currency, Status) and the card and customer columns the customers
# and invoices exports write too (Card ID, Card Last4, Customer Description, Statement
# Descriptor, Invoice ID).
_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "stripe_payments",
        frozenset(
            {
                "Created date (UTC)",
                "Amount Refunded",
                "Captured",
                "Converted Amount",
                "Converted Amount Refunded",
                "Converted Currency",
                "Decline Reason",
                "Refunded date (UTC)",
                "Seller Message",
                "Taxes On Fee",
            }
        ),
    ),
    (
        "stripe_balance",
        frozenset(
            {
                "Available On (UTC)",
                "Customer Facing Amount",
                "Customer Facing Currency",
                "Transfer Date (UTC)",
                "Transfer Group",
                "Destination Platform Fee",
                "Destination Platform Fee Currency",
            }
        ),
    ),
    (
        "stripe_report",
        frozenset(
            {
                "balance_transaction_id",
                "reporting_category",
                "available_on_utc",
                "created_utc",
                "automatic_payout_id",
                "automatic_payout_effective_at_utc",
                "customer_facing_amount",
                "customer_facing_currency",
                "source_id",
            }
        ),
    ),
    (
        "stripe_payouts",
        frozenset(
            {
                # The Dashboard's payouts export, and the itemized payouts report.
                "Arrival Date (UTC)",
                "Source Type",
                "Failure Balance Transaction",
                "Trace ID",
                "Trace ID Status",
                "Destination Name",
                "Destination Country",
                "Destination Last 4",
                "payout_id",
                "payout_status",
                "payout_expected_arrival_date",
                "payout_reversed_at_utc",
                "payout_reversed_at",
                "payout_type",
                "payout_description",
                "payout_destination_id",
            }
        ),
    ),
)
# The Connect "Application fees" export (Connect → Application fees → Export).
_APPLICATION_FEES = frozenset({"Application ID", "User ID", "User Email", "Transaction ID"})


def explain(path: object, names: set[str]) -> InputError | None:
    """Why no Stripe source took a file whose header is a Stripe export's: columns the user
    left out when exporting (named, with what to select), or an export bokfor does not book
    (the Connect application fees list). None for anything else."""
    from bokfor.sources import stripe_balance, stripe_payments, stripe_payouts, stripe_report

    file = str(path)
    if len(names & _APPLICATION_FEES) >= 3 and "Amount" in names:
        return InputError(
            "a Stripe Connect application fees export (Connect → Application fees): bokfor "
            "does not book it, as it does not say when a refunded fee was refunded",
            file=file,
            line=1,
            hint="book the platform's fees from the balance export (Balance → Export; types "
            "application_fee and application_fee_refund) or the itemized balance change "
            "report (reporting_category platform_earning), which date every refund.",
        )
    name, signature = max(_KINDS, key=lambda kind: len(names & kind[1]))  # the first of equals
    if len(names & signature) < 2:
        return None
    missing = {
        "stripe_payments": stripe_payments.missing,
        "stripe_balance": stripe_balance.missing,
        "stripe_report": stripe_report.missing,
        "stripe_payouts": stripe_payouts.missing,
    }[name]
    return missing(names, file)
