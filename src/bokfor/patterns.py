"""Regular expressions from the user (rule conditions, a bank profile's preamble_regex), run in
time linear in the text, so that no pattern can hang a run.

Python's `re` backtracks: `(a+)+$` against forty `a` and a `!` runs for hours. Patterns are
therefore written in Python's syntax (as docs/mapping.md documents them) but run by RE2,
whose automaton takes time proportional to the text for any pattern. The pattern is parsed by
Python's own parser and rewritten for RE2, so `\\d`, `\\w` and `\\s` keep Python's Unicode
meaning (`\\w` matches å, `\\s` a no-break space), and so does `\\b` at either end of the
pattern (`\\bårsavgift`); a `\\b` inside it is RE2's, which counts only ASCII letters,
digits and _ as word characters. What RE2 cannot do without backtracking
(backreferences, lookaround, atomic groups, possessive repeats, conditionals) is refused with
the reason and a form that works, as is a repeated repetition such as `(a+)+`.

Measured on 100,000 bank texts (docs/mapping.md): RE2 1.2 µs a search, Python's `re` 1.0 µs;
the `regex` module's per-call `timeout=` cost 3.9 µs and only bounds, never removes, the
backtracking (and a timeout would make a booking depend on the load of the machine).
"""

from __future__ import annotations

import re

# typeshed declares neither private module (it has the deprecated sre_* aliases only).
from re import _constants as C  # type: ignore[attr-defined]  # the parse tree's opcodes
from re import _parser as P  # type: ignore[attr-defined]  # the syntax stays Python's
from typing import Any

import re2

# Python's Unicode classes, as RE2 class items (checked against `re` in tests/test_patterns.py).
_DIGIT = r"\p{Nd}"
_WORD = r"\p{L}\p{N}_"
_SPACES = (
    (0x9, 0xD),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)
_ASCII_DIGIT = ((0x30, 0x39),)
_ASCII_WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_ASCII_SPACE = ((0x9, 0xD), (0x20, 0x20))
_MAX_MEM = 8 << 20  # RE2's default: a larger pattern is refused as too large


class PatternError(ValueError):
    """A pattern that is not Python syntax, or that needs backtracking; `hint` says what to
    write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class Pattern:
    """A compiled user pattern: `test(text)` for a condition, `search(text)` for groups.

    `rust` is the same pattern for Rust's `regex` crate (what Polars runs: bokfor.rules), or
    None where that crate answers otherwise; `folded` the code points it names under
    case-insensitivity, whose case partners each engine takes from its own Unicode tables."""

    def __init__(
        self,
        pattern: str,
        translated: str,
        rust: str | None = None,
        folded: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.pattern = pattern
        self.rust, self.folded = rust, folded
        options = re2.Options()
        options.log_errors = False  # RE2 would print its own message on stderr
        options.max_mem = _MAX_MEM
        try:
            self._regexp = re2.compile(translated, options)
        except re2.error as exc:
            raise _refusal(pattern, exc.args[0] if exc.args else exc) from None
        self.groups: int = self._regexp.groups
        # The yes/no of a rule, from RE2 itself, without captures or the wrapper's match
        # objects: half the cost of `search`, as much as Python's `re` (docs/mapping.md).
        # (Not `re2.Set`, as fast: it answers "no" when its automaton runs out of memory,
        # where RE2's Match falls back to a slower automaton.) A wrapper without the
        # extension's class (a future google-re2) falls back to `search`.
        self._match = None
        raw = getattr(getattr(re2, "_re2", None), "RE2", None)
        if raw is not None:
            options.never_capture = True
            self._match = raw(translated.encode("utf-8"), options).Match
            self._anywhere = raw.Anchor.UNANCHORED

    def test(self, text: str) -> bool:
        """Whether the pattern occurs in `text` (`re.search`). The text is searched as UTF-8
        bytes: no offsets to map back, and a lone surrogate cannot stop the run."""
        data = text.encode("utf-8", "surrogatepass")
        if self._match is not None:
            return self._match(self._anywhere, data, 0, len(data))[0][0] >= 0
        return self._regexp.search(data) is not None

    def search(self, text: str) -> Any:  # -> re2._Match | None, with .group()
        return self._regexp.search(text)


def compile_pattern(pattern: str) -> Pattern:
    """`pattern` (Python syntax) ready to run in linear time, or PatternError."""
    try:
        return _compile(pattern)
    except re.error as exc:
        raise PatternError(
            f"bad regular expression: {exc}",
            "see Python's `re` syntax; write \\( for a literal parenthesis.",
        ) from None
    except RecursionError:  # Python's parser, or the walks of its tree below
        raise PatternError(
            "the regular expression nests groups too deeply",
            "write it with fewer nested parentheses.",
        ) from None


def _compile(pattern: str) -> Pattern:
    tree = P.parse(pattern)
    _check_nested(pattern, list(tree))
    flags = tree.state.flags
    prefix = "(?i)" if flags & C.SRE_FLAG_IGNORECASE else ""
    rust = _Emitter(pattern, rust=True)
    rust_form = prefix + rust.top(list(tree), flags)
    return Pattern(
        pattern,
        prefix + _Emitter(pattern).top(list(tree), flags),
        None if rust.differs else rust_form,
        tuple(rust.folded),
    )


def shown(pattern: str) -> str:
    """A pattern as YAML's single quotes write it (no escapes), to paste into the mapping."""
    return "'" + pattern.replace("'", "''") + "'"


class _Emitter:
    """Python's parse tree -> RE2 syntax with the same meaning (every literal as \\x{…});
    with `rust`, the syntax of Rust's `regex` crate with the meaning RE2 gives it. The two
    differ in one construct: \\b inside a pattern, ASCII in RE2 and Unicode in Rust
    unless written (?-u:\\b). Rust's (?-u:\\B) never matches inside a character's UTF-8
    bytes, nor in an empty text, where RE2's \\B does: no Rust form (`differs`)."""

    def __init__(self, pattern: str, rust: bool = False) -> None:
        self.pattern = pattern
        self.rust = rust
        self.folded: list[tuple[int, int]] = []  # code points under IGNORECASE
        self.differs = False

    def top(self, items: list[tuple[Any, Any]], flags: int) -> str:
        if len(items) == 1 and items[0][0] is C.BRANCH:
            return "(?:" + "|".join(self.edges(list(alt), flags) for alt in items[0][1][1]) + ")"
        return self.edges(items, flags)

    def edges(self, items: list[tuple[Any, Any]], flags: int) -> str:
        """A \\b or \\B at the start or end of the pattern, beside what is surely a word
        character (or surely not), as Python means it: RE2's own counts only ASCII as word
        characters, so `\\böl` would never match after a space. At the pattern's edge the
        character on the other side may be consumed: the test is yes/no."""
        head = tail = ""
        if not flags & C.SRE_FLAG_ASCII and len(items) >= 2:
            if items[0][0] is C.AT and items[0][1] in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY):
                kind = _kind(items[1:], 0)
                if kind is not None:
                    head = _edge(items[0][1] is C.AT_BOUNDARY, kind, r"\A")
                    items = items[1:]
            if (
                len(items) >= 2
                and items[-1][0] is C.AT
                and items[-1][1] in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY)
            ):
                kind = _kind(items[:-1], -1)
                if kind is not None:
                    tail = _edge(items[-1][1] is C.AT_BOUNDARY, kind, r"\z")
                    items = items[:-1]
        return head + self.seq(items, flags) + tail

    def seq(self, items: list[tuple[Any, Any]], flags: int) -> str:
        return "".join(self.node(op, av, flags) for op, av in items)

    def node(self, op: Any, av: Any, flags: int) -> str:
        if flags & C.SRE_FLAG_IGNORECASE and op in (C.LITERAL, C.NOT_LITERAL):
            self.folded.append((av, av))
        if op is C.LITERAL:
            return _char(av)
        if op is C.NOT_LITERAL:
            return f"[^{_char(av)}]"
        if op is C.ANY:
            return r"(?s:.)" if flags & C.SRE_FLAG_DOTALL else r"[^\n]"
        if op is C.IN:
            return self.charset(av, flags)
        if op is C.AT:
            return self.at(av, flags)
        if op is C.BRANCH:
            return "(?:" + "|".join(self.seq(list(alt), flags) for alt in av[1]) + ")"
        if op is C.SUBPATTERN:
            group, add, remove, body = av
            inner = self.seq(list(body), (flags | add) & ~remove)
            case = ""
            if add & C.SRE_FLAG_IGNORECASE:
                case = "i"
            elif remove & C.SRE_FLAG_IGNORECASE:
                case = "-i"
            if case:
                inner = f"(?{case}:{inner})"
            return f"({inner})" if group is not None else f"(?:{inner})"
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, high, body = av
            return f"(?:{self.seq(list(body), flags)}){_quantifier(low, high)}" + (
                "?" if op is C.MIN_REPEAT else ""
            )
        raise _unsupported(self.pattern, op, av)

    def at(self, code: Any, flags: int) -> str:
        multiline = flags & C.SRE_FLAG_MULTILINE
        if code is C.AT_BEGINNING:
            return "(?m:^)" if multiline else r"\A"
        if code is C.AT_BEGINNING_STRING:
            return r"\A"
        if code is C.AT_END:  # Python's $ also matches before a final newline
            return "(?m:$)" if multiline else r"(?:\n?\z)"
        if code is C.AT_END_STRING:
            return r"\z"
        if code is C.AT_BOUNDARY:
            return r"(?-u:\b)" if self.rust else r"\b"
        if code is C.AT_NON_BOUNDARY:
            self.differs = self.rust
            return r"\B"
        raise _unsupported(self.pattern, C.AT, code)

    def charset(self, items: list[tuple[Any, Any]], flags: int) -> str:
        """`[…]`: a class, or an alternation when it holds \\W (RE2 cannot put a negated
        union inside a class)."""
        ascii_only = flags & C.SRE_FLAG_ASCII
        negate = bool(items) and items[0][0] is C.NEGATE
        parts: list[str] = []
        alternatives: list[str] = []
        for op, av in items[1:] if negate else items:
            if flags & C.SRE_FLAG_IGNORECASE and op in (C.LITERAL, C.RANGE):
                self.folded.append((av, av) if op is C.LITERAL else av)
            if op is C.LITERAL:
                parts.append(_char(av))
            elif op is C.RANGE:
                parts.append(f"{_char(av[0])}-{_char(av[1])}")
            elif op is C.CATEGORY:
                part = _category(av, ascii_only)
                if part is None:  # Unicode \W
                    alternatives.append(f"[^{_WORD}]")
                else:
                    parts.append(part)
            else:
                raise _unsupported(self.pattern, op, av)
        if negate:
            if alternatives:
                raise PatternError(
                    f"regular expression {shown(self.pattern)} uses a class [^\\W…] (word "
                    f"characters less others): {_LINEAR}",
                    "list the characters instead, e.g. [a-zåäöA-ZÅÄÖ] for letters.",
                )
            return f"[^{''.join(parts)}]"
        if parts:
            alternatives.append(f"[{''.join(parts)}]")
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def _edge(boundary: bool, word_beside: bool, end: str) -> str:
    """The character across a \\b (\\B) from one that is (is not) a word character."""
    if boundary == word_beside:  # the other side must not be a word character
        return f"(?:{end}|[^{_WORD}])"
    return f"[{_WORD}]"


def _kind(items: list[tuple[Any, Any]], at: int) -> bool | None:
    """Whether the first (at=0) or last (at=-1) character `items` match is surely a word
    character (True), surely not (False), or either (None)."""
    if not items:
        return None
    op, av = items[at]
    if op is C.LITERAL:
        return _is_word(av)
    if op is C.IN:
        kinds = {_member_kind(o, a) for o, a in av}
        return kinds.pop() if len(kinds) == 1 else None
    if op is C.SUBPATTERN:
        return _kind(list(av[3]), at)
    if op is C.BRANCH:
        kinds = {_kind(list(alt), at) for alt in av[1]}
        return kinds.pop() if len(kinds) == 1 else None
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _kind(list(av[2]), at)
    return None


def _member_kind(op: Any, av: Any) -> bool | None:
    if op is C.LITERAL:
        return _is_word(av)
    if op is C.RANGE and av[1] - av[0] <= 512:
        kinds = {_is_word(c) for c in range(av[0], av[1] + 1)}
        return kinds.pop() if len(kinds) == 1 else None
    if op is C.CATEGORY:
        return {
            C.CATEGORY_WORD: True,
            C.CATEGORY_DIGIT: True,
            C.CATEGORY_NOT_WORD: False,
            C.CATEGORY_SPACE: False,
        }.get(av)
    return None  # a negation, a wide range


def _is_word(code: int) -> bool:
    """Python's \\w: alphanumeric in Unicode, or _."""
    char = chr(code)
    return char.isalnum() or char == "_"


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _ranges(pairs: tuple[tuple[int, int], ...]) -> str:
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in pairs)


def _complement(pairs: tuple[tuple[int, int], ...]) -> str:
    out, start = [], 0
    for a, b in pairs:
        if a > start:
            out.append((start, a - 1))
        start = b + 1
    out.append((start, 0x10FFFF))
    return _ranges(tuple(out))


def _category(code: Any, ascii_only: int) -> str | None:
    """A class item for \\d \\D \\w \\W \\s \\S; None for Unicode \\W (see `charset`)."""
    table = {
        C.CATEGORY_DIGIT: _ranges(_ASCII_DIGIT) if ascii_only else _DIGIT,
        C.CATEGORY_NOT_DIGIT: _complement(_ASCII_DIGIT) if ascii_only else r"\P{Nd}",
        C.CATEGORY_WORD: _ranges(_ASCII_WORD) if ascii_only else _WORD,
        C.CATEGORY_NOT_WORD: _complement(_ASCII_WORD) if ascii_only else None,
        C.CATEGORY_SPACE: _ranges(_ASCII_SPACE if ascii_only else _SPACES),
        C.CATEGORY_NOT_SPACE: _complement(_ASCII_SPACE if ascii_only else _SPACES),
    }
    if code not in table:
        raise PatternError(f"unsupported class {code}", "write the characters in [...].")
    return table[code]


def _quantifier(low: int, high: Any) -> str:
    if high is C.MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == 0 and high == 1:
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


_LINEAR = "bokfor runs patterns in time linear in the text (RE2), which cannot do this"


def _unsupported(pattern: str, op: Any, av: Any) -> PatternError:
    """What a construct is, why it is refused and what to write instead."""
    what, hint = {
        C.GROUPREF: (
            "a backreference (\\1)",
            "write the repeated text out, or test the field with two conditions.",
        ),
        C.GROUPREF_EXISTS: ("a conditional group (?(1)…)", "write two rules, one for each case."),
        C.ATOMIC_GROUP: (
            "an atomic group (?>…)",
            "write a plain group (?:…): the result of a yes/no test is the same.",
        ),
        C.POSSESSIVE_REPEAT: ("a possessive repeat (a++, a*+)", "write a+ or a*."),
    }.get(op, (None, None))
    if op in (C.ASSERT, C.ASSERT_NOT):
        direction, _ = av
        kind = (
            ("lookahead (?=…)" if op is C.ASSERT else "negative lookahead (?!…)")
            if direction == 1
            else ("lookbehind (?<=…)" if op is C.ASSERT else "negative lookbehind (?<!…)")
        )
        what = f"a {kind}"
        hint = (
            (
                "make the text it looks for part of the pattern: foo(?=bar) → foobar."
                if direction == 1
                else "make the text it looks for part of the pattern: (?<=foo)bar → foobar."
            )
            if op is C.ASSERT
            else "put a rule for the rows to leave out above this one (with their own "
            "postings, or skip: true), or use `not:` for exact values."
        )
    if what is None or hint is None:
        what, hint = f"the construct {str(op).lower()}", "write the pattern without it."
    return PatternError(f"regular expression {shown(pattern)} uses {what}: {_LINEAR}", hint)


def _refusal(pattern: str, error: Any) -> PatternError:
    """RE2's own refusals of a pattern Python accepts: sizes."""
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    if "repetition size" in text:
        return PatternError(
            f"regular expression {shown(pattern)} repeats a part more than "
            "1000 times, the most RE2 runs",
            "repeat at most 1000 times, e.g. \\d{1,1000}.",
        )
    if "too large" in text:
        return PatternError(
            f"regular expression {shown(pattern)} is too large for RE2 to run",
            "write a shorter pattern: fewer alternatives or repeats.",
        )
    return PatternError(
        f"regular expression {shown(pattern)} cannot be run: {text}",
        "write it without that construct.",
    )


# -- repeated repetition ---------------------------------------------------------------------

_ATOM = r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|[^\\()\[\]|*+?{}^$]"
_NESTED = re.compile(rf"\((?:\?:|\?P<\w+>)?({_ATOM})([+*])\)([+*])(\?)?")


def _check_nested(pattern: str, items: list[tuple[Any, Any]]) -> None:
    """Refuse `(X+)+`, `(X*)*`, `(X+)*`, `(X*)+`: each matches exactly what X+ or X*
    matches, and is the form that makes a backtracking engine take exponential time (the
    pattern would hang any tool the user tests it in). RE2 would run it; the simpler form is
    given instead."""
    for op, av in items:
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, high, body = av
            inner = _only_repeat(list(body))
            if high is C.MAXREPEAT and inner is not None:
                inner_low, inner_high, _ = inner
                if inner_high is C.MAXREPEAT and low <= 1 and inner_low <= 1:
                    raise _nested_error(pattern)
            _check_nested(pattern, list(body))
        elif op is C.SUBPATTERN:
            _check_nested(pattern, list(av[3]))
        elif op is C.BRANCH:
            for alt in av[1]:
                _check_nested(pattern, list(alt))
        elif op in (C.ASSERT, C.ASSERT_NOT):
            _check_nested(pattern, list(av[1]))


def _only_repeat(body: list[tuple[Any, Any]]) -> tuple[int, Any, Any] | None:
    """The repeat that is all of `body`, through plain groups: `(a+)` -> (1, MAX, a)."""
    while len(body) == 1 and body[0][0] is C.SUBPATTERN and not body[0][1][1] and not body[0][1][2]:
        body = list(body[0][1][3])
    if len(body) == 1 and body[0][0] in (C.MAX_REPEAT, C.MIN_REPEAT):
        return body[0][1]
    return None


def _nested_error(pattern: str) -> PatternError:
    found = _NESTED.search(pattern)
    if found and not _still_nested(pattern[: found.start()] + "x" + pattern[found.end() :]):
        atom, inner, outer = found.group(1), found.group(2), found.group(3)
        simpler = f"{atom}{'+' if inner == outer == '+' else '*'}"
        safe = pattern[: found.start()] + simpler + pattern[found.end() :]
        part = found.group()
        hint = f"write {shown(safe)}: it matches exactly the same text."
    else:
        part = "(X+)+"
        hint = "drop the outer repeat: (X+)+ matches exactly the same text as X+."
    return PatternError(
        f"regular expression {shown(pattern)} repeats a repeat: {part} takes exponential time "
        "in a backtracking engine",
        hint,
    )


def _still_nested(pattern: str) -> bool:
    """Whether the text `_NESTED` found was not the nested repeat (inside a class, say)."""
    try:
        _check_nested(pattern, list(P.parse(pattern)))
    except (PatternError, re.error):
        return True
    return False
