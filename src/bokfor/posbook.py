"""Book a checked `DayClose` as one verifikation per register and Z (BFNAR 2013:2 p. 6.4).

The VAT-rate section is the primary source of sales (it is what the VAT return needs); the
product groups only redirect part of a rate's net sales to another account (`product_groups`)
or, for a gift card sold as a 0 % "sale", to the gift-card liability: selling a multi-purpose
gift card is a debt to the holder, never revenue. VAT is always booked per rate, once.

One voucher per day close:
  D payment accounts (per method) · D gift-card liability for cards redeemed
  C sales per rate (less group overrides) · C output VAT per rate · C group accounts
  C gift-card liability for cards sold · C tips · D/C 3740 öresavrundning
The cost-centre object (dimension 1) goes on P&L rows (accounts 3xxx–8xxx) only.

The cash difference and the bank deposit of the day's cash are separate vouchers
(`book_cash`): the Z voucher books what was sold, the cash vouchers what happened to the till.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from bokfor.dayclose import DayClose, cash_problems, check, norm_rate, sek_text
from bokfor.domain import Line, Origin, Voucher, make_dims
from bokfor.errors import InputError, MappingError, UnbalancedError

GIFT_CARD = "gift_card"  # a payment method or product group booked on the liability account


@dataclass(frozen=True, slots=True)
class RateAccounts:
    """Sales and output-VAT account of one VAT rate (no VAT account needed for 0 %)."""

    sales: str | None
    vat: str | None = None


@dataclass(frozen=True, slots=True)
class PosSie:
    """How a POS's own SIE file is taken over: its accounts to ours (`accounts`; an account
    not listed is kept), its series to ours (`series`; None: the pos section's), its
    cost-centre objects to ours (`objects`, in `dimension`)."""

    accounts: Mapping[str, str] = field(default_factory=dict)
    series: str | None = None
    objects: Mapping[str, str] = field(default_factory=dict)
    dimension: int = 1


@dataclass(frozen=True, slots=True)
class PosAccounts:
    """The `pos` mapping section: which account books what.

    `payment_methods` and `product_groups` values are accounts or "gift_card". Names match
    without regard to case. `cost_centres` maps a register to its dimension-1 object; a
    register not listed keeps the cost centre its report names (if any)."""

    payment_methods: Mapping[str, str]
    vat_rates: Mapping[str, RateAccounts]
    product_groups: Mapping[str, str] = field(default_factory=dict)
    gift_card: str = "2421"
    tips: str | None = None
    rounding: str = "3740"
    cash: str = "1910"  # the till, when the cash method has no account of its own
    cash_deposit: str = "1930"  # where the day's cash is deposited
    cash_shortage: str | None = None
    cash_surplus: str | None = None
    cost_centres: Mapping[str, str] = field(default_factory=dict)
    cost_centre_dimension: int = 1
    series: str = "K"
    text: str = "Z {z} {register}"
    sie: PosSie = field(default_factory=PosSie)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "payment_methods",
            MappingProxyType(
                {k.strip().casefold(): str(v) for k, v in self.payment_methods.items()}
            ),
        )
        object.__setattr__(
            self,
            "product_groups",
            MappingProxyType(
                {k.strip().casefold(): str(v) for k, v in self.product_groups.items()}
            ),
        )
        object.__setattr__(
            self,
            "vat_rates",
            MappingProxyType({norm_rate(k): v for k, v in self.vat_rates.items()}),
        )
        object.__setattr__(self, "cost_centres", MappingProxyType(dict(self.cost_centres)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PosAccounts":
        """From the YAML section as plain data (see docs/pos.md). Accepts `vat_rates` values
        as {sales:, vat:} or [sales, vat], and `cash_difference` as one account or
        {shortage:, surplus:}. Validation of account numbers is the mapping's job."""
        rates = {}
        for rate, value in (data.get("vat_rates") or {}).items():
            try:
                norm_rate(rate)
            except ValueError:
                raise MappingError(
                    f"vat_rates: {rate!r} is not a VAT rate",
                    key=f"pos.vat_rates.{rate}",
                    hint='write the rate as a number: "25", "12", "6", "0".',
                ) from None
            if isinstance(value, Mapping):
                rates[str(rate)] = RateAccounts(_opt(value.get("sales")), _opt(value.get("vat")))
            elif isinstance(value, (list, tuple)) and 1 <= len(value) <= 2:
                rates[str(rate)] = RateAccounts(
                    _opt(value[0]), _opt(value[1]) if len(value) > 1 else None
                )
            else:
                raise MappingError(
                    f"vat_rates.{rate}: write {{sales: <konto>, vat: <konto>}}",
                    key=f"pos.vat_rates.{rate}",
                )
        diff = data.get("cash_difference")
        shortage = surplus = None
        if isinstance(diff, Mapping):
            shortage, surplus = _opt(diff.get("shortage")), _opt(diff.get("surplus"))
        elif diff is not None:
            shortage = surplus = str(diff)
        kwargs: dict[str, Any] = {}
        for name in ("gift_card", "tips", "rounding", "cash", "cash_deposit", "series", "text"):
            if data.get(name) is not None:
                kwargs[name] = str(data[name])
        if data.get("cost_centre_dimension") is not None:
            kwargs["cost_centre_dimension"] = int(data["cost_centre_dimension"])
        return cls(
            payment_methods={
                str(k): str(v) for k, v in (data.get("payment_methods") or {}).items()
            },
            vat_rates=rates,
            product_groups={str(k): str(v) for k, v in (data.get("product_groups") or {}).items()},
            cash_shortage=shortage,
            cash_surplus=surplus,
            cost_centres={str(k): str(v) for k, v in (data.get("cost_centres") or {}).items()},
            **kwargs,
        )

    def payment_account(self, method: str) -> str | None:
        account = self.payment_methods.get(method.strip().casefold())
        return self.gift_card if account == GIFT_CARD else account

    def group_account(self, group: str) -> str | None:
        return self.product_groups.get(group.strip().casefold())


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _is_pl(account: str) -> bool:
    """Result accounts (BAS classes 3–8) carry the cost centre; balance accounts do not."""
    return account[:1] in "345678"


_GIFT_CARD_NAME = re.compile(
    r"presentkort|gift ?cards?|gavekort|lahjakort|voucher|värdebevis", re.IGNORECASE
)


def _looks_like_gift_card(name: str) -> bool:
    """'Presentkort', 'Gift card', 'Gavekort' — not 'Presentartiklar' (gift items, sales)."""
    return bool(_GIFT_CARD_NAME.search(name))


class Missing:
    """Collects every gap in the mapping, over all the day closes of a run, so the user
    gets one error listing all of them (not one per run and gap)."""

    _WHAT = {
        "payment_methods": "payment method",
        "product_groups": "product group",
        "vat_rates": "VAT rate",
        "": "",
    }

    def __init__(self) -> None:
        self.sections: dict[str, list[tuple[str, str]]] = {}
        self.closes: list[DayClose] = []  # the day closes with a gap, first one first

    def add(self, section: str, name: str, line: str, dc: DayClose) -> None:
        items = self.sections.setdefault(section, [])
        if (name, line) not in items:
            items.append((name, line))
        if dc not in self.closes:
            self.closes.append(dc)

    def raise_if_any(self) -> None:
        if not self.sections:
            return
        dc = self.closes[0]
        who = (
            dc.label
            if len(self.closes) == 1
            else f"{dc.label} and {len(self.closes) - 1} more day closes"
        )
        files = list(dict.fromkeys(c.origin.file for c in self.closes))
        if len(files) > 1:  # a run's error names every input it comes from
            who += f" (in {', '.join(files)})"
        what = []
        details = ["pos:"]
        for section, items in self.sections.items():
            names = ", ".join(name for name, _ in items)
            label = self._WHAT[section]
            what.append(f"{label}{'s' if len(items) > 1 else ''} {names}" if label else names)
            if section:
                details.append(f"  {section}:")
                details += [f"    {line}" for _, line in items]
            else:
                details += [f"  {line}" for _, line in items]
        count = sum(len(items) for items in self.sections.values())
        raise MappingError(
            f"{who}: the pos mapping has no account for {count} item(s): " + "; ".join(what),
            file=dc.origin.file,
            line=dc.origin.line,
            key="pos",
            hint="add these lines to the mapping (replace <konto> with the account):",
            details=details,
        )


def _quote(name: str) -> str:
    """A YAML key as the user should type it (quoted when YAML would misread it)."""
    plain = name and not any(c in name for c in ":#{}[],&*!|>'\"%@`") and not name[0].isdigit()
    return name if plain and name.strip() == name else '"' + name.replace('"', '\\"') + '"'


def book_dayclose(
    dc: DayClose, accounts: PosAccounts, missing: Missing | None = None
) -> Voucher | None:
    """The day close as one balanced voucher. Pure: same input, same voucher.

    Runs `check` first (InputError when the report does not tie), then raises one
    MappingError naming every payment method, VAT rate and product group without account.
    Given a `missing` of the whole run, it collects the gaps there instead and returns None
    for a close that has one: the caller raises `missing` once all closes are seen."""
    check(dc)
    own = missing is None
    missing = missing if missing is not None else Missing()
    gaps_before = len(missing.closes)
    dims = _dims(dc, accounts)
    debits: list[Line] = []
    credits: list[Line] = []

    for method, amount in dc.payments.items():
        account = accounts.payment_account(method)
        if account is None:
            missing.add(
                "payment_methods",
                method,
                f"{_quote(method)}: gift_card"
                if _looks_like_gift_card(method)
                else f"{_quote(method)}: <konto>",
                dc,
            )
        elif amount:
            debits.append(Line(account, amount, dims if _is_pl(account) else (), method))
    if dc.gift_cards_redeemed:
        debits.append(Line(accounts.gift_card, dc.gift_cards_redeemed, (), "Presentkort inlösta"))

    net_left = {rate: total.net for rate, total in dc.sales_by_rate.items()}
    group_lines: list[Line] = []
    gift_sold = dc.gift_cards_sold
    for group, total in dc.sales_by_group.items():
        target = accounts.group_account(group)
        if target is None:
            if total.vat or not _looks_like_gift_card(group):
                continue  # its sales stay on its VAT rate's account
            # Refuse to let a gift card fall into a 0 % sales account (the classic mistake),
            # and ask for nothing else on its behalf: it is probably a gift card.
            missing.add(
                "product_groups", group, f"{_quote(group)}: gift_card   # or a sales account", dc
            )
            target = GIFT_CARD
        rate = total.rate
        net = total.net if total.net is not None else total.gross - (total.vat or 0)
        if target == GIFT_CARD:
            if total.vat:
                raise MappingError(
                    f"product group {group!r} is mapped to gift_card but carries VAT "
                    f"({sek_text(total.vat)}): a multi-purpose gift card has none",
                    file=dc.origin.file,
                    line=dc.line_of(f"group:{group}"),
                    key=f"pos.product_groups.{group}",
                    hint="map a single-purpose voucher (VAT at sale) to a sales account instead.",
                )
            gift_sold += total.gross
        else:
            group_lines.append(Line(target, -net, dims if _is_pl(target) else (), group))
        if rate is None:
            raise InputError(
                f"product group {group!r} has no VAT rate, so its sales cannot "
                "be taken out of a rate's sales",
                file=dc.origin.file,
                line=dc.line_of(f"group:{group}"),
                key=dc.label,
                hint="remove it from product_groups, or use a profile that reads "
                "the group's VAT rate.",
            )
        net_left[rate] = net_left.get(rate, 0) - net

    for rate, rate_total in dc.sales_by_rate.items():
        rate_accounts = accounts.vat_rates.get(rate)
        net = net_left[rate]
        need_sales = net != 0
        need_vat = rate_total.vat != 0
        if not (need_sales or need_vat):
            continue  # e.g. a 0 % rate that only held gift cards
        if (need_sales and (rate_accounts is None or rate_accounts.sales is None)) or (
            need_vat and (rate_accounts is None or rate_accounts.vat is None)
        ):
            missing.add(
                "vat_rates",
                rate,
                f'"{rate}": {{sales: <konto>, vat: <konto>}}'
                if need_vat
                else f'"{rate}": {{sales: <konto>}}',
                dc,
            )
            continue
        assert rate_accounts is not None
        if need_sales:
            assert rate_accounts.sales is not None
            credits.append(
                Line(
                    rate_accounts.sales,
                    -net,
                    dims if _is_pl(rate_accounts.sales) else (),
                    f"Försäljning {rate} %",
                )
            )
        if need_vat:
            assert rate_accounts.vat is not None
            credits.append(
                Line(
                    rate_accounts.vat,
                    -rate_total.vat,
                    dims if _is_pl(rate_accounts.vat) else (),
                    f"Utgående moms {rate} %",
                )
            )
    credits += group_lines
    if gift_sold:
        credits.append(Line(accounts.gift_card, -gift_sold, (), "Presentkort sålda"))
    if dc.tips:
        if accounts.tips is None:
            missing.add(
                "", "tips", "tips: <konto>   # 2829 (debt to staff) or an income account", dc
            )
        else:
            credits.append(
                Line(accounts.tips, -dc.tips, dims if _is_pl(accounts.tips) else (), "Dricks")
            )
    if own:
        missing.raise_if_any()
    elif len(missing.closes) > gaps_before:
        return None

    lines = debits + credits
    if dc.rounding:
        lines.append(
            Line(
                accounts.rounding,
                -dc.rounding,
                dims if _is_pl(accounts.rounding) else (),
                "Öresavrundning",
            )
        )
    return _voucher(dc, accounts, accounts.text, lines, "pos")


def book_cash(dc: DayClose, accounts: PosAccounts) -> list[Voucher]:
    """The till's own vouchers of the day: the cash difference, then the bank deposit.

    Each is separate from the sales voucher and gross per day (a shortage is never netted
    against another day's surplus). Raises InputError when the report's cash lines contradict
    each other, MappingError when the difference has no account."""
    problems = cash_problems(dc)
    if problems:
        raise InputError(
            f"{dc.label}: the cash lines do not agree: {problems[0]}",
            file=dc.origin.file,
            line=dc.line_of("cash"),
            key=dc.label,
            hint="the cash vouchers need a consistent cash count; book the "
            "difference by hand or export the report again.",
        )
    till = (accounts.payment_account(dc.cash_method) if dc.cash_method else None) or accounts.cash
    dims = _dims(dc, accounts)
    vouchers: list[Voucher] = []
    diff = dc.cash_difference or 0
    if diff:
        account = accounts.cash_shortage if diff < 0 else accounts.cash_surplus
        if account is None:
            which = "shortage" if diff < 0 else "surplus"
            raise MappingError(
                f"{dc.label}: a cash {which} of {sek_text(abs(diff))} has no account",
                file=dc.origin.file,
                line=dc.line_of("cash_difference"),
                key="pos.cash_difference",
                hint="add `cash_difference: <konto>` (or {shortage: <konto>, surplus: <konto>}) "
                "to the pos mapping.",
                details=["pos:", "  cash_difference: <konto>"],
            )
        text = "Kassadifferens " + accounts.text
        vouchers.append(
            _voucher(
                dc,
                accounts,
                text,
                [
                    Line(account, -diff, dims if _is_pl(account) else (), "Kassadifferens"),
                    Line(till, diff, (), "Kassadifferens"),
                ],
                "pos-cash-difference",
                suffix=":diff",
            )
        )
    if dc.cash_to_bank:
        text = "Dagskassa till bank " + accounts.text
        vouchers.append(
            _voucher(
                dc,
                accounts,
                text,
                [
                    Line(accounts.cash_deposit, dc.cash_to_bank, (), "Dagskassa till bank"),
                    Line(till, -dc.cash_to_bank, (), "Dagskassa till bank"),
                ],
                "pos-cash-deposit",
                suffix=":deposit",
            )
        )
    return vouchers


def _dims(dc: DayClose, accounts: PosAccounts) -> tuple[tuple[int, str], ...]:
    centre = accounts.cost_centres.get(dc.register, dc.cost_centre)
    return make_dims({accounts.cost_centre_dimension: centre}) if centre else ()


def _voucher(
    dc: DayClose,
    accounts: PosAccounts,
    template: str,
    lines: list[Line],
    rule: str,
    suffix: str = "",
) -> Voucher:
    text = (
        template.format(
            z=dc.z_number if dc.z_number is not None else "",
            register=dc.register,
            date=dc.business_day.isoformat(),
            system=dc.system,
        )
        .replace("  ", " ")
        .strip()
    )
    voucher = Voucher(
        series=accounts.series,
        date=dc.business_day,
        text=text,
        lines=tuple(lines),
        source_keys=(dc.key + suffix,),
        origins=(dc.origin,),
        rule=rule,
    )
    if voucher.balance != 0:  # cannot happen after check(); a guard against future edits
        raise UnbalancedError(
            f"{dc.label}: the voucher is off by {voucher.balance} öre",
            file=dc.origin.file,
            line=dc.origin.line,
            key=rule,
        )
    return voucher


class MissingSie:
    """The POS SIE accounts the mapping lacks, over every verifikation of the run (and every
    file), each with where it is first booked: one error lists them all."""

    def __init__(self) -> None:
        self.accounts: dict[str, Origin | None] = {}

    def add(self, account: str, origin: Origin | None) -> None:
        self.accounts.setdefault(account, origin)

    def raise_if_any(self) -> None:
        if not self.accounts:
            return
        names = list(self.accounts)
        origins = [o for o in self.accounts.values() if o is not None]
        files = list(dict.fromkeys(o.file for o in origins))
        first = origins[0] if origins else None
        what = (
            "the POS's SIE file books"
            if len(files) <= 1
            else f"the POS's SIE files ({', '.join(files)}) book"
        )
        raise MappingError(
            f"{what} on account{'s' if len(names) > 1 else ''} {', '.join(names)}, which the "
            "mapping does not have",
            file=first.file if first else None,
            line=first.line if first else None,
            key="pos.sie.accounts",
            hint="map each to one of your accounts (or name it under accounts:):",
            details=["pos:", "  sie:", "    accounts:"]
            + [
                f"      {a}: <konto>"
                + (
                    ""
                    if o is None or len(origins) == 1
                    else f"   # line {o.line}"
                    if len(files) == 1
                    else f"   # {o}"
                )
                for a, o in self.accounts.items()
            ],
        )


class RunGaps:
    """What the mapping lacks for the day closes and POS SIE files of a whole run (all its
    inputs): raised as one error per kind once every input is booked."""

    def __init__(self) -> None:
        self.closes = Missing()
        self.sie = MissingSie()

    def raise_if_any(self) -> None:
        self.closes.raise_if_any()
        self.sie.raise_if_any()


def remap_sie_voucher(
    voucher: Voucher,
    accounts: PosAccounts,
    known: Mapping[str, str],
    missing: MissingSie | None = None,
) -> Voucher | None:
    """A verifikation from a POS's own SIE file, on our accounts, series and cost centres.

    Accounts are mapped by `accounts.sie.accounts`; one not mapped must be one of ours
    (`known`, the mapping's `accounts:`), else MappingError listing every such account with
    the YAML to add. Given a `missing` of the whole run, the accounts are collected there
    instead and None is returned: the caller raises once every verifikation is seen. The
    voucher still balances: only accounts and objects change, never an amount."""
    sie = accounts.sie
    own = missing is None
    missing = missing if missing is not None else MissingSie()
    before = len(missing.accounts)
    origin = voucher.origins[0] if voucher.origins else None
    lines = []
    for line in voucher.lines:
        account = sie.accounts.get(line.account, line.account)
        if account not in known:
            missing.add(account, origin)
        dims = tuple((d, sie.objects.get(o, o) if d == sie.dimension else o) for d, o in line.dims)
        lines.append(line._replace(account=account, dims=make_dims(dict(dims))))
    if own:
        missing.raise_if_any()
    elif len(missing.accounts) > before or any(line.account not in known for line in lines):
        return None
    return Voucher(
        series=sie.series or accounts.series,
        date=voucher.date,
        text=voucher.text,
        lines=tuple(lines),
        origins=voucher.origins,
        rule="pos-sie",
    )
