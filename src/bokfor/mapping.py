"""The YAML mapping: what the user writes to turn rows into vouchers.

Loading happens in three steps, each with errors that name `file:line` and the YAML key:
1. `yamlload` reads the file, keeping lines and keeping every scalar as text;
2. the pydantic models below check the structure (unknown keys, types) — they also give
   `bokfor mapping schema` its JSON Schema, so editors can complete and check the file;
3. `_compile` checks meaning against each source's `Schema` (fields exist, accounts are
   4 digits and named, VAT rates have accounts, every rule balances, no rule is
   unreachable) and turns rules into predicates the booking step applies.
The reference is docs/mapping.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Callable, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from bokfor import bas
from bokfor.domain import Company, Dims, Row
from bokfor.errors import MappingError, one_error
from bokfor.money import AmountError, parse_amount
from bokfor.patterns import PatternError, compile_pattern
from bokfor.plausibility import fixed_sign
from bokfor.rates import Rate, RateTable, load_rate_file, parse_rate
from bokfor.rules import EQUALS, ONE_OF, SIGNS, Condition, first_match
from bokfor.posbook import PosAccounts, PosSie
from bokfor.sources import AMOUNT, DATE, DATETIME, Schema, UserFormats, all_sources
from bokfor.sources.netbank import BUILTIN, Profile, ProfileError, ProfileModel, profile_from_model
from bokfor.sources.pos import SECTION as POS
from bokfor.template import Template, TemplateError
from bokfor.yamlload import dotted, line_of, load_text

GROUPINGS = ("per_row", "per_day", "per_payout", "per_entry")
_ACCOUNT = re.compile(r"\d{4}")
_RATE = re.compile(r"\d{1,2}(\.\d{1,2})?")
_MONTH_DAY = re.compile(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_OPS = ("regex", "not", "min", "max", "sign", "from", "to", "empty")
_SIGNS = SIGNS

# ---------------------------------------------------------------------------------------
# Structure (pydantic). Every scalar arrives as text; pydantic converts where typed.
# ---------------------------------------------------------------------------------------

_CONDITION_SCHEMA = {
    "description": "A value (equality), a list (any of them; ~ = empty) or operators.",
    "anyOf": [
        {"type": ["string", "number", "null"]},
        {"type": "array", "items": {"type": ["string", "number", "null"]}},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "regex": {
                    "type": "string",
                    "description": "Regular expression, Python syntax, "
                    "searched in linear time (RE2; no lookaround or backreferences)",
                },
                "not": {"description": "a value or list the field must not equal"},
                "min": {"type": ["string", "number"], "description": "amount, inclusive"},
                "max": {"type": ["string", "number"], "description": "amount, inclusive"},
                "sign": {"enum": list(_SIGNS)},
                "from": {"type": "string", "format": "date", "description": "inclusive"},
                "to": {"type": "string", "format": "date", "description": "inclusive"},
                "empty": {"type": "boolean"},
            },
        },
    ],
}
Conditions = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "additionalProperties": _CONDITION_SCHEMA}),
]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not at import. Built at
    # import, every nested model built its own as well as its parent's copy (~0.1 s of a
    # small run's start, issue 22); the root model's one build covers them all.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class CompanyModel(_Strict):
    name: str = Field(description="Legal name, written as #FNAMN")
    orgnr: str | None = Field(None, description="Organisationsnummer, e.g. 556677-8899")
    fiscal_year_start: str = Field("01-01", description="First day of the räkenskapsår, MM-DD")
    currency: str = Field("SEK", description="Redovisningsvaluta (ISO 4217)")
    timezone: str = Field("Europe/Stockholm", description="Zone that decides a voucher's date")


class DefaultsModel(_Strict):
    series: str = Field("A", description="Verifikationsserie")
    sie_type: Literal["4I"] = Field("4I", description="SIE type written (4I = import file)")
    text_limit: int | None = Field(50, description="Max text length (Fortnox: 50); ~ = none")
    accounts: dict[str, str] = Field(
        default_factory=dict, description="Named accounts postings may use: clearing: 1580"
    )
    vat_accounts: dict[str, str] = Field(
        default_factory=dict, description="Output-VAT account per rate: '25': 2611"
    )


class RatesModel(_Strict):
    fixed: dict[str, str] = Field(
        default_factory=dict, description="Fixed rates, company currency per unit: EUR: 11.25"
    )
    file: str | None = Field(
        None, description="Rate file (date;currency;rate[;unit]), relative to the mapping"
    )
    max_age_days: int = Field(7, description="Oldest quote used for a day without one")


class DimensionModel(_Strict):
    name: str
    objects: dict[str, str] = Field(default_factory=dict, description="object id -> name")


class ReverseChargeModel(_Strict):
    input: str = Field(description="Beräknad ingående moms, e.g. 2645")
    output: str = Field(description="Utgående moms, omvänd skattskyldighet, e.g. 2614")


class VatModel(_Strict):
    rate: str = Field(description="VAT rate in percent, e.g. 25, 12, 6")
    account: str | None = Field(None, description="Output-VAT account; default from vat_accounts")
    reverse_charge: ReverseChargeModel | None = Field(
        None,
        description="Omvänd skattskyldighet: VAT on top of the amount, debit input and "
        "credit output VAT; the amount itself is posted in full",
    )


class PostingModel(_Strict):
    account: str = Field(description="4-digit BAS account or a name from defaults.accounts")
    debit: str | None = Field(None, description="Named amount to debit (e.g. net, fee, gross)")
    credit: str | None = Field(None, description="Named amount to credit")
    vat: VatModel | None = Field(None, description="Split VAT out of the amount")
    dims: dict[int, str] = Field(
        default_factory=dict, description="Dimension -> object id or {field}: {1: WEB}"
    )
    text: str | None = Field(None, description="Row text template")


class RuleModel(_Strict):
    name: str | None = None
    when: Conditions = Field(description="Conditions on row fields; all must hold")
    post: list[PostingModel] = Field(default_factory=list)
    skip: bool = Field(
        False,
        description="Book nothing for these rows (counted, never "
        "silent): e.g. a failed or pending payout",
    )
    text: str | None = Field(None, description="Voucher text template (per_row grouping)")


class FallbackModel(_Strict):
    name: str | None = None
    post: list[PostingModel] = Field(min_length=1)
    text: str | None = None


class FxDifferenceModel(_Strict):
    account: str | list[str] = Field(
        description="The clearing account (or accounts: one a provider) whose remainder after "
        "a payout is the difference"
    )
    gain: str = Field(description="Valutakursvinst, e.g. 3960")
    loss: str = Field(description="Valutakursförlust, e.g. 7960")


class SourceModel(_Strict):
    grouping: Literal["per_row", "per_day", "per_payout", "per_entry"] = "per_row"
    bank_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="bank section: bank account (IBAN, BBAN, bankgiro, "
        "as any file writes it) -> its ledger account: 'SE45 5000 0000 0583 9825 7466': 1930",
    )
    bank_account: str | None = Field(
        None,
        description="bank section: the ledger account of files that do not name their "
        "bank account and whose format has no entry in bank_accounts",
    )
    profiles: dict[str, ProfileModel] = Field(
        default_factory=dict,
        description="bank section: layouts of other banks' exports "
        "(tried before the built-in ones; see docs/bank.md)",
    )
    fx_difference: FxDifferenceModel | None = Field(
        None,
        description="per_payout, rows in another currency: book what the clearing "
        "account has left of a payout to these accounts",
    )
    series: str | None = None
    voucher_text: str | None = Field(None, description="Voucher text template")
    rules: list[RuleModel] = Field(default_factory=list)
    fallback: FallbackModel | None = None


class RateAccountsModel(_Strict):
    sales: str | None = Field(None, description="Sales account of the rate, e.g. 3001")
    vat: str | None = Field(
        None, description="Output-VAT account of the rate, e.g. 2611 (none for 0 %)"
    )


class CashDifferenceModel(_Strict):
    shortage: str = Field(description="Kassadifferens, a shortage: e.g. 7960 or 3990")
    surplus: str = Field(description="Kassadifferens, a surplus")


class PosSieModel(_Strict):
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="The POS's account -> yours: 3010: 3001 (an account not listed is kept)",
    )
    series: str | None = Field(
        None, description="Your series for its verifikationer (default: pos.series)"
    )
    cost_centres: dict[str, str] = Field(
        default_factory=dict, description="The POS's cost-centre object -> yours: KASSA1: CAFE1"
    )


class PosModel(_Strict):
    series: str = Field("K", description="Verifikationsserie for day closes")
    text: str = Field(
        "Z {z} {register}", description="Voucher text: {z}, {register}, {date}, {system}"
    )
    payment_methods: dict[str, str] = Field(
        default_factory=dict,
        description="Payment method as the report names it -> account "
        "(or gift_card): Kort: 1580, Swish: 1930, Kontant: 1910, Presentkort: gift_card",
    )
    vat_rates: dict[str, RateAccountsModel] = Field(
        default_factory=dict, description="VAT rate -> sales and output-VAT accounts"
    )
    product_groups: dict[str, str] = Field(
        default_factory=dict,
        description="Product group -> sales account that overrides its "
        "rate's (or gift_card): Presentkort: gift_card",
    )
    gift_card: str = Field("2421", description="Gift cards sold and redeemed (a debt)")
    tips: str | None = Field(None, description="Tips: 2829 (owed to staff) or an income account")
    rounding: str = Field("3740", description="Öresavrundning")
    cash: str = Field("1910", description="The till (kassa)")
    cash_deposit: str = Field("1930", description="Where the day's cash is deposited")
    cash_difference: CashDifferenceModel | str | None = Field(
        None, description="Kassadifferens: one account or {shortage:, surplus:}"
    )
    book_cash: bool = Field(
        False,
        description="Also book the cash difference and the bank "
        "deposit of the day's cash, as vouchers of their own",
    )
    cost_centres: dict[str, str] = Field(
        default_factory=dict, description="Register -> kostnadsställe object: K1: CAFE1"
    )
    cost_centre_dimension: int = Field(1, description="SIE dimension of the cost centres")
    sie: PosSieModel = Field(
        default_factory=PosSieModel,
        description="A SIE file the POS writes: its accounts, series and cost centres re-mapped",
    )
    zreport_profiles: list[str] = Field(
        default_factory=list,
        description="Z-report layout profiles of your own (YAML, "
        "relative to this mapping; see docs/pos.md)",
    )


class MappingModel(_Strict):
    version: Literal["1"] = "1"
    company: CompanyModel
    defaults: DefaultsModel = DefaultsModel()
    accounts: dict[str, str] = Field(default_factory=dict, description="account -> name")
    dimensions: dict[int, DimensionModel] = Field(default_factory=dict)
    currency_rates: RatesModel = Field(
        default_factory=RatesModel, description="Rates for rows in another currency"
    )
    pos: PosModel | None = Field(
        None, description="How POS day closes (Z-dagrapporter) are booked (docs/pos.md)"
    )
    sources: dict[str, SourceModel] = Field(default_factory=dict)


def json_schema() -> str:
    """The mapping's JSON Schema, as an editor's YAML plugin applies it.

    Editors type YAML the usual way (`account: 1580` is a number, `version: 1` an integer),
    while bokfor reads every value as text; so wherever text is expected a number is
    accepted too, or every correct mapping would be flagged."""
    schema = _accept_numbers(MappingModel.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "bokfor mapping"
    return json.dumps(schema, indent=2, ensure_ascii=False)


def _accept_numbers(node: Any) -> Any:
    if isinstance(node, list):
        return [_accept_numbers(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _accept_numbers(value) for key, value in node.items()}
    if out.get("type") == "string" and "format" not in out:
        out["type"] = ["string", "number"]
    for key in ("const", "enum"):
        values = out.get(key)
        if key == "const" and isinstance(values, str) and values.isdigit():
            out.pop("const")
            out["enum"] = [values, int(values)]
        elif key == "enum" and isinstance(values, list):
            out["enum"] = values + [int(v) for v in values if isinstance(v, str) and v.isdigit()]
    return out


# ---------------------------------------------------------------------------------------
# Compiled form, used by booking.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Posting:
    account: str
    amount: str  # named amount
    sign: int  # +1 debit, -1 credit
    vat_rate: str | None
    vat_account: str | None  # VAT included in the amount: split out to this account
    reverse_charge: tuple[str, str] | None  # (input, output): VAT on top of the amount
    dims: tuple[tuple[int, Template], ...]
    text: Template | None
    written: str = ""  # the account as the mapping writes it (a name), for messages

    @cached_property
    def fixed_dims(self) -> Dims | None:
        """The dimensions when no template names a field (most postings): built once."""
        if any(t.constant is None for _, t in self.dims):
            return None
        return tuple((dim, t.constant) for dim, t in self.dims if t.constant)


@dataclass(frozen=True)
class Rule:
    name: str
    conditions: tuple[Condition, ...]
    postings: tuple[Posting, ...]
    text: Template | None
    file: str
    line: int | None
    key: str
    skip: bool = False
    # The sign (+1, -1) the rule's conditions fix for the source's money amount, or None:
    # what `mapping check` needs to tell a posting that is always backwards (plausibility).
    money_sign: int | None = None
    # The conditions as written (field, value / list / operators), compiled in `conditions`:
    # for saying the rule in words (bokfor.explain).
    when: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    # The conditions as tests of one row (`SourceRules.match`): a field made once, not a
    # cached_property, whose look-up the interpreter cannot specialise (match is per row).
    tests: tuple[Callable[[Row], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tests", tuple(c.predicate() for c in self.conditions))


@dataclass(frozen=True)
class BankAccounts:
    """The bank section's bank account -> ledger account table.

    Files write one account in many forms (an IBAN in camt, a BBAN with dashes in a CSV, the
    clearing number first or not), so a row's account is compared without spaces and dashes,
    and failing that by its trailing digits: `5000 0583 9825 7466` is the IBAN
    `SE45 5000 0000 0583 9825 7466`. Only a unique match counts."""

    accounts: dict[str, str]  # account_id(bank account) -> ledger account
    default: str | None  # for rows whose file names no account
    key: str  # the YAML key, for messages
    # Format -> ledger account, for files that do not name their account (SEB's CSV): `seb`
    # is one format (a net-bank profile), `camt` all camt.05x.
    formats: dict[str, str] = field(default_factory=dict)
    # (account as written, format) -> ledger account: a file names one account in one way.
    _found: dict[tuple[str, str], str] = field(default_factory=dict, compare=False, repr=False)

    def ledger_account(self, row: Row, file: str) -> str:
        fields = row.fields
        key = (str(fields.get("account") or ""), str(fields.get("format") or ""))
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._ledger_account(row, file)
        return found

    def _ledger_account(self, row: Row, file: str) -> str:
        from bokfor.sources.bank import account_id

        text = str(row.fields.get("account") or "")
        if not text:
            fmt = str(row.fields.get("format") or "")
            ledger = self.formats.get(fmt) or self.formats.get(fmt.split(".")[0]) or self.default
            if ledger is None:
                raise MappingError(
                    f"the file does not name its bank account ({fmt} files do not)",
                    file=row.origin.file,
                    line=row.origin.line,
                    key=f"{self.key}.bank_accounts",
                    hint=f"add `{fmt}: 1930` (the ledger account of the bank account this file "
                    f"is from) under {self.key}.bank_accounts in {file}.",
                )
            return ledger
        wanted = account_id(text)
        if wanted in self.accounts:
            return self.accounts[wanted]
        digits = re.sub(r"\D", "", wanted)
        found = {
            ledger
            for known, ledger in self.accounts.items()
            if len(digits) >= 7
            and (kd := re.sub(r"\D", "", known[2:] if known[:2].isalpha() else known))
            and len(kd) >= 7
            and (kd.endswith(digits) or digits.endswith(kd))
        }
        if len(found) == 1:
            return found.pop()
        raise MappingError(
            f"bank account {text} is not in the mapping",
            file=row.origin.file,
            line=row.origin.line,
            key=f"{self.key}.bank_accounts",
            hint=f'add `"{text}": 1930` (its ledger account) under {self.key}.bank_accounts '
            f"in {file}.",
        )


@dataclass(frozen=True)
class SourceRules:
    source: str
    grouping: str
    series: str
    voucher_text: Template | None
    rules: tuple[Rule, ...]
    fallback: Rule | None
    key: str
    fx_difference: tuple[tuple[str, ...], str, str] | None = None  # (clearings, gain, loss)
    bank_accounts: BankAccounts | None = None  # the bank section: resolves `bank_account`

    @property
    def candidates(self) -> tuple[Rule, ...]:
        """The rules `first_match` indexes: the rules, then the fallback if any."""
        return self.rules + ((self.fallback,) if self.fallback is not None else ())

    def first_match(self, columns: dict[str, Any]) -> Any:  # -> pl.Expr
        """One expression over a row frame with these columns (name -> dtype): each row's
        index in `candidates` of the rule `match` gives it, null when none does."""
        return first_match([r.conditions for r in self.rules], self.fallback is not None, columns)

    def match(self, row: Row) -> Rule | None:
        for rule in self.rules:  # a rule matches when all its tests pass (every row of a run)
            for test in rule.tests:
                if not test(row):
                    break
            else:
                return rule
        return self.fallback


@dataclass(frozen=True)
class Mapping:
    file: str
    company: Company
    fiscal_year_start: tuple[int, int]
    timezone: dt.tzinfo
    text_limit: int | None
    accounts: dict[str, str]
    named_accounts: dict[str, str]
    dimensions: dict[int, str]
    objects: dict[tuple[int, str], str]
    sources: dict[str, SourceRules]
    rates: RateTable = field(default_factory=RateTable)
    # The formats the mapping adds (net-bank layouts, Z-report profiles), for detection.
    formats: UserFormats = field(default_factory=UserFormats)
    pos: PosAccounts | None = None  # the `pos:` section
    text: str = ""  # the YAML as read: a run records it (the trail names the version)

    @property
    def sha256(self) -> str:
        """The version of the mapping a run used (of its text as read), "" when not read."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest() if self.text else ""

    def for_source(self, name: str) -> SourceRules:
        if name not in self.sources:
            raise MappingError(
                f"the mapping has no section for source {name!r}",
                file=self.file,
                key="sources",
                hint=f"add `sources: {{{name}: {{rules: [...]}}}}` (see docs/mapping.md).",
            )
        return self.sources[name]

    def fiscal_year_of(self, day: dt.date) -> tuple[dt.date, dt.date]:
        month, mday = self.fiscal_year_start
        start = dt.date(day.year, month, mday)
        if day < start:
            start = dt.date(day.year - 1, month, mday)
        if start.year == dt.MAXYEAR:  # a year with no next: it ends with the calendar
            return start, dt.date.max
        end = dt.date(start.year + 1, month, mday) - dt.timedelta(days=1)
        return start, end


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def load_mapping(path: Path) -> Mapping:
    """Load and check a mapping, reporting every problem in one MappingError (the first in
    its message, the others as detail lines). Two kinds stop early, as what follows them
    would only repeat them: YAML that does not parse (no tree to check: yamlload), and a
    structure the models refuse (the checks of meaning need typed values); the structure's
    problems are all reported together."""
    data, positions, text = load_text(path)
    file = str(path)

    def fail(message: str, loc: tuple[Any, ...], hint: str | None = None) -> MappingError:
        return MappingError(
            message, file=file, line=line_of(positions, loc), key=dotted(loc) or None, hint=hint
        )

    if not isinstance(data, dict):
        raise fail("a mapping must be a YAML mapping (key: value lines)", ())
    try:
        model = MappingModel.model_validate(data)
    except ValidationError as exc:
        raise _structure_error(exc, fail) from None
    return dataclasses.replace(_Compiler(model, fail, file, positions).compile(), text=text)


def _structure_error(
    exc: ValidationError, fail: Callable[..., MappingError], root: type[BaseModel] | None = None
) -> MappingError:
    """Every problem pydantic found, one message at each line; `root` is the model validated
    (the mapping's, or a client folder's bokfor.yaml). A value that fits none of a union's
    forms gives pydantic one error per form: one is kept per place."""
    problems: dict[str, MappingError] = {}
    for err in exc.errors():
        problem = _structure_problem(err, fail, root or MappingModel)
        problems.setdefault(f"{problem.line}:{problem.key}", problem)
    return one_error(list(problems.values()))  # type: ignore[return-value]


def _structure_problem(
    err: Any, fail: Callable[..., MappingError], root: type[BaseModel]
) -> MappingError:
    loc = _user_loc(tuple(err["loc"]), root)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1], root)
        allowed = ", ".join(parent.model_fields) if parent else ""
        return fail(
            f"unknown key {loc[-1]!r}",
            loc,
            f"allowed here: {allowed}." if allowed else "remove it.",
        )
    if kind == "missing":
        return fail(f"missing key {loc[-1]!r}", loc[:-1] or loc, f"add `{loc[-1]}:`.")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return fail(f"{err['input']!r} is not allowed", loc, f"use {expected}.")
    return fail(f"{err['msg']} (got {err.get('input')!r})", loc)


def _user_loc(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[Any, ...]:
    """`loc` as the user wrote it: without the names pydantic gives a union's forms
    (`CashDifferenceModel` or `str` after `cash_difference`)."""
    return _walk(loc, root)[0]


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `loc` (to list its keys)."""
    return _walk(loc, root)[1]


_TYPE_TAGS = frozenset({"str", "int", "bool", "float", "list", "dict", "none", "literal"})


def _walk(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[tuple[Any, ...], Any]:
    """Follow `loc` through the models: the user's keys, and the model at its end (None
    below a key no model has)."""
    out: list[Any] = []
    model: Any = root
    expect = None  # what the next part is: a user's key, a list index, or a union's form
    for part in loc:
        if (
            expect == "union"
            and isinstance(part, str)
            and (part[:1].isupper() or part in _TYPE_TAGS)
        ):
            expect = None
            continue
        out.append(part)
        if expect in ("key", "index"):
            expect = None
            continue
        expect = None
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            ann = model.model_fields[part].annotation
            origin = get_origin(ann)
            forms = [a for a in get_args(ann) if a is not type(None)]
            expect = (
                "key"
                if origin is dict
                else "index"
                if origin is list
                else "union"
                if origin in (Union, UnionType) and len(forms) > 1
                else None
            )
            model = _inner_model(ann)
        else:
            model = None
    return tuple(out), model


def _inner_model(ann: Any) -> Any:
    for arg in (ann, *getattr(ann, "__args__", ())):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        for sub in getattr(arg, "__args__", ()):
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                return sub
    return None


class _Skip(Exception):
    """A check that cannot be made because of a problem already reported (a posting naming
    an account alias whose own number is wrong): nothing more to say."""


class _Compiler:
    """Checks a mapping's meaning and compiles its rules, collecting every problem: each
    unit (an account, a rule's condition or posting, a section's setting) is checked on its
    own, and one that depends on a unit with a problem is skipped, not reported again."""

    def __init__(
        self,
        model: MappingModel,
        fail: Callable[..., MappingError],
        file: str,
        positions: dict[tuple[str, ...], int],
    ):
        self.m = model
        self.fail = fail
        self.file = file
        self.positions = positions
        self.named: dict[str, str] = {}
        self.broken: set[str] = set()  # account names whose number has a problem
        self.used_accounts: dict[str, tuple[Any, ...]] = {}
        self.profiles: tuple[Profile, ...] = ()
        self.problems: list[MappingError] = []
        self.tz: dt.tzinfo = dt.timezone.utc

    def each(self, check: Callable[..., Any], *args: Any) -> Any:
        """`check(*args)`, or None after noting its problem: the next unit is checked all
        the same."""
        try:
            return check(*args)
        except MappingError as exc:
            self.problems.append(exc)
        except _Skip:
            pass
        return None

    def problem(self, message: str, loc: tuple[Any, ...], hint: str | None = None) -> None:
        self.problems.append(self.fail(message, loc, hint))

    def compile(self) -> Mapping:
        m = self.m
        self.tz = self.each(self._timezone) or self.tz
        start = self.each(self._fiscal_start) or (1, 1)
        orgnr = m.company.orgnr
        if orgnr is not None:
            orgnr = self.each(self._orgnr, orgnr)
        if m.defaults.text_limit is not None and m.defaults.text_limit < 1:
            self.problem(
                f"{m.defaults.text_limit} is not a text length (1 or more characters)",
                ("defaults", "text_limit"),
                "give the longest text to keep, e.g. 50 (Fortnox's limit), or ~ for no limit.",
            )
        for key in m.accounts:
            self.each(self._account_number, key, ("accounts", key))
        for alias, number in m.defaults.accounts.items():
            found = self.each(self._alias, alias, number)
            if found is None:
                self.broken.add(alias)
            else:
                self.named[alias] = found
        vat_accounts: dict[str, str] = {}
        for rate, number in m.defaults.vat_accounts.items():
            loc = ("defaults", "vat_accounts", rate)
            if not _RATE.fullmatch(rate):
                self.problem(f"VAT rate {rate!r} is not a percentage", loc, "write e.g. '25'.")
                continue
            resolved = self.each(self._resolve, number, loc)
            if resolved is not None:
                vat_accounts[_norm_rate(rate)] = resolved
        self.vat_accounts = vat_accounts

        known = {s.section: s.schema for s in all_sources() if s.section != POS}
        sources: dict[str, SourceRules] = {}
        pos, zreport_profiles = (
            (self.each(self._pos) or (None, ())) if m.pos is not None else (None, ())
        )
        if not m.sources and m.pos is None:
            self.problem(
                "the mapping books nothing: it has no `sources:` and no `pos:`",
                (),
                "add a section for each kind of file (docs/mapping.md).",
            )
        for name, section in m.sources.items():
            if name == POS:
                self.problem(
                    "POS day closes are booked by the top-level `pos:` section, not by rules",
                    ("sources", name),
                    "move it to `pos:` (docs/pos.md).",
                )
            elif name not in known:
                self.problem(
                    f"unknown source {name!r}",
                    ("sources", name),
                    f"sources bokfor knows: {', '.join(known)}.",
                )
            else:
                compiled = self._source(name, section, known[name])
                if compiled is not None:
                    sources[name] = compiled

        names = self._account_names()
        rates = self.each(self._rates)
        if self.problems:
            raise one_error(self.problems)
        dims = {n: d.name for n, d in m.dimensions.items()}
        objects = {
            (n, oid): oname for n, d in m.dimensions.items() for oid, oname in d.objects.items()
        }
        return Mapping(
            file=self.file,
            company=Company(m.company.name, orgnr, m.company.currency.upper()),
            fiscal_year_start=start,
            timezone=self.tz,
            text_limit=m.defaults.text_limit,
            accounts=names,
            named_accounts=self.named,
            dimensions=dims,
            objects=objects,
            sources=sources,
            rates=rates,
            formats=UserFormats(self.profiles, zreport_profiles, bool(m.pos and m.pos.book_cash)),
            pos=pos,
        )

    def _account_names(self) -> dict[str, str]:
        """The name of every account the mapping may post to: its own `accounts:` first
        (SIE files and Fortnox show them), then the BAS chart's. An account in neither is a
        problem at its first use, with the chart's nearest accounts as the fix."""
        own = self.m.accounts
        names = dict(own)
        for number, loc in self.used_accounts.items():
            if number in own:
                continue
            chart_name = bas.name(number)
            if chart_name is not None:
                names[number] = chart_name
                continue
            near = "; ".join(f"{n} {name}" for n, name in bas.nearest(number))
            self.problem(
                f"account {number} is not in the {bas.CHART} chart and has no name "
                "under `accounts:`",
                loc,
                f"use an account of the chart (the nearest: {near}), or name it "
                f"under `accounts:` as `{number}: <kontonamn>` if your chart has it.",
            )
        return names

    def _rates(self) -> RateTable:
        spec = self.m.currency_rates
        base = ("currency_rates",)
        if spec.file is not None:
            # Beside the mapping itself, not beside a link to it.
            table = load_rate_file(Path(self.file).resolve().parent / spec.file, spec.max_age_days)
        else:
            table = RateTable(max_age_days=spec.max_age_days, source=f"{self.file} currency_rates")
        for code, text in spec.fixed.items():
            loc = (*base, "fixed", code)
            if not re.fullmatch(r"[A-Za-z]{3}", code):
                self.problem(f"{code!r} is not a currency code", loc, "write e.g. EUR.")
                continue
            try:
                num, den = parse_rate(text)
            except ValueError as exc:
                self.problem(str(exc), loc, "write the company currency per unit, e.g. 11.2345.")
                continue
            table.fixed[code.upper()] = Rate(code.upper(), num, den, text, None)
        return table

    # -- company ------------------------------------------------------------------------

    def _timezone(self) -> dt.tzinfo:
        try:
            return ZoneInfo(self.m.company.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                f"unknown time zone {self.m.company.timezone!r}",
                ("company", "timezone"),
                "use an IANA name such as Europe/Stockholm.",
            ) from None

    def _fiscal_start(self) -> tuple[int, int]:
        text = self.m.company.fiscal_year_start
        if not _MONTH_DAY.fullmatch(text) or text[3:] > "28" and text[:2] == "02":
            raise self.fail(
                f"fiscal_year_start {text!r} is not a month and day",
                ("company", "fiscal_year_start"),
                "write MM-DD, e.g. 01-01 or 07-01 (brutet räkenskapsår).",
            )
        return int(text[:2]), int(text[3:])

    def _orgnr(self, text: str) -> str:
        from stdnum.exceptions import ValidationError as StdnumError
        from stdnum.se import orgnr

        try:
            return orgnr.format(orgnr.validate(text))
        except StdnumError as exc:
            raise self.fail(
                f"organisationsnummer {text!r} is not valid ({exc})",
                ("company", "orgnr"),
                "write the 10 digits as on the registreringsbevis, e.g. 556677-8899.",
            ) from None

    # -- accounts -----------------------------------------------------------------------

    def _account_number(self, text: str, loc: tuple[Any, ...]) -> str:
        if not _ACCOUNT.fullmatch(text):
            raise self.fail(
                f"account {text!r} is not a 4-digit BAS account",
                loc,
                "write a number such as 1580 or 3001.",
            )
        return text

    def _alias(self, alias: str, number: str) -> str:
        loc = ("defaults", "accounts", alias)
        if _ACCOUNT.fullmatch(alias):
            raise self.fail(
                f"account name {alias!r} looks like a number",
                loc,
                "use a word such as clearing, bank or fees.",
            )
        return self._account_number(number, loc)

    def _resolve(self, text: str, loc: tuple[Any, ...]) -> str:
        """A posting's account: a 4-digit number or a name from defaults.accounts."""
        if text.isdigit():
            number = self._account_number(text, loc)
        elif text in self.named:
            number = self.named[text]
        elif text in self.broken:
            raise _Skip  # its number's problem is reported where the name is defined
        else:
            names = ", ".join(self.named) or "none defined"
            raise self.fail(
                f"account {text!r} is neither a 4-digit account nor a named account",
                loc,
                f"named accounts (defaults.accounts): {names}.",
            )
        self.used_accounts.setdefault(number, loc)
        return number

    # -- sources ------------------------------------------------------------------------

    def _source(self, name: str, section: SourceModel, schema: Schema) -> SourceRules | None:
        """A source section, or None when it has a problem (each noted)."""
        before = len(self.problems)
        base = ("sources", name)
        bank = self._bank_accounts(section, schema, base)
        if section.grouping not in ("per_row", "per_day", *schema.group_keys):
            self.problem(
                f"grouping {section.grouping!r} is not available for {name}",
                (*base, "grouping"),
                "use per_row or per_day.",
            )
        if not section.rules and section.fallback is None:
            self.problem(f"source {name!r} has no rules", base, "add `rules:` (docs/mapping.md).")
        rules = tuple(
            self._rule(name, rule, schema, (*base, "rules", i))
            for i, rule in enumerate(section.rules)
        )
        if None not in rules:
            self.each(self._check_reachable, section.rules, rules, base)
        fallback = None
        if section.fallback is not None:
            fb = section.fallback
            fallback = self._rule(
                name,
                RuleModel(name=fb.name or "fallback", when={}, post=fb.post, text=fb.text),
                schema,
                (*base, "fallback"),
            )
        voucher_text = None
        if section.voucher_text is not None:
            known: Callable[[str], bool]
            if section.grouping == "per_row":
                known, names = schema.has_field, _field_list(schema)
            else:
                group_fields = {"date", "source", "count"}
                if section.grouping in schema.group_keys:
                    group_fields.add(schema.group_keys[section.grouping])
                known, names = group_fields.__contains__, ", ".join(sorted(group_fields))
            voucher_text = self.each(
                self._template, section.voucher_text, (*base, "voucher_text"), known, names
            )
        fx = None
        if section.fx_difference is not None:
            floc = (*base, "fx_difference")
            if section.grouping != "per_payout":
                self.problem(
                    "fx_difference needs grouping: per_payout",
                    floc,
                    "a payout's difference is known only when its rows are booked "
                    "together; set `grouping: per_payout`.",
                )
            spec = section.fx_difference
            accounts = spec.account if isinstance(spec.account, list) else [spec.account]
            clearings = [self.each(self._resolve, name, (*floc, "account")) for name in accounts]
            fx = (
                None if None in clearings else tuple(clearings),
                self.each(self._resolve, spec.gain, (*floc, "gain")),
                self.each(self._resolve, spec.loss, (*floc, "loss")),
            )
        if len(self.problems) > before or None in rules or (fx is not None and None in fx):
            return None
        return SourceRules(
            bank_accounts=bank,
            fx_difference=fx,  # type: ignore[arg-type]
            source=name,
            grouping=section.grouping,
            series=section.series or self.m.defaults.series,
            voucher_text=voucher_text,
            rules=rules,  # type: ignore[arg-type]
            fallback=fallback,
            key=dotted(base),
        )

    def _bank_accounts(
        self, section: SourceModel, schema: Schema, base: tuple[Any, ...]
    ) -> BankAccounts | None:
        if not schema.bank_accounts:
            for key in ("bank_accounts", "bank_account"):
                if getattr(section, key) not in (None, {}):
                    self.problem(
                        f"{key} belongs in the bank section",
                        (*base, key),
                        "move it under sources.bank.",
                    )
            return None
        from bokfor.sources.bank import account_id

        profiles = self._profiles(section, base)
        formats_known = {p.name for p in (*profiles, *BUILTIN)} | {
            s.name for s in all_sources() if s.section == "bank"
        }
        accounts: dict[str, str] = {}
        formats: dict[str, str] = {}
        for text, ledger in section.bank_accounts.items():
            loc = (*base, "bank_accounts", text)
            if re.fullmatch(r"[a-z][a-z0-9_]*", text):
                if text not in formats_known:
                    self.problem(
                        f"{text!r} is neither a bank account number nor a bank format",
                        loc,
                        "formats: "
                        + ", ".join(sorted(formats_known))
                        + "; or write the account number as the bank shows it.",
                    )
                    continue
                formats[text] = self.each(self._resolve, ledger, loc)
                continue
            number = account_id(text)
            if not re.fullmatch(r"[A-Z0-9]{5,34}", number):
                self.problem(
                    f"{text!r} is not a bank account number",
                    loc,
                    "write the IBAN, the clearing and account number or the "
                    "bankgiro number as the bank shows it.",
                )
            elif number in accounts:
                self.problem(
                    f"bank account {text!r} is listed twice", loc, "list each bank account once."
                )
            else:
                accounts[number] = self.each(self._resolve, ledger, loc)
        default = None
        if section.bank_account is not None:
            default = self.each(self._resolve, section.bank_account, (*base, "bank_account"))
        if not section.bank_accounts and section.bank_account is None:
            self.problem(
                "the bank section names no bank account",
                base,
                'add `bank_accounts: {"SE45 5000 0000 0583 9825 7466": 1930}` '
                "(each bank account and its ledger account) or `bank_account: 1930`.",
            )
        self.profiles = profiles
        return BankAccounts(accounts, default, dotted(base), formats)

    def _pos(self) -> tuple[PosAccounts, tuple[object, ...]] | None:
        """The `pos:` section: every account checked like a rule's, the text template's
        fields known, the user's Z-report profiles loaded (relative to the mapping). None
        when it has a problem (each noted)."""
        from bokfor.dayclose import norm_rate
        from bokfor.posbook import GIFT_CARD, RateAccounts
        from bokfor.sources import zreport

        spec = self.m.pos
        assert spec is not None
        base = ("pos",)
        before = len(self.problems)

        def account(text: str | None, *loc: Any) -> Any:
            return None if text is None else self.each(self._resolve, text, (*base, *loc))

        def account_or_gift_card(text: str, *loc: Any) -> Any:
            return GIFT_CARD if text == GIFT_CARD else account(text, *loc)

        rates = {}
        for rate, pair in spec.vat_rates.items():
            try:
                normal = norm_rate(rate)
            except ValueError:
                self.problem(
                    f"VAT rate {rate!r} is not a percentage",
                    (*base, "vat_rates", rate),
                    "write e.g. '25', '12', '6' or '0'.",
                )
                continue
            rates[normal] = RateAccounts(
                account(pair.sales, "vat_rates", rate, "sales"),
                account(pair.vat, "vat_rates", rate, "vat"),
            )
        self.each(
            self._template,
            spec.text,
            (*base, "text"),
            {"z", "register", "date", "system"}.__contains__,
            "z, register, date, system",
        )
        diff = spec.cash_difference
        shortage = surplus = None
        if isinstance(diff, CashDifferenceModel):
            shortage = account(diff.shortage, "cash_difference", "shortage")
            surplus = account(diff.surplus, "cash_difference", "surplus")
        elif diff is not None:
            shortage = surplus = account(diff, "cash_difference")
        profiles = []
        for i, name in enumerate(spec.zreport_profiles):
            path = Path(self.file).parent / name
            if not path.is_file():
                self.problem(
                    f"no Z-report profile at {path}",
                    (*base, "zreport_profiles", i),
                    "give the path of the profile's YAML file, relative to this mapping.",
                )
                continue
            profiles.append(self.each(zreport.load_profile, path))
        accounts = PosAccounts(
            payment_methods={
                m: account_or_gift_card(a, "payment_methods", m)
                for m, a in spec.payment_methods.items()
            },
            vat_rates=rates,
            product_groups={
                g: account_or_gift_card(a, "product_groups", g)
                for g, a in spec.product_groups.items()
            },
            gift_card=account(spec.gift_card, "gift_card"),
            tips=account(spec.tips, "tips"),
            rounding=account(spec.rounding, "rounding"),
            cash=account(spec.cash, "cash"),
            cash_deposit=account(spec.cash_deposit, "cash_deposit"),
            cash_shortage=shortage,
            cash_surplus=surplus,
            cost_centres=dict(spec.cost_centres),
            cost_centre_dimension=spec.cost_centre_dimension,
            series=spec.series,
            text=spec.text,
            sie=PosSie(
                accounts={
                    theirs: account(ours, "sie", "accounts", theirs)
                    for theirs, ours in spec.sie.accounts.items()
                    if self.each(self._account_number, theirs, (*base, "sie", "accounts", theirs))
                },
                series=spec.sie.series,
                objects=dict(spec.sie.cost_centres),
                dimension=spec.cost_centre_dimension,
            ),
        )
        if len(self.problems) > before:
            return None
        return accounts, tuple(profiles)

    def _profiles(self, section: SourceModel, base: tuple[Any, ...]) -> tuple[Profile, ...]:
        """The user's net-bank layouts, checked for sense (columns that are in the header)."""
        out = []
        for name, model in section.profiles.items():
            loc = (*base, "profiles", name)
            try:
                out.append(profile_from_model(name, model))
            except ProfileError as exc:
                where = (*loc, *exc.key.split(".")) if exc.key else loc
                self.problem(exc.message, where, exc.hint)
        return tuple(out)

    def _rule(
        self, source: str, rule: RuleModel, schema: Schema, loc: tuple[Any, ...]
    ) -> Rule | None:
        """A rule, or None when it has a problem: each condition, posting and template is
        checked, and the balance when every posting is sound."""
        before = len(self.problems)
        name = rule.name or f"rule {loc[-1] + 1 if isinstance(loc[-1], int) else loc[-1]}"
        conditions = tuple(
            self.each(self._condition, field, spec, schema, (*loc, "when", field))
            for field, spec in rule.when.items()
        )
        if isinstance(loc[-1], int) and not conditions:
            self.problem(
                f"rule {name!r} has no conditions",
                (*loc, "when"),
                "give it conditions, or make it the `fallback:`.",
            )
        if rule.skip == bool(rule.post):
            self.problem(
                f"rule {name!r} needs either `post:` or `skip: true`",
                loc,
                "list the postings, or write `skip: true` to book nothing for "
                "these rows (they are counted in the summary).",
            )
        postings = tuple(
            self.each(self._posting, p, schema, (*loc, "post", i)) for i, p in enumerate(rule.post)
        )
        if None not in postings:
            self.each(self._check_balance, name, postings, schema, loc)
        text = None
        if rule.text is not None:
            text = self.each(
                self._template, rule.text, (*loc, "text"), schema.has_field, _field_list(schema)
            )
        if len(self.problems) > before or None in conditions or None in postings:
            return None
        money_sign = fixed_sign(rule.when.get(schema.money)) if schema.money else None
        return Rule(
            name=name,
            conditions=conditions,
            postings=postings,
            text=text,
            file=self.file,
            line=line_of(self.positions, loc),
            key=dotted(loc),
            skip=rule.skip,
            money_sign=money_sign,
            when=tuple(rule.when.items()),
        )

    def _posting(self, p: PostingModel, schema: Schema, loc: tuple[Any, ...]) -> Posting:
        if (p.debit is None) == (p.credit is None):
            raise self.fail(
                "a posting needs exactly one of debit: or credit:",
                loc,
                f"e.g. `debit: {next(iter(schema.amounts))}`.",
            )
        amount = p.debit if p.debit is not None else p.credit
        side = "debit" if p.debit is not None else "credit"
        assert amount is not None
        if amount not in schema.amounts:
            raise self.fail(
                f"{amount!r} is not an amount of this source",
                (*loc, side),
                f"amounts: {', '.join(schema.amounts)}.",
            )
        if p.account == schema.bank_accounts:
            account = p.account  # resolved per row from its bank account (BankAccounts)
        else:
            account = self._resolve(p.account, (*loc, "account"))
        vat_rate = vat_account = reverse = None
        if p.vat is not None:
            vloc = (*loc, "vat")
            if not _RATE.fullmatch(p.vat.rate):
                raise self.fail(
                    f"VAT rate {p.vat.rate!r} is not a percentage",
                    (*vloc, "rate"),
                    "write e.g. 25, 12 or 6.",
                )
            vat_rate = _norm_rate(p.vat.rate)
            rc = p.vat.reverse_charge
            if rc is not None and p.vat.account is not None:
                raise self.fail(
                    "a VAT split has either account: or reverse_charge:, not both",
                    vloc,
                    "reverse charge posts to its input and output accounts.",
                )
            if rc is not None:
                reverse = (
                    self._resolve(rc.input, (*vloc, "reverse_charge", "input")),
                    self._resolve(rc.output, (*vloc, "reverse_charge", "output")),
                )
            elif p.vat.account is not None:
                vat_account = self._resolve(p.vat.account, (*vloc, "account"))
            elif vat_rate in self.vat_accounts:
                vat_account = self.vat_accounts[vat_rate]
            else:
                raise self.fail(
                    f"VAT rate {p.vat.rate} has no account",
                    vloc,
                    f"add `account: 2611` here, or `'{vat_rate}': 2611` under "
                    "defaults.vat_accounts.",
                )
        dims = []
        for dim, value in p.dims.items():
            if dim < 1:
                raise self.fail(
                    f"dimension {dim} is not a SIE dimension number",
                    (*loc, "dims", str(dim)),
                    "use 1 (kostnadsställe), 6 (projekt)…",
                )
            dims.append(
                (
                    dim,
                    self._template(
                        value, (*loc, "dims", str(dim)), schema.has_field, _field_list(schema)
                    ),
                )
            )
        text = None
        if p.text is not None:
            text = self._template(p.text, (*loc, "text"), schema.has_field, _field_list(schema))
        return Posting(
            account,
            amount,
            1 if side == "debit" else -1,
            vat_rate,
            vat_account,
            reverse,
            tuple(dims),
            text,
            p.account,
        )

    def _template(
        self, text: str, loc: tuple[Any, ...], known: Callable[[str], bool], names: str
    ) -> Template:
        try:
            template = Template.parse(text)
        except TemplateError as exc:
            raise self.fail(str(exc), loc) from None
        for name in template.fields:
            if not known(name):
                raise self.fail(f"unknown field {{{name}}} in template", loc, f"fields: {names}.")
        return template

    def _check_balance(
        self, name: str, postings: tuple[Posting, ...], schema: Schema, loc: tuple[Any, ...]
    ) -> None:
        """Every rule must balance for every row: sum the postings in basis amounts."""
        total: dict[str, int] = {}
        for p in postings:
            for basis, coeff in schema.amounts[p.amount].items():
                total[basis] = total.get(basis, 0) + p.sign * coeff
        off = {b: c for b, c in total.items() if c}
        if off:
            diff = " ".join(
                f"{'+' if c > 0 else '-'}{'' if abs(c) == 1 else abs(c)}{b}"
                for b, c in sorted(off.items())
            )
            raise self.fail(
                f"rule {name!r} does not balance: debit minus credit is {diff.lstrip('+')}",
                (*loc, "post"),
                "every amount must be posted on both sides; for Stripe: debit net and fee, "
                "credit gross (gross = net + fee).",
            )

    # -- conditions ---------------------------------------------------------------------

    def _condition(self, field: str, spec: Any, schema: Schema, loc: tuple[Any, ...]) -> Condition:
        if not schema.has_field(field):
            raise self._unknown_field(field, spec, schema, loc)
        kind = schema.kind(field)
        parse = self._parser(kind, loc)
        if isinstance(spec, dict):
            return Condition(field, kind, self._ops(field, spec, kind, parse, loc), self.tz)
        if isinstance(spec, list):
            if not spec:
                raise self.fail("an empty list can never match", loc, "list at least one value.")
            allowed = frozenset(parse(v, (*loc, i)) for i, v in enumerate(spec))
            return Condition(field, kind, ((ONE_OF, allowed),), self.tz)
        return Condition(field, kind, ((EQUALS, parse(spec, loc)),), self.tz)

    def _unknown_field(
        self, field: str, spec: Any, schema: Schema, loc: tuple[Any, ...]
    ) -> MappingError:
        """A condition on a field the rows do not have, with the field the user most likely
        meant: a near miss of a field's name, the bank's column bokfor reads into a field
        (`Beskrivning` is a bank row's `text`), or the field whose values look like the
        value written (free text, a date, an amount)."""
        source = loc[1] if len(loc) > 1 else "these"
        meant, why = _field_meant(field, spec, schema)
        message = f"{field!r} is not a field of {source} rows"
        if meant is not None:
            message += f"; {why}"
        hint = (
            f"write `{meant}:` instead; " if meant is not None else ""
        ) + f"fields of {source} rows: {_field_list(schema)}."
        return self.fail(message, loc, hint)

    def _parser(self, kind: str, loc: tuple[Any, ...]) -> Callable[[Any, tuple[Any, ...]], Any]:
        def parse(value: Any, where: tuple[Any, ...]) -> Any:
            if value is None:
                return None
            if not isinstance(value, str):
                raise self.fail("expected a single value here", where)
            if kind == AMOUNT:
                try:
                    return parse_amount(value, ".")
                except AmountError as exc:
                    raise self.fail(f"{exc}", where, "write amounts like 1234.50.") from None
            if kind in (DATE, DATETIME):
                try:
                    return dt.date.fromisoformat(value)
                except ValueError:
                    raise self.fail(
                        f"{value!r} is not a date", where, "write YYYY-MM-DD."
                    ) from None
            return value

        return parse

    def _ops(
        self,
        field: str,
        spec: dict[str, Any],
        kind: str,
        parse: Callable[[Any, tuple[Any, ...]], Any],
        loc: tuple[Any, ...],
    ) -> tuple[tuple[str, Any], ...]:
        """A field's operators, each with its argument parsed (bokfor.rules tests them)."""
        tests: list[tuple[str, Any]] = []
        for op, arg in spec.items():
            oloc = (*loc, op)
            if op not in _OPS:
                raise self.fail(
                    f"unknown condition {op!r}", oloc, f"use one of: {', '.join(_OPS)}."
                )
            if op == "regex":  # run in linear time: no pattern can hang a run (patterns.py)
                try:
                    tests.append((op, compile_pattern(str(arg))))
                except PatternError as exc:
                    raise self.fail(exc.message, oloc, exc.hint) from None
            elif op == "not":
                values = arg if isinstance(arg, list) else [arg]
                tests.append((op, frozenset(parse(v, oloc) for v in values)))
            elif op == "empty":
                tests.append((op, str(arg).lower() in ("true", "yes", "1")))
            elif op in ("min", "max", "sign"):
                if kind != AMOUNT:
                    raise self.fail(f"{op!r} applies to amounts, and {field!r} is not one", oloc)
                if op == "sign":
                    if arg not in _SIGNS:
                        raise self.fail(
                            f"sign {arg!r} is unknown", oloc, f"use one of: {', '.join(_SIGNS)}."
                        )
                    tests.append((op, arg))
                else:
                    tests.append((op, parse(arg, oloc)))
            else:  # from / to
                if kind not in (DATE, DATETIME):
                    raise self.fail(f"{op!r} applies to dates, and {field!r} is not one", oloc)
                tests.append((op, parse(arg, oloc)))
        self._check_satisfiable(spec, kind, parse, loc)
        return tuple(tests)

    def _check_satisfiable(
        self,
        spec: dict[str, Any],
        kind: str,
        parse: Callable[[Any, tuple[Any, ...]], Any],
        loc: tuple[Any, ...],
    ) -> None:
        low = parse(spec["min"], loc) if "min" in spec else None
        high = parse(spec["max"], loc) if "max" in spec else None
        first = parse(spec["from"], loc) if "from" in spec else None
        last = parse(spec["to"], loc) if "to" in spec else None
        sign = spec.get("sign")
        never = (
            (low is not None and high is not None and low > high)
            or (first is not None and last is not None and first > last)
            or (sign == "positive" and high is not None and high <= 0)
            or (sign == "negative" and low is not None and low >= 0)
            or (
                sign == "zero"
                and ((low is not None and low > 0) or (high is not None and high < 0))
            )
        )
        if never:
            raise self.fail(
                "this condition can never match (its bounds exclude every value)",
                loc,
                "check min/max, from/to and sign.",
            )

    def _check_reachable(
        self, models: list[RuleModel], rules: tuple[Rule, ...], base: tuple[Any, ...]
    ) -> None:
        """A rule is unreachable when an earlier rule, using only plain values and lists,
        accepts every row the later one could accept."""
        for j, later in enumerate(models):
            for i in range(j):
                if _covers(models[i].when, later.when):
                    self.problem(
                        f"rule {rules[j].name!r} can never match: rule {rules[i].name!r} "
                        "before it matches every row it would",
                        (*base, "rules", j),
                        "move it above that rule, or narrow the earlier rule.",
                    )
                    break


def _covers(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    if not earlier:
        return True
    for name, spec in earlier.items():
        if isinstance(spec, dict) or name not in later:
            return False
        mine = set(spec) if isinstance(spec, list) else {spec}
        theirs = later[name]
        if isinstance(theirs, dict):
            return False
        theirs_set = set(theirs) if isinstance(theirs, list) else {theirs}
        if not theirs_set <= mine:
            return False
    return True


def _field_meant(field: str, spec: Any, schema: Schema) -> tuple[str | None, str]:
    """(the field `field` most likely means, a clause saying why), or (None, "")."""
    import difflib

    names = [*schema.fields, *schema.amounts, "date"]
    folded = " ".join(field.casefold().replace("_", " ").split())
    column = _columns(schema).get(folded)
    if column is not None:
        return column[0], f"bokfor reads a bank's column {column[1]!r} into `{column[0]}`"
    close = difflib.get_close_matches(folded.replace(" ", "_"), names, n=1, cutoff=0.75)
    if close:
        return close[0], f"did you mean `{close[0]}`?"
    values = spec.values() if isinstance(spec, dict) else spec if isinstance(spec, list) else [spec]
    texts = [str(v) for v in values if v is not None]
    if isinstance(spec, dict) and any(op in spec for op in ("min", "max", "sign")) and schema.money:
        return schema.money, f"the amount is `{schema.money}`"
    if (
        isinstance(spec, dict)
        and any(op in spec for op in ("from", "to"))
        or texts
        and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in texts)
    ):
        return "date", "the date is `date`"
    if texts and all(re.fullmatch(r"-?\d+([.,]\d{1,2})?", t) for t in texts) and schema.money:
        return schema.money, f"the amount you wrote is in `{schema.money}`"
    if schema.free_text and texts:
        return schema.free_text, f"the text you wrote is in `{schema.free_text}`"
    return None, ""


def _columns(schema: Schema) -> dict[str, tuple[str, str]]:
    """A bank export's column names (folded) -> (the field of a bank row bokfor reads it
    into, the column as banks write it), from the built-in net-bank layouts: what a user who
    copies the file's header writes."""
    if not schema.bank_accounts:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for profile in BUILTIN:
        if profile.width is not None:  # a file without a header: its columns have no names
            continue
        for role, columns in profile.columns.items():
            if role in schema.fields or role in schema.amounts or role == "date":
                for column in columns:
                    title = profile.column_titles.get(column, column)
                    out.setdefault(
                        " ".join(column.casefold().replace("_", " ").split()), (role, title)
                    )
    return out


def _field_list(schema: Schema) -> str:
    names = sorted([*schema.fields, *schema.amounts, "date"])
    names += [f"{prefix}<key>" for prefix in schema.open_prefixes]
    return ", ".join(names)


def _norm_rate(rate: str) -> str:
    whole, _, frac = rate.partition(".")
    frac = frac.rstrip("0")
    return f"{int(whole)}.{frac}" if frac else str(int(whole))
