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
from typing import Iterable, Iterator

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
    content: str  # name=value parts (classify.content_of)
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
    """The trail of some exported vouchers, read from the open ledger as it is walked: a
    year of a busy shop's rows is never held whole (read it inside `Ledger.snapshot()` to
    see one state of the ledger throughout)."""

    ledger: Ledger
    exports: list[Export]
    mappings: list[MappingVersion]
    count: int  # vouchers
    _where: str
    _args: tuple[object, ...]

    def vouchers(self, chunk: int = 16) -> Iterator[TrailVoucher]:
        """The vouchers with their rows, in export and file order, `chunk` at a time (a
        day's voucher of a busy shop holds thousands of rows)."""
        cursor = self.ledger.conn.execute(
            _VOUCHERS + f"WHERE {self._where} ORDER BY v.export_id, v.seq", self._args
        )
        exports = {e.id: e for e in self.exports}
        while batch := cursor.fetchmany(chunk):
            vouchers = [_voucher(row, exports) for row in batch]
            _add_rows(self.ledger, {v.id: v for v in vouchers})
            yield from vouchers

    def voucher_of(self, key: str) -> TrailVoucher | None:
        """The verifikation (of these) holding the row `key`: the trail from a row to its
        voucher. A row a correction took over is in the correction's."""
        found = self.ledger.conn.execute(
            _VOUCHERS + f"WHERE {self._where} AND v.id = (SELECT voucher_id FROM rows "
            "WHERE key = ?)",
            (*self._args, key),
        ).fetchone()
        if found is None:
            return None
        voucher = _voucher(found, {e.id: e for e in self.exports})
        _add_rows(self.ledger, {voucher.id: voucher})
        return voucher

    def skipped(self, run: int | None = None) -> Iterator[Skipped]:
        """The rows the runs of these exports (or `run`) read and did not book, with why."""
        for run_id in self._runs(run):
            for path, line, key, reason in self.ledger.conn.execute(
                "SELECT coalesce(i.path, '?'), s.line, s.key, s.reason FROM skipped s "
                "LEFT JOIN inputs i ON i.id = s.input_id WHERE s.run_id = ? ORDER BY s.rowid",
                (run_id,),
            ):
                yield Skipped(path, line, key, reason)

    def skipped_count(self, run: int | None = None) -> int:
        return sum(
            self.ledger.conn.execute(
                "SELECT count(*) FROM skipped WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            for run_id in self._runs(run)
        )

    def _runs(self, run: int | None) -> list[int]:
        """`run`, or the runs of these exports."""
        return [run] if run is not None else sorted({e.run.id for e in self.exports})


_VOUCHERS = (
    "SELECT v.id, v.export_id, v.seq, v.series, v.date, v.text, v.lines, p.fortnox_series, "
    "p.fortnox_number, p.fortnox_year FROM vouchers v JOIN exports e ON e.id = v.export_id "
    "LEFT JOIN pushes p ON p.voucher_id = v.id "
)


def _voucher(row: tuple, exports: dict[int, Export]) -> TrailVoucher:
    vid, eid, seq, series, date, text, lines, fs, fn, fy = row
    return TrailVoucher(
        vid,
        exports[eid],
        seq + 1,
        series,
        dt.date.fromisoformat(date),
        text,
        lines_from_json(lines),
        fortnox=f"{fs} {fn}" + (f", räkenskapsår-id {fy}" if fy else "") if fs else None,
    )


def read_trail(
    ledger: Ledger,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    export: int | None = None,
    number: int | None = None,
) -> Trail:
    """The trail of the done exports' vouchers dated in [first, last] (or of one export, or
    its `number`-th voucher), in export and file order."""
    conn = ledger.conn
    where: list[str] = ["e.state = 'done'"]
    args: list[object] = []
    if export is not None:
        where.append("e.id = ?")
        args.append(export)
    if number is not None:
        where.append("v.seq = ?")
        args.append(number - 1)
    if first is not None:
        where.append("v.date >= ?")
        args.append(first.isoformat())
    if last is not None:
        where.append("v.date <= ?")
        args.append(last.isoformat())
    clause = " AND ".join(where)
    ids, count = [], 0
    for eid, n in conn.execute(
        "SELECT v.export_id, count(*) FROM vouchers v JOIN exports e ON e.id = v.export_id "
        f"WHERE {clause} GROUP BY v.export_id ORDER BY v.export_id",
        args,
    ):
        ids.append(eid)
        count += n
    versions = [
        MappingVersion(*row)
        for row in conn.execute(
            "SELECT sha256, path, text, first_used, last_used, previous, diff FROM mappings "
            "ORDER BY first_used, rowid"
        )
    ]
    exports = list(_exports(ledger, ids).values())
    return Trail(ledger, exports, versions, count, clause, tuple(args))


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
    rid, started, version, mapping, user, host, command, sha = row
    return Run(rid, started, version, mapping, user, host, command, sha, tuple(inputs.values()))


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
