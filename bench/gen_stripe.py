"""Generate a large, realistic Stripe balance export (`balance_history.csv`) for benchmarks.

    python bench/gen_stripe.py --rows 1000000 --out /tmp/balance_history.csv [--seed 1]

Current 17-column layout plus `order_id (metadata)` and `vat_country (metadata)`, newest
first, with the row types the shipped sample uses (charge, payment, refund, stripe_fee,
adjustment for disputes, payout). Every row satisfies Amount − Fee = Net, every swept row names
its payout, and each payout's Amount is −(Σ Net of the rows it swept), so the file passes
bokfor's checks. The same seed always gives the same bytes.

Why the shape of the code: payouts must know the sum of what they sweep, yet the file lists
newest first. Rows are therefore generated in time order, day by day, into a temporary file,
whose day blocks are then copied out in reverse: memory stays flat at a million rows.
Amounts are integer öre throughout; no float touches money.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import random
import sys
import tempfile
from pathlib import Path

HEADER = (
    "id,Type,Source,Amount,Fee,Destination Platform Fee,Destination Platform Fee Currency,"
    "Net,Currency,Created (UTC),Available On (UTC),Description,Customer Facing Amount,"
    "Customer Facing Currency,Transfer,Transfer Date (UTC),Transfer Group,"
    "order_id (metadata),vat_country (metadata)\n"
)
ACCOUNT = "Gn4sWd8KpZ"  # the account-specific middle part of Stripe ids (made up)
# All rows fall in one fiscal year (2026), as one SIE file holds one year: the last day is
# 30 December so that a 23:xx UTC row still has a Swedish date in 2026.
LAST_DAY = dt.date(2026, 12, 30)
MAX_DAYS = 364
PAYOUT_MINUTE = 3 * 60 + 12  # automatic payouts at 03:12 UTC sweep what is available by then
PAYOUT_TIME = f"{PAYOUT_MINUTE // 60:02d}:{PAYOUT_MINUTE % 60:02d}"
CHARGE_DELAY_DAYS = 3  # charges (and refunds) become available at 00:00 UTC three days later
FIRST_PAYOUT_DAY = CHARGE_DELAY_DAYS  # from then on every payout sweeps at least one charge
DISPUTE_FEE = 22000  # 220.00 SEK
SEK_PRICES = (
    12900,
    19900,
    24900,
    24900,
    27900,
    34900,
    39900,
    39900,
    44900,
    54900,
    59900,
    74800,
    89500,
    99800,
    125000,
    129000,
    159000,
    249000,
)
# (country, presentment currency, prices in its minor unit, SEK öre per minor unit × 10 000)
FOREIGN = (
    ("DE", "eur", (1990, 2490, 2990, 3490, 4990, 7990, 11990), 112300),
    ("FI", "eur", (1990, 2990, 4990, 11990), 112300),
    ("NO", "nok", (19900, 24900, 34900, 49900, 89900), 9520),
)
FIRST_NAMES = (
    "Anna",
    "Erik",
    "Maja",
    "Oskar",
    "Lina",
    "Sara",
    "Johan",
    "Karl",
    "Elin",
    "Nils",
    "Ebba",
    "Hugo",
    "Alva",
    "Viktor",
    "Klara",
    "Wilma",
    "Axel",
    "Tove",
    "Olle",
    "Ida",
    "Åsa",
    "Björn",
    "Märta",
    "Göran",
)
LAST_NAMES = (
    "Lindqvist",
    "Sjöberg",
    "Åkesson",
    "Nyström",
    "Berg",
    "Holm",
    "Ek",
    "Dahl",
    "Forsberg",
    "Wikström",
    "Lund",
    "Sandberg",
    "Strand",
    "Hed",
    "Björk",
    "Ekdahl",
    "Öberg",
    "Lindgren",
    "Falk",
    "Nordin",
)

_ID_TABLE = bytes.maketrans(b"+/", b"xQ")
_NAMES = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
_COMMA_NAMES = tuple(f"{last}, {first}" for first in FIRST_NAMES for last in LAST_NAMES)
_TIMES = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))


def ore(value: int) -> str:
    """Stripe's text for an amount: '-1234.50'."""
    if value < 0:
        value = -value
        return f"-{value // 100}.{value % 100:02d}"
    return f"{value // 100}.{value % 100:02d}"


def _offer(
    country: str, cfc: str, minor: int, gross: int, method: str
) -> tuple[str, str, str, int, int, str, str, str]:
    """Preformatted pieces of a sale's row. Fees: 1.5 % + 1.80 SEK for cards, 2.5 % + 1.80
    SEK for `payment` rows (made up but plausible), rounded half up to the öre."""
    permille = 15 if method == "charge" else 25
    fee = (gross * permille + 500) // 1000 + 180
    prefix = "ch_" if method == "charge" else "py_"
    return (
        f",{method},{prefix}",
        f",{ore(gross)},{ore(fee)},,,{ore(gross - fee)},sek,",
        f",{ore(minor)},{cfc},",
        gross - fee,
        gross,
        ore(minor),
        cfc,
        country,
    )


class Generator:
    """Rows in time order, day by day; see the module docstring for why.

    Per-row work is kept to a few RNG calls and one f-string (prices, fees, names and
    times are precomputed) so a million rows take seconds, not minutes.
    """

    def __init__(self, rows: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.days = max(1, min(MAX_DAYS, rows // 8))
        payouts = max(0, self.days - FIRST_PAYOUT_DAY)
        self.activity = rows - payouts
        first = LAST_DAY - dt.timedelta(days=self.days - 1)
        span = self.days + CHARGE_DELAY_DAYS + 1
        self.day_text = [(first + dt.timedelta(days=d)).isoformat() for d in range(span)]
        # Net swept by each day's payout. A row's payout day follows from its own time, so
        # its Transfer is known when it is written; the payout row comes after its rows.
        self.sweep = [0] * span
        self.payout_ids = [self.make_id("po_", "1") for _ in range(self.days)]
        self.transfer_text = [
            f"{self.payout_ids[d]},{self.day_text[d]} {PAYOUT_TIME}" if d < self.days else ","
            for d in (max(d, FIRST_PAYOUT_DAY) for d in range(span))
        ]
        self.recent: list[tuple[str, str, int, str, str, str, str, int]] = []
        self.order = 10000
        self.pool = ""
        self.pool_at = 0
        self.charge_tail = ""
        self.customer_tail = ""
        # Every (country, price, method) a charge can have, with its texts preformatted.
        sek = [("SE", "sek", g, g) for g in SEK_PRICES]
        foreign = [
            (country, cfc, minor, (minor * rate + 5000) // 10000)
            for country, cfc, prices, rate in FOREIGN
            for minor in prices
        ]
        self.offers = [
            [_offer(country, cfc, minor, gross, method) for country, cfc, minor, gross in group]
            for method in ("charge", "payment")
            for group in (sek, foreign)
        ]

    def random_chars(self, count_bytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(count_bytes)).translate(_ID_TABLE).decode()

    def make_id(self, prefix: str, series: str) -> str:
        """A Stripe-looking id: prefix, 24 characters with the account part in the middle."""
        c = self.random_chars(9)
        return f"{prefix}{series}{c[:5]}{ACCOUNT}{'1' if c[5] < 'a' else '0'}{c[5:]}"

    def transfer(self, day: int) -> tuple[int, str]:
        """(payout day, 'Transfer,Transfer Date' text) for a row available for `day`."""
        return max(day, FIRST_PAYOUT_DAY), self.transfer_text[day]

    def day_lines(self, day: int, count: int) -> list[str]:
        rng = self.rng
        random_ = rng.random
        bits = rng.getrandbits
        minutes = sorted([bits(16) % 1440 for _ in range(count)])  # bias of 1e-3: harmless
        # One block of random id characters per day: far cheaper than one call per row.
        self.pool = self.random_chars(18 * count)
        self.pool_at = 0
        avail = day + CHARGE_DELAY_DAYS
        # What the day's charges share: Available On and the payout that will sweep them.
        self.charge_tail = f",{self.day_text[avail]} 00:00,"
        self.customer_tail = f"{self.transfer_text[avail]},,"
        lines: list[str] = []
        append = lines.append
        payout_due = day >= FIRST_PAYOUT_DAY
        fee_at = 5 * 60 + rng.randrange(50) if day > 0 else 1440
        prefix = self.day_text[day] + " "
        for n, minute in enumerate(minutes):
            if payout_due and minute >= PAYOUT_MINUTE:
                append(self.payout(day))
                payout_due = False
            created = prefix + _TIMES[minute]
            line = None
            if n == 0:
                pass  # every day starts with a charge, so every payout sweeps one
            elif minute >= fee_at:
                fee_at = 1440
                line = self.usage_fee(day, minute, created)
            else:
                roll = random_()
                if roll < 0.04:
                    line = self.refund(day, created)
                elif roll < 0.0406:
                    line = self.dispute(day, minute, created)
            append(line or self.charge(day, created))
        if payout_due:
            append(self.payout(day))
        return lines

    def charge(self, day: int, created: str) -> str:
        """A card charge (now and then a `payment`, e.g. Klarna) net of its fee."""
        bits = self.rng.getrandbits(40)
        roll = bits & 1023
        self.order += 1
        order = self.order
        if roll < 31:  # a comma in the description: Stripe quotes the field
            desc = f'"Order {order} - {_COMMA_NAMES[(bits >> 10) % len(_COMMA_NAMES)]}"'
        else:
            desc = f"Order {order} - {_NAMES[(bits >> 10) % len(_NAMES)]}"
        # ~6 % payments, ~7 % foreign cards (EUR/NOK presentment, settled in SEK).
        offers = self.offers[(2 if roll < 61 else 0) + (1 if roll >= 952 else 0)]
        kind, money, customer, net, gross, cfa, cfc, country = offers[(bits >> 20) % len(offers)]
        at = self.pool_at
        c = self.pool[at : at + 24]
        self.pool_at = at + 24
        head = "3" + c[:5]
        source = f"{head}{ACCOUNT}{'1' if c[5] < 'a' else '0'}{c[17:]}"
        self.sweep[day + CHARGE_DELAY_DAYS] += net
        recent = self.recent
        recent.append((head, kind[-3:] + source, gross, desc, cfa, cfc, country, order))
        if len(recent) > 400:
            del recent[:200]
        return (
            f"txn_{head}{ACCOUNT}{'1' if c[9] < 'a' else '0'}{c[10:17]}{kind}{source}{money}"
            f"{created}{self.charge_tail}{desc}{customer}{self.customer_tail}{order},{country}\n"
        )

    def refund(self, day: int, created: str) -> str | None:
        """Full refund, or half of a bigger SEK order; None when the payout would go < 0."""
        if not self.recent:
            return None
        head, source, gross, desc, cfa, cfc, country, order = self.recent[
            self.rng.randrange(len(self.recent))
        ]
        if source.startswith("py_"):
            return None  # would be a `payment_refund`: a type the sample does not use
        partial = cfc == "sek" and gross >= 50000 and self.rng.random() < 0.5
        amount = gross // 2 if partial else gross
        payday, transfer = self.transfer(day + CHARGE_DELAY_DAYS)
        if self.sweep[payday] - amount <= 0:
            return None
        self.sweep[payday] -= amount
        rcfa = ore(-amount) if partial else "-" + cfa
        text = desc.strip('"')
        q = '"' if "," in text else ""
        tail = self.make_id("", "")[-8:]  # a refund shares its charge's head, as in Stripe
        return (
            f"txn_{head}{ACCOUNT}{tail},refund,{source},{ore(-amount)},0.00,,,"
            f"{ore(-amount)},sek,{created},{self.day_text[day + CHARGE_DELAY_DAYS]} 00:00,"
            f"{q}REFUND FOR CHARGE ({text}){q},{rcfa},{cfc},{transfer},,{order},{country}\n"
        )

    def usage_fee(self, day: int, minute: int, created: str) -> str | None:
        """Yesterday's Stripe Billing usage fee, taken from the balance at once."""
        amount = -(200 + self.rng.randrange(2500))
        payday, transfer = self.transfer(day if minute < PAYOUT_MINUTE else day + 1)
        if self.sweep[payday] + amount <= 0:
            return None
        self.sweep[payday] += amount
        return (
            f"{self.make_id('txn_', '1')},stripe_fee,,{ore(amount)},0.00,,,{ore(amount)},sek,"
            f"{created},{created},Billing - Usage Fee ({self.day_text[day - 1]}),,,"
            f"{transfer},,,\n"
        )

    def dispute(self, day: int, minute: int, created: str) -> str | None:
        """A chargeback: the disputed amount and the 220.00 dispute fee leave at once."""
        if not self.recent:
            return None
        _, source, gross, _, _, _, _, _ = self.recent[self.rng.randrange(len(self.recent))]
        net = -gross - DISPUTE_FEE
        payday, transfer = self.transfer(day if minute < PAYOUT_MINUTE else day + 1)
        if self.sweep[payday] + net <= 0:
            return None
        self.sweep[payday] += net
        return (
            f"{self.make_id('txn_', '1')},adjustment,{self.make_id('du_', '1')},{ore(-gross)},"
            f"{ore(DISPUTE_FEE)},,,{ore(net)},sek,{created},{created},"
            f"Chargeback withdrawal for {source},{ore(-gross)},sek,{transfer},,,\n"
        )

    def payout(self, day: int) -> str:
        """The day's automatic payout: −(Σ Net swept), available at once."""
        amount = -self.sweep[day]
        created = f"{self.day_text[day]} {PAYOUT_TIME}"
        return (
            f"{self.make_id('txn_', '1')},payout,{self.payout_ids[day]},{ore(amount)},0.00,,,"
            f"{ore(amount)},sek,{created},{created},STRIPE PAYOUT,,,,,,,\n"
        )


def generate(rows: int, out: Path, seed: int) -> None:
    """Write `rows` data rows to `out`, newest first."""
    gen = Generator(rows, seed)
    base, extra = divmod(gen.activity, gen.days)
    blocks: list[tuple[int, int]] = []  # byte offset and size of each day, oldest first
    with tempfile.TemporaryFile("w+b") as tmp:
        for day in range(gen.days):
            lines = gen.day_lines(day, base + (1 if day < extra else 0))
            lines.reverse()
            data = "".join(lines).encode("utf-8")
            blocks.append((tmp.tell(), len(data)))
            tmp.write(data)
        with open(out, "wb") as f:
            f.write(HEADER.encode("utf-8"))
            for start, size in reversed(blocks):
                tmp.seek(start)
                f.write(tmp.read(size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="number of data rows")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same file")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    generate(args.rows, args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
