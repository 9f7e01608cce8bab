"""Tokens: client credentials first, rotating refresh tokens saved atomically under a lock."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from bokfor.fortnox.auth import (
    AccessToken,
    ClientCredentials,
    RefreshToken,
    Secret,
    TokenStore,
    from_env,
)
from bokfor.fortnox.client import FortnoxClient
from bokfor.fortnox.errors import FortnoxAuthError
from bokfor.fortnox.ratelimit import Unlimited
from tests.fortnox_fake import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.fortnox_fake import fortnox_fake  # noqa: F401  (the fixture)


def test_secret_and_token_never_show_themselves():
    s = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(s) + str(s) + f"{s}" + repr([s]) + repr({"k": s})
    assert s.reveal() == "hunter2-very-secret"
    t = AccessToken(s, 123.0)
    assert "hunter2" not in repr(t) + str(t)
    cc = ClientCredentials("id", "hunter2-very-secret", "1")
    assert "hunter2" not in repr(cc) + str(cc) + repr(vars(cc))


def test_client_credentials_token_is_cached_until_expiry(fortnox_fake):
    now = [1000.0]
    auth = ClientCredentials(
        CLIENT_ID, CLIENT_SECRET, TENANT_ID, token_url=fortnox_fake.token_url, clock=lambda: now[0]
    )
    first = auth()
    assert auth() == first and auth.token_requests == 1
    now[0] += 3600 - 60  # inside the expiry margin
    assert auth() != first and auth.token_requests == 2
    auth.invalidate()
    auth()
    assert auth.token_requests == 3


def test_client_credentials_refused_for_wrong_tenant(fortnox_fake):
    auth = ClientCredentials(CLIENT_ID, CLIENT_SECRET, "999", token_url=fortnox_fake.token_url)
    with pytest.raises(FortnoxAuthError) as info:
        auth()
    assert info.value.status == 400 and "service account" in info.value.hint


def test_refresh_token_rotates_and_is_saved_0600(fortnox_fake, tmp_path):
    path = tmp_path / "fortnox-token.json"
    first_refresh = fortnox_fake.issue_refresh_token()
    old_umask = os.umask(0o022)
    try:
        auth = RefreshToken(
            CLIENT_ID,
            CLIENT_SECRET,
            TokenStore(path),
            token_url=fortnox_fake.token_url,
            initial_refresh_token=first_refresh,
        )
        token = auth()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["access_token"] == token and saved["refresh_token"] != first_refresh
    assert saved["refresh_token"] in fortnox_fake.refresh_tokens
    assert first_refresh not in fortnox_fake.refresh_tokens  # the old one is dead
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    # A new process (new provider) uses the saved access token without a refresh.
    again = RefreshToken(
        CLIENT_ID, CLIENT_SECRET, TokenStore(path), token_url=fortnox_fake.token_url
    )
    assert again() == token and again.token_requests == 0
    # After a 401 it refreshes with the rotated token from the file.
    again.invalidate()
    assert again() != token and again.token_requests == 1


def test_concurrent_refreshes_spend_the_refresh_token_once(fortnox_fake, tmp_path):
    path = tmp_path / "t.json"
    TokenStore(path).save({"refresh_token": fortnox_fake.issue_refresh_token()})
    providers = [
        RefreshToken(CLIENT_ID, CLIENT_SECRET, TokenStore(path), token_url=fortnox_fake.token_url)
        for _ in range(6)
    ]
    results, errors = [], []

    def run(p):
        try:
            results.append(p())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert sum(p.token_requests for p in providers) == 1


def test_used_refresh_token_says_authorize_again(fortnox_fake, tmp_path):
    path = tmp_path / "t.json"
    TokenStore(path).save({"refresh_token": "rt-already-used-0000"})
    auth = RefreshToken(
        CLIENT_ID, CLIENT_SECRET, TokenStore(path), token_url=fortnox_fake.token_url
    )
    with pytest.raises(FortnoxAuthError) as info:
        auth()
    assert "already used" in str(info.value) and "authorize" in info.value.hint
    assert "rt-already-used-0000" not in info.value.render()


def test_from_env_prefers_client_credentials(fortnox_fake, tmp_path):
    env = {
        "FORTNOX_CLIENT_ID": CLIENT_ID,
        "FORTNOX_CLIENT_SECRET": CLIENT_SECRET,
        "FORTNOX_TENANT_ID": TENANT_ID,
    }
    auth = from_env(env, token_url=fortnox_fake.token_url)
    assert isinstance(auth, ClientCredentials)
    with FortnoxClient(fortnox_fake.base_url, auth, Unlimited(), 5) as c:
        assert c.locked_period() is not None
    path = tmp_path / "t.json"
    TokenStore(path).save(
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": fortnox_fake.issue_refresh_token(),
        }
    )
    auth = from_env({"FORTNOX_TOKEN_FILE": str(path)}, token_url=fortnox_fake.token_url)
    assert isinstance(auth, RefreshToken) and auth()
    with pytest.raises(FortnoxAuthError):
        from_env({})
    with pytest.raises(FortnoxAuthError):
        from_env({"FORTNOX_CLIENT_ID": "a", "FORTNOX_CLIENT_SECRET": "b"})


def test_each_provider_says_where_its_credentials_came_from(tmp_path):
    """For messages such as "these credentials open another company's books"."""
    creds = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    path = tmp_path / "client-b.json"
    TokenStore(path).save({**creds, "tenant_id": TENANT_ID})
    assert from_env({}, token_file=path).source == f"the token file {path}, TenantId 1234567"
    env = {
        "FORTNOX_CLIENT_ID": CLIENT_ID,
        "FORTNOX_CLIENT_SECRET": CLIENT_SECRET,
        "FORTNOX_TENANT_ID": "7654321",
    }
    assert (
        from_env(env, token_file=path).source
        == "TenantId 7654321 from $FORTNOX_TENANT_ID, which wins over any token file"
    )
    TokenStore(path).save({**creds, "refresh_token": "rt-x"})
    assert from_env({}, token_file=path).source == f"the token file {path}"
    assert ClientCredentials("id", "secret", "42").source == "TenantId 42"
    assert CLIENT_SECRET not in repr(vars(from_env({}, token_file=path)))


# -- credentials on disk and on the wire (issue 19, item 5) ----------------------------------


def _push_with(tmp_path, capsys, monkeypatch, token_file, **env):
    from tests.test_errors import run_cli

    for name in (
        "FORTNOX_CLIENT_ID",
        "FORTNOX_CLIENT_SECRET",
        "FORTNOX_TENANT_ID",
        "FORTNOX_REFRESH_TOKEN",
        "FORTNOX_TOKEN_FILE",
        "BOKFOR_FORTNOX_URL",
        "BOKFOR_FORTNOX_TOKEN_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code, _, err = run_cli(
        [
            "push",
            f"{repo}/samples/stripe/balance_history.csv",
            "-m",
            f"{repo}/mappings/stripe.yaml",
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "--token-file",
            str(token_file),
            "--show",
            "0",
        ],
        capsys,
    )
    return code, err


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602], ids=lambda m: f"{m:04o}")
def test_a_token_file_others_may_read_is_refused_before_use(tmp_path, capsys, monkeypatch, mode):
    """As ssh refuses a private key others can read: the secret may have been read already,
    so it is not quietly fixed; the owner is told, with the command."""
    path = tmp_path / "fortnox.json"
    path.write_text(
        json.dumps(
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant_id": TENANT_ID}
        ),
        encoding="utf-8",
    )
    path.chmod(mode)
    code, err = _push_with(tmp_path, capsys, monkeypatch, path)
    assert (code, err) == (
        2,
        (
            f"bokfor: error: {path}: the token file can be read or written by group or others "
            f"(mode {mode:04o}) Fix: `chmod 600 {path}`; if others could read it, also make a new "
            "client secret in Fortnox's developer portal and `bokfor fortnox login` again.\n"
        ),
    )
    path.chmod(0o600)
    assert TokenStore(path).load()["client_id"] == CLIENT_ID


def test_a_token_file_that_is_not_utf8_json_is_one_message(tmp_path, capsys, monkeypatch):
    """Bytes that are no text (a file written over by another program) are not JSON
    either: one message, not a traceback."""
    path = tmp_path / "fortnox.json"
    path.write_bytes(b"\xff\xfe{")
    path.chmod(0o600)
    assert _push_with(tmp_path, capsys, monkeypatch, path) == (
        1,  # FortnoxAuthError's, as for a token file that is text but not JSON
        f"bokfor: error: {path}: the token file is not valid JSON Fix: delete it and "
        "authorize bokfor again.\n",
    )


@pytest.mark.parametrize(
    "data",
    [b'{"a":' * 100_000, b'{"client_id": "' + b"x" * (2 << 20) + b'"}'],
    ids=["nested", "huge"],
)
def test_a_token_file_nested_deep_or_huge_is_not_json(tmp_path, data):
    """json recursed out on 100,000 nested objects (an internal error); a file of gigabytes
    was read whole. bokfor writes a few hundred bytes: at most 1 MiB is read."""
    path = tmp_path / "fortnox.json"
    path.write_bytes(data)
    path.chmod(0o600)
    with pytest.raises(FortnoxAuthError, match="the token file is not valid JSON"):
        TokenStore(path).load()


def test_a_token_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    """A named pipe at the token path: opening it to read would wait for a writer (a push
    under cron would hang). It is refused at once."""
    path = tmp_path / "fortnox.json"
    os.mkfifo(path, 0o600)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            TokenStore(path).load()
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # it waits: give it a writer, so the thread ends
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
    assert [str(e) for e in outcome] == [
        f"{path}: the token file is not a regular file Fix: move it away and `bokfor fortnox "
        "login` again."
    ]


@pytest.mark.parametrize(
    "variable, url, shown",
    [
        ("BOKFOR_FORTNOX_URL", "http://api.fortnox.se", "BOKFOR_FORTNOX_URL http://api.fortnox.se"),
        (
            "BOKFOR_FORTNOX_TOKEN_URL",
            "http://apps.fortnox.se/oauth-v1/token",
            "the Fortnox token URL http://apps.fortnox.se",
        ),
    ],
)
def test_a_plain_http_fortnox_url_is_refused(tmp_path, capsys, monkeypatch, variable, url, shown):
    path = tmp_path / "fortnox.json"
    TokenStore(path).save(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant_id": TENANT_ID}
    )
    code, err = _push_with(tmp_path, capsys, monkeypatch, path, **{variable: url})
    assert (code, err) == (
        2,
        (
            f"bokfor: error: {shown} is not an https:// URL: bokfor sends Fortnox tokens and the "
            "client secret only encrypted Fix: use https:// (plain http:// only to this machine, "
            "127.0.0.1, ::1 or localhost, as for a test server).\n"
        ),
    )


def test_only_https_or_this_machine_may_receive_a_secret():
    from bokfor.fortnox.auth import UnsafeCredentials, https_only

    for url in (
        "https://api.fortnox.se",
        "https://apps.fortnox.se/oauth-v1/token",
        "http://127.0.0.1:8080",
        "http://[::1]:9000/3",
        "http://localhost:1",
    ):
        assert https_only(url, "x") == url
    for url in (
        "http://api.fortnox.se",
        "http://127.0.0.2",
        "http://localhost.evil.example",
        "ftp://api.fortnox.se",
        "api.fortnox.se",
        "https://",
        "",
    ):
        with pytest.raises(UnsafeCredentials):
            https_only(url, "x")
    with pytest.raises(UnsafeCredentials):
        ClientCredentials(CLIENT_ID, CLIENT_SECRET, TENANT_ID, token_url="http://example.com/t")
