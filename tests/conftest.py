"""Suite-wide checks.

Secrets: tokens and client secrets must never reach a log, an error, a plan or `--debug`
output. Every test's captured output (stdout, stderr, log records, the failure text) is
searched for every secret the Fortnox fakes handed out; a test that shows one fails.
Output a test reads itself through `run_cli` is searched there (tests/test_errors.py).

The CLI's command tree is built once per session, as once per `bokfor` process: the suite
calls the CLI in-process thousands of times, and building the tree costs ~12 ms a call."""

from __future__ import annotations

import functools

import pytest

from tests.fortnox_fake import SECRETS


def pytest_sessionstart(session: pytest.Session) -> None:
    """bokfor's bytecode, as an installed package has it (pip compiles what it installs; a
    checkout writes it on its first run unless PYTHONDONTWRITEBYTECODE is set, as in this
    sandbox): else every `bokfor` child process of the crash-protocol and CLI tests compiles
    the modules it imports first. The same step as the bench's (bench/suite.py)."""
    import compileall
    from pathlib import Path

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "src" / "bokfor"), quiet=1)


@pytest.fixture(autouse=True, scope="session")
def _one_command_tree():
    import bokfor.cli

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bokfor.cli, "command", functools.cache(bokfor.cli.command))
        yield


def leaked(*texts: str) -> list[str]:
    """The test secrets that appear in any of `texts`."""
    return sorted(s for s in SECRETS if any(s in text for text in texts if text))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    found = leaked(report.capstdout, report.capstderr, report.caplog, report.longreprtext)
    if found:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: a secret appears in the test's output "
            f"({len(found)} of the fake's secrets; never print them)"
        )
