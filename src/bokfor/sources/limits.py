"""The sizes an input table may have, in one place, and the error for one that is larger.

A cron job on a small server must end in one message within seconds whatever file it is
given: a CSV with a million columns, a line of a gigabyte, a workbook whose 1 MB inflate
to 200 MB of shared strings. Each cap is far above the largest real export (measured on the
corpus of public exports: at most 33 columns, a 1 KiB line, a 1.5 KiB cell, a 1.2 MiB sheet,
a 5 KiB shared-strings part) and far below what would cost memory or minutes.

A `LimitError` is about the file, whatever its format: detectors do not swallow it as "not
mine", so the user reads the limit, not "no format matches".
"""

from __future__ import annotations

from bokfor.errors import InputError

# -- CSV / TSV / HTML tables / sheet rows ------------------------------------------------
MAX_COLUMNS = 1000  # fields in one record
MAX_LINE = 1 << 20  # characters in one line; a record spanning lines may not exceed it either
MAX_CELL = 64 << 10  # characters in one field (csv.field_size_limit)

# -- xlsx workbooks (a zip archive: sizes read from its directory, before inflating) ------
# openpyxl parses the shared strings whole when it opens a workbook (~1 MB/s for short
# strings, ~10 bytes of RSS per byte of XML), and every sheet that declares no size to find
# it (~4 MB/s); rows are streamed at ~3 MB/s. Measured worst cases just under the caps,
# once a run: 8 MiB of shared strings 11 s / 128 MiB, a 32 MiB sheet 9 s / 86 MiB. A busy
# year of Zettle receipts (36k rows) is a ~15 MB sheet.
MAX_UNCOMPRESSED = 64 << 20  # bytes the whole archive may inflate to
MAX_RATIO = 200  # uncompressed / compressed, per member over 1 MiB (real sheets: 5-20)
MAX_SHARED_STRINGS = 8 << 20  # bytes of the shared-strings part inflated
MAX_PART = 32 << 20  # bytes of any other part (a sheet) inflated
MAX_ROWS = 2_000_000  # rows of a sheet or an HTML table

_FIX = "no real export comes near this limit"


class LimitError(InputError):
    """An input larger than a cap above: refused before it costs memory or time."""


def size(n: int) -> str:
    """1048576 -> '1 MiB', 65536 -> '64 KiB' (the caps are whole KiB or MiB)."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def count(n: int) -> str:
    """1000017 -> '1 000 017' (Swedish grouping, as elsewhere in messages)."""
    return f"{n:,}".replace(",", " ")


def too_many_columns(n: int, file: str, line: int, hint: str = "") -> LimitError:
    return LimitError(
        f"the line has {count(n)} fields, more than the {count(MAX_COLUMNS)} "
        "bokfor reads in a table",
        file=file,
        line=line,
        hint=_hint(hint),
    )


def line_too_long(file: str, line: int, hint: str = "") -> LimitError:
    return LimitError(
        f"the line is longer than {size(MAX_LINE)}, the longest line bokfor reads in a table",
        file=file,
        line=line,
        hint=_hint(hint),
    )


def cell_too_large(file: str, line: int | None, hint: str = "") -> LimitError:
    return LimitError(
        f"a field is longer than {size(MAX_CELL)}, the longest field bokfor reads in a table",
        file=file,
        line=line,
        hint=_hint(hint),
    )


def _hint(hint: str) -> str:
    return f"{_FIX}; {hint or 'give bokfor the file as it was downloaded, unedited.'}"
