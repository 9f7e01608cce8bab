"""Vouchers as Fortnox `POST /3/vouchers` bodies, and a reviewable batch of them on disk.

A body is exactly what Fortnox receives: `{"Voucher": {Description, TransactionDate,
VoucherSeries, Comments, VoucherRows: [...]}}`. Amounts are `Decimal`s with two decimals made
from integer öre (never a float); `to_json` writes them as JSON numbers digit for digit.
The financial year is not part of the body (`Year` is read-only in Fortnox): it goes in the
query, `POST /3/vouchers?financialyear=<Id>`.

Every body carries the voucher's bokfor key (`bokfor:<12 hex>`) at the end of its
Description (which the voucher list returns) and in Comments, so a voucher whose POST got no
answer can be found again (`FortnoxClient.find_by_key`). A push keys its bodies with its
export id as the context (push.key_context), so a push after `ledger forget` never takes the
forgotten voucher for its own; a batch's keys have none (bokfor never looks them up in
Fortnox, and they are written into the manifest before the export id exists).

Texts keep only the characters Fortnox's documented whitelist allows (formats-and-encoding
page: any letter, the digits, space and a fixed set of punctuation); other characters are
replaced (see REPLACEMENTS) and each replacement is reported once as a Notice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from bokfor.domain import Notice, Voucher
from bokfor.errors import OutputError
from bokfor.fileio import atomic_write

DESCRIPTION_MAX = 200
TRANSACTION_INFORMATION_MAX = 100
COMMENTS_MAX = 1000
KEY_PREFIX = "bokfor:"
MANIFEST = "manifest.json"
BATCH_FORMAT = "bokfor-fortnox-batch/1"

# Punctuation and symbols in Fortnox's whitelist that are certain from the page's rendering.
# The page's two apostrophe-like entries (shown as ’) may be typographic renderings of ASCII
# "'"; neither is relied on: apostrophes and quotes become the acute accent ´, which the
# list contains unambiguously.
_ALLOWED_SYMBOLS = frozenset(
    " \u2013:.`\u00b4,;^\u00a4#%\u00a7\u00a3$\u20ac\u00a2\u00a5\u00a9\u2122\u00b0&/()=+-*_!?"
    "\u00b2\u00b3\u00ae\u00bd@\\\u00a0\u0308\u030a"
)

REPLACEMENTS: dict[str, str] = {
    "'": "\u00b4",
    "\u2018": "\u00b4",
    "\u2019": "\u00b4",
    "\u201a": "\u00b4",
    "\u201b": "\u00b4",
    "\u2032": "\u00b4",
    '"': "\u00b4",
    "\u201c": "\u00b4",
    "\u201d": "\u00b4",
    "\u201e": "\u00b4",
    "\u201f": "\u00b4",
    "\u2033": "\u00b4",
    "\u00ab": "\u00b4",
    "\u00bb": "\u00b4",
    "<": "(",
    ">": ")",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "|": "/",
    "~": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u00b7": "*",
    "\u00d7": "x",
    "\t": " ",
    "\n": " ",
    "\r": " ",
    "\u00a0": " ",
    "\u2007": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": "",
    "\ufeff": "",
}


def allowed(char: str) -> bool:
    """Whether Fortnox accepts `char` in a text field (its documented whitelist)."""
    return char.isalpha() or "0" <= char <= "9" or char in _ALLOWED_SYMBOLS


@dataclass
class _Cleaner:
    notices: list[Notice] | None
    seen: set[str] = field(default_factory=set)

    def clean(self, value: str, what: str, limit: int | None) -> str:
        text = unicodedata.normalize("NFC", value)
        if not all(allowed(c) for c in text) or "\u00a0" in text:
            out = []
            for char in text:
                sub = _replacement(char)
                if sub != char:
                    self.note(
                        f"character {_describe(char)} is not allowed by Fortnox; "
                        f"written as {sub!r} (first in {what})",
                        char,
                    )
                out.append(sub)
            text = "".join(out)
        while "  " in text:
            text = text.replace("  ", " ")
        text = text.strip(" ")
        if limit is not None and len(text) > limit:
            self.note(
                f"{what}: text {text[:20] + '...'!r} is {len(text)} characters; cut to {limit}",
                None,
            )
            text = text[:limit].rstrip(" ")
        return text

    def note(self, message: str, char: str | None) -> None:
        if char is not None:
            if char in self.seen:
                return
            self.seen.add(char)
        if self.notices is not None:
            self.notices.append(Notice(message))


def _replacement(char: str) -> str:
    if char in REPLACEMENTS:
        return REPLACEMENTS[char]
    if allowed(char):
        return char
    if unicodedata.category(char).startswith(("C", "Z")):
        return " "
    decomposed = unicodedata.normalize("NFKD", char)
    if (
        decomposed != char
        and decomposed
        and all(allowed(c) or unicodedata.combining(c) for c in decomposed)
    ):
        return "".join(c for c in decomposed if allowed(c))
    return ""


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def clean_text(
    value: str, limit: int | None = None, notices: list[Notice] | None = None, what: str = "text"
) -> str:
    """`value` with only Fortnox-allowed characters, single-spaced, cut to `limit`."""
    return _Cleaner(notices).clean(value, what, limit)


# --- keys and amounts --------------------------------------------------------------------


def voucher_key(voucher: Voucher, *, context: str = "") -> str:
    """A short stable id for a voucher: `bokfor:` + 12 hex digits of a digest of its source
    keys (sorted), its date and its rows. The rows are included so that a correction's
    reversal and its new booking, which share the source keys, get keys of their own;
    `context` (e.g. the ledger's export id) separates two otherwise identical vouchers."""
    parts: list[str] = [context, voucher.date.isoformat(), *sorted(set(voucher.source_keys))]
    if not voucher.source_keys:
        parts += [voucher.series, voucher.text]
    parts += [f"{line.account}:{line.amount}:{line.dims}" for line in voucher.lines]
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=6).hexdigest()
    return KEY_PREFIX + digest


def amount(ore: int) -> Decimal:
    """Öre as an exact Decimal with two decimals (12345 -> Decimal('123.45'))."""
    if ore < 0:
        raise ValueError("Fortnox amounts are never negative")
    return Decimal(f"{ore // 100}.{ore % 100:02d}")


# --- bodies ------------------------------------------------------------------------------


def voucher_body(
    voucher: Voucher,
    *,
    key: str,
    series: str,
    year_id: int | None,
    notices: list[Notice] | None = None,
) -> dict[str, Any]:
    """The `POST /3/vouchers` body for `voucher`.

    `series` is the Fortnox series to book in (may differ from `voucher.series`). `year_id` is
    the financial year the caller posts to (`?financialyear=`); it is not part of the body,
    only checked (a year id is a positive integer). Replaced characters and cut texts are
    appended to `notices` as Notice objects. Rows of 0 öre are left out (Fortnox needs one
    non-zero side per row).
    """
    if year_id is not None and (not isinstance(year_id, int) or year_id <= 0):
        raise ValueError(f"financial year id must be a positive integer, not {year_id!r}")
    if not key.startswith(KEY_PREFIX):
        raise ValueError(f"a bokfor key starts with {KEY_PREFIX!r}: {key!r}")
    cleaner = _Cleaner(notices)
    where = f"voucher {voucher.date.isoformat()}"
    room = DESCRIPTION_MAX - len(key) - 1
    text = cleaner.clean(voucher.text, where, room) or "bokfor"
    rows: list[dict[str, Any]] = []
    for line in voucher.lines:
        if line.amount == 0:
            continue
        row: dict[str, Any] = {"Account": int(line.account)}
        if line.amount > 0:
            row["Debit"] = amount(line.amount)
        else:
            row["Credit"] = amount(-line.amount)
        dims = dict(line.dims)
        if 1 in dims:
            row["CostCenter"] = dims[1]
        if 6 in dims:
            row["Project"] = dims[6]
        if line.text:
            info = cleaner.clean(line.text, where, TRANSACTION_INFORMATION_MAX)
            if info:
                row["TransactionInformation"] = info
        if line.quantity is not None:
            row["Quantity"] = line.quantity
        rows.append(row)
    comments = f"{key} source: {' '.join(voucher.source_keys)}" if voucher.source_keys else key
    comments = cleaner.clean(comments, f"{where} comments", COMMENTS_MAX)
    body = {
        "Description": f"{text} {key}",
        "TransactionDate": voucher.date.isoformat(),
        "VoucherSeries": series,
        "Comments": comments,
        "VoucherRows": rows,
    }
    return {"Voucher": body}


def key_of(body: Mapping[str, Any]) -> str | None:
    """The bokfor key in a body's (or a listed voucher's) Description, if any."""
    voucher = body.get("Voucher", body)
    words = str(voucher.get("Description") or "").split()
    return words[-1] if words and words[-1].startswith(KEY_PREFIX) else None


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text for a body: Decimals as exact JSON numbers (json.dumps refuses them)."""
    return _dump(value, indent, 0)


def _dump(value: Any, indent: int | None, depth: int) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats have no place in a Fortnox body; use Decimal")
    if isinstance(value, Mapping):
        items = [
            f"{json.dumps(str(k), ensure_ascii=False)}:{' ' if indent else ''}"
            f"{_dump(v, indent, depth + 1)}"
            for k, v in value.items()
        ]
        return _join("{", "}", items, indent, depth)
    if isinstance(value, (list, tuple)):
        return _join("[", "]", [_dump(v, indent, depth + 1) for v in value], indent, depth)
    return json.dumps(value, ensure_ascii=False)


def _join(open_: str, close: str, items: list[str], indent: int | None, depth: int) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ",".join(items) + close
    pad = "\n" + " " * (indent * (depth + 1))
    return open_ + pad + ("," + pad).join(items) + "\n" + " " * (indent * depth) + close


def debit_total(body: Mapping[str, Any]) -> Decimal:
    return sum((r.get("Debit", Decimal(0)) for r in body["Voucher"]["VoucherRows"]), Decimal(0))


def credit_total(body: Mapping[str, Any]) -> Decimal:
    return sum((r.get("Credit", Decimal(0)) for r in body["Voucher"]["VoucherRows"]), Decimal(0))


# --- batch on disk -----------------------------------------------------------------------


@dataclass
class BatchResult:
    directory: Path
    files: list[Path]
    manifest: Path
    keys: list[str]
    notices: list[Notice]


@dataclass
class Batch:
    """A batch in memory: each file's name and bytes, the manifest's bytes last."""

    files: list[tuple[str, bytes]]
    manifest: bytes
    keys: list[str]
    bodies: list[dict[str, Any]]
    notices: list[Notice]


def build_batch(
    vouchers: Iterable[Voucher],
    *,
    series: str | None = None,
    year_for: Callable[[dt.date], int | None] | None = None,
    key_for: Callable[[Voucher], str] = voucher_key,
    extra: Mapping[str, Any] | None = None,
) -> Batch:
    """The batch `write_batch` writes, without writing it (so a caller can record the
    manifest's digest before a byte is on disk). `extra` goes into the manifest."""
    notices: list[Notice] = []
    files: list[tuple[str, bytes]] = []
    keys: list[str] = []
    bodies: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, voucher in enumerate(vouchers, start=1):
        key = key_for(voucher)
        if key in seen:
            raise OutputError(
                f"two vouchers of the batch have the same key {key}",
                hint="give each voucher distinct source keys or a context.",
            )
        seen.add(key)
        year_id = year_for(voucher.date) if year_for else None
        body = voucher_body(
            voucher, key=key, series=series or voucher.series, year_id=year_id, notices=notices
        )
        data = (to_json(body, indent=2) + "\n").encode("utf-8")
        name = f"{index:05d}-{key[len(KEY_PREFIX) :]}.json"
        files.append((name, data))
        keys.append(key)
        bodies.append(body)
        entries.append(
            {
                "file": name,
                "key": key,
                "date": voucher.date.isoformat(),
                "series": body["Voucher"]["VoucherSeries"],
                "financialyear": year_id,
                "debit": debit_total(body),
                "credit": credit_total(body),
                "source_keys": list(voucher.source_keys),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest = {
        "format": BATCH_FORMAT,
        "endpoint": "POST /3/vouchers?financialyear=<financialyear>",
        "count": len(entries),
        **dict(extra or {}),
        "vouchers": entries,
    }
    return Batch(files, (to_json(manifest, indent=2) + "\n").encode("utf-8"), keys, bodies, notices)


def write_files(batch: Batch, directory: Path) -> list[Path]:
    """Write a built batch: every body atomically, the manifest last, so a manifest always
    names complete files. Nothing else in the directory is touched (an unfinished earlier
    attempt's bodies are removed by the ledger, which recorded their names)."""
    directory = Path(directory)
    paths = []
    for name, data in batch.files:
        atomic_write(directory / name, data)
        paths.append(directory / name)
    atomic_write(directory / MANIFEST, batch.manifest)
    return paths


def write_batch(
    vouchers: Iterable[Voucher],
    directory: Path,
    *,
    series: str | None = None,
    year_for: Callable[[dt.date], int | None] | None = None,
    key_for: Callable[[Voucher], str] = voucher_key,
) -> BatchResult:
    """One JSON file per voucher (exactly its POST body) plus `manifest.json`, each written
    atomically; the manifest last, so a manifest always names complete files.

    `series` overrides each voucher's own series; `year_for(date)` gives the financial year
    id to post with (recorded in the manifest, `None` = unknown).
    """
    directory = Path(directory)
    batch = build_batch(vouchers, series=series, year_for=year_for, key_for=key_for)
    files = write_files(batch, directory)
    return BatchResult(directory, files, directory / MANIFEST, batch.keys, batch.notices)
