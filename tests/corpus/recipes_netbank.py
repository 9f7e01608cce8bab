"""Independent totals of the net-bank exports in the corpus (tests/corpus/cases/bank__*),
computed from the raw bytes with the standard library only, never through bokfor's readers:
the stdlib csv module for CSV/TSV, zipfile + ElementTree for xlsx (tests/corpus/sheets.py).

Each recipe takes the corpus file and its case and returns the file's net movement in öre
of the file's own currency (the harness converts it at the mapping's rate). The case says
how to read the file, in keys of its own:

    column: Belopp            # the signed amount's header cell; or
    column: {in: INN, out: UT}   # money in and out in two columns (out counted as its
                              #   absolute value, whatever sign the bank writes; in with
                              #   the sign it is written with)
    fee: Fee                  # optional: a fee column subtracted from each row
    delimiter: ";"            # csv: ";" "," or "tab"
    decimal: ","              # csv: the decimal mark; the other mark and spaces are
                              #   thousands separators and dropped
    encoding: latin-1         # csv: how the bytes are decoded
    skip: "Reservation "      # optional: a regular expression; a data line it matches
                              #   (pending rows, balance lines) is not counted

The header is the first line that holds the amount column's name as a cell; every later
line with a value in an amount column counts.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Callable

from tests.corpus.sheets import first_sheet


def _params(case: dict) -> dict:
    return {**case, **(case.get("total") or {})}


def _ore(text: str, decimal: str) -> int:
    """Öre of `text` written with `decimal` as the decimal mark: exact, or an error."""
    other = "," if decimal == "." else "."
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text).replace(other, "").replace(decimal, ".")
    value = Decimal(cleaned) * 100
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of öre")
    return int(value)


def _columns(params: dict) -> tuple[str, str | None, str | None]:
    """(signed amount or money-in column, money-out column, fee column)."""
    column = params["column"]
    if isinstance(column, dict):
        return column["in"], column["out"], params.get("fee")
    return column, None, params.get("fee")


def _sum(
    header: list[str], rows: list[list[str]], params: dict, number: Callable[[str], int]
) -> int:
    first, out, fee = _columns(params)
    index = {name.strip(): i for i, name in enumerate(header)}
    total = 0
    for cells in rows:

        def cell(name: str | None) -> str:  # called in this iteration only: `cells` is its row
            if name is None:
                return ""
            i = index[name]
            return cells[i].strip() if i < len(cells) and cells[i] is not None else ""  # noqa: B023

        if out is None:
            if cell(first):
                total += number(cell(first))
        else:
            total += number(cell(first)) if cell(first) else 0
            total -= abs(number(cell(out))) if cell(out) else 0
        if fee and cell(fee):
            total -= number(cell(fee))
    return total


def csv_total(path: Path, case: dict) -> int:
    """The net of a delimited text export (CSV or TSV)."""
    params = _params(case)
    delimiter = {"tab": "\t", "\\t": "\t"}.get(params["delimiter"], params["delimiter"])
    text = path.read_bytes().decode(params.get("encoding", "utf-8-sig"))
    skip = re.compile(params["skip"]) if params.get("skip") else None
    lines = text.splitlines()
    wanted = _columns(params)[0]
    start = next(
        i
        for i, line in enumerate(lines)
        if wanted in [c.strip() for c in next(csv.reader([line], delimiter=delimiter))]
    )
    header = next(csv.reader([lines[start].lstrip("\ufeff")], delimiter=delimiter))
    body = [
        line for line in lines[start + 1 :] if line.strip() and not (skip and skip.search(line))
    ]
    rows = list(csv.reader(io.StringIO("\n".join(body)), delimiter=delimiter))
    return _sum(header, rows, params, lambda t: _ore(t, params["decimal"]))


def xlsx_total(path: Path, case: dict) -> int:
    """The net of the first sheet of an xlsx workbook, its cells read from the sheet XML."""
    params = _params(case)
    table = first_sheet(path)
    wanted = _columns(params)[0]
    start = next(i for i, cells in enumerate(table) if wanted in [c.strip() for c in cells])
    return _sum(table[start], table[start + 1 :], params, lambda t: _ore(t, "."))


RECIPES: dict[str, Callable[[Path, dict], int]] = {"csv": csv_total, "xlsx": xlsx_total}
