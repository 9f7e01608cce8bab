"""A local Fortnox: the parts of API v3 and the token endpoint bokfor uses, on a real socket.

It keeps the company (name and organisation number, `GET /3/companyinformation`; by default
556677-8899, the number of the example mappings), financial years, voucher series (manual flag, numbering per series and year),
accounts per year (active flag, cost-centre / project / transaction-information settings),
cost centres, projects and a locked period, and refuses vouchers the way Fortnox does, with
Fortnox's error body (`ErrorInformation`, in lower- or upper-case keys) and codes:

| refusal | code |
|---|---|
| disallowed character | 2000359 (documented) |
| account not found | 2001304 (documented) |
| locked period | 2000401 (documented) |
| inactive account, series not manual, series missing, no financial year, cost centre or project required / unknown, unbalanced | undocumented: FAKE_CODES below, with the Swedish messages seen in the field |

Rate limit: 25 requests per 5 s per access token, a sliding window on an injectable clock,
answered with 429. Fault injection (`inject`): HTTP 500, a response dropped after the voucher
was committed (or before), slow responses, and `expire_tokens()` for 401s. The token endpoint
speaks client credentials (with TenantId) and rotating refresh tokens.

Use it through the pytest fixture `fortnox_fake` (import it into a test module).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import secrets as _secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-Zq8x"
# Every secret the fakes of this test run handed out: tests/conftest.py fails any test whose
# output (stdout, stderr, log, failure text) shows one of them.
SECRETS: set[str] = {CLIENT_SECRET}
TENANT_ID = "1234567"

FAKE_CODES = {  # not documented by Fortnox: placeholders, the messages carry the meaning
    "inactive": 9900001,
    "series-not-manual": 9900002,
    "series-missing": 9900003,
    "year-missing": 9900004,
    "cost-centre": 9900005,
    "project": 9900006,
    "unbalanced": 9900007,
    "row": 9900008,
}

# Fortnox's documented whitelist (formats-and-encoding page), ASCII apostrophe excluded.
_SYMBOLS = set(
    " \u2013:.`\u00b4\u2019,;^\u00a4#%\u00a7\u00a3$\u20ac\u00a2\u00a5\u00a9\u2122\u00b0&/()=+-*_!?"
    "\u00b2\u00b3\u00ae\u00bd@\\\u00a0\u0308\u030a\n\r"
)


class VirtualClock:
    """Time that passes only when someone sleeps: the fake's rate-limit window and bokfor's
    token bucket both run on it, so a 200-voucher push takes simulated, not real, minutes."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def text_allowed(text: str) -> bool:
    return all(c.isalpha() or "0" <= c <= "9" or c in _SYMBOLS for c in text)


class Refusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Fault:
    action: str  # "500", "drop-after-commit", "drop-before-commit", "slow", "401", "error"
    method: str
    path: str
    times: int = 1
    delay: float = 0.0
    status: int = 400  # "error": answer this status with this code and message
    code: int = 0
    message: str = ""


@dataclass
class Token:
    value: str
    expires_at: float


@dataclass
class FortnoxFake:
    clock: Callable[[], float] = time.monotonic
    limit: int = 25
    window: float = 5.0
    error_casing: str = "lower"  # or "upper": Error/Message/Code
    token_lifetime: float = 3600.0
    company_name: str = "Fakebolaget AB"
    orgnr: str = "556677-8899"  # the mappings' company.orgnr: set another to test a mismatch

    years: list[dict[str, Any]] = field(default_factory=list)
    series: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    accounts: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    cost_centers: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    locked_until: dt.date | None = None
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # every token ever handed out

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._server: ThreadingHTTPServer | None = None
        self._base_url = ""
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> "FortnoxFake":
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self._base_url = f"http://{host}:{port}"
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth-v1/token"

    # --- setting up a company ------------------------------------------------------------

    def add_year(self, year_id: int, start: str, end: str) -> None:
        self.years.append(
            {"Id": year_id, "FromDate": start, "ToDate": end, "AccountingMethod": "ACCRUAL"}
        )
        self.series.setdefault(year_id, {})
        self.accounts.setdefault(year_id, {})

    def add_series(
        self, code: str, manual: bool = True, description: str = "", years: list[int] | None = None
    ) -> None:
        for y in years or [y["Id"] for y in self.years]:
            self.series[y][code] = {
                "Code": code,
                "Description": description or code,
                "Manual": manual,
                "NextVoucherNumber": 1,
                "Year": y,
            }

    def add_account(
        self,
        number: int,
        description: str = "",
        *,
        active: bool = True,
        cost_center: str = "ALLOWED",
        project: str = "ALLOWED",
        transaction_information: str = "ALLOWED",
        years: list[int] | None = None,
    ) -> None:
        for y in years or [y["Id"] for y in self.years]:
            self.accounts[y][number] = {
                "Number": number,
                "Description": description or f"Konto {number}",
                "Active": active,
                "CostCenterSettings": cost_center,
                "ProjectSettings": project,
                "TransactionInformationSettings": transaction_information,
                "QuantitySettings": "ALLOWED",
                "VATCode": "",
                "SRU": 0,
                "Year": y,
            }

    def add_cost_center(self, code: str, active: bool = True) -> None:
        self.cost_centers[code] = {
            "Code": code,
            "Description": f"KS {code}",
            "Active": active,
            "Note": "",
        }

    def add_project(self, number: str, status: str = "ONGOING") -> None:
        self.projects[number] = {
            "ProjectNumber": number,
            "Description": f"Projekt {number}",
            "Status": status,
            "StartDate": "2025-01-01",
            "EndDate": "",
        }

    @classmethod
    def standard(cls, **kwargs: Any) -> "FortnoxFake":
        """A small company: years 2025 (Id 1) and 2026 (Id 2); series A (manual) and F (not
        manual); a few accounts with different settings; cost centres; a project; the
        period up to 2025-06-30 locked."""
        fake = cls(**kwargs)
        fake.add_year(1, "2025-01-01", "2025-12-31")
        fake.add_year(2, "2026-01-01", "2026-12-31")
        fake.add_series("A", True, "Redovisning")
        fake.add_series("F", False, "Kassa")
        for number, name in [
            (1930, "Företagskonto"),
            (1580, "Fordran Stripe"),
            (3001, "Försäljning 25 %"),
            (2611, "Utgående moms 25 %"),
            (6570, "Bankkostnader"),
        ]:
            fake.add_account(number, name)
        fake.add_account(6571, "Gammalt konto", active=False)
        fake.add_account(5010, "Lokalhyra", cost_center="MANDATORY")
        fake.add_account(4010, "Inköp projekt", project="MANDATORY")
        fake.add_account(1510, "Kundfordringar", transaction_information="MANDATORY")
        fake.add_account(2650, "Momsredovisning", cost_center="NOTALLOWED")
        fake.add_cost_center("CAFE1")
        fake.add_cost_center("OLD", active=False)
        fake.add_project("P12")
        fake.locked_until = dt.date(2025, 6, 30)
        return fake

    # --- tokens and faults ---------------------------------------------------------------

    def issue_token(self) -> str:
        with self._lock:
            value = "at-" + _secrets.token_hex(16)
            self.issued.append(value)
            SECRETS.add(value)
            self.tokens[value] = Token(value, self.clock() + self.token_lifetime)
            return value

    def issue_refresh_token(self) -> str:
        with self._lock:
            value = "rt-" + _secrets.token_hex(16)
            self.issued.append(value)
            SECRETS.add(value)
            self.refresh_tokens.add(value)
            return value

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def inject(
        self,
        action: str,
        method: str = "POST",
        path: str = "/3/vouchers",
        times: int = 1,
        delay: float = 0.0,
        *,
        status: int = 400,
        code: int = 0,
        message: str = "",
    ) -> None:
        with self._lock:
            self.faults.append(Fault(action, method, path, times, delay, status, code, message))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def count(self, method: str, path: str, status: int | None = None) -> int:
        return sum(
            1
            for m, p, s in self.log
            if m == method and p == path and (status is None or s == status)
        )

    @property
    def rate_limited(self) -> int:
        return sum(1 for _, _, s in self.log if s == 429)

    # --- the API -------------------------------------------------------------------------

    def error(self, status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
        if self.error_casing == "upper":
            return status, {"ErrorInformation": {"Error": 1, "Message": message, "Code": code}}
        return status, {"ErrorInformation": {"error": 1, "message": message, "code": code}}

    def check_token(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            token = self.tokens.get(header[7:])
            return token is not None and token.expires_at > self.clock()

    def over_limit(self, token: str) -> bool:
        with self._lock:
            now = self.clock()
            hits = self._hits[token]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            hits.append(now)
            return len(hits) > self.limit

    def year(self, query: dict[str, str], date: str | None = None) -> dict[str, Any] | None:
        if "financialyear" in query:
            return next((y for y in self.years if str(y["Id"]) == query["financialyear"]), None)
        if date:
            return next((y for y in self.years if y["FromDate"] <= date <= y["ToDate"]), None)
        return self.years[-1] if self.years else None

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if method == "GET":
            if parts == ["3", "companyinformation"]:
                return 200, {
                    "CompanyInformation": {
                        "Address": "Storgatan 1",
                        "City": "Stockholm",
                        "CompanyName": self.company_name,
                        "CountryCode": "SE",
                        "DatabaseNumber": int(TENANT_ID),
                        "OrganizationNumber": self.orgnr,
                        "VisitAddress": "",
                        "VisitCity": "",
                        "VisitCountryCode": "",
                        "VisitZipCode": "",
                        "ZipCode": "111 22",
                    }
                }
            if parts == ["3", "financialyears"]:
                return 200, self.page("FinancialYears", self.years, query)
            if parts[:2] == ["3", "financialyears"] and len(parts) == 3:
                y = next((y for y in self.years if str(y["Id"]) == parts[2]), None)
                return (200, {"FinancialYear": y}) if y else self.error(404, 2000588, "Not found")
            if parts == ["3", "voucherseries"]:
                y = self.year(query)
                items = (
                    [
                        {k: v for k, v in s.items() if k != "NextVoucherNumber"}
                        for s in self.series.get(y["Id"], {}).values()
                    ]
                    if y
                    else []
                )
                return 200, self.page("VoucherSeriesCollection", items, query)
            if parts == ["3", "accounts"]:
                y = self.year(query)
                keep = (
                    "Number",
                    "Description",
                    "Active",
                    "CostCenterSettings",
                    "ProjectSettings",
                    "VATCode",
                    "SRU",
                    "Year",
                )  # what the list has
                items = (
                    [{k: a[k] for k in keep} for a in self.accounts.get(y["Id"], {}).values()]
                    if y
                    else []
                )
                return 200, self.page("Accounts", items, query)
            if parts[:2] == ["3", "accounts"] and len(parts) == 3:
                y = self.year(query)
                a = self.accounts.get(y["Id"], {}).get(int(parts[2])) if y else None
                if a is None:
                    return self.error(404, 2001304, "Kunde inte hitta konto")
                return 200, {"Account": a}
            if parts == ["3", "costcenters"]:
                return 200, self.page("CostCenters", list(self.cost_centers.values()), query)
            if parts == ["3", "projects"]:
                return 200, self.page("Projects", list(self.projects.values()), query)
            if parts == ["3", "settings", "lockedperiod"]:
                end = self.locked_until.isoformat() if self.locked_until else ""
                return 200, {"LockedPeriod": {"EndDate": end}}
            if parts[:2] == ["3", "vouchers"]:
                return self.list_vouchers(parts, query)
            if parts == ["3", "sie", "4"]:
                return 200, self.sie4(query)
        if method == "POST" and parts == ["3", "vouchers"]:
            return self.post_voucher(query, body)
        return self.error(404, 2000762, "No such route")

    def page(self, key: str, items: list[Any], query: dict[str, str]) -> dict[str, Any]:
        limit = max(1, min(500, int(query.get("limit", 100))))
        page = max(1, int(query.get("page", 1)))
        pages = max(1, -(-len(items) // limit))
        chunk = items[(page - 1) * limit : page * limit]
        return {
            "MetaInformation": {
                "@TotalResources": len(items),
                "@TotalPages": pages,
                "@CurrentPage": page,
            },
            key: chunk,
        }

    def list_vouchers(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        if len(parts) == 4 and parts[2] != "sublist":  # /3/vouchers/{S}/{N}
            y = self.year(query)
            for v in self.vouchers:
                if (
                    v["VoucherSeries"] == parts[2]
                    and str(v["VoucherNumber"]) == parts[3]
                    and y
                    and v["Year"] == y["Id"]
                ):
                    return 200, {"Voucher": v}
            return self.error(404, 2000588, "Verifikationen hittades inte")
        series = parts[3] if len(parts) == 4 else None
        y = self.year(query)
        items = []
        for v in self.vouchers:
            if y and v["Year"] != y["Id"]:
                continue
            if series and v["VoucherSeries"] != series:
                continue
            if "fromdate" in query and v["TransactionDate"] < query["fromdate"]:
                continue
            if "todate" in query and v["TransactionDate"] > query["todate"]:
                continue
            # The list carries no rows and (as seen in clients) no Comments.
            items.append(
                {
                    k: v[k]
                    for k in (
                        "@url",
                        "Description",
                        "TransactionDate",
                        "VoucherNumber",
                        "VoucherSeries",
                        "Year",
                        "ReferenceType",
                        "ApprovalState",
                    )
                }
            )
        return 200, self.page("Vouchers", items, query)

    def sie4(self, query: dict[str, str]) -> bytes:
        y = self.year({"financialyear": query["financialYear"]} if "financialYear" in query else {})
        if y is None:
            return b""
        d = lambda s: s.replace("-", "")  # noqa: E731
        lines = [
            "#FLAGGA 0",
            '#PROGRAM "Fortnox fake" 1.0',
            "#FORMAT PC8",
            f"#GEN {dt.date.today():%Y%m%d}",
            "#SIETYP 4",
            '#FNAMN "Fakebolaget AB"',
            f"#RAR 0 {d(y['FromDate'])} {d(y['ToDate'])}",
        ]
        for a in self.accounts[y["Id"]].values():
            lines.append(f'#KONTO {a["Number"]} "{a["Description"]}"')
        for v in self.vouchers:
            if v["Year"] != y["Id"]:
                continue
            text = v["Description"].replace('"', "")
            lines.append(
                f'#VER {v["VoucherSeries"]} {v["VoucherNumber"]} {d(v["TransactionDate"])} "{text}"'
            )
            lines.append("{")
            for r in v["VoucherRows"]:
                value = Decimal(str(r.get("Debit", 0))) - Decimal(str(r.get("Credit", 0)))
                lines.append(f"#TRANS {r['Account']} {{}} {value:.2f}")
            lines.append("}")
        return ("\r\n".join(lines) + "\r\n").encode("cp437", "replace")

    def post_voucher(self, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body, parse_float=Decimal)
        except ValueError:
            return self.error(400, 2002115, "Felaktig JSON")
        v = data.get("Voucher") if isinstance(data, dict) else None
        if not isinstance(v, dict):
            return self.error(400, 2001392, "Tom eller felaktig body")
        try:
            with self._lock:
                voucher = self.validate(v, query)
                s = self.series[voucher["Year"]][voucher["VoucherSeries"]]
                voucher["VoucherNumber"] = s["NextVoucherNumber"]
                s["NextVoucherNumber"] += 1
                voucher["@url"] = (
                    f"{self.base_url}/3/vouchers/{voucher['VoucherSeries']}/"
                    f"{voucher['VoucherNumber']}?financialyear={voucher['Year']}"
                )
                self.vouchers.append(voucher)
        except Refusal as r:
            return self.error(r.status, r.code, r.message)
        return 201, {"Voucher": voucher}

    def validate(self, v: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        for name in ("Description", "Comments"):
            if name in v and not text_allowed(str(v[name])):
                raise Refusal(400, 2000359, f"Värdet innehåller ej tillåtna tecken. ({v[name]})")
        description = v.get("Description")
        if not description or len(description) > 200:
            raise Refusal(400, FAKE_CODES["row"], "Beskrivning saknas eller är för lång")
        date = str(v.get("TransactionDate") or "")
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise Refusal(400, FAKE_CODES["row"], f"Ogiltigt datum {date}") from None
        year = self.year(query, date)
        if year is None or not (year["FromDate"] <= date <= year["ToDate"]):
            raise Refusal(
                400, FAKE_CODES["year-missing"], f"Det finns inget räkenskapsår för datumet {date}"
            )
        code = v.get("VoucherSeries")
        s = self.series.get(year["Id"], {}).get(code)
        if s is None:
            raise Refusal(400, FAKE_CODES["series-missing"], "Ogiltig verifikationsserie angiven")
        if not s["Manual"]:
            raise Refusal(
                400,
                FAKE_CODES["series-not-manual"],
                f"Verifikationsserien är inte manuell ({code})",
            )
        if self.locked_until is not None and day <= self.locked_until:
            raise Refusal(
                400, 2000401, f"Administratör har låst perioden t.o.m. {self.locked_until}"
            )
        rows = v.get("VoucherRows") or []
        if len(rows) < 2:
            raise Refusal(400, FAKE_CODES["row"], "En verifikation måste ha minst två rader")
        debit = credit = Decimal(0)
        for r in rows:
            a = self.accounts[year["Id"]].get(r.get("Account"))
            if a is None:
                raise Refusal(400, 2001304, f"Kunde inte hitta konto {r.get('Account')}")
            if not a["Active"]:
                raise Refusal(400, FAKE_CODES["inactive"], f'Konto "{a["Number"]}" är inte aktivt')
            if "TransactionInformation" in r and (
                not text_allowed(str(r["TransactionInformation"]))
            ):
                raise Refusal(
                    400,
                    2000359,
                    f"Värdet innehåller ej tillåtna tecken. ({r['TransactionInformation']})",
                )
            if len(str(r.get("TransactionInformation", ""))) > 100:
                raise Refusal(400, FAKE_CODES["row"], "Transaktionsinformation är för lång")
            cc, pr = r.get("CostCenter"), r.get("Project")
            if a["CostCenterSettings"] == "MANDATORY" and not cc:
                raise Refusal(
                    400,
                    FAKE_CODES["cost-centre"],
                    f"Kostnadsställe är obligatoriskt för konto {a['Number']}",
                )
            if a["CostCenterSettings"] == "NOTALLOWED" and cc:
                raise Refusal(
                    400,
                    FAKE_CODES["cost-centre"],
                    f"Kostnadsställe är inte tillåtet för konto {a['Number']}",
                )
            if cc and (cc not in self.cost_centers or not self.cost_centers[cc]["Active"]):
                raise Refusal(400, FAKE_CODES["cost-centre"], f"Kostnadsställe {cc} finns inte")
            if a["ProjectSettings"] == "MANDATORY" and not pr:
                raise Refusal(
                    400, FAKE_CODES["project"], f"Projekt är obligatoriskt för konto {a['Number']}"
                )
            if pr and pr not in self.projects:
                raise Refusal(400, FAKE_CODES["project"], f"Projekt {pr} finns inte")
            if a["TransactionInformationSettings"] == "MANDATORY" and not r.get(
                "TransactionInformation"
            ):
                raise Refusal(
                    400,
                    FAKE_CODES["row"],
                    f"Transaktionsinformation är obligatorisk för konto {a['Number']}",
                )
            d, c = r.get("Debit", Decimal(0)), r.get("Credit", Decimal(0))
            for value in (d, c):
                if (
                    not isinstance(value, (Decimal, int))
                    or isinstance(value, bool)
                    or value < 0
                    or Decimal(value) != Decimal(value).quantize(Decimal("0.01"))
                ):
                    raise Refusal(400, FAKE_CODES["row"], f"Ogiltigt belopp {value}")
            if (d == 0) == (c == 0):
                raise Refusal(400, FAKE_CODES["row"], "Ange antingen debet eller kredit")
            debit += d
            credit += c
        if debit != credit:
            raise Refusal(
                400,
                FAKE_CODES["unbalanced"],
                f"Verifikationen är inte i balans (debet {debit}, kredit {credit})",
            )
        out = {
            k: v[k]
            for k in (
                "Description",
                "TransactionDate",
                "VoucherSeries",
                "Comments",
                "CostCenter",
                "Project",
            )
            if k in v
        }
        out["VoucherRows"] = [
            {
                "Account": r["Account"],
                "Debit": r.get("Debit", Decimal(0)),
                "Credit": r.get("Credit", Decimal(0)),
                "TransactionInformation": r.get("TransactionInformation", ""),
                "CostCenter": r.get("CostCenter", ""),
                "Project": r.get("Project", ""),
                "Removed": False,
            }
            for r in rows
        ]
        out.update(Year=year["Id"], ReferenceType="MANUAL", ApprovalState=0)
        return out

    # --- the token endpoint --------------------------------------------------------------

    def token(self, headers: Any, body: bytes) -> tuple[int, Any]:
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8")))
        with self._lock:
            self.token_requests.append({"grant_type": form.get("grant_type", "")})
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"error": "invalid_client", "error_description": "Invalid client"}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            tenant = headers.get("TenantId") or form.get("tenant_id")
            if tenant != TENANT_ID:
                return 400, {
                    "error": "invalid_request",
                    "error_description": "No consent for tenant",
                }
            return 200, {
                "access_token": self.issue_token(),
                "scope": "bookkeeping",
                "expires_in": int(self.token_lifetime),
                "token_type": "bearer",
            }
        if grant == "refresh_token":
            with self._lock:
                old = form.get("refresh_token", "")
                if old not in self.refresh_tokens:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "Invalid refresh token: already used or expired",
                    }
                self.refresh_tokens.discard(old)
                new = self.issue_refresh_token()
            return 200, {
                "access_token": self.issue_token(),
                "refresh_token": new,
                "scope": "bookkeeping",
                "expires_in": int(self.token_lifetime),
                "token_type": "bearer",
            }
        return 400, {"error": "unsupported_grant_type"}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # only in the fake's answers; bokfor parses them as Decimal
    raise TypeError(type(value).__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FortnoxFake

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every answer on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def handle_any(self, method: str) -> None:
        fake = self.fake
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/oauth-v1/token" and method == "POST":
            status, payload = fake.token(self.headers, body)
            return self.reply(method, path, status, payload)
        auth = self.headers.get("Authorization")
        token = auth[7:] if auth and auth.startswith("Bearer ") else ""
        if token and fake.over_limit(token):
            return self.reply(method, path, 429, {"message": "Too Many Requests"})
        if not fake.check_token(auth):
            status, payload = fake.error(
                401, 2000311, "Kan inte logga in, access-token eller client-secret saknas (2)."
            )
            return self.reply(method, path, status, payload)
        fault = fake._take_fault(method, path)
        if fault and fault.action == "slow":
            time.sleep(fault.delay)
        if fault and fault.action == "500":
            return self.reply(method, path, 500, {"message": "Internal Server Error"})
        if fault and fault.action == "error":
            status, payload = fake.error(fault.status, fault.code, fault.message)
            return self.reply(method, path, status, payload)
        if fault and fault.action == "401":
            status, payload = fake.error(401, 2000311, "Kan inte logga in (2).")
            return self.reply(method, path, status, payload)
        if fault and fault.action == "drop-before-commit":
            return self.drop(method, path)
        status, payload = fake.route(method, path, query, body)
        if fault and fault.action == "drop-after-commit":
            return self.drop(method, path)
        self.reply(method, path, status, payload)

    def drop(self, method: str, path: str) -> None:
        with self.fake._lock:
            self.fake.log.append((method, path, 0))
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reply(self, method: str, path: str, status: int, payload: Any) -> None:
        with self.fake._lock:
            self.fake.log.append((method, path, status))
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        else:
            data = json.dumps(payload, default=_encode, ensure_ascii=False).encode("utf-8")
            ctype = "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout test): nobody to answer
            self.close_connection = True


@pytest.fixture
def fortnox_fake():
    """A running FortnoxFake.standard() on 127.0.0.1 (real socket), stopped afterwards."""
    fake = FortnoxFake.standard().start()
    try:
        yield fake
    finally:
        fake.stop()
