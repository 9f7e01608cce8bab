"""Fortnox errors: what Fortnox said (its code and message) plus bokfor's advice.

Fortnox answers `{"ErrorInformation": {"error": 1, "message": "...", "code": 2000xxx}}`, on
some endpoints with capitalised keys (`Error`/`Message`/`Code`). Codes for several common
voucher failures are not documented anywhere (inactive account, series not manual, missing
financial year, missing cost centre), so advice is found by code first and by the Swedish
message text second. No error text ever contains a token or a client secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bokfor.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BokforError

# Documented codes (shared/notes/fortnox.md §1.4).
CODE_INVALID_CHARACTERS = 2000359
CODE_ACCOUNT_NOT_FOUND = 2001304
CODE_LOCKED_PERIOD = 2000401
CODE_INVALID_CREDENTIALS = 2000310
CODE_MISSING_CREDENTIALS = 2000311
CODE_NO_LICENCE = 2001101
CODE_NO_API_LICENCE = 2001103
CODE_EMPTY_BODY = 2001392
CODE_JSON_SYNTAX = 2002115
CODE_INVALID_PARAMETER = 2000588
CODE_LOCKED_BOOKING = 2002141

HINTS_BY_CODE: dict[int, str] = {
    CODE_INVALID_CHARACTERS: "a text holds a character Fortnox does not allow; bokfor replaces "
    "the known ones, so check the mapping's texts and the source descriptions.",
    CODE_ACCOUNT_NOT_FOUND: "the account does not exist in that financial year in Fortnox; add "
    "it under Inställningar > Bokföring > Kontoplan, or change the account in the mapping.",
    CODE_LOCKED_PERIOD: "the voucher date lies in a locked period; book it in an open period "
    "or ask the administrator to unlock the period in Fortnox.",
    CODE_LOCKED_BOOKING: "booking is blocked because the period is locked; book it in an open "
    "period or unlock the period in Fortnox.",
    CODE_INVALID_CREDENTIALS: "the Fortnox credentials are wrong or revoked; check the client id, "
    "secret and tenant id, or authorize bokfor again.",
    CODE_MISSING_CREDENTIALS: "the access token is missing or expired; bokfor fetches a new one, "
    "so if this persists authorize bokfor again.",
    CODE_NO_LICENCE: "the token lacks a scope bokfor needs (bookkeeping, companyinformation, "
    "costcenter, project, settings); authorize again with those scopes.",
    CODE_NO_API_LICENCE: "the company has no Fortnox API licence for this module.",
}

# Failures whose code is not documented: matched on Fortnox's message (Swedish).
HINTS_BY_MESSAGE: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"inte aktiv", re.I),
        "account-inactive",
        "the account is inactive in that financial year; activate it in Fortnox (Kontoplan) or "
        "use another account in the mapping.",
    ),
    (
        re.compile(r"inte manuell", re.I),
        "series-not-manual",
        "the voucher series does not allow manual booking; allow it under Inställningar > "
        "Bokföring > Verifikationsserier, or choose another series.",
    ),
    (
        re.compile(r"verifikationsserie", re.I),
        "series-missing",
        "the voucher series does not exist in that financial year; create it in Fortnox or "
        "choose an existing series.",
    ),
    (
        re.compile(r"räkenskapsår", re.I),
        "year-missing",
        "no financial year covers the voucher date; create the year in Fortnox first.",
    ),
    (
        re.compile(r"kostnadsställe", re.I),
        "cost-centre",
        "the account requires (or forbids) a cost centre, or the cost centre does not exist; "
        "set dimension 1 in the mapping or fix the account's settings in Fortnox.",
    ),
    (
        re.compile(r"projekt", re.I),
        "project",
        "the account requires (or forbids) a project, or the project does not exist or is not "
        "active on that date; set dimension 6 in the mapping or fix the project in Fortnox.",
    ),
    (
        re.compile(r"balans|debet.*kredit|kredit.*debet", re.I),
        "unbalanced",
        "debit and credit differ; fix the posting rule so every voucher balances.",
    ),
]


def hint_for(code: int | None, message: str | None) -> str | None:
    if code is not None and code in HINTS_BY_CODE:
        return HINTS_BY_CODE[code]
    for pattern, _kind, hint in HINTS_BY_MESSAGE:
        if message and pattern.search(message):
            return hint
    return None


def parse_error_body(data: Any) -> tuple[int | None, str | None]:
    """(code, message) from a Fortnox error body in either key casing; (None, None) if none."""
    if not isinstance(data, dict):
        return None, None
    info = data.get("ErrorInformation") or data.get("errorInformation") or data
    if not isinstance(info, dict):
        return None, None
    lowered = {str(k).lower(): v for k, v in info.items()}
    code = lowered.get("code")
    message = lowered.get("message")
    try:
        code = int(code) if code is not None and str(code).strip() else None
    except (TypeError, ValueError):
        code = None
    return code, (str(message) if message is not None else None)


@dataclass
class FortnoxError(BokforError):
    """Fortnox refused a request. `code` and `fortnox_message` are Fortnox's own; `hint` is
    bokfor's advice; `status` the HTTP status; `path` the API path (never with a token)."""

    code: int | None = None
    fortnox_message: str | None = None
    status: int | None = None
    path: str | None = None

    exit_code = EXIT_BAD_INPUT

    @classmethod
    def from_response(cls, status: int, path: str, data: Any, what: str) -> "FortnoxError":
        code, message = parse_error_body(data)
        text = f"Fortnox refused {what} (HTTP {status}"
        text += f", code {code})" if code is not None else ")"
        if message:
            text += f": {message}"
        return cls(
            text,
            hint=hint_for(code, message),
            code=code,
            fortnox_message=message,
            status=status,
            path=path,
        )


@dataclass
class FortnoxUnavailable(FortnoxError):
    """Fortnox could not be reached or kept failing (5xx, 429, timeouts) after the retries.
    For a POST raised only when the voucher was certainly not sent."""

    exit_code = EXIT_FAILURE


@dataclass
class FortnoxAuthError(FortnoxError):
    """No access token could be had (bad credentials, a refresh token used or expired)."""

    exit_code = EXIT_FAILURE


@dataclass
class FortnoxCredentialsMissing(FortnoxAuthError):
    """No credentials configured at all: a setup mistake, not a failure of Fortnox."""

    exit_code = EXIT_BAD_INPUT


@dataclass
class UncertainPost(FortnoxError):
    """A POST was sent but no answer arrived (timeout, dropped connection, 5xx): the voucher
    may or may not exist in Fortnox. Never retry blindly: look it up by its bokfor key
    (`FortnoxClient.find_by_key`) and retry only when it is certainly absent."""

    description: str | None = None
    transaction_date: str | None = None
    series: str | None = None
    year_id: int | None = None

    exit_code = EXIT_FAILURE
