"""Typed domain errors.

Every error bokfor raises on purpose is a `BokforError` carrying where it happened (file,
line, column), which mapping key or rule is involved, and how to fix it. The CLI turns it into
one message and an exit code in exactly one place (`cli.py`); library code never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_NOTHING_NEW = 3  # a run that found every row already exported: nothing written
EXIT_BUSY = 4  # another run holds the ledger lock: try again later


@dataclass
class BokforError(Exception):
    """Base class. `message` says what is wrong, `hint` how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    key: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    exit_code = EXIT_BAD_INPUT

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def location(self) -> str:
        """`file:line` plus column and key, as far as they are known."""
        parts: list[str] = []
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if where:
            parts.append(where)
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.key is not None:
            parts.append(self.key)
        return ": ".join(parts)

    def __str__(self) -> str:
        text = self.message
        loc = self.location()
        if loc:
            text = f"{loc}: {text}"
        if self.hint:
            text = f"{text} Fix: {self.hint}"
        return text

    def render(self) -> str:
        """The full message: one line, then any detail lines (lists, YAML snippets)."""
        return "\n".join([str(self), *self.details])


def one_error(problems: Sequence[BokforError]) -> BokforError:
    """Several problems of one file as one error: the first (by line) in the one-line message,
    every other one a detail line of its own, so one run shows everything to fix."""
    ordered = sorted(problems, key=lambda p: p.line or 0)
    first, rest = ordered[0], ordered[1:]
    if not rest:
        return first
    details = [
        *first.details,
        f"{len(rest)} more problem{'s' if len(rest) > 1 else ''} in {first.file}:",
    ]
    for p in rest:
        details.append(f"  {p}")
        details.extend(f"  {d}" for d in p.details)
    return type(first)(
        first.message,
        file=first.file,
        line=first.line,
        column=first.column,
        key=first.key,
        hint=first.hint,
        details=details,
    )


class InputError(BokforError):
    """A source file is unreadable, of the wrong kind, or holds a bad value."""


class MappingError(BokforError):
    """The YAML mapping is invalid or does not cover the input."""


class UnbalancedError(BokforError):
    """A voucher does not sum to zero; names the rule and source rows that produced it."""


class SieError(BokforError):
    """A SIE file is malformed, or a value cannot be written as SIE."""


class UsageError(BokforError):
    """A command-line option is wrong."""


class OutputReused(BokforError):
    """`--out` names the file of an earlier export: writing it would lose that export's
    vouchers if they were not imported yet."""


class OutputError(BokforError):
    """Writing the output failed (disk, permissions): not the user's data at fault."""

    exit_code = EXIT_FAILURE
