"""`bokfor run DIR...`: the accountant's night. Every client folder (bokfor.client) is run
in a child process of its own (fork), `jobs` at a time, so that a crash or a bug in one
client never stops another; a child that dies is that client's internal error.

Per client: the inbox's input files are booked together, as `convert` (or `push`) would book
them, through the library. A file bokfor cannot use (its error names it: not a format bokfor
reads, empty, a bad amount) goes to `rejected/` with `<name>.why.txt` beside it, and the
others are tried again without it. An error that names no single file (the mapping, rows no
rule matches, changed rows, a doubt under `strict`) sends all the client's files to
`rejected/`, so that the next night does not report the same thing again. Files booked, or
found booked already, go to `archive/<date>/`. Nothing is deleted, and a file is never moved
over another. Each client that had files gets `reports/run-<time>.json`; the run returns one
summary (docs/run.schema.json).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from filelock import FileLock, Timeout

from bokfor import engine
from bokfor.client import (
    CONFIG,
    Client,
    inputs_in,
    load_client,
    move_new,
    never_filed,
    write_new,
)
from bokfor.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    BokforError,
    InputError,
    OutputError,
    SieError,
    UsageError,
)
from bokfor.sources import name_is_text

SCHEMA_VERSION = 1
RUN_LOCK = ".bokfor-run.lock"  # in the client folder: one `bokfor run` of a client at a time

# A client's status: nothing in the inbox; every file booked or booked before; something
# for a person to fix (rejected files, an error); a failure that is not the files' fault (a
# bug, a crash, a full disk), the files left in the inbox.
IDLE, DONE, ATTENTION, FAILED = "idle", "done", "attention", "failed"
# A file's: booked (new vouchers), nothing new, rejected, left in the inbox.
BOOKED, NOTHING_NEW, REJECTED, LEFT = "booked", "nothing-new", "rejected", "left"


class _WholeClient(Exception):
    """An error that concerns the client's files together, even though it names one."""

    def __init__(self, error: BokforError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Night:
    """One client's run, as it goes: the report's fields."""

    folder: Path
    client: str
    action: str = "convert"
    files: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: bool = False
    report: str | None = None
    review: str | None = None  # the run's review page (bokfor.review), beside its outputs
    # Each inbox file as it was when the run began (device, inode, size, mtime): one that
    # is written or replaced while the run works is left in the inbox, never filed unread.
    seen: dict[Path, tuple[int, int, int, int] | None] = field(default_factory=dict)
    ledger: Path | None = None  # the client's: a file named as it is never filed away

    def moved(self, path: Path, status: str, directory: Path, **kwargs: Any) -> Path | None:
        """File `path` into `directory` with `status`, unless it changed since the run read
        it: then it stays in the inbox (reported), and the next run books what is new in it
        (the ledger keeps what was booked from booking twice). A ledger, a bokfor.yaml or a
        mapping (`client.never_filed`) is never moved, whatever the run made of it."""
        if path in self.seen and self.seen[path] is not None and _identity(path) != self.seen[path]:
            self.warnings.append(
                f"{path}: it changed while bokfor read it (a download still "
                "being written?): left in the inbox for the next run"
            )
            self.file(path, LEFT)
            return None
        kept = never_filed(path, self.ledger or Path("ledger.sqlite"))
        if kept is not None:
            self.warnings.append(f"{path}: {kept}: left in the inbox, never filed away")
            self.file(path, LEFT)
            return None
        target = move_new(path, directory)
        self.file(path, status, target, **kwargs)
        return target

    def file(
        self,
        path: Path,
        status: str,
        to: Path | None = None,
        *,
        vouchers: int = 0,
        source: str | None = None,
        error: str | None = None,
        note: Path | None = None,
    ) -> None:
        self.files.append(
            {
                "name": path.name,
                "status": status,
                "to": None if to is None else str(to),
                "vouchers": vouchers,
                "source": source,
                "error": error,
                "note": None if note is None else str(note),
            }
        )

    def warn(self, notices: list[Any]) -> None:
        self.warnings += [str(n) for n in notices]

    def as_dict(self, seconds: float) -> dict[str, Any]:
        counts = {
            s: sum(1 for f in self.files if f["status"] == s)
            for s in (BOOKED, NOTHING_NEW, REJECTED, LEFT)
        }
        status = (
            FAILED
            if self.failed
            else ATTENTION
            if self.errors or counts[REJECTED]
            else DONE
            if self.files
            else IDLE
        )
        return {
            "client": self.client,
            "folder": str(self.folder),
            "status": status,
            "action": self.action,
            "files": self.files,
            "vouchers": sum(o["vouchers"] for o in self.outputs),
            "booked": counts[BOOKED],
            "nothing_new": counts[NOTHING_NEW],
            "rejected": counts[REJECTED],
            "left": counts[LEFT],
            "outputs": self.outputs,
            "warnings": list(dict.fromkeys(self.warnings)),  # once, if a retry said it again
            "errors": self.errors,
            "report": self.report,
            "review": self.review,
            "seconds": round(seconds, 3),
        }


def run_client(folder: Path, today: dt.date | None = None) -> dict[str, Any]:
    """Run one client folder; never raises for a BokforError (it is in the report)."""
    started = time.monotonic()
    night = _Night(folder.absolute(), folder.absolute().name)
    try:
        client = load_client(folder)
    except BokforError as exc:
        night.errors.append(exc.render())
        return night.as_dict(time.monotonic() - started)
    night.client, night.action, night.ledger = client.name, client.action, client.ledger
    try:
        files = inputs_in(client.inbox)
    except OSError as exc:
        night.errors.append(
            UsageError(
                f"the inbox cannot be read: {exc.strerror}",
                file=str(client.inbox),
                hint="make the folder, or name another with `inbox:` in bokfor.yaml.",
            ).render()
        )
        return night.as_dict(time.monotonic() - started)
    if not files:
        return night.as_dict(time.monotonic() - started)  # idle: the mapping is not read
    refused = _books_in_inbox(client)
    if refused is not None:  # some client's books in the inbox: nothing is read or moved
        night.errors.append(refused.render())
        for path in files:
            night.file(path, LEFT)
        return night.as_dict(time.monotonic() - started)
    lock = FileLock(str(client.folder / RUN_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # a second `bokfor run` of the same client: its files are the other's
        night.errors.append(
            UsageError(
                "another bokfor run is running this client; its files were left to it",
                file=str(client.folder),
                hint="run each client from one cron job only.",
            ).render()
        )
        for path in files:
            night.file(path, LEFT)
        return night.as_dict(time.monotonic() - started)
    try:
        return _run_locked(client, night, started, today or dt.date.today())
    finally:
        lock.release()


def _run_locked(client: Client, night: _Night, started: float, today: dt.date) -> dict[str, Any]:
    files = []
    for path in inputs_in(client.inbox, follow_links=False):  # again, under the lock
        if not name_is_text(path.name):  # the ledger records every file's name: one it can hold
            night.seen[path] = None
            _reject(
                client,
                path,
                InputError(
                    "the file's name is not UTF-8 text, and the export ledger records it",
                    file=str(path),
                    hint="rename the file (e.g. without å, ä, ö) and move it back to the "
                    "inbox; the inbox's other files are booked.",
                ),
                night,
            )
        elif stat.S_ISREG(path.lstat().st_mode):
            files.append(path)
        else:  # a link, a FIFO: bokfor files only what it can move whole
            night.seen[path] = None
            _reject(
                client,
                path,
                UsageError(
                    "not a file of the inbox's own (a link, or not a regular file): bokfor books "
                    "and files only regular files in the inbox",
                    file=str(path),
                    hint="copy the file itself into the inbox.",
                ),
                night,
            )
    if not files:
        return night.as_dict(time.monotonic() - started)
    for path in files:  # what was read: a file that changes after this is left for next time
        night.seen[path] = _identity(path)
    try:
        _check_folders(client)
        _book(client, files, night, today)
    except BokforError as exc:  # one that is not the files' fault (exit 1): leave them
        night.errors.append(exc.render())
        night.failed = exc.exit_code == EXIT_FAILURE
        for path in files:
            if path.exists():
                night.file(path, LEFT)
    result = night.as_dict(time.monotonic() - started)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        report = write_new(
            client.reports,
            f"run-{stamp}.json",
            # A file name that is not UTF-8 (rejected) is shown with U+FFFD for its bytes.
            (json.dumps(result, ensure_ascii=False, indent=2) + "\n")
            .encode("utf-8", "surrogateescape")
            .decode("utf-8", "replace")
            .encode("utf-8"),
        )
    except BokforError as exc:  # the run's outcome stands; only its report is missing
        night.errors.append(exc.render())
        night.failed = True
        return night.as_dict(time.monotonic() - started)
    result["report"] = str(report)
    return result


def _books_in_inbox(client: Client) -> UsageError | None:
    """The error when the inbox holds a ledger, a bokfor.yaml or a mapping
    (`client.never_filed`): then it is no inbox (another client's folder, a backup of
    one), and the run books and moves none of its files."""
    try:
        entries = inputs_in(client.inbox, follow_links=False)
    except OSError:
        return None  # read again under the lock, which says what is wrong
    kept = [(path, what) for path in entries if (what := never_filed(path, client.ledger))]
    if not kept:
        return None
    return UsageError(
        f"{kept[0][1]}, not a file to book: bokfor never files away a ledger, a {CONFIG} or "
        "a mapping, and books none of the inbox's files while one is there",
        file=str(kept[0][0]),
        hint="move it out of the inbox; the other files stay where they are for the next run.",
        details=[f"  {path}: {what}" for path, what in kept[1:]],
    )


def _check_folders(client: Client) -> None:
    """The client's own folders are folders (or not there yet: they are made), checked
    before anything is booked: a file in the place of out/ or archive/ is the folder's
    fault, not the inbox files' (they stay in the inbox; none is rejected)."""
    for _, folder in client.folders():
        if folder.exists() and not folder.is_dir():
            raise OutputError(
                f"{folder} is a file, not a folder",
                file=str(client.folder / CONFIG),
                hint="move the file away (bokfor makes the folder), or name another "
                "folder in bokfor.yaml; the inbox's files stay where they are.",
            )


def _book(client: Client, files: list[Path], night: _Night, today: dt.date) -> None:
    """Book `files` together; take out each file whose error names it and try the rest."""
    from bokfor.ledger import LedgerBusy
    from bokfor.mapping import load_mapping

    try:
        rules = load_mapping(client.mapping)
    except BokforError as exc:
        _reject_all(client, files, exc, night)
        return
    remaining = list(files)
    while remaining:
        try:
            done = (_push if client.action == "push" else _convert)(client, rules, remaining, night)
        except _WholeClient as whole:
            _reject_all(client, remaining, whole.error, night)
            return
        except LedgerBusy as exc:  # another run: the files wait for the next night
            night.errors.append(exc.render())
            for path in remaining:
                night.file(path, LEFT)
            return
        except BokforError as exc:
            posted = getattr(exc, "posted", None)
            if posted is not None:
                # A push that stopped part-way (Fortnox refused a voucher, or stopped
                # answering): what it posted is recorded; the files stay for the next
                # night, which posts the rest once the cause is fixed.
                night.errors.append(exc.render())
                night.outputs.append(
                    {
                        "path": f"Fortnox ({getattr(exc, 'where', '')})",
                        "year": None,
                        "export": None,
                        "vouchers": posted,
                    }
                )
                for path in remaining:
                    night.file(
                        path,
                        LEFT,
                        error=f"{posted} vouchers posted and recorded; "
                        "the rest were not: left in the inbox",
                    )
                return
            bad = _file_of(exc, remaining)
            if bad is not None:
                _reject(client, bad, exc, night)
                remaining.remove(bad)
                continue
            if exc.exit_code == EXIT_FAILURE:
                raise
            _reject_all(client, remaining, exc, night)
            return
        archive = client.archive / today.isoformat()
        for path in remaining:
            vouchers, source = done.get(str(path), (0, None))
            night.moved(
                path, BOOKED if vouchers else NOTHING_NEW, archive, vouchers=vouchers, source=source
            )
        return


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _file_of(exc: BokforError, files: list[Path]) -> Path | None:
    """The one input an error is about: a file bokfor cannot read or that holds a bad value
    (an InputError or SieError naming it). A mapping error names the first row's file too,
    but is about the mapping."""
    if not isinstance(exc, (InputError, SieError)) or not exc.file:
        return None
    named = Path(exc.file).absolute()
    return next((p for p in files if p == named), None)


FIX_AND_RETURN = (
    "When it is fixed, move the file back to {inbox} and the next run books "
    "it. bokfor deletes nothing; this note may be deleted."
)


def _reject(
    client: Client, path: Path, exc: BokforError, night: _Night, *, whole: bool = False
) -> None:
    moved = night.moved(path, REJECTED, client.rejected, error=str(exc))
    if moved is None:
        return
    why = "not booked, nor the client's other files: " if whole else ""
    note = write_new(
        client.rejected,
        moved.name + ".why.txt",
        (
            f"{path.name}: {why}{exc.render()}\n\n"
            + FIX_AND_RETURN.format(inbox=client.inbox)
            + "\n"
        ).encode("utf-8", "surrogateescape"),  # a name in another encoding, as it is
    )
    night.files[-1]["note"] = str(note)


def _reject_all(client: Client, files: list[Path], exc: BokforError, night: _Night) -> None:
    """An error about the client's files together: the error once, every file rejected
    with it (a person fixes the mapping and moves them back)."""
    night.errors.append(exc.render())
    for path in files:
        _reject(client, path, exc, night, whole=True)


def _job(client: Client, rules: Any, files: list[Path], fmt: str) -> Any:
    from bokfor.convert import Job
    from bokfor.outputs import generated, resolved

    return Job(
        files,
        rules,
        client.mapping,
        resolved(client.ledger),
        fmt=fmt,
        generated=generated(rules.timezone),
        bank_account=client.bank_account,
        strict=client.strict,
        command=f"bokfor run {client.folder} ({client.action}, {len(files)} files)",
    )


def _whole(notices: list[Any], strict: bool, warn: Callable[[list[Any]], None]) -> None:
    """The --strict step, its refusal about the client's files together (a mapping's
    backwards posting, rows two formats of an account give), though it names one file."""
    from bokfor.steps import strict_check

    try:
        strict_check(notices, strict, warn)
    except BokforError as exc:
        raise _WholeClient(exc) from None


def _convert(
    client: Client, rules: Any, files: list[Path], night: _Night
) -> dict[str, tuple[int, str]]:
    """`bokfor convert` with the client's --out, ledger and --strict (bokfor.steps); returns
    per input its new vouchers and format."""
    from bokfor.outputs import year_label
    from bokfor.steps import carry_out

    job = _job(client, rules, files, client.format)
    done = carry_out(
        job,
        client.out,
        strict=client.strict,
        warn=night.warn,
        refuse=_whole,
    )
    night.outputs += [
        {
            "path": str(path),
            "year": year_label(part.year),
            "export": export_id,
            "vouchers": len(part.indices),
        }
        for part, path, export_id in zip(
            done.plan.parts, done.targets, done.export_ids, strict=True
        )
    ]
    if done.targets:
        _review(done, rules, night, job.own_files())
    return {s.path: (0 if done.nothing_new else s.vouchers, s.source) for s in done.plan.inputs}


def _review(done: Any, rules: Any, night: _Night, own: dict[str, Path]) -> None:
    """The run's review page (`bokfor plan --html`'s page of what was written), beside the
    first file written (`client.review_page`), never over the run's own files `own` nor a
    file the ledger records (`outputs.kept_files`: the files just written among them). The
    vouchers are written and recorded by now, so a page that cannot be written is a
    warning, not the client's failure."""
    from bokfor.client import review_page
    from bokfor.outputs import generated, kept_files
    from bokfor.review import write_review

    path = review_page(done.targets[0])
    try:
        kept = {**own, **kept_files(night.ledger)} if night.ledger is not None else own
        night.review = str(
            write_review(
                path, done.plan, rules, generated(rules.timezone), option="review page", own=kept
            )
        )
    except BokforError as exc:
        night.warnings.append(f"the review page was not written: {exc}")


def _push(
    client: Client, rules: Any, files: list[Path], night: _Night
) -> dict[str, tuple[int, str]]:
    """The steps of `bokfor push` with the client's token file, ledger and --strict."""
    from bokfor.push import base_url, prepare, push_plan, require_orgnr
    from bokfor.steps import wire

    require_orgnr(rules.company.orgnr, client.mapping)
    job = _job(client, rules, files, "push")
    api = wire(job, None, client.token_file)
    where = f"Fortnox ({base_url()})"
    try:
        plan, state = job.plan()
        _whole(job.notices + plan.notices, client.strict, night.warn)
        done = {s.path: (s.vouchers, s.source) for s in plan.inputs}
        registers = prepare(job, api, plan, where)
        result = (
            None
            if registers is None
            else push_plan(job, api, plan, state, registers, where, night.warn)
        )
    finally:
        api.close()
    if result is None:
        return {path: (0, source) for path, (_, source) in done.items()}
    night.outputs.append(
        {"path": where, "year": None, "export": result.export_id, "vouchers": len(result.posted)}
    )
    return done


# --- many clients ---------------------------------------------------------------------------


def _crashed(folder: Path, how: str, seconds: float) -> dict[str, Any]:
    night = _Night(folder.absolute(), folder.absolute().name, failed=True)
    night.errors.append(
        f"internal error: the client's process {how} (a bug: report it; the "
        "client's files are where they were)"
    )
    return night.as_dict(seconds)


def _child(folder: Path, result: Path, today: dt.date | None, polars: bool) -> None:
    """In the forked child: run the client, leave its result in `result`, and exit without
    running the parent's cleanup (atexit handlers, buffered output). `polars`: whether the
    parent forked it with no other thread running (bokfor.engine)."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        engine.allow_polars(polars)
        try:
            data = run_client(folder, today)
        except Exception as exc:  # a bug: the child reports it itself
            data = _crashed(folder, f"failed: {type(exc).__name__}: {exc}", 0.0)
        with open(result, "w", encoding="utf-8", errors="surrogateescape") as fh:
            json.dump(data, fh, ensure_ascii=False)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _preload() -> None:
    """Import what a client needs once, before forking: the children share it. A single run
    imports a reader's library where it reads a file (issue 22); here all are loaded."""
    import httpx  # noqa: F401 (these are imported to be loaded, not used)
    import netsgiro  # noqa: F401

    import bokfor.convert
    import bokfor.mapping
    import bokfor.push
    import bokfor.sources.mt940_library  # noqa: F401
    from bokfor.sources import all_sources

    all_sources()  # imports every reader


def run_clients(
    folders: list[Path],
    jobs: int,
    *,
    today: dt.date | None = None,
    done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run every folder, `jobs` children at a time; the summary, clients in the order
    given. `done` hears each client as it ends."""
    _preload()
    unique: dict[str, Path] = {}  # a folder named twice (`c6 ./c6`) is one client
    for folder in folders:
        unique.setdefault(os.path.realpath(folder), folder)
    folders = list(unique.values())
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.monotonic()
    results: dict[int, dict[str, Any]] = {}
    running: dict[int, tuple[int, Path, float]] = {}  # pid -> (index, result file, start)
    with tempfile.TemporaryDirectory(prefix="bokfor-run-") as scratch:
        todo = list(enumerate(folders))
        while todo or running:
            while todo and len(running) < max(1, jobs):
                index, folder = todo.pop(0)
                result = Path(scratch) / f"{index}.json"
                polars = engine.single_threaded()  # no other thread holds Polars' locks
                pid = os.fork()
                if pid == 0:
                    _child(folder, result, today, polars)
                running[pid] = (index, result, time.monotonic())
            pid, status = os.waitpid(-1, 0)
            if pid not in running:
                continue
            index, result, began = running.pop(pid)
            seconds = time.monotonic() - began
            try:
                data = (
                    json.loads(result.read_text(encoding="utf-8", errors="surrogateescape"))
                    if os.waitstatus_to_exitcode(status) == 0
                    else None
                )
            except (OSError, ValueError):
                data = None
            if data is None:
                code = os.waitstatus_to_exitcode(status)
                how = (
                    f"was killed by signal {-code} ({signal.Signals(-code).name})"
                    if code < 0
                    else f"exited with code {code}"
                )
                data = _crashed(folders[index], how, seconds)
            results[index] = data
            if done is not None:
                done(data)
    clients = [results[i] for i in range(len(folders))]
    code = exit_code(clients)
    return {
        "version": SCHEMA_VERSION,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - clock, 3),
        "jobs": jobs,
        "exit": code,
        "status": {EXIT_OK: "ok", EXIT_BAD_INPUT: "attention", EXIT_FAILURE: "failed"}[code],
        "totals": {
            key: sum(c[key] for c in clients)
            for key in ("vouchers", "booked", "nothing_new", "rejected", "left")
        }
        | {
            "clients": len(clients),
            "errors": sum(len(c["errors"]) for c in clients),
            "files": sum(len(c["files"]) for c in clients),
        },
        "clients": clients,
    }


def exit_code(clients: list[dict[str, Any]]) -> int:
    """0: every client ended well (idle and nothing new are well); 1: a bug (a crashed
    child, a failure that is not the files'); else 2: something for a person to fix."""
    statuses = {c["status"] for c in clients}
    if FAILED in statuses:
        return EXIT_FAILURE
    return EXIT_BAD_INPUT if ATTENTION in statuses else EXIT_OK
