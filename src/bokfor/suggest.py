"""Rules suggested for rows no rule matches, when their kind is free text (a bank row's
`text`): patterns that match next month's rows too, grouped by the account they likely go to.

`Lön oktober` becomes `(?i)^lön\\b`, `KORTKÖP 260105 ICA NÄRA` becomes `(?i)ica nära`: a
keyword of the table below where the text has one (the keyword is the pattern, so every
month's salary matches), else the first run of words left when digits, dates, references,
month names and the card-purchase words banks put first are taken out. `^` when the run
starts the text, `\\b` when the text goes on after it. Each pattern is compiled as the rules
compile it (RE2, bokfor.patterns) and checked to match the rows it was made from; a text
that gives no pattern gets an equality on the whole text.

The keyword table (docs/mapping.md, "Suggested rules") names the account a text most often
goes to on BAS 2025; the suggestion says why, and the person checks it: a text no keyword
knows is suggested to 2999 OBS-konto, the chart's account for what is not yet known, so the
run goes through and the row stays visible until it is moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from bokfor import bas
from bokfor.domain import Row
from bokfor.patterns import PatternError, compile_pattern


@dataclass(frozen=True)
class Keyword:
    pattern: str  # Python regex on the folded text; its match becomes the rule's pattern
    sign: int | None  # +1 money in, -1 money out, None either
    account: str
    why: str
    vat: str | None = None  # output VAT of a sale: "25" (its account from the chart: 2611)
    payee: bool = False  # the pattern is the payee's name, not the keyword (a company form)


# Checked in order; the first that matches the text (and the sign) wins.
KEYWORDS: tuple[Keyword, ...] = (
    Keyword(
        r"\blön(er)?\b|\bsalary\b",
        -1,
        "2821",
        "net salaries paid, against the payroll voucher (7210 Löner till tjänstemän when "
        "the bank line is the only booking of the salary)",
    ),
    Keyword(
        r"skatteverket|skattekonto|^skatt\b",
        None,
        "1630",
        "money to or from the skattekonto; its own statement books the taxes",
    ),
    Keyword(
        r"\bstripe\b|\bi?zettle\b|\bklarna\b|\bpaypal\b|\bsumup\b|\badyen\b|\bbambora\b"
        r"|\bviva wallet\b",
        1,
        "1580",
        "a card or payment provider's payout: it settles what the sales put on 1580",
    ),
    Keyword(
        r"^swish\b|\bswish inbetalning",
        1,
        "3001",
        "Swish payments from customers: sales, 25 % VAT split out to 2611",
        vat="25",
    ),
    Keyword(
        r"\bbankavgift|\bavgift|\bpris enl spec|\bprisavisering|\bkortavgift|\bfee\b",
        -1,
        "6570",
        "bank fees",
    ),
    Keyword(r"\blokalhyra\b|\bhyra\b|\bhyran\b", -1, "5010", "rent for premises"),
    Keyword(r"\bränta\b|\binterest\b", 1, "8311", "interest from the bank"),
    Keyword(r"\bränta\b|\binterest\b", -1, "8421", "interest paid to the bank"),
    Keyword(r"försäkring", -1, "6310", "business insurance"),
    Keyword(r"\btelia\b|\btele2\b|\btelenor\b|\bcomviq\b|\bhallon\b", -1, "6212", "mobile phone"),
    # A company's name (AB, HB, KB): an invoice paid, to you or by you.
    Keyword(
        r"\b(ab|hb|kb|aktiebolag|handelsbolag)\b",
        1,
        "1510",
        "a company paying you: a customer's invoice, booked on 1510 when it was sent",
        payee=True,
    ),
    Keyword(
        r"\b(ab|hb|kb|aktiebolag|handelsbolag)\b",
        -1,
        "2440",
        "paid to a company: a supplier's invoice, booked on 2440 when it came",
        payee=True,
    ),
)
UNKNOWN = "2999"  # OBS-konto: what no keyword knows, until a person says where it goes
_UNKNOWN_WHY = (
    "no keyword tells their account: the OBS account holds them until you "
    "write the right one here (a purchase: its cost account, e.g. 5460)"
)

_MONTHS = frozenset(
    "januari februari mars april maj juni juli augusti september oktober november december "
    "january february march may june july august october".split()
)
# Words banks put before the payee of a card purchase or a payment.
_LEADING = frozenset(
    "kortköp kortkop kort köp card purchase reserverat betalning insättning överföring".split()
)
_SPECIAL = set("\\.^$|?*+()[]{}")


@dataclass
class Suggestion:
    """One suggested rule: its rows' kinds, pattern, sign condition and account."""

    name: str
    pattern: str | None  # None: an equality on `text` (a text that gives no pattern)
    text: str
    account: str
    why: str
    vat: str | None
    signs: set[int] = field(default_factory=set)
    first_line: int = 0

    def sign(self) -> str | None:
        if len(self.signs) != 1:
            return None
        return "positive" if self.signs == {1} else "negative"


def suggest(
    unmapped: dict[tuple[Any, ...], list[Row]],
    field_name: str,
    money: str | None,
) -> list[Suggestion]:
    """Suggested rules for the unmapped rows, one per pattern and account, in the order of
    their accounts' first rows and then their own."""
    out: dict[tuple[str | None, str, str], Suggestion] = {}
    for kind, rows in sorted(unmapped.items(), key=lambda kv: kv[1][0].origin.line):
        text = str(kind[0] or "")
        signs = {_sign(row, money) for row in rows} - {0}
        for sign in sorted(signs, reverse=True) or [0]:
            made = _suggestion(text, sign)
            key = (made.pattern or made.text, made.account, made.vat or "")
            found = out.setdefault(key, made)
            if found is made:
                made.first_line = rows[0].origin.line
            if sign:
                found.signs.add(sign)
    group_line: dict[str, int] = {}
    for s in out.values():
        group_line[s.account] = min(group_line.get(s.account, s.first_line), s.first_line)
    return sorted(out.values(), key=lambda s: (group_line[s.account], s.account, s.first_line))


def _sign(row: Row, money: str | None) -> int:
    amount = row.amounts.get(money) if money else None
    return 0 if not amount else (1 if amount > 0 else -1)


def _suggestion(text: str, sign: int) -> Suggestion:
    folded = " ".join(text.casefold().split())
    for kw in KEYWORDS:
        if kw.sign is not None and sign and kw.sign != sign:
            continue
        hit = re.search(kw.pattern, folded)
        if hit is not None and kw.payee:
            run = _payee(folded)
            if run is not None:
                return _checked(
                    Suggestion(
                        " ".join(text.split())[run[0] : run[1]],
                        _pattern(folded, *run),
                        text,
                        kw.account,
                        kw.why,
                        kw.vat,
                    )
                )
        elif hit is not None:
            pattern = _pattern(folded, hit.start(), hit.end())
            return _checked(
                Suggestion(
                    hit.group(0).strip().capitalize(), pattern, text, kw.account, kw.why, kw.vat
                )
            )
    run = _payee(folded)
    if run is not None:
        start, end = run
        return _checked(
            Suggestion(
                " ".join(text.split())[start:end],
                _pattern(folded, start, end),
                text,
                UNKNOWN,
                _UNKNOWN_WHY,
                None,
            )
        )
    if re.fullmatch(r"\+?467\d{8}", folded.replace(" ", "")):
        return _checked(
            Suggestion(
                "Swish till mobilnummer", r"^\+?467[\d ]{8,}$", text, UNKNOWN, _UNKNOWN_WHY, None
            )
        )
    return Suggestion(text or "Tom text", None, text, UNKNOWN, _UNKNOWN_WHY, None)


def _payee(folded: str) -> tuple[int, int] | None:
    """The span of the first run of words that are neither numbers, dates, references,
    month names nor a card purchase's leading words: the payee, as next month writes it."""
    run: tuple[int, int] | None = None
    for match in re.finditer(r"\S+", folded):
        word, start = match.group(0), match.start()
        head, slash, tail = word.partition("/")
        if slash and any(c.isdigit() for c in tail):  # SEB's "KJELL & COMP/25-12-31"
            word = head if len(head) > 1 else ""
        keep = (
            bool(word)
            and not any(c.isdigit() for c in word)
            and word.strip(".,:;-") not in _MONTHS
            and not (run is None and word in _LEADING)
        )
        if keep and word.strip(".,:;-&"):
            end = start + len(word)
            run = (run[0], end) if run is not None else (start, end)
        elif keep and run is not None:  # "&" between two words
            run = (run[0], start + len(word))
        elif run is not None:
            break
    if run is not None:
        while folded[run[0] : run[1]].endswith(("&", " ")):  # a run cut after "&"
            run = (run[0], run[1] - 1)
    return run


def _pattern(folded: str, start: int, end: int) -> str:
    """`(?i)` + the text's span, `^` when it starts the text, `\\b` when a word goes on."""
    body = "".join("\\" + c if c in _SPECIAL else c for c in folded[start:end].strip())
    lead = "^" if folded[:start].strip() == "" else ""
    tail = "\\b" if folded[end - 1].isalnum() and folded[end:].strip() else ""
    return f"(?i){lead}{body}{tail}"


def _checked(s: Suggestion) -> Suggestion:
    """The suggestion, its pattern proven valid for the rule engine and matching the text it
    was made from; else an equality on the text (never a pattern that would not match)."""
    if s.pattern is not None:
        try:
            ok = compile_pattern(s.pattern).test(" ".join(s.text.split()))
        except PatternError:
            ok = False
        if not ok:
            s.pattern = None
    return s


def snippet(
    suggestions: Iterable[Suggestion],
    field_name: str,
    money: str | None,
    bank_account: str,
    indent: str,
) -> list[str]:
    """The suggestions as YAML to paste under the section's `rules:`, `indent` being the
    indentation of the rules' `- ` there; a comment before each account's group says why."""
    lines: list[str] = []
    group = None
    for s in suggestions:
        if s.account != group:
            group = s.account
            lines.append(f"{indent}# {s.account} {bas.name(s.account)}: {s.why}")
        if s.pattern is not None:
            cond = f"{field_name}: {{regex: {_quoted(s.pattern)}}}"
        else:
            cond = f"{field_name}: {_quoted(s.text)}"
        if money and s.sign():
            cond += f", {money}: {{sign: {s.sign()}}}"
        vat = f", vat: {{rate: {s.vat}, account: 2611}}" if s.vat else ""
        lines += [
            f"{indent}- name: {_quoted(s.name)}",
            f"{indent}  when: {{{cond}}}",
            f"{indent}  post:",
            f"{indent}    - {{account: {bank_account}, debit: {money or 'amount'}}}",
            f"{indent}    - {{account: {s.account}, credit: {money or 'amount'}{vat}}}",
        ]
    return lines


def _quoted(text: str) -> str:
    """`text` as a YAML flow scalar that reads back as itself: plain when safe, else in
    single quotes (no escapes: a backslash stays a backslash, as a pattern needs)."""
    plain = (
        re.fullmatch(r"[\w][\w .&/-]*", text) is not None
        and not text.endswith(" ")
        and text.casefold() not in ("yes", "no", "true", "false", "null", "on", "off", "~")
    )
    return text if plain else "'" + text.replace("'", "''") + "'"
