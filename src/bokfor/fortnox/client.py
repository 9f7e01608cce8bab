"""The Fortnox REST API v3, as much of it as bokfor needs.

* Every request first takes a token from the rate limiter (see ratelimit.py).
* GETs are retried on 429, 5xx and transport failures with jittered exponential backoff,
  a bounded number of times.
* A POST is **never retried blindly**. When Fortnox certainly did not act on it (the
  connection could not be opened, a 401 before a token refresh, a 429) it is sent again;
  when it may have acted (a timeout or dropped connection after sending, any 5xx) the client
  raises `UncertainPost`, and the caller reconciles with `find_by_key` before anything else.
* Errors are `FortnoxError`s carrying Fortnox's code and message and bokfor's hint. No
  message, exception or log record contains a token: requests are described by method and
  path only, and httpx exceptions are not chained.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Protocol

from bokfor.fortnox.batch import KEY_PREFIX, to_json
from bokfor.fortnox.errors import FortnoxError, FortnoxUnavailable, UncertainPost

if TYPE_CHECKING:  # imported where a client is made: a run that never calls Fortnox
    import httpx  # does not pay its import (issue 22)

log = logging.getLogger("bokfor.fortnox")

DEFAULT_BASE_URL = "https://api.fortnox.se"
PAGE_LIMIT = 500
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class TokenProvider(Protocol):
    def __call__(self) -> str: ...


class Limiter(Protocol):
    def acquire(self) -> float: ...


# --- what the registers hold -------------------------------------------------------------


@dataclass(frozen=True)
class FinancialYear:
    id: int
    start: dt.date
    end: dt.date
    accounting_method: str | None = None

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class VoucherSeries:
    code: str
    description: str = ""
    manual: bool = True
    year: int | None = None


@dataclass(frozen=True)
class Account:
    number: int
    description: str = ""
    active: bool = True
    cost_center_settings: str | None = None  # ALLOWED / MANDATORY / NOTALLOWED
    project_settings: str | None = None
    transaction_information_settings: str | None = None  # only from GET /3/accounts/{n}
    year: int | None = None


@dataclass(frozen=True)
class CostCenter:
    code: str
    description: str = ""
    active: bool = True


@dataclass(frozen=True)
class Project:
    number: str
    description: str = ""
    status: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class ListedVoucher:
    series: str
    number: int
    year: int | None
    date: dt.date | None
    description: str
    comments: str | None = None

    @property
    def key(self) -> str | None:
        words = self.description.split()
        return words[-1] if words and words[-1].startswith(KEY_PREFIX) else None


@dataclass(frozen=True)
class CompanyInformation:
    """Whose books the token opens (`GET /3/companyinformation`)."""

    name: str
    orgnr: str  # as Fortnox writes it (556677-8899, 5566778899, ...); '' when unset
    database_number: int | None = None  # the TenantId


class PostedVoucher(NamedTuple):
    series: str
    number: int
    year: int | None


# --- the client --------------------------------------------------------------------------


class FortnoxClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token_provider: TokenProvider | Callable[[], str] | None = None,
        limiter: Limiter | None = None,
        timeout: float = 30.0,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        min_429_wait: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if token_provider is None:
            raise ValueError("a token provider is required")
        import httpx

        from bokfor.fortnox.ratelimit import TokenBucket

        self.token_provider = token_provider
        self.limiter = limiter if limiter is not None else TokenBucket()
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.min_429_wait = min_429_wait
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "bokfor"},
            transport=transport,
            follow_redirects=False,
        )
        self.requests = 0  # requests sent, for reports and tests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "FortnoxClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FortnoxClient({str(self._http.base_url)!r})"

    # the company

    def company(self) -> CompanyInformation:
        """The company the token belongs to (scope `companyinformation`)."""
        data = self._get_json("/3/companyinformation", {}, "the company information")
        info = data.get("CompanyInformation") or {}
        number = info.get("DatabaseNumber")
        return CompanyInformation(
            str(info.get("CompanyName") or ""),
            str(info.get("OrganizationNumber") or ""),
            int(str(number)) if str(number or "").isdigit() else None,
        )

    # registers

    def financial_years(self) -> list[FinancialYear]:
        return [
            FinancialYear(
                int(y["Id"]), _date(y["FromDate"]), _date(y["ToDate"]), y.get("AccountingMethod")
            )
            for y in self._list("/3/financialyears", "FinancialYears")
        ]

    def voucher_series(self, year_id: int | None = None) -> list[VoucherSeries]:
        return [
            VoucherSeries(
                s["Code"], s.get("Description") or "", bool(s.get("Manual", False)), s.get("Year")
            )
            for s in self._list("/3/voucherseries", "VoucherSeriesCollection", _year(year_id))
        ]

    def accounts(self, year_id: int | None = None) -> list[Account]:
        return [_account(a) for a in self._list("/3/accounts", "Accounts", _year(year_id))]

    def account(self, number: int | str, year_id: int | None = None) -> Account:
        data = self._get_json(f"/3/accounts/{int(number)}", _year(year_id), "the account")
        return _account(data.get("Account", {}))

    def cost_centers(self) -> list[CostCenter]:
        return [
            CostCenter(c["Code"], c.get("Description") or "", c.get("Active", True) is not False)
            for c in self._list("/3/costcenters", "CostCenters")
        ]

    def projects(self) -> list[Project]:
        return [
            Project(
                str(p.get("ProjectNumber", "")),
                p.get("Description") or "",
                p.get("Status"),
                _opt_date(p.get("StartDate")),
                _opt_date(p.get("EndDate")),
            )
            for p in self._list("/3/projects", "Projects")
        ]

    def locked_period(self) -> dt.date | None:
        """The last locked day (company settings), None when nothing is locked."""
        data = self._get_json("/3/settings/lockedperiod", {}, "the locked period")
        return _opt_date((data.get("LockedPeriod") or {}).get("EndDate"))

    # vouchers

    def post_voucher(self, body: Mapping[str, Any], *, year_id: int | None = None) -> PostedVoucher:
        """Create a voucher; returns (series, number, year). Raises UncertainPost when the
        outcome is unknown, FortnoxError when Fortnox refused it (nothing was booked)."""
        content = to_json(body).encode("utf-8")
        response = self._send(
            "POST",
            "/3/vouchers",
            _year(year_id),
            content=content,
            what="the voucher",
            body=body,
            year_id=year_id,
        )
        voucher = _json(response).get("Voucher") or {}
        try:
            return PostedVoucher(
                str(voucher["VoucherSeries"]),
                int(voucher["VoucherNumber"]),
                int(voucher["Year"]) if voucher.get("Year") is not None else year_id,
            )
        except (KeyError, TypeError, ValueError):
            raise UncertainPost(
                "Fortnox accepted the voucher but its answer names no voucher number",
                hint="look the voucher up by its bokfor key before posting again.",
                status=response.status_code,
                path="/3/vouchers",
                **_post_context(body, year_id),
            ) from None

    def voucher(self, series: str, number: int, year_id: int | None = None) -> dict[str, Any]:
        """One voucher with its rows, as Fortnox returns it."""
        data = self._get_json(
            f"/3/vouchers/{_segment(series)}/{int(number)}", _year(year_id), "the voucher"
        )
        return data.get("Voucher", {})

    def vouchers_on(
        self, day: dt.date, series: str | None = None, *, year_id: int | None = None
    ) -> list[ListedVoucher]:
        """The vouchers dated `day` (in `series`, when given). Lists carry no rows."""
        params = {**_year(year_id), "fromdate": day.isoformat(), "todate": day.isoformat()}
        path = f"/3/vouchers/sublist/{_segment(series)}" if series else "/3/vouchers"
        out = []
        for v in self._list(path, "Vouchers", params):
            date = _opt_date(v.get("TransactionDate"))
            if date is not None and date != day:
                continue  # in case the filter is ignored
            if series and v.get("VoucherSeries") not in (None, series):
                continue
            out.append(
                ListedVoucher(
                    str(v.get("VoucherSeries", series or "")),
                    int(v.get("VoucherNumber", 0)),
                    v.get("Year"),
                    date,
                    str(v.get("Description") or ""),
                    v.get("Comments"),
                )
            )
        return out

    def find_by_key(
        self, key: str, day: dt.date, series: str | None = None, *, year_id: int | None = None
    ) -> list[ListedVoucher]:
        """Vouchers of `day` whose Description ends in bokfor key `key`: after an
        UncertainPost, one means it was booked, none that it was not."""
        return [v for v in self.vouchers_on(day, series, year_id=year_id) if v.key == key]

    def sie4(self, year_id: int | None = None) -> bytes:
        """`GET /3/sie/4`: the year's SIE 4 export (CP437 bytes, as Fortnox sends them)."""
        params = {"financialYear": year_id} if year_id is not None else {}
        return self._send("GET", "/3/sie/4", params, what="the SIE export", accept="*/*").content

    # transport

    def _list(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._get_json(
                path, {**(params or {}), "limit": PAGE_LIMIT, "page": page}, f"the list {path}"
            )
            chunk = data.get(key) or []
            items.extend(chunk)
            meta = data.get("MetaInformation") or {}
            try:
                pages = int(meta.get("@TotalPages", 1))
            except (TypeError, ValueError):
                pages = 1
            if page >= pages or not chunk:
                return items
            page += 1

    def _get_json(self, path: str, params: Mapping[str, Any], what: str) -> dict[str, Any]:
        return _json(self._send("GET", path, params, what=what))

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        *,
        what: str,
        content: bytes | None = None,
        body: Mapping[str, Any] | None = None,
        year_id: int | None = None,
        accept: str | None = None,
    ) -> httpx.Response:
        import httpx

        post = method != "GET"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            headers = {"Authorization": f"Bearer {self.token_provider()}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            if accept:
                headers["Accept"] = accept
            self.requests += 1
            try:
                response = self._http.request(
                    method, path, params=dict(params), content=content, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached Fortnox: safe to try again, POST included.
                reason = _reason(exc)
                if attempt < self.max_attempts:
                    self._backoff(attempt, method, path, reason)
                    continue
                raise FortnoxUnavailable(
                    f"cannot reach Fortnox ({reason}) for {method} {path}",
                    hint="check the network connection and try again; nothing was booked.",
                    path=path,
                ) from None
            except httpx.TransportError as exc:
                reason = _reason(exc)
                if post:
                    raise UncertainPost(
                        f"no answer from Fortnox to {method} {path} ({reason}): the voucher "
                        "may or may not have been booked",
                        hint="bokfor looks it up by its bokfor key before posting again; "
                        "do not post it by hand.",
                        path=path,
                        **_post_context(body, year_id),
                    ) from None
                if attempt < self.max_attempts:
                    self._backoff(attempt, method, path, reason)
                    continue
                raise FortnoxUnavailable(
                    f"no answer from Fortnox to {method} {path} ({reason}) after "
                    f"{attempt} attempts",
                    hint="try again later.",
                    path=path,
                ) from None
            status = response.status_code
            log.debug("%s %s -> %s (attempt %d)", method, path, status, attempt)
            if status < 400:
                return response
            if status == 401 and not refreshed and hasattr(self.token_provider, "invalidate"):
                # Refused before anything was done: refresh the token, send once more.
                refreshed = True
                self.token_provider.invalidate()
                attempt -= 1
                continue
            if status == 429:
                penalize = getattr(self.limiter, "penalize", None)
                if penalize:
                    penalize()
            if status in RETRY_STATUSES:
                if post and status != 429:
                    raise UncertainPost(
                        f"Fortnox answered HTTP {status} to {method} {path}: the voucher may "
                        "or may not have been booked",
                        hint="bokfor looks it up by its bokfor key before posting again.",
                        status=status,
                        path=path,
                        **_post_context(body, year_id),
                    )
                if attempt < self.max_attempts:
                    self._backoff(attempt, method, path, f"HTTP {status}", status == 429)
                    continue
                raise FortnoxUnavailable.from_response(status, path, _json_or_none(response), what)
            raise FortnoxError.from_response(status, path, _json_or_none(response), what)

    def _backoff(
        self, attempt: int, method: str, path: str, reason: str, rate_limited: bool = False
    ) -> None:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never 0
        if rate_limited:
            delay = max(delay, self.min_429_wait + self._rng.uniform(0, 0.5))
        log.info(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
            method,
            path,
            reason,
            delay,
            attempt + 1,
            self.max_attempts,
        )
        self._sleep(delay)


# --- helpers -----------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    return type(exc).__name__


def _year(year_id: int | None) -> dict[str, Any]:
    return {"financialyear": year_id} if year_id is not None else {}


def _segment(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(str(text)[:10])


def _opt_date(text: Any) -> dt.date | None:
    if not text:
        return None
    try:
        return _date(text)
    except ValueError:
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    data = _json_or_none(response)
    if not isinstance(data, dict):
        raise FortnoxError(
            f"Fortnox sent an answer that is not JSON (HTTP {response.status_code})",
            hint="try again later; if it persists, Fortnox may be down.",
            status=response.status_code,
            path=response.request.url.path,
        )
    return data


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def _account(a: Mapping[str, Any]) -> Account:
    return Account(
        int(a.get("Number", 0)),
        a.get("Description") or "",
        a.get("Active", True) is not False,
        a.get("CostCenterSettings"),
        a.get("ProjectSettings"),
        a.get("TransactionInformationSettings"),
        a.get("Year"),
    )


def _post_context(body: Mapping[str, Any] | None, year_id: int | None) -> dict[str, Any]:
    voucher = (body or {}).get("Voucher", {}) if body else {}
    return {
        "description": voucher.get("Description"),
        "transaction_date": voucher.get("TransactionDate"),
        "series": voucher.get("VoucherSeries"),
        "year_id": year_id,
        "key": _key_in(voucher.get("Description")),
    }


def _key_in(description: Any) -> str | None:
    words = str(description or "").split()
    return words[-1] if words and words[-1].startswith(KEY_PREFIX) else None
