"""The export ledger: what bokfor has exported, so that no row is ever booked twice.

An embedded SQLite file (stdlib `sqlite3`, no server), by default beside the mapping. It
records, per exported verifikation, the source keys of its rows, each row's
booking-relevant content (to tell a changed row from an exported one), the lines each row gave (so a correction can reverse exactly what
was booked), and where the export went (file + sha256; later a Fortnox series/number).

Crash safety (docs/ledger.md): an export is first recorded as `pending` and committed,
then the file is written (temp + fsync + rename), then the export is marked `done`. A run
that finds a pending export decides from the file on disk whether the rename happened:
the target holds exactly the recorded bytes -> done; otherwise the export never became
visible and its records are dropped, so its rows are new again. One writer at a time: a lock
file beside the ledger, waited for a bounded time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from filelock import FileLock, Timeout

from bokfor import __version__
from bokfor.domain import Line, Notice, Voucher, make_dims
from bokfor.errors import BokforError, EXIT_BUSY

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        version TEXT NOT NULL,
        mapping TEXT NOT NULL
    );
    CREATE TABLE exports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
        target TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        first_date TEXT,
        last_date TEXT,
        vouchers INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE vouchers (
        id INTEGER PRIMARY KEY,
        export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        series TEXT NOT NULL,
        number INTEGER,
        date TEXT NOT NULL,
        text TEXT NOT NULL,
        lines TEXT NOT NULL
    );
    CREATE INDEX vouchers_export ON vouchers(export_id);
    CREATE INDEX vouchers_date ON vouchers(date);
    CREATE TABLE rows (
        key TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        content TEXT NOT NULL,
        voucher_id INTEGER NOT NULL REFERENCES vouchers(id) ON DELETE CASCADE,
        origin TEXT NOT NULL,
        lines TEXT NOT NULL
    );
    CREATE INDEX rows_voucher ON rows(voucher_id);
    CREATE TABLE aliases (
        alias TEXT PRIMARY KEY,
        key TEXT NOT NULL REFERENCES rows(key) ON DELETE CASCADE
    );
    CREATE INDEX aliases_key ON aliases(key);
    """,
]


class LedgerBusy(BokforError):
    """Another bokfor run holds the ledger: try again later (cron-safe exit code)."""

    exit_code = EXIT_BUSY


class LedgerError(BokforError):
    """The ledger file is damaged, newer than this bokfor, or a record was not found."""


@dataclass(frozen=True)
class ExportedRow:
    key: str
    content: str  # plan.content_of: name=value parts joined by U+001F
    voucher_id: int
    origin: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class ExportRecord:
    id: int
    run_id: int
    state: str
    target: str
    sha256: str
    first_date: str | None
    last_date: str | None
    vouchers: int
    rows: int
    created: str


@dataclass(frozen=True)
class RowRecord:
    """What one voucher in an export is made of, for the ledger: the voucher and, per source
    row in it, its content (plan.content_of), origin and own lines."""

    key: str
    source: str
    content: str
    origin: str
    lines: tuple[Line, ...]
    aliases: tuple[str, ...] = ()


def default_path(mapping: Path) -> Path:
    """`mappings/stripe.yaml` -> `mappings/stripe.ledger.sqlite`."""
    return mapping.with_name(mapping.stem + ".ledger.sqlite")


class Ledger:
    """Open with `Ledger.open(path)`; a missing file is an empty ledger until something is
    recorded (a dry run never creates one)."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None):
        self.path = path
        self._conn = conn

    # -- opening, locking, migrations ------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, write: bool = False) -> "Ledger":
        """Readers never create or migrate the file, so they cannot race a writer creating
        it; a file another run is still creating (schema version 0) reads as empty.
        `write=True` (only while holding `lock`) migrates an older ledger."""
        if not path.exists():
            return cls(path, None)
        conn = _connect(path, migrate=write)
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            conn.close()
            return cls(path, None)
        return cls(path, conn)

    @staticmethod
    @contextmanager
    def lock(path: Path, wait: float) -> Iterator[None]:
        """Hold the ledger's write lock; a second run waits `wait` seconds, then gives up."""
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock")
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise LedgerBusy(
                f"another bokfor run is using the ledger (waited {wait:g} s)",
                file=str(path),
                hint="let it finish and run again; --wait SECONDS waits longer.",
            ) from None
        try:
            yield
        finally:
            lock.release()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection for writing: creates and migrates the file. Callers hold the lock."""
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = _connect(self.path, migrate=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reading -------------------------------------------------------------------------

    def contents(self) -> dict[str, tuple[str, int, str]]:
        """key -> (content, voucher id, source) of every exported row. By key across all
        sources: two kinds of export can carry the same transaction under the same key."""
        if self._conn is None:
            return {}
        cur = self._conn.execute("SELECT key, content, voucher_id, source FROM rows")
        return {key: (content, vid, source) for key, content, vid, source in cur}

    def row(self, key: str) -> ExportedRow | None:
        if self._conn is None:
            return None
        found = self._conn.execute(
            "SELECT key, content, voucher_id, origin, lines FROM rows WHERE key = ?",
            (key,)).fetchone()
        if found is None:
            return None
        key, content, vid, origin, lines = found
        return ExportedRow(key, content, vid, origin, lines_from_json(lines))

    def alias_owners(self) -> dict[str, str]:
        """alias -> the key it was exported under (e.g. stripe-charge:ch_… -> stripe:txn_…)."""
        if self._conn is None:
            return {}
        return dict(self._conn.execute("SELECT alias, key FROM aliases"))

    def source_of(self, key: str) -> str | None:
        if self._conn is None:
            return None
        found = self._conn.execute("SELECT source FROM rows WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def vouchers(self, ids: Iterable[int]) -> dict[int, Voucher]:
        """Exported vouchers by id, rebuilt from the ledger (for `=` lines of a plan)."""
        if self._conn is None:
            return {}
        out: dict[int, Voucher] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            cur = self._conn.execute(
                f"SELECT id, series, number, date, text, lines FROM vouchers WHERE id IN "
                f"({','.join('?' * len(chunk))})", chunk)
            for vid, series, number, date, text, lines in cur:
                out[vid] = Voucher(series, dt.date.fromisoformat(date), text,
                                   lines_from_json(lines), number=number)
        return out

    def vouchers_between(self, first: dt.date, last: dt.date) -> list[Voucher]:
        """Exported vouchers dated in [first, last], in export order (for `plan --diff`)."""
        if self._conn is None:
            return []
        cur = self._conn.execute(
            "SELECT v.series, v.number, v.date, v.text, v.lines FROM vouchers v "
            "JOIN exports e ON e.id = v.export_id WHERE e.state = 'done' AND v.date BETWEEN ? "
            "AND ? ORDER BY v.date, e.id, v.seq", (first.isoformat(), last.isoformat()))
        return [Voucher(series, dt.date.fromisoformat(date), text, lines_from_json(lines),
                        number=number) for series, number, date, text, lines in cur]

    def state(self) -> tuple[int, int, int]:
        """Changes whenever an export is added, settled or forgotten (ids are never reused):
        a run that planned without the lock re-plans if this moved before it got the lock."""
        if self._conn is None:
            return (0, 0, 0)
        count, last, pending = self._conn.execute(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(state = 'pending'), 0) "
            "FROM exports").fetchone()
        return count, last, pending

    def exports(self) -> list[ExportRecord]:
        if self._conn is None:
            return []
        cur = self._conn.execute(
            "SELECT id, run_id, state, target, sha256, first_date, last_date, vouchers, rows, "
            "created FROM exports ORDER BY id")
        return [ExportRecord(*row) for row in cur]

    def export_of_row(self, key: str) -> ExportRecord | None:
        if self._conn is None:
            return None
        found = self._conn.execute(
            "SELECT e.id, e.run_id, e.state, e.target, e.sha256, e.first_date, e.last_date, "
            "e.vouchers, e.rows, e.created FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "JOIN exports e ON e.id = v.export_id WHERE r.key = ?", (key,)).fetchone()
        return ExportRecord(*found) if found else None

    # -- writing ---------------------------------------------------------------------------

    def begin_export(self, *, mapping: Path, target: Path, data: bytes,
                     vouchers: list[tuple[Voucher, list[RowRecord]]]) -> int:
        """Record an export as pending (committed before the file is written)."""
        conn = self.conn
        now = _now()
        with conn:
            run_id = conn.execute("INSERT INTO runs (started, version, mapping) VALUES (?, ?, ?)",
                                  (now, __version__, str(mapping))).lastrowid
            dates = [v.date for v, _ in vouchers]
            export_id = conn.execute(
                "INSERT INTO exports (run_id, state, target, sha256, first_date, last_date, "
                "vouchers, rows, created) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, str(target.resolve()), hashlib.sha256(data).hexdigest(),
                 min(dates).isoformat() if dates else None,
                 max(dates).isoformat() if dates else None, len(vouchers),
                 sum(len(rows) for _, rows in vouchers), now)).lastrowid
            # Ids assigned here (we hold the lock and the transaction) so that all vouchers,
            # rows and aliases go in with one statement each, not two per voucher.
            first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM vouchers").fetchone()[0]
            conn.executemany(
                "INSERT INTO vouchers (id, export_id, seq, series, number, date, text, lines) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(first + seq, export_id, seq, v.series, v.number, v.date.isoformat(), v.text,
                  lines_to_json(v.lines)) for seq, (v, _) in enumerate(vouchers)])
            # A corrected row replaces its earlier record; the old voucher stays as history.
            conn.executemany(
                "INSERT OR REPLACE INTO rows (key, source, content, voucher_id, origin, lines) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.key, r.source, r.content, first + seq, r.origin, lines_to_json(r.lines))
                 for seq, (_, rows) in enumerate(vouchers) for r in rows])
            conn.executemany("INSERT OR REPLACE INTO aliases (alias, key) VALUES (?, ?)",
                             [(a, r.key) for _, rows in vouchers for r in rows for a in r.aliases])
        assert export_id is not None
        return export_id

    def finish_export(self, export_id: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE exports SET state = 'done' WHERE id = ?", (export_id,))

    def forget(self, export_id: int) -> ExportRecord:
        """Delete an export and its rows (after the import was undone in the target system)."""
        record = next((e for e in self.exports() if e.id == export_id), None)
        if record is None:
            raise LedgerError(f"no export {export_id} in the ledger", file=str(self.path),
                              hint="`bokfor ledger list` shows the exports.")
        with self.conn:
            self.conn.execute("DELETE FROM exports WHERE id = ?", (export_id,))
        return record

    def recover(self) -> list[Notice]:
        """Settle exports a crash left pending: done if the file holds exactly the recorded
        bytes (the rename happened), otherwise dropped (the file never appeared)."""
        notices: list[Notice] = []
        for export in self.exports():
            if export.state != "pending":
                continue
            target = Path(export.target)
            if _sha256(target) == export.sha256:
                self.finish_export(export.id)
                notices.append(Notice(
                    f"an interrupted run had written {target} completely; its {export.rows} "
                    "rows are recorded as exported", file=str(self.path)))
            else:
                with self.conn:
                    self.conn.execute("DELETE FROM exports WHERE id = ?", (export.id,))
                notices.append(Notice(
                    f"an interrupted run never finished writing {target}; its {export.rows} "
                    "rows were not exported and will be booked by this run", file=str(self.path)))
            _remove_temp_files(target)
        return notices


def lines_to_json(lines: Iterable[Line]) -> str:
    return json.dumps([[l.account, l.amount, [list(d) for d in l.dims], l.text] for l in lines],
                      ensure_ascii=False, separators=(",", ":"))


def lines_from_json(text: str) -> tuple[Line, ...]:
    return tuple(Line(account, amount, make_dims(dict(dims)), line_text)
                 for account, amount, dims, line_text in json.loads(text))


def _connect(path: Path, *, migrate: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        if migrate:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"the ledger cannot be opened: {exc}", file=str(path),
                          hint="is it a bokfor ledger? --ledger PATH names another.") from None
    if version > len(MIGRATIONS):
        raise LedgerError(
            f"the ledger was written by a newer bokfor (schema {version}, this one knows "
            f"{len(MIGRATIONS)})", file=str(path), hint="upgrade bokfor.")
    if not migrate and 0 < version < len(MIGRATIONS):
        raise LedgerError(
            f"the ledger has schema {version}; this bokfor uses {len(MIGRATIONS)}",
            file=str(path), hint="run `bokfor convert` once: it upgrades the ledger.")
    for target in range(version if migrate else len(MIGRATIONS), len(MIGRATIONS)):
        conn.executescript(f"BEGIN; {MIGRATIONS[target]} PRAGMA user_version = {target + 1}; "
                           "COMMIT;")
    return conn


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _remove_temp_files(target: Path) -> None:
    """Temp files `atomic_write` leaves when killed before its rename."""
    for stray in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            os.unlink(stray)
        except OSError:
            pass


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
