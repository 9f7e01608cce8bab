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
import difflib
import functools
import getpass
import gc
import glob
import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar

from filelock import FileLock, Timeout

from bokfor import __version__
from bokfor.domain import Dims, Line, Notice, Voucher, VoucherColumns, dates_of, make_dims
from bokfor.errors import EXIT_BUSY, EXIT_FAILURE, BokforError
from bokfor.fileio import (
    file_sha256,
    fsync_dir,
    linked,
    new_file_mode,
    open_nowait,
    read_head,
)

if TYPE_CHECKING:
    import polars as pl

    from bokfor.spool import RecordSpool

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
    # 2: Fortnox. An export is a SIE file ('sie'), a batch directory ('fortnox-batch', its
    # target the manifest) or a push to the API ('fortnox-push'). `pushes` holds one record
    # per voucher of a push: 'pending' (committed before its POST; its rows wait in `records`
    # and are not in `rows` yet) or 'posted' (Fortnox's series, number and year; the rows
    # are in `rows`).
    """
    ALTER TABLE exports ADD COLUMN kind TEXT NOT NULL DEFAULT 'sie';
    CREATE TABLE pushes (
        voucher_id INTEGER PRIMARY KEY REFERENCES vouchers(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'posted')),
        date TEXT NOT NULL,
        series TEXT NOT NULL,
        year_id INTEGER,
        body TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        records TEXT NOT NULL,
        fortnox_series TEXT,
        fortnox_number INTEGER,
        fortnox_year INTEGER,
        updated TEXT NOT NULL
    );
    CREATE INDEX pushes_key ON pushes(key);
    CREATE INDEX pushes_state ON pushes(state);
    """,
    # 3: `rows.lines` may be '' for "the lines of its voucher": a row that is its voucher's
    # only row (one voucher a row) does not store the same JSON twice. No table changes; the
    # version tells an older bokfor it cannot read such a ledger.
    """
    /* rows.lines '' = vouchers.lines */
    """,
    # 4: (a) what a correction replaced: the row's earlier record, restored when the export
    # that replaced it is dropped or forgotten, so the row is `~` changed again, never new;
    # (b) the size and mtime of a written file, to see cheaply on every run that it is still
    # there as written (`ledger verify` hashes it), and the names of the files a Fortnox batch
    # wrote beside its manifest (the only files bokfor ever removes there); (c) a bank row's
    # money movement (ledger account, date, amount), to tell the same transaction read from
    # another format; (d) rows recorded before (`legacy`: keyed by the scheme before issue
    # 18), and `renamed`: the key a row has now -> the earlier key it was exported under,
    # learned when a run finds it by that earlier key, so a later change in how the file is
    # read (a profile edited) still finds it.
    """
    CREATE TABLE superseded (
        key TEXT NOT NULL,
        export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        content TEXT NOT NULL,
        voucher_id INTEGER NOT NULL REFERENCES vouchers(id) ON DELETE CASCADE,
        origin TEXT NOT NULL,
        lines TEXT NOT NULL,
        movement TEXT,
        aliases TEXT NOT NULL
    );
    CREATE INDEX superseded_export ON superseded(export_id);
    ALTER TABLE exports ADD COLUMN size INTEGER;
    ALTER TABLE exports ADD COLUMN mtime_ns INTEGER;
    ALTER TABLE exports ADD COLUMN files TEXT;
    ALTER TABLE exports ADD COLUMN imported TEXT;
    ALTER TABLE rows ADD COLUMN movement TEXT;
    CREATE INDEX rows_movement ON rows(movement) WHERE movement IS NOT NULL;
    ALTER TABLE rows ADD COLUMN legacy INTEGER;
    UPDATE rows SET legacy = 1;
    CREATE TABLE renamed (
        key TEXT PRIMARY KEY,
        former TEXT NOT NULL REFERENCES rows(key) ON DELETE CASCADE
    );
    CREATE INDEX renamed_former ON renamed(former);
    """,
    # 5: the trail (underlag, issue 23): who ran what (user, host, command), with which
    # mapping (every version's text and the diff from the one used before it), on which
    # files (path, sha256, size: `inputs`); per booked row its file, the rule that booked
    # it and the lines it adds up when more than its own (`parts`: "12-15,17"); per run the rows it read and did not book, with why (`skipped`). Rows recorded
    # before have NULL there: their underlag says so.
    """
    CREATE TABLE mappings (
        sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        text TEXT NOT NULL,
        first_used TEXT NOT NULL,
        last_used TEXT NOT NULL,
        previous TEXT,
        diff TEXT
    );
    ALTER TABLE runs ADD COLUMN user TEXT;
    ALTER TABLE runs ADD COLUMN host TEXT;
    ALTER TABLE runs ADD COLUMN command TEXT;
    ALTER TABLE runs ADD COLUMN mapping_sha256 TEXT;
    CREATE TABLE inputs (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX inputs_run ON inputs(run_id);
    ALTER TABLE rows ADD COLUMN rule TEXT;
    ALTER TABLE rows ADD COLUMN input_id INTEGER;
    ALTER TABLE rows ADD COLUMN parts TEXT;
    ALTER TABLE superseded ADD COLUMN rule TEXT;
    ALTER TABLE superseded ADD COLUMN input_id INTEGER;
    ALTER TABLE superseded ADD COLUMN parts TEXT;
    CREATE TABLE skipped (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        input_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        key TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX skipped_run ON skipped(run_id);
    CREATE INDEX skipped_key ON skipped(key);
    """,
]
# Set in every ledger bokfor creates ("bokf" in ASCII): a SQLite file without it, and without
# a schema version, is someone else's database.
APPLICATION_ID = 0x626F6B66

SIE, BATCH, PUSH = "sie", "fortnox-batch", "fortnox-push"
T = TypeVar("T")


class LedgerBusy(BokforError):
    """Another bokfor run holds the ledger: try again later (cron-safe exit code)."""

    exit_code = EXIT_BUSY


class LedgerError(BokforError):
    """The ledger file is damaged, newer than this bokfor, or a record was not found."""


class LedgerWriteError(LedgerError):
    """SQLite could not write the ledger (a full disk, an I/O error, a read-only file). The
    transaction was rolled back; the hint says what state the run left."""

    exit_code = EXIT_FAILURE


_FREE = "free space on the disk that holds the ledger (or give --ledger another path)"
# What to do instead of _FREE, by SQLite's primary result code: the hint fits the error.
_REMEDIES = {
    sqlite3.SQLITE_READONLY: "make the ledger file and its folder writable for the user "
    "bokfor runs as (or give --ledger another path)",
    sqlite3.SQLITE_IOERR: "check the disk that holds the ledger: SQLite could not read or "
    "write it (a failing disk, a network share gone; or give --ledger another path)",
    sqlite3.SQLITE_CANTOPEN: "check that the ledger's folder exists and this user may create "
    "files in it (or give --ledger another path)",
}
_MESSAGES = {
    "readonly database": sqlite3.SQLITE_READONLY,
    "disk i/o error": sqlite3.SQLITE_IOERR,
    "unable to open database": sqlite3.SQLITE_CANTOPEN,
}


def _fit(hint: str, exc: sqlite3.Error) -> str:
    """`hint` (which starts with _FREE) with the remedy for this error instead."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised without one: known by SQLite's text
        text = str(exc).lower()
        code = next((c for words, c in _MESSAGES.items() if words in text), None)
    remedy = _REMEDIES.get((code or 0) & 0xFF)
    return remedy + hint[len(_FREE) :] if remedy and hint.startswith(_FREE) else hint


def _writes(hint: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A ledger write whose failure is one message naming the ledger, not a traceback."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def write(self: "Ledger", *args: object, **kwargs: object) -> T:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                raise LedgerWriteError(
                    f"the ledger could not be written: {exc}",
                    file=str(self.path),
                    hint=_fit(hint, exc),
                ) from None

        return write

    return wrap


@dataclass(frozen=True)
class ExportedRow:
    key: str
    content: str  # classify.content_of: name=value parts joined by U+001F
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
    kind: str = SIE
    size: int | None = None  # of the file written, when it was written (schema 4)
    mtime_ns: int | None = None
    files: str | None = None  # JSON: the names a batch wrote beside its manifest
    imported: str | None = None  # when the user said its file was imported (ledger imported)

    @property
    def staged_file(self) -> str | None:
        """Of a SIE export: the temp file its run wrote beside the target before recording
        it (`.<name>.<random>.tmp`, convert.export), when the record names one."""
        if self.kind != SIE or not self.files:
            return None
        try:
            names = json.loads(self.files)
        except ValueError:
            return None
        prefix = "." + Path(self.target).name + "."
        if (
            isinstance(names, list)
            and len(names) == 1
            and isinstance(names[0], str)
            and names[0].startswith(prefix)
            and names[0].endswith(".tmp")
            and "/" not in names[0]
            and os.sep not in names[0]
        ):
            return names[0]
        return None

    @property
    def batch_files(self) -> list[str]:
        """The names a batch wrote beside its manifest; only names a batch gives (a ledger
        may be foreign or edited: `../x` or `/x` names no file of the batch)."""
        try:
            names = json.loads(self.files) if self.files else []
        except ValueError:
            return []
        if not isinstance(names, list):
            return []
        return [n for n in names if isinstance(n, str) and _BATCH_NAME.fullmatch(n)]


_EXPORT_COLUMNS = ", ".join(
    f"e.{name}"
    for name in (
        "id",
        "run_id",
        "state",
        "target",
        "sha256",
        "first_date",
        "last_date",
        "vouchers",
        "rows",
        "created",
        "kind",
        "size",
        "mtime_ns",
        "files",
        "imported",
    )
)


@dataclass(frozen=True)
class PushRecord:
    """One voucher of a push to Fortnox, as the ledger holds it."""

    voucher_id: int
    export_id: int
    key: str  # the bokfor key in the voucher's Description (bokfor:<12 hex>)
    state: str  # pending | posted
    date: dt.date
    series: str
    year_id: int | None
    body: str  # the exact JSON posted
    fortnox: tuple[str, int, int | None] | None  # (series, number, year) once posted


SAME_LINES = ""  # RowRecord.lines / rows.lines of a row that is its voucher's only row


class RowRecord(NamedTuple):
    """What one voucher in an export is made of, for the ledger: the voucher and, per source
    row in it, its content (classify.content_of), origin and own lines — as the ledger stores
    them (`lines_to_json`; '' when they are the voucher's own, SAME_LINES): a run holds one
    record a row, and text is a third of the tuples."""

    key: str
    source: str
    content: str
    origin: str
    lines: str
    aliases: tuple[str, ...] = ()
    # A bank row's "<ledger account>|<date>|<öre>" (plan._Movements); a row booked per payout
    # (of a source whose payout rows add up), "payout:<payout id>" (plan._Payouts).
    movement: str = ""
    rule: str = ""  # the rule that booked it (the trail)
    input: int = -1  # its file: an index into the run's `Trail.inputs`
    parts: str = ""  # the file's lines it adds up, when more than its own ("12-15,17")


@dataclass(frozen=True)
class InputFile:
    """A file a run read: its bytes' sha256 and size as read (the plan checks that it did
    not change while it was read), and the source that read it."""

    path: str
    sha256: str
    size: int
    source: str


@dataclass(frozen=True)
class Trail:
    """What an export records besides its vouchers, so that the ledger alone shows how each
    verifikation came about (the underlag, issue 23): the command, the mapping's text (its
    sha256 names the version) and the files read. The user and host are the process's."""

    command: str = ""
    mapping_text: str = ""
    mapping_sha256: str = ""
    inputs: tuple[InputFile, ...] = ()


NO_TRAIL = Trail()  # exports made by library callers that record none


# What SQLite and the lock keep beside a ledger at `path`: `path` + suffix, and what it is.
SIDE_FILES = (
    ("-wal", "write-ahead log"),
    ("-shm", "shared-memory index"),
    ("-journal", "rollback journal"),
    (".lock", "lock file"),
)


def is_ledger(path: Path) -> bool:
    """Whether `path` is a regular file holding a bokfor ledger: an SQLite database with
    bokfor's application id (its header, read without following a link or opening a FIFO)."""
    head = read_head(path, 100)
    return (
        head is not None
        and head.startswith(b"SQLite format 3\x00")
        and head[68:72] == APPLICATION_ID.to_bytes(4, "big")
    )


def default_path(mapping: Path) -> Path:
    """`mappings/stripe.yaml` -> `mappings/stripe.ledger.sqlite`, beside the mapping itself:
    a link to the mapping (`current.yaml` -> `clients/a/stripe.yaml`) shares its ledger."""
    real = mapping.resolve()
    return real.with_name(real.stem + ".ledger.sqlite")


class Ledger:
    """Open with `Ledger.open(path)`; a missing file is an empty ledger until something is
    recorded (a dry run never creates one)."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None):
        self.path = path
        self._conn = conn
        self._scan: _Scan | None = None  # inside a snapshot: see known_frame

    # -- opening, locking, migrations ------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, write: bool = False) -> "Ledger":
        """Readers never create or migrate the file, so they cannot race a writer creating
        it; a file another run is still creating (schema version 0) reads as empty.
        `write=True` (only while holding `lock`) migrates an older ledger."""
        if not os.path.lexists(path):
            return cls(path, None)
        _check_ledger_file(path)
        if not write and _older_schema(path):
            # Written by an older bokfor: upgrade it once, under the lock, then read it.
            with cls.lock(path, 60.0):
                _connect(path, migrate=True).close()
        return cls(path, _connect(path, migrate=write))

    @staticmethod
    @contextmanager
    def lock(path: Path, wait: float) -> Iterator[None]:
        """Hold the ledger's write lock; a second run waits `wait` seconds, then gives up."""
        lock = FileLock(str(path) + ".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire(timeout=wait)
        except Timeout:
            raise LedgerBusy(
                f"another bokfor run is using the ledger (waited {wait:g} s)",
                file=str(path),
                hint="let it finish and run again; --wait SECONDS waits longer.",
            ) from None
        except OSError as exc:  # its folder or lock file cannot be made (a name too long …)
            raise LedgerError(
                f"the ledger's lock file {path.name}.lock cannot be made: {exc.strerror}",
                file=str(path),
                hint="name a ledger in a folder this user may write, by a shorter path if "
                "this one is too long (--ledger PATH); nothing was written or recorded.",
            ) from None
        try:
            yield
        finally:
            lock.release()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection for writing: creates and migrates the file. Callers hold the lock."""
        if self._conn is None:
            if not os.path.lexists(self.path):
                _create(self.path)
            else:
                _check_ledger_file(self.path)
            self._conn = _connect(self.path, migrate=True)
        return self._conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the ledger as it was at the first of them, whatever other runs
        commit meanwhile: a plan asks for its rows a batch at a time, and every batch must
        answer from the same ledger (the state read first included)."""
        if self._conn is None:
            yield
            return
        self._conn.execute("BEGIN")
        self._scan = _Scan()
        try:
            yield
        finally:
            self._scan = None  # what it read is this snapshot's, never a later one's
            self._conn.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reading -------------------------------------------------------------------------

    def expect(self, size: int) -> None:
        """A plan is about to ask about the rows of an input of `size` bytes. Inside a
        snapshot `known_frame` counts the keys it is expected to ask (`size` times the rows
        a byte of the inputs the ledger recorded) as asked: a file much like those exported
        is answered from the rows read whole at its first question, not after a quarter of
        the ledger's rows were looked up (~8 µs a key) first."""
        if self._scan is not None:
            self._scan.coming += size

    def known(self, keys: list[str]) -> dict[str, tuple[str, int, str]]:
        """Of `keys`, those exported before: key -> (content, voucher id, source). Asked a
        batch at a time, so a run costs what it reads, not what the ledger holds."""
        return {
            r[0]: r[1:]
            for r in self._lookup(
                "SELECT key, content, voucher_id, source FROM rows WHERE key IN ({})", keys
            )
        }

    def known_frame(self, keys: pl.Series) -> pl.DataFrame:
        """`known` as columns: key, content, voucher_id, source of the keys exported before
        (give them sorted: the index is then read in order), each once.

        Inside a snapshot, once the keys asked (or expected: `expect`) reach a quarter of
        the rows the ledger holds, those rows are read whole, once, and this and later
        questions are answered by a join: on a 1M-row ledger a lookup costs ~8 µs a key
        (two B-tree seeks at random pages), a scan ~2.5 µs a row. Not past `_SCAN_MAX`
        rows: what a scan holds grows with the ledger, not with the input."""
        import polars as pl

        scan = self._scan
        if scan is not None and self._conn is not None:
            table = scan.table(self._conn, keys.len())
            if table is not None:
                # Joined on a hash of the key, then the key itself compared: a collision
                # can never make a new row look exported.
                asked = keys.unique().to_frame("key").with_columns(pl.col("key").hash().alias("h"))
                return (
                    asked.join(table, on="h", how="inner", suffix="_found")
                    .filter(pl.col("key") == pl.col("key_found"))
                    .select("key", "content", "voucher_id", "source")
                )
        return pl.DataFrame(
            self._lookup(
                "SELECT key, content, voucher_id, source FROM rows WHERE key IN ({})",
                keys.unique(maintain_order=True).to_list(),
            ),
            schema=_known_schema(),
            orient="row",
        )

    def movements(self, movements: list[str]) -> dict[str, list[tuple[str, str, bool]]]:
        """Of `movements` (plan._Movements), those of exported bank rows -> [(key, source,
        recorded by a bokfor before schema 4)]."""
        found: dict[str, list[tuple[str, str, bool]]] = {}
        for movement, key, source, legacy in self._lookup(
            "SELECT movement, key, source, legacy FROM rows WHERE movement IN ({})", movements
        ):
            found.setdefault(movement, []).append((key, source, bool(legacy)))
        return found

    @functools.cached_property
    def has_renamed(self) -> bool:
        """Whether any key was learned as another name of a row (then every unknown key is
        looked up there too)."""
        return self._conn is not None and bool(
            self._conn.execute("SELECT EXISTS (SELECT 1 FROM renamed)").fetchone()[0]
        )

    def renamed(self, keys: list[str]) -> dict[str, str]:
        """Of `keys`, those learned as another name of an exported row -> its key."""
        return dict(self._lookup("SELECT key, former FROM renamed WHERE key IN ({})", keys))

    @_writes(
        _FREE + ", then run again: nothing was lost (the rows are still found by their "
        "former keys)."
    )
    def learn(self, pairs: list[tuple[str, str]]) -> None:
        """Record (key, former key) pairs a plan found (`Plan.learned`)."""
        with self.conn:
            _learn(self.conn, pairs)

    def owners(self, aliases: list[str]) -> dict[str, str]:
        """Of `aliases`, those exported before -> the key they were exported under."""
        return dict(self._lookup("SELECT alias, key FROM aliases WHERE alias IN ({})", aliases))

    def _lookup(self, sql: str, names: list[str]) -> list[tuple]:
        found: list[tuple] = []
        if self._conn is None or not names:
            return found
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            found += self._conn.execute(sql.format(",".join("?" * len(chunk))), chunk)
        return found

    def row(self, key: str) -> ExportedRow | None:
        if self._conn is None:
            return None
        found = self._conn.execute(
            "SELECT r.key, r.content, r.voucher_id, r.origin, CASE r.lines WHEN '' THEN "
            "v.lines ELSE r.lines END FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "WHERE r.key = ?",
            (key,),
        ).fetchone()
        if found is None:
            return None
        key, content, vid, origin, lines = found
        return ExportedRow(key, content, vid, origin, lines_from_json(lines))

    def trail_of(self, key: str) -> tuple[str | None, tuple[str, str] | None]:
        """The rule that booked an exported row and the file it was read from (path,
        sha256); None for rows recorded before the trail (schema 5)."""
        if self._conn is None:
            return None, None
        found = self._conn.execute(
            "SELECT r.rule, i.path, i.sha256 FROM rows r LEFT JOIN inputs i ON i.id = r.input_id "
            "WHERE r.key = ?",
            (key,),
        ).fetchone()
        if found is None:
            return None, None
        return found[0], (found[1], found[2]) if found[1] else None

    def skipped_reason(self, key: str) -> tuple[str, str] | None:
        """Why the last run that read the row `key` and exported something did not book it:
        (reason, file:line)."""
        if self._conn is None:
            return None
        found = self._conn.execute(
            "SELECT s.reason, i.path, s.line FROM skipped s JOIN inputs i ON i.id = s.input_id "
            "WHERE s.key = ? AND EXISTS (SELECT 1 FROM exports e WHERE e.run_id = s.run_id "
            "AND e.state = 'done') ORDER BY s.rowid DESC LIMIT 1",
            (key,),
        ).fetchone()
        return (found[0], f"{found[1]}:{found[2]}") if found else None

    def payout_rows(self, movement: str) -> list[tuple[str, str, str]]:
        """The exported rows booked with a payout (`movement` "payout:<id>", plan._Payouts):
        (key, content, origin) each."""
        if self._conn is None:
            return []
        return self._conn.execute(
            "SELECT key, content, origin FROM rows WHERE movement = ?", (movement,)
        ).fetchall()

    def waiting(self, source: str) -> dict[str, tuple[str, int]]:
        """Rows of `source` a run that exported something left waiting for their payout
        (per_payout, `skipped` with the plan's reason) and no export has booked since: key ->
        (file, line) where the last such run read it."""
        if self._conn is None:
            return {}
        found = self._conn.execute(
            "SELECT s.key, i.path, s.line FROM skipped s JOIN inputs i ON i.id = s.input_id "
            "WHERE s.reason LIKE 'not paid out yet:%' AND i.source = ? "
            "AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.key = s.key) "
            "AND EXISTS (SELECT 1 FROM exports e WHERE e.run_id = s.run_id "
            "AND e.state = 'done') ORDER BY s.rowid",
            (source,),
        )
        return {key: (path, line) for key, path, line in found}

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
            chunk = wanted[start : start + 500]
            cur = self._conn.execute(
                f"SELECT id, series, number, date, text, lines FROM vouchers WHERE id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            for vid, series, number, date, text, lines in cur:
                out[vid] = Voucher(
                    series, dt.date.fromisoformat(date), text, lines_from_json(lines), number=number
                )
        return out

    def vouchers_between(self, first: dt.date, last: dt.date) -> list[Voucher]:
        """Exported vouchers dated in [first, last], in export order (for `plan --diff`)."""
        if self._conn is None:
            return []
        cur = self._conn.execute(
            "SELECT v.series, v.number, v.date, v.text, v.lines FROM vouchers v "
            "JOIN exports e ON e.id = v.export_id WHERE e.state = 'done' AND v.date BETWEEN ? "
            "AND ? ORDER BY v.date, e.id, v.seq",
            (first.isoformat(), last.isoformat()),
        )
        return [
            Voucher(
                series, dt.date.fromisoformat(date), text, lines_from_json(lines), number=number
            )
            for series, number, date, text, lines in cur
        ]

    def state(self) -> tuple[int, int, int, int]:
        """Changes whenever an export is added, settled or forgotten (ids are never reused):
        a run that planned without the lock re-plans if this moved before it got the lock."""
        if self._conn is None:
            return (0, 0, 0, 0)
        count, last, pending = self._conn.execute(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(state = 'pending'), 0) "
            "FROM exports"
        ).fetchone()
        # Each voucher a push posts changes the ledger without adding an export.
        (posted,) = self._conn.execute(
            "SELECT count(*) FROM pushes WHERE state = 'posted'"
        ).fetchone()
        return count, last, pending, posted

    def exports(self) -> list[ExportRecord]:
        if self._conn is None:
            return []
        cur = self._conn.execute(f"SELECT {_EXPORT_COLUMNS} FROM exports e ORDER BY id")
        return [ExportRecord(*row) for row in cur]

    def received(self) -> list[tuple[int, str]]:
        """(run, path) of every file the runs read, as recorded (schema 5), first read first."""
        if self._conn is None:
            return []
        return self._conn.execute("SELECT run_id, path FROM inputs ORDER BY id").fetchall()

    def next_run(self) -> int:
        """The number the next run gets (`{run}` in `--out`); the caller holds the lock."""
        if self._conn is None:
            return 1
        return self._conn.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()[0]

    def export_at(self, target: Path) -> ExportRecord | None:
        """The export whose file is `target` (a resolved path), if one is recorded: by its
        path, or, when a file is there, by being the same file as a recorded one (another
        spelling on a case-insensitive disk, a hard link)."""
        if self._conn is None:
            return None
        found = self._conn.execute(
            f"SELECT {_EXPORT_COLUMNS} FROM exports e WHERE target = ? ORDER BY id DESC LIMIT 1",
            (str(target),),
        ).fetchone()
        if found:
            return ExportRecord(*found)
        if not os.path.isfile(target):
            return None
        for export in reversed(self.exports()):
            try:
                if export.kind != PUSH and os.path.samefile(target, export.target):
                    return export
            except OSError:
                continue  # that file is gone
        return None

    def damage(self) -> list[str]:
        """What SQLite finds wrong in the file, page by page and index by index (PRAGMA
        integrity_check, at most 20 findings); [] when it is whole. A damaged index can hide
        exported rows from a plan, which would then book them again."""
        if self._conn is None:
            return []
        try:
            found = [m for (m,) in self._conn.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if found == ["ok"] else found

    def missing_files(
        self, *, days: int | None = None, thorough: bool = False
    ) -> list[tuple[ExportRecord, str]]:
        """Written files (SIE files, batch manifests) not yet imported (`mark_imported`) that
        are no longer as bokfor wrote them: (export, "deleted" | "changed"). Cheap by
        default — a stat per file, a hash only when its size or mtime moved (ledgers of
        schema 3 recorded neither: only whether the file is there) — and for the exports of
        the last `days` days; `thorough` hashes every file."""
        found: list[tuple[ExportRecord, str]] = []
        since = (
            ""
            if days is None
            else (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat()
        )
        for export in self.exports():
            if (
                export.state != "done"
                or export.kind == PUSH
                or export.created < since
                or export.imported
            ):
                continue
            try:
                info = os.stat(export.target)
            except OSError:
                found.append((export, "deleted"))
                continue
            moved = export.size is not None and (info.st_size, info.st_mtime_ns) != (
                export.size,
                export.mtime_ns,
            )
            if (thorough or moved) and file_sha256(Path(export.target)) != export.sha256:
                found.append((export, "changed"))
        return found

    @_writes(_FREE + ", then run it again.")
    def mark_imported(self, export_ids: list[int]) -> list[ExportRecord]:
        """The user imported these exports' files into the books: from now on their files
        may be moved or deleted without a word."""
        known = {e.id: e for e in self.exports()}
        missing = [i for i in export_ids if i not in known or known[i].kind == PUSH]
        if missing:
            raise LedgerError(
                f"no written export {missing[0]} in the ledger",
                file=str(self.path),
                hint="`bokfor ledger list` shows the "
                "exports (a push to Fortnox has no file to mark).",
            )
        with self.conn:
            self.conn.executemany(
                "UPDATE exports SET imported = coalesce(imported, ?) WHERE id = ?",
                [(_now(), i) for i in export_ids],
            )
        return [known[i] for i in export_ids]

    def export_of_row(self, key: str) -> ExportRecord | None:
        if self._conn is None:
            return None
        found = self._conn.execute(
            f"SELECT {_EXPORT_COLUMNS} FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "JOIN exports e ON e.id = v.export_id WHERE r.key = ?",
            (key,),
        ).fetchone()
        return ExportRecord(*found) if found else None

    def names_pending(self, staged: str) -> bool:
        """Whether a pending export's record names this temp file (convert.export), as far
        as the ledger can say after a failure: True when it cannot."""
        try:
            return self._conn is not None and bool(
                self._conn.execute(
                    "SELECT 1 FROM exports WHERE state = 'pending' AND files = ?",
                    (json.dumps([staged]),),
                ).fetchone()
            )
        except sqlite3.Error:
            return True

    # -- writing ---------------------------------------------------------------------------

    @_writes(_FREE + ", then run again: nothing was written or recorded as exported.")
    def begin_export(
        self,
        *,
        mapping: Path,
        target: Path,
        sha256: str,
        vouchers: Sequence[Voucher],
        spool: RecordSpool,
        tags: list[int],
        kind: str = SIE,
        replaced: Iterable[str] = (),
        run: int | None = None,
        files: Iterable[str] = (),
        learned: Iterable[tuple[str, str]] = (),
        trail: Trail = NO_TRAIL,
    ) -> int:
        """Record an export as pending (committed before the file is written; `sha256` is
        the file's digest): `vouchers`, and the rows in `spool` tagged `tags[i]` as those of
        `vouchers[i]`. `replaced`: the keys of rows exported before that this export records
        again (corrections). `run`: the run it is part of (`next_run`; one run may write a
        file per fiscal year), else a run of its own. `files`: the names of the other files
        it writes beside `target` (a Fortnox batch), removed if it is dropped. `learned`:
        `Plan.learned`, recorded with it. `trail`: the run's, recorded with its first part
        (with the rows `spool` holds as read and not booked)."""
        conn = self.conn
        spool.flush()
        # Every id below is assigned in this transaction, so the foreign keys hold by
        # construction: checking them row by row took a third of the insert. What the
        # check would have done besides — a replaced row's aliases cascading away — is
        # done explicitly. (Neither the pragma nor ATTACH work inside a transaction.)
        conn.execute("PRAGMA foreign_keys = OFF")
        attached = False
        try:
            conn.execute("ATTACH DATABASE ? AS spool", (str(spool.path),))
            attached = True
            return self._begin_export(
                mapping,
                target,
                sha256,
                vouchers,
                tags,
                kind,
                replaced,
                run,
                list(files),
                list(learned),
                trail,
                spool,
            )
        finally:
            conn.execute("DROP TABLE IF EXISTS temp.voucher_tags")
            if attached:
                conn.execute("DETACH DATABASE spool")
            conn.execute("PRAGMA foreign_keys = ON")

    def _begin_export(
        self,
        mapping: Path,
        target: Path,
        sha256: str,
        vouchers: Sequence[Voucher],
        tags: list[int],
        kind: str,
        replaced: Iterable[str],
        run: int | None,
        files: list[str],
        learned: list[tuple[str, str]],
        trail: Trail,
        spool: RecordSpool,
    ) -> int:
        conn = self.conn
        now = _now()
        with conn:
            # The run's second file (another fiscal year) joins the run its first made.
            run_id, first_input, new_run = _start_run(conn, run, mapping, trail, now)
            if new_run and first_input is not None:  # what the run read and did not book
                conn.execute(
                    "INSERT INTO skipped (run_id, input_id, line, key, reason) SELECT ?, "
                    "? + input, line, key, reason FROM spool.skipped "
                    "ORDER BY input, line, rowid",  # file order, however the file was read
                    (run_id, first_input),
                )
            # Ids assigned here (we hold the lock and the transaction) so that all vouchers,
            # rows and aliases go in with one statement each, not two per voucher.
            first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM vouchers").fetchone()[0]
            conn.execute(
                "CREATE TEMP TABLE voucher_tags (tag INTEGER PRIMARY KEY, id INTEGER NOT NULL)"
            )
            conn.executemany(
                "INSERT INTO temp.voucher_tags VALUES (?, ?)",
                ((tag, first + seq) for seq, tag in enumerate(tags)),
            )
            rows = conn.execute(
                "SELECT count(*) FROM spool.records JOIN temp.voucher_tags USING (tag)"
            ).fetchone()[0]
            dates = dates_of(vouchers)
            export_id = conn.execute(
                "INSERT INTO exports (run_id, state, target, sha256, first_date, last_date, "
                "vouchers, rows, created, kind, files) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                (
                    run_id,
                    str(target.resolve()),
                    sha256,
                    min(dates).isoformat() if dates else None,
                    max(dates).isoformat() if dates else None,
                    len(vouchers),
                    rows,
                    now,
                    kind,
                    json.dumps(files) if files else None,
                ),
            ).lastrowid
            assert export_id is not None  # set by the INSERT
            with paused_gc():  # a parameter tuple a voucher: see paused_gc
                # A generator: the tuples are made as SQLite takes them, never held all.
                conn.executemany(
                    "INSERT INTO vouchers (id, export_id, seq, series, number, date, text, "
                    "lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (first + seq, export_id, seq, *stored)
                        for seq, stored in enumerate(_stored(vouchers))
                    ),
                )
            replaced = list(replaced)
            _supersede(conn, replaced, export_id)
            conn.executemany("DELETE FROM aliases WHERE key = ?", ((k,) for k in replaced))
            # A corrected row replaces its earlier record (the later voucher's wins); the old
            # voucher stays as history. In key order, so the B-tree fills page by page
            # instead of at random places; SQLite sorts the spool, in its own memory bounds.
            conn.execute(
                "INSERT OR REPLACE INTO rows (key, source, content, voucher_id, origin, lines, "
                "movement, rule, input_id, parts) SELECT r.key, r.source, r.content, t.id, "
                "r.origin, r.lines, nullif(r.movement, ''), nullif(r.rule, ''), CASE WHEN "
                "r.input < 0 THEN NULL ELSE ? + r.input END, nullif(r.parts, '') FROM "
                "spool.records r JOIN temp.voucher_tags t USING (tag) ORDER BY r.key, t.id, "
                "r.rowid",
                (first_input,),
            )
            _learn(conn, learned)
            # Of two rows naming one alias the later voucher's wins, as for keys (a run
            # refuses that anyway: plan._Seen).
            conn.execute(
                "INSERT OR REPLACE INTO aliases (alias, key) SELECT a.alias, a.key "
                "FROM spool.aliases a JOIN temp.voucher_tags t USING (tag) "
                "ORDER BY a.alias, t.id, a.rowid"
            )
        assert export_id is not None
        return export_id

    @_writes(
        _FREE + "; the file was written and its export stays pending: the next run "
        "records it (nothing is booked twice)."
    )
    def finish_export(self, export_id: int, target: Path | None = None) -> None:
        """Mark it done, with the size and mtime of the file written (`target`), by which
        later runs see cheaply that it is still there as written."""
        size = mtime = None
        if target is not None:
            try:
                info = os.stat(target)
                size, mtime = info.st_size, info.st_mtime_ns
            except OSError:
                pass
        with self.conn:
            done = self.conn.execute(
                "UPDATE exports SET state = 'done', size = ?, mtime_ns = ? "
                "WHERE id = ? AND state = 'pending'",
                (size, mtime, export_id),
            ).rowcount
        if done != 1:  # forgotten meanwhile (by a run that did not hold this lock)
            raise LedgerError(
                f"export {export_id} is no longer in the ledger, though its file was written",
                file=str(self.path),
                hint=f"the file {target} holds vouchers the ledger does not know: "
                "import it only after `bokfor plan` shows its rows as new again, "
                "or delete it and convert again.",
            )

    @_writes(_FREE + ", then run it again: nothing was forgotten.")
    def forget(self, export_id: int) -> tuple[ExportRecord, tuple[int, int]]:
        """Delete an export and its rows (after the import was undone in the target system);
        returns it, and how many of its rows are new again and how many got an earlier
        export's record back."""
        record = next((e for e in self.exports() if e.id == export_id), None)
        if record is None:
            raise LedgerError(
                f"no export {export_id} in the ledger",
                file=str(self.path),
                hint="`bokfor ledger list` shows the exports.",
            )
        with self.conn:
            restored = _drop(self.conn, export_id)
        return record, restored

    @_writes(_FREE + ", then run again: it settles the interrupted export first.")
    def recover(self) -> list[Notice]:
        """Settle exports a crash left pending: done if the file holds exactly the recorded
        bytes (it was put in place), or if the temp file its record names is gone (put in
        place, then moved or changed: convert.export writes it before the record); otherwise
        dropped (the file never appeared), its rows new again."""
        notices: list[Notice] = []
        for export in self.exports():
            if export.state != "pending" or export.kind == PUSH:
                continue  # a push is settled against Fortnox (push.settle), not from a file
            target = Path(export.target)
            staged = export.staged_file
            if file_sha256(target) == export.sha256:
                self.finish_export(export.id, target)
                notices.append(
                    Notice(
                        f"an interrupted run had written {target} completely; its {export.rows} "
                        "rows are recorded as exported",
                        file=str(self.path),
                    )
                )
            elif staged is not None and (
                not os.path.lexists(target.parent / staged)
                or linked(target.parent / staged, target)
            ):
                # Written beside the target before this record, then put in place (its temp
                # name gone, or still a second name of the file: killed between the link and
                # the unlink), and moved, deleted or changed since (an import job took it).
                # Booked again, its rows would be in the books twice.
                self.finish_export(export.id)
                notices.append(
                    Notice(
                        f"an interrupted run had written {target}, which is no longer there as "
                        f"written (moved, deleted or changed since); its {export.rows} rows are "
                        "recorded as exported — if that file was never imported, `bokfor "
                        f"ledger forget {export.id} --yes` books them again",
                        file=str(self.path),
                    )
                )
            else:
                with self.conn:
                    _drop(self.conn, export.id)
                notices.append(
                    Notice(
                        f"an interrupted run never finished writing {target}; its {export.rows} "
                        "rows were not exported and will be booked by this run",
                        file=str(self.path),
                    )
                )
                # A batch's bodies written before the crash: its own, named in its record.
                _remove_files(target.parent, export.batch_files)
            if staged is not None:  # its own temp file only: others may be another run's
                _remove_files(target.parent, [staged])
            else:
                _remove_temp_files(target.parent, [target.name, *export.batch_files])
        return notices

    # -- pushes to Fortnox -------------------------------------------------------------------

    @_writes(_FREE + ", then run `bokfor push` again: nothing was sent.")
    def begin_push(
        self,
        *,
        mapping: Path,
        target: str,
        first: dt.date | None,
        last: dt.date | None,
        trail: Trail = NO_TRAIL,
        skipped: Iterable[tuple[int, int, str, str]] = (),
    ) -> int:
        """An export of kind 'fortnox-push', pending until the run ends (or is settled).
        `skipped`: the rows read and not booked (`RecordSpool.skipped`)."""
        conn = self.conn
        now = _now()
        with conn:
            run_id, first_input, _ = _start_run(conn, None, mapping, trail, now)
            if first_input is not None:
                conn.executemany(
                    "INSERT INTO skipped (run_id, input_id, line, key, reason) "
                    "VALUES (?, ?, ?, ?, ?)",
                    ((run_id, first_input + i, line, key, why) for i, line, key, why in skipped),
                )
            export_id = conn.execute(
                "INSERT INTO exports (run_id, state, target, sha256, first_date, last_date, "
                "vouchers, rows, created, kind) VALUES (?, 'pending', ?, '', ?, ?, 0, 0, ?, ?)",
                (
                    run_id,
                    target,
                    first.isoformat() if first else None,
                    last.isoformat() if last else None,
                    now,
                    PUSH,
                ),
            ).lastrowid
        assert export_id is not None
        return export_id

    @_writes(
        _FREE + ", then run `bokfor push` again: this voucher was not sent; those "
        "before it are recorded."
    )
    def push_pending(
        self,
        export_id: int,
        seq: int,
        voucher: Voucher,
        records: list[RowRecord],
        *,
        key: str,
        series: str,
        year_id: int | None,
        body: str,
    ) -> int:
        """Record one voucher as pending, committed, before its POST; returns its id. Its
        rows are kept aside (not exported) until it is posted."""
        conn = self.conn
        with conn:
            vid = conn.execute(
                "INSERT INTO vouchers (export_id, seq, series, number, date, text, lines) "
                "VALUES (?, ?, ?, NULL, ?, ?, ?)",
                (
                    export_id,
                    seq,
                    series,
                    voucher.date.isoformat(),
                    voucher.text,
                    lines_to_json(voucher.lines),
                ),
            ).lastrowid
            conn.execute(
                "INSERT INTO pushes (voucher_id, key, state, date, series, year_id, body, "
                "body_sha256, records, updated) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                (
                    vid,
                    key,
                    voucher.date.isoformat(),
                    series,
                    year_id,
                    body,
                    hashlib.sha256(body.encode("utf-8")).hexdigest(),
                    _records_to_json(records),
                    _now(),
                ),
            )
        assert vid is not None
        return vid

    @_writes(
        _FREE + ", then run `bokfor push` again: Fortnox booked this voucher and the "
        "next push finds it there (nothing is posted twice)."
    )
    def push_posted(self, voucher_id: int, series: str, number: int, year: int | None) -> None:
        """Fortnox booked it: record the (series, number, year) and its rows as exported, in
        one transaction."""
        conn = self.conn
        found = conn.execute(
            "SELECT records FROM pushes WHERE voucher_id = ?", (voucher_id,)
        ).fetchone()
        if found is None:
            raise LedgerError(f"no pushed voucher {voucher_id} in the ledger", file=str(self.path))
        records = _records_from_json(found[0])
        with conn:
            conn.execute(
                "UPDATE pushes SET state = 'posted', fortnox_series = ?, fortnox_number = ?, "
                "fortnox_year = ?, updated = ? WHERE voucher_id = ?",
                (series, number, year, _now(), voucher_id),
            )
            conn.execute(
                "UPDATE vouchers SET series = ?, number = ? WHERE id = ?",
                (series, number, voucher_id),
            )
            export_id = conn.execute(
                "SELECT export_id FROM vouchers WHERE id = ?", (voucher_id,)
            ).fetchone()[0]
            _supersede(conn, [r.key for r in records], export_id)
            (first_input,) = conn.execute(
                "SELECT min(i.id) FROM inputs i JOIN exports e ON e.run_id = i.run_id "
                "WHERE e.id = ?",
                (export_id,),
            ).fetchone()
            conn.executemany(
                "INSERT OR REPLACE INTO rows (key, source, content, voucher_id, origin, lines, "
                "movement, rule, input_id, parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.key,
                        r.source,
                        r.content,
                        voucher_id,
                        r.origin,
                        r.lines,
                        r.movement or None,
                        r.rule or None,
                        None if r.input < 0 or first_input is None else first_input + r.input,
                        r.parts or None,
                    )
                    for r in records
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO aliases (alias, key) VALUES (?, ?)",
                [(a, r.key) for r in records for a in r.aliases],
            )
            conn.execute(
                "UPDATE exports SET vouchers = vouchers + 1, rows = rows + ? WHERE id = "
                "(SELECT export_id FROM vouchers WHERE id = ?)",
                (len(records), voucher_id),
            )

    @_writes(_FREE + ", then run `bokfor push` again: it settles this voucher first.")
    def push_dropped(self, voucher_id: int) -> None:
        """Fortnox certainly did not book it (refused, or not found when reconciling)."""
        with self.conn:
            self.conn.execute("DELETE FROM vouchers WHERE id = ?", (voucher_id,))

    @_writes(_FREE + ", then run `bokfor push` again: it settles this push first.")
    def finish_push(self, export_id: int) -> bool:
        """End a push: done when it posted anything, else its record is removed. Returns
        whether the export remains."""
        conn = self.conn
        with conn:
            left, pending = conn.execute(
                "SELECT count(*), coalesce(sum(p.state = 'pending'), 0) FROM vouchers v "
                "JOIN pushes p ON p.voucher_id = v.id WHERE v.export_id = ?",
                (export_id,),
            ).fetchone()
            if pending:
                return True  # still to be settled: stays pending
            if not left:
                conn.execute("DELETE FROM exports WHERE id = ?", (export_id,))
                return False
            first, last = conn.execute(
                "SELECT min(date), max(date) FROM vouchers WHERE export_id = ?", (export_id,)
            ).fetchone()
            digest = hashlib.sha256(
                "".join(
                    r[0]
                    for r in conn.execute(
                        "SELECT p.body_sha256 FROM pushes p JOIN vouchers v ON v.id = p.voucher_id "
                        "WHERE v.export_id = ? ORDER BY v.seq",
                        (export_id,),
                    )
                ).encode()
            ).hexdigest()
            conn.execute(
                "UPDATE exports SET state = 'done', first_date = ?, last_date = ?, "
                "sha256 = ? WHERE id = ?",
                (first, last, digest, export_id),
            )
        return True

    def pushes(self, state: str | None = None, export_id: int | None = None) -> list[PushRecord]:
        if self._conn is None:
            return []
        where: list[str] = []
        args: list[object] = []
        if state is not None:
            where.append("p.state = ?")
            args.append(state)
        if export_id is not None:
            where.append("v.export_id = ?")
            args.append(export_id)
        cur = self._conn.execute(
            "SELECT p.voucher_id, v.export_id, p.key, p.state, p.date, p.series, p.year_id, "
            "p.body, p.fortnox_series, p.fortnox_number, p.fortnox_year FROM pushes p "
            "JOIN vouchers v ON v.id = p.voucher_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY v.id",
            args,
        )
        return [
            PushRecord(
                vid,
                eid,
                key,
                st,
                dt.date.fromisoformat(date),
                series,
                year,
                body,
                (fs, fn, fy) if fn is not None else None,
            )
            for vid, eid, key, st, date, series, year, body, fs, fn, fy in cur
        ]

    def pending_pushes(self) -> int:
        if self._conn is None:
            return 0
        try:
            return self._conn.execute(
                "SELECT count(*) FROM pushes WHERE state = 'pending'"
            ).fetchone()[0]
        except sqlite3.OperationalError:  # schema 1: no pushes yet
            return 0

    def pushed(self, key: str) -> PushRecord | None:
        """The push of the voucher a row went into, if it was pushed."""
        if self._conn is None:
            return None
        found = self._conn.execute("SELECT voucher_id FROM rows WHERE key = ?", (key,)).fetchone()
        if found is None:
            return None
        return next((p for p in self.pushes() if p.voucher_id == found[0]), None)


def _start_run(
    conn: sqlite3.Connection, run: int | None, mapping: Path, trail: Trail, now: str
) -> tuple[int, int | None, bool]:
    """The run's record: made with its mapping version and inputs, or the one an earlier
    part of the run made. Returns its id, the id of its first input (a row's input index
    counts from there; None when it recorded none: its rows name no file) and whether it
    was made now."""
    if run is not None and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone():
        (first,) = conn.execute("SELECT min(id) FROM inputs WHERE run_id = ?", (run,)).fetchone()
        return run, first, False
    user, host = _who()
    run = conn.execute(
        "INSERT INTO runs (id, started, version, mapping, user, host, command, mapping_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run,
            now,
            __version__,
            str(mapping),
            user,
            host,
            trail.command or None,
            _mapping_version(conn, mapping, trail, now),
        ),
    ).lastrowid
    assert run is not None
    if not trail.inputs:
        return run, None, True
    (first,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM inputs").fetchone()
    conn.executemany(
        "INSERT INTO inputs (id, run_id, path, sha256, size, source) VALUES (?, ?, ?, ?, ?, ?)",
        [(first + i, run, f.path, f.sha256, f.size, f.source) for i, f in enumerate(trail.inputs)],
    )
    return run, first, True


def _mapping_version(conn: sqlite3.Connection, path: Path, trail: Trail, now: str) -> str | None:
    """Record the mapping's version (its sha256): when new, with its text and the diff from
    the version used last before it; else when it was last used."""
    sha = trail.mapping_sha256
    if not sha:
        return None
    if conn.execute("UPDATE mappings SET last_used = ? WHERE sha256 = ?", (now, sha)).rowcount:
        return sha
    # The version of this mapping file used last (one ledger may serve several mappings).
    previous = conn.execute(
        "SELECT sha256, path, text FROM mappings WHERE path = ? "
        "ORDER BY last_used DESC, rowid DESC LIMIT 1",
        (str(path),),
    ).fetchone()
    diff = None
    if previous is not None:
        diff = "".join(
            difflib.unified_diff(
                previous[2].splitlines(keepends=True),
                trail.mapping_text.splitlines(keepends=True),
                f"{previous[1]} ({previous[0][:12]})",
                f"{path} ({sha[:12]})",
            )
        )
    conn.execute(
        "INSERT INTO mappings (sha256, path, text, first_used, last_used, previous, diff) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sha, str(path), trail.mapping_text, now, now, previous[0] if previous else None, diff),
    )
    return sha


def _who() -> tuple[str | None, str | None]:
    """The user and host a run is recorded under (None where the system cannot say)."""
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return user, socket.gethostname() or None


def _learn(conn: sqlite3.Connection, pairs: list[tuple[str, str]]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO renamed (key, former) SELECT ?, key FROM rows WHERE key = ?", pairs
    )


def _supersede(conn: sqlite3.Connection, keys: list[str], export_id: int) -> None:
    """Keep the records of `keys` that `export_id` is about to replace (a correction), with
    their aliases, so that dropping or forgetting that export restores them (`_drop`): the
    row is then `~` changed again, as before the correction, never new."""
    for key in dict.fromkeys(keys):  # a correction's reversal and new booking name it twice
        found = conn.execute(
            "SELECT r.source, r.content, r.voucher_id, r.origin, r.lines, r.movement, r.rule, "
            "r.input_id, r.parts FROM rows r JOIN vouchers v ON v.id = r.voucher_id "
            "WHERE r.key = ? AND v.export_id != ?",
            (key, export_id),
        ).fetchone()
        if found is None:
            continue
        aliases = [a for (a,) in conn.execute("SELECT alias FROM aliases WHERE key = ?", (key,))]
        conn.execute(
            "INSERT INTO superseded (key, export_id, source, content, voucher_id, origin, lines, "
            "movement, rule, input_id, parts, aliases) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)",
            (key, export_id, *found, json.dumps(aliases, ensure_ascii=False)),
        )


def _drop(conn: sqlite3.Connection, export_id: int) -> tuple[int, int]:
    """Delete an export and its records (inside the caller's transaction); a row it had
    taken over from an earlier export (a correction) gets that export's record back, so it
    is never new again while its first booking stands. Returns how many of its rows are new
    again and how many got an earlier record back."""
    restore = conn.execute(
        "SELECT s.key, s.source, s.content, s.voucher_id, s.origin, s.lines, s.movement, "
        "s.rule, s.input_id, s.parts, s.aliases FROM superseded s JOIN rows r ON r.key = s.key JOIN vouchers v ON "
        "v.id = r.voucher_id WHERE s.export_id = ? AND v.export_id = ? ORDER BY s.rowid",
        (export_id, export_id),
    ).fetchall()
    # A later correction's saved record points at this export's voucher: it gets the record
    # this export had itself replaced, so that forgetting corrections in any order restores
    # the first booking, never nothing.
    conn.execute(
        "UPDATE superseded AS s SET (source, content, voucher_id, origin, lines, movement, "
        "rule, input_id, parts, aliases) = (SELECT b.source, b.content, b.voucher_id, "
        "b.origin, b.lines, b.movement, b.rule, b.input_id, b.parts, b.aliases FROM superseded b WHERE b.export_id = :e AND b.key = s.key) "
        "WHERE s.export_id != :e AND s.voucher_id IN (SELECT id FROM vouchers WHERE "
        "export_id = :e) AND EXISTS (SELECT 1 FROM superseded b WHERE b.export_id = :e AND "
        "b.key = s.key)",
        {"e": export_id},
    )
    (held,) = conn.execute(
        "SELECT count(*) FROM rows r JOIN vouchers v ON v.id = r.voucher_id WHERE v.export_id = ?",
        (export_id,),
    ).fetchone()
    conn.execute("DELETE FROM exports WHERE id = ?", (export_id,))
    for *record, aliases in restore:
        conn.execute(
            "INSERT OR REPLACE INTO rows (key, source, content, voucher_id, origin, "
            "lines, movement, rule, input_id, parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record,
        )
        key = record[0]
        conn.executemany(
            "INSERT OR REPLACE INTO aliases (alias, key) VALUES (?, ?)",
            [(alias, key) for alias in json.loads(aliases)],
        )
    return held - len(restore), len(restore)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: for the phases that build an object or more per
    row (reading and booking, the ledger's records, the SIE text). They make no reference
    cycles, yet every 700 new container objects start a collection that walks the young
    objects, and the growing heap a full one now and then: measured, about 20 µs a booked row.
    Only when the collector runs changes (it is re-enabled, as it was, on the way out; what
    is garbage is freed as before by reference counting), so no output can change."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stored(vouchers: Sequence[Voucher]) -> Iterator[tuple[str, int | None, str, str, str]]:
    """What the ledger stores of each voucher: series, number, date, text, lines (JSON)."""
    if isinstance(vouchers, VoucherColumns):
        return vouchers.ledger_rows()
    return (
        (v.series, v.number, v.date.isoformat(), v.text, lines_to_json(v.lines)) for v in vouchers
    )


def lines_to_json(lines: Iterable[Line]) -> str:
    """The lines as compact JSON: `[[account, amount, [[dim, obj], ...], text], ...]`.

    Byte for byte what `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` gives
    (that is what older ledgers hold): the usual types (str account and text, int amount and
    dimension, str object) are encoded directly with json's own string escaping, and the
    text of a lines tuple is cached, since identical tuples repeat across rows."""
    if type(lines) is tuple:
        try:
            found = _JSON_CACHE.get(lines)
        except TypeError:  # something unhashable in a line: not one of the usual types
            return _lines_json_slow(lines)
        if found is not None:
            return found
    lines = tuple(lines)
    parts = []
    for line in lines:
        account, amount, dims, text = line[0], line[1], line[2], line[3]
        if type(account) is not str or type(amount) is not int or type(text) is not str:
            return _lines_json_slow(lines)
        if dims:
            encoded = []
            for d in dims:
                if len(d) != 2 or type(d[0]) is not int or type(d[1]) is not str:
                    return _lines_json_slow(lines)
                encoded.append(f"[{int.__repr__(d[0])},{_encode_str(d[1])}]")
            dims_json = ",".join(encoded)
        else:
            dims_json = ""
        parts.append(
            f"[{_encode_str(account)},{int.__repr__(amount)},[{dims_json}],{_encode_str(text)}]"
        )
    out = "[" + ",".join(parts) + "]"
    if len(_JSON_CACHE) < _JSON_CACHE_SIZE:
        _JSON_CACHE[lines] = out
    return out


def _lines_json_slow(lines: tuple[Line, ...]) -> str:
    return json.dumps(
        [[x.account, x.amount, [list(d) for d in x.dims], x.text] for x in lines],
        ensure_ascii=False,
        separators=(",", ":"),
    )


# json's encoder for str with ensure_ascii=False (the C one when available).
_encode_str = json.encoder.encode_basestring
_JSON_CACHE: dict[tuple[Line, ...], str] = {}
_JSON_CACHE_SIZE = 100_000


_CHUNK = 500  # names a lookup query asks for (SQLite's variable limit is 999 in old builds)
_SCAN_SHARE = 4  # scan once the keys asked are 1/_SCAN_SHARE of the rows held
_SCAN_MAX = 1_000_000  # rows: ~200 bytes each in memory (a 1M-row plan: 325 -> 520 MiB)


def _known_schema() -> dict[str, Any]:
    """The columns `Ledger.known_frame` gives."""
    import polars as pl

    return {"key": pl.String, "content": pl.String, "voucher_id": pl.Int64, "source": pl.String}


class _Scan:
    """The rows a snapshot read whole for `Ledger.known_frame`: none until the keys asked,
    or those the inputs announced (`Ledger.expect`) are expected to ask, make reading them
    all cheaper than looking up the rest."""

    def __init__(self) -> None:
        self.asked = 0
        self.coming = 0  # bytes of the inputs announced
        self.held: int | None = None  # rows the ledger holds, at most (its largest rowid)
        self.per_byte: tuple[int, int] = (0, 1)  # rows, bytes of the inputs it recorded
        self.frame: pl.DataFrame | None = None

    def table(self, conn: sqlite3.Connection, asking: int) -> pl.DataFrame | None:
        """The rows read (with `h`, a hash of the key), reading them now if this question
        makes it worth it; None: look the keys up."""
        if self.frame is not None:
            return self.frame
        self.asked += asking
        if self.held is None:
            self.held = conn.execute("SELECT coalesce(max(rowid), 0) FROM rows").fetchone()[0]
            self.per_byte = _rows_per_byte(conn)
        rows, size = self.per_byte
        expected = max(self.asked, self.coming * rows // size)
        if self.held > _SCAN_MAX or expected * _SCAN_SHARE < self.held:
            return None
        import polars as pl

        schema = _known_schema()
        cursor = conn.execute("SELECT key, content, voucher_id, source FROM rows")
        parts = [pl.DataFrame(schema=schema)]
        while chunk := cursor.fetchmany(1 << 16):
            parts.append(pl.DataFrame(chunk, schema=schema, orient="row"))
        self.frame = pl.concat(parts).with_columns(pl.col("key").hash().alias("h"))
        return self.frame


def _rows_per_byte(conn: sqlite3.Connection) -> tuple[int, int]:
    """Rows booked and bytes read by the runs that recorded their inputs (schema 5), as
    (rows, bytes), bytes at least 1. A file read again by a later run counts its bytes
    twice, never its rows: the estimate errs towards looking keys up."""
    rows, size = conn.execute(
        "SELECT (SELECT coalesce(sum(rows), 0) FROM exports WHERE run_id IN "
        "(SELECT run_id FROM inputs)), (SELECT coalesce(sum(size), 0) FROM inputs WHERE "
        "run_id IN (SELECT run_id FROM exports))"
    ).fetchone()
    return rows, max(size, 1)


def _records_to_json(records: Iterable[RowRecord]) -> str:
    return json.dumps(
        [
            [
                r.key,
                r.source,
                r.content,
                r.origin,
                r.lines,
                list(r.aliases),
                r.movement,
                r.rule,
                r.input,
                r.parts,
            ]
            for r in records
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _records_from_json(text: str) -> list[RowRecord]:
    """Schema 3 records have no movement (six items), schema 4 ones no rule and input."""
    return [
        RowRecord(key, source, content, origin, lines, tuple(aliases), *rest)
        for key, source, content, origin, lines, aliases, *rest in json.loads(text)
    ]


def lines_from_json(text: str) -> tuple[Line, ...]:
    return tuple(
        Line(account, amount, _dims(dims), line_text)
        for account, amount, dims, line_text in json.loads(text)
    )


def _dims(dims: list[list[Any]]) -> Dims:
    """Stored dimensions as `Line.dims` (`make_dims`), without its sorting for none or one:
    most lines (reading a year's rows back, it was most of an underlag's time)."""
    if not dims:
        return ()
    if len(dims) == 1:
        ((d, o),) = dims
        if type(d) is int and type(o) is str:
            return ((d, o),)
    return make_dims(dict(dims))


# The files a Fortnox batch writes beside its manifest (fortnox.batch, convert.BATCH_SIE).
_BATCH_NAME = re.compile(r"vouchers\.si|\d{5,}-[0-9a-f]+\.json")
_LEDGER_TABLES = {"runs", "exports", "vouchers", "rows", "aliases"}  # schema 1 on


def _schema(conn: sqlite3.Connection) -> tuple[int, bool]:
    """The file's schema version, and whether it is a bokfor ledger at all.

    Read through SQLite, not from the file's header: a ledger's last commits may still be
    in its write-ahead log. A version 0 file is none of bokfor's (ledgers are created whole,
    `_create`); an application id other than bokfor's, another program's. Id 0 is an older
    bokfor's ledger only with the tables every schema has: most programs leave the id 0 and
    many set a user_version, and such a file must be neither migrated (changed) nor read."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    return version, version != 0 and app in (0, APPLICATION_ID) and _LEDGER_TABLES <= tables


def _connect(path: Path, *, migrate: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        # 32 MiB of pages instead of 2: a plan looks its rows' keys up all over the B-tree
        # (measured on a 100k-row ledger: 8.9 -> 4.1 µs a key).
        conn.execute("PRAGMA cache_size = -32768")
        version, ours = _schema(conn)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(
            f"the ledger cannot be opened: {exc}",
            file=str(path),
            hint="if it is bokfor's ledger it is damaged: restore it from a "
            "backup; if not, move it away or name the real ledger with --ledger "
            "PATH (bokfor never overwrites it).",
        ) from None
    if not ours:
        conn.close()
        raise LedgerError(
            "the file at the ledger path is an SQLite database of another "
            "program, not a bokfor ledger",
            file=str(path),
            hint=_NOT_A_LEDGER,
        )
    if version > len(MIGRATIONS):
        raise LedgerError(
            f"the ledger was written by a newer bokfor (schema {version}, this one knows "
            f"{len(MIGRATIONS)})",
            file=str(path),
            hint="upgrade bokfor.",
        )
    if not migrate and 0 < version < len(MIGRATIONS):
        raise LedgerError(
            f"the ledger has schema {version}; this bokfor uses {len(MIGRATIONS)}",
            file=str(path),
            hint="run `bokfor convert` once: it upgrades the ledger.",
        )
    if migrate:
        conn.execute("PRAGMA journal_mode = WAL")
    if migrate and version < len(MIGRATIONS):
        # Every step in one transaction: a reader opening the file meanwhile sees the
        # version before or the current one, never one in between.
        conn.executescript(
            f"BEGIN; {' '.join(MIGRATIONS[version:])} "
            f"PRAGMA user_version = {len(MIGRATIONS)}; "
            f"PRAGMA application_id = {APPLICATION_ID}; COMMIT;"
        )
        if version < 4:
            _backfill_movements(conn)
    return conn


_BANK_SOURCES = ("camt", "mt940", "bgmax", "nets_ocr", "netbank")


def _backfill_movements(conn: sqlite3.Connection) -> None:
    """The movement (ledger account, date, öre) of bank rows recorded before schema 4, from
    their content (`date=…␟amount=…`) and the line of their lines that moved that amount
    (the bank account's, by the `{account: bank_account, debit: amount}` convention): so that
    a row an older bokfor exported is a doubt when it comes again under a key it cannot
    match. Best effort, after the migration: SQLite's JSON functions may be missing, and a
    row without a movement only misses the doubt."""
    amount = "substr(content, 24, instr(substr(content, 24) || char(31), char(31)) - 1)"
    try:
        with conn:
            conn.execute(
                f"UPDATE rows SET movement = (SELECT json_extract(l.value, '$[0]') || '|' || "
                f"substr(rows.content, 6, 10) || '|' || {amount} FROM json_each(CASE "
                "rows.lines WHEN '' THEN (SELECT v.lines FROM vouchers v WHERE v.id = "
                f"rows.voucher_id) ELSE rows.lines END) AS l WHERE json_extract(l.value, '$[1]') "
                f"= CAST({amount} AS INTEGER) LIMIT 1) WHERE movement IS NULL AND legacy = 1 "
                "AND substr(content, 1, 5) = 'date=' AND substr(content, 17, 7) = 'amount=' "
                f"AND source IN ({','.join('?' * len(_BANK_SOURCES))})",
                _BANK_SOURCES,
            )
    except sqlite3.OperationalError:
        pass


_NOT_A_LEDGER = (
    "bokfor keeps its export ledger in this file and never overwrites "
    "something else: move the file away (or name the real ledger with --ledger "
    "PATH) and run again."
)


def _check_ledger_file(path: Path) -> None:
    """A file at the ledger path that is not a bokfor ledger is refused, never taken for an
    empty one (which would book everything again)."""
    try:
        fd = open_nowait(path)  # a FIFO here is refused, never waited on
        try:
            info = os.fstat(fd)
            head = os.read(fd, 100) if stat.S_ISREG(info.st_mode) else b""
        finally:
            os.close(fd)
    except OSError as exc:
        raise LedgerError(
            f"the ledger cannot be read: {exc.strerror}",
            file=str(path),
            hint="check the path and its permissions.",
        ) from None
    if not stat.S_ISREG(info.st_mode):
        what = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise LedgerError(
            f"the ledger path is {what}, not a bokfor ledger", file=str(path), hint=_NOT_A_LEDGER
        )
    if not head:
        raise LedgerError(
            "the file at the ledger path is empty: it is not a bokfor ledger",
            file=str(path),
            hint=_NOT_A_LEDGER,
        )
    if not head.startswith(b"SQLite format 3\x00"):
        raise LedgerError(
            "the file at the ledger path is not a bokfor ledger (not an SQLite database)",
            file=str(path),
            hint=_NOT_A_LEDGER,
        )


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}


def _create(path: Path) -> None:
    """A new ledger, made whole in a temporary file and linked into place: the path never
    holds a half-made ledger, so an empty file there is never bokfor's (the caller holds the
    lock; a file another program put there meanwhile is left alone)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, new_file_mode())  # as SQLite would make it
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(
                f"BEGIN; {' '.join(MIGRATIONS)} PRAGMA user_version = "
                f"{len(MIGRATIONS)}; PRAGMA application_id = {APPLICATION_ID};"
                " COMMIT;"
            )
        finally:
            conn.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass  # _connect checks what is there
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LedgerWriteError(
            f"the ledger could not be created: {reason}",
            file=str(path),
            hint="check that the directory is writable and has room, or "
            "give --ledger another path.",
        ) from None
    finally:
        if tmp is not None:
            os.unlink(tmp)
    fsync_dir(path.parent)


def _older_schema(path: Path) -> bool:
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            version, ours = _schema(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False  # _connect reports it
    return ours and version < len(MIGRATIONS)  # else _connect reports it


def _remove_temp_files(directory: Path, names: list[str]) -> None:
    """The temp files `atomic_write` leaves beside each of `names` when killed before its
    rename (`.<name>.<random>.tmp`), and nothing else: the directory may hold a user's own."""
    for name in names:
        for stray in directory.glob(f".{glob.escape(name)}.*.tmp"):
            _remove_files(directory, [stray.name])


def _remove_files(directory: Path, names: list[str]) -> None:
    """Remove these regular files of `directory` (never a link, a directory or a device put
    in their place, nor a name that leads out of it)."""
    for name in names:
        if name in ("", ".", "..") or os.sep in name or (os.altsep and os.altsep in name):
            continue
        path = directory / name
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
        except OSError:
            pass


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
