"""Access tokens for the Fortnox API.

Two ways, in this order of preference:

1. **Client credentials** (service account): client id, client secret and the company's
   TenantId give a fresh 1-hour access token whenever needed; no refresh token to keep.
2. **Refresh token** (authorization-code flow): each refresh returns a *new* refresh token and
   kills the old one, so the rotated token is saved before it is used, atomically, under a
   file lock, in a file only its owner can read (mode 0600). A second process waiting on the
   lock re-reads the file and uses what the first one saved instead of refreshing again.

Secrets come from environment variables (FORTNOX_CLIENT_ID, FORTNOX_CLIENT_SECRET,
FORTNOX_TENANT_ID, FORTNOX_REFRESH_TOKEN) or the token file. No `repr`, `str`, exception or
log record shows a secret: they are held in `Secret`, which prints as '***'.

A token file that group or others may read or write is refused, not fixed: the secret in it
may already have been read, and only its owner can judge that (and rotate it). A secret is
sent only over https: an http:// token or API URL is refused, except to this machine
(127.0.0.1, ::1, localhost), where the tests' fake Fortnox listens.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import httpx
from filelock import FileLock, Timeout

from bokfor.errors import EXIT_BAD_INPUT
from bokfor.fileio import open_nowait
from bokfor.fortnox.errors import FortnoxAuthError, FortnoxCredentialsMissing

log = logging.getLogger("bokfor.fortnox.auth")

TOKEN_URL = "https://apps.fortnox.se/oauth-v1/token"
EXPIRY_MARGIN = 120.0  # seconds before expiry at which a token counts as expired

ENV_CLIENT_ID = "FORTNOX_CLIENT_ID"
ENV_CLIENT_SECRET = "FORTNOX_CLIENT_SECRET"
ENV_TENANT_ID = "FORTNOX_TENANT_ID"
ENV_REFRESH_TOKEN = "FORTNOX_REFRESH_TOKEN"
ENV_TOKEN_FILE = "FORTNOX_TOKEN_FILE"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})  # plain http allowed (tests)


@dataclass
class UnsafeCredentials(FortnoxAuthError):
    """A token file others may read, or a URL that would send a secret in clear text: a
    setup mistake, refused before any secret is used."""

    exit_code = EXIT_BAD_INPUT


def https_only(url: str, what: str) -> str:
    """`url`, when a secret may be sent to it: https, or http to this machine."""
    parts = urllib.parse.urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:  # a malformed netloc ("[::1")
        host = None
    if host and (parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)):
        return url
    shown = f"{parts.scheme}://{host}" if parts.scheme and host else repr(url)
    raise UnsafeCredentials(
        f"{what} {shown} is not an https:// URL: bokfor sends Fortnox tokens and the client "
        "secret only encrypted",
        hint="use https:// (plain http:// only to this machine, "
        "127.0.0.1, ::1 or localhost, as for a test server).",
    )


class Secret:
    """A string that never shows itself: repr and str are '***'; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # no pickling a secret into some cache by accident
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class AccessToken:
    value: Secret
    expires_at: float  # on the provider's clock

    def __repr__(self) -> str:
        return f"AccessToken(value=***, expires_at={self.expires_at:.0f})"

    __str__ = __repr__


def _basic(client_id: str, client_secret: Secret) -> str:
    raw = f"{client_id}:{client_secret.reveal()}".encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


class _Provider:
    """Common part: a cached access token, handed out until shortly before it expires.
    `source` says where the credentials came from, for messages (never a secret)."""

    source = "the Fortnox credentials"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret | str,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.token_url = https_only(token_url, "the Fortnox token URL")
        self.client_id = client_id
        self.client_secret = Secret(client_secret)
        self._clock = clock
        self._timeout = timeout
        self._transport = transport
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.token_requests = 0

    def __call__(self) -> str:
        with self._lock:
            token = self._token
            if token is None or token.expires_at - EXPIRY_MARGIN <= self._clock():
                token = self._token = self._fetch()
            return token.value.reveal()

    def invalidate(self) -> None:
        """Forget the cached access token (Fortnox said 401): the next call gets a new one."""
        with self._lock:
            self._token = None

    def _fetch(self) -> AccessToken:
        raise NotImplementedError

    def _request(
        self, form: Mapping[str, str], extra_headers: Mapping[str, str], secrets: list[str]
    ) -> dict[str, Any]:
        headers = {
            "Authorization": _basic(self.client_id, self.client_secret),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **extra_headers,
        }
        secrets = [
            s for s in [*secrets, self.client_secret.reveal(), headers["Authorization"][6:]] if s
        ]
        self.token_requests += 1
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as http:
                response = http.post(self.token_url, data=dict(form), headers=headers)
        except httpx.TransportError as exc:
            raise FortnoxAuthError(
                f"cannot reach the Fortnox token endpoint ({type(exc).__name__})",
                hint="check the network connection and try again.",
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if (
            response.status_code != 200
            or not isinstance(data, dict)
            or not data.get("access_token")
        ):
            error = description = None
            if isinstance(data, dict):
                error = data.get("error")
                description = data.get("error_description") or data.get("message")
            detail = ": ".join(str(x) for x in (error, description) if x)
            raise FortnoxAuthError(
                _scrub(
                    f"Fortnox refused the token request (HTTP {response.status_code}"
                    f"{', ' + detail if detail else ''})",
                    secrets,
                ),
                hint=self.refusal_hint(),
                status=response.status_code,
                fortnox_message=_scrub(detail, secrets) or None,
            )
        log.debug(
            "new access token from %s (expires in %s s)", self.token_url, data.get("expires_in")
        )
        return data

    def refusal_hint(self) -> str:
        return "check the client id and secret."

    def _token_from(self, data: Mapping[str, Any]) -> AccessToken:
        try:
            expires_in = float(data.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        return AccessToken(Secret(data["access_token"]), self._clock() + expires_in)


class ClientCredentials(_Provider):
    """Service-account tokens: `grant_type=client_credentials` with the TenantId.

    The TenantId is sent as a `TenantId` header (as the Fortnox page describes it) and, in
    case the endpoint reads the form instead, as `tenant_id` in the body."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret | str,
        tenant_id: str,
        *,
        token_url: str = TOKEN_URL,
        **kwargs: Any,
    ) -> None:
        super().__init__(token_url, client_id, client_secret, **kwargs)
        self.tenant_id = str(tenant_id)
        self.source = f"TenantId {self.tenant_id}"

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, tenant_id={self.tenant_id!r})"

    def _fetch(self) -> AccessToken:
        data = self._request(
            {"grant_type": "client_credentials", "tenant_id": self.tenant_id},
            {"TenantId": self.tenant_id},
            [],
        )
        return self._token_from(data)

    def refusal_hint(self) -> str:
        return (
            "check FORTNOX_CLIENT_ID, FORTNOX_CLIENT_SECRET and FORTNOX_TENANT_ID, and that "
            "a system administrator authorized the app as a service account "
            "(account_type=service)."
        )


_TOKEN_BYTES = 1 << 20  # the most of a token file read: bokfor writes a few hundred bytes


class TokenStore:
    """The token file: JSON, written atomically, mode 0600, read and changed under a lock
    (`<file>.lock`) so two bokfor runs never both spend the same refresh token."""

    def __init__(self, path: Path, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> dict[str, Any]:
        try:
            with os.fdopen(open_nowait(self.path), "rb") as fh:  # a FIFO is never waited on
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise FortnoxAuthError(
                        "the token file is not a regular file",
                        file=str(self.path),
                        hint="move it away and `bokfor fortnox login` again.",
                    )
                _check_private(fh.fileno(), self.path)
                text = fh.read(_TOKEN_BYTES + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise FortnoxAuthError(
                f"cannot read the token file: {exc.strerror}", file=str(self.path)
            ) from None
        try:
            if len(text) > _TOKEN_BYTES:  # a few hundred bytes are written: not this
                raise ValueError("too large")
            data = json.loads(text)  # bytes: UTF-8 (or -16/-32); not text is not JSON either
        except (ValueError, RecursionError):  # RecursionError: nested past json's depth
            raise FortnoxAuthError(
                "the token file is not valid JSON",
                file=str(self.path),
                hint="delete it and authorize bokfor again.",
            ) from None
        return data if isinstance(data, dict) else {}

    def save(self, data: Mapping[str, Any]) -> None:
        _write_private(self.path, (json.dumps(dict(data), indent=2) + "\n").encode("utf-8"))


def _check_private(fd: int, path: Path) -> None:
    """Refuse a token file group or others may read or write (as ssh refuses a private key
    they can read): the client secret and refresh token in it are the keys to the books."""
    if os.name == "nt":  # no Unix mode bits: the ACL is the user profile's
        return
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o077:
        raise UnsafeCredentials(
            f"the token file can be read or written by group or others (mode {mode:04o})",
            file=str(path),
            hint=f"`chmod 600 {path}`; if others could read it, also make a "
            "new client secret in Fortnox's developer portal and `bokfor fortnox login` again.",
        )


def _write_private(path: Path, data: bytes) -> None:
    """Atomic write of a file only its owner may read or write (0600), whatever the umask."""
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class RefreshToken(_Provider):
    """Authorization-code tokens, refreshed with the rotating refresh token in `store`."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret | str,
        store: TokenStore,
        *,
        token_url: str = TOKEN_URL,
        initial_refresh_token: Secret | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(token_url, client_id, client_secret, **kwargs)
        self.store = store
        self.source = f"the token file {store.path}"
        self._initial = Secret(initial_refresh_token) if initial_refresh_token else None

    def __repr__(self) -> str:
        return f"RefreshToken(client_id={self.client_id!r}, store={self.store!r})"

    def _fetch(self) -> AccessToken:
        try:
            with self.store.lock:
                saved = self.store.load()
                # Another run may have refreshed while we waited: use its access token.
                access = saved.get("access_token")
                expires_at = saved.get("expires_at")
                if (
                    access
                    and isinstance(expires_at, (int, float))
                    and expires_at - EXPIRY_MARGIN > self._clock()
                    and not self._is_current(access)
                ):
                    return AccessToken(Secret(access), float(expires_at))
                refresh = saved.get("refresh_token") or (
                    self._initial.reveal() if self._initial else None
                )
                if not refresh:
                    raise FortnoxAuthError(
                        "no Fortnox refresh token: neither the token file nor "
                        f"{ENV_REFRESH_TOKEN} holds one",
                        file=str(self.store.path),
                        hint="authorize bokfor in Fortnox (or use a service account with "
                        f"{ENV_TENANT_ID}).",
                    )
                data = self._request(
                    {"grant_type": "refresh_token", "refresh_token": refresh}, {}, [refresh]
                )
                token = self._token_from(data)
                new_refresh = data.get("refresh_token") or refresh
                # Save before use: the old refresh token is dead from this moment.
                self.store.save(
                    {
                        **saved,
                        "refresh_token": new_refresh,
                        "access_token": token.value.reveal(),
                        "expires_at": token.expires_at,
                    }
                )
                self._initial = None
                return token
        except Timeout:
            raise FortnoxAuthError(
                "another bokfor run holds the token file lock",
                file=str(self.store.path),
                hint="wait for it to finish and try again.",
            ) from None

    def _is_current(self, access: str) -> bool:
        """The saved access token is the one Fortnox just refused (after invalidate)."""
        return self._refused is not None and self._refused == access

    _refused: str | None = None

    def invalidate(self) -> None:
        with self._lock:
            if self._token is not None:
                self._refused = self._token.value.reveal()
            self._token = None

    def refusal_hint(self) -> str:
        return (
            "the refresh token was already used or has expired (it lives 45 days); "
            "authorize bokfor in Fortnox again (access_type=offline)."
        )


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def from_env(
    environ: Mapping[str, str] | None = None,
    *,
    token_file: Path | None = None,
    token_url: str = TOKEN_URL,
    looked_in: Path | None = None,
    **kwargs: Any,
) -> _Provider:
    """The token provider the environment and token file describe: client credentials when
    a tenant id is known, else the refresh-token flow. Environment variables win over the
    file's `client_id`, `client_secret`, `tenant_id`. `looked_in`: the token file to name
    when there is none (the default one `bokfor fortnox login` writes)."""
    env = os.environ if environ is None else environ
    path = token_file or (Path(env[ENV_TOKEN_FILE]) if env.get(ENV_TOKEN_FILE) else None)
    saved = TokenStore(path).load() if path else {}
    client_id = env.get(ENV_CLIENT_ID) or saved.get("client_id")
    client_secret = env.get(ENV_CLIENT_SECRET) or saved.get("client_secret")
    tenant_id = env.get(ENV_TENANT_ID) or saved.get("tenant_id")
    if not client_id or not client_secret:
        unset = " and ".join(n for n in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not env.get(n))
        where = path or looked_in
        file = (
            "no token file is named"
            if where is None
            else f"the token file {where} holds none"
            if where.exists()
            else f"there is no token file {where}"
        )
        raise FortnoxCredentialsMissing(
            f"no Fortnox client credentials: {unset} {'are' if ' and ' in unset else 'is'} "
            f"not set, and {file}",
            hint="run `bokfor fortnox login` once on a terminal (it "
            f"checks them and saves them{f' in {where}' if where else ''}), or set "
            f"{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (and {ENV_TENANT_ID} for a service "
            f"account); --token-file or ${ENV_TOKEN_FILE} names another token file.",
        )
    if tenant_id:
        provider = ClientCredentials(
            client_id, client_secret, tenant_id, token_url=token_url, **kwargs
        )
        provider.source = (
            f"TenantId {tenant_id} from ${ENV_TENANT_ID}, which wins over any token file"
            if env.get(ENV_TENANT_ID)
            else f"the token file {path}, TenantId {tenant_id}"
        )
        return provider
    if path is None:
        raise FortnoxCredentialsMissing(
            "the refresh-token flow needs a token file to keep the rotated token in",
            hint=f"set {ENV_TOKEN_FILE}, or {ENV_TENANT_ID} to use a service account.",
        )
    return RefreshToken(
        client_id,
        client_secret,
        TokenStore(path),
        token_url=token_url,
        initial_refresh_token=env.get(ENV_REFRESH_TOKEN),
        **kwargs,
    )
