"""SIE records and the #KSUMMA checksum over them (spec §10).

The checksum is defined on the *contents* of records, not on the file's bytes: spacing,
field quotes and braces do not count. So it is computed over parsed records, and the reader
and the writer share this one implementation (and cannot disagree about what counts).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

# Labels of the brace lines that open and close a voucher block; not part of the checksum.
BLOCK_OPEN, BLOCK_CLOSE = "{", "}"

Field = str | tuple[str, ...]  # a plain field, or the items of an object list {1 "A" 6 "P"}


class Text(str):
    """A field the writer always quotes (names and texts); to the checksum just a string."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Record:
    """One line of a SIE file: `#LABEL` and its fields, contents only (quotes removed,
    `\\"` already turned into `"`). `line` is the 1-based line number when read from a file."""

    label: str
    fields: tuple[Field, ...] = ()
    line: int = 0


def checksum(records: list[Record], encoding: str = "cp437") -> int:
    """CRC-32 (zlib's) over the label and field contents of `records`, as an unsigned int.

    `records` are those after the opening #KSUMMA and before the closing one. Object-list
    items count one after another, without the braces, quotes or spaces between them.
    `encoding` is the file's: SIE files are CP437; a reader checking a file that came in
    another encoding uses the bytes that file actually held.
    """
    crc = 0
    for record in records:
        if record.label in (BLOCK_OPEN, BLOCK_CLOSE):
            continue
        crc = binascii.crc32(record.label.encode(encoding), crc)
        for item in record.fields:
            parts = item if isinstance(item, tuple) else (item,)
            for part in parts:
                crc = binascii.crc32(part.encode(encoding), crc)
    return crc & 0xFFFFFFFF
