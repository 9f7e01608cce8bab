"""The BAS 2025 chart of accounts, built in: a mapping names only the accounts its company
names differently, and the SIE writer takes every other account's `#KONTO` name from here.

The chart is data (bas2025.tsv beside this module: number, tab, name), read on first use
and kept: `mapping check` and every run of a mapping that names all its accounts never read
it. An account is refused only when it is neither in the chart nor named in the mapping;
`nearest` gives the chart's accounts to offer instead.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

CHART = "BAS 2025"


@cache
def chart() -> dict[str, str]:
    """Account number -> name, every account of the chart."""
    text = resources.files("bokfor").joinpath("bas2025.tsv").read_text(encoding="utf-8")
    return dict(
        line.split("\t", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def name(number: str) -> str | None:
    return chart().get(number)


def nearest(number: str, count: int = 3) -> list[tuple[str, str]]:
    """The chart's `count` accounts closest to `number` (a 4-digit text), in number order:
    those of its main account (the first three digits) first, then the nearest by value."""
    accounts = chart()
    value = int(number)
    ranked = sorted(accounts, key=lambda n: (n[:3] != number[:3], abs(int(n) - value), n))
    return [(n, accounts[n]) for n in sorted(ranked[:count])]
