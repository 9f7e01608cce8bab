"""Every command and option is documented and has help, in the manner of sqlite-utils'
tests/test_docs.py: the commands are walked in the app (sub-apps' too), not listed here,
so a command or option added without docs fails the suite.

A command must be named (`bokfor ledger show`) in README.md or docs/*.md; every option and
argument of it must appear in its section of docs/cli.md (`## bokfor ledger show`), the
reference that lists each command's options, and have help text for `--help`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bokfor.cli import command

REPO = Path(__file__).parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
REFERENCE = REPO / "docs" / "cli.md"


def _walk(cmd, path: tuple[str, ...] = ()):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(command()))
PARAMS = [
    (path, param)
    for path, cmd in COMMANDS
    for param in cmd.params
    if not getattr(param, "hidden", False)
]


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("bokfor", *path))


def _words(param) -> list[str]:
    """How the docs name a parameter: every spelling of an option (`--mapping`, `-m`), an
    argument by its metavar (`INPUT`)."""
    if param.param_type_name == "argument":
        return [param.metavar]
    return [*param.opts, *param.secondary_opts]


@pytest.fixture(scope="module")
def documented() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    """docs/cli.md's sections by heading: `## bokfor plan` -> its text."""
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {
        title.strip().strip("`"): body for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[_name(p) for p, _ in COMMANDS])
def test_commands_are_documented(documented, sections, path, cmd):
    """A group without options of its own (`bokfor ledger`) needs no section."""
    assert re.search(rf"\b{re.escape(_name(path))}\b", documented), (
        f"`{_name(path)}` is not in README.md or docs/*.md"
    )
    if cmd.params or not getattr(cmd, "commands", None):
        assert _name(path) in sections, f"docs/cli.md has no section `## {_name(path)}`"


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[_name(p) for p, _ in COMMANDS])
def test_commands_have_help(path, cmd):
    assert (cmd.help or "").strip(), f"{_name(path)} is missing its help"


@pytest.mark.parametrize(
    "path,param", PARAMS, ids=[f"{_name(p)} {_words(q)[0]}" for p, q in PARAMS]
)
def test_options_are_documented(sections, path, param):
    section = sections.get(_name(path), "")
    for word in _words(param):
        if word == "--help":
            continue
        assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", section), (
            f"{word} of `{_name(path)}` is not in its section of docs/cli.md"
        )


@pytest.mark.parametrize(
    "path,param", PARAMS, ids=[f"{_name(p)} {_words(q)[0]}" for p, q in PARAMS]
)
def test_options_have_help(path, param):
    assert (param.help or "").strip(), f"{_words(param)[0]} of `{_name(path)}` has no help"


def test_ci_runs_the_readme_test_command():
    """CI runs what the README tells a contributor to run: lint, types, tests, in one line."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = readme.split("Run the tests", 1)[1].split("\n\n")[1].strip()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip("\n").splitlines()[-1]
    assert command == ci
    assert "ruff check" in ci and "mypy" in ci and ci.endswith("python -m pytest -n 2")


def test_every_section_is_a_command(sections):
    """No section for a command that went away."""
    assert set(sections) - {_name(p) for p, _ in COMMANDS} == set()
