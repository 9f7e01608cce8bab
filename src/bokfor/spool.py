"""A plan's row records on disk until the export: a large input is never held whole.

Every row a plan books leaves a record for the export ledger (key, content, origin, its own
lines, aliases: ~0.6 KiB). Held in memory they were most of a run's memory (1M Stripe rows:
over a GiB); here they go to a temporary SQLite file a batch at a time, tagged with the
voucher they belong to, and the ledger copies them in with one `INSERT … SELECT`
(`Ledger.begin_export`) — sorted by SQLite, not by Python.

The file's tables are the contract with the ledger:
    records(tag, key, source, content, origin, lines)   one per booked row
    aliases(tag, alias, key)                            one per alias of such a row
`tag` names the voucher (`Plan.tags` maps a voucher's place in `to_write` to its tag).
The file lives in the temporary directory (TMPDIR) and is removed when the plan is closed or
collected; nothing in it outlives the process.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import weakref
from pathlib import Path

from bokfor.errors import OutputError
from bokfor.ledger import RowRecord

_BATCH = 4096  # records buffered before one executemany


_PREFIX = "bokfor-plan-"


class RecordSpool:
    def __init__(self) -> None:
        try:
            _sweep()
            self._dir = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
            self.path = self._dir / "records.sqlite"
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"the plan's temporary file cannot be made ({exc})",
                              hint="point TMPDIR at a writable directory with room.") from None
        # Scratch data: no journal, no fsync. A crash loses only this file.
        conn.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
            "CREATE TABLE records (tag INTEGER NOT NULL, key TEXT NOT NULL, source TEXT NOT "
            "NULL, content TEXT NOT NULL, origin TEXT NOT NULL, lines TEXT NOT NULL); "
            "CREATE TABLE aliases (tag INTEGER NOT NULL, alias TEXT NOT NULL, "
            "key TEXT NOT NULL);")
        self._conn = conn
        self._records: list[tuple[int, str, str, str, str, str]] = []
        self._aliases: list[tuple[int, str, str]] = []
        self._indexed = False
        self.count = 0
        self._finalizer = weakref.finalize(self, _remove, conn, self._dir)

    def add(self, tag: int, record: RowRecord) -> None:
        self._records.append((tag, record.key, record.source, record.content, record.origin,
                              record.lines))
        if record.aliases:
            self._aliases.extend((tag, alias, record.key) for alias in record.aliases)
        self.count += 1
        if len(self._records) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (the ledger reads the file, not this object)."""
        if not self._records and not self._aliases:
            return
        conn = self._conn
        try:
            conn.execute("BEGIN")  # autocommit otherwise: a commit per row
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", self._records)
            conn.executemany("INSERT INTO aliases VALUES (?, ?, ?)", self._aliases)
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise OutputError(
                f"the plan's temporary file cannot be written ({exc})", file=str(self.path),
                hint="free space in the temporary directory, or point TMPDIR at a disk with "
                "room (about 0.5 KiB a row); nothing was written or recorded as exported."
            ) from None
        self._records, self._aliases = [], []

    def records(self, tag: int) -> list[RowRecord]:
        """The records of one voucher, in the order they were added (a push records one
        voucher at a time)."""
        self.flush()
        if not self._indexed:
            self._conn.execute("CREATE INDEX records_tag ON records (tag)")
            self._conn.execute("CREATE INDEX aliases_tag ON aliases (tag)")
            self._indexed = True
        aliases: dict[str, list[str]] = {}
        for alias, key in self._conn.execute(
                "SELECT alias, key FROM aliases WHERE tag = ? ORDER BY rowid", (tag,)):
            aliases.setdefault(key, []).append(alias)
        return [RowRecord(key, source, content, origin, lines, tuple(aliases.get(key, ())))
                for key, source, content, origin, lines in self._conn.execute(
                    "SELECT key, source, content, origin, lines FROM records WHERE tag = ? "
                    "ORDER BY rowid", (tag,))]

    def close(self) -> None:
        self._finalizer()


def _sweep() -> None:
    """Remove the spools of runs that were killed (their process is gone): a cron job
    stopped by SIGKILL must not fill the temporary directory over the months. POSIX only:
    on Windows os.kill(pid, 0) would stop the process, not probe it."""
    if os.name != "posix":
        return
    for stale in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = stale.name[len(_PREFIX):].split("-", 1)[0]
        if not (pid.isascii() and pid.isdigit()) or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # alive, another user's: not ours to remove


def _remove(conn: sqlite3.Connection, directory: Path) -> None:
    conn.close()
    shutil.rmtree(directory, ignore_errors=True)
