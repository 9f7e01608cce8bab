"""Code page 437, the only character set SIE allows, and how bokfor gets text into it.

Stripe descriptions, bank texts and POS item names contain characters CP437 lacks (€, the
dashes and quotes word processors insert, Polish or Czech letters). A '?' in a bookkeeping
text is useless, so every such character is replaced by a readable equivalent from
TRANSLITERATION; failing that, by its base letter (NFKD: 'ő' -> 'o') when that base letter is
in CP437. Anything else is refused: the caller reports it, never guesses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

ENCODING = "cp437"

# Character -> replacement. Only consulted for characters CP437 cannot encode (NBSP and the
# other spaces are turned into plain spaces earlier, by `clean`). Documented in docs/sie.md.
TRANSLITERATION: dict[str, str] = {
    "\u20ac": "EUR",  # € euro sign
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′ prime
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″ double prime
    "\u2026": "...",  # … ellipsis
    "\u2022": "*",  # • bullet
    "\u00d7": "x",  # × multiplication sign
    "\u00a9": "(c)",  # ©
    "\u00ae": "(R)",  # ®
    "\u00d8": "\u00d6",  # Ø -> Ö (Danish/Norwegian to Swedish)
    "\u00f8": "\u00f6",  # ø -> ö
    "\u0160": "S",  # Š
    "\u0161": "s",  # š
    "\u017d": "Z",  # Ž
    "\u017e": "z",  # ž
    "\u0141": "L",  # Ł
    "\u0142": "l",  # ł
    "\u010c": "C",  # Č
    "\u010d": "c",  # č
    "\u0158": "R",  # Ř
    "\u0159": "r",  # ř
    "\u015a": "S",  # Ś
    "\u015b": "s",  # ś
    "\u0110": "D",  # Đ
    "\u0111": "d",  # đ
    "\u00d0": "D",  # Ð
    "\u00f0": "d",  # ð
    "\u00de": "Th",  # Þ
    "\u00fe": "th",  # þ
    "\u0152": "OE",  # Œ
    "\u0153": "oe",  # œ
    "\u0131": "i",  # ı dotless i
    "\u00ad": "",  # soft hyphen (invisible)
    "\u200b": "",  # zero-width space
    "\u200c": "",  # zero-width non-joiner
    "\u200d": "",  # zero-width joiner
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero-width no-break space / stray BOM
}

# Characters that are spaces to a reader; `clean` turns them into ' ' before anything else.
_SPACES = frozenset(
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)

_RUNS = re.compile(" {2,}")


class UnencodableError(ValueError):
    """`char` has no CP437 form and no transliteration."""

    def __init__(self, char: str) -> None:
        super().__init__(describe(char))
        self.char = char


def describe(char: str) -> str:
    """How messages name a character: 'X' (U+XXXX)."""
    return f"'{char}' (U+{ord(char):04X})"


def encodable(char: str) -> bool:
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def clean(text: str) -> str:
    """Text as SIE allows it: NFC, control characters (0-31, 127, C1) and odd spaces become
    one space, runs of spaces collapse, ends are trimmed."""
    chars = [
        " " if ch in _SPACES or unicodedata.category(ch) == "Cc" else ch
        for ch in unicodedata.normalize("NFC", text)
    ]
    return _RUNS.sub(" ", "".join(chars)).strip(" ")


@dataclass
class Transliterated:
    """`text` in CP437-encodable characters; `replaced` maps each replaced character to what
    was written instead."""

    text: str
    replaced: dict[str, str] = field(default_factory=dict)


def transliterate(text: str) -> Transliterated:
    """Replace characters CP437 lacks; raise UnencodableError for one that has no stand-in."""
    out: list[str] = []
    replaced: dict[str, str] = {}
    for ch in text:
        if encodable(ch):
            out.append(ch)
            continue
        sub = TRANSLITERATION.get(ch)
        if sub is None:
            sub = _base_letters(ch)
        if sub is None:
            raise UnencodableError(ch)
        replaced[ch] = sub
        out.append(sub)
    return Transliterated("".join(out), replaced)


def _base_letters(char: str) -> str | None:
    """NFKD without combining marks ('ő' -> 'o', 'ﬁ' -> 'fi'), if that is all CP437."""
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and base != char and all(encodable(c) for c in base):
        return base
    return None
