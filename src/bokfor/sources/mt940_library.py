"""The mt940 library as bokfor configures and extends it (see `bokfor.sources.mt940`).

Apart from the reader because the library's import costs more than a run that reads no
MT940 file should pay, and every run asks the MT940 source to `detect` (issue 22): this
module is imported where a statement is parsed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import mt940
from mt940 import models as mt940_models

from bokfor.sources.mt940 import _Failure, _NoTypeCode

# The library logs every tag it cannot match at ERROR level, before raising; bokfor reports
# that as one InputError, so without a handler of its own the log records would reach
# Python's last-resort handler and print the regex dump to stderr.
logging.getLogger("mt940").addHandler(logging.NullHandler())

_OPTIONS = mt940.Options(
    reversal_sign=True,  # RC is a debit entry (SWIFT), not +
    case_insensitive_marks=True,
    merge_keeps_values=True,
    unbounded_details=True,  # banks write more than 6 x 65 characters of :86:
    applicant_iban=True,  # ?31 is the counterparty account, not part of the name
    strip_bom=True,
)


# Amounts as banks write them: a decimal comma (SWIFT), a bare comma (`5,`), one decimal or
# none (`79,7`, `0,`), zero padding (`000000000473,17`), or a decimal point where a bank
# strays from SWIFT (`000000000000.00`; the library's balance pattern stops at the '.' and
# reads 2145.50 as 2145). Two marks (`1.234,56`) are no Decimal: "not an amount".
_AMOUNT = r"(?P<amount>[\d,.]{1,16})"


class _Balance(mt940.tags.BalanceBase):
    """A balance tag (:60F:, :62M:, :64:...) whose amount is read as `_AMOUNT`."""

    pattern = (
        r"""^
    (?P<status>[DC])
    (?P<year>\d{2})(?P<month>\d{2})(?P<day>\d{2})
    (?P<currency>.{3})
    """
        + _AMOUNT
    )


def _balance_tag(tag: type[mt940.tags.BalanceBase]) -> mt940.tags.Tag:
    return type(tag.__name__, (_Balance,), {"id": tag.id})()


class _Statement61(mt940.tags.Statement):  # the library's slug: "statement" (its processors)
    """The `:61:` line, with `_AMOUNT` for the amount; and where the strict SWIFT layout
    does not match, a customer reference of up to 34 characters (ASN Bank puts an IBAN
    there): tried second, so that Rabobank's 16 characters followed by the counterparty
    keep their meaning."""

    _template = (
        r"""^
    (?P<year>\d{2})(?P<month>\d{2})(?P<day>\d{2})  # value date YYMMDD
    (?P<entry_month>\d{2}|\s{2})?(?P<entry_day>\d{2}|\s{2})?  # entry date MMDD
    (?P<status>R?[DC])  # the mark
    (?P<funds_code>[A-Z])?  # the third letter of the currency, if any
    [\n ]?
    """
        + _AMOUNT
        + r"""
    (?P<id>[A-Z][A-Z0-9 ]{3})?  # type code: N + 3
    (?P<customer_reference>((?!//)[^\n]){0,%d})
    (//(?P<bank_reference>.{0,23}))?
    (\n?(?P<extra_details>.*))?
    $"""
    )
    pattern = _template % 16

    def __init__(self) -> None:
        super().__init__()
        self.long_reference = re.compile(self._template % 34, self.RE_FLAGS)

    def parse(self, transactions: mt940_models.Transactions, value: str) -> dict[str, Any]:
        match = self.re.match(value) or self.long_reference.match(value)
        if match is None:
            raise RuntimeError(f"Unable to parse {self!r} from {value!r}", self, value)
        return match.groupdict()


_TAGS: dict[int | str, mt940.tags.Tag] = {
    61: _Statement61(),
    **{
        tag.id: _balance_tag(tag)
        for tag in (
            mt940.tags.OpeningBalance,
            mt940.tags.FinalOpeningBalance,
            mt940.tags.IntermediateOpeningBalance,
            mt940.tags.ClosingBalance,
            mt940.tags.FinalClosingBalance,
            mt940.tags.IntermediateClosingBalance,
            mt940.tags.AvailableBalance,
            mt940.tags.ForwardAvailableBalance,
        )
    },
}


class Statement(mt940_models.Transactions):
    """The library's statement, remembering the file line of every tag it processes.

    `lines[i]` is the line of the `:61:` of `transactions[i]`; `tag_lines` maps a
    statement-level tag id (`'25'`, `'62F'`) to its line."""

    def __init__(self, kept: list[int]) -> None:
        super().__init__(options=_OPTIONS, tags=_TAGS)
        self.kept = kept  # file line of each line of the text the library parses
        self.lines: list[int] = []
        self.tag_lines: dict[str, int] = {}

    def _process_match(
        self, match: re.Match[str], i: int, valid_matches: list[re.Match[str]], data: str
    ) -> None:
        line = self.kept[min(data.count("\n", 0, match.start()), len(self.kept) - 1)]
        tag = match.group("full_tag")
        try:
            super()._process_match(match, i, valid_matches, data)
        except Exception as exc:  # the library raises RuntimeError, ValueError, Decimal errors
            end = valid_matches[i + 1].start() if i + 1 < len(valid_matches) else len(data)
            raise _Failure(line, tag, data[match.end() : end].strip(), exc) from None
        self.tag_lines.setdefault(tag, line)
        if match.group("tag") == "61":  # `:61A:` too: the library reads it as a :61:
            # SWIFT makes the type code mandatory, and the library would merge the next
            # :61: into one without it: refuse it here.
            if not self.transactions[-1].data.get("id"):
                raise _Failure(line, tag, "", _NoTypeCode())
            self.lines.append(line)
