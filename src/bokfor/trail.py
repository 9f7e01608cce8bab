"""The trail, read back from the ledger: for a period or an export, every verifikation bokfor
wrote with the source rows it holds (file, sha256, line, key, rule, values, own lines), the
run that wrote it (when, who, where, the command, the bokfor and mapping versions) and the
rows that run read and did not book, with why. What `bokfor underlag` renders and `bokfor
archive` packs (Bokföringslagen 5 kap. 7 §: each verifikation traceable to its events).

Rows recorded before the trail existed (ledger schema < 5) have no file hash and no rule:
they say so (`SourceRow.before_trail`), they are never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from bokfor.domain import Dims, Line
from bokfor.ledger import Ledger, lines_from_json

BEFORE_TRAIL = "recorded before bokfor kept the trail (ledger schema 4 or older)"
# TrailVoucher.check: its rows' own lines add up to it exactly (SUMS) or not (OFF); its one
# row's lines are its lines, stored once (OWN); no row with lines of its own (NONE: a
# rättelse, whose row is booked again elsewhere).
SUMS, OFF, OWN, NONE = "sums", "off", "own", "none"


@dataclass(frozen=True)
class SourceRow:
    """A source row as the ledger holds it: booked into `voucher_id` giving `lines`."""

    key: str
    source: str
    origin: str  # file:line as read
    content: str  # name=value parts (plan.content_of)
    lines: tuple[Line, ...]
    rule: str | None
    file: str | None  # None: recorded before the trail
    sha256: str | None
    line: int | None
    own: bool = False  # its lines are its voucher's (stored once)
    parts: str = ""  # the file's lines it adds up, when more than its own ("12-15,17")

    @property
    def before_trail(self) -> bool:
        return self.file is None

    @property
    def values(self) -> dict[str, str]:
        return dict(part.partition("=")[::2] for part in self.content.split("\x1f") if part)


@dataclass(frozen=True)
class Input:
    path: str
    sha256: str
    size: int
    source: str


@dataclass(frozen=True)
class Skipped:
    file: str
    line: int
    key: str
    reason: str


@dataclass(frozen=True)
class Run:
    id: int
    started: str
    version: str
    mapping: str
    user: str | None
    host: str | None
    command: str | None
    mapping_sha256: str | None
    inputs: tuple[Input, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Export:
    id: int
    run: Run
    kind: str
    target: str
    sha256: str
    created: str
    imported: str | None


@dataclass(frozen=True)
class TrailVoucher:
    """A verifikation as written: `number` in its file (the #VER order Fortnox numbers an
    import by), or Fortnox's own series/number when it was pushed."""

    id: int
    export: Export
    number: int  # 1-based place in its export
    series: str
    date: dt.date
    text: str
    lines: tuple[Line, ...]
    rows: list[SourceRow] = field(default_factory=list)
    fortnox: str | None = None  # "A 45, räkenskapsår-id 3" once posted (Fortnox's year Id)

    @property
    def name(self) -> str:
        return f"{self.export.id}:{self.number}"

    def row_totals(self) -> dict[tuple[str, Dims], int]:
        """Per account and dimensions, what its rows' own lines add up to."""
        return _totals(line for row in self.rows for line in row.lines)

    def totals(self) -> dict[tuple[str, Dims], int]:
        return _totals(self.lines)

    @property
    def check(self) -> str:
        """What its rows say of its lines: SUMS, OFF, OWN or NONE (above)."""
        if len(self.rows) == 1 and self.rows[0].own:
            return OWN
        if not any(r.lines for r in self.rows):
            return NONE
        return SUMS if self.row_totals() == self.totals() else OFF


@dataclass(frozen=True)
class MappingVersion:
    sha256: str
    path: str
    text: str
    first_used: str
    last_used: str
    previous: str | None
    diff: str | None


@dataclass
class Trail:
    ledger: str
    vouchers: list[TrailVoucher]
    exports: list[Export]
    mappings: list[MappingVersion]

    def voucher_of(self, key: str) -> TrailVoucher | None:
        """The verifikation holding the row `key` (the trail from a row to its voucher)."""
        return next((v for v in self.vouchers for r in v.rows if r.key == key), None)

    def skipped(self) -> list[Skipped]:
        return [s for e in _unique_runs(self.exports) for s in e.skipped]


def read_trail(
    ledger: Ledger,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    export: int | None = None,
) -> Trail:
    """The trail of the done exports' vouchers dated in [first, last] (or of one export), in
    export and file order."""
    conn = ledger.conn
    where: list[str] = ["e.state = 'done'"]
    args: list[object] = []
    if export is not None:
        where.append("e.id = ?")
        args.append(export)
    if first is not None:
        where.append("v.date >= ?")
        args.append(first.isoformat())
    if last is not None:
        where.append("v.date <= ?")
        args.append(last.isoformat())
    found = conn.execute(
        "SELECT v.id, v.export_id, v.seq, v.series, v.number, v.date, v.text, v.lines, "
        "p.fortnox_series, p.fortnox_number, p.fortnox_year FROM vouchers v "
        "JOIN exports e ON e.id = v.export_id LEFT JOIN pushes p ON p.voucher_id = v.id "
        f"WHERE {' AND '.join(where)} ORDER BY v.export_id, v.seq",
        args,
    ).fetchall()
    exports = _exports(ledger, sorted({row[1] for row in found}))
    vouchers = [
        TrailVoucher(
            vid,
            exports[eid],
            seq + 1,
            series,
            dt.date.fromisoformat(date),
            text,
            lines_from_json(lines),
            fortnox=f"{fs} {fn}" + (f", räkenskapsår-id {fy}" if fy else "") if fs else None,
        )
        for vid, eid, seq, series, _, date, text, lines, fs, fn, fy in found
    ]
    _add_rows(ledger, {v.id: v for v in vouchers})
    versions = [
        MappingVersion(*row)
        for row in conn.execute(
            "SELECT sha256, path, text, first_used, last_used, previous, diff FROM mappings "
            "ORDER BY first_used, rowid"
        )
    ]
    return Trail(str(ledger.path), vouchers, list(exports.values()), versions)


def _exports(ledger: Ledger, ids: list[int]) -> dict[int, Export]:
    conn = ledger.conn
    runs: dict[int, Run] = {}
    out: dict[int, Export] = {}
    for eid in ids:
        eid_, run_id, kind, target, sha256, created, imported = conn.execute(
            "SELECT id, run_id, kind, target, sha256, created, imported FROM exports WHERE id = ?",
            (eid,),
        ).fetchone()
        if run_id not in runs:
            runs[run_id] = _run(ledger, run_id)
        out[eid] = Export(eid_, runs[run_id], kind, target, sha256, created, imported)
    return out


def _run(ledger: Ledger, run_id: int) -> Run:
    conn = ledger.conn
    row = conn.execute(
        "SELECT id, started, version, mapping, user, host, command, mapping_sha256 FROM runs "
        "WHERE id = ?",
        (run_id,),
    ).fetchone()
    inputs = {
        iid: Input(path, sha, size, source)
        for iid, path, sha, size, source in conn.execute(
            "SELECT id, path, sha256, size, source FROM inputs WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
    }
    skipped = tuple(
        Skipped(inputs[iid].path if iid in inputs else "?", line, key, reason)
        for iid, line, key, reason in conn.execute(
            "SELECT input_id, line, key, reason FROM skipped WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
    )
    rid, started, version, mapping, user, host, command, sha = row
    return Run(
        rid, started, version, mapping, user, host, command, sha, tuple(inputs.values()), skipped
    )


def _add_rows(ledger: Ledger, vouchers: dict[int, TrailVoucher]) -> None:
    """Each voucher's rows: those recorded with it now, and those a later correction took
    over (kept in `superseded`), in file order."""
    ids = sorted(vouchers)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for table in ("rows", "superseded"):
            for (
                vid,
                key,
                source,
                origin,
                content,
                lines,
                rule,
                path,
                sha,
                parts,
            ) in ledger.conn.execute(
                f"SELECT r.voucher_id, r.key, r.source, r.origin, r.content, r.lines, r.rule, "
                f"i.path, i.sha256, r.parts FROM {table} r LEFT JOIN inputs i "
                f"ON i.id = r.input_id "
                f"WHERE r.voucher_id IN ({marks})",
                chunk,
            ):
                voucher = vouchers[vid]
                voucher.rows.append(
                    SourceRow(
                        key,
                        source,
                        origin,
                        content,
                        voucher.lines if lines == "" else lines_from_json(lines),
                        rule,
                        path,
                        sha,
                        int(origin.rpartition(":")[2]) if path else None,
                        lines == "",
                        parts or "",
                    )
                )
    for voucher in vouchers.values():
        voucher.rows.sort(key=lambda r: (r.origin.rpartition(":")[0], _line(r.origin), r.key))


def _line(origin: str) -> int:
    tail = origin.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _totals(lines: Iterable[Line]) -> dict[tuple[str, Dims], int]:
    out: dict[tuple[str, Dims], int] = defaultdict(int)
    for line in lines:
        out[line.account, line.dims] += line.amount
    return {k: v for k, v in out.items() if v}


def _unique_runs(exports: list[Export]) -> list[Run]:
    return list({e.run.id: e.run for e in exports}.values())
