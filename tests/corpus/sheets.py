"""The first sheet of an xlsx workbook as rows of cell texts, read from the workbook's XML
with the standard library (zipfile + ElementTree), never through bokfor's readers: what the
corpus recipes (tests/corpus/recipes_*.py) compute their totals from."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def first_sheet(path: Path) -> list[list[str]]:
    """Every row of the workbook's first sheet, its cells as text ("" where none), each row as
    long as its last cell."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        strings: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            strings = [
                "".join(t.text or "" for t in si.iter(f"{_MAIN}t"))
                for si in root.iter(f"{_MAIN}si")
            ]
        sheet = sorted(n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))[0]
        root = ElementTree.fromstring(archive.read(sheet))
    table: list[list[str]] = []
    for row in root.iter(f"{_MAIN}row"):
        cells: dict[int, str] = {}
        for c in row.iter(f"{_MAIN}c"):
            letters = re.match(r"[A-Z]+", c.get("r", "")).group()  # type: ignore[union-attr]
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            v = c.find(f"{_MAIN}v")
            inline = c.find(f"{_MAIN}is")
            if c.get("t") == "s" and v is not None:
                value = strings[int(v.text or "0")]
            elif inline is not None:
                value = "".join(t.text or "" for t in inline.iter(f"{_MAIN}t"))
            else:
                value = v.text or "" if v is not None else ""
            cells[col - 1] = value
        table.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
    return table
