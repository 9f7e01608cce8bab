"""Pre-flight: everything Fortnox would refuse in a batch, found before the first POST.

`check(vouchers, registers)` lists **all** problems at once, one `Problem` per kind and
subject (an inactive account used by 300 vouchers is one problem naming the count and the
first vouchers), so a user fixes everything in one go instead of one refusal per run.

`registers` come online from the API (`fetch_registers(client, vouchers)`) or offline from a
SIE 4E export (`registers_from_sie(path)`: accounts and financial years only; the other
checks are then listed in `Registers.unchecked` rather than guessed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from bokfor.domain import Line, Voucher
from bokfor.fortnox.client import Account, CostCenter, FortnoxClient, Project
from bokfor.fortnox.client import VoucherSeries
from bokfor.fortnox.errors import FortnoxError, FortnoxUnavailable

MANDATORY = "MANDATORY"
NOTALLOWED = "NOTALLOWED"

CHECKS = (
    "years",
    "accounts",
    "account-settings",
    "series",
    "cost-centres",
    "projects",
    "locked-period",
)


@dataclass(frozen=True)
class Year:
    id: int | None  # None: known from a SIE file, which has no Fortnox ids
    start: dt.date
    end: dt.date

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass
class Registers:
    """What Fortnox knows, as far as it was fetched. A register that is None is unknown and
    its checks are skipped (and named in `unchecked`)."""

    years: list[Year] = field(default_factory=list)
    # year id (None = every year) -> account number -> account
    accounts: dict[int | None, dict[int, Account]] = field(default_factory=dict)
    series: dict[int | None, dict[str, VoucherSeries]] | None = None
    cost_centers: dict[str, CostCenter] | None = None
    projects: dict[str, Project] | None = None
    locked_until: dt.date | None = None
    locked_known: bool = False
    settings_known: bool = False  # account cost-centre/project/transaction-info settings
    source: str = "fortnox"

    @property
    def unchecked(self) -> list[str]:
        out = []
        if not self.settings_known:
            out.append("account-settings")
        if self.series is None:
            out.append("series")
        if self.cost_centers is None:
            out.append("cost-centres")
        if self.projects is None:
            out.append("projects")
        if not self.locked_known:
            out.append("locked-period")
        return out

    def year_for(self, day: dt.date) -> Year | None:
        return next((y for y in self.years if y.covers(day)), None)

    def account(self, year: Year | None, number: int) -> Account | None:
        for key in ([year.id] if year is not None else []) + [None]:
            found = self.accounts.get(key, {}).get(number)
            if found is not None:
                return found
        return None


@dataclass
class Problem:
    kind: str
    subject: str
    message: str
    hint: str
    vouchers: list[str] = field(default_factory=list)  # the first few, described
    count: int = 0

    def __str__(self) -> str:
        more = (
            f" (+{self.count - len(self.vouchers)} more)" if self.count > len(self.vouchers) else ""
        )
        which = (
            f" in {self.count} voucher{'s' if self.count != 1 else ''}: "
            f"{'; '.join(self.vouchers)}{more}"
            if self.vouchers
            else ""
        )
        return f"{self.message}{which}. Fix: {self.hint}"


_EXAMPLES = 3


class _Collector:
    def __init__(self) -> None:
        self.problems: dict[tuple[str, str], Problem] = {}

    def add(self, kind: str, subject: str, message: str, hint: str, voucher: Voucher) -> None:
        problem = self.problems.get((kind, subject))
        if problem is None:
            problem = self.problems[(kind, subject)] = Problem(kind, subject, message, hint)
        problem.count += 1
        if len(problem.vouchers) < _EXAMPLES:
            problem.vouchers.append(_describe(voucher))


def _describe(v: Voucher) -> str:
    """A voucher in a problem of the whole run: its date, text, rows and the input file they
    come from (a run of several files must say which)."""
    keys = f" from {', '.join(v.source_keys[:2])}" if v.source_keys else ""
    where = f" ({v.origins[0]})" if v.origins else ""
    return f"{v.date.isoformat()} {v.text!r}{keys}{where}"


def check(
    vouchers: Iterable[Voucher], registers: Registers, *, series: str | None = None
) -> list[Problem]:
    """Every problem Fortnox would refuse the batch for. `series` overrides the vouchers'
    own series (the Fortnox series they will be booked in)."""
    out = _Collector()
    for v in vouchers:
        code = series or v.series
        _check_local(v, out)
        year = registers.year_for(v.date) if registers.years else None
        if registers.years and year is None:
            spans = ", ".join(f"{y.start}..{y.end}" for y in registers.years)
            out.add(
                "year-missing",
                v.date.isoformat()[:4],
                f"no financial year covers {v.date.isoformat()[:4]} dates (years: {spans})",
                "create the financial year in Fortnox (Inställningar > Räkenskapsår) "
                "before booking into it.",
                v,
            )
        if (
            registers.locked_known
            and registers.locked_until is not None
            and v.date <= registers.locked_until
        ):
            out.add(
                "locked-period",
                registers.locked_until.isoformat(),
                f"the period up to {registers.locked_until.isoformat()} is locked",
                "book the voucher in an open period, or unlock the period in Fortnox.",
                v,
            )
        if registers.series is not None and (year is not None or not registers.years):
            known = registers.series.get(year.id if year else None)
            if known is None:
                known = registers.series.get(None, {})
            s = known.get(code)
            if s is None:
                out.add(
                    "series-missing",
                    code,
                    f"voucher series {code!r} does not exist"
                    + (f" in financial year {year.start}..{year.end}" if year else ""),
                    "create it under Inställningar > Bokföring > Verifikationsserier, or "
                    "choose an existing series.",
                    v,
                )
            elif not s.manual:
                out.add(
                    "series-not-manual",
                    code,
                    f"voucher series {code!r} does not allow manual booking",
                    "tick 'Manuell' for the series in Fortnox, or choose another series.",
                    v,
                )
        for line in v.lines:
            _check_line(v, line, year, registers, out)
    return list(out.problems.values())


def _check_local(v: Voucher, out: _Collector) -> None:
    if v.balance:
        out.add(
            "unbalanced",
            "balance",
            "vouchers do not balance (debit differs from credit)",
            "fix the posting rule in the mapping so debit equals credit.",
            v,
        )
    if sum(1 for line in v.lines if line.amount) < 2:
        out.add(
            "too-few-rows",
            "rows",
            "vouchers have fewer than two non-zero rows",
            "a Fortnox voucher needs at least two rows; check the posting rule.",
            v,
        )


def _check_line(
    v: Voucher, line: Line, year: Year | None, registers: Registers, out: _Collector
) -> None:
    try:
        number = int(line.account)
    except ValueError:
        number = -1
    if not 1000 <= number <= 9999:
        out.add(
            "account-invalid",
            line.account,
            f"account {line.account!r} is not a number between 1000 and 9999",
            "use BAS account numbers in the mapping.",
            v,
        )
        return
    dims = dict(line.dims)
    # Without a year there is no chart to look in (the year problem says enough), unless
    # the chart holds for every year (a SIE export).
    if registers.accounts and (year is not None or None in registers.accounts):
        account = registers.account(year, number)
        if account is None:
            out.add(
                "account-missing",
                str(number),
                f"account {number} does not exist in Fortnox"
                + (f" (financial year {year.start}..{year.end})" if year else ""),
                "add it to the chart of accounts in Fortnox (Kontoplan), or change the "
                "account in the mapping.",
                v,
            )
        else:
            if not account.active:
                out.add(
                    "account-inactive",
                    str(number),
                    f"account {number} is inactive",
                    "activate it in Fortnox (Kontoplan) or use another account.",
                    v,
                )
            if registers.settings_known:
                _settings(
                    v,
                    number,
                    account.cost_center_settings,
                    1 in dims,
                    "cost-centre",
                    "a cost centre (dimension 1)",
                    out,
                )
                _settings(
                    v,
                    number,
                    account.project_settings,
                    6 in dims,
                    "project",
                    "a project (dimension 6)",
                    out,
                )
                _settings(
                    v,
                    number,
                    account.transaction_information_settings,
                    bool(line.text.strip()),
                    "transaction-information",
                    "a row text (TransactionInformation)",
                    out,
                )
    if 1 in dims and registers.cost_centers is not None:
        cc = registers.cost_centers.get(dims[1])
        if cc is None:
            out.add(
                "cost-centre-missing",
                dims[1],
                f"cost centre {dims[1]!r} does not exist",
                "create it in Fortnox (Kostnadsställen) or fix dimension 1 in the mapping.",
                v,
            )
        elif not cc.active:
            out.add(
                "cost-centre-inactive",
                dims[1],
                f"cost centre {dims[1]!r} is inactive",
                "activate it in Fortnox or use another cost centre.",
                v,
            )
    if 6 in dims and registers.projects is not None and dims[6] not in registers.projects:
        out.add(
            "project-missing",
            dims[6],
            f"project {dims[6]!r} does not exist",
            "create it in Fortnox (Projekt) or fix dimension 6 in the mapping.",
            v,
        )


def _settings(
    v: Voucher,
    number: int,
    setting: str | None,
    present: bool,
    kind: str,
    what: str,
    out: _Collector,
) -> None:
    if setting == MANDATORY and not present:
        out.add(
            f"{kind}-required",
            str(number),
            f"account {number} requires {what}",
            f"give the rows on account {number} {what} in the mapping, or relax the "
            "account's setting in Fortnox.",
            v,
        )
    elif setting == NOTALLOWED and present:
        out.add(
            f"{kind}-not-allowed",
            str(number),
            f"account {number} does not allow {what}",
            f"remove {what} from the rows on account {number}, or change the account's "
            "setting in Fortnox.",
            v,
        )


# --- registers ---------------------------------------------------------------------------


def fetch_registers(client: FortnoxClient, vouchers: Iterable[Voucher]) -> Registers:
    """The registers the vouchers touch, from the API: all years; accounts and series of the
    years the vouchers fall in; the full settings of each used account; cost centres and
    projects only when some row uses them; the locked period."""
    vouchers = list(vouchers)
    years = [Year(y.id, y.start, y.end) for y in client.financial_years()]
    regs = Registers(years=years, series={}, locked_known=True, settings_known=True)
    needed: dict[int, set[int]] = {}
    for v in vouchers:
        year = regs.year_for(v.date)
        if year is None or year.id is None:
            continue
        used = needed.setdefault(year.id, set())
        for line in v.lines:
            if line.account.isdigit():
                used.add(int(line.account))
    for year_id, used in needed.items():
        listed = {a.number: a for a in client.accounts(year_id)}
        for number in sorted(used):
            account = listed.get(number)
            if account is not None and account.transaction_information_settings is None:
                listed[number] = client.account(number, year_id)  # the list lacks settings
        regs.accounts[year_id] = listed
        assert regs.series is not None
        regs.series[year_id] = {s.code: s for s in client.voucher_series(year_id)}
    dims = {d for v in vouchers for line in v.lines for d, _ in line.dims}
    if 1 in dims:
        regs.cost_centers = {c.code: c for c in client.cost_centers()}
    if 6 in dims:
        regs.projects = {p.number: p for p in client.projects()}
    try:
        regs.locked_until = client.locked_period()
    except FortnoxError as exc:
        if isinstance(exc, FortnoxUnavailable) or exc.status not in (401, 403, 404):
            raise
        # The token may lack the scope for company settings: say it is unchecked rather
        # than stop (Fortnox itself still refuses a voucher in a locked period).
        regs.locked_known = False
    return regs


def registers_from_sie(path: Path) -> Registers:
    """Accounts and financial years from a SIE 4E export (offline; no Fortnox ids, no
    activity flags, no series, cost centres, projects or locked period)."""
    from bokfor.sie.reader import read

    doc = read(Path(path)).document
    years = [Year(None, y.start, y.end) for y in doc.fiscal_years]
    accounts = {int(n): Account(int(n), name) for n, name in doc.accounts.items() if n.isdigit()}
    return Registers(years=years, accounts={None: accounts}, source=f"sie:{path}")


def year_ids(vouchers: Iterable[Voucher], registers: Registers) -> dict[dt.date, int | None]:
    """Each voucher date's financial-year id (for `?financialyear=`), None when none covers
    it."""
    out: dict[dt.date, int | None] = {}
    for v in vouchers:
        if v.date not in out:
            year = registers.year_for(v.date)
            out[v.date] = year.id if year else None
    return out
