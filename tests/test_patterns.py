"""User patterns (rule conditions, a profile's preamble_regex) in Python's syntax, run by RE2
in linear time: the same yes/no as Python's `re` on every class and anchor a mapping uses,
the constructs that need backtracking refused with a form that works."""

from __future__ import annotations

import re
import time

import pytest

from bokfor.patterns import PatternError, compile_pattern

# Every BMP character but the surrogates, and a few beyond.
CHARS = [chr(c) for c in [*range(0xD800), *range(0xE000, 0x10000), 0x1D7CE, 0x1F600, 0x10FFFF]]


@pytest.mark.parametrize(
    "pattern",
    [
        r"\d",
        r"\D",
        r"\w",
        r"\W",
        r"\s",
        r"\S",
        r"[\d.]",
        r"[\w-]",
        r"[\s,]",
        r"[\W\d]",
        r"[^\s\d]",
        r"(?a)\w",
        r"(?a)[^\W]",
        r"(?a)\s",
    ],
)
def test_classes_match_what_python_matches(pattern):
    """\\w matches å and 5, \\s a no-break space, as in Python (RE2's own are ASCII)."""
    ours, theirs = compile_pattern(pattern), re.compile(pattern)
    differ = [c for c in CHARS if ours.test(c) != bool(theirs.search(c))]
    assert differ == []


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"(?i)\blön", "Lön december"),
        (r"(?i)\blön", "utbetald LÖN"),
        (r"(?i)r[aä]nta", "RÄNTA"),
        (r"(?i)^(bg|bankgiro) ?(insättning|inbetalningar)", "BANKGIRO INSÄTTNING"),
        (r"(?i)faktura \d+", "Faktura ٣٤"),
        (r"^Chargeback withdrawal", "Chargeback withdrawal for"),
        (r"kr$", "100 kr\n"),
        (r"(?m)^b", "a\nb"),
        (r"(?s)a.b", "a\nb"),
        (r"a.b", "a-b"),
        (r"(?i:stripe) AB", "STRIPE AB"),
        (r"x\Z", "x"),
        (r"\Ax", "x"),
        (r"a{2,3}?b", "aab"),
        (r"(?x) foo \s bar  # a comment", "foo bar"),
        (r"[^a]", "b"),
        (r"\bö", "ö"),
        (r"(?i)\bårsavgift", "Bankens ÅRSAVGIFT"),
        (r"\b(öl|vin)\b", "köp öl."),
    ],
)
def test_shipped_forms_match_as_in_python(pattern, text):
    rx = compile_pattern(pattern)
    assert rx.test(text) == bool(re.search(pattern, text)) is True


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"(?i)\blön", "semesterlön"),
        (r"kr$", "100 kr\n\n"),
        (r"a.b", "a\nb"),
        (r"(?i:stripe) AB", "STRIPE ab"),
        (r"x\Z", "x\n"),
        (r"(?-i:a)", "A"),
        (r"\bölkassa", "köpölkassa"),
        (r"lön\b", "lönen"),
        (r"\b(öl|vin)\b", "ölen"),
    ],
)
def test_and_do_not_match_where_python_does_not(pattern, text):
    assert compile_pattern(pattern).test(text) is bool(re.search(pattern, text)) is False


EDGE = "aö5_ -\u00a0.é"


@pytest.mark.parametrize("boundary", [r"\b", r"\B"])
def test_a_boundary_at_either_end_is_pythons(boundary):
    """\\b at the pattern's start or end counts å, é and ö as letters, as Python does."""
    for char in EDGE:
        for pattern in (boundary + re.escape(char), re.escape(char) + boundary):
            rx = compile_pattern(pattern)
            for a in EDGE:
                for b in ["", *EDGE]:
                    text = a + b
                    assert rx.test(text) == bool(re.search(pattern, text)), (pattern, text)


def test_a_boundary_inside_the_pattern_is_ascii():
    """The one difference from Python left (docs/mapping.md): between a and ö RE2 sees a
    boundary, Python none."""
    assert compile_pattern(r"a\bö").test("aö") and not re.search(r"a\bö", "aö")


def test_without_the_extensions_class_search_answers():
    """The yes/no uses google-re2's extension class (twice as fast); without it, `search`."""
    rx = compile_pattern(r"(?i)\blön")
    assert rx._match is not None
    rx._match = None
    assert rx.test("Lön dec") and not rx.test("semesterlön")


def test_a_lone_surrogate_in_the_text_is_searched_not_fatal():
    assert compile_pattern("abc").test("x\udc80abc")


def test_search_gives_the_groups_a_profile_reads():
    found = compile_pattern(r"Konto:\s*([0-9][0-9 .\-]*[0-9])").search("Konto: 1234 56-7 x")
    assert found.group(1) == "1234 56-7"


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a|aa)+$",
        r"(\w+\s?)+$",
        r"(.*a){20}",
        r"(x+x+)+y",
        r"^(([a-z])+.)+[A-Z]([a-z])+$",
        r"\d+\d+\d+\d+x",
    ],
)
def test_patterns_that_backtrack_run_in_linear_time(pattern):
    """Each takes Python's `re` from seconds to years on such a text."""
    rx = compile_pattern(pattern)
    text = "a" * 200_000 + "!"
    start = time.perf_counter()
    rx.test(text)
    rx.test("1" * 200_000)
    assert time.perf_counter() - start < 1.0


def refusal(pattern: str) -> str:
    with pytest.raises(PatternError) as exc:
        compile_pattern(pattern)
    return f"{exc.value.message} | {exc.value.hint}"


LINEAR = "bokfor runs patterns in time linear in the text (RE2), which cannot do this"


@pytest.mark.parametrize(
    "pattern, expected",
    [
        (
            r"(a+)+$",
            "regular expression '(a+)+$' repeats a repeat: (a+)+ takes exponential time "
            "in a backtracking engine | write 'a+$': it matches exactly the same text.",
        ),
        (
            r"^(\d+)*x",
            "regular expression '^(\\d+)*x' repeats a repeat: (\\d+)* takes "
            "exponential time in a backtracking engine | write '^\\d*x': it matches exactly the "
            "same text.",
        ),
        (
            r"it's (?:[a-z]*)+",
            "regular expression 'it''s (?:[a-z]*)+' repeats a repeat: "
            "(?:[a-z]*)+ takes exponential time in a backtracking engine | write 'it''s [a-z]*': it "
            "matches exactly the same text.",
        ),
        (
            r"((ab)+)+",
            "regular expression '((ab)+)+' repeats a repeat: (X+)+ takes exponential "
            "time in a backtracking engine | drop the outer repeat: (X+)+ matches exactly the same "
            "text as X+.",
        ),
        (
            r"foo(?=bar)",
            f"regular expression 'foo(?=bar)' uses a lookahead (?=…): {LINEAR} | make "
            "the text it looks for part of the pattern: foo(?=bar) → foobar.",
        ),
        (
            r"(?i)stripe(?!.*refund)",
            "regular expression '(?i)stripe(?!.*refund)' uses a negative "
            f"lookahead (?!…): {LINEAR} | put a rule for the rows to leave out above this one (with "
            "their own postings, or skip: true), or use `not:` for exact values.",
        ),
        (
            r"(?<=SEK )\d+",
            f"regular expression '(?<=SEK )\\d+' uses a lookbehind (?<=…): {LINEAR} "
            "| make the text it looks for part of the pattern: (?<=foo)bar → foobar.",
        ),
        (
            r"(\w)\1",
            f"regular expression '(\\w)\\1' uses a backreference (\\1): {LINEAR} | write "
            "the repeated text out, or test the field with two conditions.",
        ),
        (
            r"(?>a+)b",
            f"regular expression '(?>a+)b' uses an atomic group (?>…): {LINEAR} | write "
            "a plain group (?:…): the result of a yes/no test is the same.",
        ),
        (
            r"a++b",
            f"regular expression 'a++b' uses a possessive repeat (a++, a*+): {LINEAR} | "
            "write a+ or a*.",
        ),
        (
            r"[^\W\d]+",
            f"regular expression '[^\\W\\d]+' uses a class [^\\W…] (word characters "
            f"less others): {LINEAR} | list the characters instead, e.g. [a-zåäöA-ZÅÄÖ] for "
            "letters.",
        ),
        (
            r"\d{5000}",
            "regular expression '\\d{5000}' repeats a part more than 1000 times, the "
            "most RE2 runs | repeat at most 1000 times, e.g. \\d{1,1000}.",
        ),
        (
            "(unclosed",
            "bad regular expression: missing ), unterminated subpattern at position 0 "
            "| see Python's `re` syntax; write \\( for a literal parenthesis.",
        ),
        (
            "(" * 5000 + ")" * 5000,
            "the regular expression nests groups too deeply | write it "
            "with fewer nested parentheses.",
        ),
        (  # Python's parser takes it; the translation for RE2 recursed out (a fuzzed mapping)
            "(" * 300 + ")" * 300,
            "the regular expression nests groups too deeply | write it "
            "with fewer nested parentheses.",
        ),
    ],
)
def test_refused_with_the_reason_and_a_form_that_works(pattern, expected):
    assert refusal(pattern) == expected


def test_a_pattern_too_large_to_run_is_refused():
    assert refusal(r"[\w\s]{1000}Q") == (
        "regular expression '[\\w\\s]{1000}Q' is too large for RE2 to run | write a shorter pattern: fewer alternatives or repeats."
    )
