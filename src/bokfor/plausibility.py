"""Postings whose sign is backwards (issue 18): warnings, and one error with `--strict`.

Amounts are signed and a posting's keyword applies to a positive amount: `{account:
bank_account, debit: amount}` debits the bank when money comes in and credits it when money
goes out; crediting a refund's negative gross debits the sales account. A rule written the
other way round balances like the right one, so nothing else notices that it books every row
mirrored. `Schema.money` names a source's amount that is the money moving (+ = in); for a
booked row whose money moves with sign s (0: nothing checked), a posting's line is
implausible when
- it is on the row's bank account (`bank_account`) and its sign is not s;
- it credits a cost account (BAS 4000–7999) while money goes out (s < 0);
- it debits a revenue account (BAS 3000–3999) while money comes in (s > 0).
A refund (revenue debited, money out), a cost refunded (cost credited, money in) and a fee
debited on a sale pass. `mapping check` warns of what holds for every row a rule can match
(`mapping_warnings`); a run, of what the rows it books show (`Checker`, called by booking);
`refuse` makes the warnings one error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterable

from bokfor.domain import Caution, Notice, Origin, Row
from bokfor.errors import MappingError
from bokfor.money import AmountError, parse_amount

if TYPE_CHECKING:
    import polars as pl

    from bokfor.mapping import Mapping, Posting, Rule
    from bokfor.sources import Schema

BANK, COST, REVENUE = "bank", "cost", "revenue"
IN, OUT = 1, -1  # the money's direction


def kind_of(account: str, bank: str | None) -> str | None:
    """What the rule knows of an account: the row's bank account, a cost or revenue account
    (BAS classes 4–7 and 3), or nothing."""
    if account == bank:
        return BANK
    if len(account) == 4 and account.isdigit():
        if "3000" <= account <= "3999":
            return REVENUE
        if "4000" <= account <= "7999":
            return COST
    return None


def implausible(kind: str | None, effect: int, money: int) -> bool:
    """The rule of plausibility: a line of sign `effect` (+1 debit, -1 credit) on an account of
    `kind`, in a row whose money moves `money` (IN or OUT)."""
    if kind == BANK:
        return effect != money
    if kind == COST:
        return money == OUT and effect < 0
    if kind == REVENUE:
        return money == IN and effect > 0
    return False


@dataclass(frozen=True, slots=True)
class Implausible(Caution):
    """A posting whose sign looks backwards: a warning, which `refuse` (`--strict`) turns into
    an error. `rule` and `key` name the rule."""

    rule: str = ""
    key: str | None = None


def refuse(notices: Iterable[Notice]) -> None:
    """`--strict`: raise one MappingError listing every Implausible among `notices`."""
    found = [n for n in notices if isinstance(n, Implausible)]
    if not found:
        return
    rules = list(dict.fromkeys(n.rule for n in found))
    first = found[0]
    raise MappingError(
        f"--strict: {'rule' if len(rules) == 1 else 'rules'} "
        f"{', '.join(repr(r) for r in rules)} {'has' if len(rules) == 1 else 'have'} "
        f"{'a posting' if len(found) == 1 else 'postings'} whose sign looks backwards",
        file=first.file,
        line=first.line,
        key=first.key,
        hint="swap debit and credit as each line below says; if a posting is right as it is, "
        "run without --strict (it is then a warning).",
        details=[f"  {n}" for n in found],
    )


# -- what holds for every row (mapping check) ------------------------------------------------


def fixed_sign(spec: Any) -> int | None:
    """The sign a rule's condition on the money amount (as written in `when:`) leaves it:
    IN, OUT or None (either). A row of 0 books nothing, so `min: 0` means IN."""
    if isinstance(spec, dict):
        sign = spec.get("sign")
        if sign in ("positive", "negative"):
            return IN if sign == "positive" else OUT
        low, high = _amount(spec.get("min")), _amount(spec.get("max"))
        if low is not None and low >= 0:
            return IN
        if high is not None and high <= 0:
            return OUT
        return None
    signs = {_amount(v) for v in (spec if isinstance(spec, list) else [spec])}
    if None in signs:
        return None
    directions = {IN if v > 0 else OUT for v in signs if v}
    return directions.pop() if len(directions) == 1 else None


def _amount(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_amount(value, ".")
    except AmountError:
        return None


def mapping_warnings(mapping: Mapping) -> list[Implausible]:
    """Postings that book against the money on every row their rule matches, whatever the
    rows: one on the bank account whose amount is the money amount (or a multiple of it) on
    the wrong side; one on a cost or revenue account in a rule whose conditions fix the
    money's sign (`amount: {sign: negative}`). The rest only the rows can show."""
    from bokfor.sources import all_sources

    schemas = {s.section: s.schema for s in all_sources()}
    out = []
    for section, rules in mapping.sources.items():
        schema = schemas[section]
        for rule in (*rules.rules, *([rules.fallback] if rules.fallback else [])):
            out += rule_warnings(rule, schema)
    return out


def rule_warnings(rule: Rule, schema: Schema) -> list[Implausible]:
    """`mapping_warnings` of one rule of a source with rows of `schema`."""
    if not schema.money:
        return []
    fixed = rule.money_sign
    out = []
    for index, posting in enumerate(rule.postings):
        kind = kind_of(posting.account, schema.bank_accounts)
        if kind is None or (kind != BANK and not fixed):
            continue  # an account not checked, or the money's direction depends on the row
        ratio = _ratio(schema.amounts[posting.amount], schema.amounts[schema.money])
        moneys = {
            m
            for m in ((fixed,) if fixed else (IN, OUT))
            if _check(kind, posting, ratio, m) == ALWAYS
        }
        if moneys:
            where = (
                ""
                if not fixed
                else f" ({schema.money} is {'positive' if fixed == IN else 'negative'} in every row "
                "the rule matches)"
            )
            out.append(_notice(rule, index, kind, moneys, where))
    return out


ALWAYS = 0  # _check: the posting is implausible whatever the row's amounts


def _check(kind: str | None, posting: Posting, ratio: int | None, money: int) -> int | None:
    """When a posting's line is implausible in a row whose money moves `money`: ALWAYS, never
    (None), or when its amount has the sign returned (its amount is no multiple of the
    money amount, such as Stripe's fee against net)."""
    for effect in (1, -1):
        if implausible(kind, effect, money):
            if ratio is None:
                return posting.sign * effect
            return ALWAYS if posting.sign * ratio * money == effect else None
    return None


def _ratio(expression: dict[str, int], money: dict[str, int]) -> int | None:
    """The sign of c where `expression` = c × `money` (in basis amounts); None when the one
    is no multiple of the other (Stripe's gross = net + fee, against net)."""
    if set(expression) != set(money):
        return None
    ratios = {Fraction(expression[b], money[b]) for b in money}
    if len(ratios) != 1:
        return None
    ratio = ratios.pop()
    return (ratio > 0) - (ratio < 0) or None


# -- what the rows show (a run) ---------------------------------------------------------------


@dataclass
class _Found:
    rule: Rule
    index: int
    kind: str
    moneys: set[int] = field(default_factory=set)
    rows: int = 0
    origins: list[Origin] = field(default_factory=list)  # the first two


_Checks = tuple[tuple[tuple[int, str, int], ...], ...]


class Checker:
    """Checks the rows one booking books against their rules; what it finds is added up per
    rule and posting (`notices`: one warning each, with the number of rows and the first
    two). A rule's checks are worked out once (`_compile`): most need no amount of the row
    but the money's sign, and a rule written the right way has none."""

    def __init__(self, schema: Schema) -> None:
        assert schema.money
        self.schema = schema
        self.money = schema.money
        self._checks: dict[int, _Checks] = {}  # id(rule) -> see _compile
        self._found: dict[tuple[int, int], _Found] = {}

    def see(self, row: Row, rule: Rule) -> None:
        checks = self._checks_of(rule)
        if not checks:
            return
        amounts = row.amounts
        money = amounts[self.money]
        if not money:
            return
        for index, name, bad in checks[money < 0]:
            if bad == ALWAYS or ((amounts[name] > 0) if bad > 0 else (amounts[name] < 0)):
                self._add(rule, index, IN if money > 0 else OUT, row.origin)

    def see_frame(self, rows: pl.DataFrame, rule: Rule) -> None:
        """`see` for the rows of a row frame that `rule` books (bokfor.frames), in order: each
        posting's check is one expression over the amounts."""
        checks = self._checks_of(rule)
        if not checks:
            return
        import polars as pl

        from bokfor.frames import FILE, LINE

        money = pl.col(self.money)
        hits: dict[int, list[tuple[int, pl.Expr]]] = {}
        for moves, side in ((IN, money > 0), (OUT, money < 0)):
            for index, name, bad in checks[moves == OUT]:
                amount = pl.col(name)
                wrong = pl.lit(True) if bad == ALWAYS else amount > 0 if bad > 0 else amount < 0
                hits.setdefault(index, []).append((moves, side & wrong))
        for index, tests in hits.items():
            found = rows.select(
                pl.col(FILE), pl.col(LINE), *(test.alias(f"m{m}") for m, test in tests)
            ).filter(pl.any_horizontal(f"m{m}" for m, _ in tests))
            if not found.height:
                continue
            entry = self._entry(rule, index)
            entry.moneys.update(m for m, _ in tests if found[f"m{m}"].any())
            entry.rows += found.height
            need = max(2 - len(entry.origins), 0)
            entry.origins += [Origin(f, n) for f, n, *_ in found.head(need).iter_rows()]

    def checks(self, rule: Rule) -> bool:
        """Whether `rule` has a posting `see` checks (a rule written the right way has none)."""
        return bool(self._checks_of(rule))

    def _checks_of(self, rule: Rule) -> _Checks:
        checks = self._checks.get(id(rule))
        if checks is None:
            checks = self._checks[id(rule)] = self._compile(rule)
        return checks

    def _compile(self, rule: Rule) -> _Checks:
        """(checks when money comes in, when it goes out), or () when there are none; a check
        is (posting index, its amount, ALWAYS or the amount's sign that is implausible)."""
        schema = self.schema
        out = []
        for money in (IN, OUT):
            checks = []
            for index, posting in enumerate(rule.postings):
                kind = kind_of(posting.account, schema.bank_accounts)
                ratio = _ratio(schema.amounts[posting.amount], schema.amounts[self.money])
                bad = _check(kind, posting, ratio, money)
                if bad is not None:
                    checks.append((index, posting.amount, bad))
            out.append(tuple(checks))
        return tuple(out) if any(out) else ()

    def _add(self, rule: Rule, index: int, money: int, origin: Origin) -> None:
        found = self._entry(rule, index)
        found.moneys.add(money)
        found.rows += 1
        if len(found.origins) < 2:
            found.origins.append(origin)

    def _entry(self, rule: Rule, index: int) -> _Found:
        key = (id(rule), index)
        found = self._found.get(key)
        if found is None:
            kind = kind_of(rule.postings[index].account, self.schema.bank_accounts)
            assert kind is not None
            found = self._found[key] = _Found(rule, index, kind)
        return found

    def notices(self) -> list[Implausible]:
        out = []
        for f in sorted(self._found.values(), key=lambda f: (f.rule.line or 0, f.index)):
            shown = ", ".join(str(o) for o in f.origins) + (", …" if f.rows > 2 else "")
            out.append(
                _notice(
                    f.rule,
                    f.index,
                    f.kind,
                    f.moneys,
                    f", on {f.rows} row{'s' if f.rows > 1 else ''} ({shown})",
                )
            )
        return out


# -- the words --------------------------------------------------------------------------------


def _notice(rule: Rule, index: int, kind: str, moneys: set[int], where: str) -> Implausible:
    posting = rule.postings[index]
    return Implausible(
        f"rule {rule.name!r}: {_shown(posting, posting.sign)} {_does(kind, posting, moneys)}"
        f"{where} Fix: swap debit and credit: {_shown(posting, -posting.sign)}",
        file=rule.file,
        line=rule.line,
        rule=rule.name,
        key=rule.key,
    )


def _does(kind: str, posting: Posting, moneys: set[int]) -> str:
    if kind == BANK:
        if moneys == {IN}:
            return "credits the bank account while money comes in"
        if moneys == {OUT}:
            return "debits the bank account while money goes out"
        return (
            "books the bank account against the money: it credits it when money comes in "
            "and debits it when money goes out"
        )
    if kind == COST:
        return f"credits cost account {posting.account} while money goes out"
    return f"debits revenue account {posting.account} while money comes in"


def _shown(posting: Posting, side: int) -> str:
    """The posting as the mapping writes it, on `side` (+1 debit, -1 credit)."""
    more = ", …" if posting.vat_rate is not None or posting.dims or posting.text is not None else ""
    return (
        f"{{account: {posting.written or posting.account}, "
        f"{'debit' if side > 0 else 'credit'}: {posting.amount}{more}}}"
    )
