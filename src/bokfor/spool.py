"""A plan's row records on disk until the export: a large input is never held whole.

Every row a plan books leaves a record for the export ledger (key, content, origin, its own
lines, aliases: ~0.6 KiB). Held in memory they were most of a run's memory (1M Stripe rows:
over a GiB); here they go to a temporary SQLite file a batch at a time, tagged with the
voucher they belong to, and the ledger copies them in with one `INSERT … SELECT`
(`Ledger.begin_export`) — sorted by SQLite, not by Python.

The file's tables are the contract with the ledger:
    records(tag, key, source, content, origin, lines, movement, rule, input, parts)  booked
    aliases(tag, alias, key)                            one per alias of such a row
    skipped(input, line, key, reason)                   a row read and not booked, and why
`tag` names the voucher (`Plan.tags` maps a voucher's place in `to_write` to its tag).
The file lives in a directory of its own in the temporary directory (TMPDIR), locked while
its run lives; it is removed when the plan is closed or collected, and a killed run's by the
next run that finds its lock free — at once: a directory is made under another name and
takes its `bokfor-plan-` name only once its lock is held, so a free lock under that name is
always a dead run's (a 200k-row run leaves ~50 MB).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

from filelock import FileLock, Timeout

from bokfor.errors import OutputError
from bokfor.ledger import RowRecord

_BATCH = 4096  # records buffered before one executemany
_PREFIX = "bokfor-plan-"
_MAKING = "bokfor-making-"  # a spool's directory until its lock is held
_LOCK = "lock"
_YOUNG = 60.0  # seconds: a directory without a held lock this new may be being made


class RecordSpool:
    def __init__(self) -> None:
        _sweep()
        # What the finalizer closes and removes, filled in as it is made: a spool that fails
        # half-way leaves nothing behind either.
        self._held: list = []
        self._finalizer = weakref.finalize(self, _remove, self._held)
        try:
            making = Path(tempfile.mkdtemp(prefix=_MAKING))
            self._held.append(making)
            # Not thread-local: the finalizer may release it from another thread.
            lock = FileLock(str(making / _LOCK), thread_local=False)
            lock.acquire()
            self._held.append(lock)
            # The lock is on the file, not the name: it stays held through the rename.
            directory = making.with_name(_PREFIX + making.name[len(_MAKING) :])
            os.rename(making, directory)
            self._held[0] = directory
            self.path = directory / "records.sqlite"
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._held.append(conn)
            # Scratch data: no journal, no fsync. A crash loses only this file.
            conn.executescript(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                "CREATE TABLE records (tag INTEGER NOT NULL, key TEXT NOT NULL, source TEXT "
                "NOT NULL, content TEXT NOT NULL, origin TEXT NOT NULL, lines TEXT NOT NULL, "
                "movement TEXT NOT NULL, rule TEXT NOT NULL, input INTEGER NOT NULL, "
                "parts TEXT NOT NULL); "
                "CREATE TABLE aliases (tag INTEGER NOT NULL, alias TEXT NOT NULL, "
                "key TEXT NOT NULL); "
                "CREATE TABLE skipped (input INTEGER NOT NULL, line INTEGER NOT NULL, "
                "key TEXT NOT NULL, reason TEXT NOT NULL);"
            )
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise temp_file_error("made", exc, tempfile.gettempdir()) from None
        self._conn = conn
        # One thread writes (in the order given); closed before the connection (`_remove`).
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="bokfor-spool")
        self._held.append(self._writer)
        self._pending: Future[None] | None = None
        self._records: list[tuple[int, str, str, str, str, str, str, str, int, str]] = []
        self._aliases: list[tuple[int, str, str]] = []
        self._skipped: list[tuple[int, int, str, str]] = []
        self._indexed = False

    def add(self, tag: int, record: RowRecord) -> None:
        self._records.append(
            (
                tag,
                record.key,
                record.source,
                record.content,
                record.origin,
                record.lines,
                record.movement,
                record.rule,
                record.input,
                record.parts,
            )
        )
        if record.aliases:
            self._aliases.extend((tag, alias, record.key) for alias in record.aliases)
        if len(self._records) >= _BATCH:
            self._hand_over()

    def skip(self, input: int, line: int, key: str, reason: str) -> None:
        """A row the run read and does not book (its input index, line, key), and why."""
        self._skipped.append((input, line, key, reason))
        if len(self._skipped) >= _BATCH:
            self._hand_over()

    def add_many(
        self,
        records: Iterable[tuple[int, str, str, str, str, str, str, str, int, str]],
        aliases: Iterable[tuple[int, str, str]],
    ) -> None:
        """Records as `add` stores them (tag first, in the table's order) and their aliases
        (tag, alias, key), written at once: a batch of rows booked as columns. They may be
        iterators: the writer's thread takes them, so they must stay valid (a frame's rows)."""
        self._hand_over()
        self._submit(records, aliases, ())

    def skip_many(self, skipped: Iterable[tuple[int, int, str, str]]) -> None:
        """`skip` for many rows at once."""
        self._hand_over()
        self._submit((), (), skipped)

    def flush(self) -> None:
        """Write what is buffered and wait until it is written (the ledger reads the file,
        not this object); a write that failed raises its error here."""
        self._hand_over()
        self._wait()

    def _hand_over(self) -> None:
        """The buffered rows to the writer."""
        if self._records or self._aliases or self._skipped:
            self._submit(self._records, self._aliases, self._skipped)
            self._records, self._aliases, self._skipped = [], [], []

    def _submit(
        self,
        records: Iterable[tuple[int, str, str, str, str, str, str, str, int, str]],
        aliases: Iterable[tuple[int, str, str]],
        skipped: Iterable[tuple[int, int, str, str]],
    ) -> None:
        """Write on the spool's own thread, after the write before (one at a time, in the
        order given): SQLite gives up the GIL while it writes, so the next batch is read and
        booked meanwhile on the other core (1M Stripe rows spend ~5 s here)."""
        self._wait()
        self._pending = self._writer.submit(self._write, records, aliases, skipped)

    def _wait(self) -> None:
        """Until the write in hand is done; its error, if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(
        self,
        records: Iterable[tuple[int, str, str, str, str, str, str, str, int, str]],
        aliases: Iterable[tuple[int, str, str]],
        skipped: Iterable[tuple[int, int, str, str]],
    ) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN")  # autocommit otherwise: a commit per row
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
            conn.executemany("INSERT INTO aliases VALUES (?, ?, ?)", aliases)
            conn.executemany("INSERT INTO skipped VALUES (?, ?, ?, ?)", skipped)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise temp_file_error("written", exc, self.path) from None

    def skipped(self) -> Iterator[tuple[int, int, str, str]]:
        """The rows read and not booked: (input index, line, key, reason), in file order
        (not as added: that depends on how the file was read, in frames or row by row)."""
        self.flush()
        try:
            yield from self._conn.execute(
                "SELECT input, line, key, reason FROM skipped ORDER BY input, line, rowid"
            )
        except sqlite3.Error as exc:
            raise temp_file_error("read", exc, self.path) from None

    def records(self, tag: int) -> list[RowRecord]:
        """The records of one voucher, in the order they were added (a push records one
        voucher at a time)."""
        self.flush()
        conn = self._conn
        try:
            if not self._indexed:
                conn.execute("CREATE INDEX records_tag ON records (tag)")
                conn.execute("CREATE INDEX aliases_tag ON aliases (tag)")
                self._indexed = True
            aliases: dict[str, list[str]] = {}
            for alias, key in conn.execute(
                "SELECT alias, key FROM aliases WHERE tag = ? ORDER BY rowid", (tag,)
            ):
                aliases.setdefault(key, []).append(alias)
            return [
                RowRecord(
                    key,
                    source,
                    content,
                    origin,
                    lines,
                    tuple(aliases.get(key, ())),
                    movement,
                    rule,
                    input,
                    parts,
                )
                for key, source, content, origin, lines, movement, rule, input, parts in (
                    conn.execute(
                        "SELECT key, source, content, origin, lines, movement, rule, input, "
                        "parts FROM records WHERE tag = ? ORDER BY rowid",
                        (tag,),
                    )
                )
            ]
        except sqlite3.Error as exc:
            raise temp_file_error("read", exc, self.path) from None

    def scratch(self, name: str) -> Path:
        """A path for another file of this run (the rendered SIE file), removed with it."""
        return self.path.with_name(name)

    def close(self) -> None:
        self._finalizer()


def temp_file_error(what: str, exc: Exception, where: Path | str) -> OutputError:
    """A plan's temporary file (this spool, or another a plan writes) that failed."""
    return OutputError(
        f"the plan's temporary file cannot be {what} ({exc})",
        file=str(where),
        hint="free space in the temporary directory, or point TMPDIR at a disk with room "
        "(up to 0.4 KiB a row); nothing was written or recorded as exported.",
    )


def _sweep() -> None:
    """Remove the spools of runs that were killed: a cron job stopped by SIGKILL must not
    fill the temporary directory with tens of megabytes a run. A spool is its run's while
    the run holds its lock (whatever host or PID namespace the run is in): one whose lock is
    free is removed at once. A directory with no lock file yet (still being made, or by an
    older bokfor that named it before locking it) is left alone until it is a minute old.

    Only a real directory of this user's is a spool: in a shared /tmp anyone may make a link
    named like one, pointing at a folder this user may write (the ledger's). The link is
    never followed; `shutil.rmtree` removes without following links, and refuses a link put
    in the directory's place after the check."""
    now = time.time()
    tmp = Path(tempfile.gettempdir())
    uid = os.getuid() if hasattr(os, "getuid") else None
    for stale in [*tmp.glob(f"{_PREFIX}*"), *tmp.glob(f"{_MAKING}*")]:
        try:
            info = stale.lstat()
            if not stat.S_ISDIR(info.st_mode) or uid not in (None, info.st_uid):
                continue  # a link, a file or another user's: not ours to remove
            if (
                stale.name.startswith(_MAKING) or not (stale / _LOCK).exists()
            ) and now - info.st_mtime < _YOUNG:
                continue
            lock = FileLock(str(stale / _LOCK))
            lock.acquire(timeout=0)
        except (OSError, Timeout):
            continue  # alive, or not ours to remove
        try:
            shutil.rmtree(stale, ignore_errors=True)  # the lock file too: held, then gone
        finally:
            lock.release()


def _remove(held: list) -> None:
    """Stop the writer, close the connection, release the lock, remove the directory (in
    reverse order of making them)."""
    for thing in reversed(held):
        if isinstance(thing, ThreadPoolExecutor):  # a write in hand ends first
            thing.shutdown(wait=True, cancel_futures=True)
        elif isinstance(thing, sqlite3.Connection):
            thing.close()
        elif isinstance(thing, FileLock):
            thing.release()
        else:
            shutil.rmtree(thing, ignore_errors=True)
    held.clear()
