"""Push vouchers to Fortnox through the API, exactly once.

Fortnox has no idempotency key and no way to delete a voucher, so the export ledger does
the bookkeeping, per voucher (docs/ledger.md, "Pushing to Fortnox"):

1. record the voucher **pending** (its bokfor key, date, series, year id and exact body) and
   commit, before anything is sent;
2. `POST /3/vouchers?financialyear=<Id>`;
3. record it **posted** with Fortnox's (series, number, year), and its rows as exported, in
   one transaction.

The key carries the export (`key_context`): after `bokfor ledger forget` of a push, its
vouchers stay in Fortnox with their keys, and a later push of the same rows must not take
them for its own when it settles.

Whose books: every client made for a mapping first reads the company from Fortnox
(`check_company`) and refuses another company's organisation number, before anything is
looked up, settled or posted; a mapping without `company.orgnr` cannot talk to Fortnox.

A POST is never sent twice blindly. When its outcome is unknown (a timeout, a dropped
connection, a 5xx: `UncertainPost`) the voucher is looked up by its bokfor key among the
vouchers of its date (`find_by_key`): one match -> posted; none -> posted again (same key);
several -> stop and ask the user. A crash leaves pending records; every later run that
reads the ledger settles them first the same way (`settle`), except that "none" drops the
record, so its rows are planned and posted again as new.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from bokfor import faults
from bokfor.domain import Company, Notice, Voucher
from bokfor.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BokforError, MappingError
from bokfor.fortnox.batch import to_json, voucher_body, voucher_key
from bokfor.fortnox.client import (
    DEFAULT_BASE_URL,
    CompanyInformation,
    FortnoxClient,
    PostedVoucher,
    TokenProvider,
)
from bokfor.fortnox.errors import FortnoxError, FortnoxUnavailable, UncertainPost
from bokfor.fortnox.preflight import Problem, Registers, check, year_ids
from bokfor.ledger import NO_TRAIL, PUSH, Ledger, RowRecord, Trail
from bokfor.plan import Plan
from bokfor.sie.model import SieDocument

ENV_URL = "BOKFOR_FORTNOX_URL"
ENV_TOKEN_URL = "BOKFOR_FORTNOX_TOKEN_URL"
ENV_TIMEOUT = "BOKFOR_FORTNOX_TIMEOUT"
ENV_RECONCILE_DELAY = "BOKFOR_FORTNOX_RECONCILE_DELAY"
ENV_RATE_LIMIT = "BOKFOR_FORTNOX_RATE_LIMIT"
RECONCILE_DELAY = 10.0  # seconds between an uncertain POST and looking for it
POST_ATTEMPTS = 3  # posts of one voucher whose outcome stayed unknown and was not found


class PreflightError(BokforError):
    """Fortnox would refuse some vouchers: every problem is listed, nothing was posted."""

    exit_code = EXIT_BAD_INPUT


class AmbiguousPush(BokforError):
    """Fortnox holds more than one voucher with one bokfor key: a person must decide."""

    exit_code = EXIT_BAD_INPUT


class OrgnrMissing(MappingError):
    """The mapping names no organisation number: bokfor cannot tell whose books a token
    opens, so it does not talk to Fortnox for it."""


class CompanyMismatch(BokforError):
    """The credentials open another company's books than the mapping's."""

    exit_code = EXIT_BAD_INPUT


class PushInterrupted(BokforError):
    """The push stopped with vouchers whose outcome is unknown; the next run settles them."""

    exit_code = EXIT_FAILURE


# --- configuration -----------------------------------------------------------------------


def base_url() -> str:
    """Fortnox's API ($BOKFOR_FORTNOX_URL): https only, but for a server on this machine."""
    from bokfor.fortnox.auth import https_only

    return https_only(os.environ.get(ENV_URL) or DEFAULT_BASE_URL, ENV_URL)


def default_token_file() -> Path:
    """Where `bokfor fortnox login` keeps credentials: $FORTNOX_TOKEN_FILE, else
    $XDG_CONFIG_HOME/bokfor/fortnox.json (~/.config/bokfor/fortnox.json)."""
    from bokfor.fortnox.auth import ENV_TOKEN_FILE

    if os.environ.get(ENV_TOKEN_FILE):
        return Path(os.environ[ENV_TOKEN_FILE])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "bokfor" / "fortnox.json"


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def rate_limit() -> int:
    """The requests per 5 s bokfor paces itself to ($BOKFOR_FORTNOX_RATE_LIMIT): Fortnox's 25
    unless set lower, for another program sharing the client id, or higher, for a local fake
    (tests: a killed push should not spend seconds waiting for tokens). At least 3, the
    fewest a bucket with a token of margin can pace."""
    from bokfor.fortnox.ratelimit import FORTNOX_REQUESTS

    try:
        return max(3, int(os.environ.get(ENV_RATE_LIMIT) or FORTNOX_REQUESTS))
    except ValueError:
        return FORTNOX_REQUESTS


def token_provider(token_file: Path | None = None) -> TokenProvider:
    from bokfor.fortnox.auth import TOKEN_URL, from_env

    path = token_file or default_token_file()
    return from_env(
        token_file=path if path.exists() or token_file else None,
        looked_in=path,
        token_url=os.environ.get(ENV_TOKEN_URL) or TOKEN_URL,
    )


def make_client(token_file: Path | None = None) -> FortnoxClient:
    """The client the environment describes: credentials (from_env or the token file), the
    base URL ($BOKFOR_FORTNOX_URL) and the rate limiter (24 requests per 5 s: `rate_limit`)."""
    from bokfor.fortnox.ratelimit import TokenBucket

    return FortnoxClient(
        base_url(),
        token_provider(token_file),
        TokenBucket.for_window(rate_limit()),
        timeout=_float_env(ENV_TIMEOUT, 30.0),
    )


# --- whose books ---------------------------------------------------------------------------


def orgnr_digits(text: str) -> str | None:
    """The 10 digits of a Swedish organisationsnummer however it is written (556677-8899,
    5566778899, with the century prefix 16 Skatteverket gives legal persons, or a sole
    trader's 12-digit personnummer); None when it is not a valid number."""
    from stdnum.se import orgnr

    number = orgnr.compact(text or "").replace("+", "")
    if len(number) == 12 and number[:2] in ("16", "18", "19", "20"):
        number = number[2:]
    return number if orgnr.is_valid(number) else None


def require_orgnr(orgnr: str | None, mapping_path: Path) -> str:
    """The mapping's organisation number; a push must know whose books it writes."""
    if not orgnr:
        raise OrgnrMissing(
            "the mapping names no organisation number, so bokfor cannot check whose books "
            "the Fortnox credentials open; nothing was posted",
            file=str(mapping_path),
            key="company.orgnr",
            hint="add `orgnr: NNNNNN-NNNN` (the company's organisationsnummer, as Fortnox shows "
            "it) under company: in the mapping.",
        )
    return orgnr


def check_company(
    client: FortnoxClient, mapping: Company, mapping_path: Path
) -> CompanyInformation:
    """Refuse credentials that open another company's books than the mapping's
    (`GET /3/companyinformation`): a wrong token file in a loop over clients would post one
    client's vouchers into another's Fortnox."""
    ours = require_orgnr(mapping.orgnr, mapping_path)
    company = client.company()
    theirs = orgnr_digits(company.orgnr)
    if theirs is not None and theirs == orgnr_digits(ours):
        return company
    source = getattr(client.token_provider, "source", None) or "the Fortnox credentials"
    name = company.name or "a company without a name"
    if theirs is None:
        raise CompanyMismatch(
            f"the Fortnox company {name} (credentials: {source}) has no valid organisation "
            f"number ({company.orgnr!r}), so bokfor cannot check that it is the mapping's "
            f"company {mapping.name}, {ours}; nothing was posted or recorded",
            file=str(mapping_path),
            key="company.orgnr",
            hint="enter the organisationsnummer in the company's settings in Fortnox, or use "
            f"the credentials of {ours}.",
        )
    from stdnum.se import orgnr as se_orgnr

    raise CompanyMismatch(
        f"the Fortnox credentials ({source}) are for {name}, {se_orgnr.format(theirs)}, not "
        f"for the mapping's company {mapping.name}, {ours}; nothing was posted or recorded",
        file=str(mapping_path),
        key="company.orgnr",
        hint=f"use the credentials of {ours} (the token file `bokfor fortnox login "
        "--token-file FILE` wrote for that company, given as --token-file or "
        "$FORTNOX_TOKEN_FILE), or correct company.orgnr in the mapping if it is the wrong "
        "number.",
    )


# --- pre-flight --------------------------------------------------------------------------


def preflight(
    vouchers: Sequence[Voucher],
    registers: Registers,
    *,
    where: str,
    allow_new_accounts: bool = False,
) -> None:
    """Raise PreflightError listing every problem at once."""
    problems = check(vouchers, registers)
    if allow_new_accounts:
        problems = [p for p in problems if p.kind != "account-missing"]
    if problems:
        raise problems_error(problems, where)


def problems_error(problems: list[Problem], where: str) -> PreflightError:
    n = len(problems)
    return PreflightError(
        f"pre-flight against {where}: {n} problem{'s' if n > 1 else ''} Fortnox would refuse; "
        "nothing was posted or written",
        hint="fix each problem below (in Fortnox or in the mapping) and run again.",
        details=[f"  {i}. [{p.kind}] {p}" for i, p in enumerate(problems, start=1)],
    )


# --- bodies ------------------------------------------------------------------------------


@dataclass
class Outgoing:
    voucher: Voucher
    records: list[RowRecord]
    key: str
    series: str
    year_id: int | None
    body: dict[str, Any]
    text: str  # to_json(body): exactly what is posted and recorded


def key_context(export_id: int) -> str:
    """What makes a push's keys its own: the export id, which SQLite (AUTOINCREMENT) never
    hands out twice in one ledger, also after `ledger forget` deleted the export."""
    return f"push {export_id}"


def bodies(
    plan: Plan, registers: Registers | None, notices: list[Notice] | None, *, context: str = ""
) -> list[Outgoing]:
    """The POST bodies of the plan's vouchers, keyed with `context` (`key_context` of the
    push; a dry run, which posts nothing, has none)."""
    ids = year_ids(plan.to_write, registers) if registers is not None else {}
    out = []
    for i, v in enumerate(plan.to_write):
        key = voucher_key(v, context=context)
        year_id = ids.get(v.date)
        body = voucher_body(v, key=key, series=v.series, year_id=year_id, notices=notices)
        out.append(Outgoing(v, plan.records_of(i), key, v.series, year_id, body, to_json(body)))
    seen: dict[str, Voucher] = {}
    for item in out:
        other = seen.setdefault(item.key, item.voucher)
        if other is not item.voucher:
            raise BokforError(
                f"two vouchers of the push have the same key {item.key} "
                f"({item.voucher.date} {item.voucher.text!r})",
                hint="this is a bug in bokfor: report it.",
            )
    return out


# --- settling what a crash left ------------------------------------------------------------


def settle(ledger: Ledger, client: Callable[[], FortnoxClient]) -> list[Notice]:
    """Settle pushes an interrupted run left pending (the caller holds the lock). Each pending
    voucher is looked up in Fortnox by its key: found once -> posted; not found -> dropped
    (its rows are new again and the next push posts them); found more than once -> stop."""
    notices: list[Notice] = []
    pending = ledger.pushes(state="pending")
    if pending:
        api = client()
        for p in pending:
            found = api.find_by_key(p.key, p.date, p.series, year_id=p.year_id)
            if len(found) == 1:
                f = found[0]
                ledger.push_posted(
                    p.voucher_id, f.series, f.number, f.year if f.year is not None else p.year_id
                )
                notices.append(
                    Notice(
                        f"an interrupted push had booked {p.key} ({p.date}) as {f.series} "
                        f"{f.number}; recorded as posted",
                        file=str(ledger.path),
                    )
                )
            elif not found:
                ledger.push_dropped(p.voucher_id)
                notices.append(
                    Notice(
                        f"an interrupted push never booked {p.key} ({p.date}); its rows are new "
                        "again",
                        file=str(ledger.path),
                    )
                )
            else:
                raise ambiguous(p.key, p.date, found, ledger)
    for export in ledger.exports():
        if export.kind == PUSH and export.state == "pending":
            ledger.finish_push(export.id)
    return notices


def ambiguous(key: str, day: dt.date, found: Iterable[Any], ledger: Ledger) -> AmbiguousPush:
    names = ", ".join(f"{f.series} {f.number}" for f in found)
    return AmbiguousPush(
        f"Fortnox holds several vouchers with bokfor key {key} on {day}: {names}",
        file=str(ledger.path),
        hint="someone posted it by hand or another program sent it again. Reverse the "
        f"extra ones in Fortnox, then record the one that counts: `bokfor ledger settle {key} "
        "SERIES NUMBER`.",
    )


# --- the push ----------------------------------------------------------------------------


@dataclass
class PushResult:
    export_id: int | None
    posted: list[tuple[Outgoing, PostedVoucher]] = field(default_factory=list)
    reconciled: int = 0  # uncertain posts found in Fortnox afterwards
    seconds: float = 0.0
    requests: int = 0


class Pusher:
    """Posts a planned, pre-flighted list of vouchers, recording each in the ledger."""

    def __init__(
        self,
        client: FortnoxClient,
        ledger: Ledger,
        mapping_path: Path,
        *,
        reconcile_delay: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.mapping_path = mapping_path
        self.reconcile_delay = (
            _float_env(ENV_RECONCILE_DELAY, RECONCILE_DELAY)
            if reconcile_delay is None
            else reconcile_delay
        )
        self._sleep = sleep
        self._clock = clock

    def push(
        self,
        plan: Plan,
        registers: Registers | None,
        notices: list[Notice] | None = None,
        trail: Trail = NO_TRAIL,
    ) -> PushResult:
        """Begin the push's export (recording `trail`), build the bodies with keys of this
        export (replaced characters go to `notices`), then post them one by one."""
        start, requests = self._clock(), self.client.requests
        dates = [v.date for v in plan.to_write]
        export_id = self.ledger.begin_push(
            mapping=self.mapping_path,
            target=f"fortnox:{_base(self.client)}/3/vouchers",
            first=min(dates) if dates else None,
            last=max(dates) if dates else None,
            trail=trail,
            skipped=plan.spool.skipped(),
        )
        result = PushResult(export_id)
        try:
            items = bodies(plan, registers, notices, context=key_context(export_id))
            for seq, item in enumerate(items):
                faults.point("push-before-pending")
                vid = self.ledger.push_pending(
                    export_id,
                    seq,
                    item.voucher,
                    item.records,
                    key=item.key,
                    series=item.series,
                    year_id=item.year_id,
                    body=item.text,
                )
                faults.point("push-after-pending")
                try:
                    posted = self._post(item, result)
                except (FortnoxUnavailable, UncertainPost) as exc:
                    if (
                        isinstance(exc, FortnoxUnavailable)
                        and not isinstance(exc, UncertainPost)
                        and exc.path == "/3/vouchers"
                    ):
                        self.ledger.push_dropped(vid)  # certainly not sent
                        raise self._stopped(exc, result, len(items)) from None
                    raise self._interrupted(exc, result, len(items)) from None
                except AmbiguousPush:
                    raise
                except FortnoxError as exc:  # refused: nothing was booked
                    self.ledger.push_dropped(vid)
                    raise self._stopped(exc, result, len(items), item) from None
                faults.point("push-after-post")
                self.ledger.push_posted(
                    vid,
                    posted.series,
                    posted.number,
                    posted.year if posted.year is not None else item.year_id,
                )
                faults.point("push-after-posted")
                result.posted.append((item, posted))
        except BokforError as exc:
            # How far the push got, for a caller that files the inputs (bokfor run): the
            # vouchers before the one that stopped it are posted and recorded.
            exc.posted = len(result.posted)  # type: ignore[attr-defined]
            exc.where = _base(self.client)  # type: ignore[attr-defined]
            raise
        finally:
            if not self.ledger.finish_push(export_id):
                result.export_id = None
            result.seconds = self._clock() - start
            result.requests = self.client.requests - requests
        return result

    def _post(self, item: Outgoing, result: PushResult) -> PostedVoucher:
        """POST; when the outcome is unknown, look the voucher up before sending it again."""
        uncertain: UncertainPost | None = None
        for _ in range(POST_ATTEMPTS):
            try:
                return self.client.post_voucher(item.body, year_id=item.year_id)
            except UncertainPost as exc:
                uncertain = exc
            self._sleep(self.reconcile_delay)  # a slow Fortnox may still be committing it
            found = self.client.find_by_key(
                item.key, item.voucher.date, item.series, year_id=item.year_id
            )
            if len(found) == 1:
                result.reconciled += 1
                f = found[0]
                return PostedVoucher(
                    f.series, f.number, f.year if f.year is not None else item.year_id
                )
            if found:
                raise ambiguous(item.key, item.voucher.date, found, self.ledger)
            # Not there: it was not booked, so the same body (same key) goes again.
        assert uncertain is not None
        raise uncertain

    def _stopped(
        self, exc: FortnoxError, result: PushResult, total: int, item: Outgoing | None = None
    ) -> FortnoxError:
        done = len(result.posted)
        which = f" ({item.voucher.date} {item.voucher.text!r}, {item.key})" if item else ""
        exc.details = [
            *exc.details,
            f"  voucher {done + 1} of {total}{which} was not booked; {done} posted "
            "before it are recorded in the ledger, the rest were not sent",
        ]
        return exc

    def _interrupted(self, exc: FortnoxError, result: PushResult, total: int) -> PushInterrupted:
        done = len(result.posted)
        return PushInterrupted(
            f"{exc.message}; the push stopped after {done} of {total} vouchers",
            file=str(self.ledger.path),
            hint="run `bokfor push` again when Fortnox answers: it first looks up the "
            "voucher whose outcome is unknown (by its bokfor key) and never books it twice.",
        )


def _base(client: FortnoxClient) -> str:
    return str(client._http.base_url).rstrip("/")  # private: for the ledger's target


# --- the books from Fortnox ----------------------------------------------------------------


def fortnox_books(client: FortnoxClient, plan: Plan) -> SieDocument:
    """The books as SIE 4 from `GET /3/sie/4` for the year of the plan's vouchers."""
    from bokfor.sie.reader import parse

    day = min(v.date for v in plan.to_write)
    year = next((y for y in client.financial_years() if y.covers(day)), None)
    if year is None:
        raise FortnoxError(
            f"Fortnox has no financial year covering {day}",
            hint="create the financial year in Fortnox, or compare with a "
            "SIE file: --books FILE.se.",
        )
    return parse(client.sie4(year.id), f"fortnox:/3/sie/4?financialYear={year.id}").document


# --- a push job, as `bokfor push` and `bokfor run` carry it out ----------------------------


def prepare(
    job: Any, client: Callable[[], FortnoxClient], plan: Plan, where: str
) -> Registers | None:
    """Refuse a plan that must not be posted, then pre-flight every voucher against
    Fortnox's registers (client(): the company is checked first); None: nothing new."""
    from bokfor.convert import check_plan
    from bokfor.fortnox.preflight import fetch_registers

    check_plan(plan, correct=job.correct, allow_new_accounts=False)
    job.refuse_doubtful(plan)
    if not plan.to_write:
        return None
    registers = fetch_registers(client(), plan.to_write)
    preflight(plan.to_write, registers, where=where)
    return registers


def push_plan(
    job: Any,
    client: Callable[[], FortnoxClient],
    plan: Plan,
    state: tuple[int, int, int, int],
    registers: Registers,
    where: str,
    warn: Callable[[list[Notice]], None],
) -> PushResult | None:
    """Post a prepared plan under the ledger's lock: settle interrupted pushes, plan again
    if another run exported meanwhile, then post; None when that leaves nothing new."""
    with Ledger.lock(job.ledger_path, job.wait):
        book = Ledger.open(job.ledger_path, write=True)
        try:
            job.notices.clear()
            job.settle_all(book)
            warn(job.notices)
            if book.state() != state:  # another run exported meanwhile: plan again
                plan = job._plan(book)
                again = prepare(job, client, plan, where)
                if again is None:
                    return None
                registers = again
            notices: list[Notice] = []
            try:  # the bodies are made once the push's export (in their keys) exists
                return Pusher(client(), book, job.mapping_path).push(
                    plan, registers, notices, plan.trail(job.mapping, job.command)
                )
            finally:
                warn(notices)
        finally:
            book.close()
